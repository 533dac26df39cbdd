"""The SDK package's names load on first use (xinlian/sdk/__init__.py) and are the objects
their modules define."""

from __future__ import annotations

import importlib

import pytest

import xinlian.sdk as sdk


def test_every_exported_name_is_its_modules_object() -> None:
    assert set(sdk.__all__) == set(sdk._WHERE)
    for name, module in sdk._WHERE.items():
        assert getattr(sdk, name) is getattr(importlib.import_module(f"xinlian.sdk.{module}"),
                                             name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Nothing"):
        sdk.Nothing  # noqa: B018
