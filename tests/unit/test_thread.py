"""The thread's rules (pure): which events are messages and how the case numbers them, who may see
what, pages, and the state bound with a thread at its limits (issue 23)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from interfaces.cli.thread_command import render_thread
from interfaces.console.i18n import LANGUAGES, strings
from interfaces.console.kit import TEMPLATES
from support.case import actions
from support.case.actions import ATTACHMENTS_PER_REPLY, AttachmentRef
from support.case.effects import Keep
from support.case.record import CaseRecord
from support.case.thread import BadCursor, after_cursor, description, for_reader, shown_author
from support.case.thread_message import MessageKind, ThreadMessage
from support.policies.vocabulary import Via
from support.rules.request import RequestDetails
from support.wording.names import Names
from support.wording.text_shapes import LINE_MAX, MESSAGE_MAX, NOTE_MAX
from tests.case_driver import Driver
from tests.requests import case_request
from tests.unit.test_case_machine import open_case
from tests.workflow.test_state_bounds import CARRIED_MAX, ENGINEER, T0


def kept(driver: Driver) -> list[ThreadMessage]:
    return [e.message for e in driver.effects if isinstance(e, Keep)]


def test_each_message_the_case_takes_is_numbered_in_order_and_kept_in_full() -> None:
    driver = open_case("thread-order", severity="B")
    long = "x" * MESSAGE_MAX
    driver.act(actions.FirstResponse(engineer=ENGINEER, message=long, via=Via.CONSOLE))
    driver.act(actions.InternalNote(engineer=ENGINEER, note="for colleagues"))
    driver.act(actions.SeverityChangeRequest(engineer=ENGINEER, severity="C", reason="a workaround exists"))
    driver.act(actions.CustomerActionRequest(engineer=ENGINEER, what="Send a trace"))
    driver.act(actions.Cooperation(request_id="contact_data", details="confirmed"))
    driver.act(
        actions.CustomerReply(
            message_id="a" * 64, sender="a***@contoso.example", body="trace attached", via=Via.PORTAL
        )
    )
    driver.act(actions.CustomerUpdate(engineer=ENGINEER, message="fix rolling out"))
    driver.act(actions.Resolution(engineer=ENGINEER, summary="fixed"))
    messages = kept(driver)
    assert [(m.seq, m.kind, m.role, m.via) for m in messages] == [
        (1, MessageKind.RESPONSE, "staff", Via.CONSOLE),
        (2, MessageKind.NOTE, "staff", Via.API),
        (3, MessageKind.REQUEST, "staff", Via.API),
        (4, MessageKind.ANSWER, "customer", Via.API),
        (5, MessageKind.COMMENT, "customer", Via.PORTAL),
        (6, MessageKind.UPDATE, "staff", Via.API),
        (7, MessageKind.RESOLUTION, "staff", Via.API),
    ], "a severity change carries no message"
    assert messages[0].body == long, "the full text, not the state's excerpt"
    assert messages[1].internal and not any(m.internal for m in messages[2:])
    assert messages[3].about == "contact_data"
    assert driver.view.messages == 7
    assert len(driver.view.timeline[-1].message.encode()) <= 600, "the state keeps excerpts"


def test_a_refused_or_repeated_action_is_no_message() -> None:
    driver = open_case("thread-refused", severity="B")
    driver.act(actions.FirstResponse(engineer=ENGINEER, message="hello"))
    reply = actions.CustomerReply(message_id="b" * 64, sender="a***@contoso.example", body="thanks")
    driver.act(reply)
    assert driver.refusal(reply) is not None, "the same reply again is refused by the case"
    assert driver.refusal(actions.FirstResponse(engineer=ENGINEER, message="again")) is not None
    assert [m.seq for m in kept(driver)] == [1, 2]


def test_a_case_from_before_the_thread_keeps_nothing_and_counts_nothing() -> None:
    driver = open_case("thread-old", severity="B")
    driver.case.patched = lambda patch: False
    driver.act(actions.FirstResponse(engineer=ENGINEER, message="hello"))
    assert kept(driver) == [] and driver.view.messages == 0


def message(seq: int, role: str, author: str, internal: bool = False) -> ThreadMessage:
    return ThreadMessage(
        case_id="case-contoso.t",
        tenant_id="contoso",
        seq=seq,
        at=T0 + timedelta(minutes=seq),
        kind=MessageKind.NOTE if internal else MessageKind.UPDATE,
        role=role,
        author=author,
        via=Via.API,
        internal=internal,
        body=f"message {seq}",
    )


def test_the_customer_side_sees_no_notes_and_no_staff_names() -> None:
    thread = [
        message(1, "staff", "li.wei"),
        message(2, "staff", "li.wei", internal=True),
        message(3, "customer", "a***@contoso.example"),
    ]
    portal = for_reader(thread, customer_side=True)
    assert [(m.seq, m.author) for m in portal] == [(1, "Support"), (3, "a***@contoso.example")]
    staff = for_reader(thread, customer_side=False)
    assert [(m.seq, m.author) for m in staff] == [(1, "li.wei"), (2, "li.wei"), (3, "a***@contoso.example")]
    assert shown_author(thread[0], customer_side=True) == "Support"
    names = Names(display={"li.wei": "Li Wei"})
    assert shown_author(thread[0], customer_side=True, names=names) == "Li Wei"
    assert (
        shown_author(message(4, "staff", "zhang.min"), customer_side=True, language="hu") == "Ügyfélszolgálat"
    )
    assert thread[0].author == "li.wei", "the reader's copy, never the message itself"


def test_cursors_are_the_last_seq_and_nothing_else() -> None:
    assert after_cursor(None) == -1 and after_cursor("") == -1 and after_cursor("12") == 12
    for bad in ("-1", "x", "1" * 13, "١٢"):
        with pytest.raises(BadCursor):
            after_cursor(bad)


def test_the_description_is_message_zero() -> None:
    request = case_request("thread-description", description="Mail is down")
    first = description("case-contoso.x", "contoso", RequestDetails.of(request), T0, Via.PORTAL)
    assert (first.seq, first.kind, first.role, first.body) == (
        0,
        MessageKind.DESCRIPTION,
        "customer",
        "Mail is down",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_cli_renders_the_thread_in_the_operators_language_and_zone(language: str) -> None:
    words = strings(TEMPLATES, language)
    text = render_thread(
        [message(1, "staff", "li.wei"), message(2, "staff", "li.wei", internal=True)],
        words,
        "Europe/Budapest",
    )
    assert words["kind_update"] in text and words["internal"] in text and words["via_api"] in text
    assert "CET" in text and "message 2" in text
    assert render_thread([], words, "UTC").strip() == words["thread_empty"]


@pytest.mark.parametrize("char", ["x", "中", "😀"], ids=["ascii", "cjk", "emoji"])
def test_a_case_with_1000_messages_and_200_attachments_stays_under_the_state_bound(char: str) -> None:
    driver = Driver(case_request("thread-bound", severity="B"), T0)
    driver.case.files = [  # the most files an opening may give (its input carries them), longest names
        AttachmentRef(
            attachment_id=f"{a:064x}", filename=char * LINE_MAX, content_type="application/pdf", size=10**7
        )
        for a in range(ATTACHMENTS_PER_REPLY)
    ]
    driver.act(actions.FirstResponse(engineer=ENGINEER, message=char * MESSAGE_MAX))
    replies = 0
    while driver.view.messages < 1000:
        n = driver.view.messages
        if n % 100 == 1:  # 10 replies of 20 files each: 200 attachments
            driver.act(
                actions.CustomerReply(
                    message_id=f"{n:064x}",
                    sender="a***@contoso.example",
                    body=char * MESSAGE_MAX,
                    attachments=[
                        AttachmentRef(
                            attachment_id=f"{n * 100 + a:064x}",
                            filename=char * LINE_MAX,
                            content_type="application/pdf",
                            size=10**7,
                        )
                        for a in range(ATTACHMENTS_PER_REPLY)
                    ],
                )
            )
            replies += 1
        elif n % 2:
            driver.act(actions.InternalNote(engineer=ENGINEER, note=char * NOTE_MAX))
        else:
            driver.act(actions.CustomerUpdate(engineer=ENGINEER, message=char * MESSAGE_MAX))
    assert replies * ATTACHMENTS_PER_REPLY == 200
    messages = kept(driver)
    assert [m.seq for m in messages] == list(range(1, 1001))
    assert sum(len(m.attachments) for m in messages) == 200
    carried = driver.case.carried().model_dump_json().encode()
    assert len(carried) < CARRIED_MAX, f"{len(carried) / 1024:.1f} KiB with {char!r}"
    again = CaseRecord.begin(driver.case.carried(), T0, driver.view.case_id)
    assert again.view.messages == 1000, "the count goes on in the next run"
    assert again.files == driver.case.files, "the opening's files go on in the next run"
