"""Reading the operator's canned replies (CASEWORK_REPLIES; default replies.toml beside the policy
file). Read again when the file changes, so an edit applies without a restart; a bad file is one
line naming the file and the field, and no reply is offered from it."""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from support.messaging.canned_replies import CannedReplies, RepliesError, parse_replies

_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


class RepliesFault(StrEnum):
    UNREADABLE = "unreadable"
    NOT_TOML = "not_toml"
    INVALID = "invalid"


class RepliesFileError(ValueError):
    """The replies file cannot be used: 'replies.toml: replies[1].text: needs a text in hu'. Its
    parts (file, fault, where, pydantic's errors) let the console say it in the reader's language."""

    def __init__(
        self,
        message: str,
        source: str,
        fault: RepliesFault,
        errors: tuple[Mapping[str, Any], ...] = (),
        at: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.source, self.fault, self.errors, self.at = source, fault, errors, at


def parse_replies_file(text: str, source: str) -> CannedReplies:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _AT.search(str(error))
        at = (int(found[1]), int(found[2])) if found else None
        raise RepliesFileError(f"{source}: not TOML: {error}", source, RepliesFault.NOT_TOML, at=at) from None
    try:
        return parse_replies(data)
    except RepliesError as error:
        raise RepliesFileError(f"{source}: {error}", source, RepliesFault.INVALID, error.errors) from None


def load_replies(path: Path) -> CannedReplies:
    """The file's replies; no file is no replies (the operator has written none yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CannedReplies()
    except OSError as error:
        raise RepliesFileError(
            f"{path.name}: cannot read the replies file: {error.strerror}", path.name, RepliesFault.UNREADABLE
        ) from None
    return parse_replies_file(text, path.name)


class RepliesSource:
    """The replies of one file, read again when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._replies: CannedReplies | RepliesFileError = CannedReplies()

    def __call__(self) -> CannedReplies:
        """The replies now; raises RepliesFileError while the file is bad."""
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._seen or self._seen is None:
                try:
                    self._replies = load_replies(self.path)
                except RepliesFileError as error:
                    self._replies = error
                self._seen = stamp
            if isinstance(self._replies, RepliesFileError):
                raise self._replies
            return self._replies
