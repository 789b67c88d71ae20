"""Phone verification that cannot be cracked offline or brute-forced across requests.

The code is kept as an HMAC under a server-side key that never enters the history, the intake
seals submitted codes, and wrong codes are limited per tenant and caller across requests (the
intake's gate refuses attempts, the sending activity refuses fresh codes). Time-skipping server,
real worker, real activities, real SMTP sink; the gate and the workflow are driven directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from adapters.database import open_database
from adapters.directory_store import TENANT_ROW, VerificationFailures
from adapters.schema import verification_failures
from adapters.secrets import KEY_FILE, verification_key
from adapters.settings import Settings
from application.cases import Cases
from application.verification_gate import VerificationGate, VerificationLocked, case_caller
from bootstrap.gateway import verification_gate
from interfaces.cli.history import export_json, fetch_runs
from support.case.view import CaseView
from support.identity.verification import SealedAttempt, VerificationResult, code_mac
from support.policies.vocabulary import CaseStatus
from tests.conftest import running_worker
from tests.deliveries import delivered, verification_code
from tests.requests import case_request
from workflows.support_case import SupportCaseWorkflow

CALLER = "+8613900000001"
OTHER_CALLER = "+8613900000002"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def phone_case(cases: Cases, request_id: str, caller: str = CALLER) -> CaseView:
    return (await cases.open(case_request(request_id, channel="phone", caller_number=caller))).case


async def verify(client: Client, gate: VerificationGate, case_id: str, code: str) -> VerificationResult:
    """What the intake does with a caller's code: the gate, then the sealed update."""
    caller = await case_caller(client, case_id)

    async def send(sealed: SealedAttempt) -> VerificationResult:
        result: VerificationResult = await client.get_workflow_handle(case_id).execute_update(
            SupportCaseWorkflow.verify, sealed
        )
        return result

    return await gate.attempt(case_id, caller.tenant_id, caller.caller_number, code, send)


def decoded_history(text: str) -> str:
    """The exported history with every payload's data decoded, as a person reading the UI sees it."""
    parts = [text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str) and "metadata" in node:
                parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    return "\n".join(parts)


def keyless_digests(case_id: str, code: str) -> set[str]:
    """What an attacker could compute for a guess without the key."""
    found = set()
    for message in (code, f"{case_id}:{code}"):
        for name in ("md5", "sha1", "sha256", "sha512"):
            found.add(hashlib.new(name, message.encode()).hexdigest())
        found.add(hmac.new(b"", message.encode(), hashlib.sha256).hexdigest())
    return found


# -- the key ------------------------------------------------------------------------------------


def test_the_key_file_is_made_once_private_and_read_back(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "fresh" / "var", verification_secret=None)
    key = verification_key(settings)
    path = settings.var_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.var_dir.stat().st_mode) == 0o700
    assert len(key) >= 32 and verification_key(settings) == key, "made once, then read"
    assert not [p for p in settings.var_dir.iterdir() if p.name != KEY_FILE], "no temporary file left"
    path.chmod(0o644)
    assert verification_key(settings) == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    moved = settings.replace(verification_secret=path.read_text().strip())
    assert verification_key(moved) == key, "the file's text is a valid CASEWORK_VERIFICATION_SECRET"


def test_the_secret_from_the_environment_wins_and_must_be_long(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var", verification_secret="s" * 40)
    assert verification_key(settings) == b"s" * 40
    assert not (settings.var_dir / KEY_FILE).exists()
    with pytest.raises(SystemExit, match="CASEWORK_VERIFICATION_SECRET is shorter than 32"):
        verification_key(settings.replace(verification_secret="short"))


# -- the failure counts -------------------------------------------------------------------------


def test_failures_lock_a_pair_for_the_rest_of_its_hour(tmp_path: Path, database_url: str) -> None:
    engine = open_database(Settings(var_dir=tmp_path / "var", database_url=database_url))
    caller = f"mac-{tmp_path.name}"[:64]
    failures = VerificationFailures(engine, limit=3)
    start = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    try:
        reserved = [failures.reserve("contoso", caller, start + timedelta(minutes=m)) for m in range(3)]
        assert reserved == [None, None, None]
        assert failures.reserve("contoso", caller, start + timedelta(minutes=3)) == timedelta(minutes=57)
        assert failures.locked_for("contoso", caller, start + timedelta(minutes=10)) == timedelta(minutes=50)
        assert failures.locked_for("fabrikam", caller, start) is None, "per tenant"
        assert failures.locked_for("contoso", caller + "x", start) is None, "per caller"
        failures.release("contoso", caller)
        assert failures.locked_for("contoso", caller, start + timedelta(minutes=10)) is None
        failures.record("contoso", caller, start + timedelta(minutes=11))
        assert failures.locked_for("contoso", caller, start + timedelta(minutes=59)) is not None
        assert failures.locked_for("contoso", caller, start + timedelta(minutes=60)) is None, "the hour ends"
        assert failures.reserve("contoso", caller, start + timedelta(minutes=61)) is None, "a new window"
        off = VerificationFailures(engine, limit=0)
        assert [off.reserve("contoso", caller, start) for _ in range(20)] == [None] * 20, "0: no lock"
        assert off.locked_for("contoso", caller, start) is None
    finally:
        engine.dispose()


# -- through the workflow -----------------------------------------------------------------------


async def test_the_history_of_a_verified_case_holds_no_code_and_nothing_testable_offline(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    gate = verification_gate(settings)
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id)
        assert view.status is CaseStatus.AWAITING_VERIFICATION
        code = await verification_code(settings, view.case_id)
        first = await verify(time_env.client, gate, view.case_id, wrong(code))
        result = await verify(time_env.client, gate, view.case_id, code)
        await time_env.sleep(timedelta(seconds=1))
        opened = await cases.show(view.case_id)
        history = decoded_history(export_json(await fetch_runs(time_env.client, view.case_id)))
    assert (first.verified, first.remaining_attempts) == (False, 4) and result.verified
    assert opened.status is CaseStatus.AWAITING_FIRST_RESPONSE
    assert not re.search(rf"(?<![\d.]){code}(?!\d)", history), "the code is nowhere in the history"
    assert not keyless_digests(view.case_id, code) & set(re.findall(r"[0-9a-f]{32,128}", history))
    assert 'salt_hex":"' not in history and 'code_hash_hex":"' not in history, "no salted hash"
    key = verification_key(settings)
    assert code_mac(key, view.case_id, code) in history, "what the history holds needs the key"
    assert code_mac(b"", view.case_id, code) not in history
    assert '"code":null' in history.replace(" ", ""), "the update carried only the MAC"


async def test_a_code_in_clear_is_refused_by_the_case(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        view = await phone_case(cases, request_id)
        code = await verification_code(settings, view.case_id)
        handle = time_env.client.get_workflow_handle(view.case_id)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(SupportCaseWorkflow.verify, SealedAttempt(code=code))
        after = await cases.show(view.case_id)
    assert "sealed" in str(refused.value.cause)
    assert after.verification is not None and after.verification.attempts_used == 0, "not an attempt"


async def test_ten_wrong_codes_over_three_requests_lock_the_caller_not_the_tenant(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    gate = verification_gate(settings)
    client = time_env.client
    async with running_worker(client, settings) as cases:
        counted = []
        for n, tries in enumerate((4, 4, 2)):
            view = await phone_case(cases, f"{request_id}-{n}")
            code = await verification_code(settings, view.case_id)
            for _ in range(tries):
                result = await verify(client, gate, view.case_id, wrong(code))
                assert not result.verified and result.status == "pending"
                counted.append(result.remaining_attempts)
        with pytest.raises(VerificationLocked) as locked:
            await verify(client, gate, view.case_id, code)  # the 11th try, even with the right code
        untouched = await cases.show(view.case_id)

        again = await phone_case(cases, f"{request_id}-again")
        await time_env.sleep(timedelta(seconds=1))
        refused = await cases.show(again.case_id)
        sent_again = await delivered(settings, again.case_id, settle=0.2)

        other = await phone_case(cases, f"{request_id}-other", OTHER_CALLER)
        other_code = await verification_code(settings, other.case_id)
        other_result = await verify(client, gate, other.case_id, other_code)

    assert counted == [4, 3, 2, 1] * 2 + [4, 3], "each case counts down its own five"
    assert 0 < locked.value.retry_after_seconds <= 3600 and "try again in" in str(locked.value)
    assert untouched.verification is not None and untouched.verification.attempts_used == 2, (
        "the 11th attempt never reached the case"
    )
    assert untouched.status is CaseStatus.AWAITING_VERIFICATION
    assert refused.status is CaseStatus.REFUSED and refused.refusal is not None
    assert refused.refusal.code == "verification_locked", refused.refusal
    assert not [i for i in sent_again if "/verification_code/" in i], "no fresh code for a locked caller"
    assert other_result.verified, "another caller of the same tenant is not affected"
    with pytest.raises(VerificationLocked):
        await gate.check("contoso", CALLER)
    await gate.check("contoso", OTHER_CALLER)
    await gate.check("fabrikam", CALLER)

    engine = open_database(settings)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(verification_failures)).all()
    finally:
        engine.dispose()
    counted_rows = [(r.tenant_id, r.caller_mac == TENANT_ROW, r.failures) for r in rows if r.failures]
    assert sorted(counted_rows) == [("contoso", False, 10), ("contoso", True, 10)], "caller, tenant"
    assert CALLER not in str(rows) and CALLER.lstrip("+") not in str(rows), "no phone numbers in clear"
