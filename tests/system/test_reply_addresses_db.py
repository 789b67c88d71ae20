"""Case reply addresses on SQLite and PostgreSQL (tests/postgres.py): a token recorded through one
engine (a delivery worker) is found through another (an inbound listener on another process), the
longest case id fits, recording it again (or from several workers at once) keeps one row, and a
token never recorded names no case."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from adapters.database import open_database
from adapters.reply_addresses import ReplyAddresses
from adapters.schema import reply_addresses
from adapters.settings import Settings
from support.messaging.reply_addresses import reply_key, reply_token, tenant_of_case
from support.rules.request import case_id_for

KEY = reply_key(b"k" * 32)


def test_a_recorded_token_names_its_case_on_every_process(tmp_path: Path, database_url: str) -> None:
    settings = Settings(var_dir=tmp_path / "var", database_url=database_url)
    engines = [open_database(settings) for _ in range(4)]  # a delivery worker, listeners elsewhere
    worker, listener = ReplyAddresses(engines[0]), ReplyAddresses(engines[1])
    case_id = case_id_for("t" * 63, "r" * 64)  # the longest form a case id takes: 133 characters
    token = reply_token(case_id, KEY)
    before = datetime.now(UTC)
    try:
        assert listener.case_for(token) is None
        worker.remember(token, case_id, tenant_of_case(case_id))
        assert listener.case_for(token) == case_id
        assert listener.case_for(reply_token("case-contoso.never", KEY)) is None, "never sent"

        other = reply_token("case-contoso.r-1", KEY)
        record = (other, "case-contoso.r-1", "contoso")
        threads = [threading.Thread(target=ReplyAddresses(e).remember, args=record) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        worker.remember(token, case_id, tenant_of_case(case_id))  # again: nothing changes
        with engines[2].connect() as connection:
            rows = connection.execute(select(reply_addresses).order_by(reply_addresses.c.tenant_id)).all()
            assert connection.execute(select(func.count()).select_from(reply_addresses)).scalar() == 2
        assert [(r.token, r.case_id, r.tenant_id) for r in rows] == [
            (other, "case-contoso.r-1", "contoso"),
            (token, case_id, "t" * 63),
        ]
        assert all(before - timedelta(seconds=1) <= r.created_at <= datetime.now(UTC) for r in rows)
        assert listener.case_for(other) == "case-contoso.r-1"
    finally:
        for engine in engines:
            engine.dispose()
