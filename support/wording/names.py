"""How a person on the provider's side is shown to a reader: the one rule behind customer mail,
the portal pages and every API answer to a portal or phone key (pure).

Staff read staff's names. A customer reads a staff member's `display_name` from the staff list
(staff.toml) when one is given, else the policy's support name in the customer's language; the
case itself, the provider's policy and the customer keep their own names ("system", "policy",
"customer"). The staff name never reaches a customer: it is an engineer's login, an address part
and a search key, not something a customer was told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Actors a customer may see by name: the case itself, the provider's policy, and the customer.
NAMED_ACTORS = frozenset({"system", "policy", "customer"})
# The policy's support name when it gives none (`[routing.support_name]`), by language.
SUPPORT_NAMES: Mapping[str, str] = {"en": "Support", "zh-CN": "技术支持", "hu": "Ügyfélszolgálat"}
FALLBACK_LANGUAGE = "en"


class Reader(StrEnum):
    STAFF = "staff"  # agents and operators
    CUSTOMER = "customer"  # the customer's mail, the portal, portal and phone keys


@dataclass(frozen=True)
class Names:
    """What a reader may be shown instead of a staff name: the staff list's display names and the
    policy's support name by language."""

    display: Mapping[str, str] = field(default_factory=dict)  # staff name -> display_name (staff.toml)
    support: Mapping[str, str] = field(default_factory=lambda: dict(SUPPORT_NAMES))  # language -> name


def in_language(table: Mapping[str, str], language: str) -> str:
    """The entry for `language` (by tag, then primary language, then English, then any)."""
    by_lower = {tag.lower(): text for tag, text in table.items()}
    wanted = language.lower()
    if wanted in by_lower:
        return by_lower[wanted]
    primary = wanted.split("-")[0]
    for tag, text in by_lower.items():
        if tag.split("-")[0] == primary:
            return text
    if FALLBACK_LANGUAGE in by_lower:
        return by_lower[FALLBACK_LANGUAGE]
    return next(iter(table.values()), SUPPORT_NAMES[FALLBACK_LANGUAGE])


def shown_name(author: str, reader: Reader, names: Names, language: str = FALLBACK_LANGUAGE) -> str:
    """`author` (a timeline actor, an assignee, an engineer named in a mail) as `reader` sees it."""
    if reader is Reader.STAFF or author in NAMED_ACTORS:
        return author
    return names.display.get(author) or in_language(names.support, language)
