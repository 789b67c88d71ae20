"""The actions the intake offers on a case (its API routes, CLI commands and console forms): the rows
of `support.case.action_table` that have a route, each with the model it takes and the workflow update
that carries it out.

The API's routes, the CLI's commands and the console's forms are made from this table, so an
action cannot exist without a role that may take it (tests/system/test_access.py fails for an endpoint no
table names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, create_model

from support.case.action_table import ACTIONS as RULES
from support.identity.access import Permission
from support.policies.vocabulary import Via

VIA = "via"  # filled in by the intake, never from a body


@dataclass(frozen=True)
class CaseAction:
    name: str  # the CLI's command and the gateway's word for it
    path: str  # POST /cases/{case_id}/<path>
    summary: str
    permission: Permission
    model: type[BaseModel]  # what the workflow update takes
    update: str  # the workflow update's name
    actor_field: str | None  # filled in from the acting principal's name, never from the body
    cli_flags: Mapping[str, str]  # a field's option when not --<field>
    staff_field: str | None  # a field that must name someone on the staff list (else 422)

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


CASE_ACTIONS: tuple[CaseAction, ...] = tuple(
    CaseAction(
        name=row.route.name,
        path=row.route.path,
        summary=row.route.summary,
        permission=row.route.permission,
        model=row.model,
        update=row.update,
        actor_field=row.route.actor_field,
        cli_flags=row.route.cli_flags,
        staff_field=row.route.staff_field,
    )
    for row in RULES
    if row.route is not None
)

ACTIONS: dict[str, CaseAction] = {a.name: a for a in CASE_ACTIONS}
OF_MODEL: dict[type[BaseModel], CaseAction] = {a.model: a for a in CASE_ACTIONS}
