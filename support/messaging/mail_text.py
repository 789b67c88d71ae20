"""Mail servers' texts as casework keeps them (a refusal, a delivery report's diagnostic): one
line, bounded, every address in it masked, since they often repeat the recipient's."""

from __future__ import annotations

import re
from typing import Final

from support.identity.verification import mask

SERVER_TEXT_MAX: Final = 300  # characters of a server's text kept (the ledger, the case)
_ADDRESS: Final = re.compile(r"[^\s<>()\[\]\"',;:]+@[A-Za-z0-9.-]+")


def mask_addresses(text: str) -> str:
    """`text` with every mail address in it masked (`support.identity.verification.mask`)."""
    return _ADDRESS.sub(lambda found: mask(found[0]), text)


def server_text(text: str) -> str:
    """A server's text as kept: one line, addresses masked, at most `SERVER_TEXT_MAX` characters."""
    line = mask_addresses(" ".join(text.split()))
    return line if len(line) <= SERVER_TEXT_MAX else line[: SERVER_TEXT_MAX - 1] + "…"
