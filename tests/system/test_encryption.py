"""Payload encryption: unreadable in raw history, readable with the key, previous keys still work."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.codec import (
    ENCODING,
    EncryptionCodec,
    EncryptionKeyError,
    codec_from_env,
    data_converter,
    key_id,
    parse_key,
)
from adapters.mail_sink import free_port
from adapters.settings import PROJECT_ROOT, Settings
from application.cases import Cases
from bootstrap.worker_runtime import build_worker
from interfaces.cli.history import fetch_runs, payloads_in, replay
from support.case.actions import FirstResponse
from tests.requests import case_request

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))
SECRET_EMAIL = "wang.fang.secret@contoso.example"
SECRET_TEXT = "Payroll server 10.1.2.3 of Mrs Wang leaks salaries"


def is_patch_marker(data: bytes) -> bool:
    """A `workflow.patched` marker's details, written by the SDK's core: the patch id only."""
    try:
        return set(json.loads(data)) == {"id", "deprecated"}
    except (ValueError, TypeError):
        return False


LOCAL_ACTIVITY_MARKER = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
}


def is_local_activity_marker(data: bytes) -> bool:
    """A local activity's marker details, written by the SDK's core: which activity, which try,
    when (its result is a payload of its own, sealed like the others)."""
    try:
        return set(json.loads(data)) - {"activation_index"} == LOCAL_ACTIVITY_MARKER
    except (ValueError, TypeError):
        return False


def client_with(env: WorkflowEnvironment, codec: EncryptionCodec | None) -> Client:
    config = env.client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)


async def test_payloads_are_unreadable_in_raw_history_and_readable_with_the_key(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    sealed = client_with(time_env, EncryptionCodec(KEY_1))
    async with build_worker(sealed, settings):
        cases = Cases(sealed, settings.task_queue)
        view = (
            await cases.open(case_request(request_id, contact_email=SECRET_EMAIL, description=SECRET_TEXT))
        ).case
        await cases.act(view.case_id, FirstResponse(engineer="li.wei", message="Looking"))
        shown = await cases.show(view.case_id)
    raw = await time_env.client.get_workflow_handle(view.case_id).fetch_history()
    payloads = list(payloads_in(raw))
    sealed_payloads = [p for p in payloads if p.metadata["encoding"] == ENCODING]
    assert len(sealed_payloads) > 10
    plain = [p for p in payloads if p.metadata["encoding"] != ENCODING]
    assert all(
        "type" in p.metadata or is_patch_marker(p.data) or is_local_activity_marker(p.data) for p in plain
    ), "only search attributes and the core's patch and local activity markers (no personal data) stay plain"
    blob = b"".join(p.data for p in payloads)
    assert SECRET_EMAIL.encode() not in blob and b"Payroll" not in blob
    # The engineer's name is plain only as the AssignedEngineer search attribute (a staff name, listed
    # by `GET /cases?assignee=`); the messages and views that carry it are sealed.
    named = [p for p in payloads if b"li.wei" in p.data]
    assert named and all(p.metadata.get("type") == b"Keyword" for p in named), named
    assert shown.title == view.title, "with the key the case reads as usual"
    runs = await fetch_runs(sealed, view.case_id)
    assert (await replay(view.case_id, runs, data_converter(EncryptionCodec(KEY_1)))).ok, (
        "replay uses the codec"
    )
    description = await time_env.client.get_workflow_handle(view.case_id).describe()
    attributes = json.dumps({k.name: str(v) for k, v in description.typed_search_attributes})
    assert SECRET_EMAIL not in attributes and "Payroll" not in attributes


async def test_key_rotation_reads_and_drives_old_cases(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    old = client_with(time_env, EncryptionCodec(KEY_1))
    # No workflow cache (so no sticky queue): the rotated worker, another process, picks the case up.
    async with build_worker(old, settings.replace(max_cached_workflows=0)):
        case_id = (await Cases(old, settings.task_queue).open(case_request(request_id))).case.case_id
    rotated = client_with(time_env, EncryptionCodec(KEY_2, previous=[KEY_1]))
    async with build_worker(rotated, settings):
        cases = Cases(rotated, settings.task_queue)
        await cases.act(case_id, FirstResponse(engineer="li.wei", message="After the rotation"))
        view = await cases.show(case_id)  # an action answers a receipt (issue 26)
        assert view.status.value == "in_progress"
    raw = await time_env.client.get_workflow_handle(case_id).fetch_history()
    key_ids = {
        p.metadata["encryption-key-id"] for p in payloads_in(raw) if p.metadata["encoding"] == ENCODING
    }
    assert len(key_ids) == 2, "old payloads keep the old key, new ones use the new key"
    old_payload = next(
        p for p in payloads_in(raw) if p.metadata["encryption-key-id"] == key_id(KEY_1).encode()
    )
    with pytest.raises(ValueError, match="not configured"):
        await EncryptionCodec(KEY_2).decode([old_payload])  # a forgotten previous key is a clear error


def test_keys_from_the_environment_are_checked() -> None:
    good = base64.b64encode(KEY_1).decode()
    assert codec_from_env({}) is None
    assert codec_from_env({"CASEWORK_ENCRYPTION_KEY": good}) is not None
    with pytest.raises(EncryptionKeyError, match="32 bytes"):
        parse_key(base64.b64encode(b"short").decode(), "CASEWORK_ENCRYPTION_KEY")
    with pytest.raises(EncryptionKeyError, match="not base64"):
        codec_from_env({"CASEWORK_ENCRYPTION_KEY": good, "CASEWORK_ENCRYPTION_PREVIOUS_KEYS": "%%%"})


# -- the codec server, as an operator starts it: `starter.py codec-server`, real HTTP ----------------

TOKENS = {
    "ops": "operator-token-0123456789",
    "li.wei": "agent-token-0123456789ab",
    "contoso-portal": "portal-token-0123456789",
    "phone-desk": "phone-token-01234567890",
}
ROLES = {"ops": "operator", "li.wei": "agent", "contoso-portal": "portal", "phone-desk": "phone"}
UI = "http://localhost:8233"


def key_file(path: Path, names: list[str]) -> Path:
    lines = []
    for name in names:
        lines += ["[[keys]]", f'name = "{name}"', f'token = "{TOKENS[name]}"', f'role = "{ROLES[name]}"']
        if ROLES[name] in ("portal", "phone"):
            lines.append('tenants = ["contoso"]')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def codec_env(port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "TEMPORAL_"))}
    env |= {
        "CASEWORK_ENCRYPTION_KEY": base64.b64encode(KEY_1).decode(),
        "CASEWORK_CODEC_PORT": str(port),
        "CASEWORK_API_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    return env | extra


def start_codec_server(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`starter.py codec-server` when it is expected to refuse: it must exit at once."""
    return subprocess.run(
        [sys.executable, "starter.py", "codec-server"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "tokens", "says"),
    [
        (None, None, "no operator key is configured"),
        (["li.wei", "contoso-portal", "phone-desk"], None, "no operator key is configured"),
        ("broken", None, "keys.toml"),
        ("missing", "operator-token-0123456789", "cannot read the key file"),
    ],
)
def test_codec_server_refuses_to_start_without_operator_keys(
    tmp_path: Path, keys: list[str] | str | None, tokens: str | None, says: str
) -> None:
    extra: dict[str, str] = {}
    if keys == "broken":
        (tmp_path / "keys.toml").write_text('[[keys]]\nname = "ops"\nrole = "root"\n', encoding="utf-8")
        extra["CASEWORK_API_KEYS"] = str(tmp_path / "keys.toml")
    elif keys == "missing":
        extra["CASEWORK_API_KEYS"] = str(tmp_path / "no-such-keys.toml")
    elif isinstance(keys, list):
        extra["CASEWORK_API_KEYS"] = str(key_file(tmp_path / "keys.toml", keys))
    if tokens is not None:
        extra["CASEWORK_API_TOKENS"] = tokens
    done = start_codec_server(codec_env(free_port(), **extra))
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.fixture
def codec_server(tmp_path: Path) -> Iterator[str]:
    """A running `starter.py codec-server` with a key of each role (and no CASEWORK_API_TOKENS)."""
    port = free_port()
    keys = key_file(tmp_path / "keys.toml", list(TOKENS))
    log = (tmp_path / "codec.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "starter.py", "codec-server", "--origin", UI],
        cwd=PROJECT_ROOT, env=codec_env(port, CASEWORK_API_KEYS=str(keys)), stdout=log, stderr=log,
    )  # fmt: skip
    try:
        give_up = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "codec.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < give_up, "the codec server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


async def test_codec_server_decodes_for_operators_only(codec_server: str) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(SECRET_EMAIL).encode())
    [sealed] = await EncryptionCodec(KEY_1).encode([plain])
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }

    def bearer(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[name]}"}

    async with httpx.AsyncClient(base_url=codec_server, timeout=10) as client:
        decoded = await client.post("/decode", json=body, headers=bearer("ops"))
        refused = {name: await client.post("/decode", json=body, headers=bearer(name)) for name in ROLES}
        missing = await client.post("/decode", json=body)
        wrong = await client.post("/decode", json=body, headers={"Authorization": "Bearer not-a-key-at-all"})
        encode_as_agent = await client.post("/encode", json=body, headers=bearer("li.wei"))
        garbage = await client.post("/decode", content=b"{", headers=bearer("ops"))
        preflight = await client.options(
            "/decode", headers={"Origin": UI, "Access-Control-Request-Method": "POST"}
        )

    assert decoded.status_code == 200
    [payload] = decoded.json()["payloads"]
    assert json.loads(base64.b64decode(payload["data"])) == SECRET_EMAIL
    for name in ("li.wei", "contoso-portal", "phone-desk"):
        answer = refused[name]
        assert answer.status_code == 403, name
        assert answer.json()["error"] == "forbidden" and ROLES[name] in answer.json()["message"]
        assert SECRET_EMAIL not in answer.text
    assert refused["ops"].status_code == 200
    assert encode_as_agent.status_code == 403
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert set(answer.json()) == {"error", "message"} and answer.json()["error"] == "unauthorised"
        assert answer.headers["www-authenticate"] == "Bearer"
    assert garbage.status_code == 400 and set(garbage.json()) == {"error", "message"}
    assert preflight.headers["access-control-allow-origin"] == UI
