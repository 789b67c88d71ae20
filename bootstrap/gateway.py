"""The intake's gateway (`application.cases.Cases`) as this installation runs it, over the Temporal client
and the database engine it is handed: the directory's contact check, the open-case cap, the
verification gate. The worker's process, `starter.py serve` and the CLI all get theirs from here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine
from temporalio.client import Client

from adapters.case_numbers import CaseNumbers
from adapters.codec import key_ring_from_env
from adapters.console_cases import ConsoleCases
from adapters.database import open_database
from adapters.directory_store import DirectoryStore, VerificationFailures
from adapters.policy_file import policy_problem
from adapters.secrets import verification_key
from adapters.settings import Settings
from application.cases import CaseClock, Cases, CasesSource, names_from_files, staff_from_file
from application.closed_views import closed_views
from application.limits import RateLimiter
from application.opening_files import Uploads
from application.verification_gate import WINDOW, VerificationGate

OPEN_WAIT = timedelta(seconds=15)


def verification_gate(settings: Settings, engine: Engine | None = None) -> VerificationGate:
    """The gate of this installation: its verification key, the wrong codes counted in its database
    (`engine`, or one opened from `settings`), `settings.verification_failures_per_hour` per caller
    and `verification_failures_per_tenant` for all of a tenant's callers."""
    failures = VerificationFailures(
        engine if engine is not None else open_database(settings),
        settings.verification_failures_per_hour,
        WINDOW,
        tenant_limit=settings.verification_failures_per_tenant,
    )
    return VerificationGate(verification_key(settings), failures)


def build_cases(
    client: Client,
    settings: Settings,
    engine: Engine,
    open_wait: timedelta = OPEN_WAIT,
    eager_start: bool = False,
    case_clock: CaseClock | None = None,
    openings: RateLimiter | None = None,
) -> Cases:
    """The gateway over `client`, with the directory checks, limits, verification gate and staff
    list (who may be assigned) of `settings` on `engine`; `eager_start` when a worker on `client`
    itself polls the task queue (the worker's own process); `case_clock`: the cases' clock when it is
    not this host's (a time-skipping test server's); `openings`: the fronts' limiter of new cases
    an hour per tenant (application.limits.FrontLimits; None: not limited, as the inbound mail)."""
    queue = ConsoleCases(engine, key_ring_from_env())  # the console's queue
    return Cases(
        client,
        settings.task_queue,
        open_wait=open_wait,
        directory=DirectoryStore(engine),
        max_open_cases=settings.open_cases_per_tenant,
        verification=verification_gate(settings, engine),
        staff=staff_from_file(settings.staff_file),
        names=names_from_files(settings.staff_file, settings.policy_path),
        numbers=CaseNumbers(engine),
        eager_start=eager_start,
        policy_check=partial(policy_problem, settings.policy_path),
        case_clock=case_clock,
        openings=openings,
        projection=queue.project,
        refresh_projection=queue.refresh,
        closed_views=closed_views(engine),  # cases past Temporal's retention: their closed record
        opening_files=Uploads(engine, settings),  # files given at opening
    )


def given(cases: Cases) -> CasesSource:
    """A gateway already made (over a client already connected) as the API and the CLI take it."""

    async def source() -> Cases:
        return cases

    return source


class CasesOnDemand:
    """The gateway connected to Temporal when first asked for, then the same one on every call
    (`starter.py serve` starts before Temporal may be up; the CLI connects only for the commands
    that talk to it). Callers asking while a connection is being made wait for that one; a failed
    connection is not kept (its error goes to each of them, and the next call tries again)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Client]],
        settings: Settings,
        engine: Callable[[], Engine],
        openings: RateLimiter | None = None,
    ) -> None:
        """`connect` opens the connection; `engine` gives the database the gateway's checks use;
        `openings`: the fronts' limiter of new cases (`build_cases`)."""
        self._connect = connect
        self._openings = openings
        self._settings = settings
        self._engine = engine
        self._cases: Cases | None = None
        self._connecting: asyncio.Task[Client] | None = None

    async def __call__(self) -> Cases:
        if self._cases is not None:
            return self._cases
        task = self._connecting
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = self._connecting = asyncio.ensure_future(self._connect())
        client = await asyncio.shield(task)
        if self._cases is None:
            self._cases = build_cases(client, self._settings, self._engine(), openings=self._openings)
        return self._cases
