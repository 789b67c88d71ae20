"""A case's recorded inputs: every event its machine saw, with its instant, so a what-if can
re-decide the case under another policy (support.reporting.whatif) after Temporal's retention dropped its
history. Time passing is not recorded: the re-run's own agenda under the proposed policy says when
timers fire. The opening's context is kept without its policy (the case names the version by its
digest); texts are cut to excerpts, and the list is bounded: a case with more events than
`MAX_EVENTS` says it is incomplete, and a what-if keeps its recorded outcome instead.

Pure: the case machine notes each event (`note`), the record carries the list over continue-as-new,
and the archive hands it to the closed-case row, sealed there like the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, Field

from support.case.context import CaseContext
from support.case.events import (
    Event,
    TimePassed,
)
from support.identity.directory import Incident
from support.identity.tenant import TenantFacts
from support.policies.policy import Policy
from support.rules.request import CaseRequest
from support.wording.excerpt import excerpt

MAX_EVENTS = 200
TEXT_LIMIT = 200  # bytes of each text kept: the rules never read more than that a text exists

KINDS: dict[str, type[BaseModel]] = {  # what a recorded event can be: every event the case learns
    t.__name__: t for t in get_args(Event) if t not in (CaseContext, TimePassed)
}


class OpeningFacts(BaseModel):
    """The context a case opened on, less the policy (named by `CaseInputs.policy_digest`)."""

    tenant: TenantFacts | None
    requester_is_admin: bool = False
    caller_registered: bool | None = None
    incident: Incident | None = None

    def context(self, policy: Policy) -> CaseContext:
        return CaseContext(policy=policy, **dict(self))


class RecordedEvent(BaseModel):
    at: datetime
    kind: str = Field(description="the event's model, e.g. FirstResponse")
    data: dict[str, Any]

    def event(self) -> Event:
        return KINDS[self.kind].model_validate(self.data)  # type: ignore[return-value]


class CaseInputs(BaseModel):
    """What the machine saw. `complete`: every event since the case was created is here."""

    complete: bool = True
    opening: OpeningFacts | None = None
    opened_on: datetime | None = Field(default=None, description="when the context came")
    policy_digest: str | None = None
    events: list[RecordedEvent] = Field(default_factory=list)

    def note(self, at: datetime, event: Event, policy_digest: str | None = None) -> None:
        """Record `event` (time passing is not an input; the context is kept without its policy)."""
        if isinstance(event, TimePassed) or not self.complete:
            return
        if isinstance(event, CaseContext):
            self.opening = OpeningFacts(
                tenant=event.tenant,
                requester_is_admin=event.requester_is_admin,
                caller_registered=event.caller_registered,
                incident=event.incident,
            )
            self.opened_on, self.policy_digest = at, policy_digest
            return
        if len(self.events) >= MAX_EVENTS:
            self.complete, self.events = False, []  # nothing half-kept: the outcome as recorded
            return
        data = event.model_dump(mode="json")
        for name, value in data.items():
            if isinstance(value, str) and len(value) > TEXT_LIMIT:
                data[name] = excerpt(value, TEXT_LIMIT)
        self.events.append(RecordedEvent(at=at, kind=type(event).__name__, data=data))


class ArchivedInputs(BaseModel):
    """A closed case's inputs as its row keeps them (sealed): the request it began with too."""

    request: CaseRequest
    created_at: datetime
    case_number: str | None = None
    follows: str | None = None
    inputs: CaseInputs
