"""Text to index terms: the one tokenizer that the inverted index and its queries share.

Every node must derive the same terms from the same text (the terms become keys under a root
in the state), so the rules use nothing but the text and Python's Unicode database: no locale,
no dictionary, no model.

1. Normalise: NFKC, then Unicode case folding, then NFKC again (NFKC_Casefold), so that
   full-width "ＡＢＣ" and "abc", "Straße" and "strasse" give the same terms.
2. Segment: a word is a maximal run of letters, marks and numbers (general categories L*, M*,
   N*); everything else separates words. Ideographs and the Japanese kana and Korean Hangul
   scripts (the CJK scripts, written without spaces) are cut out of words into runs of their
   own, and a CJK run of two or more characters gives its overlapping character bigrams
   ("区块链" -> "区块", "块链"); a lone CJK character is its own term. This is the bigram
   scheme of CJK search engines (Lucene's CJKBigramFilter): it needs no dictionary, finds
   every word of two or more characters by the bigrams it holds, and a phrase query is the
   AND of its bigrams.
3. A term is at most MAX_TERM_BYTES of UTF-8: longer words are cut at a character boundary.

The classification of a character follows `unicodedata.unidata_version` (UNICODE_VERSION):
nodes of one chain must run a Python with the same Unicode database, since a character
unassigned in one version is a separator there and may be a letter in the next.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from itertools import pairwise

UNICODE_VERSION = unicodedata.unidata_version
MAX_TERM_BYTES = 64

# Code point ranges (first, last) of the CJK scripts: ideographs (unified, extensions A to I,
# compatibility), radicals, kana, Hangul.
_CJK_RANGES = (
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),    # iteration mark, closing mark, ideographic zero
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3131, 0x318E),    # Hangul compatibility jamo
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xA960, 0xA97F),    # Hangul jamo extended A
    (0xAC00, 0xD7FF),    # Hangul syllables, jamo extended B
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFFDC),    # half-width Katakana and Hangul (NFKC maps most away)
    (0x1B000, 0x1B16F),  # kana supplement and extensions
    (0x20000, 0x3FFFF),  # ideograph extensions B to I, compatibility supplement
)
_CJK_STARTS = [first for first, _ in _CJK_RANGES]

_SEPARATOR, _WORD, _CJK = 0, 1, 2
_kinds: dict[str, int] = {}


def _kind(char: str) -> int:
    kind = _kinds.get(char)
    if kind is None:
        point = ord(char)
        i = bisect_right(_CJK_STARTS, point) - 1
        if i >= 0 and point <= _CJK_RANGES[i][1] and unicodedata.category(char)[0] in "LMN":
            kind = _CJK
        elif unicodedata.category(char)[0] in "LMN":
            kind = _WORD
        else:
            kind = _SEPARATOR
        if len(_kinds) < 1 << 16:  # the characters of real text are few; bound the memory
            _kinds[char] = kind
    return kind


def normalize(text: str) -> str:
    """NFKC_Casefold: the form in which text is segmented."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _cut(word: str) -> str:
    raw = word.encode()
    if len(raw) <= MAX_TERM_BYTES:
        return word
    return raw[:MAX_TERM_BYTES].decode(errors="ignore")  # drops a split last character


def tokens(text: str) -> list[str]:
    """The terms of `text` in the order they occur, repeats kept."""
    out: list[str] = []
    for piece in normalize(text).split():
        run: list[str] = []
        run_kind = _SEPARATOR
        for char in piece + " ":
            kind = _kind(char)
            if kind != run_kind:
                _emit(run, run_kind, out)
                run = []
                run_kind = kind
            if kind != _SEPARATOR:
                run.append(char)
    return out


def _emit(run: list[str], kind: int, out: list[str]) -> None:
    if kind == _WORD:
        out.append(_cut("".join(run)))
    elif kind == _CJK:
        if len(run) == 1:
            out.append(run[0])
        else:
            out.extend(a + b for a, b in pairwise(run))


def terms(text: str) -> list[str]:
    """The distinct terms of `text`, in the order they first occur (what a record is
    indexed under, and what a query for `text` asks for)."""
    return list(dict.fromkeys(tokens(text)))


__all__ = ["MAX_TERM_BYTES", "UNICODE_VERSION", "normalize", "terms", "tokens"]
