"""Everything a case can learn, as one union of models: the facts it opens on, the phone
verification's steps, the engineers' and the customer's actions (`support.case.actions`), time
passing, and a notification that could not be delivered."""

from __future__ import annotations

from pydantic import BaseModel

from support.case.actions import Action
from support.case.context import CaseContext
from support.identity.verification import IssuedCode, SealedAttempt
from support.messaging.notifications import Notification


class CodeSent(BaseModel):
    """A one-time code went to a registered contact of the tenant."""

    issued: IssuedCode


class CodeNotSent(BaseModel):
    """No code could be sent: the number is locked after wrong codes, or no route worked."""

    locked: bool
    reason: str


class VerificationWaitOver(BaseModel):
    """The caller's code was confirmed or refused for good, or the code expired."""


class TimePassed(BaseModel):
    """The case's clock moved on: whatever its agenda has due now happens, in order."""


class DeliveryFailed(BaseModel):
    """A notification no route could deliver within the policy's retry time."""

    notification: Notification
    reason: str


Event = (
    Action
    | CaseContext
    | CodeSent
    | CodeNotSent
    | VerificationWaitOver
    | SealedAttempt
    | TimePassed
    | DeliveryFailed
)
