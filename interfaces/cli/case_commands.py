"""The case commands of `starter.py`: open, show, list, verify, and one command for each action of
the table in `application/actions.py` (respond, update, ask, severity, resolve, assign, note, reopen,
cooperate, survey, withdraw), its options made from the action's model. The CLI acts as the
operator: it names the engineer an agent action is for (`--engineer`), as an agent's API key
would by its own name.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from application.actions import CASE_ACTIONS, VIA, CaseAction
from application.case_listing import ListOrder, ListRequest
from application.cases import Cases
from interfaces.cli.command_line import EXIT_INVALID, CliError, check_key, emit, validated
from support.identity.verification import VerificationAttempt
from support.policies.vocabulary import CaseStatus, Category, Severity, Via
from support.rules.request import CaseRequest

# Each command validates its input first (`prepare`, no I/O) and only then talks to Temporal, so bad
# input never starts or changes anything.


def _request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.json:
        raw = sys.stdin.read() if args.json == "-" else Path(args.json).read_text(encoding="utf-8")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CliError(f"--json: not valid JSON: {error}", EXIT_INVALID) from None
        if not isinstance(data, dict):
            raise CliError("--json: expected a JSON object with the request's fields", EXIT_INVALID)
        return data
    fields = {
        "request_id": args.request_id or f"r-{uuid.uuid4().hex[:16]}",
        "tenant_id": args.tenant,
        "requester": args.requester,
        "category": args.category,
        "severity": args.severity,
        "title": args.title,
        "description": args.description,
        "contact_email": args.email,
        "contact_phone": args.phone,
        "preferred_contact": args.contact_method,
        "language": args.language,
        "channel": args.channel,
        "caller_number": args.caller_number,
        "service": args.service,
        "scope": args.scope,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _prepare_open(args: argparse.Namespace) -> BaseModel:
    return validated(CaseRequest, _request_from_args(args))


async def _open(cases: Cases, args: argparse.Namespace, request: CaseRequest) -> None:
    emit(await cases.open(request))


async def _show(cases: Cases, args: argparse.Namespace, _: None) -> None:
    emit(await cases.show(args.case_id))


def _prepare_list(args: argparse.Namespace) -> BaseModel:
    fields = ("status", "severity", "category", "tenant", "assignee", "requester", "order", "cursor", "limit")
    return validated(
        ListRequest, {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    )


async def _list(cases: Cases, args: argparse.Namespace, wanted: ListRequest) -> None:
    page = await cases.page(
        wanted.filter(),
        order=wanted.order,
        cursor=wanted.cursor,
        limit=wanted.limit,
        requester=wanted.requester,
    )
    emit(page.cases)
    if page.next_cursor is not None:
        print(f"more: the next page is `list ... --cursor {page.next_cursor}`", file=sys.stderr)


def _prepare_verify(args: argparse.Namespace) -> BaseModel:
    return validated(VerificationAttempt, {"code": args.code})


async def _verify(cases: Cases, args: argparse.Namespace, attempt: VerificationAttempt) -> None:
    await check_key(cases.client, args.case_id)
    emit(await cases.verify(args.case_id, attempt))


class _ActionCommand:
    """One action of the table as a command: options from its model, validated before anything
    is sent, carried out through the same gateway call as the API's route."""

    def __init__(self, action: CaseAction) -> None:
        self.action = action

    def add_to(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        action = self.action
        parser = sub.add_parser(action.name, help=action.summary)
        parser.add_argument("case_id")
        for name, info in action.model.model_fields.items():
            if name == VIA:
                continue  # the CLI is where it came in
            flag = action.cli_flags.get(name, "--" + name.replace("_", "-"))
            if info.annotation is bool:
                parser.add_argument(flag, dest=name, action="store_false" if info.default else "store_true")
                parser.set_defaults(**{name: None})
                continue
            parser.add_argument(flag, dest=name, required=info.is_required(), help=info.description)
        parser.set_defaults(run=self.run, prepare=self.prepare)

    def prepare(self, args: argparse.Namespace) -> BaseModel:
        fields = [n for n in self.action.model.model_fields if n != VIA]
        given = {n: vars(args)[n] for n in fields if vars(args)[n] is not None}
        if VIA in self.action.model.model_fields:
            given[VIA] = Via.CLI
        return validated(self.action.model, given)

    async def run(self, cases: Cases, args: argparse.Namespace, payload: BaseModel) -> None:
        await check_key(cases.client, args.case_id)
        emit(await cases.perform(self.action, args.case_id, payload))


def add_case_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    o = sub.add_parser("open", help="open a case (or return the existing case for the same request id)")
    o.add_argument(
        "--json", metavar="FILE", help="read the whole CaseRequest as JSON from FILE ('-' = stdin)"
    )
    o.add_argument("--request-id", help="idempotency key, per tenant (default: a new random id)")
    o.add_argument("--tenant")
    o.add_argument("--requester", help="the requesting administrator's sign-in name")
    o.add_argument("--category", help="technical | billing | presales")
    o.add_argument("--severity", help="A | B | C (requested)")
    o.add_argument("--title")
    o.add_argument("--description")
    o.add_argument("--email", help="contact email: the tenant's registered address or the requester's own")
    o.add_argument("--phone", help="contact phone, international form")
    o.add_argument("--contact-method", help="email | phone (preferred)")
    o.add_argument("--language", help="BCP 47 tag, e.g. en, zh-CN, hu")
    o.add_argument("--channel", help="web | phone")
    o.add_argument("--caller-number", help="phone intake: the number the call came from")
    o.add_argument("--service", help="affected service, e.g. exchange, teams")
    o.add_argument("--scope", help="product | third_party_addin | customer_network")
    o.set_defaults(run=_open, prepare=_prepare_open)

    s = sub.add_parser("show", help="print a case's view")
    s.add_argument("case_id")
    s.set_defaults(run=_show)

    ls = sub.add_parser("list", help="list cases by search attributes, a page at a time")
    ls.add_argument("--status", type=CaseStatus, choices=list(CaseStatus))
    ls.add_argument("--severity", type=Severity, choices=list(Severity))
    ls.add_argument("--category", type=Category, choices=list(Category))
    ls.add_argument("--tenant")
    ls.add_argument("--assignee", help="the assigned engineer's staff name")
    ls.add_argument("--requester", help="the requester's sign-in name (with --tenant)")
    ls.add_argument(
        "--order",
        choices=[o.value for o in ListOrder],
        help="started (newest first) or deadline (least time left)",
    )
    ls.add_argument("--cursor", help="the next page, as the last page's note on stderr gave it")
    ls.add_argument("--limit", type=int)
    ls.set_defaults(run=_list, prepare=_prepare_list)

    for action in CASE_ACTIONS:
        _ActionCommand(action).add_to(sub)

    ve = sub.add_parser("verify", help="check a phone intake's one-time code")
    ve.add_argument("case_id")
    ve.add_argument("--code", required=True)
    ve.set_defaults(run=_verify, prepare=_prepare_verify)
