"""The server-side key of phone verification codes: never in workflow history, never logged.

`verification_key(settings)` is what the worker (the code's MAC, the failure counts) and the
intake (sealing a submitted code) both call, so they agree on the key:

- `CASEWORK_VERIFICATION_SECRET` when set (at least 32 characters; in production set it, the
  same on every worker and API process);
- otherwise a random key made once and kept in `<CASEWORK_VAR>/verification.key` (0600, in a
  0700 directory), which every process on this machine then reads. Its text is a valid
  `CASEWORK_VERIFICATION_SECRET`: moving to the variable keeps codes in flight valid.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path

from adapters.settings import Settings

KEY_FILE = "verification.key"
MIN_SECRET_CHARS = 32
DIR_MODE = 0o700
FILE_MODE = 0o600


class SecretError(SystemExit):
    """The key cannot be used: a one-line reason, like the other settings errors."""


def verification_key(settings: Settings) -> bytes:
    if settings.verification_secret is not None:
        return _checked(settings.verification_secret, "CASEWORK_VERIFICATION_SECRET")
    path = settings.var_dir / KEY_FILE
    if not path.exists():
        _create(path)
    elif path.stat().st_mode & 0o077:  # readable by others (copied in, or made by hand): tighten it
        path.chmod(FILE_MODE)
    return _checked(path.read_text(encoding="utf-8").strip(), str(path))


def _checked(secret: str, source: str) -> bytes:
    if len(secret) < MIN_SECRET_CHARS:
        raise SecretError(
            f"{source} is shorter than {MIN_SECRET_CHARS} characters; use a random secret "
            "(e.g. `openssl rand -hex 32`)"
        )
    return secret.encode()


def _create(path: Path) -> None:
    """Write a fresh key atomically: the first process to link its file wins, the others read it."""
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        directory.chmod(DIR_MODE)
    temporary = directory / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), FILE_MODE)  # whatever the umask
            file.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use that one
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
