"""`xinlian data query --where`: each condition's text read as the attribute's kind (ranges,
one value, every word, any word, negated), and text that is none of them refused, typed."""

from __future__ import annotations

import pytest

from xinlian.cli.data_cmd import condition_from_text
from xinlian.execution.data.select import Condition
from xinlian.sdk.errors import DataQueryFailed

KINDS = {"price": "number", "made": "time", "title": "text", "code": "bytes"}


@pytest.mark.parametrize(("text", "condition"), [
    ("price=100..200", Condition("price", 100, 200)),
    ("price=-5..", Condition("price", -5, None)),
    ("price=..7", Condition("price", None, 7)),
    ("price=42", Condition("price", 42, 42)),
    ("made=2026-11-01..2026-11-10", Condition("made", 1793491200000, 1794268800000)),
    ("made=2026-11-01T08:00:00..", Condition("made", 1793520000000, None)),
    ("code=0x00..0xff", Condition("code", b"\x00", b"\xff")),
    ("title~steel pipe", Condition("title", words=("steel pipe",))),
    ("title~|steel copper", Condition("title", words=("steel copper",), any_of=True)),
    ("!title~rust", Condition("title", words=("rust",), negate=True)),
    ("!price=0..50", Condition("price", 0, 50, negate=True)),
    ("title=a~b", Condition("title", "a~b", "a~b")),  # the first operator splits
])
def test_conditions_read_by_the_attributes_kind(text: str, condition: Condition) -> None:
    assert condition_from_text(KINDS, text) == condition


@pytest.mark.parametrize(("text", "message"), [
    ("price", "is not ATTR=LO..HI"),
    ("=5", "is not ATTR=LO..HI"),
    ("colour=red", "no attribute 'colour'"),
    ("price=cheap..", "not a number value"),
    ("made=yesterday", "not a time value"),
])
def test_bad_conditions_are_refused(text: str, message: str) -> None:
    with pytest.raises(DataQueryFailed, match=message):
        condition_from_text(KINDS, text)
