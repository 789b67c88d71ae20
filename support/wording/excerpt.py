"""Short excerpts of long texts for the case's carried state.

A case keeps its state (the `CaseView`) in the workflow, as its query answer and as its
continue-as-new input, so nothing a caller writes may grow it without bound. Messages, answers,
summaries and reasons reach their readers in full (notification facts are activity inputs, and
the workflow history keeps every update and signal as sent); the state keeps an excerpt.

The budget is in bytes of UTF-8, which is what the state weighs once encoded (the payload
converter writes JSON as UTF-8, unescaped): 200 bytes are 200 characters of ASCII, 66 of Chinese
(3 bytes each) and 50 emoji (4 bytes each). A budget in characters let the same state weigh up to
four times as much in Chinese or emoji as in English.
"""

from __future__ import annotations

EXCERPT_MAX = 200  # bytes (UTF-8) of a caller's text kept in the case state, ellipsis included
ELLIPSIS = "…"  # 3 bytes in UTF-8
_ELLIPSIS_BYTES = len(ELLIPSIS.encode())
# Lone surrogates are not valid text but can reach a str; measure them (3 bytes each) rather than fail.
_ERRORS = "surrogatepass"


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8 (what it weighs in the encoded state)."""
    return len(text.encode("utf-8", _ERRORS))


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """`text` when it fits in `limit` bytes of UTF-8, else its start and an ellipsis, `limit`
    bytes at most. The cut falls on a character boundary, never inside a character's bytes.

    Whitespace at the cut is dropped, so an excerpt never ends in a half-blank line.
    """
    if limit < _ELLIPSIS_BYTES:
        raise ValueError(f"an excerpt needs room for at least the ellipsis ({_ELLIPSIS_BYTES} bytes)")
    encoded = text.encode("utf-8", _ERRORS)
    if len(encoded) <= limit:
        return text
    end = limit - _ELLIPSIS_BYTES
    while end > 0 and encoded[end] & 0xC0 == 0x80:  # a continuation byte: the cut is inside a character
        end -= 1
    return encoded[:end].decode("utf-8", _ERRORS).rstrip() + ELLIPSIS
