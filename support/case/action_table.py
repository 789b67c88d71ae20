"""Every action a person takes on a case, in one table: one row per action model says how the case
takes it (its step), when it refuses it (its status gate and its own rule, with the verb its
refusals use), the workflow update that carries it, and, for the actions the intake offers, its
route (HTTP path, permission, who acts). The case machine, the workflow's updates, the intake's
API, CLI and console forms are all made from this table: a new action is its model
(`support.case.actions`), its step and refusal (in the module of its rule), and a row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar, get_args

from pydantic import BaseModel
from typing_extensions import TypeIs

from support.case import actions
from support.case.actions import Action
from support.case.effects import Decision
from support.case.record import CaseRecord
from support.identity.access import Permission
from support.policies.vocabulary import CaseStatus
from support.rules.assignment import assign, assign_refusal, noted
from support.rules.customer_replies import received, reply_refusal
from support.rules.customer_requests import (
    accept,
    acceptance_refusal,
    ask,
    ask_again,
    asked_again_refusal,
    cooperated,
    cooperation_refusal,
    request_refusal,
)
from support.rules.resolution import reopen, reopen_request_refusal, resolve, survey_answered, survey_refusal
from support.rules.responses import customer_update, respond, response_refusal
from support.rules.severity_changes import change_refusal, engineer_change
from support.rules.withdrawal import withdraw, withdrawal_refusal

A = TypeVar("A", bound=BaseModel)

MOVING = (
    "cannot {verb} right now: the case is moving to a new run (its history is long); "
    "send it again in a moment"
)
MOVING_MARK = "send it again in a moment"  # how a caller recognises a refusal worth retrying soon


def moving_refusal(verb: str, moving: bool) -> str | None:
    """Refused while the case settles before it continues as new: accepted then, the action would
    start a delivery the continue-as-new must wait for, and a steady stream of actions would keep
    the case from ever continuing as new."""
    return MOVING.format(verb=verb) if moving else None


class Needs(Enum):
    """The status an action needs, checked before its own rule (each level adds to the last)."""

    NOTHING = "any status, also while the case moves to a new run (it starts no delivery then)"
    ONE_RUN = "any status, not while the case moves; its own rule first (a repeat is refused as such)"
    RUNNING = "not while the case moves nor while it is being opened"
    OPEN = "an open case"
    ANSWERED = "an open case whose first response was given (in progress)"


@dataclass(frozen=True)
class Route:
    """How the intake offers an action: `POST /cases/{case_id}/<path>`, the CLI command `name`,
    a console form."""

    name: str  # the CLI's command, the console form's and the gateway's word for it
    path: str
    summary: str
    permission: Permission
    actor_field: str | None = None  # filled in from the acting principal's name, never from the body
    cli_flags: Mapping[str, str] = field(default_factory=dict)  # a field's option when not --<field>
    staff_field: str | None = None  # a field that must name someone on the staff list (else 422)


@dataclass(frozen=True)
class CaseAction(Generic[A]):
    model: type[A]
    step: Callable[[CaseRecord, A, datetime, Decision], None]
    refusal: Callable[[CaseRecord, A, datetime], str | None]  # the action's own rule
    verb: str  # what a refusal says cannot be done ("cannot <verb>: ...")
    needs: Needs
    update: str  # the workflow update's name (never renamed: recorded histories name it)
    kept: bool = False  # writes a thread message: its update answers once the message is kept
    route: Route | None = None  # None: not offered by the intake's API, CLI or console

    def refused(self, case: CaseRecord, action: A, now: datetime, moving: bool) -> str | None:
        """Why the case does not take `action` now: the status gate, then the action's own rule."""
        if self.needs is Needs.NOTHING:
            return self.refusal(case, action, now)
        if self.needs is Needs.ONE_RUN:
            return self.refusal(case, action, now) or moving_refusal(self.verb, moving)
        return self._gate(case.view.status, moving) or self.refusal(case, action, now)

    def _gate(self, status: CaseStatus, moving: bool) -> str | None:
        if moving:
            return MOVING.format(verb=self.verb)
        if status is CaseStatus.NEW:
            return f"cannot {self.verb}: the case is still being opened; try again in a moment"
        if self.needs is Needs.RUNNING:
            return None
        if not status.is_open:
            return f"cannot {self.verb}: the case is {status.value}"
        if self.needs is Needs.ANSWERED and status is not CaseStatus.IN_PROGRESS:
            return f"cannot {self.verb}: the case is {status.value}; give the first response first"
        return None


def no_rule(case: CaseRecord, action: BaseModel, now: datetime) -> None:
    """An action its status gate alone decides."""


AGENT = Permission.AGENT_ACTION
CUSTOMER = Permission.CUSTOMER_ACTION
ENGINEER = "engineer"  # the actor field of staff's actions

ACTIONS: tuple[CaseAction[Any], ...] = (
    CaseAction(
        model=actions.FirstResponse,
        step=respond,
        refusal=response_refusal,
        verb="respond",
        needs=Needs.OPEN,
        update="respond",
        kept=True,
        route=Route("respond", "respond", "The engineer's first response", AGENT, ENGINEER),
    ),
    CaseAction(
        model=actions.CustomerUpdate,
        step=customer_update,
        refusal=no_rule,
        verb="update the customer",
        needs=Needs.ANSWERED,
        update="update_customer",
        kept=True,
        route=Route(
            "update",
            "updates",
            "An update to the customer (satisfies the customer-update clock)",
            AGENT,
            ENGINEER,
        ),
    ),
    CaseAction(
        model=actions.CustomerActionRequest,
        step=ask,
        refusal=request_refusal,
        verb="ask the customer",
        needs=Needs.ANSWERED,
        update="request_customer_action",
        kept=True,
        route=Route(
            "ask",
            "customer-requests",
            "Ask the customer for something (pauses the customer-update clock)",
            AGENT,
            ENGINEER,
            cli_flags={"pauses_clock": "--no-pause"},
        ),
    ),
    CaseAction(
        model=actions.SeverityChangeRequest,
        step=engineer_change,
        refusal=change_refusal,
        verb="change the severity",
        needs=Needs.OPEN,
        update="change_severity",
        route=Route(
            "severity", "severity", "Change the severity", AGENT, ENGINEER, cli_flags={"severity": "--to"}
        ),
    ),
    CaseAction(
        model=actions.Resolution,
        step=resolve,
        refusal=no_rule,
        verb="resolve",
        needs=Needs.OPEN,
        update="resolve",
        kept=True,
        route=Route("resolve", "resolve", "Resolve the case", AGENT, ENGINEER),
    ),
    CaseAction(
        model=actions.Assignment,
        step=assign,
        refusal=assign_refusal,
        verb="assign",
        needs=Needs.OPEN,
        update="assign",
        route=Route(
            "assign",
            "assignment",
            "Assign (or hand over) the case to an engineer on the staff list",
            AGENT,
            ENGINEER,
            cli_flags={"assignee": "--to"},
            staff_field="assignee",
        ),
    ),
    CaseAction(
        model=actions.InternalNote,
        step=noted,
        refusal=no_rule,  # staff may note on a resolved or closed case while it runs
        verb="add a note",
        needs=Needs.RUNNING,
        update="note",
        kept=True,
        route=Route(
            "note",
            "notes",
            "An internal note for staff (never shown or sent to the customer)",
            AGENT,
            ENGINEER,
        ),
    ),
    CaseAction(
        model=actions.ObligationAcceptance,
        step=accept,
        refusal=acceptance_refusal,
        verb="accept an obligation",
        needs=Needs.OPEN,
        update="accept_obligation",
        route=Route(
            "accept_obligation",
            "accepted-obligations",
            "Accept an obligation the customer answered (or that reached support otherwise)",
            AGENT,
            ENGINEER,
            cli_flags={"request_id": "--obligation"},
        ),
    ),
    CaseAction(
        model=actions.ObligationAskedAgain,
        step=ask_again,
        refusal=asked_again_refusal,
        verb="ask for an obligation again",
        needs=Needs.OPEN,
        update="ask_obligation_again",  # a new due time; the customer is told why
        kept=True,
        route=Route(
            "ask_obligation_again",
            "obligations-asked-again",
            "Ask for an answered obligation again (a new due time; the customer is told why)",
            AGENT,
            ENGINEER,
            cli_flags={"request_id": "--obligation"},
        ),
    ),
    CaseAction(
        model=actions.ReopenRequest,
        step=reopen,
        refusal=reopen_request_refusal,
        verb="reopen",
        needs=Needs.NOTHING,
        update="reopen",
        kept=True,
        route=Route("reopen", "reopen", "The customer reopens a resolved case within the window", CUSTOMER),
    ),
    CaseAction(
        model=actions.Cooperation,
        step=cooperated,
        refusal=cooperation_refusal,
        verb="take this answer",
        needs=Needs.RUNNING,
        update="answer_request",  # the `cooperate` signal of old is kept by the workflow
        kept=True,
        route=Route(
            "cooperate",
            "cooperation",
            "The customer provides an obligation or request",
            CUSTOMER,
            cli_flags={"request_id": "--request"},
        ),
    ),
    CaseAction(
        model=actions.SurveyAnswer,
        step=survey_answered,
        refusal=survey_refusal,  # starts no delivery: taken while the case moves too
        verb="answer the survey",
        needs=Needs.NOTHING,
        update="answer_survey",  # the `survey` signal of old is kept by the workflow
        route=Route("survey", "survey", "The customer's satisfaction survey answer", CUSTOMER),
    ),
    CaseAction(
        model=actions.Withdrawal,
        step=withdraw,
        refusal=withdrawal_refusal,
        verb="withdraw",
        needs=Needs.RUNNING,
        update="withdraw",
        kept=True,
        route=Route(
            "withdraw",
            "withdrawal",
            "The customer withdraws an open case (closed without a survey)",
            CUSTOMER,
        ),
    ),
    CaseAction(
        model=actions.CustomerReply,
        step=received,
        refusal=reply_refusal,  # a repeat is refused as such whatever the case does (exactly once)
        verb="take a reply",
        needs=Needs.ONE_RUN,
        update="receive_reply",  # from the inbound mail; update id `reply-<message_id>`
        kept=True,
    ),
)

BY_MODEL: dict[type[BaseModel], CaseAction[Any]] = {a.model: a for a in ACTIONS}
if set(BY_MODEL) != set(get_args(Action)) or len(BY_MODEL) != len(ACTIONS):  # fails every import
    raise TypeError(
        "support.case.action_table needs exactly one row per model of support.case.actions.Action"
    )


def action_of(action: BaseModel) -> CaseAction[Any]:
    """The row of an action's model (a model no row names is a KeyError: never an `Action`)."""
    return BY_MODEL[type(action)]


def is_action(event: BaseModel) -> TypeIs[Action]:
    """A person's action (a model with a row), as opposed to what the case learns otherwise."""
    return type(event) in BY_MODEL
