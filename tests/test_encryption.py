"""Payload encryption: unreadable in raw history, readable with the key, previous keys still work."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from intake.cases import Cases
from intake.history import fetch_runs, replay
from service.codec import (
    ENCODING,
    EncryptionCodec,
    EncryptionKeyError,
    codec_from_env,
    data_converter,
    key_id,
    parse_key,
)
from service.codec_server import create_codec_app
from service.settings import Settings
from service.worker_runtime import build_worker
from support.actions import FirstResponse
from tests.requests import case_request

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))
SECRET_EMAIL = "wang.fang.secret@contoso.example"
SECRET_TEXT = "Payroll server 10.1.2.3 of Mrs Wang leaks salaries"


def client_with(env: WorkflowEnvironment, codec: EncryptionCodec | None) -> Client:
    config = env.client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)


def payloads_in(history: WorkflowHistory) -> Iterator[Payload]:
    """Every payload anywhere in a history (inputs, results, update arguments, ...)."""

    def walk(message: Message) -> Iterator[Payload]:
        if isinstance(message, Payload):
            yield message
            return
        for field, value in message.ListFields():
            if field.message_type is None:
                continue
            if isinstance(value, Message):
                items = [value]
            elif field.message_type.GetOptions().map_entry:
                items = list(value.values())
            else:
                items = list(value)
            for item in items:
                if isinstance(item, Message):
                    yield from walk(item)

    for event in history.events:
        yield from walk(event)


async def test_payloads_are_unreadable_in_raw_history_and_readable_with_the_key(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    sealed = client_with(time_env, EncryptionCodec(KEY_1))
    async with build_worker(sealed, settings):
        cases = Cases(sealed, settings.task_queue)
        view = (
            await cases.open(case_request(request_id, contact_email=SECRET_EMAIL, description=SECRET_TEXT))
        ).case
        await cases.respond(view.case_id, FirstResponse(engineer="li.wei", message="Looking"))
        shown = await cases.show(view.case_id)
    raw = await time_env.client.get_workflow_handle(view.case_id).fetch_history()
    payloads = list(payloads_in(raw))
    sealed_payloads = [p for p in payloads if p.metadata["encoding"] == ENCODING]
    assert len(sealed_payloads) > 10
    plain = [p for p in payloads if p.metadata["encoding"] != ENCODING]
    assert all("type" in p.metadata for p in plain), "only search attributes (no personal data) stay plain"
    blob = b"".join(p.data for p in payloads)
    assert SECRET_EMAIL.encode() not in blob and b"Payroll" not in blob and b"li.wei" not in blob
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
    async with build_worker(old, dataclasses.replace(settings, max_cached_workflows=0)):
        case_id = (await Cases(old, settings.task_queue).open(case_request(request_id))).case.case_id
    rotated = client_with(time_env, EncryptionCodec(KEY_2, previous=[KEY_1]))
    async with build_worker(rotated, settings):
        cases = Cases(rotated, settings.task_queue)
        view = await cases.respond(case_id, FirstResponse(engineer="li.wei", message="After the rotation"))
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


async def test_codec_server_decodes_for_authorised_callers_only() -> None:
    codec = EncryptionCodec(KEY_1)
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')])
    app = create_codec_app(codec, ["ui-token"], "http://localhost:8233")
    body = {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                "data": base64.b64encode(sealed.data).decode(),
            }
        ]
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        denied = await client.post("/decode", json=body)
        decoded = await client.post("/decode", json=body, headers={"Authorization": "Bearer ui-token"})
        garbage = await client.post("/decode", content=b"{", headers={"Authorization": "Bearer ui-token"})
        preflight = await client.options(
            "/decode",
            headers={"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"},
        )
    assert denied.status_code == 401
    assert decoded.status_code == 200
    [payload] = decoded.json()["payloads"]
    assert base64.b64decode(payload["data"]) == b'"hello"'
    assert garbage.status_code == 400
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:8233"
