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

from activities.directory_store import DirectoryStore
from activities.notify import NotifyActivities
from support.notifications import Audience, Notification
from support.verification import IssuedCode, hash_code, mask


class CodeRequest(BaseModel):
    case_id: str
    tenant_id: str
    language: str = "en"


class VerificationActivities:
    def __init__(self, store: DirectoryStore, notify: NotifyActivities) -> None:
        self._store = store
        self._notify = notify

    @activity.defn(name="send_verification_code")
    async def send_verification_code(self, request: CodeRequest) -> IssuedCode:
        emails = await asyncio.to_thread(self._store.registered, request.tenant_id, "email")
        phones = await asyncio.to_thread(self._store.registered, request.tenant_id, "phone")
        targets = emails or phones
        if not targets:
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
            audience=Audience.CUSTOMER,
            language=request.language,
            recipient=targets[0],
            facts={"code": code, "note": "Use the most recent code you received."},
        )
        await self._notify.send_notification(notification)
        return IssuedCode(
            salt_hex=salt.hex(),
            code_hash_hex=hash_code(code, salt),
            sent_to=mask(targets[0]),
            issued_at=datetime.now(UTC),
        )
