"""What casework decides about a mail sent to a case's reply address, before anything is done with it.

Pure rules, no I/O: which case an address names, whether a message was sent by a machine (RFC 3834:
such a message is never answered and never becomes a customer message, so two auto-responders
cannot loop through a case) or may have been (then an operator decides: `mail_kind`), and the
stable hash that makes one mail one message however often it comes.

A case's reply address (the `Reply-To` of its mail) is `case+<token>@<reply domain>`: the token is
26 base32 characters (130 bits) of an HMAC-SHA256 of the case id under a server-side key, short
whatever the case id's length (the local part is 31 characters, RFC 5321 allows 64) and
unguessable, so knowing a case id is not enough to write to the case. The delivery activity records
each token with its case in the shared database before the mail goes out; the listener looks the
token up there (`token_of`). Mail sent before the token carried `case+<case-id>.<mac>@<reply
domain>` (13 base32 characters of the MAC, only for case ids of at most `CASE_ID_MAX` characters):
such addresses are still read, and checked, by `case_id_of`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from support.case.numbers import CASE_ID
from support.wording.text_shapes import TENANT_ID_PATTERN

LOCAL_PREFIX: Final = "case+"
# The token of a case's reply address: 26 base32 characters (130 bits) of HMAC-SHA256(key, label +
# case id), lower case (mail systems may fold a local part's case).
TOKEN_CHARS: Final = 26
_TOKEN_LABEL: Final = b"casework reply token v1\x00"
_TOKEN: Final = re.compile(f"^[a-z2-7]{{{TOKEN_CHARS}}}$")
# The MAC of a case's reply address as it was sent before the token (still read): 13 base32
# characters (65 bits) of HMAC-SHA256(key, case id), lower case. RFC 5321 allows 64 characters in a
# local part: "case+" + case id + "." + MAC fit a case id of at most 45 characters.
MAC_CHARS: Final = 13
LOCAL_MAX: Final = 64
CASE_ID_MAX: Final = LOCAL_MAX - len(LOCAL_PREFIX) - 1 - MAC_CHARS
_KEY_LABEL: Final = b"casework reply address v1"
# Senders that are machines by name (bounces, list servers, no-reply robots): RFC 3834 section 2
# and the names mail systems use for their own notices.
_MACHINE_LOCALS: Final = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|listserv|majordomo|"
    r"(no|do[-_.]?not)[-_.]?reply|bounces?([-+].*)?|owner-.+|.+-(owner|request|bounces))$",
    re.IGNORECASE,
)
_BULK_PRECEDENCE: Final = frozenset({"bulk", "junk", "list", "auto_reply"})


def reply_key(secret: bytes) -> bytes:
    """The key of the reply addresses' MACs, derived from the installation's verification secret
    (`adapters.secrets.verification_key`), so the two never share a key."""
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def address_mac(case_id: str, key: bytes) -> str:
    digest = hmac.new(key, case_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARS]


def reply_token(case_id: str, key: bytes) -> str:
    """The token of a case's reply address (`reply_address`): the same for a case every time, under
    the same key."""
    digest = hmac.new(key, _TOKEN_LABEL + case_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_CHARS]


def reply_address(case_id: str, reply_domain: str, key: bytes) -> str:
    """The address a case's mail names in `Reply-To` (adapters/smtp_out.py): `case+<token>@domain`,
    31 characters of local part whatever the case id. It names the case only once the token is
    recorded with it (adapters.reply_addresses, by the delivery activity before the mail goes out)."""
    return f"{LOCAL_PREFIX}{reply_token(case_id, key)}@{reply_domain}"


STAFF_PREFIX: Final = "staff+"
_STAFF_LABEL: Final = b"casework staff reply token v1\x00"


def staff_token(case_id: str, staff_name: str, key: bytes) -> str:
    """The token of the reply address a staff member's mail of a case carries: bound to the case
    and to that staff member (HMAC-SHA256 under the reply key), so only the mailbox it was sent to
    knows it, and a mail from another staff member's address (or a forged From) does not match it."""
    message = _STAFF_LABEL + case_id.encode("utf-8") + b"\x00" + staff_name.encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_CHARS]


def staff_reply_address(case_id: str, staff_name: str, reply_domain: str, key: bytes) -> str:
    """The `Reply-To` of a case's mail to a staff member: `staff+<token>@<reply domain>`; a reply
    to it from that member's address in the staff list becomes their update
    (`interfaces.mail_in.staff_mail`)."""
    return f"{STAFF_PREFIX}{staff_token(case_id, staff_name, key)}@{reply_domain}"


def staff_token_of(address: str, reply_domain: str) -> str | None:
    """The token of a `staff+<token>@<reply domain>` address (lower case), or None."""
    rest = _after_prefix(address, reply_domain, STAFF_PREFIX)
    if rest is None or not _TOKEN.fullmatch(rest.lower()):
        return None
    return rest.lower()


BOUNCE_PREFIX: Final = "bounce+"
_BOUNCE_LABEL: Final = b"casework bounce token v1\x00"


def bounce_token(notification_id: str, key: bytes) -> str:
    """The token of a notification's envelope sender (`bounce_address`): 26 base32 characters of
    HMAC-SHA256(key, label + notification id), the same on every retry of the notification, and
    unguessable without the key (so a forged report cannot name a notification)."""
    digest = hmac.new(key, _BOUNCE_LABEL + notification_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_CHARS]


def bounce_address(notification_id: str, reply_domain: str, key: bytes) -> str:
    """The envelope sender (MAIL FROM, where mail servers send their delivery reports) of a
    notification mailed to the customer's side: `bounce+<token>@<reply domain>` (VERP). It names
    the notification once the token is recorded (adapters.bounce_addresses, before the mail goes)."""
    return f"{BOUNCE_PREFIX}{bounce_token(notification_id, key)}@{reply_domain}"


def bounce_token_of(address: str, reply_domain: str) -> str | None:
    """The token of a `bounce+<token>@<reply domain>` address (lower case), or None."""
    rest = _after_prefix(address, reply_domain, BOUNCE_PREFIX)
    if rest is None or not _TOKEN.fullmatch(rest.lower()):
        return None
    return rest.lower()


def token_of(address: str, reply_domain: str) -> str | None:
    """The token a recipient address carries (lower case), or None when it is not a token address
    of this installation. Whether it names a case is the recorded tokens' to say."""
    rest = _after_prefix(address, reply_domain)
    if rest is None or not _TOKEN.fullmatch(rest.lower()):
        return None
    return rest.lower()


def tenant_of_case(case_id: str) -> str:
    """The tenant a case id names (`case-<tenant>.<request id>`), or '' for the ids of before tenants."""
    tenant, dot, _ = case_id.removeprefix("case-").partition(".")
    return tenant if dot and re.fullmatch(TENANT_ID_PATTERN, tenant) else ""


def _after_prefix(address: str, reply_domain: str, prefix: str = LOCAL_PREFIX) -> str | None:
    """What follows `prefix` (`case+`) in an address of the reply domain (compared without case:
    DNS, and mail systems that fold local parts), or None."""
    text = address.strip().strip("<>").strip()
    local, at, domain = text.rpartition("@")
    if not at or domain.lower().rstrip(".") != reply_domain.lower().rstrip("."):
        return None
    if local[: len(prefix)].lower() != prefix:
        return None
    return local[len(prefix) :]


def case_id_of(address: str, reply_domain: str, key: bytes) -> str | None:
    """The case an address of the form sent before the token names (`case+<case-id>.<mac>@domain`,
    `mac_reply_address`), or None when it is not one of this installation with the right MAC. The
    domain and the MAC are compared without case; the case id exactly, as it was sent."""
    rest = _after_prefix(address, reply_domain)
    if rest is None:
        return None
    case_id, dot, mac = rest.rpartition(".")
    if not dot or not CASE_ID.fullmatch(case_id):
        return None
    if not hmac.compare_digest(mac.lower().encode("ascii", "replace"), address_mac(case_id, key).encode()):
        return None
    return case_id


def mac_reply_address(case_id: str, reply_domain: str, key: bytes) -> str | None:
    """The address a case's mail named in `Reply-To` before the token (`case_id_of` still reads
    it), or None for a case id longer than `CASE_ID_MAX`, whose mail then carried none."""
    if len(case_id) > CASE_ID_MAX:
        return None
    return f"{LOCAL_PREFIX}{case_id}.{address_mac(case_id, key)}@{reply_domain}"


@dataclass(frozen=True)
class MailKind:
    """Who sent a mail, as far as its envelope and headers tell: a person's mail is taken; a
    robot's (RFC 3834) is dropped, never answered; a doubtful one is held for an operator
    (`mail_kind`)."""

    kind: Literal["person", "robot", "doubtful"]
    reason: str = ""


PERSON: Final = MailKind("person")


def mail_kind(headers: Iterable[tuple[str, str]], envelope_sender: str) -> MailKind:
    """Robot, doubtful or person. `headers` are (name, value) pairs as received; `envelope_sender`
    is the address of `MAIL FROM` ('' for `MAIL FROM:<>`, which only bounces and notices use).

    A robot, clearly: an empty or mail-system envelope sender; `Auto-Submitted` other than `no`
    (comments and parameters aside: `no (sent by hand)` is a person's, RFC 3834 section 5);
    `Precedence: auto_reply`; `X-Autoreply` or `X-Autorespond`; a delivery or read report; a
    mail-system From; casework's own mail (it carries `X-Casework-Notification`); and
    `Precedence: bulk/junk/list` with no sign of a person (no `In-Reply-To` or `References`, no
    `Auto-Submitted: no`). Doubtful: the signs a person's mail can carry too, a list's `List-Id` or
    `List-Unsubscribe` (a shared mailbox, a group), `X-Auto-Response-Suppress` (it asks others not
    to answer; Outlook sets it on people's mail too), or bulk precedence beside a person's signs."""
    sender = envelope_sender.strip().strip("<>").strip()
    if not sender:
        return MailKind("robot", "empty envelope sender (a bounce or a delivery notice)")
    if _is_machine(sender):
        return MailKind("robot", f"envelope sender is a mail system ({sender.partition('@')[0].lower()})")
    doubts: list[str] = []
    bulk = ""
    human = False
    for name, raw in headers:
        key = name.strip().lower()
        value = raw.strip()
        lowered = value.lower()
        if key == "auto-submitted":
            keyword = auto_submitted_keyword(value)
            if keyword == "no":
                human = True
            elif keyword:
                return MailKind("robot", f"Auto-Submitted: {keyword}")
        elif key == "precedence":
            if lowered == "auto_reply":
                return MailKind("robot", "Precedence: auto_reply")
            if lowered in _BULK_PRECEDENCE:
                bulk = f"Precedence: {lowered}"
        elif key in ("x-autoreply", "x-autorespond") and value:
            return MailKind("robot", f"{name.strip()} is set")
        elif key in ("x-casework-notification", "x-casework-case"):
            return MailKind("robot", "casework's own mail")
        elif key == "content-type" and lowered.startswith("multipart/report"):
            return MailKind("robot", "a delivery or read report (multipart/report)")
        elif key == "from" and _is_machine(_address_in(value)):
            return MailKind("robot", "From is a mail system")
        elif key in ("in-reply-to", "references") and value:
            human = True
        elif key in ("list-id", "list-unsubscribe") and value:
            doubts.append(f"{name.strip()} (a mailing list)")
        elif key in ("x-auto-response-suppress", "x-auto-response-suppress-all") and value:
            doubts.append(f"{name.strip()}: {value[:40]}")
    if bulk and not human:
        return MailKind("robot", bulk)
    if bulk:
        doubts.insert(0, bulk)
    if doubts:
        return MailKind("doubtful", "; ".join(doubts))
    return PERSON


def auto_submitted_keyword(value: str) -> str:
    """The keyword of an `Auto-Submitted` value, lower case, without its comments (nested
    parentheses, quoted pairs) and parameters: `no (by hand)` -> `no`; '' when there is none."""
    kept: list[str] = []
    depth = 0
    escaped = False
    for char in value[:1000]:
        if escaped:
            escaped = False
        elif char == "\\" and depth:
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept).split(";")[0].strip().lower()


def message_hash(message_id: str | None, raw: bytes) -> str:
    """SHA-256 hex of the mail's Message-ID (angle brackets and surrounding space ignored), so the
    same mail twice is one message; without one, of the raw message, the same bytes each time a
    sending server retries."""
    if message_id is not None:
        key = message_id.strip().strip("<>").strip()
        if key:
            return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def same_domain(first: str, second: str) -> bool:
    """Two addresses of one mail domain (a sender's bounce address beside its From)."""
    one, two = first.rpartition("@")[2].lower(), second.rpartition("@")[2].lower()
    return bool(one) and one == two


def _is_machine(address: str) -> bool:
    local = address.rpartition("@")[0] or address
    return bool(_MACHINE_LOCALS.fullmatch(local.strip()))


def _address_in(value: str) -> str:
    """The address of a From header value: between the last angle brackets, or the value."""
    if "<" in value and ">" in value:
        return value[value.rfind("<") + 1 : value.rfind(">")].strip()
    return value.strip()
