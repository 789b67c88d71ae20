"""What a console page says, in the reader's language and zone: the case's statuses, clocks,
categories and actions from the phrase book (templates/console/strings), its timeline lines and
refusals rendered at the edge, every instant in the reader's zone with the zone named.

The case keeps an English sentence beside each timeline entry's `kind` and answers a refused
action with an English reason (for the API and for engineers' logs): here each is read back by its
kind's pattern into the phrase's parameters. The words people wrote themselves (a summary, a
reply, a note) stay as they wrote them, marked `<q class="own">`; an instant inside a sentence is
shown in the reader's zone, never as `str(datetime)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from adapters.canned_replies import RepliesFault, RepliesFileError
from adapters.messages import spoken_duration
from adapters.phrases import PhraseBook, PhraseError
from application.cases import NOT_FOR_TENANT, NOT_ON_STAFF
from interfaces.console.field_problems import field_problem
from interfaces.console.i18n import Words
from support.wording.display import age, local_minute
from support.wording.names import NAMED_ACTORS

# An instant as the case writes it into a sentence: ISO 8601, str(datetime), or local_time's form.
_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})"
_LOCAL = (
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})? [A-Z][A-Za-z0-9+-]* \((?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)\)"
)
INSTANT = re.compile(f"(?P<local>{_LOCAL})|(?P<iso>{_ISO})")
_CAPS = (
    ("category_cap", re.compile(r"(?P<category>\w+) cases are at most severity (?P<severity>[ABC])")),
    (
        "agreement_required",
        re.compile(
            r"severity (?P<severity>[ABC]) needs an? (?P<needed>\w+) support agreement; the tenant has "
            r"(?:an? )?(?P<agreement>\w+)(?: one)?, so the case is severity (?P<lower>[ABC])"
        ),
    ),
)
_DAYS = re.compile(r"^(?P<n>\d+(?:\.\d+)?) business days?$")
_OWN = {"text", "title", "to", "reason"}  # parameters that are people's own words (or addresses)

# kind -> the English sentence's pattern; its groups are the phrase's parameters (`timeline.<kind>`)
TIMELINE: dict[str, re.Pattern[str]] = {
    "opened": re.compile(
        r"opened at severity (?P<severity>[ABC]) on the (?P<calendar>\S+) calendar; first response due "
        r"(?P<due>.+?) \((?P<target>[^()]+?)(?: of business time)?\)$"
    ),
    "first_response": re.compile(r"first response \((?P<state>\w+)\): (?P<text>.*)$", re.S),
    "customer_updated": re.compile(r"customer update \((?P<state>\w+)\): (?P<text>.*)$", re.S),
    "follow_up": re.compile(r"no activity for a while; reminded (?P<who>\S+)$"),
    "incident_linked": re.compile(r"linked to active incident (?P<incident>\S+): (?P<title>.*)$", re.S),
    "resolved": re.compile(r"resolved: (?P<text>.*)$", re.S),
    "reopened": re.compile(r"reopened: (?P<text>.*)$", re.S),
    "withdrawn": re.compile(r"withdrawn by the customer: (?P<text>.*)$", re.S),
    "survey_answered": re.compile(r"satisfaction (?P<score>\d)/5$"),
    "verification_sent": re.compile(r".*one-time code sent to (?P<to>.*)$"),
    "verification_failed": re.compile(r"wrong code; (?P<n>\d+) attempts? left$"),
    "customer_replied": re.compile(
        r"(?P<via>email|portal): (?P<text>.*?)(?: \((?P<n>\d+) attachments?\))?$", re.S
    ),
    "customer_action_requested": re.compile(r"(?P<request>[^:]+): (?P<text>.*)$", re.S),
    "customer_cooperated": re.compile(r"(?P<request>[^:]+): (?P<text>.*) received$", re.S),
    "cooperation_unmatched": re.compile(r"customer sent '(?P<request>.*)', which is not outstanding$"),
    "obligation_asked_again": re.compile(
        r"(?P<request>[^:]+): .* asked again \(due (?P<due>[^)]*)\): (?P<text>.*)$", re.S
    ),
    "cooperation_reminder": re.compile(r"reminded the customer: (?P<what>.*) \(due (?P<due>[^)]*)\)$", re.S),
    "assigned": re.compile(
        r"assigned to (?P<to_engineer>\S+) \(was (?P<was>[^)]*)\) by (?P<by>\S+): (?P<text>.*)$", re.S
    ),
    "note": re.compile(r"note: (?P<text>.*)$", re.S),
    "severity_changed": re.compile(r"severity (?P<old>\S+) -> (?P<new>[ABC]): (?P<text>.*)$", re.S),
    "downgraded": re.compile(r"severity (?P<old>\S+) -> (?P<new>[ABC]): .*$", re.S),
    "notification_failed": re.compile(r"(?P<event>\S+) to (?P<audience>\S+): (?P<text>.*)$", re.S),
    "obligations_answered": re.compile(r"answered by email: (?P<requests>[^;]*);.*$", re.S),
}
# kinds said without parameters (the phrase is the whole line)
PLAIN = frozenset(
    {
        "obligations_requested",
        "closed",
        "closed_unresponsive",
        "survey_ignored",
        "survey_reminder",
        "survey_expired",
        "caller_verified",
        "verification_locked",
        "survey_reply",
        "clock_paused",
        "clock_resumed",
        "obligation_accepted",
        "severity_capped",
    }
)
_CHECKPOINT = re.compile(r"^(?P<clock>first_response|customer_update)_(?P<what>warning|breached)")
_WARNING = re.compile(r"(?P<percent>\d+)% of the")


@dataclass(frozen=True)
class Reading:
    """One reader's words and zone: everything a page says goes through here."""

    words: Words
    phrases: PhraseBook
    zone: str

    @property
    def language(self) -> str:
        return self.words.language

    def t(self, key: str, **params: object) -> str:
        return self.words(key, **params)

    def time(self, at: datetime | None) -> str:
        """An instant in the reader's zone, to the minute, with the zone's name."""
        return local_minute(at, self.zone) if at is not None else ""

    def zone_name(self) -> str:
        return datetime.now(UTC).astimezone(ZoneInfo(self.zone)).strftime("%Z") + f" ({self.zone})"

    def term(self, kind: str, value: object) -> str:
        """A status, category, clock, state or action in the reader's words ('kind.value')."""
        raw = str(getattr(value, "value", value))
        return self.words.lookup(f"{kind}.{raw}") or raw

    def actor(self, name: str) -> str:
        """'system', 'customer', 'policy' in the reader's words; a person's name as it is."""
        return self.term("actors", name) if name in NAMED_ACTORS else name

    def left(self, seconds: int | None) -> str:
        """Business time left ('1 h 05 min'), or how long ago it ran out ('breached 22 min ago')."""
        if seconds is None:
            return ""
        if seconds < 0:
            count, unit = age(-seconds)
            return self.t("breached_ago", count=count, unit=self.t(f"units.{unit}"))
        hours, rest = divmod(seconds, 3600)
        return self.t("time_left_is", hours=hours, minutes=f"{rest // 60:02d}")

    def wall(self, seconds: int) -> str:
        """A wait as people say it, in their words: '2 days 19 hours 30 minutes'."""
        minutes = max(seconds, 0) // 60 * 60
        return spoken_duration(f"{minutes}s" if minutes else "0s", self.language)

    def target(self, text: str) -> str:
        """A policy target ('1 business day', '1h') in the reader's words."""
        days = _DAYS.match(text.strip())
        if days:
            n = days["n"].removesuffix(".0")
            return self.t("business_days_one" if n == "1" else "business_days", n=n)
        try:
            return spoken_duration(text.strip(), self.language)
        except ValueError:
            return text

    def instants(self, text: str) -> str:
        """`text` with every instant in it shown in the reader's zone."""

        def shown(found: re.Match[str]) -> str:
            try:
                if found["local"]:
                    stamp = found["local"][:19] if found["local"][16] == ":" else found["local"][:16]
                    naive = datetime.fromisoformat(stamp)
                    at = naive.replace(tzinfo=ZoneInfo(found["zone"]))
                else:
                    at = datetime.fromisoformat(found["iso"].replace("Z", "+00:00"))
            except (ValueError, KeyError):
                return found[0]
            return self.time(at)

        return INSTANT.sub(shown, text)

    def said(self, code: str, **params: str) -> str | None:
        """A code of the case's own phrase book (templates/reasons) in the reader's language."""
        try:
            return self.phrases.say(self.language, code, **params)
        except PhraseError:
            return None

    def reason(self, text: str) -> Markup:
        """A severity reason the case wrote in English ('as requested', a cap), in the reader's
        words; a person's reason as they wrote it (marked as their own, its instants in the
        reader's zone)."""
        if text == "as requested":
            return escape(self.t("as_requested"))
        parts: list[Markup] = []
        for part in text.split("; "):
            for code, pattern in _CAPS:
                found = pattern.fullmatch(part)
                if found:
                    said = self.said(code, **found.groupdict())
                    parts.append(escape(said) if said else self.own(part))
                    break
            else:
                parts.append(self.own(self.instants(part)))
        return escape(self.t("list_separator")).join(parts)

    def field_error(self, text: str) -> str:
        """A field's error: in the reader's words when the console knows it, else as given."""
        key = FIELD_ERRORS.get(text)
        return self.t(f"field_errors.{key}") if key else text

    def replies_fault(self, error: RepliesFileError) -> Markup:
        """The replies file's fault in one line in the reader's words; the file's own names (its
        file name, the field's path) as the operator wrote them."""
        file = self.own(error.source)
        if error.fault is RepliesFault.UNREADABLE:
            return self.phrase("replies_faults.unreadable", file=file)
        if error.fault is RepliesFault.NOT_TOML and error.at is None:  # "at end of document"
            return self.phrase("replies_faults.not_toml_at_end", file=file)
        if error.fault is RepliesFault.NOT_TOML:
            line, column = error.at or (0, 0)
            return self.phrase("replies_faults.not_toml", file=file, line=line, column=column)
        if not error.errors:
            return self.phrase("replies_faults.invalid", file=file, problem=self.t("field_errors.invalid"))
        first = error.errors[0]
        field = ".".join(str(part) for part in first.get("loc", ()))
        problem = field_problem(first, self.words)
        said = (
            self.phrase("replies_faults.field", file=file, field=self.own(field), problem=problem)
            if field
            else self.phrase("replies_faults.invalid", file=file, problem=problem)
        )
        more = len(error.errors) - 1
        return said + self.phrase("replies_faults.more", count=more) if more else said

    def obligation(self, code: str, what: str) -> str:
        """A policy obligation by its name (its code), in the reader's words."""
        return self.said(code, what=what) or what

    def phrase(self, key: str, **params: object) -> Markup:
        """A phrase as markup: its own text escaped, then its parameters (escaped unless markup)."""
        return escape(self.words.lookup(key) or key).format(**params)

    def own(self, text: str) -> Markup:
        """People's own words, as they wrote them (the language check skips them)."""
        return escape(text).join((Markup('<q class="own">'), Markup("</q>")))

    def line(self, kind: str, message: str, obligations: Mapping[str, str]) -> Markup:
        """A timeline entry in the reader's words; people's own words marked `<q class="own">`."""
        checkpoint = _CHECKPOINT.match(kind)
        if checkpoint:
            clock = self.term("clocks", checkpoint["clock"])
            if checkpoint["what"] == "breached":
                return self.phrase("lines.breached", clock=clock)
            percent = _WARNING.search(message)
            return self.phrase("lines.warning", clock=clock, percent=percent["percent"] if percent else "?")
        if kind.startswith("refused_"):
            return self.phrase("lines.refused")
        if kind in PLAIN:
            return self.phrase(f"lines.{kind}")
        pattern = TIMELINE.get(kind)
        found = pattern.match(message) if pattern else None
        if found is None:
            return self.own(self.instants(message))
        params: dict[str, object] = {}
        for name, value in found.groupdict().items():
            value = value or ""
            if name in _OWN:
                params[name] = self.own(value)
            elif name == "due":
                params[name] = escape(self.instants(value))
            elif name == "state":
                params[name] = escape(self.term("clock_states", value))
            elif name == "calendar":
                params[name] = escape(self.said(f"calendar_{value}") or value)
            elif name == "target":
                params[name] = escape(self.target(value))
            elif name == "was":
                params[name] = escape(self.t("unassigned") if value == "unassigned" else value)
            elif name == "request":
                known = value in obligations
                params[name] = (
                    escape(self.obligation(value, obligations[value])) if known else self.own(value)
                )
            elif name == "requests":
                names = [
                    self.obligation(r.strip(), obligations.get(r.strip(), r.strip()))
                    for r in value.split(",")
                ]
                params[name] = escape(self.t("list_separator").join(names))
            elif name == "what":
                code = next((c for c, w in obligations.items() if w == value), None)
                params[name] = escape(self.obligation(code, value)) if code else self.own(value)
            elif name == "n":
                params[name] = escape(value or "0")
            else:
                params[name] = escape(value)
        if kind == "customer_replied":  # by email, or a comment in the portal
            line = "customer_commented" if params.pop("via", "email") == "portal" else kind
            attached = "_attached" if params.get("n") not in (None, "", "0") else ""
            attached += "_one" if params.get("n") == "1" else ""  # "1 attachment", never "1 attachments"
            return self.phrase(f"lines.{line}{attached}", **params)
        return self.phrase(f"lines.{kind}", **params)

    def refusal(self, text: str, obligations: Mapping[str, str] | None = None) -> str:
        """A refused action's reason: the refusal's phrase when the reader's language has one for
        it, else the case's words; either way its instants in the reader's zone, an obligation by
        its name in the reader's words (`obligations`: code -> the policy's words)."""
        known = obligations or {}

        def named(code: str) -> str:
            return self.obligation(code, known[code]) if code in known else code

        for key, pattern in REFUSALS.items():
            found = pattern.fullmatch(text)
            if found:
                params = {k: self.instants(v or "") for k, v in found.groupdict().items()}
                if "status" in params:
                    params["status"] = self.term("statuses", params["status"])
                if "request" in params:
                    params["request"] = named(params["request"])
                if "listed" in params:
                    codes = [c.strip() for c in params["listed"].split(",") if c.strip() not in ("", "none")]
                    params["listed"] = self.t("list_separator").join(named(c) for c in codes) or "-"
                if "reasons" in params:
                    params["reasons"] = self.t("list_separator").join(
                        self._cap(part) for part in params["reasons"].split("; ")
                    )
                return self.t(f"refusals.{key}", **params)
        return self.instants(text)

    def _cap(self, text: str) -> str:
        """A severity cap's English sentence in the reader's words (else as the case wrote it)."""
        for code, pattern in _CAPS:
            found = pattern.fullmatch(text)
            if found:
                return self.said(code, **found.groupdict()) or text
        return text


# The case's refusals (support/*: `refusal`) by their English words, for the reader's phrase.
REFUSALS: dict[str, re.Pattern[str]] = {
    "first_response_given": re.compile(r"the first response was already given by (?P<who>\S+) at (?P<at>.+)"),
    "not_open": re.compile(r"cannot (?P<verb>.+?): the case is (?P<status>[a-z_]+)"),
    "first_response_first": re.compile(
        r"cannot (?P<verb>.+?): the case is (?P<status>[a-z_]+); give the first response first"
    ),
    "being_opened": re.compile(
        r"cannot (?P<verb>.+?): the case is still being opened; try again in a moment"
    ),
    "moving": re.compile(r"cannot (?P<verb>.+?) right now: the case is moving to a new run .*"),
    "already_assigned": re.compile(r"cannot assign: (?P<who>\S+) already holds the case"),
    "same_severity": re.compile(r"the case is already severity (?P<severity>[ABC])"),
    "reopen_window": re.compile(r"the reopen window ended at (?P<at>.+)"),
    "reopen_status": re.compile(r"only a resolved case can be reopened; this case is (?P<status>[a-z_]+)"),
    "survey_not_sent": re.compile(r"the satisfaction survey has not been sent: .*"),
    "survey_answered": re.compile(r"the satisfaction survey was already answered at (?P<at>.+)"),
    "survey_expired": re.compile(r"the satisfaction survey expired at (?P<at>.+)"),
    "ended": re.compile(r"the case (?P<case>\S+) has ended \((?P<status>\w+)\); it takes no more actions"),
    "too_many_requests": re.compile(
        r"cannot ask the customer: (?P<n>\d+) requests are already waiting for their answer; "
        r"wait for one, or resolve the case"
    ),
    "severity_capped": re.compile(r"cannot change to severity (?P<severity>[ABC]): (?P<reasons>.+)"),
    "obligation_unknown": re.compile(
        r"cannot (?:accept|ask again for) '(?P<request>[^']*)': it is not an obligation of this case "
        r"\(they are: (?P<listed>.*)\)"
    ),
    "obligation_waived": re.compile(
        r"cannot (?:accept|ask again for) '(?P<request>[^']*)': it is no longer needed \(waived\)"
    ),
    "obligation_accepted": re.compile(
        r"cannot (?:accept|ask again for) '(?P<request>[^']*)': (?P<who>\S+) accepted it at (?P<at>.+)"
    ),
    "obligation_outstanding": re.compile(
        r"cannot (?:accept|ask again for) '(?P<request>[^']*)': it is still outstanding, due (?P<at>.+)"
    ),
    "request_unknown": re.compile(
        r"the case has no request '(?P<request>[^']*)'; nothing was asked under that name"
    ),
    "request_answered": re.compile(r"request '(?P<request>[^']*)' was already answered at (?P<at>.+)"),
    "request_accepted": re.compile(
        r"request '(?P<request>[^']*)' was already received and accepted at (?P<at>.+)"
    ),
    "request_waived": re.compile(r"request '(?P<request>[^']*)' is no longer needed \(waived\)"),
}
# Field errors the console's gateway gives in English (application.cases), in the reader's words.
FIELD_ERRORS = {NOT_ON_STAFF: "not_on_staff", NOT_FOR_TENANT: "not_for_tenant"}
