"""Render a notification into a message from the template files (one per event and language).

Templates exist in English, Simplified Chinese and Hungarian on both sides (customer and support:
staff read theirs in `language` from staff.toml); the recipient's language is matched by tag, then by primary
language, then English. Times are shown in the recipient's zone with the zone named; a duration
fact (policy notation, "10m") is spelled out in the template's language with `{{ fact|duration }}`.
A fact the template needs but the notification lacks is an error, never an empty gap in a message.

A customer's message names no staff member: a fact that names one (`STAFF_FACTS`) is shown as
`support.wording.names.shown_name` says (the staff list's display name, else the policy's support name
that the case put in the notification).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import jinja2
from pydantic import BaseModel

from adapters.phrases import PhraseBook, PhraseError
from support.messaging.notifications import Notification
from support.policies.durations import parse_duration
from support.wording.display import end_sentence, local_time
from support.wording.names import SUPPORT_NAMES, Names, Reader, shown_name

FALLBACK_LANGUAGE = "en"

# Units of a spoken duration per language: (singular, plural) for days, hours, minutes, seconds.
_UNITS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("day", "days"), ("hour", "hours"), ("minute", "minutes"), ("second", "seconds")),
    "zh-CN": (("天", "天"), ("小时", "小时"), ("分钟", "分钟"), ("秒", "秒")),
    "hu": (("nap", "nap"), ("óra", "óra"), ("perc", "perc"), ("másodperc", "másodperc")),
}
_UNIT_SECONDS = (86400, 3600, 60, 1)
STAFF_FACTS = ("engineer", "assignee", "previous")  # facts that name a staff member


class Message(BaseModel):
    subject: str
    text: str
    html: str
    language: str


class TemplateError(ValueError):
    """A template is missing or needs a fact the notification does not carry."""


class Renderer:
    def __init__(self, root: Path, display_names: Mapping[str, str] | None = None) -> None:
        """`display_names`: the staff list's display names (staff name -> what customers read)."""
        self._root = root
        self._display = dict(display_names or {})
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(root)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 - renders plain text; the HTML part is escaped in _html()
            keep_trailing_newline=False,
        )
        self._env.filters["duration"] = _duration
        self._env.filters["stop"] = _stop
        self._phrases = PhraseBook(root / "reasons")
        self._env.filters["term"] = self._term

    @cache  # noqa: B019 - one renderer per worker, a handful of (side) keys
    def languages(self, side: str) -> tuple[str, ...]:
        return tuple(sorted(p.name for p in (self._root / side).iterdir() if p.is_dir()))

    def language_for(self, side: str, wanted: str) -> str:
        available = self.languages(side)
        by_lower = {lang.lower(): lang for lang in available}
        if wanted.lower() in by_lower:
            return by_lower[wanted.lower()]
        primary = wanted.split("-")[0].lower()
        for lang in available:
            if lang.split("-")[0].lower() == primary:
                return lang
        return FALLBACK_LANGUAGE

    def render(self, notification: Notification) -> Message:
        side = "customer" if notification.audience.customer_side else "support"
        language = self.language_for(side, notification.language)
        context: dict[str, object] = dict(notification.facts)
        context |= {name: local_time(at, notification.time_zone) for name, at in notification.times.items()}
        try:  # what the case says in its own words, in the reader's language (support.wording.reasons)
            context |= {
                name: self._phrases.said(reasons, language, notification.time_zone)
                for name, reasons in notification.reasons.items()
            }
        except PhraseError as error:
            raise TemplateError(str(error)) from None
        context |= {"case_id": notification.case_id}
        context.setdefault("case_ref", notification.case_id)  # told before case numbers: the id
        if side == "customer":
            context |= self._staff_as_shown(notification, language)
        try:
            template = self._env.get_template(f"{side}/{language}/{notification.template}.txt")
            rendered = template.render(context)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template {side}/{language}/{notification.template}.txt") from None
        except jinja2.UndefinedError as error:
            raise TemplateError(f"{side}/{language}/{notification.template}.txt: {error.message}") from None
        subject, _, body = rendered.partition("\n---\n")
        return Message(
            subject=subject.strip(), text=body.strip() + "\n", html=_html(subject, body), language=language
        )

    @jinja2.pass_context
    def _term(self, context: jinja2.runtime.Context, value: str, kind: str) -> str:
        """The `term` filter: a policy word (a category, a calendar, a status) in the template's
        language, from the phrase book (`kind_value`); a word the book lacks is shown as it is."""
        return self._phrases.term(_template_language(context), kind, value)

    def _staff_as_shown(self, notification: Notification, language: str) -> dict[str, str]:
        support = notification.facts.get("support_name")  # the case's policy, in the reader's language
        names = Names(self._display, {language: support} if support else SUPPORT_NAMES)
        return {
            fact: shown_name(notification.facts[fact], Reader.CUSTOMER, names, language)
            for fact in STAFF_FACTS
            if fact in notification.facts
        }


def spoken_duration(text: str, language: str) -> str:
    """A policy duration ("1h30m") as a reader says it: "1 hour 30 minutes", "1 小时 30 分钟",
    "1 óra 30 perc" (English for a language without units here)."""
    units = _UNITS.get(language, _UNITS[FALLBACK_LANGUAGE])
    total = int(parse_duration(text).total_seconds())
    parts = []
    for (one, many), size in zip(units, _UNIT_SECONDS, strict=True):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return " ".join(parts) or f"0 {units[-1][1]}"


def _template_language(context: jinja2.runtime.Context) -> str:
    """The language of the template being rendered (side/language/name)."""
    parts = (context.name or "").split("/")
    return parts[1] if len(parts) == 3 else FALLBACK_LANGUAGE


@jinja2.pass_context
def _duration(context: jinja2.runtime.Context, text: str) -> str:
    """The `duration` filter: in the language of the template being rendered."""
    return spoken_duration(text, _template_language(context))


@jinja2.pass_context
def _stop(context: jinja2.runtime.Context, text: str) -> str:
    """The `stop` filter: a sentence ended on a fact ("Fabrikam Kft.", an engineer's "... from
    the mailbox.") gets one full stop in the template's language, never a second one."""
    return end_sentence(str(text), _template_language(context))


def _html(subject: str, body: str) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(block.strip()).replace(chr(10), '<br>')}</p>"
        for block in body.split("\n\n")
        if block.strip()
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject.strip())}</title></head>"
        f'<body style="font-family:sans-serif">{paragraphs}</body></html>'
    )
