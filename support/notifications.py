"""Notifications a case sends, each with an id that is the same on every retry and replay."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Audience(StrEnum):
    CUSTOMER = "customer"
    SUPPORT_QUEUE = "support_queue"
    DUTY_MANAGER = "duty_manager"
    ENGINEER = "engineer"


class Notification(BaseModel):
    """One message to one audience. `facts` are the values a template fills in."""

    notification_id: str
    case_id: str
    event: str
    audience: Audience
    language: str = "en"
    recipient: str | None = Field(default=None, description="address for the customer; None for queues")
    facts: dict[str, str] = Field(default_factory=dict)


class DeliveryReceipt(BaseModel):
    notification_id: str
    channel: str
    duplicate: bool = Field(description="true when this id had already been delivered")


def notification_id(case_id: str, event: str, sequence: int, audience: Audience) -> str:
    """Deterministic id (case, event, sequence, audience): a re-run never makes a second
    notification, and two audiences told of the same event are two notifications."""
    return f"{case_id}/{event}/{sequence}/{audience.value}"
