"""`starter.py`: the case commands (interfaces/cli/case_commands.py, made from the action table) and the
operator's commands (interfaces/cli/operator_commands.py). The CLI acts as the operator.

Every command prints JSON on stdout. Problems go to stderr as one plain sentence per field, with
an exit code a script can branch on (interfaces/cli/command_line.py); nothing is started or changed when
the input is bad, and no traceback reaches the terminal.

The commands are handed what they use (`Services`: settings, the Temporal connection, the
database) by the composition root, `bootstrap/cli.py`, which `starter.py` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence

from application.cases import Cases, CasesSource, staff_from_file
from application.errors import FrontError
from interfaces.cli.case_commands import add_case_commands
from interfaces.cli.command_line import (
    EXIT_BROKEN_PIPE,
    EXIT_INVALID,
    EXIT_NONDETERMINISTIC,
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_UNAVAILABLE,
    EXIT_UNEXPECTED,
    Services,
    with_cases,
)
from interfaces.cli.mail_commands import add_mail_commands
from interfaces.cli.operator_commands import add_operator_commands
from interfaces.cli.thread_command import add_thread_command

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INVALID",
    "EXIT_NONDETERMINISTIC",
    "EXIT_NOT_FOUND",
    "EXIT_REJECTED",
    "EXIT_UNAVAILABLE",
    "EXIT_UNEXPECTED",
    "Services",
    "build_parser",
    "main",
]


def build_parser(services: Services) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_program(), description="Open, inspect and drive casework cases.")
    parser.set_defaults(call=None, run=None, prepare=None)
    sub = parser.add_subparsers(dest="command", required=True)
    add_case_commands(sub)
    add_operator_commands(sub, services)
    add_mail_commands(sub, services)
    add_thread_command(sub, services)
    return parser


def _program() -> str:
    """`casework` when run as the installed command, else `starter.py`: what the user typed."""
    return "casework" if os.path.basename(sys.argv[0]) == "casework" else "starter.py"


def main(argv: Sequence[str] | None, services: Services) -> int:
    """Run one command; whatever happens, stderr gets at most one sentence per problem, never a
    traceback (LOG_LEVEL=DEBUG adds the traceback of an unexpected error, for a bug report)."""
    args = build_parser(services).parse_args(argv)
    try:
        code = _run(args, services)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
        return code
    except BrokenPipeError:
        # `starter.py outbox | head -1`: the reader has what it wanted. Point stdout at devnull so
        # the flush at exit does not complain again, and leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug, or a failure nobody foresaw
        # The type only: an exception's text can carry a customer's data, and this line may be logged.
        print(
            f"unexpected error ({type(error).__name__}); LOG_LEVEL=DEBUG shows where it happened",
            file=sys.stderr,
        )
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            traceback.print_exc(file=sys.stderr)
        return EXIT_UNEXPECTED


def _run(args: argparse.Namespace, services: Services) -> int:
    """A command runs as it is (`call`), or validates its input (`prepare`, no I/O) and then talks
    to Temporal through the gateway (`run`)."""
    try:
        if args.call is not None:
            code = args.call(args)
            return code if isinstance(code, int) else 0
        payload = args.prepare(args) if args.prepare is not None else None
        asyncio.run(with_cases(args.run, args, payload, _with_staff(services)))
    except FrontError as error:  # the CLI's one handler: one line, the error's exit code
        print(error.line(), file=sys.stderr)
        return error.exit_code
    return 0


def _with_staff(services: Services) -> CasesSource:
    """The gateway, knowing the settings' staff list (`assign --to` names someone on it)."""

    async def source() -> Cases:
        cases = await services.cases()
        if cases.staff is None:  # a gateway made by hand (tests): one like it, with the list
            return cases.completed(staff=staff_from_file(services.settings.staff_file))
        return cases

    return source
