"""The update id of a caller's action: one per request, carrying the instant after which the case
must not take it.

The intake sends an action as a Temporal update whose id is `act-<request token>-<ms since epoch>`
and sends it again, with the same id, while the case is unreachable (a worker restarting): Temporal
takes an update id once per run, so the action lands once. The case refuses an action that reaches
it after the instant in its id (its validator, `too_late`): when the intake stops waiting it can
then truthfully say the action was not carried out (503, send it again), since a case that was
unreachable until then can no longer take it. Ids of another form (a reply's `reply-<message id>`,
updates sent by older intakes) carry no instant and are never too late.

The id also carries who may act (issue 26: one round trip per action): `act-<token>-<ms>~<tenant>,…`
names the tenants the caller acts for, and the case refuses an action of a caller that does not
act for its tenant with the answer a missing case gets (`NO_SUCH_CASE`), in its validator, so
nothing is recorded and the intake need not describe the case first. An id without `~` (an
operator's, staff for every tenant, older intakes) is not limited.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

PREFIX = "act-"
_FORM = re.compile(r"^act-[0-9a-f]{32}-(?P<ms>[0-9]{1,13})(?:~(?P<tenants>[a-z0-9,-]{1,700}))?$")  # 2286
TOO_LATE = (
    "the case could not be reached in time to take this action (a worker was restarting), and it "
    "was not carried out: send it again"
)


ALREADY_TAKEN = "the case took this action already (sent again while it moved to a new run)"
TAKEN_KEPT = 200  # the action ids a case remembers across its runs (Temporal dedups within one run)


def remember(taken: list[str], update_id: str) -> None:
    """Keep `update_id` (an action's, `act-...`) among the ids a case took, the newest `TAKEN_KEPT`:
    Temporal answers a repeated update id with its first outcome only within one run, so a case
    that continued as new between an action and its resend would take it twice."""
    if update_id.startswith(PREFIX) and update_id not in taken:
        taken.append(update_id)
        del taken[:-TAKEN_KEPT]


# The validator's refusal of a caller that does not act for the case's tenant: the intake answers
# it as it answers a case that does not exist (404), revealing nothing.
NO_SUCH_CASE = "no such case"
# The most tenants an id carries (a key acting for more is checked the old way, `Cases.scope`).
TENANTS_IN_ID = 40


def action_update_id(token: str, take_until: datetime, tenants: tuple[str, ...] | None = None) -> str:
    """`token`: 32 hex digits, new for each request; `tenants`: the tenants the caller acts for
    (None: every tenant; at most `TENANTS_IN_ID`, each a tenant id)."""
    scope = "" if tenants is None else "~" + ",".join(tenants)
    return f"{PREFIX}{token}-{int(take_until.timestamp() * 1000)}{scope}"


def foreign(update_id: str, tenant_id: str) -> bool:
    """Whether the action's caller does not act for `tenant_id` (the case's): its id names tenants
    and not this one. An id that names none is not limited; an id naming no tenant at all (`~`
    with nothing after it) cannot be formed, and one that does not parse names none."""
    found = _FORM.match(update_id)
    if found is None or found["tenants"] is None:
        return False
    return tenant_id not in found["tenants"].split(",")


def take_until(update_id: str) -> datetime | None:
    """The instant an action's id says it may be taken until; None for ids without one."""
    found = _FORM.match(update_id)
    if found is None:
        return None
    return datetime.fromtimestamp(int(found["ms"]) / 1000, tz=UTC)


def too_late(update_id: str, now: datetime) -> bool:
    until = take_until(update_id)
    return until is not None and now > until
