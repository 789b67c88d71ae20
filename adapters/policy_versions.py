"""The policy_versions table: every policy file a worker or the API loaded, once per digest, with
the file's text, when it was first seen and by which process (host:pid and role).

`PolicyVersions.record` is one INSERT that leaves an existing row alone (the first sighting wins),
called once per digest per process: loading the same file for every case costs no statement.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine, Executable, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.schema import policy_versions
from support.policies.policy import Policy


class PolicyVersion(BaseModel):
    digest: str
    version: str
    first_seen_at: datetime
    first_seen_by: str
    text: str | None = None


def this_process(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


class PolicyVersions:
    def __init__(self, engine: Engine, process: str) -> None:
        self._engine = engine
        self._process = process
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def record(self, digest: str, policy: Policy, text: str) -> None:
        """Keep this version's file once (the first process to see it is named)."""
        with self._lock:
            if digest in self._seen:
                return
        values = {
            "digest": digest,
            "version": policy.version,
            "first_seen_at": datetime.now(UTC),
            "first_seen_by": self._process,
            "text": text,
        }
        statement: Executable
        if self._engine.dialect.name == "postgresql":
            statement = postgresql.insert(policy_versions).values(values).on_conflict_do_nothing()
        else:
            statement = sqlite.insert(policy_versions).values(values).on_conflict_do_nothing()
        with self._engine.begin() as connection:
            connection.execute(statement)
        with self._lock:
            self._seen.add(digest)


def policy_history(engine: Engine) -> list[PolicyVersion]:
    """Every version on record, oldest first (without their texts)."""
    c = policy_versions.c
    query = select(c.digest, c.version, c.first_seen_at, c.first_seen_by).order_by(c.first_seen_at, c.digest)
    with engine.connect() as connection:
        return [PolicyVersion.model_validate(dict(row._mapping)) for row in connection.execute(query)]


class UnknownVersion(LookupError):
    pass


def policy_version(engine: Engine, prefix: str) -> PolicyVersion:
    """The version whose digest starts with `prefix` (at least 4 hex digits, one match)."""
    c = policy_versions.c
    query = select(policy_versions).where(c.digest.startswith(prefix.lower(), autoescape=True)).limit(2)
    with engine.connect() as connection:
        rows: Sequence[object] = connection.execute(query).mappings().all()
    if len(prefix) < 4 or not rows:
        raise UnknownVersion(f"no policy version {prefix!r} on record (starter.py policy history)")
    if len(rows) > 1:
        raise UnknownVersion(f"{prefix!r} names more than one policy version: give more digits")
    return PolicyVersion.model_validate(dict(rows[0]))  # type: ignore[call-overload]
