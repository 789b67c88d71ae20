"""The case as people read it: status, severity history, clocks and timeline.

The workflow keeps exactly this model as its state, so the `view` query, the workflow result and
the archived record are the same thing. It is also the continue-as-new input, so it stays bounded
under any sequence of requests: callers' texts are kept as excerpts (`support.wording.excerpt`) whose
budgets are bytes of UTF-8, so the bound holds in Chinese or emoji as in English, and every list
that a caller can grow keeps its first and/or most recent items, with a count of the ones left
out. The full texts went to their readers (notifications) and stay in the workflow history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, computed_field, model_validator

from support.case.actions import AttachmentRef
from support.messaging.notifications import FailedNotification
from support.policies.vocabulary import CaseStatus, Category, Severity
from support.rules.cooperation import CustomerRequest, RequestKind
from support.rules.request import CaseRequest, RequestDetails
from support.sla_clocks.clock_state import ClockState
from support.sla_clocks.clocks import SlaClock
from support.wording.excerpt import excerpt, utf8_size
from support.wording.reasons import Reason

# How much of a case its state keeps (docs/security.md "Bounded state"). The numbers bound the continue-as-new
# input (and the `view` answer) to well under 256 KiB whatever callers send, in any script: text
# budgets are bytes of UTF-8 (a character is 1 to 4), never characters.
TIMELINE_FIRST = 20  # the first entries, which tell how the case was opened
TIMELINE_RECENT = 100  # and the most recent ones; those between are counted in `timeline_omitted`
ENTRY_MAX = 600  # bytes (UTF-8) of one timeline message (callers' texts in it are 200-byte excerpts)
CLOSED_REQUESTS_KEPT = 10  # answered or waived engineer requests kept (obligations are always kept)
# bytes (UTF-8) of what an outstanding engineer request asks for: REASON_MAX characters of ASCII,
# a third of that in Chinese (the customer's mail had it whole; once answered, an excerpt is kept)
ASKED_KEPT_MAX = 2_000
SEVERITY_CHANGES_KEPT = 20  # besides the opening severity
PAUSES_KEPT = 20
FAILED_NOTIFICATIONS_KEPT = 20
UPDATE_CYCLES_KEPT = 20  # finished customer-update cycles whose verdict the case keeps
NOTES_KEPT = 20  # the most recent internal notes; older ones are counted in `notes_omitted`
NOTE_KEPT_MAX = 1_000  # bytes (UTF-8) of a note the case keeps (the history has it in full)
REPLY_IDS_KEPT = 100  # message ids of the most recent customer replies (a repeat is refused)
ATTACHMENTS_KEPT = 50  # the most recent attachments listed; older ones counted
FILENAME_KEPT_MAX = 200  # bytes (UTF-8) of a listed attachment's name (the store keeps it in full)
HOLDERS_KEPT = 50  # the most recent changes of hands (the SLA ledger's who-used-the-clock)


class TimelineEntry(BaseModel):
    at: datetime
    actor: str = Field(description="'system', 'customer' or the engineer's name")
    kind: str = Field(description="machine-readable event, e.g. opened, severity_capped, sla_warning_50")
    message: str
    internal: bool = Field(default=False, description="for staff only: never in a customer-facing view")


class NoteEntry(BaseModel):
    """An engineer's internal note, as the case keeps it (an excerpt of at most 1,000 bytes)."""

    at: datetime
    engineer: str
    note: str


class WithdrawalRecord(BaseModel):
    at: datetime
    reason: str = Field(description="the customer's reason, as an excerpt")


class SeverityChange(BaseModel):
    at: datetime
    severity: Severity
    previous: Severity | None
    actor: str
    reason: str

    @property
    def is_downgrade(self) -> bool:
        """The case lowered its own severity (actor 'system': the customer did not cooperate in
        time). An engineer's change is the engineer's judgement, not a downgrade."""
        lowered = self.previous is not None and self.severity.rank < self.previous.rank
        return self.actor == "system" and lowered


class Refusal(BaseModel):
    """Why a request did not become a case: `code` and `params` for machines and for the
    requester's message in their language (`support.wording.reasons`), `message` in English."""

    code: str
    message: str
    params: dict[str, str] = Field(
        default_factory=dict, description="what the message mentions, for rendering it in any language"
    )
    referral_partner: str | None = None
    referral_contact: str | None = None

    @property
    def reason(self) -> Reason:
        return Reason(code=self.code, params=self.params)


class VerificationView(BaseModel):
    """Phone verification as the case shows it: never the code, only where it went (masked)."""

    sent_to: str
    issued_at: datetime
    expires_at: datetime
    attempts_used: int = 0
    max_attempts: int
    outcome: str = "pending"


class IncidentLink(BaseModel):
    incident_id: str
    service: str
    title: str


class ClockPause(BaseModel):
    """Who stopped the provider's update clock to wait for the customer, and who started it again."""

    paused_at: datetime
    paused_by: str
    reason: str
    resumed_at: datetime | None = None
    resumed_by: str | None = None


class Holding(BaseModel):
    """Who held the case from `since` on (the SLA ledger charges a clock's time to them)."""

    since: datetime
    engineer: str | None


class SurveyOutcome(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"


class Survey(BaseModel):
    sent_at: datetime
    reminder_at: datetime | None
    expires_at: datetime
    reminded_at: datetime | None = None
    outcome: SurveyOutcome = SurveyOutcome.PENDING
    answered_at: datetime | None = None
    score: int | None = None
    comment: str | None = None


class ClockResult(BaseModel):
    clock: str
    cycle: int
    state: ClockState
    due: datetime | None
    answered_at: datetime | None


class CaseView(BaseModel):
    case_id: str
    case_number: str | None = Field(
        default=None, description="the number people say (CW-10482); none for cases opened before numbers"
    )
    follows: str | None = Field(
        default=None, description="the closed case a reply to which opened this one (its number or id)"
    )
    request_id: str
    status: CaseStatus = CaseStatus.NEW
    tenant_id: str
    tenant_name: str | None = None
    category: Category
    requested_severity: Severity
    severity: Severity | None = None
    title: str
    channel: str
    language: str
    policy_version: str | None = None
    policy_digest: str | None = Field(
        default=None,
        description="the digest of the policy version the case opened under (a case keeps its snapshot: "
        "it never moves to another); None for cases opened before versions were recorded",
    )
    calendar: str | None = None
    time_zone: str | None = Field(default=None, description="zone of the case's calendar, for display")
    created_at: datetime
    opened_at: datetime | None = None
    incident: IncidentLink | None = None
    request: RequestDetails | None = Field(
        default=None,
        description="the description and the contact, for those who may read the case: filled in "
        "when the case is shown, never carried by the case itself (its state stays bounded)",
    )
    verification: VerificationView | None = None
    first_response: SlaClock | None = None
    customer_update: SlaClock | None = None
    sla_breached: bool = False
    severity_history: list[SeverityChange] = Field(default_factory=list)
    customer_requests: list[CustomerRequest] = Field(default_factory=list)
    pauses: list[ClockPause] = Field(default_factory=list)
    failed_notifications: list[FailedNotification] = Field(
        default_factory=list, description="notifications no route could deliver; also alerted to operators"
    )
    assigned_engineer: str | None = None
    holders: list[Holding] = Field(
        default_factory=list, description="changes of hands, for time per assignee (staff only)"
    )
    holders_omitted: int = Field(default=0, description="older changes of hands no longer listed")
    last_activity_at: datetime | None = None
    follow_ups_sent: int = 0
    refusal: Refusal | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_summary: str | None = None
    reopen_until: datetime | None = None
    reopened_count: int = 0
    closed_at: datetime | None = None
    survey: Survey | None = None
    withdrawal: WithdrawalRecord | None = None
    notes: list[NoteEntry] = Field(default_factory=list, description="internal notes (staff only)")
    attachments: list[AttachmentRef] = Field(
        default_factory=list, description="attachments of the customer's replies (stored outside the case)"
    )
    reply_ids: list[str] = Field(
        default_factory=list,
        description="message ids of the most recent customer replies: a repeat is refused",
    )
    timeline: list[TimelineEntry] = Field(default_factory=list)
    timeline_omitted: int = Field(
        default=0,
        description=f"entries left out between the first {TIMELINE_FIRST} and the most recent "
        f"{TIMELINE_RECENT}; the workflow history has them all",
    )
    customer_requests_omitted: int = Field(
        default=0, description="answered or waived engineer requests no longer listed"
    )
    severity_history_omitted: int = Field(
        default=0, description="severity changes between the first and the most recent ones, not listed"
    )
    pauses_omitted: int = Field(default=0, description="older clock pauses no longer listed")
    downgrades_omitted: int = Field(
        default=0, description="cooperation downgrades among the severity changes no longer listed"
    )
    customer_update_breaches_omitted: int = Field(
        default=0, description="breached customer-update cycles among those no longer listed"
    )
    failed_notifications_omitted: int = Field(
        default=0, description="older failed notifications no longer listed"
    )
    customer_update_cycles_omitted: int = Field(
        default=0, description="older customer-update cycles whose verdict is no longer listed"
    )
    notes_omitted: int = Field(default=0, description="older internal notes no longer listed")
    attachments_omitted: int = Field(default=0, description="older attachments no longer listed")
    # Sequence numbers: counted, never derived from lists that are trimmed.
    engineer_requests: int = Field(default=0, description="engineer requests made (request-<n> numbering)")
    severity_changes: int = Field(default=0, description="severity changes after the opening one")
    cooperation_reminders_sent: int = 0
    cooperations_received: int = Field(
        default=0, description="customer answers received (each one's notice has its own id)"
    )
    assignments: int = Field(default=0, description="assignments made (each one's notice has its own id)")
    replies_received: int = Field(default=0, description="customer email replies received")
    obligations_asked_again: int = Field(
        default=0, description="obligations asked for again by an engineer (each notice has its own id)"
    )
    messages: int = Field(
        default=0,
        description="messages in the case's thread after the description (each one's seq); their "
        "full texts are in the database, the timeline has excerpts",
    )

    @model_validator(mode="after")
    def _counters_of_older_state(self) -> CaseView:
        """State carried over from a run before the counters existed: its lists were never trimmed,
        so they still count everything."""
        given = self.model_fields_set
        if "engineer_requests" not in given:
            self.engineer_requests = sum(r.kind is RequestKind.ENGINEER for r in self.customer_requests)
        if "severity_changes" not in given:
            self.severity_changes = max(len(self.severity_history) - 1, 0)
        if "cooperation_reminders_sent" not in given:
            self.cooperation_reminders_sent = sum(e.kind == "cooperation_reminder" for e in self.timeline)
        return self

    @property
    def ref(self) -> str:
        """What people see for the case: its number, or its id when it has none."""
        return self.case_number or self.case_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sla_results(self) -> list[ClockResult]:
        """Verdict of every clock and every finished customer-update cycle, for reports."""
        results: list[ClockResult] = []
        if self.first_response is not None:
            fr = self.first_response
            results.append(
                ClockResult(clock=fr.name, cycle=0, state=fr.state, due=fr.due, answered_at=fr.answered_at)
            )
        if self.customer_update is not None:
            cu = self.customer_update
            results += [
                ClockResult(clock=cu.name, cycle=h.cycle, state=h.state, due=h.due, answered_at=h.answered_at)
                for h in cu.history
            ]
            results.append(
                ClockResult(clock=cu.name, cycle=cu.cycle, state=cu.state, due=cu.due, answered_at=None)
            )
        return results

    @classmethod
    def for_request(
        cls,
        request: CaseRequest,
        now: datetime,
        case_id: str | None = None,
        case_number: str | None = None,
        follows: str | None = None,
    ) -> CaseView:
        """A new case's view; `case_id` is the workflow's own id (cases opened before ids carried
        the tenant keep theirs), `case_number` the one the intake allocated (none before numbers)."""
        return cls(
            case_id=case_id or request.case_id,
            case_number=case_number,
            follows=follows,
            request_id=request.request_id,
            tenant_id=request.tenant_id,
            category=request.category,
            requested_severity=request.severity,
            title=request.title,
            channel=request.channel.value,
            language=request.language,
            created_at=now,
        )

    def record(
        self, at: datetime, kind: str, message: str, actor: str = "system", internal: bool = False
    ) -> None:
        """A timeline entry (`internal`: for staff only). Every change of the case is recorded, so
        this is also where the state is kept bounded (`keep_bounded`) after whatever it added."""
        entry = TimelineEntry(
            at=at, actor=actor, kind=kind, message=excerpt(message, ENTRY_MAX), internal=internal
        )
        self.timeline.append(entry)
        self.keep_bounded()

    def note_holder(self, now: datetime) -> None:
        """Remember a change of hands (an assignment, or the responder taking the case)."""
        current = self.holders[-1].engineer if self.holders else None
        if self.assigned_engineer != current:
            self.holders.append(Holding(since=now, engineer=self.assigned_engineer))
            excess = len(self.holders) - HOLDERS_KEPT
            if excess > 0:
                del self.holders[:excess]
                self.holders_omitted += excess

    def keep_bounded(self) -> None:
        """Trim every list a caller can grow to its kept items, counting the ones left out, and
        every kept text to its byte budget (also what a run from before the budgets carried)."""
        excess = len(self.timeline) - (TIMELINE_FIRST + TIMELINE_RECENT)
        if excess > 0:
            del self.timeline[TIMELINE_FIRST : TIMELINE_FIRST + excess]
            self.timeline_omitted += excess
        self._keep_recent_requests()
        excess = len(self.severity_history) - (1 + SEVERITY_CHANGES_KEPT)
        if excess > 0:
            dropped = self.severity_history[1 : 1 + excess]
            self.downgrades_omitted += sum(change.is_downgrade for change in dropped)
            del self.severity_history[1 : 1 + excess]  # the opening severity stays
            self.severity_history_omitted += excess
        excess = len(self.pauses) - PAUSES_KEPT
        if excess > 0:
            del self.pauses[:excess]
            self.pauses_omitted += excess
        excess = len(self.failed_notifications) - FAILED_NOTIFICATIONS_KEPT
        if excess > 0:
            del self.failed_notifications[:excess]
            self.failed_notifications_omitted += excess
        excess = len(self.notes) - NOTES_KEPT
        if excess > 0:
            del self.notes[:excess]
            self.notes_omitted += excess
        excess = len(self.attachments) - ATTACHMENTS_KEPT
        if excess > 0:
            del self.attachments[:excess]
            self.attachments_omitted += excess
        if len(self.reply_ids) > REPLY_IDS_KEPT:
            del self.reply_ids[: len(self.reply_ids) - REPLY_IDS_KEPT]
        self._keep_texts_within_budget()
        clock = self.customer_update
        if clock is not None and len(clock.history) > UPDATE_CYCLES_KEPT:
            dropped_cycles = clock.history[: len(clock.history) - UPDATE_CYCLES_KEPT]
            self.customer_update_breaches_omitted += sum(
                cycle.state is ClockState.BREACHED for cycle in dropped_cycles
            )
            self.customer_update_cycles_omitted += len(clock.history) - UPDATE_CYCLES_KEPT
            self.customer_update = clock.model_copy(update={"history": clock.history[-UPDATE_CYCLES_KEPT:]})

    def _keep_texts_within_budget(self) -> None:
        """Timeline messages, notes and attachment names cut to their byte budgets. The callers
        excerpt what they add; this also cuts what they add whole (an attachment's name, a
        `Line` of up to 200 characters, is up to 800 bytes) and what an older run carried over."""
        for entry in self.timeline:
            if utf8_size(entry.message) > ENTRY_MAX:
                entry.message = excerpt(entry.message, ENTRY_MAX)
        for note in self.notes:
            if utf8_size(note.note) > NOTE_KEPT_MAX:
                note.note = excerpt(note.note, NOTE_KEPT_MAX)
        if any(utf8_size(a.filename) > FILENAME_KEPT_MAX for a in self.attachments):
            self.attachments = [
                a.model_copy(update={"filename": excerpt(a.filename, FILENAME_KEPT_MAX)})
                for a in self.attachments
            ]

    def _keep_recent_requests(self) -> None:
        """Outstanding requests and obligations stay (what an engineer asks for within its byte
        budget); of the engineer requests that are answered or waived, the most recent few stay,
        with the text of what was asked as an excerpt."""
        engineer = [r for r in self.customer_requests if r.kind is RequestKind.ENGINEER]
        for request in engineer:
            if request.outstanding and utf8_size(request.what) > ASKED_KEPT_MAX:
                request.what = excerpt(request.what, ASKED_KEPT_MAX)
        closed = [r for r in engineer if not r.outstanding]
        for request in closed:
            request.what = excerpt(request.what)
        dropped = {id(r) for r in closed[: max(len(closed) - CLOSED_REQUESTS_KEPT, 0)]}
        if dropped:
            self.customer_requests = [r for r in self.customer_requests if id(r) not in dropped]
            self.customer_requests_omitted += len(dropped)
