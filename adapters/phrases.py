"""The phrase book: what a case says in its own words (`support.wording.reasons`), in each language.

`templates/reasons/<language>.toml` holds one Jinja phrase per code; a phrase may `say()` another
code (an obligation's name). A code without a phrase in the reader's language is said in English;
in English, a policy obligation is said in the policy's own words (its `what`). A code said
nowhere is an error (the message fails loudly, and a test renders every code in every language).
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from pathlib import Path

import jinja2

from support.wording.display import local_time
from support.wording.reasons import Reason

FALLBACK_LANGUAGE = "en"


class PhraseError(ValueError):
    """A code has no phrase, or a phrase needs a parameter the reason lacks."""


class PhraseBook:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._env = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text; messages escape their HTML part themselves
        )
        self._compiled: dict[str, jinja2.Template] = {}

    @cached_property
    def phrases(self) -> dict[str, dict[str, str]]:
        """language -> code -> phrase, from every <language>.toml."""
        books = {}
        for path in sorted(self._root.glob("*.toml")):
            with path.open("rb") as file:
                books[path.stem] = {str(k): str(v) for k, v in tomllib.load(file).items()}
        return books

    def has(self, code: str, language: str) -> bool:
        return code in self.phrases.get(language, {})

    def say(self, language: str, code: str, **params: str) -> str:
        phrase = self.phrases.get(language, {}).get(code)
        if phrase is None:
            phrase = self.phrases[FALLBACK_LANGUAGE].get(code)
        if phrase is None:
            if "what" in params:
                return params["what"]  # a policy obligation, in the policy's words
            raise PhraseError(f"no phrase for {code!r} in {language} or {FALLBACK_LANGUAGE}")
        try:
            if phrase not in self._compiled:
                self._compiled[phrase] = self._env.from_string(phrase)
            return self._compiled[phrase].render(
                params, say=lambda other, **more: self.say(language, other, **more)
            )
        except jinja2.UndefinedError as error:
            raise PhraseError(f"phrase {code!r} in {language}: {error.message}") from None

    def said(self, reasons: list[Reason], language: str, time_zone: str) -> str:
        """Several reasons as one text ("; " between them), instants in the reader's zone."""
        return "; ".join(
            self.say(
                language,
                reason.code,
                **reason.params,
                **{name: local_time(at, time_zone) for name, at in reason.times.items()},
            )
            for reason in reasons
        )

    def term(self, language: str, kind: str, value: str) -> str:
        """A policy word (`kind_value`: a category, an agreement, a calendar, a status) in
        `language`, else in English, else the value itself (an operator's own calendar name)."""
        code = f"{kind}_{value}"
        for book in (language, FALLBACK_LANGUAGE):
            if code in self.phrases.get(book, {}):
                return self.say(book, code)
        return value
