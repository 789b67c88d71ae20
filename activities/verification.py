"""Send a one-time code for phone intake to the tenant's registered email (or phone).

Every attempt of the activity makes and sends a fresh code under its own notification id and
returns that code's MAC under the server-side verification key (never the key, never the code),
so a retry after a crash never leaves the case checking a code the customer did not get: the
newest message holds the code that works. The code is never logged.

A caller number with too many wrong codes in the last hour (any request of the tenant) gets no
fresh code: the activity fails for good with `VerificationLocked`, and the case is refused, so
new request ids buy no more tries.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery import DeliveryActivities
from adapters.directory_store import DirectoryStore, VerificationFailures
from support.identity.verification import IssuedCode, caller_mac, code_mac, mask
from support.messaging.notifications import Audience, Notification
from support.policies.durations import Duration, format_duration
from support.policies.policy import VerificationRule

VERIFICATION_LOCKED = "VerificationLocked"
DEFAULT_VALID_FOR = VerificationRule().expires_after


class CodeRequest(BaseModel):
    case_id: str
    tenant_id: str
    language: str = "en"
    time_zone: str = "Asia/Shanghai"
    caller_number: str | None = None  # absent in histories recorded before the limits per caller
    valid_for: Duration | None = Field(
        default=None,
        description="the case policy's [verification] expires_after, told to the customer; callers "
        "that do not pass it yet get the policy's default",
    )


class VerificationActivities:
    def __init__(
        self, store: DirectoryStore, delivery: DeliveryActivities, key: bytes, failures: VerificationFailures
    ) -> None:
        """`key`: `adapters.secrets.verification_key`, the same as the intake's; `failures`: the
        wrong codes per tenant and caller that the intake records."""
        self._store = store
        self._delivery = delivery
        self._key = key
        self._failures = failures

    @activity.defn(name="send_verification_code")
    async def send_verification_code(self, request: CodeRequest) -> IssuedCode:
        if request.caller_number is not None:
            caller = caller_mac(self._key, request.tenant_id, request.caller_number)
            locked = await asyncio.to_thread(
                self._failures.locked_for, request.tenant_id, caller, datetime.now(UTC)
            )
            if locked is not None:
                minutes = max(1, math.ceil(locked.total_seconds() / 60))
                raise ApplicationError(
                    f"you may try again in {minutes} minutes",
                    {"retry_after_seconds": math.ceil(locked.total_seconds())},
                    type=VERIFICATION_LOCKED,
                    non_retryable=True,
                )
        emails = await asyncio.to_thread(self._store.registered, request.tenant_id, "email")
        phones = await asyncio.to_thread(self._store.registered, request.tenant_id, "phone")
        if not emails and not phones:
            raise ApplicationError(
                "the tenant has no registered email or phone to send a verification code to",
                type="NoRegisteredContact",
                non_retryable=True,
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        attempt = activity.info().attempt
        notification = Notification(
            notification_id=f"{request.case_id}/verification_code/{attempt}/customer",
            case_id=request.case_id,
            event="verification_code",
            template="verification_code",
            audience=Audience.CUSTOMER,
            language=request.language,
            time_zone=request.time_zone,
            to_email=emails[0] if emails else None,
            to_phone=phones[0] if phones else None,
            prefer_phone=not emails,
            facts={"code": code, "valid_for": format_duration(request.valid_for or DEFAULT_VALID_FOR)},
        )
        receipt = await self._delivery.deliver(notification)
        address = emails[0] if emails and receipt.channel == "email" else (phones or emails)[0]
        return IssuedCode(
            code_mac=code_mac(self._key, request.case_id, code),
            sent_to=mask(address),
            issued_at=datetime.now(UTC),
        )
