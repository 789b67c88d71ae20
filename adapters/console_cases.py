"""The console's projection of cases (`console_cases`) and its blind search index (`case_search`).

Why a projection: the queue used to list Temporal's visibility store and then query every case on
the page. Temporal's SQL visibility refuses ORDER BY, so a page in deadline order scanned every open
case, and views such as "unassigned" or counts per view would each be another scan; with 5,000 open
cases that is seconds, not the 300 ms a page has. A row per case in the database the console
already reads makes each view, count and page an indexed query. The row is written by the intake
from the view each opening, action and read of a case answers with (`Cases.projection`); what a
case's own timers change without an action (a deadline passing, a resolved case closing) is read
at query time: a running deadline in the past counts as breached, and a case in `closed_cases`
counts as ended whatever its projected status says.

The search index keeps keyed MACs of normalised words (`support.wording.search_terms`), never the words:
the thread is sealed at rest when a key ring is set, and a clear-text index would leak it. The MAC
key is derived from the current key ring key (a fixed, public key without a ring: then the thread
is in clear anyway). Searches are by exact word (all words of the query must be in one case).
Lost against a clear-text index: prefixes and stems, ranking by relevance, phrases, and, after a
key rotation, the rows indexed under the old key (they are found again once re-indexed). The same
word gives the same MAC everywhere, so someone holding the database sees which cases share a word
(not which word). Each thread message is indexed in the transaction that writes it (written once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from adapters.codec import KeyRing, opened_text, sealed_text
from adapters.delivery_ledger import dialect_insert
from adapters.schema import closed_cases, console_cases
from support.case.action_receipt import QueueFacts, queue_facts
from support.case.numbers import case_number, serial_of
from support.case.view import CaseView
from support.policies.vocabulary import CaseStatus
from support.wording.search_terms import tokens
from support.wording.text_shapes import TENANT_ID_PATTERN

OPEN = (CaseStatus.AWAITING_FIRST_RESPONSE.value, CaseStatus.IN_PROGRESS.value)
PAGE_SIZE = 50
_UNKEYED = b"casework search index without a key ring"
_LABEL = b"casework console search index v1"
_CASE_SOURCE = "case"  # the row of a case's own words (title, requester, description)


class View(StrEnum):
    MINE = "mine"
    UNASSIGNED = "unassigned"
    TEAM = "team"
    OPEN = "open"
    BREACHED = "breached"
    DONE = "done"  # resolved and closed


STAFF_VIEWS = (View.MINE, View.UNASSIGNED, View.TEAM)  # who holds a case is for staff


@dataclass(frozen=True)
class Reader:
    """Who reads: the tenants they may see (None: all), their name, their team's names, and
    whether they are on the customer's side (no internal words, no staff names)."""

    tenants: Collection[str] | None
    name: str
    team: Collection[str] = ()
    customer_side: bool = False


@dataclass(frozen=True)
class Row:
    case_id: str
    case_number: str | None
    tenant_id: str
    title: str
    status: str
    severity: str | None
    category: str
    assignee: str | None
    next_deadline: datetime | None
    clock: str | None
    breached: bool
    paused: bool
    time_zone: str
    ended_at: datetime | None
    opened_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Dashboard:
    open_by_severity: dict[str, int]
    at_risk_next_hour: int
    breached_today: int
    first_response_answered_week: int
    first_response_met_week: int


def _title_context(case_id: str) -> bytes:
    return b"console_cases.title\0" + case_id.encode()


def _letters(digest: bytes) -> str:
    """A MAC as a word every full-text tokenizer keeps whole: 24 letters a-p (no digits, which
    PostgreSQL's parser could read as a number)."""
    return "".join(chr(97 + (b >> 4)) + chr(97 + (b & 15)) for b in digest[:12])


class ConsoleCases:
    def __init__(self, engine: Engine, keys: KeyRing | None) -> None:
        self._engine = engine
        self._keys = keys
        self._mac_key = keys.derived(_LABEL) if keys is not None else _UNKEYED

    # -- writing ------------------------------------------------------------------------------

    def macs(self, text_: str) -> list[str]:
        return [_letters(hmac.new(self._mac_key, t.encode(), hashlib.sha256).digest()) for t in tokens(text_)]

    def project(self, view: CaseView, opening_words: Sequence[str] = ()) -> None:
        """Write the case's row from its view; `opening_words` (title, requester, description), when
        given, index the case's own words once."""
        if view.status in (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION):
            return  # not in any queue yet; the next action or read projects it
        title, kid = sealed_text(self._keys, view.title, _title_context(view.case_id))
        values: dict[str, object] = {
            "case_number": view.case_number,
            "tenant_id": view.tenant_id,
            "category": view.category.value,
            **_fact_values(queue_facts(view)),
            "opened_at": view.opened_at,
            "time_zone": view.time_zone,
            "title": title,
            "key_id": kid,
            "projected_at": datetime.now(UTC),
        }
        with self._engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            connection.execute(
                insert(console_cases)
                .values(case_id=view.case_id, **values)
                .on_conflict_do_update(index_elements=[console_cases.c.case_id], set_=values)
            )
            words = " ".join([view.title, *opening_words])
            replace = bool(opening_words)  # else the title alone, when the case has no row yet
            self._index(connection, view.case_id, _CASE_SOURCE, view.tenant_id, False, words, replace)

    def refresh(self, case_id: str, facts: QueueFacts) -> None:
        """An action's receipt: the row's changing facts (a case with no row yet gets one at its
        next read; `starter.py console reproject` writes them all)."""
        if facts.status in (CaseStatus.NEW, CaseStatus.AWAITING_VERIFICATION):
            return
        values = _fact_values(facts)
        with self._engine.begin() as connection:
            connection.execute(
                console_cases.update().where(console_cases.c.case_id == case_id).values(**values)
            )

    def index_message(
        self, connection: Connection, case_id: str, seq: int, tenant_id: str, internal: bool, words: str
    ) -> None:
        """Index one thread message, in the transaction that writes it (adapters.case_messages)."""
        self._index(connection, case_id, f"m{seq}", tenant_id, internal, words, replace=False)

    def _index(
        self,
        connection: Connection,
        case_id: str,
        source: str,
        tenant_id: str,
        internal: bool,
        words: str,
        replace: bool,
    ) -> None:
        terms = " ".join(self.macs(words))
        params = {"case_id": case_id, "source": source, "tenant_id": tenant_id, "internal": internal}
        if connection.dialect.name == "sqlite":
            found = connection.execute(
                text("SELECT rowid FROM case_search WHERE case_id = :case_id AND source = :source"), params
            ).first()
            if found is not None:
                if not replace:
                    return
                connection.execute(text("DELETE FROM case_search WHERE rowid = :r"), {"r": found[0]})
            connection.execute(
                text(
                    "INSERT INTO case_search (terms, case_id, source, tenant_id, internal) "
                    "VALUES (:terms, :case_id, :source, :tenant_id, :internal)"
                ),
                params | {"terms": terms, "internal": int(internal)},
            )
            return
        action = "UPDATE SET terms = EXCLUDED.terms" if replace else "NOTHING"  # one of two constants
        columns = "(case_id, source, tenant_id, internal, terms)"
        values = "(:case_id, :source, :tenant_id, :internal, :terms)"
        statement = (
            f"INSERT INTO case_search {columns} VALUES {values} ON CONFLICT (case_id, source) DO {action}"  # noqa: S608
        )
        connection.execute(
            text(statement),
            params | {"terms": terms},
        )

    # -- reading ------------------------------------------------------------------------------

    def _search_ids(self, connection: Connection, query: str, reader: Reader) -> ColumnElement[bool] | None:
        """A condition on console_cases: the case whose number or tenant is `query`, or the cases
        whose words hold every word of it (None: nothing to search). The index is read by the
        database in the same statement (a subquery), never copied out."""
        wanted = query.strip()
        c = console_cases.c
        exact: list[ColumnElement[bool]] = []
        serial = serial_of(wanted)
        if serial is not None:  # "CW-10482", "cw10482"
            exact.append(c.case_number == case_number(serial))
        if re.fullmatch(TENANT_ID_PATTERN, wanted.lower()):
            exact.append(c.tenant_id == wanted.lower())
        terms = self.macs(wanted)[:16]
        if not terms:
            return or_(*exact) if exact else None
        scope = ""
        params: dict[str, object] = {}
        if reader.customer_side:
            scope += " AND internal = " + ("0" if connection.dialect.name == "sqlite" else "false")
        if reader.tenants is not None:
            names = [f":tenant{i}" for i in range(len(reader.tenants))] or ["''"]
            scope += " AND tenant_id IN (" + ", ".join(names) + ")"
            params |= {f"tenant{i}": t for i, t in enumerate(sorted(reader.tenants))}
        # Only parameter names and constant clauses are put into the text; every value is bound.
        matches = (
            "case_search MATCH"
            if connection.dialect.name == "sqlite"
            else "terms_tsv @@ to_tsquery('simple',"
        )
        closing = "" if connection.dialect.name == "sqlite" else ")"
        parts = []
        for i, term in enumerate(terms):
            params[f"term{i}"] = term
            parts.append(f"SELECT case_id FROM case_search WHERE {matches} :term{i}{closing}{scope}")  # noqa: S608
        found = text(" INTERSECT ".join(parts)).bindparams(**params).columns(case_id=String).subquery()
        return or_(c.case_id.in_(select(found.c.case_id)), *exact)

    def _in_view(
        self, view: View, reader: Reader, now: datetime, joined: bool = False
    ) -> ColumnElement[bool]:
        """Whether a row of console_cases belongs to `view` (before the reader's tenants).
        `joined`: the query has closed_cases outer-joined on the case, so ended is one lookup."""
        c = console_cases.c
        ended: ColumnElement[bool] = (
            closed_cases.c.case_id.is_not(None)
            if joined
            else exists().where(closed_cases.c.case_id == c.case_id).correlate(console_cases)
        )
        is_open = and_(c.status.in_(OPEN), ~ended)
        if view is View.DONE:
            return ~is_open
        if view is View.MINE:
            return and_(is_open, c.assignee == reader.name)
        if view is View.UNASSIGNED:
            return and_(is_open, c.assignee.is_(None))
        if view is View.TEAM:
            return and_(is_open, c.assignee.in_(sorted(reader.team))) if reader.team else false()
        if view is View.BREACHED:
            late = and_(c.next_deadline.is_not(None), c.next_deadline < now)
            return and_(is_open, or_(c.breached, late))
        return is_open

    def _where(
        self,
        view: View,
        reader: Reader,
        now: datetime,
        tenant: str | None,
        severity: str | None,
        joined: bool = False,
        status: str | None = None,
    ) -> list[ColumnElement[bool]]:
        c = console_cases.c
        where: list[ColumnElement[bool]] = [self._in_view(view, reader, now, joined)]
        if reader.tenants is not None:
            where.append(c.tenant_id.in_(sorted(reader.tenants)))
        if tenant:
            where.append(c.tenant_id == tenant)
        if severity:
            where.append(c.severity == severity)
        if status:
            where.append(c.status == status)
        return where

    def counts(self, reader: Reader, now: datetime, search: str = "") -> dict[View, int]:
        """How many cases each view holds for this reader: one pass over the reader's rows."""
        c = console_cases.c
        views = [v for v in View if not (reader.customer_side and v in STAFF_VIEWS)]
        with self._engine.connect() as connection:
            found = self._search_ids(connection, search, reader) if search else None
            scope: list[ColumnElement[bool]] = []
            if reader.tenants is not None:
                scope.append(c.tenant_id.in_(sorted(reader.tenants)))
            if found is not None:
                scope.append(found)
            sums = [
                func.coalesce(func.sum(case((self._in_view(v, reader, now, joined=True), 1), else_=0)), 0)
                for v in views
            ]
            rows = console_cases.outerjoin(closed_cases, closed_cases.c.case_id == c.case_id)
            totals = connection.execute(select(*sums).select_from(rows).where(*scope)).one()
            result = {v: int(n) for v, n in zip(views, totals, strict=True)}
            result[View.DONE] += int(connection.execute(self._archived_count(reader, found)).scalar_one())
            return result

    def _archived(self, reader: Reader) -> list[ColumnElement[bool]]:
        """Closed cases the projection never saw (closed before it existed)."""
        k = closed_cases.c
        where = [~exists().where(console_cases.c.case_id == k.case_id).correlate(closed_cases)]
        if reader.tenants is not None:
            where.append(k.tenant_id.in_(sorted(reader.tenants)))
        return where

    def _archived_count(self, reader: Reader, found: ColumnElement[bool] | None) -> Select[int]:
        if found is not None:
            return select(literal(0))
        return select(func.count()).select_from(closed_cases).where(*self._archived(reader))

    def page(
        self,
        view: View,
        reader: Reader,
        now: datetime,
        number: int = 1,
        *,
        search: str = "",
        tenant: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        size: int = PAGE_SIZE,
    ) -> Page:
        """Page `number` (from 1) of a view: open views by the least time left first (cases with
        no running deadline last), the resolved/closed view by when they ended, newest first."""
        c = console_cases.c
        k = closed_cases.c
        with self._engine.connect() as connection:
            where = self._where(view, reader, now, tenant, severity, joined=True, status=status)
            found = self._search_ids(connection, search, reader) if search else None
            if found is not None:
                where.append(found)
            ended_at = func.coalesce(k.closed_at, c.closed_at, c.resolved_at)
            projected = (
                select(
                    c.case_id,
                    c.case_number,
                    c.tenant_id,
                    c.title,
                    c.key_id,
                    func.coalesce(k.status, c.status).label("status"),
                    c.severity,
                    c.category,
                    c.assignee,
                    c.next_deadline,
                    c.clock,
                    c.breached,
                    c.paused,
                    c.time_zone,
                    ended_at.label("ended_at"),
                    func.coalesce(k.opened_at, c.opened_at).label("opened_at"),
                )
                .select_from(console_cases.outerjoin(closed_cases, k.case_id == c.case_id))
                .where(*where)
            )
            if view is View.DONE and found is None and tenant is None and severity is None and status is None:
                archived = select(
                    k.case_id,
                    null().label("case_number"),
                    k.tenant_id,
                    literal("").label("title"),
                    null().label("key_id"),
                    k.status,
                    k.final_severity.label("severity"),
                    k.category,
                    null().label("assignee"),
                    null().label("next_deadline"),
                    null().label("clock"),
                    k.sla_breached.label("breached"),
                    literal(False).label("paused"),
                    null().label("time_zone"),
                    func.coalesce(k.closed_at, k.created_at).label("ended_at"),
                    func.coalesce(k.opened_at, k.created_at).label("opened_at"),
                ).where(*self._archived(reader))
                both = union_all(projected, archived).subquery()
                query = select(both).order_by(both.c.ended_at.desc(), both.c.case_id)
                total_query = select(func.count()).select_from(both)
            else:
                both = projected.subquery()
                if view is View.DONE:
                    order = [both.c.ended_at.desc(), both.c.case_id]
                else:
                    order = [both.c.next_deadline.is_(None), both.c.next_deadline, both.c.case_id]
                query = select(both).order_by(*order)
                total_query = select(func.count()).select_from(both)
            total = int(connection.execute(total_query).scalar_one())
            pages = max(1, -(-total // size))
            number = min(max(number, 1), pages)
            rows = connection.execute(query.limit(size).offset((number - 1) * size)).all()
        return Page(rows=[self._row(r) for r in rows], total=total, page=number, pages=pages)

    def _row(self, r: object) -> Row:
        m = r._mapping  # type: ignore[attr-defined]
        kid = m["key_id"]
        title = m["title"] or ""
        if title and kid is not None:
            title = opened_text(self._keys, kid, title, _title_context(m["case_id"]), "a case's title")
        return Row(
            case_id=m["case_id"],
            case_number=m["case_number"],
            tenant_id=m["tenant_id"],
            title=title,
            status=m["status"],
            severity=m["severity"],
            category=m["category"],
            assignee=m["assignee"],
            next_deadline=_aware(m["next_deadline"]),
            clock=m["clock"],
            breached=bool(m["breached"]),
            paused=bool(m["paused"]),
            time_zone=m["time_zone"] or "UTC",
            ended_at=_aware(m["ended_at"]),
            opened_at=_aware(m["opened_at"]),
        )

    def dashboard(
        self, reader: Reader, now: datetime, day_start: datetime, week_start: datetime
    ) -> Dashboard:
        """Open cases by severity, at risk in the next hour, breached today, first responses this week."""
        c = console_cases.c
        k = closed_cases.c
        with self._engine.connect() as connection:
            open_where = self._where(View.OPEN, reader, now, None, None, joined=True)
            rows = console_cases.outerjoin(closed_cases, k.case_id == c.case_id)
            by_severity = {
                str(sev): int(n)
                for sev, n in connection.execute(
                    select(c.severity, func.count()).select_from(rows).where(*open_where).group_by(c.severity)
                )
            }
            at_risk = connection.execute(
                select(func.count())
                .select_from(rows)
                .where(*open_where, c.next_deadline >= now, c.next_deadline < now + timedelta(hours=1))
            ).scalar_one()
            breached_today = connection.execute(
                select(func.count())
                .select_from(rows)
                .where(
                    *open_where,
                    or_(
                        and_(c.breached_at >= day_start, c.breached_at < now),
                        and_(c.next_deadline >= day_start, c.next_deadline < now),
                    ),
                )
            ).scalar_one()
            scope = [] if reader.tenants is None else [c.tenant_id.in_(sorted(reader.tenants))]
            answered = select(c.first_response_met).where(
                *scope, c.first_response_at >= week_start, c.first_response_at < now
            )
            archived_scope = self._archived(reader)
            archived = select(k.first_response_met).where(
                *archived_scope, k.first_response_at >= week_start, k.first_response_at < now
            )
            met = [bool(row[0]) for row in connection.execute(union_all(answered, archived))]
        return Dashboard(
            open_by_severity=by_severity,
            at_risk_next_hour=int(at_risk),
            breached_today=int(breached_today),
            first_response_answered_week=len(met),
            first_response_met_week=sum(met),
        )


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _fact_values(facts: QueueFacts) -> dict[str, object]:
    return {
        "status": facts.status.value,
        "severity": facts.severity.value if facts.severity else None,
        "assignee": facts.assignee,
        "next_deadline": facts.next_deadline,
        "clock": facts.clock.value if facts.clock is not None else None,
        "first_response_at": facts.first_response_at,
        "first_response_met": facts.first_response_met,
        "breached": facts.breached,
        "breached_at": facts.breached_at,
        "paused": facts.paused,
        "resolved_at": facts.resolved_at,
        "closed_at": facts.closed_at,
        "first_response_due": facts.first_response_due,
        "first_response_business_s": facts.first_response_business_s,
        "reopened_at": [at.isoformat() for at in facts.reopened_at],  # a JSON column
        "last_reopened_at": max(facts.reopened_at, default=None),
        "projected_at": datetime.now(UTC),
    }
