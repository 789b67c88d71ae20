"""The clock bars of the case page, drawn from the case's SLA ledger (`support.sla_clocks.ledger`): each
clock's wall time from its start to its end (or now) in segments of their kind (running, outside
hours, holiday, make-up workday, paused awaiting the customer; a severity change as a mark), with
the clock's line of the explain account as its caption, in the reader's language and zone.

SVG drawn on the server: the page's Content-Security-Policy allows no inline style, and the bar
needs no script and nothing from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from support.sla_clocks.explain import Phrases, clock_account, duration
from support.sla_clocks.ledger import CaseLedger, ClockLedger, LedgerSegment, SegmentKind

BAR_WIDTH = 600  # SVG user units
KINDS = tuple(kind.value for kind in SegmentKind)  # the legend's order


@dataclass(frozen=True)
class Piece:
    """One segment as drawn: where it starts and how wide it is in the bar."""

    segment: LedgerSegment
    x: int
    width: int

    @property
    def kind(self) -> str:
        return self.segment.kind.value


@dataclass(frozen=True)
class LedgerBar:
    key: (
        str  # the section's id: clock-first_response, clock-customer_update(-<cycle>), clock-obligation-<ref>
    )
    clock: ClockLedger
    pieces: tuple[Piece, ...]
    marks: tuple[Piece, ...]  # instants: severity changes
    used: str  # business time used, in the reader's words
    target: str
    caption: str  # the explain account's line for this clock, after its name

    @property
    def used_fraction(self) -> float:
        allowed = self.clock.allowed_seconds
        return self.clock.used_seconds / allowed if allowed > 0 else 1.0

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of segment this bar has, in the legend's order."""
        present = {p.kind for p in self.pieces + self.marks}
        return tuple(kind for kind in KINDS if kind in present)


def _end(clock: ClockLedger, at: datetime) -> datetime:
    """Where the bar ends: now for a clock still running or paused, else where it ended."""
    ends = [s.end for s in clock.segments]
    still = clock.ended_at is None or clock.state == "paused"
    return max([at if still else clock.ended_at or at, *ends])


def drawn(clock: ClockLedger, at: datetime) -> tuple[tuple[Piece, ...], tuple[Piece, ...]]:
    """The clock's segments placed on the bar by wall time; every segment of some length is at
    least one unit wide, so a short pause still shows."""
    start, end = clock.started_at, _end(clock, at)
    total = max((end - start).total_seconds(), 0.001)  # a clock may have started a moment ago

    def x(instant: datetime) -> int:
        return round(min(max((instant - start).total_seconds() / total, 0.0), 1.0) * BAR_WIDTH)

    segments = list(clock.segments)
    last = max((s.end for s in segments), default=start)
    if clock.state == "paused" and last < end:
        # paused now: the ledger's segments stop where the pause began; the bar runs on to now
        segments.append(LedgerSegment(kind=SegmentKind.PAUSED_AWAITING_CUSTOMER, start=last, end=end))
    pieces, marks = [], []
    for segment in segments:
        left = x(segment.start)
        if segment.kind is SegmentKind.SEVERITY_CHANGED or segment.end <= segment.start:
            if segment.kind is SegmentKind.SEVERITY_CHANGED:
                marks.append(Piece(segment, left, 0))
            continue
        pieces.append(Piece(segment, left, max(x(segment.end) - left, 1)))
    return tuple(pieces), tuple(marks)


def ledger_bars(ledger: CaseLedger, phrases: Phrases, zone: str) -> list[LedgerBar]:
    """A bar for every clock of the ledger, its caption in the phrases' language and `zone` (the
    clock's line of the account without its name: the bar's heading says it in the page's words)."""
    reader = ZoneInfo(zone)
    updates = [c for c in ledger.clocks if c.clock == "customer_update"]
    bars = []
    for clock in ledger.clocks:
        if clock.clock == "customer_update" and clock is not updates[-1]:
            key = f"clock-customer_update-{clock.cycle}"
        elif clock.clock == "obligation":
            key = f"clock-obligation-{clock.ref}"
        else:
            key = f"clock-{clock.clock}"
        pieces, marks = drawn(clock, ledger.at)
        bars.append(
            LedgerBar(
                key=key,
                clock=clock,
                pieces=pieces,
                marks=marks,
                used=duration(clock.used_seconds, phrases),
                target=duration(clock.allowed_seconds, phrases),
                caption=clock_account(clock, phrases, reader, named=False),
            )
        )
    return bars
