"""One-time codes for phone intake from an unregistered number (pure parts; the key is passed in).

A code is kept as `HMAC-SHA256(key, "<case_id>:<code>")` under a server-side key that never enters
workflow history (`adapters.secrets.verification_key`): the sending activity returns that MAC, the
intake seals the code a caller submits the same way, and the workflow compares the two MACs. So
the history holds no hash that can be tested offline (without the key, a MAC of each of the
10^6 codes cannot be computed) and no submitted code in clear. The code itself never reaches
logs, queries or the case view.

Cases whose code was issued before this (an `IssuedCode` with `salt_hex`/`code_hash_hex`, and
`verify` updates carrying `code` in clear) keep their old comparison, so recorded histories replay.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

ITERATIONS = 20_000  # legacy salted PBKDF2, for codes issued before the MAC
MAC_PATTERN = r"^[0-9a-f]{64}$"


class IssuedCode(BaseModel):
    """What the sending activity returns: where the code went (masked) and the code's MAC.

    `salt_hex` and `code_hash_hex` are only in histories recorded before codes were MACed."""

    sent_to: str
    issued_at: datetime
    code_mac: str | None = Field(default=None, pattern=MAC_PATTERN)
    salt_hex: str | None = None
    code_hash_hex: str | None = None

    @property
    def sealed(self) -> bool:
        return self.code_mac is not None


class VerificationAttempt(BaseModel):
    """What a caller submits to the intake (API, CLI). Never sent to the workflow as it is: the
    intake seals it into a `SealedAttempt`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(
        pattern=r"^\d{6}$", description="the 6-digit code sent to the tenant's registered contact"
    )


class SealedAttempt(BaseModel):
    """The `verify` update's input: the submitted code's MAC under the server-side key.

    `code` (in clear) is what updates carried before sealing; it is read only to replay those
    histories, and the workflow refuses it for a code issued with a MAC."""

    model_config = ConfigDict(extra="forbid")

    code_mac: str | None = Field(default=None, pattern=MAC_PATTERN)
    code: str | None = Field(default=None, pattern=r"^\d{6}$")


class VerificationResult(BaseModel):
    verified: bool
    status: str
    remaining_attempts: int
    message: str


def code_mac(key: bytes, case_id: str, code: str) -> str:
    """The MAC a code is kept and compared as; bound to the case, so a MAC of one case's code
    says nothing about another's."""
    return hmac.new(key, f"{case_id}:{code}".encode(), hashlib.sha256).hexdigest()


def seal(key: bytes, case_id: str, code: str) -> SealedAttempt:
    return SealedAttempt(code_mac=code_mac(key, case_id, code))


def caller_mac(key: bytes, tenant_id: str, caller_number: str) -> str:
    """How a caller's number is kept in the failure counts: never in clear."""
    return hmac.new(key, f"caller:{tenant_id}:{caller_number}".encode(), hashlib.sha256).hexdigest()


def requester_mac(key: bytes, tenant_id: str, requester: str) -> str:
    """How a requester is found among cases (a search attribute): never in clear."""
    digest = hmac.new(key, f"requester:{tenant_id}:{requester.casefold()}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def can_check(attempt: SealedAttempt, issued: IssuedCode) -> bool:
    """Whether the workflow can compare this attempt with this code: a MAC for a MACed code, a code
    in clear only for a legacy (salted hash) one."""
    if issued.sealed:
        return attempt.code_mac is not None
    return attempt.code is not None


def attempt_matches(attempt: SealedAttempt, issued: IssuedCode) -> bool:
    """Constant-time comparison of the submitted code with the issued one."""
    if issued.code_mac is not None:
        return attempt.code_mac is not None and hmac.compare_digest(attempt.code_mac, issued.code_mac)
    return attempt.code is not None and code_matches(attempt.code, issued)


def hash_code(code: str, salt: bytes) -> str:
    """Legacy: the salted PBKDF2 of codes issued before the MAC (testable offline; not used now)."""
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, ITERATIONS).hex()


def code_matches(code: str, issued: IssuedCode) -> bool:
    """Legacy comparison, for histories recorded with a salted hash."""
    if issued.salt_hex is None or issued.code_hash_hex is None:
        return False
    return hmac.compare_digest(hash_code(code, bytes.fromhex(issued.salt_hex)), issued.code_hash_hex)


def mask(address: str) -> str:
    """'a***@contoso.example', '+86*******8000': enough for a person to recognise, no more."""
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    return address[:3] + "*" * max(len(address) - 7, 0) + address[-4:]
