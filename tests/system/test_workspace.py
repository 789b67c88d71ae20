"""The engineer's workspace over its projection and blind search index, on SQLite and PostgreSQL:
a word of a sealed thread finds its case (two Chinese characters too) without the word being kept;
searches and views are tenant- and role-scoped; views count and page as the queue shows them; and
the pages over HTTP (no Temporal: they read the database) in the reader's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, insert

from adapters.case_messages import MessageStore
from adapters.codec import KeyRing
from adapters.console_cases import ConsoleCases, Reader, View
from adapters.database import open_database
from adapters.schema import closed_cases, console_cases
from adapters.settings import Settings
from bench.console_pages import seed
from bootstrap.api import api_app
from interfaces.console.dashboard import day_and_week
from support.case.action_receipt import queue_facts
from support.case.thread_message import MessageKind, ThreadMessage
from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus, Category, Severity, Via
from tests.system.test_api import KEYS, keyring
from tests.system.test_sealed_at_rest import raw_database

KEY = b"w" * 32
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
STAFF = Reader(tenants=None, name="li.wei", team=("li.wei", "zhang.min"))
CONTOSO = Reader(tenants=("contoso",), name="contoso-portal", customer_side=True)


@pytest.fixture
def engine(tmp_path: Path, database_url: str) -> Iterator[Engine]:
    made = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    yield made
    made.dispose()


def view(case_id: str, tenant: str, number: str, title: str) -> CaseView:
    return CaseView(
        case_id=case_id,
        case_number=number,
        request_id=case_id.rsplit(".", 1)[-1],
        status=CaseStatus.IN_PROGRESS,
        tenant_id=tenant,
        category=Category.TECHNICAL,
        requested_severity=Severity.B,
        severity=Severity.B,
        title=title,
        channel="web",
        language="en",
        created_at=NOW,
    )


def said(case_id: str, tenant: str, seq: int, body: str, internal: bool = False) -> ThreadMessage:
    return ThreadMessage(
        case_id=case_id,
        tenant_id=tenant,
        seq=seq,
        at=NOW,
        kind=MessageKind.NOTE if internal else MessageKind.REPLY,
        role="staff" if internal else "customer",
        author="li.wei" if internal else "a***@example.com",
        via=Via.API,
        internal=internal,
        body=body,
    )


def found(store: ConsoleCases, reader: Reader, query: str) -> set[str]:
    return {row.case_id for row in store.page(View.OPEN, reader, NOW, search=query).rows}


async def test_a_word_of_a_sealed_thread_finds_its_case_and_is_never_kept(engine: Engine) -> None:
    keys = KeyRing(KEY)
    store, messages = ConsoleCases(engine, keys), MessageStore(engine, keys)
    a, b = "case-contoso.wa", "case-fabrikam.wb"
    store.project(view(a, "contoso", "CW-10001", "Mail outage"), ["Ágnes Kovács", "Nobody can send mail"])
    store.project(view(b, "fabrikam", "CW-10002", "Printer"), [])
    await messages.write(said(a, "contoso", 1, "Der Drucker: 打印机无法连接. A nyomtató hibás."))
    await messages.write(said(a, "contoso", 2, "zebracode in the note", internal=True))
    await messages.write(said(b, "fabrikam", 1, "Nyomtató újra"))
    assert await messages.write(said(b, "fabrikam", 1, "Nyomtató újra")) is False  # indexed once

    assert found(store, STAFF, "打印") == {a}, "two Chinese characters find the case"
    assert found(store, STAFF, "连接失败") == set(), "every pair must be there"
    assert found(store, STAFF, "NYOMTATÓ") == {a, b}, "case and accents folded as written"
    assert found(store, STAFF, "nyomtat") == set(), "exact words only: prefixes are lost"
    assert found(store, STAFF, "kovács send") == {a}, "requester and description, every word"
    assert found(store, STAFF, "cw10002") == {b} and found(store, STAFF, "fabrikam") == {b}
    assert found(store, STAFF, "zebracode") == {a}, "staff find their notes"
    assert found(store, CONTOSO, "zebracode") == set(), "the customer's side never searches notes"
    assert found(store, CONTOSO, "nyomtató") == {a}, "nor another tenant's cases"
    [row] = store.page(View.OPEN, CONTOSO, NOW).rows
    assert row.title == "Mail outage"
    raw = raw_database(engine, ("case_search", "console_cases", "case_messages"))
    for word in ("nyomtató", "Nyomtató", "打印", "zebracode", "Mail outage", "Kovács"):
        assert word.encode() not in raw, word

    rotated = ConsoleCases(engine, KeyRing(b"x" * 32, [KEY]))  # the documented loss
    assert found(rotated, STAFF, "打印") == set()


def test_views_count_and_page_as_the_queue_shows_them(engine: Engine) -> None:
    seed(engine, KeyRing(KEY), 120, NOW, ended=7)
    store = ConsoleCases(engine, KeyRing(KEY))
    with engine.begin() as connection:  # one case ended by its own timer: closed_cases has it
        connection.execute(
            insert(closed_cases).values(
                case_id="case-contoso.bench-00000",
                tenant_id="contoso",
                category="technical",
                requested_severity="A",
                status="closed",
                created_at=NOW,
                sla_breached=False,
                customer_update_breaches=0,
                downgrades=0,
                reopens=0,
                record="{}",
                archived_at=NOW,
            )
        )
        rows = connection.execute(console_cases.select()).mappings().all()
    live = [r for r in rows if r["case_id"] != "case-contoso.bench-00000"]
    counts = store.counts(STAFF, NOW)
    assert counts[View.OPEN] == 119 and counts[View.DONE] == 8
    assert counts[View.MINE] == sum(r["assignee"] == "li.wei" for r in live)
    assert counts[View.UNASSIGNED] == sum(r["assignee"] is None for r in live)
    assert counts[View.TEAM] == sum(r["assignee"] in ("li.wei", "zhang.min") for r in live)
    late = [r for r in live if r["breached"] or (r["next_deadline"] and r["next_deadline"] < NOW)]
    assert counts[View.BREACHED] == len(late) > 0

    first, last = store.page(View.OPEN, STAFF, NOW, 1), store.page(View.OPEN, STAFF, NOW, 3)
    assert (first.total, first.pages, len(first.rows), len(last.rows)) == (119, 3, 50, 19)
    dues = [r.next_deadline for r in first.rows]
    assert dues == sorted(d for d in dues if d is not None), "least time left first"
    assert last.rows[-1].next_deadline is None, "no running deadline: last"
    done = store.page(View.DONE, STAFF, NOW)
    assert "case-contoso.bench-00000" in {r.case_id for r in done.rows} and done.total == 8

    customer = store.counts(CONTOSO, NOW)
    assert set(customer) == {View.OPEN, View.BREACHED, View.DONE}, "who holds a case is for staff"
    assert customer[View.OPEN] == sum(r["tenant_id"] == "contoso" for r in live)
    board = store.dashboard(STAFF, NOW, *day_and_week(NOW, "Asia/Shanghai"))
    assert sum(board.open_by_severity.values()) == 119
    soon = [r for r in live if r["next_deadline"] and NOW <= r["next_deadline"] < NOW + timedelta(hours=1)]
    assert board.at_risk_next_hour == len(soon)


def test_an_actions_receipt_moves_the_case_between_views(engine: Engine) -> None:
    """An action taken anywhere (API, CLI, mail, console) answers with a receipt, not the view
    (issue 26); its queue facts move the case's row: assigned, it leaves "unassigned" for "my
    cases"; resolved, it leaves the open views for "resolved and closed"."""
    store = ConsoleCases(engine, KeyRing(KEY))
    case = view("case-contoso.r1", "contoso", "CW-10001", "Printer on fire")
    store.project(case)
    assert found(store, STAFF, "CW-10001") == {"case-contoso.r1"}
    assert store.counts(STAFF, NOW)[View.UNASSIGNED] == 1

    assigned = case.model_copy(update={"assigned_engineer": "li.wei"})
    store.refresh(case.case_id, queue_facts(assigned))
    counts = store.counts(STAFF, NOW)
    assert (counts[View.UNASSIGNED], counts[View.MINE], counts[View.TEAM]) == (0, 1, 1)

    resolved = assigned.model_copy(update={"status": CaseStatus.RESOLVED, "resolved_at": NOW})
    store.refresh(case.case_id, queue_facts(resolved))
    counts = store.counts(STAFF, NOW)
    assert (counts[View.OPEN], counts[View.MINE], counts[View.DONE]) == (0, 0, 1)
    [row] = store.page(View.DONE, STAFF, NOW).rows
    assert row.case_number == "CW-10001", "what the opening fixed is kept"

    store.refresh("case-contoso.never-read", queue_facts(resolved))  # no row yet: none made
    assert store.counts(STAFF, NOW)[View.DONE] == 1


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    return settings.replace(rate_per_key=0)


@pytest_asyncio.fixture
async def http(console_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = api_app(console_settings, keyring=keyring())
    engine = open_database(console_settings)
    seed(engine, None, 60, datetime.now(UTC), ended=3)
    await MessageStore(engine, None).write(said("case-contoso.bench-00005", "contoso", 2, "鲸鱼打印机坏了"))
    engine.dispose()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield client


async def sign_in(http: httpx.AsyncClient, key: str) -> None:
    form = await http.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    signed = await http.post("/console/sign-in", data={"token": KEYS[key][2], "csrf": token.group(1)})
    assert signed.status_code == 303, signed.text


def case_ids(page: str) -> list[str]:
    return re.findall(r'<tr data-case-id="([^"]+)"', page)


async def test_the_queue_pages_over_http_in_the_readers_language(http: httpx.AsyncClient) -> None:
    await sign_in(http, "li.wei")
    mine = await http.get("/console/queue", params={"view": "mine", "lang": "zh-CN"})
    assert mine.status_code == 200 and "我的案例" in mine.text and "负责人" in mine.text
    assert 'id="view-mine"' in mine.text and len(case_ids(mine.text)) == 12  # i % 5 == 0 of 60
    assert set(re.findall(r'data-assignee="([^"]*)"', mine.text)) == {"li.wei"}
    everything = await http.get("/console/queue", params={"view": "open", "lang": "hu"})
    assert "Összes nyitott" in everything.text and 'data-page="1" data-pages="2"' in everything.text
    second = await http.get("/console/queue", params={"view": "open", "page": "2"})
    assert len(case_ids(everything.text)) == 50 and len(case_ids(second.text)) == 10
    assert not set(case_ids(everything.text)) & set(case_ids(second.text))
    waiting = await http.get("/console/queue", params={"status": "awaiting_first_response"})
    assert len(case_ids(waiting.text)) == 20, "i % 3 == 0 of 60, filtered by the database"
    assert set(re.findall(r'data-status="([^"]+)"', waiting.text)) == {"awaiting_first_response"}
    searched = await http.get("/console/queue", params={"view": "open", "q": "CW-20007"})
    assert case_ids(searched.text) == ["case-tailspin.bench-00007"]
    worded = await http.get("/console/queue", params={"view": "open", "q": "鲸鱼"})
    assert case_ids(worded.text) == ["case-contoso.bench-00005"], "a word of its thread"
    labels = {"view": "View", "page": "Page", "severity": "Severity", "tenant": "Tenant"}
    for bad in ({"view": "nope"}, {"page": "0"}, {"severity": "Q"}, {"tenant": "Not A Tenant"}):
        refused = await http.get("/console/queue", params=bad | {"lang": "en"})
        assert refused.status_code == 422 and f"<p>{labels[next(iter(bad))]}: " in refused.text, bad
    unpicked = await http.post(
        "/console/queue/bulk", data={"csrf": _csrf(mine.text), "bulk_action": "resolve"}
    )
    assert unpicked.status_code == 422 and 'data-field="pick"' in unpicked.text
    board = await http.get("/console/dashboard", params={"lang": "en"})
    assert (
        board.status_code == 200 and 'id="at-risk"' in board.text and "Due within the next hour" in board.text
    )


async def test_a_customer_key_sees_its_tenant_and_no_staff_views(http: httpx.AsyncClient) -> None:
    await sign_in(http, "contoso-portal")
    page = await http.get("/console/queue", params={"view": "open"})
    assert page.status_code == 200 and case_ids(page.text)
    assert all(c.startswith("case-contoso.") for c in case_ids(page.text))
    assert (
        "data-assignee" not in page.text and 'id="view-mine"' not in page.text and "li.wei" not in page.text
    )
    assert (await http.get("/console/queue", params={"view": "mine"})).status_code == 422
    assert (await http.get("/console/dashboard")).status_code == 403
    bulk = await http.post("/console/queue/bulk", data={"csrf": _csrf(page.text), "bulk_action": "assign"})
    assert bulk.status_code in (403, 422)


def _csrf(page: str) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)
