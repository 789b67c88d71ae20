"""The survey mail's one-click link: a signed, expiring token bound to (case, addressee, survey round).

Pure rules, no I/O. Signed as the console's session cookie is (`interfaces.console.session`): the claim
as URL-safe base64 of compact JSON, a dot, and an HMAC-SHA256 of it; the key is derived from the
installation's verification secret under a label of its own, as the reply addresses' key is
(`support.messaging.reply_addresses.reply_key`), so the link, the cookies and the addresses never share a key.

The token names the case, a keyed digest of the address the survey was mailed to (the address
itself never travels in a URL), the survey round (the instant the survey was sent, in whole
seconds: a survey sent again would be another round) and the instant the survey stops waiting.
Whoever holds the link answers for that addressee; the case takes one answer (`support.rules.resolution`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

_KEY_LABEL: Final = b"casework survey link v1"
TOKEN_MAX: Final = 1024  # characters a link's token may have; longer is not ours
_TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{1,900}\.[0-9a-f]{64}$")
PATH: Final = "/console/survey/"  # where the link points, below the installation's public address


def survey_key(secret: bytes) -> bytes:
    """The links' key, derived from the verification secret (`adapters.secrets.verification_key`)."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def addressee_digest(address: str, key: bytes) -> str:
    """A keyed digest of an address (case-folded): the token carries it instead of the address."""
    return hmac.new(key, b"addressee\x00" + address.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class SurveyClaim:
    case_id: str
    addressee: str  # addressee_digest of the address the survey went to
    round: int  # the survey's sent_at, in whole seconds since the epoch
    expires: int  # the survey's expires_at, in whole seconds since the epoch

    def for_round(self, sent_at: datetime) -> bool:
        return self.round == int(sent_at.timestamp())


class LinkProblem(StrEnum):
    TAMPERED = "tampered"  # not a token of ours, or changed since it was signed
    EXPIRED = "expired"  # the survey stopped waiting for an answer


def _mac(key: bytes, data: str) -> str:
    return hmac.new(key, f"survey:{data}".encode(), hashlib.sha256).hexdigest()


def sign(claim: SurveyClaim, key: bytes) -> str:
    body = {"c": claim.case_id, "a": claim.addressee, "r": claim.round, "e": claim.expires}
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{data}.{_mac(key, data)}"


def link_for(
    base_url: str, case_id: str, address: str, sent_at: datetime, expires_at: datetime, key: bytes
) -> str:
    """The survey mail's link: `<base>/console/survey/<token>`."""
    claim = SurveyClaim(
        case_id=case_id,
        addressee=addressee_digest(address, key),
        round=int(sent_at.timestamp()),
        expires=int(expires_at.timestamp()),
    )
    return base_url.rstrip("/") + PATH + sign(claim, key)


def read(token: str, key: bytes, now: datetime) -> SurveyClaim | LinkProblem:
    """The claim of a well-signed, unexpired token; else what is wrong with it. The MAC is checked
    before anything in the token is read (in constant time)."""
    if not key or len(token) > TOKEN_MAX or not _TOKEN.match(token):  # no key: no link is ours
        return LinkProblem.TAMPERED
    data, _, mac = token.rpartition(".")
    if not hmac.compare_digest(mac, _mac(key, data)):
        return LinkProblem.TAMPERED
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        claim = SurveyClaim(
            case_id=str(body["c"]), addressee=str(body["a"]), round=int(body["r"]), expires=int(body["e"])
        )
    except (ValueError, KeyError, TypeError):
        return LinkProblem.TAMPERED
    if claim.expires <= int(now.astimezone(UTC).timestamp()):
        return LinkProblem.EXPIRED
    return claim
