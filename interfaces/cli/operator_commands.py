"""The operator's commands of `starter.py`: the directory and archive databases, a case's history,
replay and timeline, reports, the API and codec servers, the embedded sink's outbox, keys, and the
policy's answers without a server. The CLI acts as operator (it talks to Temporal directly).
The database, the Temporal connection and the API app are handed over (`Services`, from
`bootstrap/cli.py`); no command opens them itself.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import socket
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from adapters.api_keys import KeyFileError, load_keyring
from adapters.closed_cases import export_closed_cases
from adapters.codec import (
    EncryptionKeyError,
    SealError,
    codec_from_env,
    data_converter,
    key_ring_from_env,
    new_key,
)
from adapters.database import database_url
from adapters.directory_store import import_directory
from adapters.listeners import CannotListen, Listener, claim, serve_http
from adapters.logging import configure_logging
from adapters.mail_sink import read_mailbox
from adapters.policy_file import load_policy_snapshot
from adapters.settings import Settings
from application.cases import Cases
from application.ledgers import LANGUAGES, explained, read_ledger
from application.reports import build_sla_report
from interfaces.cli.command_line import (
    EXIT_INVALID,
    EXIT_NONDETERMINISTIC,
    EXIT_UNAVAILABLE,
    CliError,
    Services,
    aware,
    emit,
    tenant,
    with_cases,
    zone,
)
from interfaces.cli.console_projection import reproject
from interfaces.cli.history import (
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
from interfaces.cli.whatif_commands import add_whatif_commands
from support.identity.access import CLI_OPERATOR, Principal, Role
from support.identity.directory import DirectoryError, parse_directory_file
from support.policies.policy import PolicyError
from support.policies.vocabulary import Agreement, Category, Severity
from support.reporting.reports import ReportWindow, report_csv, report_table
from support.rules.case_terms import case_terms
from workflows.support_case import SupportCaseWorkflow


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


def directory_import(path: Path, services: Services) -> dict[str, Any]:
    settings = services.settings
    try:
        directory = parse_directory_file(path.read_text(encoding="utf-8"), str(path))
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}", EXIT_INVALID) from None
    except DirectoryError as error:
        raise CliError(str(error), EXIT_INVALID) from None
    try:
        counts = import_directory(services.database(), directory)
    except SQLAlchemyError as error:
        raise CliError(
            f"directory database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE
        ) from None
    return {"imported": counts, "database": database_url(settings).split("@")[-1]}


def archive_export(args: argparse.Namespace, services: Services) -> dict[str, Any]:
    try:
        keys = key_ring_from_env()
        written = export_closed_cases(
            services.database(), args.output, args.since, args.until, args.tenant, keys
        )
    except (EncryptionKeyError, SealError) as error:
        raise CliError(str(error), EXIT_INVALID) from None
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
        emit({"case_id": args.case_id, "written": str(args.output)})
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
        emit(reports)
        if not all(r.ok for r in reports):
            raise CliError(
                f"{sum(not r.ok for r in reports)} of {len(reports)} cases would not replay",
                EXIT_NONDETERMINISTIC,
            )
        return
    if not args.case_id:
        raise CliError("give a CASE_ID, --file FILE or --all", EXIT_INVALID)
    report = await replay(args.case_id, await fetch_runs(cases.client, args.case_id), converter, args.debug)
    emit(report)
    if not report.ok:
        raise CliError(
            "the history does not replay against this code (see divergence)", EXIT_NONDETERMINISTIC
        )


async def _timeline(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    view = await cases.show(args.case_id)
    if args.json:
        emit([line.__dict__ for line in timeline_lines(view)])
    else:
        print(render_timeline(view))


async def _explain(cases: Cases, args: argparse.Namespace, _: Any) -> None:
    ledger = await read_ledger(cases, args.case_id, CLI_OPERATOR, datetime.now(UTC))
    if args.json:
        emit(ledger)
    else:
        print(explained(ledger, args.language, args.time_zone))


def _window_problem(message: str) -> str:
    return "must be after --since" if message.startswith("until must be after") else message


def _prepare_report(args: argparse.Namespace) -> BaseModel:
    try:
        return ReportWindow(since=args.since, until=args.until)
    except ValidationError as error:
        problems = [
            f"--{e['loc'][0]}: {e['msg'].removeprefix('Value error, ')}"
            if e["loc"]
            else "--until: " + _window_problem(e["msg"].removeprefix("Value error, "))
            for e in error.errors()
        ]
        raise CliError("\n".join(problems), EXIT_INVALID) from None


async def _report_sla(
    services: Services, cases: Cases, args: argparse.Namespace, window: ReportWindow
) -> None:
    tenants = None if args.tenant is None else (args.tenant,)
    try:
        report = await build_sla_report(
            services.database(), cases.client, window, tenants, datetime.now(UTC), assignees=True
        )
    except SQLAlchemyError as error:
        raise CliError(
            f"database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE
        ) from None
    if args.format == "csv":
        sys.stdout.write(report_csv(report))
    elif args.format == "table":
        print(report_table(report))
    else:
        emit(report)


def codec_server(origin: str, settings: Settings) -> None:
    from adapters.codec_server import NoOperatorKey, create_codec_app

    try:
        codec = codec_from_env()
        if codec is None:
            raise CliError("set CASEWORK_ENCRYPTION_KEY: there is nothing to decode without it", EXIT_INVALID)
        keyring = load_keyring(settings.api_keys_file, settings.api_tokens)
        app = create_codec_app(codec, keyring, origin)
    except (EncryptionKeyError, KeyFileError, NoOperatorKey) as error:
        raise CliError(str(error), EXIT_INVALID) from None
    sock = _claim(Listener("CASEWORK_CODEC_PORT", "the codec server", settings.api_host, settings.codec_port))
    configure_logging(settings.log_level)
    serve_http(app, sock)


def outbox(case_id: str | None, settings: Settings) -> list[dict[str, str]]:
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


def serve(services: Services) -> None:
    settings = services.settings
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
    sock = _claim(Listener("CASEWORK_API_PORT", "the HTTP API", settings.api_host, settings.api_port))
    configure_logging(settings.log_level)
    app = services.api(keyring)  # over this process's database; Temporal is connected when first needed
    serve_http(app, sock)


def _claim(listener: Listener) -> socket.socket:
    """The port first, before the app or the database: a taken one is one line naming its
    variable, exit status 2 (not uvicorn's log and exit after the app started)."""
    try:
        return claim([listener])[0]
    except CannotListen as error:
        raise CliError(str(error), EXIT_INVALID) from None


def _replay_command(args: argparse.Namespace, services: Services) -> int:
    """A file replays without a server; a case or --all are fetched from Temporal."""
    if args.file is None:
        asyncio.run(with_cases(_replay, args, None, services.cases))
        return 0
    try:
        report = asyncio.run(
            replay(args.case_id or args.file.stem, _load(args.file), _converter(), args.debug)
        )
    except EncryptionKeyNeeded as error:
        raise CliError(str(error), EXIT_INVALID) from None
    emit(report)
    return 0 if report.ok else EXIT_NONDETERMINISTIC


def keys_new(args: argparse.Namespace) -> dict[str, Any]:
    """A new API key: its token (shown once, give it to the caller) and the entry for the key file,
    which holds only the token's SHA-256."""
    try:
        principal = Principal(name=args.name, role=args.role, tenants=tuple(args.tenant or ()))
    except ValidationError as error:
        raise CliError(
            "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors()), EXIT_INVALID
        ) from None
    token = secrets.token_urlsafe(32)
    lines = [
        "[[keys]]",
        f'name = "{principal.name}"',
        f'token_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"',
        f'role = "{principal.role.value}"',
    ]
    if principal.tenants:
        lines.append("tenants = [" + ", ".join(f'"{t}"' for t in principal.tenants) + "]")
    return {"name": principal.name, "role": principal.role.value, "token": token, "entry": "\n".join(lines)}


def add_operator_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], services: Services
) -> None:
    d = sub.add_parser("directory", help="the tenant directory database")
    dsub = d.add_subparsers(dest="directory_command", required=True)
    imp = dsub.add_parser("import", help="load tenants and incidents from a TOML or JSON file (idempotent)")
    imp.add_argument("file", type=Path)

    ar = sub.add_parser("archive", help="the final records of closed cases (the closed_cases table)")
    asub = ar.add_subparsers(dest="archive_command", required=True)
    aex = asub.add_parser(
        "export", help="one <case-id>.json per case that ended (closed, or refused) in [since, until)"
    )
    aex.add_argument("--since", type=aware, help="ISO 8601 with offset (included; default: from the first)")
    aex.add_argument("--until", type=aware, help="ISO 8601 with offset (excluded; default: to the last)")
    aex.add_argument("--tenant", type=tenant, help="one tenant (default: every tenant)")
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

    xp = sub.add_parser("explain", help="why a case's clocks met or breached: its SLA ledger, told")
    xp.add_argument("case_id")
    xp.add_argument("--language", choices=LANGUAGES, default="en", help="the reader's language")
    xp.add_argument("--time-zone", type=zone, help="the reader's IANA zone (default: the case's calendar)")
    xp.add_argument("--json", action="store_true", help="the ledger as JSON")
    xp.set_defaults(run=_explain)

    con = sub.add_parser("console", help="the console's projection of cases (its queue and search)")
    con.add_subparsers(dest="console_command", required=True).add_parser(
        "reproject", help="write every open case's row from the case (after an upgrade; safe to repeat)"
    ).set_defaults(run=reproject)

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
    sla.add_argument("--since", type=aware, required=True, help="ISO 8601 with offset (included)")
    sla.add_argument("--until", type=aware, required=True, help="ISO 8601 with offset (excluded)")
    sla.add_argument("--tenant", type=tenant, help="one tenant (default: every tenant)")
    sla.add_argument("--format", choices=["json", "table", "csv"], default="json")
    sla.set_defaults(run=partial(_report_sla, services), prepare=_prepare_report)

    p = sub.add_parser("policy", help="ask the policy questions without a server")
    psub = p.add_subparsers(dest="policy_command", required=True)
    due = psub.add_parser("due", help="effective severity, calendar and first-response deadline")
    due.add_argument("--severity", type=Severity, choices=list(Severity), required=True)
    due.add_argument("--category", type=Category, choices=list(Category), required=True)
    due.add_argument("--opened", type=aware, required=True, help="ISO 8601 with offset")
    due.add_argument("--agreement", type=Agreement, choices=list(Agreement), default=Agreement.STANDARD)
    due.add_argument("--time-zone", type=zone, help="the tenant's IANA zone (pre-sales calendar)")

    k = sub.add_parser("keys", help="API keys: make a new one for the key file (CASEWORK_API_KEYS)")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    kn = ksub.add_parser(
        "new", help="print a new token and its key-file entry (the file keeps only its SHA-256)"
    )
    kn.add_argument("--name", required=True, help="who the caller is, e.g. contoso-portal or li.wei")
    kn.add_argument("--role", required=True, type=Role, choices=list(Role))
    kn.add_argument(
        "--tenant", action="append", help="portal and phone keys: a tenant it acts for (repeat; '*' = all)"
    )
    kn.set_defaults(call=lambda args: emit(keys_new(args)))

    # Commands that need no Temporal connection run as they are.
    d.set_defaults(call=lambda args: emit(directory_import(args.file, services)))
    ar.set_defaults(call=lambda args: emit(archive_export(args, services)))
    sub.choices["new-key"].set_defaults(call=lambda args: print(new_key()))
    cs.set_defaults(call=lambda args: codec_server(args.origin, services.settings))
    sub.choices["serve"].set_defaults(call=lambda args: serve(services))
    ob.set_defaults(call=lambda args: emit(outbox(args.case, services.settings)))
    rp.set_defaults(call=lambda args: _replay_command(args, services), run=None)
    due.set_defaults(call=lambda args: emit(policy_due(args)))
    add_whatif_commands(sub, psub, services, _prepare_report)  # whatif, policy history | diff
