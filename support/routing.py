"""Who is reached where: the routes of one notification, best first (the customer's preferred
method first), over the deployment's addresses. Pure: the delivery activity tries them in order.

An engineer is reached only at the address the staff list gives for their name: a name is looked
up, never formatted into an address (a name like "attacker@evil.example, li.wei" once reached
both). A name the list does not know goes to the support queue, which can tell who it was for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from support.notifications import Audience, Notification


@dataclass(frozen=True)
class Addresses:
    """Where the support side is reached in this deployment (from the worker's settings)."""

    support_queue_email: str
    duty_manager_email: str
    staff: Mapping[str, str] = field(default_factory=dict)  # engineer name -> email, from the staff list
    support_queue_webhook: str | None = None
    escalation_webhook: str | None = None
    sms_webhook: str | None = None


@dataclass(frozen=True)
class Route:
    channel: Literal["email", "webhook", "sms"]
    target: str  # email address, or webhook URL
    to: str | None = None  # the phone number, for sms


def routes(notification: Notification, config: Addresses) -> list[Route]:
    """Where this audience is reached, best first."""
    n = notification
    sms = [Route("sms", config.sms_webhook, n.to_phone)] if config.sms_webhook and n.to_phone else []
    email = [Route("email", n.to_email)] if n.to_email else []
    # The support side has one route: its webhook when configured (a 400 there is a failure to see,
    # not something to hide behind an email), else email. Only the customer has a fallback.
    queue = [
        Route("webhook", config.support_queue_webhook)
        if config.support_queue_webhook
        else Route("email", config.support_queue_email)
    ]
    if n.audience is Audience.CUSTOMER:
        return sms + email if n.prefer_phone else email + sms
    if n.audience in (Audience.REQUESTER, Audience.ACCOUNT_MANAGER):
        return email
    if n.audience is Audience.ENGINEER:
        address = config.staff.get(n.engineer) if n.engineer else None
        return [Route("email", address)] if address else queue
    if n.audience is Audience.DUTY_MANAGER:
        if config.escalation_webhook:
            return [Route("webhook", config.escalation_webhook)]
        return [Route("email", config.duty_manager_email)]
    return queue
