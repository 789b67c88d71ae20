"""Reading a customer's reply: its headers, the text they wrote (quoted history and signature
stripped), and its attachments, within the limits of the inbound settings.

Stripping is `mail-parser-reply` (kept, multi-language: Gmail's "On ... wrote:", Outlook's header
blocks and "-----Original Message-----", "Sent from my ..."), with the phrases of casework's other
customer languages added to its table: Hungarian, which it lacks, and the Gmail form of the Chinese
reply header ("在 ... 写道" and a full-width colon), which its Chinese entry misses. An RFC 3676
signature ("-- ") is cut first. Mail with only an HTML part is rendered to text (stdlib
`html.parser`), leaving out <blockquote> and Gmail's quote block: the quoted history of an HTML reply.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any, Final

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

# Phrases of the languages casework writes to customers in, for the parser's table: "hu" is new,
# "zh-gmail" adds the header Gmail writes in Chinese ("在 2026年11月27日周五 10:00, X 写道" + colon).
MAIL_LANGUAGES.setdefault(
    "hu",
    {
        "wrote_header": r"^((?:> ?)*.*\s(?:ezt írta|írta)\s?:)$",
        "from_header": r"((?:(?:^|\n|\n(?:> ?)*)[* ]*(?:Feladó|Elküldve|Címzett|Tárgy|Dátum|Másolat|From|"
        r"Sent|To|Subject|Date|Cc):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
        "disclaimers": [r"Jogi nyilatkozat:", r"Figyelem:"],
        "signatures": [r"Üdvözlettel", r"Tisztelettel", r"Köszönettel", r"Köszönöm,", r"Üdv,"],
        "sent_from": r"iPhone-ról küldve|Küldve .*(?:készülékről|-ról|-ről)",
    },
)
MAIL_LANGUAGES.setdefault(
    "zh-gmail",
    {
        "wrote_header": r"^((?:> ?)*在.*\d{4}年\d{1,2}月\d{1,2}日.*写道[\uff1a:])$",
        "from_header": "",
        "disclaimers": [],
        "signatures": [],
        "sent_from": "",
    },
)
LANGUAGES: Final = ("en", "zh", "zh-gmail", "hu")
_PARSER = EmailReplyParser(languages=list(LANGUAGES))
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_SEPARATOR = re.compile(r"\n[ \t]*(?:-{3,}[^\n]*-{3,}|_{10,})[ \t]*\s*\Z")


class MailRefused(ValueError):
    """The mail cannot be taken as it is: `code` is the SMTP reply's code (552: too large)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class MailLimits:
    max_attachment_bytes: int
    max_attachments: int


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class ReadMail:
    """What casework takes from a mail; `body` is the customer's own text."""

    message_id: str | None
    from_address: str
    headers: tuple[tuple[str, str], ...]
    body: str
    attachments: tuple[Attachment, ...]


def read_mail(raw: bytes, limits: MailLimits) -> ReadMail:
    """Parse one received mail. Raises MailRefused for an attachment over the limits."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    headers = tuple((name, _header(value)) for name, value in message.items())
    senders = getaddresses([_header(message.get("From", ""))])
    from_address = senders[0][1].strip() if senders else ""
    message_id = _header(message.get("Message-ID", "")).strip() or None
    return ReadMail(
        message_id=message_id,
        from_address=from_address,
        headers=headers,
        body=reply_text(message),
        attachments=tuple(_attachments(message, limits)),
    )


def reply_text(message: EmailMessage) -> str:
    """The text the sender wrote: the plain part (or the HTML part rendered), without the quoted
    history and signature."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _content(plain)
    else:
        html = message.get_body(preferencelist=("html",))
        text = html_to_text(_content(html)) if html is not None else ""
    return strip_reply(text)


def strip_reply(text: str) -> str:
    """A reply without what it quotes and without its signature."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    signature = _SIGNATURE.search(text)
    if signature is not None:
        text = text[: signature.start()]
    stripped = _PARSER.parse_reply(text=text) or ""
    stripped = _SEPARATOR.sub("", stripped.rstrip())
    return stripped.strip()


class _Text(HTMLParser):
    _BLOCKS: Final = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}
    )
    _HIDDEN: Final = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(value or "" for key, value in attrs if key == "class")
        if self._hidden or tag in self._HIDDEN or "gmail_quote" in classes:
            if tag not in ("br", "img", "hr", "meta", "link", "input"):
                self._hidden.append(tag)
            return
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            if self._hidden[-1] == tag:
                self._hidden.pop()
            return
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    """Plain text of an HTML mail: block elements as lines, quoted blocks left out."""
    reader = _Text()
    reader.feed(html)
    reader.close()
    lines = [line.strip() for line in "".join(reader.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _attachments(message: EmailMessage, limits: MailLimits) -> list[Attachment]:
    found: list[Attachment] = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        name = _filename(part, len(found) + 1)
        if len(content) > limits.max_attachment_bytes:
            raise MailRefused(
                552,
                f"5.3.4 attachment {name!r} is {len(content)} bytes; at most "
                f"{limits.max_attachment_bytes} bytes an attachment are accepted",
            )
        found.append(Attachment(name, _content_type(part), content))
        if len(found) > limits.max_attachments:
            raise MailRefused(
                552, f"5.3.4 at most {limits.max_attachments} attachments a message are accepted"
            )
    return found


def _filename(part: Message, number: int) -> str:
    name = part.get_filename() or ""
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip().strip(".") or f"attachment-{number}"
    return name[:200]


def _content_type(part: Message) -> str:
    kind = part.get_content_type().lower()
    return kind if _CONTENT_TYPE.fullmatch(kind) else "application/octet-stream"


def _content(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, AssertionError):  # an unknown charset: read what can be read
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _header(value: Any) -> str:
    return str(value) if value is not None else ""
