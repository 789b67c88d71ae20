"""What the case says to people in its own words, as codes with parameters (pure).

A refusal, a severity cap, an obligation, the reason of a downgrade: each travels in a
notification as a `Reason` and is rendered by the templates in the reader's language
(`templates/reasons/<language>.toml`, one phrase per code), never as an English sentence pasted
into a Hungarian message. The case's timeline and the API keep an English sentence beside the
code, for engineers and machines.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    params: dict[str, str] = Field(default_factory=dict, description="texts the phrase mentions")
    times: dict[str, datetime] = Field(
        default_factory=dict, description="instants the phrase mentions, shown in the reader's zone"
    )


# Every code the case says, besides the policy's obligations (each obligation's name is a code).
# Each language's phrase book has a phrase for every one (tests/unit/test_messages.py checks it).
REFUSALS = frozenset(
    {
        "unknown_tenant",
        "not_admin",
        "partner_referral",
        "out_of_scope",
        "verification_locked",
        "verification_unavailable",
        "verification_expired",
    }
)
CAPS = frozenset({"category_cap", "agreement_required"})
DUE_BY = "obligation_due"  # an obligation and when it is due: {obligation} by {due}
NOT_PROVIDED = "not_provided_in_time"  # {obligation} or {what} was not provided by {due}
ASKED = "asked"  # what the case waits for: {obligation}, or the engineer's words {what}
CODES = REFUSALS | CAPS | {DUE_BY, NOT_PROVIDED, ASKED}
