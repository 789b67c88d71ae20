"""The state of record of one case, and the workflow's input that carries it to a new run.

The record is the caller-visible `CaseView` plus what only the case needs: the request (with the
contact's addresses, never shown in the view), the policy and tenant facts it was opened on, and
the verification code's MAC. One model serves callers and the record for the view itself: it is
the `view` query, the workflow's result, the archived row and the continue-as-new input, and
recorded histories carry it in that shape; what callers must not see stays outside it, here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from support.case.actions import AttachmentRef
from support.case.attributes import Published, published
from support.case.context import CaseContext
from support.case.inputs import ArchivedInputs, CaseInputs
from support.case.next_deadline import NO_DEADLINE, NextDeadline
from support.case.view import CaseView
from support.identity.tenant import TenantFacts
from support.identity.verification import IssuedCode
from support.policies.policy import Policy
from support.policies.shared import shared, shared_calendar
from support.policies.vocabulary import Severity
from support.reporting.closed_case import CaseArchive
from support.rules.entitlement import case_calendar
from support.rules.request import CaseRequest, RequestDetails
from support.sla_clocks.calendar import Calendar
from support.sla_clocks.clocks import ClockTerms


class CarriedCase(BaseModel):
    """Everything a case needs to go on in a new run after continue-as-new."""

    case: CaseView
    policy: Policy
    tenant: TenantFacts
    inputs: CaseInputs | None = None  # None: carried by a run from before inputs were recorded
    taken: list[str] = Field(
        default_factory=list, description="action update ids taken (support.case.action_ids)"
    )


class CaseStart(BaseModel):
    """Workflow input: the request, and the carried state when the case continued as new.
    `case_number`: allocated by the intake before the start (none in cases opened before numbers);
    `follows`: the closed case a reply to which opened this one. A new run carries both in its view."""

    request: CaseRequest
    carried: CarriedCase | None = None
    case_number: str | None = None
    follows: str | None = None
    attachments: list[AttachmentRef] = Field(
        default_factory=list, description="the files given at opening, as the intake stored them"
    )


def always(_: str) -> bool:
    return True


class CaseRecord:
    """One case's state of record. The machine (`support.case.machine`) changes it in place: a
    case's view is up to 256 KiB, and copying it on every event would cost every worker."""

    def __init__(self, request: CaseRequest, view: CaseView, patched: Callable[[str], bool] = always) -> None:
        self.request = request
        self.view = view
        self.files: list[AttachmentRef] = []  # given at opening (in the input: never in the view)
        self._policy: Policy | None = None  # the worker's shared snapshot (`policy`)
        self.tenant: TenantFacts | None = None
        self.issued: IssuedCode | None = None
        self.context: CaseContext | None = None  # kept while the caller is being verified
        # Every event the machine saw (for the what-if); None: not recorded (a what-if's own re-run).
        self.inputs: CaseInputs | None = CaseInputs()
        self.taken: list[str] = []  # the action update ids this case took, across its runs
        # Whether a rule change (a `workflow.patched` id) applies to this case: cases that ran
        # before it replay the old way. Asked only at the moment the rule would act.
        self.patched = patched
        self._calendar: tuple[Severity, Calendar] | None = None
        # The next deadline this run last published as search attributes (None: not known, as in
        # a run carried over from one that did not publish it).
        self.published: NextDeadline | None = NO_DEADLINE
        # The search attributes last published on the derived path (support.case.attributes);
        # None: not known (a new run publishes all it has at its first decision).
        self.attributes: Published | None = None
        # What the workflow's sleep depended on after the last decision (support.case.attributes
        # `waypoint`): only the machine changes the record, so it is the next decision's "before"
        # without walking the agenda again. None: not known yet in this run.
        self.waypoint: tuple[datetime | None, bool] | None = None

    @classmethod
    def begin(
        cls, start: CaseStart, now: datetime, case_id: str, patched: Callable[[str], bool] = always
    ) -> CaseRecord:
        """A new case (its view made from the request), or the one carried from the last run."""
        if start.carried is None:
            view = CaseView.for_request(start.request, now, case_id, start.case_number, start.follows)
            record = cls(start.request, view, patched)
            record.files = list(start.attachments)
            record.attributes = published(view)  # what the starter set (intake: sa.at_start)
            return record
        record = cls(start.request, start.carried.case, patched)
        record.files = list(start.attachments)
        record.policy, record.tenant = start.carried.policy, start.carried.tenant
        record.inputs = start.carried.inputs or CaseInputs(complete=False)
        record.taken = list(start.carried.taken)
        record.published = None
        return record

    @property
    def policy(self) -> Policy | None:
        """The policy snapshot the case runs under (None before its context is loaded)."""
        return self._policy

    @policy.setter
    def policy(self, policy: Policy | None) -> None:
        # Every case of one policy content holds one snapshot (`support.policies.shared`): its own
        # decoded copy is dropped here, instead of one copy per cached case.
        if policy is not self._policy:
            self._policy = shared(policy) if policy is not None else None

    @property
    def rules(self) -> Policy:
        assert self.policy is not None, "the case has no policy before its context is loaded"
        return self.policy

    @property
    def facts(self) -> TenantFacts:
        assert self.tenant is not None, "the case has no tenant before it is opened"
        return self.tenant

    @property
    def calendar(self) -> Calendar:
        """The calendar of the case's current severity (cached: built once per severity)."""
        severity = self.view.severity
        assert severity is not None, "the case has no calendar before it is opened"
        if self._calendar is None or self._calendar[0] is not severity:
            calendar = case_calendar(self.rules, self.view.category, severity, self.facts.time_zone)
            if all(calendar is not own for own in self.rules.calendars.values()):  # in the tenant's zone
                calendar = shared_calendar(calendar)
            self._calendar = (severity, calendar)
        return self._calendar[1]

    @property
    def clock_terms(self) -> ClockTerms:
        """What the case's clocks are planned on now: its severity's calendar and warnings."""
        return ClockTerms(self.calendar, tuple(self.rules.sla.warn_at))

    def archive(self) -> CaseArchive:
        """The archive activity's input: the final view, with the policy snapshot and the tenant's
        zone (the activity's input is no part of the workflow's command: replay is unchanged), and
        the request's words, so the closed record shows them after Temporal's retention."""
        return CaseArchive.model_construct(
            **(dict(self.view) | {"request": self.details()}),
            sla_policy=self.policy,
            tenant_time_zone=self.tenant.time_zone if self.tenant is not None else None,
            inputs=self.archived_inputs(),
        )

    def details(self) -> RequestDetails:
        """What the customer wrote, whom to reach and the files they gave, for readers of the case."""
        return RequestDetails.of(self.request, self.files)

    def archived_inputs(self) -> ArchivedInputs | None:
        """What a what-if re-decides this case from: the request and every event, or None."""
        if self.inputs is None:
            return None
        view = self.view
        return ArchivedInputs(
            request=self.request,
            created_at=view.created_at,
            case_number=view.case_number,
            follows=view.follows,
            inputs=self.inputs,
        )

    def carried(self) -> CaseStart:
        """The input of the next run: the view kept bounded, whatever happened."""
        self.view.keep_bounded()
        return CaseStart(
            request=self.request,
            attachments=self.files,
            carried=CarriedCase(
                case=self.view, policy=self.rules, tenant=self.facts, inputs=self.inputs, taken=self.taken
            ),
        )
