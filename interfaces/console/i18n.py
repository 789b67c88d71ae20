"""The console's words in each language (templates/console/strings/<language>.toml), and which
language a request gets: the switch's cookie, else the browser's Accept-Language, else English."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh-CN", "hu")
FALLBACK = "en"
LANGUAGE_COOKIE = "casework_lang"


@cache
def strings(root: Path, language: str) -> dict[str, str]:
    """The language's words; a table's keys are prefixed with its name (`[status]` resolved is
    `status.resolved`)."""
    with (root / "strings" / f"{language}.toml").open("rb") as file:
        return dict(_flat(tomllib.load(file)))


def _flat(table: dict[str, object], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            pairs += _flat(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", str(value)))
    return pairs


def matched(tag: str) -> str | None:
    """A language of ours for a BCP 47 tag: exact (any case), then by primary language."""
    tag = tag.strip().lower()
    for language in LANGUAGES:
        if language.lower() == tag:
            return language
    primary = tag.split("-")[0]
    for language in LANGUAGES:
        if language.split("-")[0].lower() == primary:
            return language
    return None


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The switch wins; then the browser's languages in order of their q-values."""
    if cookie and (chosen := matched(cookie)):
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag))
    for _, _, tag in sorted(ranked):
        if (chosen := matched(tag)) is not None:
            return chosen
    return FALLBACK


class Words:
    """`t(key, **params)` in one language, English for a key the language lacks."""

    def __init__(self, root: Path, language: str) -> None:
        self.language = language
        self._own = strings(root, language)
        self._english = strings(root, FALLBACK)

    def lookup(self, key: str) -> str | None:
        """The key's words in this language, else in English, else None."""
        return self._own.get(key) or self._english.get(key)

    def __call__(self, key: str, **params: object) -> str:
        text = self.lookup(key) or key
        return text.format(**params) if params else text
