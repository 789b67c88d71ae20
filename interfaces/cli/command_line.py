"""What every `starter.py` command shares: JSON output, argument types, what the commands are
handed (`Services`: the settings, the gateway over the Temporal connection, the database), and how
a failure below the gateway (Temporal, a missing key) is said. The exit codes and the gateway's
errors are defined once in `application.errors`.

Every command prints JSON on stdout. Problems go to stderr as one plain sentence per field, with
an exit code a script can branch on; nothing is started or changed when the input is bad.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from adapters.api_keys import Keyring
from adapters.codec import EncryptionKeyError
from adapters.settings import Settings
from adapters.temporal import TemporalUnavailable
from application.cases import CaseNotFound, Cases, CasesSource
from application.errors import (  # the exit codes, re-exported for the commands
    EXIT_BROKEN_PIPE,
    EXIT_INVALID,
    EXIT_NONDETERMINISTIC,
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    EXIT_UNEXPECTED,
    CliError,
    FrontError,
)
from interfaces.cli.history import EncryptionKeyNeeded, KeyCheckingCodec
from support.wording.text_shapes import TENANT_ID_PATTERN
from support.wording.validation import describe

if TYPE_CHECKING:  # FastAPI is imported only by `serve` (the CLI starts faster without it)
    from fastapi import FastAPI

    from interfaces.mail_in.routing import InboundMail, ReplyGateway  # only `mail release` reads mail

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INVALID",
    "EXIT_NONDETERMINISTIC",
    "EXIT_NOT_FOUND",
    "EXIT_REJECTED",
    "EXIT_UNAVAILABLE",
    "EXIT_UNEXPECTED",
    "CliError",
    "Services",
    "aware",
    "check_key",
    "emit",
    "foreign",
    "key_checked",
    "rpc_failure",
    "tenant",
    "validated",
    "with_cases",
    "zone",
]

M = TypeVar("M", bound=BaseModel)

# A command that talks to Temporal: the gateway, the parsed arguments, the validated input.
Command = Callable[[Cases, argparse.Namespace, Any], Awaitable[None]]


@dataclass(frozen=True)
class Services:
    """What the commands are handed by the composition root (`bootstrap/cli.py`). Nothing is opened
    before a command asks for it, and then once for the process."""

    settings: Settings
    cases: CasesSource  # the gateway over a Temporal connection whose codec names a missing key
    database: Callable[[], Engine]  # the database, its schema migrated (raises SQLAlchemyError)
    api: Callable[[Keyring], FastAPI]  # the HTTP intake for `serve`, with these keys
    # the inbound mail's routing over a gateway, for `mail release` (bootstrap.inbound.release_routing)
    mail_routing: Callable[[ReplyGateway], InboundMail] | None = None


def validated(model: type[M], data: dict[str, Any]) -> M:
    """The model, or one line per field ("severity: Input should be 'A', 'B' or 'C'"), exit 2."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CliError("\n".join(describe(error)), EXIT_INVALID) from None


def emit(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    else:
        text = json.dumps(
            [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            if isinstance(value, list)
            else value,
            indent=2,
            ensure_ascii=False,
        )
    print(text)


def aware(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2026-11-23T23:30:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. +08:00")
    return value


def zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except Exception:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone like Europe/Budapest") from None
    return text


def tenant(text: str) -> str:
    if not re.match(TENANT_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tenant id")
    return text


def key_checked(client: Client) -> Client:
    """The same connection, with a codec that turns a payload this CLI cannot open (no key, or
    another key) into one clear sentence (what `bootstrap/cli.py` hands the commands)."""
    config = client.config()
    converter = config["data_converter"]
    config["data_converter"] = dataclasses.replace(
        converter, payload_codec=KeyCheckingCodec(converter.payload_codec)
    )
    return Client(**config)


async def check_key(client: Client, case_id: str) -> None:
    """Before an update: can this CLI read the case at all? (Otherwise the action would be done,
    its answer unreadable, and the input stored without encryption.) One event, one call."""
    try:
        async for event in client.get_workflow_handle(case_id).fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            if client.data_converter.payload_codec is not None:
                await client.data_converter.payload_codec.decode(started.input.payloads)
            return
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(f"no case {case_id!r}") from None
        raise


def rpc_failure(error: RPCError) -> CliError:
    """A Temporal call that failed in a way no command foresaw: the server's reason, one line."""
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return CliError(f"Temporal did not answer: {error.message}", EXIT_UNAVAILABLE)
    if error.status == RPCStatusCode.NOT_FOUND:
        return CliError(error.message, EXIT_NOT_FOUND)
    return CliError(f"Temporal refused the request: {error.message}", EXIT_INVALID)


def foreign(error: Exception) -> FrontError | None:
    """A failure of the layers below the gateway as the CLI says it (one line, an exit code), or
    None for a bug. The gateway's own errors (`application.errors`) say themselves."""
    if isinstance(error, FrontError):
        return error
    if isinstance(error, EncryptionKeyError | EncryptionKeyNeeded):
        return CliError(str(error), EXIT_INVALID)
    if isinstance(error, RPCError):
        return rpc_failure(error)
    if isinstance(error, TemporalUnavailable):
        return CliError(str(error), EXIT_UNAVAILABLE)
    return None


async def with_cases(
    command: Command, args: argparse.Namespace, payload: BaseModel | None, cases: CasesSource
) -> None:
    """Run a command with the gateway (connecting to Temporal first); a failure it foresees
    reaches `interfaces.cli.main` as an error that knows its line and exit code."""
    try:
        gateway = await cases()
        if getattr(args, "case_id", None):  # every command that takes a case takes its number too
            args.case_id = await gateway.case_id_of(args.case_id)
        await command(gateway, args, payload)
    except Exception as error:
        said = foreign(error)
        if said is None or said is error:
            raise
        raise said from None
