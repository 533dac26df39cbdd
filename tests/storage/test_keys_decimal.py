"""Fixed-point decimal and timestamp keys (storage/keys.py): byte order is value order, keys
read back exactly, and a value finer than the scale or out of range is refused. Hypothesis
runs derandomised (tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.storage import keys
from xinlian.storage.errors import InvalidKeyError

SCALE = 4
DECIMALS = st.decimals(min_value=Decimal("-9e14"), max_value=Decimal("9e14"), places=SCALE,
                       allow_nan=False, allow_infinity=False)


@given(DECIMALS, DECIMALS)
def test_decimal_keys_sort_as_the_numbers_and_read_back(a: Decimal, b: Decimal) -> None:
    ka, kb = keys.decimal_key(a, SCALE), keys.decimal_key(b, SCALE)
    assert len(ka) == 8 and (ka < kb) == (a < b) and (ka == kb) == (a == b)
    assert keys.read_decimal(ka, SCALE) == (a, 8)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_time_keys_sort_as_the_instants(a: int, b: int) -> None:
    assert (keys.time_key(a) < keys.time_key(b)) == (a < b)
    assert keys.read_unsigned(keys.time_key(a)) == (a, 8)


def test_decimal_forms_agree() -> None:
    assert keys.decimal_key("12.5", 2) == keys.decimal_key(Decimal("12.50"), 2) \
        == keys.signed_key(1250)
    assert keys.decimal_key(-3, 1) == keys.signed_key(-30)
    assert keys.fixed_point("1E+2", 0) == 100


@pytest.mark.parametrize("value", ["0.001", "NaN", "Infinity", "abc", "1e30"])
def test_invalid_decimals(value: str) -> None:
    with pytest.raises(InvalidKeyError):
        keys.decimal_key(value, 2)


def test_invalid_times() -> None:
    for value in (-1, 2**64):
        with pytest.raises(InvalidKeyError):
            keys.time_key(value)
