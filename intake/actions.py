"""The actions on a case, in one typed table: what each is called, the model it takes, the
workflow handler that carries it out, the permission it needs and its HTTP path.

The API's routes and the `Cases` gateway are made from this table, so an action cannot exist
without a role that may take it (tests/test_access.py fails for an endpoint no table names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, create_model

from support.access import Permission
from support.actions import (
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    ReopenRequest,
    Resolution,
    SeverityChangeRequest,
    SurveyAnswer,
)
from workflows.support_case import SupportCaseWorkflow


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

    def body_model(self) -> type[BaseModel]:
        """What a caller sends: the model without the actor field (a body cannot name another
        engineer: an `engineer` field is an unknown field, 422)."""
        if self.actor_field is None:
            return self.model
        fields: dict[str, Any] = {
            name: (info.annotation, info)
            for name, info in self.model.model_fields.items()
            if name != self.actor_field
        }
        body: type[BaseModel] = create_model(
            f"{self.model.__name__}Body",
            __config__=self.model.model_config,
            __doc__=self.model.__doc__,
            **fields,
        )
        return body

    def payload(self, body: BaseModel, actor: str) -> BaseModel:
        """The workflow's input: the body, with the actor filled in where the action has one."""
        if self.actor_field is None:
            return body
        return self.model.model_validate(body.model_dump() | {self.actor_field: actor})


AGENT = Permission.AGENT_ACTION
CUSTOMER = Permission.CUSTOMER_ACTION
WF = SupportCaseWorkflow

CASE_ACTIONS: tuple[CaseAction, ...] = (
    CaseAction(
        "respond",
        "respond",
        "The engineer's first response",
        AGENT,
        FirstResponse,
        WF.respond,
        "update",
        "engineer",
    ),
    CaseAction(
        "update",
        "updates",
        "An update to the customer (satisfies the update clock)",
        AGENT,
        CustomerUpdate,
        WF.update_customer,
        "update",
        "engineer",
    ),
    CaseAction(
        "ask",
        "customer-requests",
        "Ask the customer for something (pauses the update clock)",
        AGENT,
        CustomerActionRequest,
        WF.request_customer_action,
        "update",
        "engineer",
    ),
    CaseAction(
        "severity",
        "severity",
        "Change the severity",
        AGENT,
        SeverityChangeRequest,
        WF.change_severity,
        "update",
        "engineer",
    ),
    CaseAction("resolve", "resolve", "Resolve the case", AGENT, Resolution, WF.resolve, "update", "engineer"),
    CaseAction(
        "reopen",
        "reopen",
        "The customer reopens a resolved case within the window",
        CUSTOMER,
        ReopenRequest,
        WF.reopen,
        "update",
    ),
    CaseAction(
        "cooperate",
        "cooperation",
        "The customer provides an obligation or request",
        CUSTOMER,
        Cooperation,
        WF.cooperate,
        "signal",
    ),
    CaseAction(
        "survey",
        "survey",
        "The customer's satisfaction survey answer",
        CUSTOMER,
        SurveyAnswer,
        WF.survey,
        "signal",
    ),
)

ACTIONS: dict[str, CaseAction] = {a.name: a for a in CASE_ACTIONS}
