"""Webhook signatures over a timestamp and the body (Stripe's scheme).

`X-Casework-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of f"{t}." + body>`. Signing the time
as well as the body lets a receiver refuse a captured delivery replayed later, not only a changed
one. Pure: the caller passes the secret and the time. A receiver may list several `v1=` (a key
rotation); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Casework-Signature"
TOLERANCE_SECONDS = 300
_MAX_HEADER = 2048  # far above one t and a few v1; a longer header is not ours


def _digest(secret: str, body: bytes, stamp: str) -> str:
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int) -> str:
    """The header value for `body` sent at unix time `t`. An empty secret is refused: a signature
    anyone can make proves nothing."""
    if not secret:
        raise ValueError("a webhook secret is required to sign")
    return f"t={t},v1={_digest(secret, body, str(t))}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` signs exactly `body` with `secret` at a time within `tolerance` seconds of
    `now`, either way (too old is a replay; far ahead is a clock to fix, or a forgery kept for later).
    Signatures are compared in constant time."""
    if not secret or len(header) > _MAX_HEADER:
        return False
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    stamps, signatures = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()) or not signatures:
        return False
    if abs(now - int(stamps[0])) > tolerance:
        return False
    expected = _digest(secret, body, stamps[0]).encode()
    matched = False
    for candidate in signatures:  # every one, always
        matched |= hmac.compare_digest(expected, candidate.encode())
    return matched
