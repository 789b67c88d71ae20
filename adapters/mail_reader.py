"""Reading a customer's reply: its headers, the text they wrote (quoted history and signature
stripped), and its attachments, within the limits of the inbound settings.

Stripping is `mail-parser-reply` (kept, multi-language: Gmail's "On ... wrote:", Outlook's header
blocks and "-----Original Message-----", "Sent from my ..."), with the phrases of casework's other
customer languages added to its table: Hungarian, which it lacks, and the Gmail form of the Chinese
reply header ("在 ... 写道" and a full-width colon), which its Chinese entry misses. An RFC 3676
signature ("-- ") is cut first. Mail with only an HTML part is rendered to text (stdlib
`html.parser`), leaving out <blockquote> and Gmail's quote block: the quoted history of an HTML reply.

Real mail is taken as it comes, not refused: text labelled ISO-8859-1 is read as Windows-1252 (what
mail clients that say Latin-1 mostly write: `It\x92s`), and control characters a case's message may
not hold (a pasted log's form feeds, C1 controls) become a space or U+FFFD. Attachments are every
leaf of the whole MIME tree that is not the body and has a file name or a Content-ID (an image in
multipart/related, a signed mail's file), a forwarded mail (message/rfc822) kept whole as a `.eml`
file; only the signatures of multipart/signed are left out.

Hostile mail is read in bounded time (issue 29), in a child process (`adapters.mail_reader_process`):
the MIME parser stops at the limits (`MailLimits`: parts, nesting depth, header fields a part)
before it builds more, and the reply parser, whose patterns backtrack on long lines (a line of
20,000 "> " took 24 s), reads at most `PARSER_CHARS` of the text, lines of at most `PARSER_LINE`
characters (a longer line is cut there for it and given back whole), and runs of at most two blank
lines: its work is bounded whatever the mail's size. `read_head` reads the top header fields only,
for the checks made before the body is parsed (who sent it, is it a robot's).
"""

from __future__ import annotations

import codecs
import email.feedparser
import email.policy
import mimetypes
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
# (The Hungarian "wrote:" line was `^((?:> ?)*.*\s...)$`: the quote markers could be taken by either
# part, so a line of "> " backtracked quadratically; `.*` alone matches the same lines.)
MAIL_LANGUAGES.setdefault(
    "hu",
    {
        "wrote_header": r"^(.*\s(?:ezt írta|írta)\s?:)$",
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
_SEPARATOR = re.compile(r"[ \t]*(?:-{3,}[^\n]*-{3,}|_{10,})[ \t]*")  # a last line that is a rule
# What the reply parser reads of a reply (see the module): its patterns backtrack within a line.
PARSER_CHARS: Final = 32 * 1024
PARSER_LINE: Final = 300
_MARK = re.compile("\ue000([0-9]+)\ue001")  # where a long line was cut for the parser
_MARK_CHARS = re.compile("[\ue000\ue001]")
HEAD_BYTES: Final = 512 * 1024  # the top header block read before the body is parsed, at most
FROM_CHARS: Final = 2000  # a From header longer than this is no person's
# What a case's message may not hold (support.wording.text_shapes: line breaks and tabs only below U+0020): a
# vertical tab or form feed becomes a space, any other control character U+FFFD.
_SPACING_CONTROL = re.compile(r"[\x0b\x0c]")
_OTHER_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# What a file name (a one-line field) may not hold, nor a path separator.
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\u200e\u200f\u061c/\\]+")
_SIGNATURE_TYPES: Final = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)


class MailRefused(ValueError):
    """The mail cannot be taken as it is: `code` is the SMTP reply's code (552: too large; 554: it
    cannot be read, and never will be)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class MailLimits:
    """What one mail may hold; the MIME parser stops at the first part, level or header field
    over them (`CASEWORK_INBOUND_MAX_PARTS`, `_MAX_DEPTH`, `_MAX_HEADERS`)."""

    max_attachment_bytes: int
    max_attachments: int
    max_parts: int = 100
    max_depth: int = 10
    max_headers: int = 500


@dataclass(frozen=True)
class MailHead:
    """The top header fields of a mail, read without its body: (name, value) as received, values
    unfolded and not decoded; the From address; the Message-ID."""

    headers: tuple[tuple[str, str], ...]
    from_address: str
    message_id: str | None


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


def unreadable(reason: str) -> MailRefused:
    """The refusal of a mail that will never be read: permanent, with its reason."""
    return MailRefused(554, f"5.6.0 the mail cannot be read: {reason}")


class _LimitedParser(email.feedparser.BytesFeedParser):
    """The standard MIME parser, stopped at the first part, nesting level or header field over the
    limits, before it builds more of the tree."""

    def __init__(self, limits: MailLimits) -> None:
        super().__init__(policy=email.policy.default)
        self._limits = limits
        self._parts = 0

    def _new_message(self) -> None:
        limits = self._limits
        self._parts += 1
        if self._parts > limits.max_parts:
            raise unreadable(f"it has more than {limits.max_parts} MIME parts")
        if len(self._msgstack) >= limits.max_depth:  # type: ignore[attr-defined]
            raise unreadable(f"its MIME parts are nested more than {limits.max_depth} deep")
        super()._new_message()  # type: ignore[misc]

    def _parse_headers(self, lines: list[str]) -> None:
        fields = sum(1 for line in lines if line[:1] not in (" ", "\t"))
        if fields > self._limits.max_headers:
            raise unreadable(f"a part has more than {self._limits.max_headers} header fields")
        super()._parse_headers(lines)  # type: ignore[misc]


def read_head(raw: bytes, limits: MailLimits) -> MailHead:
    """The top header fields, From and Message-ID, read from at most `HEAD_BYTES` of the mail in
    one pass. Raises MailRefused (554) for a mail whose head cannot be a person's: more fields than
    the limit, no end within `HEAD_BYTES`, a From of more than `FROM_CHARS`."""
    block = raw[:HEAD_BYTES]
    ends = [at for at in (block.find(b"\r\n\r\n"), block.find(b"\n\n")) if at >= 0]
    if not ends:
        if len(raw) > HEAD_BYTES:
            raise unreadable(f"its header is longer than {HEAD_BYTES} bytes")
        end = len(block)
    else:
        end = min(ends)
    fields: list[list[str]] = []
    for line in block[:end].decode("ascii", "surrogateescape").replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t"):
            if fields:
                fields[-1].append(line)
            continue
        if len(fields) >= limits.max_headers:
            raise unreadable(f"it has more than {limits.max_headers} header fields")
        fields.append([line])
    headers: list[tuple[str, str]] = []
    for lines in fields:
        name, colon, value = "".join(lines).partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    sender = next((value for name, value in headers if name.lower() == "from"), "")
    if len(sender) > FROM_CHARS:
        raise unreadable(f"its From header is longer than {FROM_CHARS} characters")
    senders = getaddresses([sender])
    message_id = next((value for name, value in headers if name.lower() == "message-id"), "")
    return MailHead(
        headers=tuple(headers),
        from_address=senders[0][1].strip() if senders else "",
        message_id=message_id.strip() or None,
    )


def read_mail(raw: bytes, limits: MailLimits) -> ReadMail:
    """Parse one received mail. Raises MailRefused for a mail over the limits (552 an attachment,
    554 parts, nesting, header fields)."""
    parser = _LimitedParser(limits)
    parser.feed(raw)
    message = parser.close()
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
    return strip_reply(clean_text(text))


def clean_text(text: str) -> str:
    """`text` with the control characters a message may not hold replaced (CR LF kept as they are)."""
    return _OTHER_CONTROL.sub("\ufffd", _SPACING_CONTROL.sub(" ", text))


def read_or_refuse(raw: bytes, limits: MailLimits) -> ReadMail:
    """`read_mail`, with any failure to read the mail a permanent refusal (554 with the reason):
    the same bytes fail the same way each time, so the sending server must not try again."""
    try:
        return read_mail(raw, limits)
    except MailRefused:
        raise
    except RecursionError:
        raise unreadable("its structure is nested too deep") from None
    except Exception as error:  # a defect the parser cannot take (an encoded CR LF in From, say)
        raise unreadable(f"malformed ({type(error).__name__})") from None


def strip_reply(text: str) -> str:
    """A reply without what it quotes and without its signature."""
    text = _MARK_CHARS.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    signature = _SIGNATURE.search(text)
    if signature is not None:
        text = text[: signature.start()]
    view, long_lines, rest = parser_input(text)
    message = _PARSER.read(view)
    stripped = _restored(message.latest_reply or "", long_lines)
    if len(message.replies) == 1 and rest:  # no quote header in what it read: the rest is the reply's
        stripped = f"{stripped}\n{rest}"
    stripped = stripped.rstrip()
    before, newline, last = stripped.rpartition("\n")
    if newline and len(last) <= PARSER_LINE and _SEPARATOR.fullmatch(last):
        stripped = before
    return stripped.strip()


def parser_input(text: str) -> tuple[str, list[str], str]:
    """What the reply parser reads of `text` (lines stripped, as it strips them): at most
    `PARSER_CHARS` characters, no line over `PARSER_LINE` (the longer ones cut, and a mark at the
    cut naming them in the list returned), at most two blank lines in a row; and the text it does
    not read. One pass over the lines it reads."""
    lines: list[str] = []
    long_lines: list[str] = []
    used = blanks = start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end].strip()
        blanks = blanks + 1 if not line else 0
        if len(line) > PARSER_LINE:
            line = f"{line[:PARSER_LINE]}\ue000{len(long_lines)}\ue001"
            long_lines.append(text[start:end].strip())
        if used + len(line) + 1 > PARSER_CHARS:  # (a blank line left out counts too: one pass, bounded)
            return "\n".join(lines), long_lines, text[start:]
        if blanks <= 2:
            lines.append(line)
        used += len(line) + 1
        start = end + 1
    return "\n".join(lines), long_lines, ""


def _restored(text: str, long_lines: list[str]) -> str:
    """`text` with each line `parser_input` cut given back whole."""
    pieces = _MARK.split(text)
    restored = [pieces[0]]
    for number, after in zip(pieces[1::2], pieces[2::2], strict=True):
        restored[-1] = restored[-1][:-PARSER_LINE]
        restored.append(long_lines[int(number)])
        restored.append(after)
    return "".join(restored)


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
    """Every attachment in the whole MIME tree (see the module), counted and sized against `limits`."""
    bodies = {
        id(part)
        for part in (message.get_body(preferencelist=("plain",)), message.get_body(preferencelist=("html",)))
        if part is not None
    }
    found: list[Attachment] = []
    for part in _leaves(message):
        if id(part) in bodies:
            continue
        forwarded = part.get_content_type() == "message/rfc822"
        if forwarded:
            content: object = _forwarded(part)
        elif not _is_attachment(part):
            continue
        else:
            content = part.get_payload(decode=True)
        if not isinstance(content, bytes):
            continue
        name = _filename(part, len(found) + 1, ".eml" if forwarded else None)
        if len(content) > limits.max_attachment_bytes:
            raise MailRefused(
                552,
                f"5.3.4 attachment {name!r} is {len(content)} bytes; at most "
                f"{limits.max_attachment_bytes} bytes an attachment are accepted",
            )
        found.append(Attachment(name, "message/rfc822" if forwarded else _content_type(part), content))
        if len(found) > limits.max_attachments:
            raise MailRefused(
                552, f"5.3.4 at most {limits.max_attachments} attachments a message are accepted"
            )
    return found


def _leaves(part: Message) -> list[Message]:
    """The parts of the tree below `part` that hold content, depth first; a forwarded message is
    one leaf (kept whole); a signature of multipart/signed is none."""
    if part.get_content_type() == "message/rfc822":
        return [part]
    if not part.is_multipart():
        return [] if part.get_content_type() in _SIGNATURE_TYPES else [part]
    payload = part.get_payload()
    children = payload if isinstance(payload, list) else []
    return [leaf for child in children if isinstance(child, Message) for leaf in _leaves(child)]


def _is_attachment(part: Message) -> bool:
    """A leaf that is not the body: a file (by name or disposition), an inline part others point
    to (a Content-ID), or anything that is not text."""
    return (
        part.get_filename() is not None
        or part.get("Content-ID") is not None
        or part.get_content_disposition() == "attachment"
        or part.get_content_maintype() != "text"
    )


def _forwarded(part: Message) -> bytes | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    try:
        return inner.as_bytes(policy=email.policy.SMTP)
    except (LookupError, UnicodeError, ValueError):
        return bytes(inner)


def _filename(part: Message, number: int, suffix: str | None = None) -> str:
    """A file name of one line, without control characters or a path; `attachment-<n>` (with the
    extension of its type) when it has none."""
    name = clean_text(part.get_filename() or "")
    name = _NAME_CONTROL.sub("_", name).strip().strip(".")
    if not name:
        extension = suffix or mimetypes.guess_extension(part.get_content_type()) or ""
        name = f"attachment-{number}{extension}"
    elif suffix is not None and not name.lower().endswith(suffix):
        name = name[: 200 - len(suffix)] + suffix
    return name[:200]


def _content_type(part: Message) -> str:
    kind = part.get_content_type().lower()
    return kind if _CONTENT_TYPE.fullmatch(kind) else "application/octet-stream"


def _content(part: Any) -> str:
    charset = part.get_content_charset()
    if charset is not None and _is_latin1(charset):
        # Labelled ISO-8859-1, written in Windows-1252 as a rule (its quotes and dashes in 0x80-0x9f).
        payload = part.get_payload(decode=True)
        return payload.decode("cp1252", "replace") if isinstance(payload, bytes) else ""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, AssertionError):  # an unknown charset: read what can be read
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _is_latin1(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "iso8859-1"
    except LookupError:
        return False


def _header(value: Any) -> str:
    return str(value) if value is not None else ""
