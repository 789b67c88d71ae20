"""The words of the support policy: severities, categories, agreements, case statuses."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    A = "A"
    B = "B"
    C = "C"

    @property
    def rank(self) -> int:
        """Higher is more urgent: A=3, B=2, C=1."""
        return {"A": 3, "B": 2, "C": 1}[self.value]


class Category(StrEnum):
    TECHNICAL = "technical"
    BILLING = "billing"
    PRESALES = "presales"


class Agreement(StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"


class Channel(StrEnum):
    WEB = "web"
    PHONE = "phone"


class Via(StrEnum):
    """Where a message of the case's thread came in (its "channel" to readers)."""

    EMAIL = "email"
    PORTAL = "portal"
    CONSOLE = "console"
    API = "api"
    PHONE = "phone"
    CLI = "cli"


class ContactMethod(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class IssueArea(StrEnum):
    """Where the requester says the problem is; the scope boundary is decided from this field."""

    PRODUCT = "product"
    THIRD_PARTY_ADDIN = "third_party_addin"
    CUSTOMER_NETWORK = "customer_network"


class CaseStatus(StrEnum):
    NEW = "new"
    AWAITING_VERIFICATION = "awaiting_verification"
    AWAITING_FIRST_RESPONSE = "awaiting_first_response"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CLOSED_UNRESPONSIVE = "closed_unresponsive"
    WITHDRAWN = "withdrawn"  # the customer withdrew it while it was open: closed without a survey
    REFUSED = "refused"

    @property
    def is_final(self) -> bool:
        return self in (
            CaseStatus.CLOSED,
            CaseStatus.CLOSED_UNRESPONSIVE,
            CaseStatus.WITHDRAWN,
            CaseStatus.REFUSED,
        )

    @property
    def is_open(self) -> bool:
        """An engineer can still work the case."""
        return self in (CaseStatus.AWAITING_FIRST_RESPONSE, CaseStatus.IN_PROGRESS)
