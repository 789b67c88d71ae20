"""`starter.py thread CASE`: the case's thread for a person, in the operator's language (`--language`,
else the `LANG` of the shell, else English), times in the case calendar's zone or `--zone`."""

from __future__ import annotations

import argparse
import os
from functools import partial
from zoneinfo import ZoneInfo

from adapters.settings import PROJECT_ROOT
from application.case_thread import thread_over
from application.cases import Cases
from interfaces.cli.command_line import Services, emit, zone
from interfaces.console.i18n import FALLBACK, LANGUAGES, matched, strings
from support.case.thread import PAGE_MAX
from support.case.thread_message import ThreadMessage
from support.identity.access import CLI_OPERATOR

WORDS = PROJECT_ROOT / "templates" / "console"


def render_thread(messages: list[ThreadMessage], words: dict[str, str], zone_name: str) -> str:
    """One block per message: when (in `zone_name`), who, how it came, what kind; then its text."""
    tz = ZoneInfo(zone_name)
    out: list[str] = []
    for m in messages:
        when = m.at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        head = f"#{m.seq}  {when}  {m.author} ({words['role_' + m.role]}) · {words['via_' + m.via.value]}"
        head += f" · {words['kind_' + m.kind.value]}"
        if m.about:
            head += f" ({m.about})"
        if m.internal:
            head += f"  [{words['internal']}]"
        out.append(head)
        out += ["    " + line for line in m.body.splitlines() or [""]]
        for a in m.attachments:
            out.append(
                f"    {words['attachment']}: {a.filename} ({a.content_type}, {a.size} B) {a.attachment_id}"
            )
        out.append("")
    if not messages:
        out.append(words["thread_empty"])
    return "\n".join(out).rstrip() + "\n"


def _language(chosen: str | None) -> str:
    for tag in (chosen, os.environ.get("LANG", "").split(".")[0].replace("_", "-")):
        if tag and (found := matched(tag)):
            return found
    return FALLBACK


async def _thread(services: Services, cases: Cases, args: argparse.Namespace, _: object) -> None:
    engine = services.database()
    reader = thread_over(engine)
    messages: list[ThreadMessage] = []
    cursor: str | None = None
    while True:  # the whole thread, a page at a time
        page = await reader.page(cases, args.case_id, CLI_OPERATOR, cursor, PAGE_MAX)
        messages += page.messages
        cursor = page.next_cursor
        if cursor is None:
            break
    if args.json:
        emit([m.model_dump(mode="json") for m in messages])
        return
    view_zone = args.zone or (await cases.show(args.case_id)).time_zone or "UTC"
    print(render_thread(messages, strings(WORDS, _language(args.language)), view_zone), end="")


def add_thread_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], services: Services) -> None:
    th = sub.add_parser("thread", help="a case's messages in both directions, in order, in full")
    th.add_argument("case_id")
    th.add_argument("--language", choices=LANGUAGES, help="default: the shell's LANG, else en")
    th.add_argument("--zone", type=zone, help="show times in this IANA zone (default: the case calendar's)")
    th.add_argument("--json", action="store_true", help="the messages as JSON")
    th.set_defaults(run=partial(_thread, services))
