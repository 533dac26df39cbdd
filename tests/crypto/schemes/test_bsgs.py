"""Baby-step giant-step with the base as a parameter (privacy/bsgs.py), the search both
confidential/dlog.py and homomorphic/dlog.py run: any base, any table size, exact bounds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import SM2, Group
from xinlian.crypto.primitives.groups.ristretto255 import RISTRETTO255
from xinlian.crypto.privacy import bsgs

GROUPS = st.sampled_from([SM2, RISTRETTO255])


@settings(max_examples=40, deadline=None)
@given(GROUPS, st.integers(1, 2**64), st.integers(1, 40), st.data())
def test_search_finds_exactly_the_values_in_the_bound(group: Group, k: int, size: int,
                                                      data: st.DataObject) -> None:
    base = group.generator() * group.scalar(k)
    table = bsgs.baby_steps(base, size)
    assert len(table) == size - 1
    bound = data.draw(st.integers(0, 600))
    m = data.draw(st.integers(0, bound))
    assert bsgs.search(base * group.scalar(m), base, table, bound) == m
    beyond = data.draw(st.integers(bound + 1, bound + 600))
    assert bsgs.search(base * group.scalar(beyond), base, table, bound) is None


@given(GROUPS)
def test_invalid_search_of_another_base_finds_nothing(group: Group) -> None:
    base = group.generator()
    other = group.hash_to_element(b"xinlian/test/bsgs", b"no known log in base B")
    assert bsgs.search(other, base, bsgs.baby_steps(base, 16), 1000) is None
