"""Notifications a case sends: who gets which event (routing is policy data), and the message
each recipient gets, with an id that is the same on every retry and replay."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from support.wording.reasons import Reason


class Audience(StrEnum):
    CUSTOMER = "customer"  # the case's contact, preferred method first
    REQUESTER = "requester"  # the administrator who opened it
    ENGINEER = "engineer"  # the assigned engineer
    SUPPORT_QUEUE = "support_queue"
    DUTY_MANAGER = "duty_manager"  # escalations
    ACCOUNT_MANAGER = "account_manager"  # the tenant's account manager, for the severities the policy names

    @property
    def customer_side(self) -> bool:
        return self in (Audience.CUSTOMER, Audience.REQUESTER)


# Every event a case can send, by template name; events with a variable part (sla_warning_50,
# cooperation_reminder_impact_analysis) use the template of their stem.
CUSTOMER_TEMPLATES = frozenset(
    {
        "acknowledged",
        "refused",
        "verification_code",
        "first_response",
        "customer_action_requested",
        "cooperation_reminder",
        "obligation_asked_again",
        "customer_update",
        "downgraded",
        "severity_changed",
        "resolved",
        "survey",
        "survey_reminder",
        "closed_unresponsive",
        "withdrawn",
    }
)
SUPPORT_TEMPLATES = frozenset(
    {
        "new_case",
        "sla_warning",
        "sla_breached",
        "customer_update_warning",
        "customer_update_breached",
        "follow_up",
        "reopened",
        "customer_cooperated",
        "downgraded",
        "severity_changed",
        "closed_unresponsive",
        "assigned",
        "customer_replied",
        "withdrawn",
        "notification_failed",
    }
)
ALL_TEMPLATES = CUSTOMER_TEMPLATES | SUPPORT_TEMPLATES
_VARIABLE = re.compile(r"^(sla_warning|customer_update_warning|cooperation_reminder)_.+$")


def template_for(event: str) -> str:
    match = _VARIABLE.match(event)
    return match[1] if match else event


class Notification(BaseModel):
    """One event for one audience. The delivery activity turns it into messages on its routes."""

    notification_id: str
    case_id: str
    event: str
    template: str
    audience: Audience
    language: str = "en"
    time_zone: str = Field(description="the recipient's zone: times are shown in it, with its name")
    to_email: str | None = None
    to_phone: str | None = None
    prefer_phone: bool = False
    engineer: str | None = None
    facts: dict[str, str] = Field(default_factory=dict)
    times: dict[str, datetime] = Field(default_factory=dict)
    reasons: dict[str, list[Reason]] = Field(
        default_factory=dict,
        description="what the case says in its own words, by the fact it stands for: rendered in the "
        "reader's language (support.wording.reasons)",
    )


class DeliveryReceipt(BaseModel):
    notification_id: str
    channel: str
    duplicate: bool = Field(description="true when the ledger had already recorded this delivery")


class FailedNotification(BaseModel):
    """A notification that could not be delivered on any route: shown in the case, alerted on."""

    notification_id: str
    event: str
    audience: Audience
    reason: str
    at: datetime


def notification_id(case_id: str, event: str, sequence: int, audience: Audience) -> str:
    """Deterministic id (case, event, sequence, audience): a re-run never makes a second
    notification, and two audiences told of the same event are two notifications."""
    return f"{case_id}/{event}/{sequence}/{audience.value}"


ESCALATION_EVENTS = frozenset({"sla_breached", "customer_update_breached"})


def urgency(event: str, audience: Audience) -> int:
    """Task-queue priority of a delivery (1 goes first, 3 is Temporal's default): when deliveries
    back up (a burst of deadlines, a worker catching up), escalations to the duty manager go
    out before everything else, and the customer's own messages before internal notices."""
    if event in ESCALATION_EVENTS and audience is Audience.DUTY_MANAGER:
        return 1
    if audience in (Audience.CUSTOMER, Audience.REQUESTER):
        return 2
    return 3
