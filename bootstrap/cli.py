"""The CLI (`interfaces.cli.main`) as `starter.py` runs it: one command, handed the settings, a database
engine and a Temporal connection that are opened only when the command asks for them, once, and
closed when it ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from temporalio.client import Client

from adapters.api_keys import Keyring
from adapters.database import open_database
from adapters.settings import Settings
from adapters.temporal import connect
from bootstrap.gateway import CasesOnDemand
from interfaces.cli.command_line import Services, key_checked
from interfaces.cli.main import main as cli_main

if TYPE_CHECKING:  # FastAPI is imported only by `serve` (the CLI starts faster without it)
    from fastapi import FastAPI

    from interfaces.mail_in.routing import InboundMail, ReplyGateway


class _Opened:
    """What one command opened: the database engine on first use, the Temporal connection on
    first use (then the database, for the gateway's checks), both kept for the command's life."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    def database(self) -> Engine:
        if self._engine is None:
            self._engine = open_database(self.settings)
        return self._engine

    async def connect(self) -> Client:
        """The CLI's view of the connection: a payload it cannot open is one clear sentence."""
        return key_checked(await connect(self.settings))

    def api(self, keyring: Keyring) -> FastAPI:
        """`starter.py serve`: the API over this process's database; it connects to Temporal when
        a request first needs it. FastAPI is imported here: every other command starts without it."""
        from bootstrap.api import api_app

        return api_app(self.settings, keyring=keyring, engine=self.database())

    def mail_routing(self, cases: ReplyGateway) -> InboundMail:
        """`starter.py mail release`: the inbound mail's routing over this process's database."""
        from bootstrap.inbound import release_routing

        return release_routing(self.settings, self.database())(cases)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def run_cli(argv: Sequence[str] | None, settings: Settings) -> int:
    """One command of `starter.py` with these settings; its exit code."""
    opened = _Opened(settings)
    services = Services(
        settings=settings,
        cases=CasesOnDemand(opened.connect, settings, opened.database),
        database=opened.database,
        api=opened.api,
        mail_routing=opened.mail_routing,
    )
    try:
        return cli_main(argv, services)
    finally:
        opened.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`run_cli` with the settings of the environment (tests call this as they would `starter.py`)."""
    return run_cli(argv, Settings())
