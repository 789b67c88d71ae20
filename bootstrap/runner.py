"""Runs the worker: embedded dev server (or an existing cluster), search attributes, the worker, and
for `make run` the HTTP API in the same process, over the worker's own client and database engine."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import uvicorn
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.runtime import Runtime

from adapters.api_keys import demo_key_file, demo_tokens
from adapters.codec import codec_from_env, data_converter
from adapters.database import database_url, import_directory_file, open_database
from adapters.health import serve_health
from adapters.listeners import CannotListen, Listener
from adapters.logging import configure_logging, get_logger
from adapters.mail_sink import MailSink
from adapters.policy_file import policy_problem
from adapters.settings import Settings
from adapters.telemetry import make_runtime
from adapters.temporal import TemporalUnavailable, cluster_config, connect, embedded_dev_server
from bootstrap.api import api_app
from bootstrap.gateway import build_cases
from bootstrap.inbound_process import InboundProcess
from bootstrap.ports import Claimed, claim_listeners
from bootstrap.worker_runtime import (
    CaseWorkers,
    Part,
    build_worker,
    check_delivery_settings,
    register_case_search_attributes,
)
from support.identity.directory import parse_directory_file
from workflows.deliveries import deliveries_queue

log = get_logger("casework.worker")


class _QuietSignalsServer(uvicorn.Server):
    """uvicorn inside the worker's process: the worker owns SIGINT/SIGTERM and stops it."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def write_demo_keys(settings: Settings, seed: Path | None) -> Path:
    """A key file under var/ with a key of each role for the demo tenants, so a newcomer can try
    what each role may do. Made once (private to the user) and kept, so its tokens stay valid."""
    path = settings.var_dir / "demo-api-keys.toml"
    if path.exists():
        return path
    tenants = ["contoso", "fabrikam", "northwind"]
    if seed is not None:
        tenants = sorted(parse_directory_file(seed.read_text(encoding="utf-8"), str(seed)).tenants)
    text, _ = demo_key_file(tenants)
    settings.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return path


def _demo_key_lines(path: Path) -> list[str]:
    lines = [f"  demo API keys       : {path} (one of each role; never use them in production)"]
    for principal, token in demo_tokens(path):
        scope = ", ".join(principal.tenants) if principal.tenants else "every tenant"
        lines.append(f"      {principal.role.value:<9} {principal.name:<18} {scope:<14} {token}")
    return lines


def _banner(
    settings: Settings,
    address: str,
    embedded: bool,
    api_token: str | None,
    embedded_mail: bool,
    demo_keys: Path | None = None,
    inbound_port: int | None = None,
    deliveries_apart: bool = False,
) -> str:
    lines = ["", "casework worker is running"]
    if embedded:
        lines += [
            f"  Temporal dev server : {address} (persisted in {settings.dev_server_db})",
            f"  Temporal web UI     : http://localhost:{settings.ui_port}",
        ]
    else:
        lines.append(f"  Temporal cluster    : {address}")
    lines += [
        f"  task queue          : {settings.task_queue}"
        + ("" if not deliveries_apart else " (cases only: `worker.py --only deliveries` sends their mail)"),
        f"  policy              : {settings.policy_path}",
        f"  mail                : {settings.smtp_host}:{settings.smtp_port}"
        + (
            f" (embedded sink, kept in {settings.mail_dir}; `starter.py outbox` lists it)"
            if embedded_mail
            else ""
        ),
        f"  directory database  : {database_url(settings).split('@')[-1]}",
    ]
    if inbound_port is not None:
        lines.append(
            f"  inbound mail        : smtp://{settings.inbound_smtp_host}:{inbound_port} "
            f"(replies to case+<token>@{settings.reply_to_domain})"
        )
    else:
        lines.append(
            "  inbound mail        : off (CASEWORK_INBOUND_SMTP_PORT=0): customers' replies are not read"
        )
    if settings.health_port:
        lines.append(f"  liveness            : http://localhost:{settings.health_port}/healthz")
    if settings.metrics_port:
        lines.append(
            f"  metrics             : http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        )
    if api_token is not None:
        lines += [
            f"  HTTP API            : http://localhost:{settings.api_port}/docs",
            f"  console             : http://localhost:{settings.api_port}/console/ (sign in with a key)",
            f"  API token           : {api_token} (operator)"
            if api_token
            else "  API keys            : from CASEWORK_API_KEYS / CASEWORK_API_TOKENS",
        ]
        if demo_keys is not None:
            lines += _demo_key_lines(demo_keys)
    lines += [
        "",
        "Open a case from another terminal:",
        "  .venv/bin/python starter.py open --tenant contoso --requester admin@contoso.example \\",
        "      --category technical --severity A --title 'Mail is down' \\",
        "      --description 'No mail since 9:00' --email admin@contoso.example",
        "  .venv/bin/python starter.py list",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


# SIGINT or SIGTERM ends the process within this many seconds whatever is still running: running
# activities get GRACEFUL_SHUTDOWN (5 s) of it; a second signal ends it at once.
STOP_DEADLINE_S = 9.0
API_SHUTDOWN_S = 3  # requests in flight when stopping get this long to be answered


async def run_worker(
    settings: Settings,
    seed: Path | None = None,
    api: bool = False,
    only: Part | None = None,
    claimed: Claimed | None = None,
) -> None:
    """The worker until SIGINT/SIGTERM. `claimed`: its listeners (`claim_listeners`), claimed here
    when not given. CannotListen (one line) when a port is taken."""
    configure_logging(settings.log_level)
    check_delivery_settings(settings)  # before anything starts: refuse unsigned webhooks, a bad staff list
    claimed = claimed or claim_listeners(settings, api, only)
    stop = _Stop(asyncio.current_task())
    engine = open_database(settings)  # the process's one engine: the worker's activities and the API's
    try:
        if only == "deliveries":
            await _run_deliveries(settings, engine, stop, claimed)
        else:
            await _run(settings, engine, seed, api, only, stop, claimed)
    finally:
        claimed.close()
        engine.dispose()


def _hard_exit(why: str) -> None:
    """The last resort of a stop that did not end in time: one line, and the process ends."""
    print(f"casework: {why}; exiting now", file=sys.stderr, flush=True)
    os._exit(1)


class _Stop:
    """SIGINT and SIGTERM, for the whole life of the process. While it starts, a signal stops the
    start (the main task is cancelled: whatever started is stopped as it unwinds); once it runs,
    the signal sets `event` and the process winds down in order (the API and inbound mail first,
    then the worker's running tasks, then the dev server). Either way a timer thread ends the
    process STOP_DEADLINE_S after the first signal if it is still there, and a second signal ends
    it at once: whatever hangs (a server that went away, a task that does not finish), Ctrl-C ends
    casework."""

    def __init__(self, main: asyncio.Task[None] | None) -> None:
        self.event = asyncio.Event()
        self.running = False
        self._main = main
        self._deadline: threading.Timer | None = None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled, sig)

    def _signalled(self, sig: signal.Signals) -> None:
        if self._deadline is not None:
            _hard_exit(f"{sig.name} again")
        self._deadline = threading.Timer(
            STOP_DEADLINE_S, _hard_exit, args=(f"still stopping {STOP_DEADLINE_S:.0f} s after {sig.name}",)
        )
        self._deadline.daemon = True
        self._deadline.start()
        log.info("stopping", signal=sig.name)
        if self.running or self._main is None:
            self.event.set()
        else:
            self._main.cancel()  # still starting: stop the start itself

    async def wait(self) -> None:
        await self.event.wait()


async def _run_deliveries(settings: Settings, engine: Engine, stop: _Stop, claimed: Claimed) -> None:
    """`worker.py --only deliveries`: the cases' deliveries in a process of their own, so that
    sending mail and deciding cases each have a core. On the configured cluster, or beside a
    `worker.py` on this machine: its embedded dev server and, with no SMTP_HOST, its mail sink."""
    if settings.smtp_host is None:
        settings = settings.replace(smtp_host="127.0.0.1", smtp_port=settings.sink_port, smtp_security="none")
    runtime = make_runtime(settings)
    try:
        client = await connect(settings, runtime)
    except TemporalUnavailable as error:
        raise SystemExit(str(error)) from None
    worker = build_worker(client, settings, engine=engine, only="deliveries")
    runner = asyncio.create_task(worker.run())
    health: asyncio.Server | None = None
    try:
        health = await _serve_health(settings, claimed, runner)
        address = client.service_client.config.target_host
        print(
            "\n".join(
                [
                    "",
                    "casework deliveries worker is running",
                    f"  Temporal            : {address}",
                    f"  task queue          : {deliveries_queue(settings.task_queue)}",
                    f"  mail                : {settings.smtp_host}:{settings.smtp_port}",
                    "Run the case worker beside it with `worker.py --only cases`.",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            ),
            flush=True,
        )
        stop.running = True
        await asyncio.wait([runner, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    finally:
        await _wind_down(worker, runner, health)
    log.info("stopped")


async def _wind_down(worker: CaseWorkers, runner: asyncio.Task[None], health: asyncio.Server | None) -> None:
    """Once stopping (or when the start failed after the worker began): running tasks get their
    graceful time to finish, then liveness ends. Always before the dev server stops: a worker whose
    server went away first waits for it for ever (its cached cases are never evicted)."""
    if not runner.done():
        log.info("stopping: finishing running tasks")
        await worker.shutdown()
    try:
        await runner
    finally:
        if health is not None:
            health.close()


async def _serve_health(
    settings: Settings, claimed: Claimed, runner: asyncio.Task[None]
) -> asyncio.Server | None:
    if claimed.health is None:
        return None

    async def degraded() -> str | None:
        problem = await asyncio.to_thread(policy_problem, settings.policy_path)
        return None if problem is None else f"new cases wait: the policy file is invalid: {problem}"

    sock, claimed.health = claimed.health, None  # the server owns it now
    return await serve_health(sock, lambda: not runner.done(), degraded)


async def _watch_policy(path: Path, every_s: float = 2.0) -> None:
    """The policy file's own error in the log at once (at start, and within `every_s` of an edit
    that breaks it), and when it is usable again: cases opened meanwhile wait, undecided."""
    reported: str | None = None
    while True:
        problem = await asyncio.to_thread(policy_problem, path)
        if problem != reported:
            if problem is not None:
                log.error("policy file invalid: new cases wait until it is fixed", problem=problem)
            else:
                log.info("policy file valid again: waiting cases are being decided", path=str(path))
            reported = problem
        await asyncio.sleep(every_s)


class ApiStopped(RuntimeError):
    """uvicorn ended on its own (it calls sys.exit when it cannot start): never a SystemExit
    escaping its task, which would end the event loop with every task cancelled at once."""


async def _serve_api(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exit_:
        raise ApiStopped(f"the HTTP API stopped (uvicorn exit {exit_.code})") from None


async def _run(
    settings: Settings,
    engine: Engine,
    seed: Path | None,
    api: bool,
    only: Part | None,
    stop: _Stop,
    claimed: Claimed,
) -> None:
    if seed is not None:
        counts = import_directory_file(engine, seed)
        log.info("directory imported", source=str(seed), **counts)
    runtime = make_runtime(settings)  # binds METRICS_PORT
    sink: MailSink | None = None
    if settings.smtp_host is None:
        sink = _start_sink(settings)
        settings = settings.replace(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_security="none")
    try:
        await _serve(
            settings, engine, seed, api, only, stop, claimed, runtime, embedded_mail=sink is not None
        )
    finally:
        if sink is not None:
            sink.stop()
    log.info("stopped")


def _start_inbound(settings: Settings, runtime: Runtime) -> asyncio.Task[InboundProcess] | None:
    """The inbound mail listener's process, starting (None when CASEWORK_INBOUND_SMTP_PORT=0); each
    outcome it reports is counted in the metric `casework_inbound_mail`."""
    if settings.inbound_smtp_port is None:
        return None
    counter = runtime.metric_meter.create_counter(
        "casework_inbound_mail", "mails received for case reply addresses, by outcome"
    )

    def count(outcome: str) -> None:
        counter.add(1, {"outcome": outcome})

    return asyncio.create_task(InboundProcess(settings, count).start())


async def _stop_inbound(starting: asyncio.Task[InboundProcess]) -> None:
    """Stop the listener's process, or its start (idempotent)."""
    if not starting.done():
        starting.cancel()
    try:
        process = await starting
    except (asyncio.CancelledError, CannotListen):
        return
    await process.stop()


def _start_sink(settings: Settings) -> MailSink:
    try:
        return MailSink(settings.mail_dir, port=settings.sink_port).start()
    except (OSError, RuntimeError) as error:  # aiosmtpd re-raises its thread's bind error
        listener = Listener(
            "CASEWORK_SMTP_SINK_PORT", "the embedded SMTP sink", "127.0.0.1", settings.sink_port
        )
        failure = error if isinstance(error, OSError) else OSError(0, str(error))
        raise CannotListen([listener.refusal(failure)]) from None


async def _serve(
    settings: Settings,
    engine: Engine,
    seed: Path | None,
    api: bool,
    only: Part | None,
    stop: _Stop,
    claimed: Claimed,
    runtime: Runtime,
    embedded_mail: bool,
) -> None:
    api_token: str | None = None
    demo_keys: Path | None = None
    if api:
        api_token = ""
        if not settings.api_tokens and settings.api_keys_file is None:
            api_token = secrets.token_urlsafe(24)  # a dev operator token for this run only
            demo_keys = write_demo_keys(settings, seed)
            settings = settings.replace(api_tokens=(api_token,), api_keys_file=demo_keys)
    async with AsyncExitStack() as stack:
        cluster = cluster_config()
        if cluster is None:
            env = await stack.enter_async_context(embedded_dev_server(settings, runtime))
            client = env.client
            address = f"localhost:{settings.dev_server_port}"
        else:
            client = await Client.connect(
                **cluster, data_converter=data_converter(codec_from_env()), runtime=runtime
            )
            address = str(cluster.get("target_host"))
        added = await register_case_search_attributes(client)
        if added:
            log.info("registered search attributes", names=added)
        # The worker's own client and engine; the worker below polls on this client, so a case
        # opened here may be started eagerly (its first task handed to it with the start's answer).
        cases = build_cases(client, settings, engine, eager_start=True)
        # Customers' email replies: casework's own SMTP listener, in a process of its own
        # (docs/inbound-mail.md). Before the worker runs: a port that cannot be bound stops the
        # start (CannotListen); it starts while the worker does.
        starting = _start_inbound(settings, runtime)
        if starting is not None:
            stack.push_async_callback(_stop_inbound, starting)
        policy = asyncio.create_task(_watch_policy(settings.policy_path))
        stack.callback(policy.cancel)
        worker = build_worker(client, settings, engine=engine, only=only)
        runner = asyncio.create_task(worker.run())
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        health: asyncio.Server | None = None
        try:  # from here on, whatever happens, the worker stops before the dev server does
            if api and claimed.api is not None:
                config = uvicorn.Config(
                    # the worker's own client and engine: one connection and one pool in the process
                    api_app(settings, cases=cases, engine=engine),
                    log_config=None,
                    access_log=False,
                    timeout_graceful_shutdown=API_SHUTDOWN_S,
                )
                server = _QuietSignalsServer(config)
                sock, claimed.api = claimed.api, None  # uvicorn owns it now
                serving = asyncio.create_task(_serve_api(server, sock))
                for _ in range(600):  # say "ready" only once the API is listening (uvicorn has no event)
                    if server.started or serving.done():
                        break
                    await asyncio.sleep(0.05)
                if serving.done():
                    serving.result()  # its failure, as it was
            inbound = await starting if starting is not None else None
            health = await _serve_health(settings, claimed, runner)
            print(
                _banner(
                    settings,
                    address,
                    cluster is None,
                    api_token=api_token,
                    embedded_mail=embedded_mail,
                    demo_keys=demo_keys,
                    inbound_port=inbound.port if inbound is not None else None,
                    deliveries_apart=only == "cases",
                ),
                flush=True,
            )
            stop.running = True
            waits: list[asyncio.Future[None]] = [runner, asyncio.create_task(stop.wait())]
            if serving is not None:
                waits.append(serving)  # the API ending on its own stops the process too
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if starting is not None:
                await _stop_inbound(starting)  # no new replies once stopping: their senders retry
            if server is not None and serving is not None:
                server.should_exit = True
                await asyncio.wait([serving])
            await _wind_down(worker, runner, health)
        if serving is not None and serving.done() and not serving.cancelled():
            serving.result()  # the API's own end (ApiStopped) ends the process with its line
