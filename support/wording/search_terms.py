"""The words a case can be found by, as the search index keeps them: normalised tokens.

Pure (no key, no I/O): `adapters.console_cases` turns each token into a keyed MAC (a blind index),
so the index holds no clear text when the thread is sealed. A token is a whole word, matched
exactly (NFKC, case-folded). Scripts written without spaces (Chinese, Japanese kana, Korean) are cut
into overlapping pairs of characters (bigrams), so a two-character word such as 数据 finds any text
that contains it, and a longer one finds text containing all its pairs; a lone character is its own
token. What is lost against a clear-text index: prefixes, stems, typo tolerance and phrase order.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TOKENS = 4000  # distinct tokens kept per indexed text (a long mail is indexed by its first ones)
MAX_TOKEN_CHARS = 64  # a longer "word" (a hash, a URL) is cut: exact search on it still works
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f]+"
)


def normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """The distinct tokens of `text`, in their first order, at most MAX_TOKENS."""
    found: dict[str, None] = {}
    for word in _WORD.findall(normalised(text)):
        for piece in _pieces(word):
            found.setdefault(piece[:MAX_TOKEN_CHARS])
            if len(found) >= MAX_TOKENS:
                return list(found)
    return list(found)


def _pieces(word: str) -> list[str]:
    """A word as tokens: runs of unspaced script as bigrams, the rest whole."""
    pieces: list[str] = []
    at = 0
    for run in _UNSPACED.finditer(word):
        if run.start() > at:
            pieces.append(word[at : run.start()])
        chars = run.group()
        pieces.extend([chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)])
        at = run.end()
    if at < len(word):
        pieces.append(word[at:])
    return pieces
