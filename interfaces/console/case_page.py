"""What the console's case page offers beyond the view: only the actions the case takes now (each
with only the choices it takes: the assignees, severities and obligations `refusal` lets through,
asked of the case's own record through `support.case.actions_now`), the assignee picker of the staff
who may work the case's tenant (`support.identity.staffing`), the operator's canned replies, and the clock
bars drawn from the SLA ledger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from adapters.canned_replies import RepliesFileError, RepliesSource
from adapters.staff import StaffFileError, load_staff
from application.actions import CaseAction
from application.cases import Cases
from application.ledgers import ledger_phrases
from interfaces.console.forms import Field, form_fields
from interfaces.console.ledger_bars import KINDS, LedgerBar, ledger_bars
from interfaces.console.words import Reading
from support.case.actions_now import taken_now
from support.case.view import CaseView
from support.identity.access import Principal
from support.policies.policy import Policy
from support.policies.vocabulary import Severity
from support.rules.cooperation import RequestKind
from support.sla_clocks.ledger import SlaBasis, ledger_of
from support.wording.excerpt import excerpt

REPLY_ACTIONS = frozenset({"respond", "update"})  # the forms that offer canned replies
REPLY_FIELD = "message"  # the field a canned reply fills
LABEL_CHARACTERS = 70


@dataclass(frozen=True)
class ReplyChoice:
    id: str
    label: str  # the reply in the reader's language, shortened, for the list
    text: str  # the reply in the customer's language: what the form is filled with


@dataclass(frozen=True)
class CasePageParts:
    offers: list[tuple[CaseAction, list[Field]]]
    assignees: list[str]  # whom the picker offers: on the staff list, of the tenant, taken by the case
    may_take: bool  # the reader may take the case themselves ("take it")
    replies: list[ReplyChoice]
    replies_problem: str  # the replies file's fault, in one line ("" when it is fine)
    bars: list[LedgerBar]
    legend: tuple[str, ...]
    running: bool


def page_basis(view: CaseView, basis: SlaBasis | None, policy: Policy) -> tuple[SlaBasis, bool]:
    """The basis the page draws on and whether the case runs: a running case's own (read with its
    view in one query: `Cases.show_with_basis`); a case that has ended is drawn from its final
    view on the policy in force, and takes nothing."""
    if basis is not None:
        return basis, True
    return SlaBasis(view=view, policy=policy, tenant_time_zone=view.time_zone), False


def staff_of(staff_file: Path, tenant_id: str) -> list[str]:
    """Who may work this tenant's cases (an unreadable staff list offers nobody: the assign form
    then says the list is the problem rather than offering names no one can check)."""
    try:
        return load_staff(staff_file).who_may_work(tenant_id)
    except StaffFileError:
        return []


def candidates(
    actions: list[CaseAction], view: CaseView, principal: Principal, staff: list[str]
) -> dict[str, list[BaseModel]]:
    """Each action with every choice a form could send (the staff for an assignment, each
    severity, each request of the case), as the models the case's `refusal` is asked about."""
    requests = [r.request_id for r in view.customer_requests]
    made: dict[str, list[BaseModel]] = {}
    for action in actions:
        base: dict[str, Any] = {action.actor_field: principal.name} if action.actor_field else {}
        fields = action.model.model_fields
        options: list[dict[str, Any]]
        if action.staff_field is not None:
            options = [{action.staff_field: name} for name in staff]
        elif "severity" in fields:
            options = [{"severity": severity} for severity in Severity]
        elif "request_id" in fields:
            options = [{"request_id": request} for request in requests]
        else:
            options = [{}]
        made[action.name] = [action.model.model_construct(**base, **option) for option in options]
    return made


def _chosen(action: CaseAction, allowed: list[BaseModel]) -> tuple[str, tuple[str, ...]] | None:
    """The field whose choices the case narrowed, and the choices it takes."""
    for name in (action.staff_field, "severity", "request_id"):
        if name and name in action.model.model_fields and name != action.actor_field:
            values = tuple(str(getattr(getattr(m, name), "value", getattr(m, name))) for m in allowed)
            return name, values
    return None


def offers_of(
    actions: list[CaseAction], taken: dict[str, list[BaseModel]]
) -> list[tuple[CaseAction, list[Field]]]:
    """The forms of the actions the case takes now, each choice field a list of what it takes."""
    offered = []
    for action in actions:
        if action.name not in taken:
            continue
        fields = form_fields(action.body_model())
        chosen = _chosen(action, taken[action.name])
        if chosen is not None:
            name, values = chosen
            fields = [
                dataclasses.replace(f, widget="select", choices=values, required=True)
                if f.name == name
                else f
                for f in fields
            ]
        offered.append((action, fields))
    return offered


def reply_choices(
    replies: RepliesSource, reader: str, customer: str, fault: Callable[[RepliesFileError], str] = str
) -> tuple[list[ReplyChoice], str]:
    """The canned replies (label in the reader's language, text in the customer's), or the file's
    fault in one line (`fault` says it: `Reading.replies_fault` in the reader's language)."""
    try:
        loaded = replies()
    except RepliesFileError as error:
        return [], fault(error)
    return [
        ReplyChoice(r.id, excerpt(r.in_language(reader), LABEL_CHARACTERS), r.in_language(customer))
        for r in loaded.replies
    ], ""


def reply_text(replies: RepliesSource, reply_id: str, customer: str) -> str | None:
    """A canned reply's text in the customer's language (None: no such reply, or a bad file)."""
    try:
        found = replies().get(reply_id)
    except RepliesFileError:
        return None
    return found.in_language(customer) if found is not None else None


def parts_of(
    view: CaseView,
    basis: SlaBasis | None,
    principal: Principal,
    actions: list[CaseAction],
    policy: Policy,
    staff_file: Path,
    replies: RepliesSource,
    reader: Reading,
    now: datetime,
) -> CasePageParts:
    """Everything the case page shows beside the view, for this reader at `now`. `basis`: the
    running case's, read with the view (None: the case has ended)."""
    basis, running = page_basis(view, basis, policy)
    staff = [] if principal.customer_side else staff_of(staff_file, view.tenant_id)
    taken = taken_now(basis, candidates(actions, basis.view, principal, staff), now) if running else {}
    assignees = [str(getattr(m, "assignee", "")) for m in taken.get("assign", [])]
    if principal.customer_side:  # no internal SLA mechanics, no staff, no stock answers
        bars: list[LedgerBar] = []
        choices: list[ReplyChoice] = []
        problem = ""
    else:
        bars = ledger_bars(ledger_of(basis, now), ledger_phrases(reader.language), reader.zone)
        choices, problem = reply_choices(replies, reader.language, view.language, reader.replies_fault)
    return CasePageParts(
        offers=offers_of(actions, taken),
        assignees=assignees,
        may_take=principal.name in assignees,
        replies=choices,
        replies_problem=problem,
        bars=bars,
        legend=KINDS,
        running=running,
    )


def obligation_words(view: CaseView) -> dict[str, str]:
    """Obligation id -> what the policy calls it (the page says it in the reader's words)."""
    return {q.request_id: q.what for q in view.customer_requests if q.kind is RequestKind.OBLIGATION}


async def fill_reply(
    form: dict[str, str], replies: RepliesSource, cases: Cases, case_id: str, principal: Principal
) -> dict[str, str]:
    """The form's values with the chosen canned reply in the message box, in the customer's
    language (the case's); an unknown reply leaves the box as it was."""
    view = await cases.show(case_id, principal)
    text = reply_text(replies, form.get("reply", ""), view.language)
    return form | {REPLY_FIELD: text} if text is not None else form
