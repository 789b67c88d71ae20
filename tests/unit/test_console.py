"""The console's parts without a browser: words in every language, language negotiation, signed
sessions and CSRF tokens, forms made from the action table, clock bars, the queue's order, and
the pages over HTTP without Temporal (sign-in, CSRF, headers, the expected-wait panel)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from adapters.api_keys import Keyring, parse_key_file
from adapters.console_sessions import SignedOutSessions
from adapters.database import open_database
from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT, Settings
from application.actions import CASE_ACTIONS
from bootstrap.api import api_app
from interfaces.console.app import CSP
from interfaces.console.forms import form_fields, model_input, parse_form
from interfaces.console.i18n import LANGUAGES, negotiate, strings
from interfaces.console.kit import TEMPLATES
from interfaces.console.queue import QueueEntry, order
from interfaces.console.session import Sessions
from tests.system.test_api import KEYS, keyring
from tests.unit.test_language import foreign

POLICY = load_policy_snapshot(PROJECT_ROOT / "policy.toml", 2026)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_every_language_has_every_word() -> None:
    english = strings(TEMPLATES, "en")
    for language in LANGUAGES:
        assert set(strings(TEMPLATES, language)) == set(english), language


def test_language_from_the_switch_then_the_browser() -> None:
    assert negotiate(None, None) == "en"
    assert negotiate(None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert negotiate(None, "de-DE, hu;q=0.7, en;q=0.5") == "hu"
    assert negotiate(None, "en;q=0.2, hu;q=0.9") == "hu"
    assert negotiate("zh-CN", "hu") == "zh-CN"
    assert negotiate("klingon", "hu;q=x") == "hu"


def test_sessions_are_signed_expire_and_end_at_sign_out(settings: Settings) -> None:
    keys = keyring()
    sign_outs = SignedOutSessions(open_database(settings))
    sessions = Sessions(b"k" * 32, keys, sign_outs)
    signed = sessions.sign_in(KEYS["li.wei"][2])
    assert signed is not None and sessions.sign_in("wrong") is None
    principal, cookie = signed
    assert KEYS["li.wei"][2] not in cookie, "never the raw token"
    session = sessions.read(cookie)
    assert session is not None and session.principal == principal
    data, _, mac = cookie.rpartition(".")
    forged = data.replace(data[3], "A" if data[3] != "A" else "B", 1)
    assert sessions.read(f"{forged}.{mac}") is None, "a changed cookie is not a session"
    assert Sessions(b"x" * 32, keys, sign_outs).read(cookie) is None, "another installation's key"
    assert sessions.csrf_ok(session.nonce, sessions.csrf(session.nonce))
    assert not sessions.csrf_ok(session.nonce, sessions.csrf("another"))
    assert not sessions.csrf_ok(session.nonce, None)
    replaced = keys_with(**{"li.wei": "agent-token-li-wei-00002"})
    assert Sessions(b"k" * 32, replaced, sign_outs).read(cookie) is None, "its token replaced"
    assert Sessions(b"k" * 32, keys_with(), sign_outs).read(cookie) == session, "the same key file again"
    other_process = Sessions(b"k" * 32, keys, SignedOutSessions(open_database(settings)))
    sessions.sign_out(session)
    sessions.sign_out(session)  # twice (two tabs): no error
    assert sessions.read(cookie) is None
    assert other_process.read(cookie) is None, "signed out in the database every process reads"
    expired = Sessions(b"k" * 32, keys, sign_outs, lifetime_s=-1).sign_in(KEYS["li.wei"][2])
    assert expired is not None and sessions.read(expired[1]) is None


def test_action_forms_come_from_the_table() -> None:
    for action in CASE_ACTIONS:
        fields = form_fields(action.body_model())
        assert [f.name for f in fields] == list(action.body_model().model_fields)
        assert action.actor_field not in {f.name for f in fields}, "the actor is the signed-in key"
    by_name = {a.name: {f.name: f for f in form_fields(a.body_model())} for a in CASE_ACTIONS}
    assert by_name["respond"]["message"].widget == "textarea"
    assert by_name["severity"]["severity"].widget == "select"
    assert by_name["severity"]["severity"].choices == ("A", "B", "C")
    assert by_name["ask"]["pauses_clock"].widget == "checkbox"
    assert by_name["survey"]["score"].widget == "number"
    assert (by_name["survey"]["score"].minimum, by_name["survey"]["score"].maximum) == (1, 5)
    ask = next(a for a in CASE_ACTIONS if a.name == "ask").body_model()
    given = model_input(ask, parse_form(b"what=a+trace&csrf=x&engineer=someone"))
    assert given == {"what": "a trace", "pauses_clock": False}, "only the model's fields; unticked is false"


def test_queue_orders_by_time_left_then_the_paused() -> None:
    def entry(case_id: str, due: datetime | None) -> QueueEntry:
        return QueueEntry(
            case_id, "contoso", "t", "B", "in_progress", None, due, 0, True, False, due is None, "UTC"
        )

    entries = [
        entry("later", NOW + timedelta(hours=3)),
        entry("paused", None),
        entry("late", NOW - timedelta(1)),
    ]
    entries.append(entry("soon", NOW + timedelta(minutes=5)))
    assert [e.case_id for e in order(entries, NOW)] == ["late", "soon", "later", "paused"]


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app of `make run` over ASGI; no Temporal is needed for these pages."""
    app = api_app(settings.replace(rate_per_key=0), keyring=keyring())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str) -> str:
    form = await http.get("/console/sign-in")
    signed = await http.post("/console/sign-in", data={"token": KEYS[key][2], "csrf": csrf_of(form.text)})
    assert signed.status_code == 303, signed.text
    return signed.headers["set-cookie"]


async def test_sign_in_needs_its_csrf_token_and_sets_a_strict_cookie(http: httpx.AsyncClient) -> None:
    first = await http.get("/console/queue")
    assert first.status_code == 303 and first.headers["location"] == "/console/sign-in"
    form = await http.get("/console/sign-in")
    assert form.headers["content-security-policy"] == CSP and "script-src 'self'" in CSP
    assert form.headers["x-frame-options"] == "DENY" and form.headers["cache-control"] == "no-store"
    assert "https://" not in form.text, "nothing from another origin"
    refused = await http.post("/console/sign-in", data={"token": KEYS["ops"][2]})
    assert refused.status_code == 403
    wrong = await http.post("/console/sign-in", data={"token": "nope", "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401 and 'id="sign-in-problem"' in wrong.text
    cookie = await sign_in(http, "ops")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert KEYS["ops"][2] not in cookie
    big = await http.post("/console/sign-in", content=b"x" * 70_000, headers={"content-type": "text/plain"})
    assert big.status_code == 413


async def test_expected_wait_panel_and_field_errors_without_temporal(http: httpx.AsyncClient) -> None:
    await sign_in(http, "contoso-portal")
    panel = await http.get(
        "/console/contact/wait", params={"tenant": "contoso", "category": "billing", "severity": "A"}
    )
    assert panel.status_code == 200 and "billing cases are at most severity B" in panel.text
    other = await http.get(
        "/console/contact/wait", params={"tenant": "fabrikam", "category": "x", "severity": "A"}
    )
    assert other.status_code == 200 and 'id="wait-text"' not in other.text, "another tenant: no answer"
    form = await http.get("/console/contact")
    assert 'id="wait-text"' in form.text and '<option value="contoso"' in form.text
    posted = await http.post(
        "/console/contact",
        data={
            "csrf": csrf_of(form.text),
            "tenant": "contoso",
            "category": "technical",
            "severity": "Z",
            "title": "",
            "description": "x",
            "requester": "admin@contoso.example",
            "contact_email": "nope",
        },
    )
    assert posted.status_code == 422
    for field in ("severity", "title", "contact_email"):
        assert f'data-field="{field}"' in posted.text, field
    switched = await http.get("/console/contact", params={"lang": "zh-CN"})
    assert "联系支持" in switched.text and "casework_lang=zh-CN" in switched.headers["set-cookie"]
    assert "预计首次响应" in (await http.get("/console/contact")).text, "the switch is kept"
    agent_queue = await http.get("/console/queue", params={"severity": "Q", "lang": "en"})
    assert agent_queue.status_code == 422 and "Severity: is not one of the choices" in agent_queue.text
    said = {  # pydantic's own messages, in the reader's words (issue 24): a title too short, and more
        "zh-CN": ("至少需要 3 个字符", "严重级别：不是可选的值"),  # noqa: RUF001 - Chinese punctuation
        "hu": ("legalább 3 karakter hosszú legyen", "Súlyosság: nem a felkínált lehetőségek egyike"),
    }
    for language, (too_short, filter_problem) in said.items():
        form = await http.get("/console/contact", params={"lang": language})
        posted = await http.post(
            "/console/contact",
            data={
                "csrf": csrf_of(form.text), "tenant": "contoso", "category": "nope", "severity": "Z",
                "title": "ab", "description": "", "requester": "admin@contoso.example",
                "contact_email": "nope", "contact_phone": "12", "preferred_contact": "phone",
            },
        )  # fmt: skip
        assert posted.status_code == 422
        shown = dict(re.findall(r'class="error field-error" data-field="(\w+)">([^<]*)<', posted.text))
        assert set(shown) >= {
            "category",
            "severity",
            "title",
            "description",
            "contact_email",
            "contact_phone",
        }
        assert shown["title"] == too_short and all(not foreign(s, language) for s in shown.values()), shown
        queue = await http.get("/console/queue", params={"severity": "Q", "lang": language})
        problem = queue.text.partition('id="problem"')[2]  # the page's words (the key's name aside)
        assert queue.status_code == 422 and filter_problem in problem and not foreign(problem, language)


def keys_with(**tokens: str) -> Keyring:
    """The test keys, with some keys' tokens replaced under the same names."""
    lines = []
    for name, (role, tenants, token) in KEYS.items():
        lines += ["[[keys]]", f'name = "{name}"', f'token = "{tokens.get(name, token)}"', f'role = "{role}"']
        if tenants:
            lines.append("tenants = [" + ", ".join(f'"{t}"' for t in tenants) + "]")
    return parse_key_file("\n".join(lines), "test keys")


def process(settings: Settings, keys: Keyring | None = None) -> FastAPI:
    """One API process of the installation `settings` describes (its database, its session key)."""
    return api_app(settings.replace(rate_per_key=0), keyring=keys or keyring())


def browser(app: FastAPI, base_url: str = "http://console.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def signed_in_with(http: httpx.AsyncClient, cookie: str) -> bool:
    """Whether a session cookie (`name=value`) signs in at this process: home then goes to a page."""
    http.cookies.clear()
    home = await http.get("/console/", headers={"cookie": cookie})
    assert home.status_code == 303
    return str(home.headers["location"]) != "/console/sign-in"


async def test_sign_out_ends_the_session_on_every_api_process_and_after_a_restart(
    settings: Settings,
) -> None:
    """Two API processes of one installation, and one started later: a cookie copied before
    sign-out works on none of them after it; another session of the same key goes on."""
    async with browser(process(settings)) as first, browser(process(settings)) as second:
        cookie = (await sign_in(first, "contoso-portal")).split(";")[0]
        kept = (await sign_in(first, "contoso-portal")).split(";")[0]  # another browser, same key
        assert await signed_in_with(second, cookie), "every process reads the session"
        first.cookies.clear()
        page = await first.get("/console/contact", headers={"cookie": cookie})
        signed_out = await first.post(
            "/console/sign-out", data={"csrf": csrf_of(page.text)}, headers={"cookie": cookie}
        )
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/console/sign-in"
        assert not await signed_in_with(first, cookie)
        assert not await signed_in_with(second, cookie), "signed out on the other process too"
        assert await signed_in_with(second, kept), "only the session that signed out ends"
    async with browser(process(settings)) as restarted:
        assert not await signed_in_with(restarted, cookie), "and after a restart"
        assert await signed_in_with(restarted, kept)


async def test_a_token_replaced_under_the_same_name_ends_its_sessions(settings: Settings) -> None:
    async with browser(process(settings, keys_with())) as http:
        leaked = (await sign_in(http, "li.wei")).split(";")[0]
        other = (await sign_in(http, "ops")).split(";")[0]
        assert await signed_in_with(http, leaked)
    replaced = keys_with(**{"li.wei": "agent-token-li-wei-00002"})  # the key file, fixed and reloaded
    async with browser(process(settings, replaced)) as http:
        assert not await signed_in_with(http, leaked), "the leaked token's sessions end with it"
        assert await signed_in_with(http, other), "the other keys' sessions go on"
        signed = await http.post(
            "/console/sign-in",
            data={
                "token": "agent-token-li-wei-00002",
                "csrf": csrf_of((await http.get("/console/sign-in")).text),
            },
        )
        assert signed.status_code == 303 and await signed_in_with(
            http, signed.headers["set-cookie"].split(";")[0]
        )


@pytest.mark.parametrize(
    ("forced", "base_url", "secure"),
    [
        (False, "http://console.test", False),
        (False, "https://console.test", True),
        (True, "http://console.test", True),  # behind a proxy that ends TLS, uvicorn sees http
    ],
)
async def test_the_cookies_are_secure_when_forced_or_over_https(
    settings: Settings, forced: bool, base_url: str, secure: bool
) -> None:
    app = process(settings.replace(console_secure_cookie=forced))
    async with browser(app, base_url) as http:  # cookies carried by hand: httpx keeps Secure ones from http

        def carried(response: httpx.Response, name: str) -> dict[str, str]:
            (found,) = [
                c.split(";")[0] for c in response.headers.get_list("set-cookie") if c.startswith(name)
            ]
            return {"cookie": found}

        form = await http.get("/console/sign-in", params={"lang": "hu"})
        cookies = form.headers.get_list("set-cookie")
        signed = await http.post(
            "/console/sign-in",
            data={"token": KEYS["ops"][2], "csrf": csrf_of(form.text)},
            headers=carried(form, "casework_presession"),
        )
        cookies += signed.headers.get_list("set-cookie")
        session = carried(signed, "casework_session")
        page = await http.get("/console/reports", params={"tenant": "!"}, headers=session)
        signed_out = await http.post("/console/sign-out", data={"csrf": csrf_of(page.text)}, headers=session)
        assert signed_out.status_code == 303
        cookies += signed_out.headers.get_list("set-cookie")
    names = [c.split("=")[0] for c in cookies]
    assert set(names) == {"casework_lang", "casework_presession", "casework_session"}, names
    assert len(names) == 5, "set each, deleted the pre-session one, then the session one"
    for cookie in cookies:
        assert ("; secure" in cookie.lower()) == secure, cookie


async def test_a_sign_out_record_that_cannot_be_read_is_a_503_never_a_session(settings: Settings) -> None:
    async with browser(process(settings)) as http:
        cookie = (await sign_in(http, "contoso-portal")).split(";")[0]
        engine = open_database(settings)
        try:
            with engine.begin() as connection:  # the database stops answering for the table
                connection.execute(text("DROP TABLE console_sessions_revoked"))
            http.cookies.clear()
            page = await http.get("/console/contact", headers={"cookie": cookie})
            assert page.status_code == 503 and 'name="csrf"' not in page.text
            home = await http.get("/console/", headers={"cookie": cookie})
            assert home.status_code == 503
        finally:
            engine.dispose()
