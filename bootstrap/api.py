"""The HTTP intake (`interfaces.api.app.create_app`) as this installation serves it: its keys, its database
engine, its gateway to the cases.

`make run` (`worker.py --api`) hands it the worker's own engine and a gateway over the worker's own
Temporal client (`bootstrap/runner.py`); `starter.py serve` the CLI's engine and a gateway that
connects to Temporal when first needed (`bootstrap/cli.py`); tests the gateway they made.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.api_keys import KeyFileError, Keyring, load_keyring
from adapters.console_sessions import SignedOutSessions
from adapters.database import open_database
from adapters.directory_store import DirectoryStore
from adapters.policy_file import load_policy_version, policy_problem
from adapters.policy_versions import PolicyVersions, this_process
from adapters.secrets import verification_key
from adapters.settings import Settings
from adapters.temporal import connect
from application.cases import Cases, CasesSource, staff_from_file
from application.limits import FrontLimits
from application.opening_files import Uploads
from bootstrap.gateway import CasesOnDemand, given, verification_gate
from interfaces.api.app import create_app
from interfaces.api.expected_wait import ExpectedWaits, expected_wait_router
from interfaces.console.front import install_console
from support.policies.policy import PolicyError


def keyring_for(settings: Settings) -> Keyring:
    """The API's principals, read again when the key file changes (`WatchedKeyring`); a key file
    that cannot be used stops the start with its reason."""
    try:
        return load_keyring(settings.api_keys_file, settings.api_tokens)
    except KeyFileError as error:
        raise SystemExit(str(error)) from None


def record_policy_file(settings: Settings, database: Engine) -> None:
    """The policy file the API loads is on record like the workers' (a bad file: /healthz says so)."""
    with contextlib.suppress(PolicyError, SQLAlchemyError):
        loaded = load_policy_version(settings.policy_path, datetime.now(UTC).year)
        PolicyVersions(database, this_process("api")).record(loaded.digest, loaded.snapshot, loaded.text)


def api_app(
    settings: Settings,
    cases: Cases | None = None,
    keyring: Keyring | None = None,
    engine: Engine | None = None,
) -> FastAPI:
    """The app. `keyring` defaults to the settings' keys; `engine` to a database opened from the
    settings. Without `cases` the app connects to Temporal when a request first needs it (an
    unreachable Temporal is a 503 until it answers). The expected-wait endpoint and the console
    (/console/) are served beside the API over the same gateway. A gateway made without the
    installation's directory check, verification gate, staff list, policy check or the fronts'
    openings limit (a test's `Cases(client, task_queue)`) is served as one made with them
    (`Cases.completed`)."""
    keys = keyring if keyring is not None else keyring_for(settings)
    database = engine if engine is not None else open_database(settings)
    limits = FrontLimits.of(settings)  # one budget per key and per client address for both fronts
    if cases is None:
        connecting = CasesOnDemand(lambda: connect(settings), settings, lambda: database, limits.openings)
        source: CasesSource = connecting
    else:
        completed = cases.completed(
            directory=DirectoryStore(database),
            verification=verification_gate(settings, database),
            staff=staff_from_file(settings.staff_file),
            openings=limits.openings,
            policy_check=partial(policy_problem, settings.policy_path),
            opening_files=Uploads(database, settings),
        )
        source = given(completed)
    record_policy_file(settings, database)
    app = create_app(settings, keys, database, source, limits)
    waits = ExpectedWaits(settings.policy_path, DirectoryStore(database))
    app.include_router(expected_wait_router(waits))
    # /console/, in front of the API's guard; its sessions signed with a key every process shares,
    # and signed out in the database they share
    session_key = verification_key(settings)
    sign_outs = SignedOutSessions(database)
    install_console(app, settings, keys, database, source, waits, session_key, sign_outs, limits)
    return app
