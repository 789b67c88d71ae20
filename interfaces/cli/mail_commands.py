"""The operator's commands for inbound mail held for review (`adapters.mail_quarantine`): list it,
and release one onto its case, once. A reply that may be a robot's or a person's is neither
dropped nor added unseen (`support.messaging.reply_addresses.mail_kind`); these are how an operator
decides."""

from __future__ import annotations

import argparse
from typing import Any

from adapters.logging import configure_logging
from adapters.mail_quarantine import MailQuarantine
from application.cases import Cases
from interfaces.cli.command_line import EXIT_INVALID, EXIT_NOT_FOUND, EXIT_REJECTED, CliError, Services, emit
from interfaces.mail_in.routing import ReleaseRefused


def held_mail(services: Services, include_released: bool) -> list[dict[str, Any]]:
    """The held mail, oldest first: no content (so no key ring), the sender masked."""
    quarantine = MailQuarantine(services.database(), None)
    return [
        {
            "id": held.quarantine_id,
            "case_id": held.case_id,
            "received_at": held.received_at.isoformat(),
            "sender": held.sender,
            "reason": held.reason,
            "size": held.size,
            "released_at": held.released_at.isoformat() if held.released_at else None,
            "outcome": held.outcome,
        }
        for held in quarantine.listed(include_released)
    ]


async def _release(services: Services, cases: Cases, args: argparse.Namespace, _: Any) -> None:
    settings = services.settings
    configure_logging(settings.log_level)  # the routing's log lines go to stderr: stdout is the answer's
    if services.mail_routing is None:
        raise CliError("this command line cannot release held mail (no routing was given)", EXIT_INVALID)
    routing = services.mail_routing(cases)
    try:
        answer = await routing.release(args.id)
    except ReleaseRefused as refused:
        raise CliError(str(refused), EXIT_REJECTED if refused.found else EXIT_NOT_FOUND) from None
    except ValueError as error:  # sealed, and this CLI has not the key
        raise CliError(str(error), EXIT_INVALID) from None
    if answer.code != 250:
        raise CliError(f"not released, still held: {answer.line}", EXIT_REJECTED)
    emit({"id": args.id, "released": True, "answer": answer.line})


def add_mail_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], services: Services) -> None:
    m = sub.add_parser("mail", help="inbound mail held for review (it may be a robot's)")
    msub = m.add_subparsers(dest="mail_command", required=True)
    q = msub.add_parser("quarantine", help="list the held mail, oldest first (senders masked)")
    q.add_argument("--all", action="store_true", help="the released ones too")
    q.set_defaults(call=lambda args: emit(held_mail(services, args.all)))
    r = msub.add_parser("release", help="add a held mail to its case as the customer's reply (once)")
    r.add_argument("id", type=int, help="its id in `mail quarantine`")
    r.set_defaults(run=lambda cases, args, payload: _release(services, cases, args, payload))
