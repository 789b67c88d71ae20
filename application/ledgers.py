"""Reading a case's SLA ledger: its record and policy snapshot from the case (a query), the ledger
derived here at the reader's instant (`support.sla_clocks.ledger`), as the principal may see it."""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache

from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from adapters.settings import PROJECT_ROOT
from application.cases import QUERY_TIMEOUT, CaseNotFound, Cases, Forbidden, Unavailable
from support.case.view import CaseView
from support.identity.access import Permission, Principal
from support.sla_clocks.explain import explain
from support.sla_clocks.ledger import CaseLedger, SlaBasis, customer_ledger, ledger_of
from workflows.support_case import SupportCaseWorkflow


async def sla_basis(cases: Cases, case_id: str) -> SlaBasis:
    handle: WorkflowHandle[SupportCaseWorkflow, CaseView] = cases.client.get_workflow_handle(case_id)
    try:
        return await handle.query(SupportCaseWorkflow.sla_basis, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise CaseNotFound(f"no case {case_id!r}") from None
        raise Unavailable(f"case {case_id} cannot be read right now: {error.message}") from None
    except WorkflowQueryFailedError as error:
        raise Unavailable(f"case {case_id} could not be read: {error}") from None


async def read_ledger(cases: Cases, case_id: str, principal: Principal, now: datetime) -> CaseLedger:
    """The case's ledger at `now`, if the principal may read the case (another tenant's: not found)."""
    if not principal.allows(Permission.READ_CASES):
        raise Forbidden(f"a {principal.role.value} key cannot read cases")
    await cases.scope(case_id, principal)
    ledger = ledger_of(await sla_basis(cases, await cases.case_id_of(case_id)), now)
    return customer_ledger(ledger) if principal.customer_side else ledger


LANGUAGES = ("en", "zh-CN", "hu")


@cache
def ledger_phrases(language: str) -> dict[str, str]:
    """The phrase book of `templates/ledger/<language>.toml` (English for a language we lack)."""
    chosen = language if language in LANGUAGES else "en"
    with (PROJECT_ROOT / "templates" / "ledger" / f"{chosen}.toml").open("rb") as file:
        return {key: str(value) for key, value in tomllib.load(file).items()}


def explained(ledger: CaseLedger, language: str, zone: str | None = None) -> str:
    return explain(ledger, ledger_phrases(language), zone)
