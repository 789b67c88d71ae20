"""The inbound mail's rules without any server: which case an address names, which mail a machine
sent (RFC 3834), one hash per mail, and what is left of a reply once quoted history and signature
are stripped (en, zh-CN, hu; Gmail- and Outlook-style quoting; HTML-only mail); attachment limits."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from adapters.mail_reader import MailLimits, MailRefused, html_to_text, read_mail, strip_reply
from support.inbound_mail import automatic_reason, case_id_of, message_hash, reply_address, same_domain

DOMAIN = "support.casework.example"


@pytest.mark.parametrize(
    ("address", "case_id"),
    [
        ("case+case-contoso.demo-1@support.casework.example", "case-contoso.demo-1"),
        ("<case+case-contoso.demo-1@support.casework.example>", "case-contoso.demo-1"),
        ("Case+case-contoso.Web_1@SUPPORT.casework.example", "case-contoso.Web_1"),
        ("case+case-legacy-1@support.casework.example", "case-legacy-1"),  # before ids carried the tenant
        ("case+case-contoso.demo-1@support.casework.example.", "case-contoso.demo-1"),
        ("case+case-contoso.demo-1@other.example", None),
        ("case-contoso.demo-1@support.casework.example", None),
        ("case+@support.casework.example", None),
        ("case+case-contoso.demo 1@support.casework.example", None),
        ("case+case-contoso.demo-1", None),
        ("", None),
    ],
)
def test_the_case_an_address_names(address: str, case_id: str | None) -> None:
    assert case_id_of(address, DOMAIN) == case_id


def test_the_reply_address_round_trips() -> None:
    assert case_id_of(reply_address("case-contoso.r-1", DOMAIN), DOMAIN) == "case-contoso.r-1"


PERSON = [("From", "Anna <admin@contoso.example>"), ("Subject", "Re: [case-contoso.r-1]")]


@pytest.mark.parametrize(
    ("headers", "sender", "automatic"),
    [
        (PERSON, "admin@contoso.example", False),
        ([*PERSON, ("Auto-Submitted", "no")], "admin@contoso.example", False),
        ([*PERSON, ("Auto-Submitted", "auto-replied")], "admin@contoso.example", True),
        ([*PERSON, ("Auto-Submitted", "auto-generated; owner-email=x@y")], "admin@contoso.example", True),
        ([*PERSON, ("Precedence", "bulk")], "admin@contoso.example", True),
        ([*PERSON, ("Precedence", "Junk")], "admin@contoso.example", True),
        ([*PERSON, ("Precedence", "list")], "admin@contoso.example", True),
        ([*PERSON, ("X-Autoreply", "yes")], "admin@contoso.example", True),
        ([*PERSON, ("X-Autorespond", "vacation")], "admin@contoso.example", True),
        ([*PERSON, ("X-Auto-Response-Suppress", "All")], "admin@contoso.example", True),
        ([*PERSON, ("List-Id", "<it.contoso.example>")], "admin@contoso.example", True),
        ([*PERSON, ("Content-Type", "multipart/report; report-type=delivery-status")], "a@b.example", True),
        (PERSON, "", True),  # MAIL FROM:<>
        (PERSON, "<>", True),
        (PERSON, "MAILER-DAEMON@mx.contoso.example", True),
        (PERSON, "postmaster@contoso.example", True),
        (PERSON, "bounces+123@contoso.example", True),
        ([("From", "No Reply <noreply@contoso.example>")], "admin@contoso.example", True),
        ([("From", "Mail Delivery System <Mailer-Daemon@mx.example>")], "admin@contoso.example", True),
    ],
)
def test_automatic_messages(headers: list[tuple[str, str]], sender: str, automatic: bool) -> None:
    assert (automatic_reason(headers, sender) is not None) is automatic


def test_one_hash_per_mail() -> None:
    assert message_hash("<abc@contoso.example>", b"x") == message_hash(" abc@contoso.example ", b"y")
    assert message_hash("<abc@contoso.example>", b"x") != message_hash("<abd@contoso.example>", b"x")
    without = message_hash(None, b"raw bytes")
    assert without == message_hash("", b"raw bytes") and without != message_hash(None, b"other bytes")
    assert len(without) == 64 and int(without, 16) >= 0


def test_same_domain() -> None:
    assert same_domain("bounces+1@contoso.example", "admin@Contoso.example")
    assert not same_domain("admin@contoso.example", "admin@fabrikam.example")
    assert not same_domain("nobody", "admin@contoso.example")


REPLIES = {
    "en, Gmail": (
        "Here is the trace.\nIt fails at 09:12.\n\nOn Fri, Nov 27, 2026 at 10:00 AM casework support "
        "<support@casework.example> wrote:\n> Please send a call trace.\n> Regards\n",
        "Here is the trace.\nIt fails at 09:12.",
    ),
    "en, Outlook": (
        "Trace attached.\n\n-----Original Message-----\nFrom: casework support <support@casework.example>\n"
        "Sent: Friday, November 27, 2026 10:00 AM\nTo: admin@contoso.example\nSubject: trace\n\nPlease.\n",
        "Trace attached.",
    ),
    "en, Outlook line": (
        "Trace attached.\n\n________________________________\nFrom: casework support <s@c.example>\n"
        "Sent: Friday, November 27, 2026 10:00 AM\nTo: admin@contoso.example\nSubject: Re: case\n\nPlease.\n",
        "Trace attached.",
    ),
    "en, signature": (
        "Works now, thanks.\n\n-- \nAnna Smith | Contoso\n+86 21 5555 0100\n",
        "Works now, thanks.",
    ),
    "zh-CN, Gmail": (  # full-width comma and colon (\uff0c, \uff1a) as Gmail writes them
        "日志已附上\uff0c问题从九点开始。\n\n在 2026年11月27日周五 10:00\uff0ccasework support "
        "<support@casework.example> 写道\uff1a\n> 请发送通话跟踪。\n",
        "日志已附上\uff0c问题从九点开始。",
    ),
    "zh-CN, Outlook": (
        "日志已附上。\n\n-----原始邮件-----\n发件人: casework support <support@casework.example>\n"
        "发送时间: 2026年11月27日 10:00\n收件人: admin@contoso.example\n主题: 日志\n\n请发送通话跟踪。\n",
        "日志已附上。",
    ),
    "hu, Gmail": (
        "Csatoltam a naplót.\n\n2026. nov. 27., P 10:00 dátummal casework support "
        "<support@casework.example> ezt írta:\n> Kérjük, küldjön nyomkövetést.\n",
        "Csatoltam a naplót.",
    ),
    "hu, Outlook": (
        "Csatoltam a naplót.\n\nFeladó: casework support <support@casework.example>\n"
        "Elküldve: 2026. november 27. 10:00\nCímzett: it@fabrikam.example\nTárgy: napló\n\nKérjük.\n",
        "Csatoltam a naplót.",
    ),
}


@pytest.mark.parametrize("name", list(REPLIES))
def test_quoted_history_and_signatures_are_stripped(name: str) -> None:
    text, expected = REPLIES[name]
    assert strip_reply(text) == expected


def test_html_only_mail_gets_its_text_without_the_quote() -> None:
    html = (
        '<html><head><style>p{}</style></head><body><div dir="ltr">Works now<br>thanks &amp; bye</div>'
        '<div class="gmail_quote"><div>On Fri wrote:</div><blockquote>old <b>text</b></blockquote></div>'
        "</body></html>"
    )
    assert html_to_text(html) == "Works now\nthanks & bye"
    mail = EmailMessage()
    mail["From"] = "admin@contoso.example"
    mail["Message-ID"] = "<m1@contoso.example>"
    mail.set_content(html, subtype="html")
    read = read_mail(mail.as_bytes(), MailLimits(max_attachment_bytes=100, max_attachments=2))
    assert read.body == "Works now\nthanks & bye"
    assert read.message_id == "<m1@contoso.example>" and read.from_address == "admin@contoso.example"


def _with_attachments(*sizes: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Anna <admin@contoso.example>"
    mail.set_content("See attached")
    for number, size in enumerate(sizes):
        mail.add_attachment(b"x" * size, maintype="application", subtype="pdf", filename=f"../f{number}.pdf")
    return mail.as_bytes()


def test_attachments_within_the_limits_are_read_and_named_safely() -> None:
    read = read_mail(_with_attachments(10, 20), MailLimits(max_attachment_bytes=20, max_attachments=2))
    assert [(a.filename, a.content_type, len(a.content)) for a in read.attachments] == [
        ("_f0.pdf", "application/pdf", 10),
        ("_f1.pdf", "application/pdf", 20),
    ]
    assert read.body == "See attached"


def test_attachments_over_the_limits_refuse_the_mail() -> None:
    with pytest.raises(MailRefused) as big:
        read_mail(_with_attachments(10, 21), MailLimits(max_attachment_bytes=20, max_attachments=5))
    assert big.value.code == 552 and "f1.pdf" in str(big.value)
    with pytest.raises(MailRefused) as many:
        read_mail(_with_attachments(1, 1, 1), MailLimits(max_attachment_bytes=20, max_attachments=2))
    assert many.value.code == 552 and "at most 2 attachments" in str(many.value)
