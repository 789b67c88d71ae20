"""Fault injection: hostile mail arrives at a real worker's SMTP listener while cases are opened,
answered and replied to (issue 29).

A real `worker.py --api` process (its own free ports for the API, the health endpoint and the
inbound listener) on the dev server. While HOSTILE_CASES cases (50; FAULT_HOSTILE_CASES) are
opened over the API, answered by an engineer over the API and replied to by their customer over
SMTP, the attacker sends, to one case's address: a 30 KB reply of "> ", a 25 MiB quoted reply, a
mail of 20,000 parts, parts nested 1,000 deep and a mail of 200 attachments. Meanwhile /healthz is
asked every 50 ms. Then:

- each hostile mail got its SMTP answer (the quote markers 250, the others a permanent 5xx);
- every customer's reply landed exactly once;
- no request waited 1 s on the mail: each kind of request (/healthz, GET /cases/{id}, POST
  /cases, POST /cases/{id}/respond) is measured twice in the same run, half the customers before
  the attack (calm) and half during it, and no request during the attack may take 1 s longer than
  the slowest of its kind before it. Not an absolute 1 s: on a shared 2-core machine the writes
  wait seconds for the case's workflow with no mail at all (POST /cases 2.0-3.4 s at load 7-10,
  measured without the attack), and at load 25 even a calm GET /cases/{id} took 5.9 s. A listener
  that stalls the worker (the 11 s of the quadratic quote stripping) fails it.

The attacker and the /healthz poller are processes of their own (tests/faults/hostile_clients.py),
so that what they measure is the worker, not the test's own event loop.

The figures (p99 and max of each kind, calm and under attack) and the load average are printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import MailSink, free_port, read_mailbox
from adapters.settings import PROJECT_ROOT, Settings
from scaffold.processes import NO_LIMITS, WorkerProcess, worker_env
from tests import hostile_mail
from tests.requests import TENANTS, case_request

CASES = int(os.environ.get("FAULT_HOSTILE_CASES", "50"))
TENANT = "fabrikam"
CUSTOMER = TENANTS[TENANT]
PORTAL, AGENT = "portal-token-fabrikam-hostile", "agent-token-li-wei-hostile"
MAX_WAIT_S = 1.0
KEYS = f"""
[[keys]]
name = "fabrikam-portal"
token = "{PORTAL}"
role = "portal"
tenants = ["fabrikam"]

[[keys]]
name = "li.wei"
token = "{AGENT}"
role = "agent"
"""


class Waits:
    """How long each kind of request took, in seconds, by the phase it was sent in."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[float]] = {}
        self.phase = "calm"

    async def timed(self, kind: str, call: Awaitable[httpx.Response]) -> httpx.Response:
        started, phase = time.monotonic(), self.phase
        answer = await call
        self.kinds.setdefault(f"{kind} ({phase})", []).append(time.monotonic() - started)
        return answer

    def figures(self, kind: str) -> tuple[int, float, float]:
        waits = sorted(self.kinds.get(kind, [0.0]))
        p99 = statistics.quantiles(waits, n=100, method="inclusive")[98] if len(waits) > 1 else waits[0]
        return len(waits), p99, waits[-1]


async def send(port: int, to: str, raw: bytes, sender: str = CUSTOMER) -> tuple[int, str]:
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=120) as smtp:
            _, message = await smtp.sendmail(sender, [to], raw)
    except aiosmtplib.SMTPResponseException as error:
        return error.code, error.message
    return 250, message


def acknowledgement(settings: Settings, case_id: str) -> EmailMessage | None:
    for mail in read_mailbox(settings.mail_dir):
        if str(mail["X-Casework-Case"]).strip() == case_id and mail["To"] == CUSTOMER:
            return mail
    return None


async def client(*argv: str) -> asyncio.subprocess.Process:
    """An outside client (tests/faults/hostile_clients.py) in a process of its own."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.faults.hostile_clients",
        *argv,
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    give_up = time.monotonic() + 120
    while time.monotonic() < give_up:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"never: {what}")


async def test_hostile_mail_stalls_nothing_and_every_reply_lands_once(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, mail_sink: MailSink
) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS)
    api_port, inbound_port, health_port = free_port(), free_port(), free_port()
    env = (
        worker_env(settings, dev_env.client.service_client.config.target_host)
        | NO_LIMITS
        | {
            "CASEWORK_API_PORT": str(api_port),
            "CASEWORK_API_KEYS": str(keys),
            "CASEWORK_INBOUND_SMTP_PORT": str(inbound_port),
            "CASEWORK_HEALTH_PORT": str(health_port),
        }
    )
    worker = WorkerProcess(env, tmp_path / "worker.log", args=("--api",))
    run = uuid.uuid4().hex[:6]
    waits = Waits()
    try:
        await asyncio.to_thread(worker.wait_ready)
        # idle connections dropped before the API's 5 s keep-alive ends them (httpx keeps them 5 s
        # too: a POST on a connection the server was closing at that instant failed, ReadError)
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", timeout=60, limits=limits
        ) as http:

            async def open_case(request_id: str) -> tuple[str, str]:
                """The case, opened over the API, and the Reply-To of its acknowledgement."""
                request = case_request(request_id, TENANT, severity="B").model_dump(mode="json")
                opened = await waits.timed(
                    "POST /cases",
                    http.post("/cases", json=request, headers={"Authorization": f"Bearer {PORTAL}"}),
                )
                assert opened.status_code == 201, opened.text
                case_id = opened.json()["case"]["case_id"]

                async def acked() -> EmailMessage | None:
                    return await asyncio.to_thread(acknowledgement, settings, case_id)

                ack = await until(acked, f"{case_id} acknowledged")
                return case_id, str(ack["Reply-To"])

            async def show(case_id: str) -> dict[str, Any]:
                shown = await waits.timed(
                    "GET /cases/{id}",
                    http.get(f"/cases/{case_id}", headers={"Authorization": f"Bearer {PORTAL}"}),
                )
                assert shown.status_code == 200, shown.text
                view: dict[str, Any] = shown.json()
                return view

            target, target_address = await open_case(f"target-{run}")
            hostile = {
                "30 KB of '> '": hostile_mail.quote_markers(CUSTOMER, target_address),
                "25 MiB quoted": hostile_mail.quoted_reply(CUSTOMER, target_address, 25 * 1024 * 1024 - 4096),
                "20,000 parts": hostile_mail.many_parts(CUSTOMER, target_address, 20_000),
                "1,000 deep": hostile_mail.deep_nesting(CUSTOMER, target_address, 1_000),
                "200 attachments": hostile_mail.many_attachments(CUSTOMER, target_address, 200),
            }
            files = {}
            for number, (name, raw) in enumerate(hostile.items()):
                files[name] = tmp_path / f"hostile-{number}.eml"
                files[name].write_bytes(raw)
            poller = await client("poll", f"http://127.0.0.1:{api_port}/healthz")

            async def attack() -> tuple[float, float, list[tuple[str, int, str]]]:
                """The attacker, a process of its own: each hostile mail's SMTP answer."""
                began = time.time()
                sent = [str(path) for path in files.values()]
                attacker = await client("attack", str(inbound_port), CUSTOMER, target_address, *sent)
                out, _ = await attacker.communicate()
                by_file = {path: (code, text) for path, code, text in json.loads(out)}
                return began, time.time(), [(name, *by_file[str(path)]) for name, path in files.items()]

            async def customer(i: int, slots: asyncio.Semaphore) -> str:
                async with slots:
                    case_id, address = await open_case(f"legit-{run}-{i}")
                    responded = await waits.timed(
                        "POST /cases/{id}/respond",
                        http.post(
                            f"/cases/{case_id}/respond",
                            json={"message": "Looking at it"},
                            headers={"Authorization": f"Bearer {AGENT}"},
                        ),
                    )
                    assert responded.status_code == 200, responded.text
                    await show(case_id)
                    reply = EmailMessage()
                    reply["From"], reply["To"] = CUSTOMER, address
                    reply["Subject"], reply["Message-ID"] = (
                        "Re: your case",
                        make_msgid(domain="fabrikam.example"),
                    )
                    reply.set_content(f"Reply {i}: it works again.\n\nOn Fri casework wrote:\n> hello\n")
                    code, text = await send(inbound_port, address, reply.as_bytes())
                    assert (code, text) == (250, f"2.0.0 added to case {case_id}")
                    return case_id

            await asyncio.sleep(2)  # a calm moment first, to compare with
            slots = asyncio.Semaphore(10)
            calm_ids = await asyncio.gather(*(customer(i, slots) for i in range(CASES // 2)))
            load_before = os.getloadavg()
            waits.phase = "under attack"
            legit = asyncio.gather(*(customer(i, slots) for i in range(CASES // 2, CASES)))
            (began, ended, attacked), attack_ids = await asyncio.gather(attack(), legit)
            load_after = os.getloadavg()
            waits.phase = "after"
            for case_id in [*calm_ids, *attack_ids]:
                assert (await show(case_id))["replies_received"] == 1, f"{case_id}: exactly once"
            target_view = await show(target)
            out, _ = await poller.communicate(b"")
            polled = json.loads(out)
    finally:
        worker.stop()

    for name, code, text in attacked:
        print(f"hostile mail {name}: {code} {text}")
    answers = {name: code for name, code, _ in attacked}
    assert answers["30 KB of '> '"] == 250, attacked
    assert all(500 <= code < 600 for name, code in answers.items() if name != "30 KB of '> '"), attacked
    assert target_view["replies_received"] == 1, "the quote markers landed once; nothing else did"
    assert all(status == 200 for _, _, status in polled), "the health endpoint always answered"
    waits.kinds["GET /healthz (calm)"] = [waited for at, waited, _ in polled if at < began]
    waits.kinds["GET /healthz (under attack)"] = [waited for at, waited, _ in polled if began <= at <= ended]
    worst: dict[str, float] = {}
    print(
        f"attack: {ended - began:.1f} s; load average {load_before[0]:.1f} before it, "
        f"{load_after[0]:.1f} after"
    )
    for kind in sorted(waits.kinds):
        count, p99, longest = waits.figures(kind)
        worst[kind] = longest
        print(f"{kind}: {count} requests, p99 {p99 * 1000:.0f} ms, max {longest * 1000:.0f} ms")
    for kind in ("GET /healthz", "GET /cases/{id}", "POST /cases", "POST /cases/{id}/respond"):
        calm, attacked_ = worst[f"{kind} (calm)"], worst[f"{kind} (under attack)"]
        assert attacked_ < calm + MAX_WAIT_S, (
            f"{kind} waited on the mail: {attacked_:.2f} s during the attack, at most {calm:.2f} s before it"
        )
