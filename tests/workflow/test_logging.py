"""Logs: JSON lines with the case's ids, never personal data, never repeated on replay."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from adapters.logging import configure_logging
from adapters.settings import Settings
from support.case.actions import FirstResponse
from support.identity.verification import VerificationAttempt
from tests.conftest import running_worker
from tests.deliveries import verification_code
from tests.requests import case_request

EMAIL = "staff@contoso.example"  # a user of the tenant: contact addresses must be in the directory
PHONE = "+8613912345678"
DESCRIPTION = "The finance share of Mrs Li has leaked"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("INFO", json_output=True, stream=stream)
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_lines_carry_ids_and_no_personal_data_and_do_not_repeat_on_replay(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, log_lines: io.StringIO
) -> None:
    no_cache = settings.replace(max_cached_workflows=0)  # every workflow task replays
    request = case_request(
        request_id,
        contact_email=EMAIL,
        contact_phone=PHONE,
        description=DESCRIPTION,
        channel="phone",
        caller_number="+8613900000009",
    )
    async with running_worker(time_env.client, no_cache) as cases:
        case_id = (await cases.open(request)).case.case_id
        code = await verification_code(settings, case_id)
        await cases.verify(case_id, VerificationAttempt(code=code))
        await time_env.sleep(timedelta(seconds=1))
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking"))
        await time_env.sleep(timedelta(hours=2))
    lines = parsed(log_lines)
    text = log_lines.getvalue()
    for secret in (EMAIL, PHONE, DESCRIPTION, code, "it-desk@contoso.example"):
        assert secret not in text, f"personal data in logs: {secret!r}"

    opened = [line for line in lines if line["event"] == "case opened"]
    assert len(opened) == 1, "workflow log lines are not repeated when the workflow replays"
    assert opened[0]["case_id"] == case_id and opened[0]["workflow_id"] == case_id
    assert opened[0]["run_id"] and opened[0]["workflow_type"] == "SupportCaseWorkflow"

    delivered = [line for line in lines if line["event"] == "delivered"]
    assert delivered, "activities log their deliveries"
    for line in delivered:
        assert line["case_id"] == case_id and line["run_id"] and line["attempt"] >= 1
        assert line["activity_type"] in ("deliver_notification", "send_verification_code")
        assert line["notification_id"].startswith(case_id)
    assert all({"timestamp", "level", "logger"} <= line.keys() for line in lines)
