"""`starter.py` commands: open, show, list; the agent actions respond, update, ask, severity, resolve;
the customer's cooperate, reopen, survey; and `policy due`.

Every command prints JSON on stdout. Problems go to stderr as one plain sentence per field, with
an exit code a script can branch on; nothing is started or changed when the input is bad.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from adapters.api_keys import KeyFileError, load_keyring
from adapters.closed_cases import export_closed_cases
from adapters.codec import EncryptionKeyError, codec_from_env, data_converter, new_key
from adapters.database import database_url, open_database
from adapters.directory_store import import_directory
from adapters.logging import configure_logging
from adapters.mail_sink import read_mailbox
from adapters.policy_file import load_policy_snapshot
from adapters.settings import Settings
from adapters.temporal import TemporalUnavailable, connect
from intake.cases import ActionRejected, CaseNotFound, Cases, Unavailable
from intake.history import (
    EncryptionKeyNeeded,
    KeyCheckingCodec,
    check_readable,
    export_json,
    fetch_runs,
    load_json,
    render_timeline,
    replay,
    timeline_lines,
)
from intake.reports import build_sla_report
from support.actions import (
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
)
from support.case_terms import case_terms
from support.directory import DirectoryError, parse_directory_file
from support.policy import PolicyError
from support.reports import ReportWindow, report_csv, report_table
from support.request import CaseRequest
from support.text import TENANT_ID_PATTERN
from support.verification import VerificationAttempt
from support.vocabulary import Agreement, CaseStatus, Category, Severity
from workflows.support_case import SupportCaseWorkflow

M = TypeVar("M", bound=BaseModel)

EXIT_UNEXPECTED = 1
EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3
EXIT_NOT_FOUND = 4
EXIT_REJECTED = 5
EXIT_NONDETERMINISTIC = 6
EXIT_BROKEN_PIPE = 141  # the reader of our output went away (`| head`): 128 + SIGPIPE, as Unix tools


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def field_errors(error: ValidationError) -> str:
    """ "severity: Input should be 'A', 'B' or 'C'" - one line per field, no stack trace."""
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "request"
        lines.append(f"{where}: {str(item['msg']).removeprefix('Value error, ')}")
    return "\n".join(lines)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CliError(field_errors(error), EXIT_INVALID) from None


def _emit(value: BaseModel | list[Any] | dict[str, Any]) -> None:
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


# -- commands that talk to Temporal ---------------------------------------------------------------


def _request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.json:
        raw = sys.stdin.read() if args.json == "-" else Path(args.json).read_text(encoding="utf-8")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CliError(f"--json: not valid JSON: {error}", EXIT_INVALID) from None
        if not isinstance(data, dict):
            raise CliError("--json: expected a JSON object with the request's fields", EXIT_INVALID)
        return data
    fields = {
        "request_id": args.request_id or f"r-{uuid.uuid4().hex[:16]}",
        "tenant_id": args.tenant,
        "requester": args.requester,
        "category": args.category,
        "severity": args.severity,
        "title": args.title,
        "description": args.description,
        "contact_email": args.email,
        "contact_phone": args.phone,
        "preferred_contact": args.contact_method,
        "language": args.language,
        "channel": args.channel,
        "caller_number": args.caller_number,
        "service": args.service,
        "scope": args.scope,
    }
    return {k: v for k, v in fields.items() if v is not None}


# Each command validates its input first (`prepare`, no I/O) and only then talks to Temporal, so bad
# input never starts or changes anything.


def _prepare_open(args: argparse.Namespace) -> BaseModel:
    return _validated(CaseRequest, _request_from_args(args))


def _prepare(model: type[BaseModel], **fields: str) -> Callable[[argparse.Namespace], BaseModel]:
    """A prepare step that validates `model` from the named arguments (field=argument name)."""

    def prepare(args: argparse.Namespace) -> BaseModel:
        data = {field: getattr(args, arg) for field, arg in fields.items() if getattr(args, arg) is not None}
        return _validated(model, data)

    return prepare


def _update(method: str) -> Command:
    async def run(cases: Cases, args: argparse.Namespace, payload: Any) -> None:
        await _check_key(cases.client, args.case_id)
        _emit(await getattr(cases, method)(args.case_id, payload))

    return run


def _signal(method: str) -> Command:
    async def run(cases: Cases, args: argparse.Namespace, payload: Any) -> None:
        await getattr(cases, method)(args.case_id, payload)
        _emit({"case_id": args.case_id, "sent": method})

    return run


async def _open(cases: Cases, args: argparse.Namespace, request: Any) -> None:
    _emit(await cases.open(request))


async def _show(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    _emit(await cases.show(args.case_id))


async def _list(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    _emit(
        await cases.list(
            status=args.status,
            severity=args.severity,
            category=args.category,
            tenant_id=args.tenant,
            limit=args.limit,
        )
    )


Command = Callable[[Cases, argparse.Namespace, Any], Awaitable[None]]


def _key_checked(client: Client) -> Client:
    """The same connection, with a codec that turns a payload this CLI cannot open (no key, or
    another key) into one clear sentence."""
    config = client.config()
    converter = config["data_converter"]
    config["data_converter"] = dataclasses.replace(
        converter, payload_codec=KeyCheckingCodec(converter.payload_codec)
    )
    return Client(**config)


async def _check_key(client: Client, case_id: str) -> None:
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


def _rpc_failure(error: RPCError) -> CliError:
    """A Temporal call that failed in a way no command foresaw: the server's reason, one line."""
    if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return CliError(f"Temporal did not answer: {error.message}", EXIT_UNAVAILABLE)
    if error.status == RPCStatusCode.NOT_FOUND:
        return CliError(error.message, EXIT_NOT_FOUND)
    return CliError(f"Temporal refused the request: {error.message}", EXIT_INVALID)


async def _with_cases(command: Command, args: argparse.Namespace, payload: BaseModel | None) -> None:
    settings = Settings()
    try:
        client = _key_checked(await connect(settings))
        await command(Cases.from_settings(client, settings), args, payload)
    except (EncryptionKeyError, EncryptionKeyNeeded) as error:
        raise CliError(str(error), EXIT_INVALID) from None
    except RPCError as error:
        raise _rpc_failure(error) from None
    except TemporalUnavailable as error:
        raise CliError(str(error), EXIT_UNAVAILABLE) from None
    except Unavailable as error:
        raise CliError(f"{error}. Is a worker running (`make run`)?", EXIT_UNAVAILABLE) from None
    except CaseNotFound as error:
        raise CliError(str(error), EXIT_NOT_FOUND) from None
    except ActionRejected as error:
        raise CliError(f"rejected: {error}", EXIT_REJECTED) from None


# -- policy due: no server needed -----------------------------------------------------------------


def _aware(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2026-11-23T23:30:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. +08:00")
    return value


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except Exception:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone like Europe/Budapest") from None
    return text


def policy_due(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    try:
        policy = load_policy_snapshot(settings.policy_path, args.opened.year)
    except (PolicyError, OSError) as error:
        raise CliError(str(error), EXIT_INVALID) from None
    opened: datetime = args.opened
    terms = case_terms(
        policy, args.category, args.severity, args.agreement, args.time_zone or "Asia/Shanghai", opened
    )
    zone = terms.calendar.zone
    plan = terms.first_response
    return {
        "requested_severity": args.severity.value,
        "severity": terms.decision.granted.value,
        "severity_caps": [cap.model_dump() for cap in terms.decision.caps],
        "category": args.category.value,
        "agreement": args.agreement.value,
        "calendar": terms.calendar_name,
        "time_zone": terms.calendar.time_zone,
        "opened": opened.isoformat(),
        "first_response_target": str(plan.target),
        "first_response_business_time_seconds": int(plan.business_time.total_seconds()),
        "first_response_due": plan.due.astimezone(zone).isoformat(),
        "support_open_at_opening": terms.calendar.is_open(opened),
        "warnings": [
            {"event": c.event, "at": c.at.astimezone(zone).isoformat()}
            for c in plan.checkpoints
            if not c.is_breach
        ],
        "policy_version": policy.version,
    }


# -- argument parsing ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="starter.py", description="Open, inspect and drive casework cases.")
    sub = parser.add_subparsers(dest="command", required=True)

    o = sub.add_parser("open", help="open a case (or return the existing case for the same request id)")
    o.add_argument(
        "--json", metavar="FILE", help="read the whole CaseRequest as JSON from FILE ('-' = stdin)"
    )
    o.add_argument("--request-id", help="idempotency key (default: a new random id)")
    o.add_argument("--tenant")
    o.add_argument("--requester", help="the requesting administrator's sign-in name")
    o.add_argument("--category", help="technical | billing | presales")
    o.add_argument("--severity", help="A | B | C (requested)")
    o.add_argument("--title")
    o.add_argument("--description")
    o.add_argument("--email", help="contact email")
    o.add_argument("--phone", help="contact phone, international form")
    o.add_argument("--contact-method", help="email | phone (preferred)")
    o.add_argument("--language", help="BCP 47 tag, e.g. en, zh-CN, hu")
    o.add_argument("--channel", help="web | phone")
    o.add_argument("--caller-number", help="phone intake: the number the call came from")
    o.add_argument("--service", help="affected service, e.g. exchange, teams")
    o.add_argument("--scope", help="product | third_party_addin | customer_network")
    o.set_defaults(run=_open, prepare=_prepare_open)

    s = sub.add_parser("show", help="print a case's view")
    s.add_argument("case_id")
    s.set_defaults(run=_show)

    ls = sub.add_parser("list", help="list cases by search attributes")
    ls.add_argument("--status", type=CaseStatus, choices=list(CaseStatus))
    ls.add_argument("--severity", type=Severity, choices=list(Severity))
    ls.add_argument("--category", type=Category, choices=list(Category))
    ls.add_argument("--tenant")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(run=_list)

    r = sub.add_parser("respond", help="record the engineer's first response")
    r.add_argument("case_id")
    r.add_argument("--engineer", required=True)
    r.add_argument("--message", required=True)
    r.set_defaults(
        run=_update("respond"), prepare=_prepare(FirstResponse, engineer="engineer", message="message")
    )

    rs = sub.add_parser("resolve", help="resolve a case")
    rs.add_argument("case_id")
    rs.add_argument("--engineer", required=True)
    rs.add_argument("--summary", required=True)
    rs.set_defaults(
        run=_update("resolve"), prepare=_prepare(Resolution, engineer="engineer", summary="summary")
    )

    u = sub.add_parser("update", help="send the customer an update (satisfies the customer-update clock)")
    u.add_argument("case_id")
    u.add_argument("--engineer", required=True)
    u.add_argument("--message", required=True)
    u.set_defaults(
        run=_update("update_customer"),
        prepare=_prepare(CustomerUpdate, engineer="engineer", message="message"),
    )

    a = sub.add_parser("ask", help="ask the customer for something (pauses the update clock)")
    a.add_argument("case_id")
    a.add_argument("--engineer", required=True)
    a.add_argument("--what", required=True)
    a.add_argument("--no-pause", dest="pauses_clock", action="store_false", default=None)
    a.set_defaults(
        run=_update("request_customer_action"),
        prepare=_prepare(
            CustomerActionRequest, engineer="engineer", what="what", pauses_clock="pauses_clock"
        ),
    )

    sv = sub.add_parser("severity", help="change a case's severity")
    sv.add_argument("case_id")
    sv.add_argument("--engineer", required=True)
    sv.add_argument("--to", dest="severity", required=True, help="A | B | C")
    sv.add_argument("--reason", required=True)
    sv.set_defaults(
        run=_update("change_severity"),
        prepare=_prepare(SeverityChangeRequest, engineer="engineer", severity="severity", reason="reason"),
    )

    ro = sub.add_parser("reopen", help="reopen a resolved case (customer, within the reopen window)")
    ro.add_argument("case_id")
    ro.add_argument("--requester", required=True)
    ro.add_argument("--reason", required=True)
    ro.set_defaults(
        run=_update("reopen"), prepare=_prepare(ReopenRequest, requester="requester", reason="reason")
    )

    co = sub.add_parser("cooperate", help="record the customer's answer to an obligation or request")
    co.add_argument("case_id")
    co.add_argument("--request", dest="request_id", required=True, help="e.g. impact_analysis or request-1")
    co.add_argument("--details", required=True)
    co.set_defaults(
        run=_signal("cooperate"), prepare=_prepare(Cooperation, request_id="request_id", details="details")
    )

    su = sub.add_parser("survey", help="record the customer's satisfaction survey answer")
    su.add_argument("case_id")
    su.add_argument("--score", required=True, help="1-5")
    su.add_argument("--comment")
    su.set_defaults(
        run=_signal("answer_survey"), prepare=_prepare(SurveyAnswer, score="score", comment="comment")
    )

    ve = sub.add_parser("verify", help="check a phone intake's one-time code")
    ve.add_argument("case_id")
    ve.add_argument("--code", required=True)
    ve.set_defaults(run=_update("verify"), prepare=_prepare(VerificationAttempt, code="code"))

    d = sub.add_parser("directory", help="the tenant directory database")
    dsub = d.add_subparsers(dest="directory_command", required=True)
    imp = dsub.add_parser("import", help="load tenants and incidents from a TOML or JSON file (idempotent)")
    imp.add_argument("file", type=Path)

    ar = sub.add_parser("archive", help="the final records of closed cases (the closed_cases table)")
    asub = ar.add_subparsers(dest="archive_command", required=True)
    aex = asub.add_parser(
        "export", help="one <case-id>.json per case that ended (closed, or refused) in [since, until)"
    )
    aex.add_argument("--since", type=_aware, help="ISO 8601 with offset (included; default: from the first)")
    aex.add_argument("--until", type=_aware, help="ISO 8601 with offset (excluded; default: to the last)")
    aex.add_argument("--tenant", type=_tenant, help="one tenant (default: every tenant)")
    aex.add_argument("-o", "--output", type=Path, required=True, help="folder to write the files in")

    h = sub.add_parser("history", help="a case's event history")
    hsub = h.add_subparsers(dest="history_command", required=True)
    ex = hsub.add_parser(
        "export", help="save every run's history as `temporal workflow show --output json` does"
    )
    ex.add_argument("case_id")
    ex.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    ex.set_defaults(run=_history_export)

    rp = sub.add_parser("replay", help="replay histories against this code; report the first divergence")
    rp.add_argument("case_id", nargs="?")
    rp.add_argument("--file", type=Path, help="a history exported with `history export`")
    rp.add_argument("--all", action="store_true", help="every case matching --query (default: running ones)")
    rp.add_argument("--query", default="ExecutionStatus = 'Running'", help="visibility query for --all")
    rp.add_argument(
        "--debug", action="store_true", help="SDK debug mode: breakpoints in workflow code stop there"
    )
    rp.set_defaults(run=_replay)

    tl = sub.add_parser(
        "timeline", help="a case's story for a person (works for closed cases without a worker)"
    )
    tl.add_argument("case_id")
    tl.add_argument("--json", action="store_true", help="the entries as JSON")
    tl.set_defaults(run=_timeline)

    sub.add_parser("new-key", help="print a new random CASEWORK_ENCRYPTION_KEY")
    cs = sub.add_parser("codec-server", help="decode payloads for the Temporal UI (CASEWORK_CODEC_PORT)")
    cs.add_argument(
        "--origin", default="http://localhost:8233", help="the Temporal UI allowed to call it (CORS)"
    )

    sub.add_parser("serve", help="serve the HTTP intake API (CASEWORK_API_HOST:CASEWORK_API_PORT)")
    ob = sub.add_parser("outbox", help="messages the embedded SMTP sink received (var/mail/), oldest first")
    ob.add_argument("--case", help="only this case's messages")

    rep = sub.add_parser("report", help="reports over closed and running cases")
    rsub = rep.add_subparsers(dest="report_command", required=True)
    sla = rsub.add_parser(
        "sla", help="first-response SLA and satisfaction of the cases opened in [since, until)"
    )
    sla.add_argument("--since", type=_aware, required=True, help="ISO 8601 with offset (included)")
    sla.add_argument("--until", type=_aware, required=True, help="ISO 8601 with offset (excluded)")
    sla.add_argument("--tenant", type=_tenant, help="one tenant (default: every tenant)")
    sla.add_argument("--format", choices=["json", "table", "csv"], default="json")
    sla.set_defaults(run=_report_sla, prepare=_prepare_report)

    p = sub.add_parser("policy", help="ask the policy questions without a server")
    psub = p.add_subparsers(dest="policy_command", required=True)
    due = psub.add_parser("due", help="effective severity, calendar and first-response deadline")
    due.add_argument("--severity", type=Severity, choices=list(Severity), required=True)
    due.add_argument("--category", type=Category, choices=list(Category), required=True)
    due.add_argument("--opened", type=_aware, required=True, help="ISO 8601 with offset")
    due.add_argument("--agreement", type=Agreement, choices=list(Agreement), default=Agreement.STANDARD)
    due.add_argument("--time-zone", type=_zone, help="the tenant's IANA zone (pre-sales calendar)")
    due.set_defaults(run=None)
    return parser


def directory_import(path: Path) -> dict[str, Any]:
    settings = Settings()
    try:
        directory = parse_directory_file(path.read_text(encoding="utf-8"), str(path))
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}", EXIT_INVALID) from None
    except DirectoryError as error:
        raise CliError(str(error), EXIT_INVALID) from None
    try:
        engine = open_database(settings)
        counts = import_directory(engine, directory)
    except SQLAlchemyError as error:
        raise CliError(
            f"directory database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE
        ) from None
    return {"imported": counts, "database": database_url(settings).split("@")[-1]}


def archive_export(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    try:
        engine = open_database(settings)
        try:
            written = export_closed_cases(engine, args.output, args.since, args.until, args.tenant)
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        raise CliError(
            f"database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE
        ) from None
    except OSError as error:
        raise CliError(f"{error.filename or args.output}: {error.strerror}", EXIT_INVALID) from None
    return {"exported": len(written), "directory": str(args.output)}


def _converter() -> DataConverter:
    try:
        return data_converter(KeyCheckingCodec(codec_from_env()))
    except EncryptionKeyError as error:
        raise CliError(str(error), EXIT_INVALID) from None


def _load(path: Path) -> list[WorkflowHistory]:
    try:
        return load_json(path.read_text(encoding="utf-8"), path.stem)
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}", EXIT_INVALID) from None
    except (ValueError, KeyError) as error:
        raise CliError(f"{path}: not an exported history ({error})", EXIT_INVALID) from None


async def _history_export(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    runs = await fetch_runs(cases.client, args.case_id)
    try:
        await check_readable(runs, cases.client.data_converter.payload_codec)
    except EncryptionKeyNeeded as error:
        # The export is the raw history and needs no key; replaying or reading it later does.
        print(f"note: {error}", file=sys.stderr)
    text = export_json(runs)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        _emit({"case_id": args.case_id, "written": str(args.output)})
    else:
        print(text)


async def _replay(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    converter = _converter()
    if args.all:
        query = f"WorkflowType = '{SupportCaseWorkflow.__name__}' AND ({args.query})"
        reports = []
        try:
            async for execution in cases.client.list_workflows(query):
                history = await cases.client.get_workflow_handle(
                    execution.id, run_id=execution.run_id
                ).fetch_history()
                reports.append(await replay(execution.id, [history], converter, args.debug))
        except RPCError as error:
            if error.status == RPCStatusCode.INVALID_ARGUMENT:
                raise CliError(f"--query: {error.message} (in: {query})", EXIT_INVALID) from None
            raise
        _emit(reports)
        if not all(r.ok for r in reports):
            raise CliError(
                f"{sum(not r.ok for r in reports)} of {len(reports)} cases would not replay",
                EXIT_NONDETERMINISTIC,
            )
        return
    if not args.case_id:
        raise CliError("give a CASE_ID, --file FILE or --all", EXIT_INVALID)
    report = await replay(args.case_id, await fetch_runs(cases.client, args.case_id), converter, args.debug)
    _emit(report)
    if not report.ok:
        raise CliError(
            "the history does not replay against this code (see divergence)", EXIT_NONDETERMINISTIC
        )


async def _timeline(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    view = await cases.show(args.case_id)
    if args.json:
        _emit([line.__dict__ for line in timeline_lines(view)])
    else:
        print(render_timeline(view))


def _tenant(text: str) -> str:
    if not re.match(TENANT_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tenant id")
    return text


def _prepare_report(args: argparse.Namespace) -> BaseModel:
    try:
        return ReportWindow(since=args.since, until=args.until)
    except ValidationError as error:
        problems = [
            f"--{e['loc'][0]}: {e['msg'].removeprefix('Value error, ')}"
            if e["loc"]
            else "--until: must be after --since"
            for e in error.errors()
        ]
        raise CliError("\n".join(problems), EXIT_INVALID) from None


async def _report_sla(cases: Cases, args: argparse.Namespace, window: ReportWindow) -> None:
    tenants = None if args.tenant is None else (args.tenant,)
    try:
        engine = open_database(Settings())
        try:
            report = await build_sla_report(engine, cases.client, window, tenants, datetime.now(UTC))
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        raise CliError(
            f"database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE
        ) from None
    if args.format == "csv":
        sys.stdout.write(report_csv(report))
    elif args.format == "table":
        print(report_table(report))
    else:
        _emit(report)


def codec_server(origin: str) -> None:
    import uvicorn

    from adapters.codec_server import NoOperatorKey, create_codec_app

    settings = Settings()
    try:
        codec = codec_from_env()
        if codec is None:
            raise CliError("set CASEWORK_ENCRYPTION_KEY: there is nothing to decode without it", EXIT_INVALID)
        keyring = load_keyring(settings.api_keys_file, settings.api_tokens)
        app = create_codec_app(codec, keyring, origin)
    except (EncryptionKeyError, KeyFileError, NoOperatorKey) as error:
        raise CliError(str(error), EXIT_INVALID) from None
    configure_logging(settings.log_level)
    uvicorn.run(app, host=settings.api_host, port=settings.codec_port, log_config=None)


def outbox(case_id: str | None) -> list[dict[str, str]]:
    settings = Settings()
    if settings.smtp_host:
        print(
            f"note: mail goes to {settings.smtp_host}; only the embedded sink's mail is kept here",
            file=sys.stderr,
        )
    return [
        {
            "date": str(m["Date"]),
            "to": str(m["To"]),
            "subject": str(m["Subject"]),
            "case": str(m["X-Casework-Case"]),
            "language": str(m["Content-Language"]),
        }
        for m in read_mailbox(settings.mail_dir)
        if case_id is None or m["X-Casework-Case"] == case_id
    ]


def serve() -> None:
    import uvicorn

    from intake.api import create_app

    settings = Settings()
    try:
        keyring = load_keyring(settings.api_keys_file, settings.api_tokens)
    except KeyFileError as error:
        raise CliError(str(error), EXIT_INVALID) from None
    if not len(keyring):
        raise CliError(
            "set CASEWORK_API_KEYS (the key file) or CASEWORK_API_TOKENS (operator tokens) "
            "before serving the API",
            EXIT_INVALID,
        )
    configure_logging(settings.log_level)
    app = create_app(settings, keyring=keyring)
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_config=None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; whatever happens, stderr gets at most one sentence per problem, never a
    traceback (LOG_LEVEL=DEBUG adds the traceback of an unexpected error, for a bug report)."""
    args = build_parser().parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
        return code
    except BrokenPipeError:
        # `starter.py outbox | head -1`: the reader has what it wanted. Point stdout at devnull so
        # the flush at exit does not complain again, and leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug, or a failure nobody foresaw
        # The type only: an exception's text can carry a customer's data, and this line may be logged.
        print(
            f"unexpected error ({type(error).__name__}); LOG_LEVEL=DEBUG shows where it happened",
            file=sys.stderr,
        )
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            traceback.print_exc(file=sys.stderr)
        return EXIT_UNEXPECTED


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "policy":
            _emit(policy_due(args))
        elif args.command == "directory":
            _emit(directory_import(args.file))
        elif args.command == "archive":
            _emit(archive_export(args))
        elif args.command == "serve":
            serve()
        elif args.command == "outbox":
            _emit(outbox(args.case))
        elif args.command == "new-key":
            print(new_key())
        elif args.command == "codec-server":
            codec_server(args.origin)
        elif args.command == "replay" and args.file is not None:
            try:
                report = asyncio.run(
                    replay(args.case_id or args.file.stem, _load(args.file), _converter(), args.debug)
                )
            except EncryptionKeyNeeded as error:
                raise CliError(str(error), EXIT_INVALID) from None
            _emit(report)
            return 0 if report.ok else EXIT_NONDETERMINISTIC
        else:
            prepare = getattr(args, "prepare", None)
            payload = prepare(args) if prepare else None
            asyncio.run(_with_cases(args.run, args, payload))
    except CliError as error:
        print(error, file=sys.stderr)
        return error.code
    return 0
