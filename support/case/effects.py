"""What the case's machine asks the workflow to carry out, in order.

The machine decides and records; the workflow (the shell) carries out: it starts a delivery for
each `Tell`, upserts each `SetAttributes`, and counts, observes and logs through the SDK (so
replays emit nothing twice). A decision also says whether the case changed in a way its agenda
may see (`wake`), and carries the answer of an update that has one (`reply`).

A case that runs the derived rules (`support.case.attributes`, every case started by this code)
gets its one `SetAttributes` and its `wake` from the machine after each decision; what the steps
set by hand (`set`, `also_set`, `wake = True`) is what cases recorded before replay, and is
dropped for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from support.case.thread_message import ThreadMessage
from support.identity.verification import VerificationResult
from support.messaging.notifications import Notification


class CaseAttribute(StrEnum):
    """The search attributes a case keeps up to date (ids, enums and instants only)."""

    STATUS = "CaseStatus"
    SEVERITY = "CaseSeverity"
    FIRST_RESPONSE_DUE = "FirstResponseDue"
    SLA_BREACHED = "SlaBreached"
    INCIDENT_ID = "IncidentId"
    ASSIGNED_ENGINEER = "AssignedEngineer"  # a staff name, never a customer's
    NEXT_DEADLINE = "NextDeadline"  # the nearest open deadline (support.case.next_deadline)
    CLOCK_PAUSED = "ClockPaused"  # the running clock waits for the customer


AttributeValue = str | bool | datetime


@dataclass(frozen=True)
class Tell:
    """Deliver this notification (beside the case's timers, retried as the policy allows)."""

    notification: Notification


@dataclass(frozen=True)
class SetAttributes:
    values: tuple[tuple[CaseAttribute, AttributeValue], ...]


@dataclass(frozen=True)
class Count:
    name: str
    description: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Observe:
    name: str
    description: str
    seconds: float
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Log:
    level: Literal["info", "warning", "error"]
    message: str
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Keep:
    """Write this message of the case's thread in full to the database (once: keyed on its seq)."""

    message: ThreadMessage


Effect = Tell | SetAttributes | Count | Observe | Log | Keep


@dataclass
class Decision:
    """The effects of one event, in the order the shell must carry them out."""

    effects: list[Effect] = field(default_factory=list)
    wake: bool = False
    reply: VerificationResult | None = None

    def tell(self, notifications: list[Notification]) -> None:
        self.effects += [Tell(n) for n in notifications]

    def keep(self, message: ThreadMessage) -> None:
        self.effects.append(Keep(message))

    def set(self, *values: tuple[CaseAttribute, AttributeValue]) -> None:
        """An upsert set by hand: kept for cases recorded before the derived attributes."""
        self.effects.append(SetAttributes(values))

    def also_set(self, *values: tuple[CaseAttribute, AttributeValue]) -> None:
        """Set with the decision's last upsert when it has one (one command instead of two)."""
        for index in range(len(self.effects) - 1, -1, -1):
            effect = self.effects[index]
            if isinstance(effect, SetAttributes):
                self.effects[index] = SetAttributes(effect.values + values)
                return
        self.set(*values)

    def count(self, name: str, description: str, **labels: str) -> None:
        self.effects.append(Count(name, description, labels))

    def observe(self, name: str, description: str, seconds: float, **labels: str) -> None:
        self.effects.append(Observe(name, description, seconds, labels))

    def log(self, level: Literal["info", "warning", "error"], message: str, **extra: object) -> None:
        self.effects.append(Log(level, message, extra))
