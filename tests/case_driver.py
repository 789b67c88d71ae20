"""A pure driver of one case's machine (`support.case.machine`): events in, effects and state out,
time moved by hand. No Temporal server, no database, no sleeping.

It does what the workflow (`workflows/support_case.py`) does around the machine: the case opens on
the context the activity would load (policy.toml through the project's loader, the tenants of
directory.toml through the project's parser); an action the workflow's update validator would
refuse raises `Refused` and changes nothing; after an event that wakes the case, and at each
instant of the case's agenda, time passes (`TimePassed`); the case stops waiting when it is done.
The effects are collected: the notifications told (in order) and the search attributes set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel

from adapters.policy_file import load_policy_snapshot
from adapters.settings import PROJECT_ROOT
from support.case.agenda import WakeUp, agenda, case_done
from support.case.attributes import waypoint
from support.case.context import CaseContext
from support.case.effects import CaseAttribute, Decision, Effect, SetAttributes, Tell
from support.case.events import Event, TimePassed
from support.case.machine import decide, refusal
from support.case.record import CaseRecord, CaseStart
from support.case.view import CaseView
from support.identity.directory import DirectoryFile, parse_directory_file
from support.messaging.notifications import Notification
from support.policies.policy import Policy
from support.policies.vocabulary import Channel
from support.reporting.whatif import VALIDATED as VALIDATED  # re-exported for the tests that import it here
from support.rules.request import CaseRequest

DIRECTORY_FILE = PROJECT_ROOT / "directory.toml"
DIRECTORY = parse_directory_file(DIRECTORY_FILE.read_text(encoding="utf-8"), str(DIRECTORY_FILE))

# The actions an update validator checks (the workflow's `_check`): one list with the what-if's,
# which re-runs cases as the workflow does (the old `cooperate` and `survey` signals, never
# refused, reach the case through `deliver`).

# Each action comes this long after whatever happened before it, as on a server, where a round
# trip takes a few milliseconds: an action never shares its instant with a timer set by the last.
PACE = timedelta(milliseconds=10)

Attribute = str | bool | datetime


class Refused(Exception):
    """The workflow's validator would reject the action (the intake's ActionRejected)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CaseEnded(Exception):
    """The case's workflow has returned: nothing more reaches it."""


def policy_for(opened_at: datetime) -> Policy:
    """policy.toml as a case opened at `opened_at` snapshots it (the context activity's call)."""
    return load_policy_snapshot(PROJECT_ROOT / "policy.toml", opened_at.year)


def context_for(
    request: CaseRequest, opened_at: datetime, policy: Policy, directory: DirectoryFile = DIRECTORY
) -> CaseContext:
    """What `activities.case_context` reads from the directory database, read from the file."""
    record = directory.tenants.get(request.tenant_id)
    if record is None:
        return CaseContext(policy=policy, tenant=None)
    caller_registered = None
    if request.channel is Channel.PHONE:
        caller_registered = request.caller_number in record.registered_phones
    incident = None
    if request.service is not None:
        newest_first = sorted(directory.incidents, key=lambda i: i.started_at, reverse=True)
        incident = next(
            (i for i in newest_first if i.service == request.service and i.active_at(opened_at)), None
        )
    return CaseContext(
        policy=policy,
        tenant=record.facts(request.tenant_id),
        requester_is_admin=request.requester.lower() in {a.lower() for a in record.admins},
        caller_registered=caller_registered,
        incident=incident,
    )


class Driver:
    """One case, opened at `opened_at` on `policy` (policy.toml's snapshot by default).

    `carry`: after every time the case's loop comes round, the case continues as new (its record
    goes through `CaseRecord.carried()` and the JSON a workflow input travels as), as a case with a
    tiny history limit would."""

    def __init__(
        self,
        request: CaseRequest,
        opened_at: datetime,
        policy: Policy | None = None,
        *,
        directory: DirectoryFile = DIRECTORY,
        pace: timedelta = PACE,
        carry: bool = False,
    ) -> None:
        self.now = opened_at
        self.pace = pace
        self.carry = carry
        self.carries = 0
        self.effects: list[Effect] = []
        self.told: list[Notification] = []
        self.attributes: dict[CaseAttribute, Attribute] = {}
        self.attribute_log: list[tuple[datetime, CaseAttribute, Attribute]] = []
        # Per decision: its upserts, and a sleep left stale (the agenda's first instant or the
        # case's being done changed, and the decision did not wake the workflow).
        self.upserts: list[int] = []
        self.upsert_log: list[tuple[tuple[CaseAttribute, Attribute], ...]] = []  # each upsert's values
        self.stale_sleeps: list[tuple[datetime, str]] = []
        self.case = CaseRecord.begin(CaseStart(request=request), opened_at, request.case_id)
        context = context_for(request, opened_at, policy or policy_for(opened_at), directory)
        self._decide(context)

    @property
    def view(self) -> CaseView:
        return self.case.view

    @property
    def done(self) -> bool:
        return case_done(self.view)

    # -- events ----------------------------------------------------------------------------------

    def act(self, action: Event) -> CaseView:
        """An engineer's or the customer's action, `pace` after the last thing that happened.
        Raises `Refused` with the validator's reason (and changes nothing) when it may not happen."""
        self.advance(self.pace)
        if self.done:
            raise CaseEnded(f"the case is {self.view.status.value} and its workflow has returned")
        if isinstance(action, VALIDATED):
            reason = refusal(self.case, action, self.now)
            if reason is not None:
                raise Refused(reason)
        self._decide(action)
        return self.view

    def refusal(self, action: BaseModel) -> str | None:
        """What the validator says of `action` now (None: it would be accepted)."""
        return refusal(self.case, action, self.now)

    def deliver(self, event: Event) -> Decision:
        """Any event at the current instant, as the shell's `_apply` (no validator)."""
        return self._decide(event)

    # -- time ------------------------------------------------------------------------------------

    def upcoming(self) -> list[WakeUp]:
        """The case's agenda, as the workflow's loop reads it (nothing once the case is done)."""
        if self.done or self.view.severity is None:
            return []
        return agenda(self.view, self.case.calendar, self.case.rules)

    def advance(self, by: timedelta) -> CaseView:
        return self.advance_to(self.now + by)

    def advance_to(self, instant: datetime) -> CaseView:
        """Time passes up to `instant`: the case wakes at each agenda instant on the way."""
        for _ in range(100_000):
            upcoming = self.upcoming()
            if not upcoming or upcoming[0].at > instant:
                break
            self.now = max(self.now, upcoming[0].at)
            self._time_passed()
        else:
            raise AssertionError("the case's agenda never ran out: a wake-up that does not move on")
        self.now = max(self.now, instant)
        return self.view

    def run_until(self, predicate: Callable[[CaseView], bool], within: timedelta) -> datetime:
        """Wake the case at each agenda instant until `predicate` holds (the instant it does)."""
        limit = self.now + within
        while not predicate(self.view):
            upcoming = self.upcoming()
            if not upcoming or upcoming[0].at > limit:
                raise AssertionError(f"not reached within {within}; the case is {self.view.status.value}")
            self.now = max(self.now, upcoming[0].at)
            self._time_passed()
        return self.now

    # -- what the case did -----------------------------------------------------------------------

    def told_ids(self, fragment: str = "") -> list[str]:
        """Ids of the notifications told, without the case id: 'sla_breached/0/duty_manager'."""
        prefix = f"{self.view.case_id}/"
        ids = [n.notification_id.removeprefix(prefix) for n in self.told]
        return [i for i in ids if fragment in i]

    def told_events(self) -> list[tuple[str, str]]:
        """(event, audience) of every notification told, in order."""
        return [(n.event, n.audience.value) for n in self.told]

    # -- the shell ---------------------------------------------------------------------------------

    def _time_passed(self) -> None:
        self._decide(TimePassed())
        if self.carry and not self.done:
            self._continue_as_new()

    def _decide(self, event: Event) -> Decision:
        before = waypoint(self.case)
        decision = decide(self.case, event, self.now)
        self.upserts.append(sum(isinstance(e, SetAttributes) for e in decision.effects))
        if not decision.wake and waypoint(self.case) != before:
            self.stale_sleeps.append((self.now, type(event).__name__))
        for effect in decision.effects:
            self.effects.append(effect)
            if isinstance(effect, Tell):
                self.told.append(effect.notification)
            elif isinstance(effect, SetAttributes):
                self.upsert_log.append(effect.values)
                for key, value in effect.values:
                    self.attributes[key] = value
                    self.attribute_log.append((self.now, key, value))
        if decision.wake and not self.done:
            self._time_passed()  # the workflow's loop wakes on the change (its loop ends when done)
        return decision

    def _continue_as_new(self) -> None:
        carried = CaseStart.model_validate_json(self.case.carried().model_dump_json())
        self.case = CaseRecord.begin(carried, self.now, self.view.case_id)
        self.carries += 1
