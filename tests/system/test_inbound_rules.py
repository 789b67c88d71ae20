"""The inbound mail's rules without any server: which case an address names, which mail a machine
sent (RFC 3834), one hash per mail, and what is left of a reply once quoted history and signature
are stripped (en, zh-CN, hu; Gmail- and Outlook-style quoting; HTML-only mail); attachment limits."""

from __future__ import annotations

from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from adapters.mail_reader import (
    PARSER_CHARS,
    PARSER_LINE,
    MailLimits,
    MailRefused,
    html_to_text,
    parser_input,
    read_mail,
    strip_reply,
)
from adapters.mail_reader_process import MailReaders
from adapters.messages import Message
from adapters.smtp_out import case_email
from support.case.actions import AttachmentRef, CustomerReply
from support.messaging.reply_addresses import (
    CASE_ID_MAX,
    MAC_CHARS,
    TOKEN_CHARS,
    auto_submitted_keyword,
    case_id_of,
    mac_reply_address,
    mail_kind,
    message_hash,
    reply_address,
    reply_key,
    reply_token,
    same_domain,
    tenant_of_case,
    token_of,
)
from support.rules.request import case_id_for
from tests import hostile_mail

DOMAIN = "support.casework.example"


KEY = reply_key(b"k" * 32)


def _address(case_id: str, domain: str = DOMAIN) -> str:
    """The address of the form sent before the token (case+<case-id>.<mac>), still read."""
    address = mac_reply_address(case_id, domain, KEY)
    assert address is not None
    return address


def _folded(case_id: str) -> str:
    local, _, domain = _address(case_id).partition("@")
    mac = local.rpartition(".")[2]
    return f"Case+{case_id}.{mac.upper()}@{domain.upper()}"


@pytest.mark.parametrize(
    ("address", "case_id"),
    [
        (_address("case-contoso.demo-1"), "case-contoso.demo-1"),
        (f"<{_address('case-contoso.demo-1')}>", "case-contoso.demo-1"),
        (_folded("case-contoso.Web_1"), "case-contoso.Web_1"),  # a mail system folded prefix, MAC, domain
        (_address("case-legacy-1"), "case-legacy-1"),  # before ids carried the tenant
        (_address("case-contoso.r.1.2"), "case-contoso.r.1.2"),  # dots in the request id
        (_address("case-contoso.demo-1") + ".", "case-contoso.demo-1"),
        (_address("case-contoso.demo-1").replace(DOMAIN, "other.example"), None),
        (_address("case-contoso.demo-1").replace("case+", ""), None),
        ("case+@support.casework.example", None),
        ("case+case-contoso.demo 1@support.casework.example", None),
        ("case+case-contoso.demo-1", None),
        ("", None),
    ],
)
def test_the_case_an_address_names(address: str, case_id: str | None) -> None:
    assert case_id_of(address, DOMAIN, KEY) == case_id


def test_the_reply_address_round_trips() -> None:
    assert case_id_of(_address("case-contoso.r-1"), DOMAIN, KEY) == "case-contoso.r-1"


def test_a_case_address_without_its_mac_or_with_another_one_names_no_case() -> None:
    """The address cannot be guessed from the case id: the MAC is keyed with the server's secret."""
    real = _address("case-contoso.r-1")
    local, _, mac = real.partition("@")[0].rpartition(".")
    assert len(mac) == MAC_CHARS == 13  # 65 bits
    assert case_id_of("case+case-contoso.r-1@" + DOMAIN, DOMAIN, KEY) is None  # the old, guessable form
    assert case_id_of(f"{local}.{'a' * len(mac)}@{DOMAIN}", DOMAIN, KEY) is None
    assert case_id_of(f"{local}.{mac[:-1]}@{DOMAIN}", DOMAIN, KEY) is None
    other_case_mac = _address("case-contoso.r-2").partition("@")[0].rpartition(".")[2]
    assert case_id_of(f"{local}.{other_case_mac}@{DOMAIN}", DOMAIN, KEY) is None
    assert case_id_of(real, DOMAIN, reply_key(b"another secret of 32 characters!")) is None
    assert reply_key(b"k" * 32) != b"k" * 32, "derived, not the verification key itself"


def test_the_old_form_was_sent_only_where_its_local_part_fit_rfc_5321() -> None:
    """64 characters at most; case ids go up to 5 + 63 + 1 + 64 = 133 characters (support.rules.request)."""
    longest_fitting = "case-" + "t" * 20 + "." + "r" * (CASE_ID_MAX - 26)
    assert len(longest_fitting) == CASE_ID_MAX == 45
    fits = _address(longest_fitting)
    assert len(fits.partition("@")[0]) == 64
    assert case_id_of(fits, DOMAIN, KEY) == longest_fitting
    assert mac_reply_address(longest_fitting + "x", DOMAIN, KEY) is None
    assert mac_reply_address(case_id_for("t" * 63, "r" * 64), DOMAIN, KEY) is None


def test_every_case_gets_a_token_address_that_fits_rfc_5321() -> None:
    """case+<token>: 31 characters of local part for any case id, the longest (133) included."""
    for case_id in ["case-legacy-1", "case-contoso.r-1", case_id_for("t" * 63, "r" * 64)]:
        address = reply_address(case_id, DOMAIN, KEY)
        local, _, domain = address.partition("@")
        assert len(local) == len("case+") + TOKEN_CHARS == 31 and domain == DOMAIN
        token = reply_token(case_id, KEY)
        assert local == f"case+{token}" and len(token) == 26 and token == token.lower()
        assert token_of(address, DOMAIN) == token
        folded = f"<Case+{token.upper()}@{DOMAIN.upper()}.>"  # as a mail system may fold it
        assert token_of(folded, DOMAIN) == token
        assert case_id_of(address, DOMAIN, KEY) is None, "a token names its case only through the database"
    one, two = reply_token("case-contoso.r-1", KEY), reply_token("case-contoso.r-2", KEY)
    assert one != two and one == reply_token("case-contoso.r-1", KEY)
    assert reply_token("case-contoso.r-1", reply_key(b"another secret of 32 characters!")) != one
    assert not one.startswith(_address("case-contoso.r-1").partition("@")[0].rpartition(".")[2]), (
        "the token is not the old form's MAC made longer"
    )


@pytest.mark.parametrize(
    "address",
    [
        f"case+{'a' * 25}@{DOMAIN}",
        f"case+{'a' * 27}@{DOMAIN}",
        f"case+{'a' * 25}1@{DOMAIN}",  # not base32
        f"case+{'a' * 26}@other.example",
        f"{'a' * 26}@{DOMAIN}",
        f"case+{'a' * 26}",
    ],
)
def test_what_is_no_token_address(address: str) -> None:
    assert token_of(address, DOMAIN) is None


def test_the_tenant_a_case_id_names() -> None:
    assert tenant_of_case("case-contoso.r-1") == "contoso"
    assert tenant_of_case(case_id_for("t" * 63, "r.1")) == "t" * 63
    assert tenant_of_case("case-legacy-1") == ""


PERSON = [("From", "Anna <admin@contoso.example>"), ("Subject", "Re: [case-contoso.r-1]")]
REPLY = [*PERSON, ("In-Reply-To", "<ack-1@casework.example>")]
ME = "admin@contoso.example"


@pytest.mark.parametrize(
    ("headers", "sender", "kind"),
    [
        (PERSON, ME, "person"),
        ([*PERSON, ("Auto-Submitted", "no")], ME, "person"),
        ([*PERSON, ("Auto-Submitted", "no (sent by hand)")], ME, "person"),  # RFC 3834: a comment
        ([*PERSON, ("Auto-Submitted", " No ; (x) ")], ME, "person"),
        ([*PERSON, ("Auto-Submitted", "(said: auto-replied) no")], ME, "person"),
        ([*PERSON, ("Auto-Submitted", "auto-replied")], ME, "robot"),
        ([*PERSON, ("Auto-Submitted", "auto-generated; owner-email=x@y")], ME, "robot"),
        ([*PERSON, ("Auto-Submitted", "auto-replied (vacation)")], ME, "robot"),
        ([*PERSON, ("Precedence", "bulk")], ME, "robot"),
        ([*PERSON, ("Precedence", "Junk")], ME, "robot"),
        ([*PERSON, ("Precedence", "list")], ME, "robot"),
        ([*PERSON, ("Precedence", "auto_reply")], ME, "robot"),
        ([*REPLY, ("Precedence", "list")], ME, "doubtful"),  # a person's reply through a list
        ([*PERSON, ("Auto-Submitted", "no"), ("Precedence", "bulk")], ME, "doubtful"),
        ([*PERSON, ("X-Autoreply", "yes")], ME, "robot"),
        ([*PERSON, ("X-Autorespond", "vacation")], ME, "robot"),
        ([*PERSON, ("X-Auto-Response-Suppress", "All")], ME, "doubtful"),
        ([*PERSON, ("List-Id", "<it.contoso.example>")], ME, "doubtful"),
        ([*REPLY, ("List-Unsubscribe", "<mailto:leave@contoso.example>")], ME, "doubtful"),
        ([*PERSON, ("List-Id", "<it.contoso.example>"), ("Precedence", "list")], ME, "robot"),
        ([*PERSON, ("Content-Type", "multipart/report; report-type=delivery-status")], ME, "robot"),
        ([*REPLY, ("X-Casework-Notification", "case-contoso.r-1/acknowledged/0/customer")], ME, "robot"),
        (PERSON, "", "robot"),  # MAIL FROM:<>
        (PERSON, "<>", "robot"),
        (PERSON, "MAILER-DAEMON@mx.contoso.example", "robot"),
        (PERSON, "postmaster@contoso.example", "robot"),
        (PERSON, "bounces+123@contoso.example", "robot"),
        ([("From", "No Reply <noreply@contoso.example>")], ME, "robot"),
        ([("From", "Mail Delivery System <Mailer-Daemon@mx.example>")], ME, "robot"),
    ],
)
def test_robots_doubtful_mail_and_people(headers: list[tuple[str, str]], sender: str, kind: str) -> None:
    found = mail_kind(headers, sender)
    assert found.kind == kind, found
    assert (found.reason != "") is (kind != "person")


@pytest.mark.parametrize(
    ("value", "keyword"),
    [
        ("no", "no"),
        ("no (comment)", "no"),
        ("(a (nested) comment) auto-replied", "auto-replied"),
        ("no (a \\) escaped)", "no"),
        ("auto-generated; x=y", "auto-generated"),
        ("", ""),
    ],
)
def test_the_auto_submitted_keyword(value: str, keyword: str) -> None:
    assert auto_submitted_keyword(value) == keyword


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


LIMITS = MailLimits(max_attachment_bytes=1000, max_attachments=5)


def _person(mail: EmailMessage | MIMEMultipart) -> None:
    mail["From"] = "Anna <admin@contoso.example>"
    mail["Message-ID"] = "<nested@contoso.example>"


def _part(mail: EmailMessage, index: int) -> EmailMessage:
    parts = mail.get_payload()
    assert isinstance(parts, list)
    part = parts[index]
    assert isinstance(part, EmailMessage)
    return part


def test_an_image_in_multipart_related_inside_alternative_is_an_attachment() -> None:
    mail = EmailMessage()
    _person(mail)
    mail.set_content("See the screenshot")
    mail.add_alternative('<p>See the screenshot</p><img src="cid:shot1">', subtype="html")
    html = _part(mail, 1)
    html.add_related(b"\x89PNG shot", maintype="image", subtype="png", cid="<shot1>")
    assert mail.get_content_type() == "multipart/alternative"
    read = read_mail(mail.as_bytes(), LIMITS)
    assert [(a.filename, a.content_type, a.content) for a in read.attachments] == [
        ("attachment-1.png", "image/png", b"\x89PNG shot")
    ]
    assert read.body == "See the screenshot"


def test_a_signed_mails_attachment_is_kept_and_its_signature_left_out() -> None:
    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("Trace attached, signed."))
    trace = MIMEApplication(b"%PDF trace", "pdf")
    trace.add_header("Content-Disposition", "attachment", filename="trace.pdf")
    inner.attach(trace)
    signed = MIMEMultipart("signed", protocol="application/pkcs7-signature", micalg="sha-256")
    _person(signed)
    signed.attach(inner)
    signature = MIMEApplication(b"0\x82sig", "pkcs7-signature")
    signature.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    signed.attach(signature)
    read = read_mail(signed.as_bytes(), LIMITS)
    assert [(a.filename, a.content_type, a.content) for a in read.attachments] == [
        ("trace.pdf", "application/pdf", b"%PDF trace")
    ]
    assert read.body == "Trace attached, signed."


def test_a_forwarded_message_is_kept_as_an_eml_file() -> None:
    forwarded = EmailMessage()
    forwarded["From"] = "carrier@telco.example"
    forwarded["Subject"] = "Outage notice"
    forwarded.set_content("The trunk is down.")
    mail = EmailMessage()
    _person(mail)
    mail.set_content("Forwarding the carrier's notice")
    mail.add_attachment(forwarded)  # message/rfc822, without a file name
    read = read_mail(mail.as_bytes(), LIMITS)
    [kept] = read.attachments
    assert (kept.filename, kept.content_type) == ("attachment-1.eml", "message/rfc822")
    assert b"The trunk is down." in kept.content and b"Subject: Outage notice" in kept.content


def test_nested_attachments_count_against_the_limits() -> None:
    mail = EmailMessage()
    _person(mail)
    mail.set_content("Screenshots")
    mail.add_alternative("<p>Screenshots</p>", subtype="html")
    html = _part(mail, 1)
    for number in range(3):
        html.add_related(b"x" * 10, maintype="image", subtype="png", cid=f"<s{number}>")
    with pytest.raises(MailRefused) as many:
        read_mail(mail.as_bytes(), MailLimits(max_attachment_bytes=1000, max_attachments=2))
    assert many.value.code == 552
    with pytest.raises(MailRefused) as big:
        read_mail(mail.as_bytes(), MailLimits(max_attachment_bytes=9, max_attachments=5))
    assert big.value.code == 552


def _raw_text(body: bytes, charset: str) -> bytes:
    return (
        b"From: Anna <admin@contoso.example>\r\nMessage-ID: <t@contoso.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"
    )


def test_latin_1_labelled_text_is_read_as_windows_1252_and_taken_by_the_case() -> None:
    read = read_mail(_raw_text(b"It\x92s down since 9:00 \x96 all lines.", "iso-8859-1"), LIMITS)
    assert read.body == "It\u2019s down since 9:00 \u2013 all lines."
    CustomerReply(message_id="0" * 64, sender="a***@contoso.example", body=read.body)  # the case's shape


def test_control_characters_a_message_may_not_hold_are_replaced_not_refused() -> None:
    log = b"log start\x0cpage 2\x0bcol\x1b[31mred\x00end\nnext line\tTab"
    read = read_mail(_raw_text(log, "utf-8"), LIMITS)
    assert read.body == "log start page 2 col\ufffd[31mred\ufffdend\nnext line\tTab"
    CustomerReply(message_id="0" * 64, sender="a***@contoso.example", body=read.body)


def test_file_names_are_cleaned_of_what_a_line_may_not_hold() -> None:
    mail = EmailMessage()
    _person(mail)
    mail.set_content("names")
    mail.add_attachment(b"1", maintype="text", subtype="plain", filename="log\u2028one\x85.txt")
    mail.add_attachment(b"2", maintype="text", subtype="plain", filename="tab\there\u2029.txt")
    read = read_mail(mail.as_bytes(), LIMITS)
    names = [a.filename for a in read.attachments]
    assert names == ["log_one\ufffd.txt", "tab_here_.txt"]
    for attachment in read.attachments:
        AttachmentRef(
            attachment_id="0" * 64,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=len(attachment.content),
        )


def test_casework_mail_is_marked_automatic_and_replies_to_the_cases_address() -> None:
    """RFC 3834: customers' out-of-office robots do not answer casework's notices."""
    message = Message(subject="[case-contoso.r-1] received", text="t", html="<p>t</p>", language="en")
    mail = case_email(
        message,
        mail_from="casework support <support@casework.example>",
        to="admin@contoso.example",
        case_id="case-contoso.r-1",
        notification_id="case-contoso.r-1/acknowledged/0/customer",
        reply_to_domain=DOMAIN,
        reply_key=KEY,
    )
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail_kind(list(mail.items()), "support@casework.example").kind == "robot"
    assert token_of(mail["Reply-To"], DOMAIN) == reply_token("case-contoso.r-1", KEY)
    too_long = case_id_for("t" * 63, "r" * 64)
    long_mail = case_email(
        message,
        mail_from="casework support <support@casework.example>",
        to="admin@contoso.example",
        case_id=too_long,
        notification_id=f"{too_long}/acknowledged/0/customer",
        reply_to_domain=DOMAIN,
        reply_key=KEY,
    )
    local = str(long_mail["Reply-To"]).partition("@")[0]
    assert local == f"case+{reply_token(too_long, KEY)}" and len(local) <= 64, "the longest id has one too"


# -- bounded reading of hostile mail (issue 29) ----------------------------------------------------

HOSTILE_REPLIES = {
    "a line of quote markers": "hello\n" + "> " * 2_000_000,
    "deeply quoted lines": "hello\n" + ("> " * 36 + "quoted\n") * 50_000,
    "a line of 'On '": "On " * 1_000_000,
    "blank lines": "hello" + "\n" * 3_000_000 + "x",
    "long 'wrote' lines": ("On " + "a " * 5_000 + "wrote:\n") * 300,
}


@pytest.mark.parametrize("name", list(HOSTILE_REPLIES))
def test_the_reply_parser_reads_a_bounded_part_of_any_reply(name: str) -> None:
    """Linear by construction: whatever the reply's size, the reply parser (whose patterns backtrack
    within a line: a line of 20,000 "> " took it 24 s) reads at most PARSER_CHARS characters, in
    lines of at most PARSER_LINE (and the mark of a cut), never more than two blank lines in a row;
    the rest of the text is kept as it is, not read by it."""
    text = HOSTILE_REPLIES[name]
    view, long_lines, rest = parser_input(text)
    lines = view.split("\n")
    assert len(view) <= PARSER_CHARS
    mark = len("\ue000\ue001") + len(str(len(long_lines)))
    assert max(len(line) for line in lines) <= PARSER_LINE + mark
    assert "\n\n\n\n" not in view
    assert text.endswith(rest) and len(rest) >= len(text) - 2 * PARSER_CHARS - sum(map(len, long_lines))
    assert strip_reply(text).startswith(text.strip()[:100]), "no quote header: the reply is kept whole"


def test_a_long_line_is_kept_whole_and_the_quote_after_it_still_stripped() -> None:
    log = "ERROR " + "x" * 5_000
    text = f"Here is the log:\n{log}\n\nOn Fri, Nov 27, 2026 at 10:00 AM casework wrote:\n> Please send it\n"
    assert strip_reply(text) == f"Here is the log:\n{log}"
    longer = "".join(f"line {n}: still the customer's own text\n" for n in range(2_000))  # > PARSER_CHARS
    assert len(longer) > PARSER_CHARS
    quoted = "\nOn Fri, Nov 27, 2026 casework wrote:\n> quoted\n"
    assert strip_reply(longer + quoted).startswith(longer.strip())


async def test_a_mail_over_its_cpu_bound_is_refused_for_good_and_its_reader_replaced() -> None:
    """A child that reads one mail for longer than its CPU bound is killed: the mail gets 554, the
    next mail a new child."""
    limits = MailLimits(max_attachment_bytes=10**8, max_attachments=5)
    readers = MailReaders(limits, cpu_seconds=0.05, count=1)
    try:
        sender, to = "admin@contoso.example", "case+x@support.casework.example"
        with pytest.raises(MailRefused) as refused:
            await readers.read(hostile_mail.quoted_reply(sender, to, 25 * 1024 * 1024))
        assert refused.value.code == 554 and "took over 0.05 s" in str(refused.value)
        read = await readers.read(hostile_mail.many_attachments(sender, to, 2))
        assert read.body == "the files" and len(read.attachments) == 2
        assert readers.started == 2, "a new child for the next mail"
    finally:
        await readers.close()
