"""How an outbound delivery (an email, a webhook call) can fail: for good on this route, or for now."""

from __future__ import annotations


class PermanentFailure(Exception):
    """This route will never take this message; try the next one."""


class TransientFailure(Exception):
    """Worth retrying later (server down, timeout, a 4xx SMTP reply, HTTP 5xx, 408, 429); `kind`
    names the failure for the caller (e.g. an activity's error type)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
