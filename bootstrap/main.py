"""What the entry points run: the process set-up (a private umask, every setting checked), then the
worker (`worker.py`) or a CLI command (`starter.py`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from adapters.private_dir import private_dir, private_umask
from adapters.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from adapters.listeners import Listener
    from bootstrap.parts import Part


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:  # every bad variable, one a line; no traceback
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def worker_main(seed: Path | None, api: bool, only: Part | None = None) -> int:
    """The worker process: an embedded dev server unless a cluster is configured, the worker, and
    with `api` the HTTP intake in the same process; with `only`, one of its two parts. A port that
    cannot be had is one line naming its variable and exit status 2, before anything starts."""
    from adapters.listeners import CannotListen
    from bootstrap.ports import claim_listeners

    private_umask()  # before anything is created: var/, databases, mail, the dev server's files
    settings = _settings()
    try:
        claimed = claim_listeners(settings, api, only)  # every port first: a taken one stops it now
    except CannotListen as error:
        print(error, file=sys.stderr)
        return 2
    from bootstrap.runner import ApiStopped, run_worker  # the worker's imports are not the CLI's
    from bootstrap.worker_runtime import StartRefused, compile_sandboxed_modules

    try:
        private_dir(settings.var_dir)  # also tightens a var/ left world-readable by older versions
        compile_sandboxed_modules(settings.var_dir)
        asyncio.run(run_worker(settings, seed=seed, api=api, only=only, claimed=claimed))
    except CannotListen as error:
        print(error, file=sys.stderr)
        return 2
    except StartRefused as error:  # a webhook without a (strong) secret, a bad staff list
        print(error.code, file=sys.stderr)
        return 2
    except ApiStopped as error:
        print(error, file=sys.stderr)
        return 1
    except asyncio.CancelledError:  # SIGINT/SIGTERM while it was starting: stopped before it ran
        print("casework worker stopped before it was running", file=sys.stderr)
    return 0


def starter_main(argv: Sequence[str] | None = None) -> int:
    """One CLI command; its exit code."""
    from adapters.listeners import CannotListen, check_free

    private_umask()  # what the CLI writes (var/, exports) is readable by the user only
    settings = _settings()  # every variable checked before any command runs
    words = list(sys.argv[1:] if argv is None else argv)
    # A server command's port, before the CLI's imports (seconds on a busy machine): taken, one line.
    listener = _server_listener(words[0] if words else "", settings)
    if listener is not None:
        try:
            check_free([listener])
        except CannotListen as error:
            print(error, file=sys.stderr)
            return 2
    from bootstrap.cli import run_cli

    return run_cli(argv, settings)


def casework_main() -> NoReturn:
    """The `casework` console script that `pip install .` puts on the PATH (`casework open ...`):
    the same commands as `python starter.py`, left without CPython finalization like it."""
    from adapters.process_exit import exit_now

    exit_now(starter_main())


def _server_listener(command: str, settings: Settings) -> Listener | None:
    from adapters.listeners import Listener

    if command == "serve":
        return Listener("CASEWORK_API_PORT", "the HTTP API", settings.api_host, settings.api_port)
    if command == "codec-server":
        return Listener("CASEWORK_CODEC_PORT", "the codec server", settings.api_host, settings.codec_port)
    return None
