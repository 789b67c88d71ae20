"""Short excerpts of long texts for the case's carried state.

A case keeps its state (the `CaseView`) in the workflow, as its query answer and as its
continue-as-new input, so nothing a caller writes may grow it without bound. Messages, answers,
summaries and reasons reach their readers in full (notification facts are activity inputs, and
the workflow history keeps every update and signal as sent); the state keeps an excerpt.
"""

from __future__ import annotations

EXCERPT_MAX = 200  # characters of a caller's text kept in the case state
ELLIPSIS = "…"


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """`text` when it fits in `limit` characters, else its start and an ellipsis (`limit` in all).

    Whitespace at the cut is dropped, so an excerpt never ends in a half-blank line.
    """
    if limit < 1:
        raise ValueError("an excerpt needs room for at least the ellipsis")
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
