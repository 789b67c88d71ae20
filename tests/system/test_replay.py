"""Replay: recorded histories against today's code, divergence reports, export, timelines."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from adapters.codec import EncryptionCodec, data_converter
from adapters.settings import PROJECT_ROOT, Settings
from bootstrap.cli import main
from interfaces.cli.history import export_json, fetch_runs, load_json, render_timeline, replay, timeline_lines
from interfaces.cli.main import EXIT_INVALID, EXIT_NONDETERMINISTIC
from support.case.actions import Cooperation, FirstResponse, Resolution
from support.policies.vocabulary import CaseStatus
from tests.changed_workflow import StartsWithATimer
from tests.conftest import running_worker
from tests.requests import case_request

HISTORIES = Path(__file__).parents[1] / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))
TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in RECORDED}


def test_the_recorded_set_covers_the_lifecycle() -> None:
    names = {p.stem for p in RECORDED}
    assert {
        "severity_a_resolved_with_survey",
        "severity_a_breach_then_change",
        "severity_b_downgrade_then_unresponsive",
        "severity_c_pause_and_resume",
        "reopened_case",
        "phone_verification",
        "refused_not_admin",
        "continued_as_new",
        "intake_waits_for_decision",
        "team_case_withdrawn",  # issue 15: assign, note, reply, withdraw
        "survey_answered_by_reply",
        "context_read_in_the_first_task",  # issue 13: the context as a local activity
        "context_unreadable_then_retried",
        "obligations_answered_by_reply",  # issue 23: reply answers, accept, ask again
        "thread_messages_kept",  # issue 23: each message kept in full by a local activity
        "patches_folded",  # issue 26: one patch marker for the folded patches, receipts
    } <= names
    assert len(load_json(TEXTS["continued_as_new"])) >= 2, "several runs"


@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_every_recorded_history_replays_against_this_code(name: str) -> None:
    report = await replay(name, load_json(TEXTS[name], name), pydantic_data_converter)
    assert report.ok, report.model_dump_json(indent=2)


async def test_a_nondeterministic_change_is_reported_with_the_event() -> None:
    name = "severity_c_pause_and_resume"
    runs = load_json(TEXTS[name], name)
    report = await replay(name, runs, pydantic_data_converter, workflows=[StartsWithATimer])
    assert not report.ok
    divergence = report.runs[0].divergence
    assert divergence is not None and divergence.event_id is not None, divergence
    recorded = next(e for e in runs[0].events if e.event_id == divergence.event_id)
    assert divergence.event_type == "ACTIVITY_TASK_SCHEDULED"
    assert "Nondeterminism" in divergence.message and "Timer" in divergence.message, (
        "what the code did instead"
    )
    assert recorded.activity_task_scheduled_event_attributes.activity_type.name == "load_case_context"


def test_replay_cli_from_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--file", str(HISTORIES / "reopened_case.json")]) == 0
    assert '"ok": true' in capsys.readouterr().out


def test_replay_cli_reports_a_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": "nope"}')
    assert main(["replay", "--file", str(broken)]) == 2
    assert "not an exported history" in capsys.readouterr().err
    assert EXIT_NONDETERMINISTIC == 6


async def test_export_import_round_trip_and_timeline_of_a_closed_case_without_a_worker(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: Path
) -> None:
    async with running_worker(time_env.client, settings) as cases:
        case_id = (await cases.open(case_request(request_id, severity="C"))).case.case_id
        await cases.act(case_id, Cooperation(request_id="contact_data", details="confirmed"))
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="Looking"))
        await cases.act(case_id, Resolution(engineer="li.wei", summary="Fixed"))
        await time_env.sleep(timedelta(days=15))
    # No worker from here on.
    view = await cases.show(case_id)
    assert view.status is CaseStatus.CLOSED
    story = render_timeline(view)
    assert case_id in story and "resolved" in story and "(Asia/Shanghai)" in story
    lines = timeline_lines(view)
    assert [line.kind for line in lines][:2] == ["opened", "obligations_requested"]
    assert all(line.at.endswith("CST") for line in lines), "times in the case calendar's zone"

    runs = await fetch_runs(time_env.client, case_id)
    text = export_json(runs)
    again = load_json(text, case_id)
    assert [len(r.events) for r in again] == [len(r.events) for r in runs]
    assert (await replay(case_id, again, pydantic_data_converter)).ok


# -- the real `starter.py` on an encrypted case, and a malformed --query: one line, never a traceback --

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))


async def starter(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    """`starter.py` as a subprocess that leaves this test's event loop (and its worker) running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *argv, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def cli_env(env: WorkflowEnvironment, settings: Settings, key: bytes | None) -> dict[str, str]:
    cli = {k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "TEMPORAL_", "SMTP_"))}
    cli |= {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "TEMPORAL_CONFIG_FILE": str(settings.var_dir / "no-temporal-profile.toml"),
        "CASEWORK_VAR": str(settings.var_dir),
        "CASEWORK_TASK_QUEUE": settings.task_queue,
    }
    if key is not None:
        cli["CASEWORK_ENCRYPTION_KEY"] = base64.b64encode(key).decode()
    return cli


async def test_cli_without_the_encryption_key_says_so_in_one_line(
    dev_env: WorkflowEnvironment, settings: Settings, request_id: str, tmp_path: Path
) -> None:
    config = dev_env.client.config()
    config["data_converter"] = data_converter(EncryptionCodec(KEY))
    sealed = Client(**config)
    async with running_worker(sealed, settings) as cases:
        case_id = (await cases.open(case_request(request_id))).case.case_id
        for key in (None, OTHER_KEY):
            env = cli_env(dev_env, settings, key)
            commands = (
                ["timeline", case_id],
                ["show", case_id],
                ["replay", case_id],
                ["respond", case_id, "--engineer", "li.wei", "--message", "Looking"],
            )
            answers = await asyncio.gather(*(starter(env, *argv) for argv in commands))  # independent
            for argv, (code, out, err) in zip(commands, answers, strict=True):
                assert (code, out) == (EXIT_INVALID, ""), (argv, err)
                [line] = err.splitlines()
                assert "encrypted" in line and "CASEWORK_ENCRYPTION_KEY" in line, line
                assert ("not the configured" in line) == (key is not None), line
            exported = tmp_path / f"{case_id}.json"
            code, _, err = await starter(env, "history", "export", case_id, "-o", str(exported))
            assert code == 0, err
            [note] = err.splitlines()
            assert note.startswith("note: ") and "CASEWORK_ENCRYPTION_KEY" in note
            code, _, err = await starter(env, "replay", "--file", str(exported))
            assert code == EXIT_INVALID and "CASEWORK_ENCRYPTION_KEY" in err and len(err.splitlines()) == 1, (
                code,
                err,
            )

        view = await cases.show(case_id)
        assert view.status is CaseStatus.AWAITING_FIRST_RESPONSE, "a refused respond changed nothing"
        env = cli_env(dev_env, settings, KEY)
        code, out, err = await starter(env, "timeline", case_id)
        assert code == 0 and case_id in out, err
        code, out, err = await starter(env, "replay", "--file", str(tmp_path / f"{case_id}.json"))
        assert code == 0 and '"ok": true' in out, err


async def test_replay_all_with_a_malformed_query_gives_the_servers_reason(
    dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    env = cli_env(dev_env, settings, None)
    code, out, err = await starter(env, "replay", "--all", "--query", "CaseStatus = = 'x")
    assert (code, out) == (EXIT_INVALID, "")
    [line] = err.splitlines()
    assert line.startswith("--query: ") and len(line) > len("--query: "), line
