"""Send a one-time code for phone intake to the tenant's registered email (or phone).

Every attempt of the activity makes and sends a fresh code under its own notification id and
returns that code's salted hash, so a retry after a crash never leaves the case checking a code
the customer did not get: the newest message holds the code that works. The code is never logged.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery import DeliveryActivities
from activities.directory_store import DirectoryStore
from support.notifications import Audience, Notification
from support.verification import IssuedCode, hash_code, mask


class CodeRequest(BaseModel):
    case_id: str
    tenant_id: str
    language: str = "en"
    time_zone: str = "Asia/Shanghai"


class VerificationActivities:
    def __init__(self, store: DirectoryStore, delivery: DeliveryActivities) -> None:
        self._store = store
        self._delivery = delivery

    @activity.defn(name="send_verification_code")
    async def send_verification_code(self, request: CodeRequest) -> IssuedCode:
        emails = await asyncio.to_thread(self._store.registered, request.tenant_id, "email")
        phones = await asyncio.to_thread(self._store.registered, request.tenant_id, "phone")
        if not emails and not phones:
            raise ApplicationError(
                "the tenant has no registered email or phone to send a verification code to",
                type="NoRegisteredContact",
                non_retryable=True,
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        salt = secrets.token_bytes(16)
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
            facts={"code": code, "note": "Use the most recent code you received."},
        )
        receipt = await self._delivery.deliver(notification)
        address = emails[0] if emails and receipt.channel == "email" else (phones or emails)[0]
        return IssuedCode(
            salt_hex=salt.hex(),
            code_hash_hex=hash_code(code, salt),
            sent_to=mask(address),
            issued_at=datetime.now(UTC),
        )
