"""Who is told of what, and where they are reached (pure).

`recipients`: the notifications of one case event, one per audience the policy routes the event
to (`[routing.events]`), each addressed in its reader's language and zone. `routes`: where one
notification is reached, best first (the customer's preferred method first), over the
deployment's addresses; the delivery activity tries them in order.

An engineer is reached only at the address the staff list gives for their name: a name is looked
up, never formatted into an address (a name like "attacker@evil.example, li.wei" once reached
both). A name the list does not know goes to the support queue, which can tell who it was for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from support.case.record import CaseRecord
from support.messaging.notifications import Audience, Notification, notification_id, template_for
from support.policies.vocabulary import ContactMethod
from support.wording.names import in_language
from support.wording.reasons import Reason

# Where the support side and phones are reached when a channel other than email is set up for
# them: the support queue, the duty manager's escalations, customers' phones (text messages).
DESTINATIONS: tuple[str, ...] = ("support_queue", "duty_manager", "phone")


@dataclass(frozen=True)
class Route:
    channel: str  # the name of a registered channel (adapters/channels): "email", "webhook", "sms", ...
    target: str  # email address, or webhook URL
    to: str | None = None  # the phone number, for a phone's channel


@dataclass(frozen=True)
class Addresses:
    """Where the support side is reached in this deployment (from the worker's settings)."""

    support_queue_email: str
    duty_manager_email: str
    staff: Mapping[str, str] = field(default_factory=dict)  # engineer name -> email, from the staff list
    # destination (DESTINATIONS) -> the route of the channel set up for it; email when none is
    reach: Mapping[str, Route] = field(default_factory=dict)


def routes(notification: Notification, config: Addresses) -> list[Route]:
    """Where this audience is reached, best first."""
    n = notification
    phone = config.reach.get("phone")
    sms = [Route(phone.channel, phone.target, n.to_phone)] if phone and n.to_phone else []
    email = [Route("email", n.to_email)] if n.to_email else []
    # The support side has one route: its channel when configured (a 400 there is a failure to see,
    # not something to hide behind an email), else email. Only the customer has a fallback.
    queue = [config.reach.get("support_queue") or Route("email", config.support_queue_email)]
    if n.audience is Audience.CUSTOMER:
        return sms + email if n.prefer_phone else email + sms
    if n.audience in (Audience.REQUESTER, Audience.ACCOUNT_MANAGER):
        return email
    if n.audience is Audience.ENGINEER:
        address = config.staff.get(n.engineer) if n.engineer else None
        return [Route("email", address)] if address else queue
    if n.audience is Audience.DUTY_MANAGER:
        return [config.reach.get("duty_manager") or Route("email", config.duty_manager_email)]
    return queue


def recipients(
    case: CaseRecord,
    event: str,
    facts: dict[str, str] | None = None,
    times: dict[str, datetime] | None = None,
    sequence: int = 0,
    reasons: dict[str, list[Reason]] | None = None,
) -> list[Notification]:
    """Everyone the policy routes this event to, with what every message may mention."""
    template = template_for(event)
    view = case.view
    common = {
        "case_id": view.case_id,
        "case_ref": view.ref,  # the number people say (CW-10482), or the id of a case from before numbers
        "severity": str(view.severity or view.requested_severity),
        "title": view.title,
        "category": view.category.value,
        "tenant_name": view.tenant_name or view.tenant_id,
    } | ({"follows": view.follows} if view.follows else {})
    instants: dict[str, datetime] = {}
    if view.first_response is not None and view.first_response.due is not None:
        instants["first_response_due"] = view.first_response.due
    told = []
    for audience in case.rules.routing.audiences(template, view.severity):
        fields = _addressed(case, audience)
        if fields is None:
            continue
        own = fields.pop("facts", {})
        told.append(
            Notification(
                notification_id=notification_id(view.case_id, event, sequence, audience),
                case_id=view.case_id,
                event=event,
                template=template,
                audience=audience,
                facts=common | own | (facts or {}),
                times=instants | (times or {}),
                reasons=reasons or {},
                **fields,
            )
        )
    return told


def _addressed(case: CaseRecord, audience: Audience) -> dict[str, Any] | None:
    """Language, zone and address of one audience; None when it has nobody to tell."""
    request, routing = case.request, case.rules.routing
    customer_zone = case.tenant.time_zone if case.tenant else routing.support_time_zone
    support_side: dict[str, Any] = {
        "language": routing.support_language,
        "time_zone": routing.support_time_zone,
    }
    # the name customers read for staff without a display name (support.wording.names), in their language
    facts = {"support_name": in_language(routing.support_name, request.language)}
    if audience is Audience.CUSTOMER:
        return {
            "facts": facts,
            "language": request.language,
            "time_zone": customer_zone,
            "to_email": request.contact_email,
            "to_phone": request.contact_phone,
            "prefer_phone": request.preferred_contact is ContactMethod.PHONE,
        }
    if audience is Audience.REQUESTER:
        if "@" not in request.requester or request.requester.lower() == request.contact_email.lower():
            return None  # the requester is the contact, or has no address: told once, as the customer
        return {
            "facts": facts,
            "language": request.language,
            "time_zone": customer_zone,
            "to_email": request.requester,
        }
    if audience is Audience.ACCOUNT_MANAGER:
        if case.tenant is None or case.tenant.account_manager_email is None:
            return None
        return support_side | {"to_email": case.tenant.account_manager_email}
    if audience is Audience.ENGINEER:
        return support_side | {"engineer": case.view.assigned_engineer}
    return support_side
