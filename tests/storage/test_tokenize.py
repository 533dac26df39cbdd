"""The tokenizer: fixed vectors (Chinese first), and the rules every output obeys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.storage.tokenize import MAX_TERM_BYTES, normalize, terms, tokens

VECTORS = [
    ("区块链技术", ["区块", "块链", "链技", "技术"]),
    ("信链：联盟链平台。", ["信链", "联盟", "盟链", "链平", "平台"]),
    ("中", ["中"]),
    ("中 文", ["中", "文"]),
    ("Xinlian信链2026年上线", ["xinlian", "信链", "2026", "年上", "上线"]),
    ("碳排放 carbon-trading", ["碳排", "排放", "carbon", "trading"]),
    ("ＡＢＣ１２３ abc123", ["abc123", "abc123"]),         # full-width forms (NFKC)
    ("Straße STRASSE", ["strasse", "strasse"]),           # case folding
    ("ﬁle", ["file"]),                                    # ligature (NFKC)
    ("caf\u00e9", ["caf\u00e9"]),                         # composed and decomposed alike
    ("cafe\u0301", ["caf\u00e9"]),
    ("東京タワー", ["東京", "京タ", "タワ", "ワー"]),
    ("한국어", ["한국", "국어"]),
    ("Hello, World!", ["hello", "world"]),
    ("a_b c.d e'f", ["a", "b", "c", "d", "e", "f"]),
    ("  \t\n", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_vectors(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_terms_are_distinct_in_order_of_first_occurrence() -> None:
    assert terms("beta alpha beta 数据数据") == ["beta", "alpha", "数据", "据数"]


def test_long_words_are_cut_at_a_character_boundary() -> None:
    assert tokens("a" * 100) == ["a" * MAX_TERM_BYTES]
    cut = tokens("é" * 100)[0]
    assert cut == "é" * (MAX_TERM_BYTES // 2)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_every_term_is_normal_and_a_token_of_its_own(text: str) -> None:
    for term in tokens(text):
        assert term and len(term.encode()) <= MAX_TERM_BYTES
        assert normalize(term) == term
        assert tokens(term) == [term]
        assert not any(ord(c) < 3 for c in term)
