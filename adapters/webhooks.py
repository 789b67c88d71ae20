"""Webhooks out: a JSON body signed over the time of sending (`X-Casework-Signature: t=..,v1=..`,
support/messaging/webhook_signature.py), posted once, its answer sorted into delivered, retry or give up."""

from __future__ import annotations

import json
import time

import httpx

from adapters.outbound import PermanentFailure, TransientFailure
from support.messaging import webhook_signature


async def post_signed(
    url: str,
    payload: dict[str, object],
    *,
    secret: str,
    idempotency_key: str,
    event: str,
    timeout_seconds: float,
    client: httpx.AsyncClient | None = None,
) -> None:
    """POST the payload (over `client`, else a client of its own). HTTP 2xx is delivered; 408,
    429, 5xx or no answer is a TransientFailure; any other answer, or no secret to sign with
    (never sent unsigned), a PermanentFailure."""
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    try:  # signed at each attempt: a retry an hour later carries a fresh time
        signature = webhook_signature.sign(secret, body, int(time.time()))
    except ValueError:  # no secret (the worker refuses to start so): never send unsigned
        raise PermanentFailure("no webhook secret (CASEWORK_WEBHOOK_SECRET)") from None
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,  # the same on every retry
        "X-Casework-Event": event,
        webhook_signature.HEADER: signature,
    }
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=timeout_seconds) as own:
                response = await own.post(url, content=body, headers=headers)
        else:
            response = await client.post(url, content=body, headers=headers, timeout=timeout_seconds)
    except httpx.HTTPError as error:
        unreachable = f"webhook unreachable ({type(error).__name__})"
        raise TransientFailure(unreachable, "WebhookUnavailable") from None
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (408, 429) or status >= 500:
        raise TransientFailure(f"webhook answered {status}", "WebhookTransient")
    raise PermanentFailure(f"webhook answered {status}")


class WebhookClient:
    """Signed posts (post_signed) over one HTTP client, so posts to the same receiver reuse its
    connections. An idle connection is kept 2 s at most: less than the 5 s after which common
    servers (uvicorn, Node) drop one, so a post rarely meets a connection closing under it."""

    def __init__(self) -> None:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=10, keepalive_expiry=2.0)
        self._client = httpx.AsyncClient(limits=limits)

    async def post_signed(
        self,
        url: str,
        payload: dict[str, object],
        *,
        secret: str,
        idempotency_key: str,
        event: str,
        timeout_seconds: float,
    ) -> None:
        await post_signed(
            url,
            payload,
            secret=secret,
            idempotency_key=idempotency_key,
            event=event,
            timeout_seconds=timeout_seconds,
            client=self._client,
        )

    async def close(self) -> None:
        await self._client.aclose()
