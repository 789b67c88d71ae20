"""Fault injection: the Temporal dev server (SQLite persistence) is stopped in the middle of a
batch and started again. No case is lost; deadlines that came due while it was down fire once it
is back, and the case says they were late instead of looking on time; warnings overtaken by the
breach while it was down are recorded, not sent. Cases the intake tries to open while it is down
are refused as unavailable (never half-opened) and opened once when sent again. Runs in real time: the
time-skipping server cannot be stopped and restarted with its state, so the policy uses seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import MailSink, free_port
from adapters.settings import Settings
from application.cases import Cases, Unavailable
from scaffold.local_stack import start_local_server
from scaffold.policies import fast_policy
from scaffold.processes import WorkerProcess as Worker
from scaffold.processes import worker_env
from support.case.view import CaseView
from tests.requests import case_request

CASES = int(os.environ.get("FAULT_CASES", "20")) // 2


async def start_server(db: Path, port: int) -> WorkflowEnvironment:
    return await start_local_server(db, port)


async def test_server_down_during_deadlines_loses_nothing_and_reports_lateness(
    settings: Settings, tmp_path: Path, mail_sink: MailSink
) -> None:
    # seconds: every case is open before the first warning (half of it), on a loaded box too
    target = max(16, CASES // 4)
    policy = fast_policy(tmp_path, first_response=f"{target}s", report_late_after="2s")
    db, port = tmp_path / "temporal.db", free_port()
    server = await start_server(db, port)
    env = worker_env(settings, f"127.0.0.1:{port}", policy)
    worker = Worker(env, tmp_path / "worker.log", args=())
    await asyncio.to_thread(worker.wait_ready)
    run = uuid.uuid4().hex[:6]
    try:
        cases = Cases(server.client, settings.task_queue)
        opening = asyncio.Semaphore(20)

        async def open_one(i: int) -> CaseView:
            # A case the busy worker has not decided within the intake's open wait is a 503 that
            # says sending the same request again is safe: a client does that.
            request = case_request(f"down-{run}-{i}", severity="A")
            for _ in range(4):
                async with opening:
                    with contextlib.suppress(Unavailable):
                        return (await cases.open(request)).case
            return (await cases.open(request)).case

        opened = await asyncio.gather(*(open_one(i) for i in range(CASES)))
        down_at = datetime.now(UTC)
        await server.shutdown()  # every first-response deadline comes due while it is down
        assert all(
            v.first_response and v.first_response.due and v.first_response.due > down_at for v in opened
        ), "setup: every deadline comes due while the server is down"
        # The intake goes on asking while it is down: each request is refused as unavailable.
        late_ids = [f"late-{run}-{i}" for i in range(max(2, CASES // 5))]
        refused = []
        for request_id in late_ids:
            t0 = asyncio.get_running_loop().time()
            try:
                await cases.open(case_request(request_id, severity="B"))
            except Unavailable as error:
                refused.append((str(error), asyncio.get_running_loop().time() - t0))
        await asyncio.sleep(max(0.0, target + 6 - (datetime.now(UTC) - down_at).total_seconds()))
        server = await start_server(db, port)
        cases = Cases(server.client, settings.task_queue)
        # ... and sends them again once it is back: each case is opened, once.
        reopened = [(await cases.open(case_request(r, severity="B"))) for r in late_ids]
        again = [(await cases.open(case_request(r, severity="B"))) for r in late_ids]
        finals = []
        for view in opened:
            for _ in range(200):
                shown = await cases.show(view.case_id)
                if shown.sla_breached:
                    break
                await asyncio.sleep(0.25)
            finals.append(shown)
        scheduled = [
            e.activity_task_scheduled_event_attributes
            for e in (await server.client.get_workflow_handle(opened[0].case_id).fetch_history()).events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
    finally:
        worker.stop()
        await server.shutdown()

    assert [v.case_id for v in finals] == [v.case_id for v in opened], "no case lost"
    print(f"restart run: {CASES} cases late, {len(refused)} openings refused while down: {refused[:1]}")
    assert len(refused) == len(late_ids), "every opening while the server was down was refused"
    assert all(seconds < 30 for _, seconds in refused), refused
    assert all(o.created and o.case.status.value == "awaiting_first_response" for o in reopened)
    assert all(
        not o.created and o.case.case_id == r.case.case_id for o, r in zip(again, reopened, strict=True)
    )
    warned_while_down = {
        v.case_id for v in opened if v.first_response and v.first_response.checkpoints[0].at > down_at
    }
    assert len(warned_while_down) >= len(opened) // 2, "setup: most warnings come due while it is down"
    escalation = [a for a in scheduled if "sla_breached/0/duty_manager" in str(a.input)]
    assert len(escalation) == 1 and escalation[0].priority.priority_key == 1, "the escalation goes first"
    for view in finals:
        assert view.sla_breached and view.first_response is not None
        breach = next(e for e in view.timeline if e.kind == "sla_breached")
        assert "acted on" in breach.message and "after its time" in breach.message, breach.message
        assert view.first_response.breached_at is not None and view.first_response.due is not None
        assert view.first_response.breached_at - view.first_response.due > timedelta(seconds=2)
        if view.case_id not in warned_while_down:
            continue
        # The 50 % and 80 % points passed with the breach: the breach notice alone goes out.
        assert view.first_response.warnings_sent == []
        assert view.first_response.warnings_superseded == ["sla_warning_50", "sla_warning_80"]
        assert any("not sent" in e.message for e in view.timeline if e.kind == "sla_warning_50")
