"""Issue 29, the intake's rows: each over real HTTP (uvicorn on loopback) against the real stack
(dev server, worker, SQLite, SMTP sink), the API and the console side by side.

- only new cases count against a tenant's openings an hour (an idempotent re-send takes none);
- the requester is an address of the tenant's directory or the key's own name (API, phone, console);
- the key file is read again when it changes: removed keys and their console sessions stop;
- one limiter per key and per client address for both fronts; failed sign-ins limited and logged;
- bidirectional controls refused in one-line fields, neutralised in file names;
- wrong verification codes limited per tenant as well as per caller;
- the verification code is sent in the tenant's time zone;
- two Authorization headers are a 400.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.verification import CodeRequest
from adapters.api_keys import Keyring, WatchedKeyring, load_keyring
from adapters.attachment_store import AttachmentStore
from adapters.database import open_database
from adapters.logging import configure_logging
from adapters.mail_reader import MailLimits, read_mail
from adapters.settings import Settings
from application.cases import Cases
from bootstrap.api import api_app
from tests.conftest import running_worker
from tests.deliveries import delivered, verification_code
from tests.system.test_api import KEYS, as_key, body, case_of, keyring, serve
from tests.unit.test_console import csrf_of

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "invoice<RLO>fdp.exe" shows as "invoiceexe.pdf"
UNREGISTERED = "+8613900000077"  # a caller number no tenant registered: a code is sent


@asynccontextmanager
async def serving(
    dev_env: WorkflowEnvironment, settings: Settings, keys: Keyring | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The worker, and the app of `starter.py serve` (API and console) over real HTTP."""
    async with running_worker(dev_env.client, settings):
        app = api_app(settings, cases=Cases(dev_env.client, settings.task_queue), keyring=keys or keyring())
        server, task, url = await serve(app)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield http
        finally:
            server.should_exit = True
            await task


async def console_sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    form = await http.get("/console/sign-in")
    return await http.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form.text)})


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("INFO", json_output=True, stream=stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def logged(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# -- openings an hour: only new cases count -------------------------------------------------------


async def test_a_resent_opening_takes_no_token_only_new_cases_count(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    limited = settings.replace(openings_per_tenant=3, rate_per_key=0)
    async with serving(dev_env, limited) as http:
        first = await http.post("/cases", json=body(f"{request_id}-1", severity="C"), headers=as_key("ops"))
        assert first.status_code == 201, first.text
        resent = [
            (await http.post("/cases", json=body(f"{request_id}-1", severity="C"), headers=as_key("ops")))
            for _ in range(10)
        ]
        assert [r.status_code for r in resent] == [200] * 10, "the same request again is the same case"
        new = [
            await http.post("/cases", json=body(f"{request_id}-{n}", severity="C"), headers=as_key("ops"))
            for n in (2, 3, 4)
        ]
        assert [r.status_code for r in new] == [201, 201, 429], [r.text for r in new]
        assert new[2].json()["error"] == "rate_limited" and int(new[2].headers["Retry-After"]) >= 1
        at_the_limit = await http.post(
            "/cases", json=body(f"{request_id}-1", severity="C"), headers=as_key("contoso-portal")
        )
        assert at_the_limit.status_code == 200, "a re-send at the limit still finds its case"
        phone = await http.post(
            "/cases",
            json=body(f"{request_id}-p", severity="C", channel="phone", caller_number=UNREGISTERED),
            headers=as_key("phone-desk"),
        )
        assert phone.status_code == 429, "the tenant's limit holds for phone intake too"
        other = await http.post(
            "/cases", json=body(request_id, "fabrikam", severity="C"), headers=as_key("fabrikam-portal")
        )
        assert other.status_code == 201, "another tenant has its own openings"
        refused = await http.get(f"/cases/{case_of(f'{request_id}-4')}", headers=as_key("ops"))
        assert refused.status_code == 404, "nothing was started over the limit"


# -- who the requester may be ---------------------------------------------------------------------


async def test_the_requester_must_be_of_the_tenants_directory_or_the_key_itself(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    stranger = "victim@elsewhere.example"
    async with serving(dev_env, settings) as http:
        attempts = {
            "portal": await http.post(
                "/cases",
                json=body(f"{request_id}-a", requester=stranger),
                headers=as_key("contoso-portal"),
            ),
            "another tenant's admin": await http.post(
                "/cases",
                json=body(f"{request_id}-b", requester="it@fabrikam.example"),
                headers=as_key("contoso-portal"),
            ),
            "phone": await http.post(
                "/cases",
                json=body(f"{request_id}-c", requester=stranger, channel="phone", caller_number=UNREGISTERED),
                headers=as_key("phone-desk"),
            ),
        }
        for what, response in attempts.items():
            assert response.status_code == 422, (what, response.text)
            problem = response.json()
            assert set(problem) == {"error", "message", "fields"} and problem["error"] == "invalid_input"
            [field] = problem["fields"]
            assert field["field"] == "body.requester" and "directory" in field["message"], what
        for suffix in "abc":  # no case, and no mail to anyone
            case_id = case_of(f"{request_id}-{suffix}")
            assert (await http.get(f"/cases/{case_id}", headers=as_key("ops"))).status_code == 404
            assert await delivered(settings, case_id) == []

        user = await http.post(
            "/cases",
            json=body(f"{request_id}-user", requester="staff@contoso.example"),
            headers=as_key("contoso-portal"),
        )
        assert user.status_code == 201, "a user of the tenant (refused as no admin, told at home)"
        assert user.json()["case"]["status"] == "refused"
        itself = await http.post(
            "/cases",
            json=body(f"{request_id}-key", requester="contoso-portal", contact_email="admin@contoso.example"),
            headers=as_key("contoso-portal"),
        )
        assert itself.status_code == 201, "the key's own name"

        # The console's Contact form: the same rule, from the same place.
        assert (await console_sign_in(http, KEYS["contoso-portal"][2])).status_code == 303
        form = await http.get("/console/contact")
        posted = await http.post(
            "/console/contact",
            data={
                "csrf": csrf_of(form.text),
                "request_id": f"{request_id}-console",
                "tenant": "contoso",
                "category": "technical",
                "severity": "B",
                "title": "Mail is down",
                "description": "Nobody can send mail.",
                "requester": stranger,
                "contact_email": stranger,
                "preferred_contact": "email",
            },
        )
        assert posted.status_code == 422 and 'data-field="requester"' in posted.text
        assert "directory" in posted.text
        gone = await http.get(f"/cases/{case_of(f'{request_id}-console')}", headers=as_key("ops"))
        assert gone.status_code == 404


# -- the key file, read again when it changes -----------------------------------------------------


def key_file(path: Path, *names: str) -> None:
    """Write the key file with these keys of the test table, as an operator replaces it."""
    lines = []
    for name in names:
        role, tenants, token = KEYS[name]
        lines += ["[[keys]]", f'name = "{name}"', f'token = "{token}"', f'role = "{role}"']
        if tenants:
            lines.append("tenants = [" + ", ".join(f'"{t}"' for t in tenants) + "]")
    staged = path.with_suffix(".new")
    staged.write_text("\n".join(lines) + "\n")
    staged.replace(path)


async def test_a_changed_key_file_applies_without_a_restart_and_ends_removed_keys_sessions(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, log_lines: io.StringIO
) -> None:
    path = tmp_path / "keys.toml"
    key_file(path, "contoso-portal", "li.wei", "ops")
    keys = load_keyring(path, check_every_s=0)  # checked on every request (the default: each second)
    async with serving(dev_env, settings, keys) as http:
        assert (await http.get("/cases", headers=as_key("contoso-portal"))).status_code == 200
        assert (await http.get("/cases", headers=as_key("fabrikam-portal"))).status_code == 401
        assert (await console_sign_in(http, KEYS["li.wei"][2])).status_code == 303
        assert (await http.get("/console/queue")).status_code == 200

        key_file(path, "fabrikam-portal", "ops")  # two keys removed, one added
        assert (await http.get("/cases", headers=as_key("contoso-portal"))).status_code == 401
        assert (await http.get("/cases", headers=as_key("fabrikam-portal"))).status_code == 200
        ended = await http.get("/console/queue")
        assert ended.status_code == 303 and ended.headers["location"] == "/console/sign-in", (
            "the removed key's console session ends at once"
        )
        assert (await console_sign_in(http, KEYS["li.wei"][2])).status_code == 401

        path.write_text("[[keys]]\nname = 'broken'\n")  # a bad edit: the keys stay as they were
        assert (await http.get("/cases", headers=as_key("fabrikam-portal"))).status_code == 200
    problems = [line for line in logged(log_lines) if "cannot be used" in line["event"]]
    assert problems and "keys.toml" in problems[0]["reason"] and "keys.0.role" in problems[0]["reason"]


async def test_the_key_file_is_checked_at_most_each_second_in_a_thread(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    key_file(path, "ops")
    now = [100.0]
    keys = WatchedKeyring(path, clock=lambda: now[0])
    key_file(path, "li.wei")
    await keys.fresh()
    assert keys.authenticate(KEYS["ops"][2]) is not None, "not checked again within the second"
    now[0] += 1.0
    await keys.fresh()
    assert keys.authenticate(KEYS["ops"][2]) is None
    assert keys.authenticate(KEYS["li.wei"][2]) is not None
    assert keys.check() is False, "an unchanged file is not parsed again"


# -- one limiter for both fronts; failed sign-ins -------------------------------------------------


async def test_the_api_and_the_console_share_one_budget_per_key_and_per_client(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    per_key = settings.replace(rate_per_key=4, rate_per_client=0)
    async with serving(dev_env, per_key) as http:
        assert (await console_sign_in(http, KEYS["li.wei"][2])).status_code == 303
        pages = [(await http.get("/console/queue")).status_code for _ in range(2)]
        api = [(await http.get("/cases", headers=as_key("li.wei"))).status_code for _ in range(3)]
        assert pages == [200, 200] and api == [200, 200, 429], "two pages and two calls: the key's four"
        page = await http.get("/console/queue")
        assert page.status_code == 429 and "Retry-After" in page.headers
        assert (await http.get("/cases", headers=as_key("ops"))).status_code == 200, "another key"
    per_client = settings.replace(rate_per_key=0, rate_per_client=3)
    async with serving(dev_env, per_client) as http:
        assert (await console_sign_in(http, KEYS["li.wei"][2])).status_code == 303  # one
        assert (await http.get("/console/queue")).status_code == 200  # two
        assert (await http.get("/cases", headers=as_key("ops"))).status_code == 200  # three
        refused = await http.get("/cases", headers=as_key("contoso-portal"))
        assert refused.status_code == 429 and "address" in refused.json()["message"], "any key, one client"
        assert (await http.get("/console/queue")).status_code == 429


async def test_failed_sign_ins_are_limited_per_client_on_both_fronts_and_logged_masked(
    dev_env: WorkflowEnvironment, settings: Settings, log_lines: io.StringIO
) -> None:
    guesses = ["guess-token-0000000000000001", "guess-token-0000000000000002", "guess-token-03"]
    limited = settings.replace(failed_sign_ins_per_client=3)
    async with serving(dev_env, limited) as http:
        wrong_api = await http.get("/cases", headers={"Authorization": f"Bearer {guesses[0]}"})
        wrong_console = [(await console_sign_in(http, guess)).status_code for guess in guesses[1:]]
        assert wrong_api.status_code == 401 and wrong_console == [401, 401]
        page = await console_sign_in(http, KEYS["li.wei"][2])  # the right key, from that address
        assert page.status_code == 429 and 0 < int(page.headers["Retry-After"]) <= 3600
        assert re.search(r"Too many failed sign-ins from your address. Try again in \d+ seconds", page.text)
        api = await http.get("/cases", headers=as_key("li.wei"))
        assert api.status_code == 429 and api.json()["error"] == "rate_limited"
        assert "failed sign-ins" in api.json()["message"]
        assert (await http.get("/healthz")).status_code == 200
    lines = [line for line in logged(log_lines) if line["event"] == "sign-in refused: no such key"]
    assert [line["front"] for line in lines] == ["api", "console", "console"]
    text = log_lines.getvalue()
    for guess in guesses:
        assert guess not in text, "never a key in clear"
    assert lines[0]["key"] == "gue*********************0001" and lines[2]["key"] == "********"
    assert lines[0]["client"] == "127.0.0.*"


# -- bidirectional controls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", f"Invoice {RLO}fdp.exe is down"),
        ("title", "Mail\u2066 down\u2069"),
        ("requester", "a\u200f@x.io"),
    ],
)
async def test_bidirectional_controls_in_one_line_fields_are_field_errors_that_say_why(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str, field: str, value: str
) -> None:
    async with serving(dev_env, settings) as http:
        response = await http.post(
            "/cases", json=body(request_id) | {field: value}, headers=as_key("contoso-portal")
        )
        assert response.status_code == 422, response.text
        [problem] = [f for f in response.json()["fields"] if f["field"] == f"body.{field}"]
        assert "bidirectional control characters" in problem["message"]
        assert (await http.get(f"/cases/{case_of(request_id)}", headers=as_key("ops"))).status_code == 404
        assert await delivered(settings, case_of(request_id)) == [], "no staff mail"


async def test_file_names_are_neutralised_in_mail_and_downloads(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    mail = EmailMessage()
    mail["From"] = "admin@contoso.example"
    mail["Message-ID"] = "<bidi@contoso.example>"
    mail.set_content("Here is the invoice.")
    mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename=f"invoice{RLO}fdp.exe")
    [attachment] = read_mail(
        bytes(mail), MailLimits(max_attachment_bytes=1000, max_attachments=5)
    ).attachments
    assert attachment.filename == "invoice_fdp.exe"

    async with serving(dev_env, settings) as http:
        opened = await http.post("/cases", json=body(request_id), headers=as_key("contoso-portal"))
        case_id = opened.json()["case"]["case_id"]
        engine = open_database(settings)
        try:  # as a reply stored before names were neutralised left it
            [ref] = AttachmentStore(engine).store(
                case_id, "contoso", "ab" * 32, [(f"invoice{RLO}fdp.exe", "application/pdf", b"%PDF")]
            )
        finally:
            engine.dispose()
        assert ref.filename == "invoice_fdp.exe", "what the case lists"
        download = await http.get(
            f"/cases/{case_id}/attachments/{ref.attachment_id}", headers=as_key("contoso-portal")
        )
        assert download.status_code == 200
        disposition = download.headers["content-disposition"]
        assert RLO not in disposition and "%E2%80%AE" not in disposition, disposition
        assert 'filename="invoice_fdp.exe"' in disposition


# -- phone verification: per tenant, and in the tenant's zone -------------------------------------


async def test_wrong_codes_are_limited_per_tenant_across_caller_numbers(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    limits = settings.replace(verification_failures_per_hour=10, verification_failures_per_tenant=3)
    async with serving(dev_env, limits) as http:

        async def phone_case(tenant: str, suffix: str, caller: str) -> tuple[str, str]:
            opened = await http.post(
                "/cases",
                json=body(
                    f"{request_id}-{suffix}", tenant, severity="B", channel="phone", caller_number=caller
                ),
                headers=as_key("phone-desk"),
            )
            assert opened.json()["case"]["status"] == "awaiting_verification", opened.text
            case_id = opened.json()["case"]["case_id"]
            return case_id, await verification_code(limits, case_id)

        async def attempt(case_id: str, code: str) -> httpx.Response:
            return await http.post(
                f"/cases/{case_id}/verification", json={"code": code}, headers=as_key("phone-desk")
            )

        def wrong(code: str) -> str:
            return f"{(int(code) + 1) % 1_000_000:06d}"

        first, first_code = await phone_case("fabrikam", "1", "+3615550001")
        second, second_code = await phone_case("fabrikam", "2", "+3615550002")
        answers = [
            (await attempt(first, wrong(first_code))).status_code,
            (await attempt(first, wrong(first_code))).status_code,
            (await attempt(second, wrong(second_code))).status_code,
        ]
        assert answers == [403, 403, 403], "three wrong codes from two numbers"
        locked = await attempt(second, second_code)
        assert locked.status_code == 429 and locked.json()["error"] == "verification_locked", locked.text
        assert "Retry-After" in locked.headers
        shown = await http.get(f"/cases/{second}", headers=as_key("phone-desk"))
        assert shown.json()["verification"]["attempts_used"] == 1, "the locked try never reached the case"

        other, other_code = await phone_case("contoso", "other", "+8613900000099")
        verified = await attempt(other, other_code)
        assert verified.status_code == 200 and verified.json()["verified"], "another tenant is not locked"


async def test_the_verification_code_is_sent_in_the_tenants_time_zone(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with serving(dev_env, settings) as http:
        zones = {}
        for tenant in ("fabrikam", "contoso"):
            opened = await http.post(
                "/cases",
                json=body(request_id, tenant, severity="B", channel="phone", caller_number=UNREGISTERED),
                headers=as_key("phone-desk"),
            )
            assert opened.status_code == 201, opened.text
            case_id = opened.json()["case"]["case_id"]
            await verification_code(settings, case_id)
            handle = dev_env.client.get_workflow_handle(case_id)
            async for event in handle.fetch_history_events():
                if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                    continue
                scheduled = event.activity_task_scheduled_event_attributes
                if scheduled.activity_type.name == "send_verification_code":
                    [request] = await dev_env.client.data_converter.decode(
                        scheduled.input.payloads, [CodeRequest]
                    )
                    assert isinstance(request, CodeRequest)
                    zones[tenant] = request.time_zone
    assert zones == {"fabrikam": "Europe/Budapest", "contoso": "Asia/Shanghai"}


# -- two Authorization headers --------------------------------------------------------------------


async def test_two_authorization_headers_are_a_400_on_both_fronts(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    async with serving(dev_env, settings) as http:
        two = [
            ("Authorization", f"Bearer {KEYS['fabrikam-portal'][2]}"),
            ("Authorization", f"Bearer {KEYS['ops'][2]}"),
        ]
        for method, path in (
            ("GET", "/cases"),
            ("POST", "/cases"),
            ("GET", "/console/queue"),
            ("GET", "/console/sign-in"),
        ):
            response = await http.request(method, path, headers=two, json={} if method == "POST" else None)
            assert response.status_code == 400, (path, response.text)
            problem = response.json()
            assert set(problem) == {"error", "message", "fields"} and problem["error"] == "bad_request"
            assert "more than one Authorization header" in problem["message"]
        one = await http.get("/cases", headers=[two[1]])
        assert one.status_code == 200
