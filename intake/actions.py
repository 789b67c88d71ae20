"""The actions on a case, in one typed table: what each is called, the model it takes, the
workflow handler that carries it out, the permission it needs and its HTTP path.

The API's routes and the `Cases` gateway are made from this table, so an action cannot exist
without a role that may take it (tests/test_access.py fails for an endpoint no table names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, create_model

from support.access import Permission
from support.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    InternalNote,
    ObligationAcceptance,
    ObligationAskedAgain,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
    Withdrawal,
)
from support.vocabulary import Via
from workflows.support_case import SupportCaseWorkflow

VIA = "via"  # filled in by the intake, never from a body


@dataclass(frozen=True)
class CaseAction:
    name: str  # the CLI's command and the gateway's word for it
    path: str  # POST /cases/{case_id}/<path>
    summary: str
    permission: Permission
    model: type[BaseModel]  # what the workflow handler takes
    handler: Any  # the workflow's update or signal method
    kind: Literal["update", "signal"]
    actor_field: str | None = None  # filled in from the acting principal's name, never from the body
    cli_help: str = ""  # the CLI's help line, when it says more than the summary
    cli_flags: Mapping[str, str] = field(default_factory=dict)  # a field's option when not --<field>
    staff_field: str | None = None  # a field that must name someone on the staff list (else 422)

    def body_model(self) -> type[BaseModel]:
        """What a caller sends: the model without the actor field (a body cannot name another
        engineer: an `engineer` field is an unknown field, 422) nor `via` (the intake says where
        the message came in)."""
        filled = {self.actor_field, VIA}
        if not filled & set(self.model.model_fields):
            return self.model
        fields: dict[str, Any] = {
            name: (info.annotation, info)
            for name, info in self.model.model_fields.items()
            if name not in filled
        }
        body: type[BaseModel] = create_model(
            f"{self.model.__name__}Body",
            __config__=self.model.model_config,
            __doc__=self.model.__doc__,
            **fields,
        )
        return body

    def payload(self, body: BaseModel, actor: str, via: Via | None = None) -> BaseModel:
        """The workflow's input: the body, with the actor filled in where the action has one, and
        where it came in for an action that says something (the thread's channel)."""
        filled: dict[str, Any] = {}
        if self.actor_field is not None:
            filled[self.actor_field] = actor
        if via is not None and VIA in self.model.model_fields:
            filled[VIA] = via
        if not filled:
            return body
        return self.model.model_validate(body.model_dump() | filled)


AGENT = Permission.AGENT_ACTION
CUSTOMER = Permission.CUSTOMER_ACTION
WF = SupportCaseWorkflow

CASE_ACTIONS: tuple[CaseAction, ...] = (
    CaseAction(
        name="respond",
        path="respond",
        summary="The engineer's first response",
        permission=AGENT,
        model=FirstResponse,
        handler=WF.respond,
        kind="update",
        actor_field="engineer",
    ),
    CaseAction(
        name="update",
        path="updates",
        summary="An update to the customer (satisfies the customer-update clock)",
        permission=AGENT,
        model=CustomerUpdate,
        handler=WF.update_customer,
        kind="update",
        actor_field="engineer",
    ),
    CaseAction(
        name="ask",
        path="customer-requests",
        summary="Ask the customer for something (pauses the customer-update clock)",
        permission=AGENT,
        model=CustomerActionRequest,
        handler=WF.request_customer_action,
        kind="update",
        actor_field="engineer",
        cli_flags={"pauses_clock": "--no-pause"},
    ),
    CaseAction(
        name="severity",
        path="severity",
        summary="Change the severity",
        permission=AGENT,
        model=SeverityChangeRequest,
        handler=WF.change_severity,
        kind="update",
        actor_field="engineer",
        cli_flags={"severity": "--to"},
    ),
    CaseAction(
        name="resolve",
        path="resolve",
        summary="Resolve the case",
        permission=AGENT,
        model=Resolution,
        handler=WF.resolve,
        kind="update",
        actor_field="engineer",
    ),
    CaseAction(
        name="assign",
        path="assignment",
        summary="Assign (or hand over) the case to an engineer on the staff list",
        permission=AGENT,
        model=Assignment,
        handler=WF.assign,
        kind="update",
        actor_field="engineer",
        cli_flags={"assignee": "--to"},
        staff_field="assignee",
    ),
    CaseAction(
        name="note",
        path="notes",
        summary="An internal note for staff (never shown or sent to the customer)",
        permission=AGENT,
        model=InternalNote,
        handler=WF.note,
        kind="update",
        actor_field="engineer",
    ),
    CaseAction(
        name="accept_obligation",
        path="accepted-obligations",
        summary="Accept an obligation the customer answered (or that reached support otherwise)",
        permission=AGENT,
        model=ObligationAcceptance,
        handler=WF.accept_obligation,
        kind="update",
        actor_field="engineer",
        cli_flags={"request_id": "--obligation"},
    ),
    CaseAction(
        name="ask_obligation_again",
        path="obligations-asked-again",
        summary="Ask for an answered obligation again (a new due time; the customer is told why)",
        permission=AGENT,
        model=ObligationAskedAgain,
        handler=WF.ask_obligation_again,
        kind="update",
        actor_field="engineer",
        cli_flags={"request_id": "--obligation"},
    ),
    CaseAction(
        name="reopen",
        path="reopen",
        summary="The customer reopens a resolved case within the window",
        permission=CUSTOMER,
        model=ReopenRequest,
        handler=WF.reopen,
        kind="update",
    ),
    CaseAction(
        name="cooperate",
        path="cooperation",
        summary="The customer provides an obligation or request",
        permission=CUSTOMER,
        model=Cooperation,
        handler=WF.answer_request,
        kind="update",
        cli_flags={"request_id": "--request"},
    ),
    CaseAction(
        name="survey",
        path="survey",
        summary="The customer's satisfaction survey answer",
        permission=CUSTOMER,
        model=SurveyAnswer,
        handler=WF.answer_survey,
        kind="update",
    ),
    CaseAction(
        name="withdraw",
        path="withdrawal",
        summary="The customer withdraws an open case (closed without a survey)",
        permission=CUSTOMER,
        model=Withdrawal,
        handler=WF.withdraw,
        kind="update",
    ),
)

ACTIONS: dict[str, CaseAction] = {a.name: a for a in CASE_ACTIONS}
