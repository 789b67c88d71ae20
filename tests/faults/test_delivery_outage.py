"""Fault injection: the SMTP server and the webhook receiver are down (connections refused) while
a batch of cases runs, then come back. Every notification is delivered exactly once, on its own
route, and the cases went on meanwhile. Real time on the dev server, with delivery retries capped
at 1 s so that "a while" is seconds. Sizes: FAULT_CASES (12 in `make test`, 200 in `make faults`,
20 by default).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.mail_sink import MailSink, free_port
from adapters.settings import Settings
from support.rules.request import case_id_for
from tests.conftest import running_worker
from tests.deliveries import ledger
from tests.faults.batch import (
    CASES,
    TENANT,
    all_closed_with_survey,
    mailed,
    not_as_scripted,
    patient_policy,
    per_case,
    run_all,
)
from tests.receivers import WebhookReceiver

OUTAGE_S = 8.0


async def test_mail_and_webhooks_down_then_back_deliver_every_notification_once(
    dev_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, mail_sink: MailSink
) -> None:
    # the outage delays every mail, the survey's too: the patient policy's survey window, not the
    # fast policy's 3 s (seen in make faults: a survey reminder the calm run never sent)
    policy = patient_policy(tmp_path, delivery_max_interval="1s")
    run = uuid.uuid4().hex[:6]
    calm_hooks = WebhookReceiver()
    async with calm_hooks:
        calm = settings.replace(
            policy_path=policy,
            task_queue=settings.task_queue + "-calm",
            webhook_support_queue=calm_hooks.url,
            webhook_escalation=calm_hooks.url,
            webhook_secret="s3cret-for-the-outage-0123456789ab",
        )
        async with running_worker(dev_env.client, calm) as cases:
            await run_all(cases, f"calm-{run}", severity="A")

    mail_port, hooks = free_port(), WebhookReceiver(port=free_port())
    down = settings.replace(
        policy_path=policy,
        smtp_port=mail_port,
        webhook_support_queue=hooks.url,
        webhook_escalation=hooks.url,
        webhook_secret="s3cret-for-the-outage-0123456789ab",
    )
    async with running_worker(dev_env.client, down) as cases:
        batch = asyncio.create_task(run_all(cases, f"down-{run}", severity="A"))
        await asyncio.sleep(OUTAGE_S)
        assert not batch.done(), "cases wait for their notifications before they end"
        sent_during = [
            r for i in range(CASES) for r in ledger(settings, case_id_for(TENANT, f"down-{run}-{i}"))
        ]
        assert [r for r in sent_during if r["status"] == "sent"] == [], "nothing could be delivered"
        back = MailSink(settings.mail_dir, port=mail_port).start()
        try:
            async with hooks:
                finals = await asyncio.wait_for(batch, timeout=240)
        finally:
            back.stop()

    assert all_closed_with_survey(finals), not_as_scripted(finals)
    assert all(v.failed_notifications == [] for v in finals), "retried until delivered, none given up"
    counts, _ = mailed(settings.mail_dir)
    hooked = Counter(r.headers["idempotency-key"] for r in hooks.accepted())
    calm_hooked = {r.headers["idempotency-key"] for r in calm_hooks.accepted()}
    mail_down = {n: c for n, c in counts.items() if f"down-{run}" in n}
    print(
        f"outage run: {CASES} cases, {OUTAGE_S:.0f} s down, {len(mail_down)} emails, {len(hooked)} webhooks"
    )
    assert hooked and mail_down
    assert all(c == 1 for c in mail_down.values()), "each email exactly once"
    assert all(c == 1 for c in hooked.values()), "each webhook exactly once"
    assert per_case(mail_down, f"down-{run}") == per_case(counts, f"calm-{run}"), "every email arrived"
    assert per_case(hooked, f"down-{run}") == per_case(calm_hooked, f"calm-{run}"), "every webhook arrived"
