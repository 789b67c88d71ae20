"""Who may work a case: the team rule of the staff list. An engineer whose entry names tenants
works those tenants' cases only; one that names none works every tenant's. The console's assignee
picker offers exactly these, and the console refuses an assignment to anyone else."""

from __future__ import annotations

from collections.abc import Collection


def may_work(tenants: Collection[str] | None, tenant_id: str) -> bool:
    """Whether an engineer with this list of tenants (None: every tenant) may work the tenant's cases."""
    return tenants is None or tenant_id in tenants
