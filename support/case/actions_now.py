"""Which actions a case takes now, and with which choices: asked of the case machine's own
`refusal` (the rule every update's validator enforces), never a second copy of it.

A page offers an action only if the case would take it: each candidate (an action with one of its
choices filled in: an assignee, a severity, an obligation) is put to `refusal` on the case's record
(its view, its own policy snapshot and tenant facts); the candidates it refuses are left out.
Pure: the caller says `now` (the case's clock) and builds the candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from support.case.machine import refusal
from support.case.record import CaseRecord
from support.rules.request import CaseRequest
from support.sla_clocks.ledger import SlaBasis


def record_of(basis: SlaBasis) -> CaseRecord:
    """The case's record as `refusal` reads it: the view, the policy snapshot and the tenant facts.
    `refusal` never reads the request (the customer's words): it is left empty here."""
    unread: dict[str, Any] = {}
    record = CaseRecord(CaseRequest.model_construct(**unread), basis.view)
    record.policy = basis.policy
    record.tenant = basis.tenant
    record.inputs = None
    return record


def taken_now(
    basis: SlaBasis, candidates: Mapping[str, Sequence[BaseModel]], now: datetime
) -> dict[str, list[BaseModel]]:
    """For each action name, the candidates the case would take at `now` (an action none of whose
    candidates it takes is left out). A case not yet opened (no policy or tenant) takes none."""
    if basis.policy is None or basis.tenant is None:
        return {}
    record = record_of(basis)
    taken: dict[str, list[BaseModel]] = {}
    for name, options in candidates.items():
        allowed = [option for option in options if refusal(record, option, now) is None]
        if allowed:
            taken[name] = allowed
    return taken
