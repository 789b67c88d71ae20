"""`starter.py whatif` and `starter.py policy history | diff`: the policy what-if of a window and
the policy versions on record. The what-if reads the database and Temporal and changes nothing."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from adapters.codec import EncryptionKeyError, SealError, key_ring_from_env
from adapters.policy_versions import UnknownVersion, policy_history, policy_version
from application.cases import Cases
from application.whatif import LANGUAGES, ProposedPolicy, build_whatif, whatif_phrases
from interfaces.cli.command_line import (
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    CliError,
    Services,
    aware,
    emit,
    tenant,
)
from support.policies.policy import PolicyError, parse_policy
from support.policies.versions import rule_diff, short, text_diff
from support.reporting.reports import ReportWindow
from support.reporting.whatif_output import whatif_csv, whatif_json, whatif_table


def _database_error(error: SQLAlchemyError) -> CliError:
    return CliError(f"database: {type(error).__name__}: {str(error).splitlines()[0]}", EXIT_UNAVAILABLE)


def _proposed(path: Path) -> ProposedPolicy:
    try:
        return ProposedPolicy(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot be read ({error})", EXIT_INVALID) from None
    except PolicyError as error:
        raise CliError(str(error), EXIT_INVALID) from None


async def _whatif(services: Services, cases: Cases, args: argparse.Namespace, window: BaseModel) -> None:
    assert isinstance(window, ReportWindow)
    proposed = _proposed(args.policy)
    tenants = None if args.tenant is None else (args.tenant,)
    try:
        report = await build_whatif(
            services.database(),
            cases.client,
            window,
            tenants,
            proposed,
            datetime.now(UTC),
            key_ring_from_env(),
        )
    except SQLAlchemyError as error:
        raise _database_error(error) from None
    except (EncryptionKeyError, SealError, PolicyError) as error:
        raise CliError(str(error), EXIT_INVALID) from None
    if args.format == "csv":
        sys.stdout.write(whatif_csv(report))
    elif args.format == "table":
        print(whatif_table(report, whatif_phrases(args.language)))
    else:
        sys.stdout.write(whatif_json(report) + "\n")


def history(services: Services) -> list[dict[str, Any]]:
    try:
        versions = policy_history(services.database())
    except SQLAlchemyError as error:
        raise _database_error(error) from None
    return [v.model_dump(mode="json", exclude={"text"}) | {"short": short(v.digest)} for v in versions]


def diff(services: Services, old: str, new: str, rules: bool) -> None:
    """A unified diff of two versions' files (`--rules`: of the parsed tables, rule by rule)."""
    try:
        before, after = policy_version(services.database(), old), policy_version(services.database(), new)
    except UnknownVersion as error:
        raise CliError(str(error), EXIT_NOT_FOUND) from None
    except SQLAlchemyError as error:
        raise _database_error(error) from None
    a, b = f"{short(before.digest)} ({before.version})", f"{short(after.digest)} ({after.version})"
    if rules:
        lines = rule_diff(parse_policy(before.text or "", a), parse_policy(after.text or "", b))
        print("\n".join(lines) if lines else "the two versions have the same rules")
    else:
        print(
            text_diff(before.text or "", after.text or "", a, b) or "the two files are the same text", end=""
        )


def add_whatif_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    policy_sub: argparse._SubParsersAction[argparse.ArgumentParser],
    services: Services,
    prepare: Any,
) -> None:
    w = sub.add_parser(
        "whatif",
        help="re-decide the cases opened in [since, until) under a proposed policy (changes nothing)",
    )
    w.add_argument("--policy", type=Path, required=True, help="the proposed policy file (TOML)")
    w.add_argument("--since", type=aware, required=True, help="ISO 8601 with offset (included)")
    w.add_argument("--until", type=aware, required=True, help="ISO 8601 with offset (excluded)")
    w.add_argument("--tenant", type=tenant, help="one tenant (default: every tenant)")
    w.add_argument("--format", choices=["table", "json", "csv"], default="table")
    w.add_argument("--language", choices=LANGUAGES, default="en", help="the table's language")
    w.set_defaults(run=partial(_whatif, services), prepare=prepare)

    h = policy_sub.add_parser("history", help="every policy version on record, oldest first")
    h.set_defaults(call=lambda args: emit(history(services)))
    d = policy_sub.add_parser("diff", help="what changed between two policy versions (digests or prefixes)")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--rules", action="store_true", help="compare the parsed tables, rule by rule")
    d.set_defaults(call=lambda args: diff(services, args.old, args.new, args.rules))
