"""One-time codes for phone intake from an unregistered number (pure parts).

Only a salted hash of the code is kept in the case; checking a code is the same computation in
the workflow on every replay. The code itself never reaches logs, queries or the case view.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

ITERATIONS = 20_000


class IssuedCode(BaseModel):
    """What the sending activity returns: where the code went (masked) and its salted hash."""

    salt_hex: str
    code_hash_hex: str
    sent_to: str
    issued_at: datetime


class VerificationAttempt(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(
        pattern=r"^\d{6}$", description="the 6-digit code sent to the tenant's registered contact"
    )


class VerificationResult(BaseModel):
    verified: bool
    status: str
    remaining_attempts: int
    message: str


def hash_code(code: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, ITERATIONS).hex()


def code_matches(code: str, issued: IssuedCode) -> bool:
    return hmac.compare_digest(hash_code(code, bytes.fromhex(issued.salt_hex)), issued.code_hash_hex)


def mask(address: str) -> str:
    """'a***@contoso.example', '+86*******8000': enough for a person to recognise, no more."""
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    return address[:3] + "*" * max(len(address) - 7, 0) + address[-4:]
