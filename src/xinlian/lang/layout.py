"""Storage layout compatibility for upgrades.

A contract declared `contract V2 upgrades V1` keeps V1's storage: every state variable of
V1 must appear in V2 with the same name, slot and type (slots follow declaration order), and
V2 may only add variables after them. The old layout comes from V1 in the same file or from
V1's ABI JSON (`storage` section) given to the compiler; the engine checks the same rule
again on the deployed ABI when an upgrade is applied.
"""

from __future__ import annotations

import json
from typing import Any

from xinlian.errors import XinlianError
from xinlian.lang import abi, checker, ir
from xinlian.lang import ast as A
from xinlian.lang.errors import E_LAYOUT, E_UNKNOWN_NAME, CompileError, Diagnostic


def layout_of_contract(tree: A.Program, source: str, name: str) -> list[dict[str, Any]]:
    for c in tree.contracts:
        if c.name == name:
            prog = checker.check(tree, source, name)
            storage: list[dict[str, Any]] = abi.build(prog, {})["storage"]
            return storage
    raise CompileError([Diagnostic(
        E_UNKNOWN_NAME, f"contract `{name}` (the one being upgraded) is not in this file; "
        "pass its ABI with --upgrade-from", tree.contracts[-1].span)], source)


def layout_conflicts(old: list[dict[str, Any]],
                     new: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(slot, message) for every way the `new` storage layout breaks the `old` one; both
    are ABI `storage` lists. The compiler and the engine's upgrade both use this rule."""
    by_slot = {int(e["slot"]): e for e in new}
    out: list[tuple[int, str]] = []
    for entry in old:
        slot, name = int(entry["slot"]), str(entry["name"])
        cur = by_slot.get(slot)
        if cur is None:
            out.append((slot, f"upgrade drops state variable `{name}` (slot {slot})"))
        elif cur["name"] != name:
            out.append((slot, f"slot {slot} was `{name}`, now `{cur['name']}`: keep old "
                        "state variables first, in order"))
        elif cur["type"] != entry["type"]:
            out.append((slot, f"state variable `{name}` changed type from "
                        f"`{_qi_type(entry['type'])}` to `{_qi_type(cur['type'])}`"))
    return out


def _qi_type(j: Any) -> str:
    """An ABI type as Qi source spells it (`map<address, u256>`), for messages."""
    try:
        return str(abi.type_from_json(j))
    except (KeyError, TypeError, ValueError, XinlianError):
        return json.dumps(j)


def check_compatible(old: list[dict[str, Any]], new: ir.Program, source: str,
                     tree: A.Program) -> None:
    contract = next(c for c in tree.contracts if c.name == new.contract)
    storage = [{"name": s.name, "slot": s.slot, "type": abi.type_json(s.ty)}
               for s in new.states]
    diags = [Diagnostic(E_LAYOUT, msg, contract.states[slot].span
                        if slot < len(contract.states) else contract.span)
             for slot, msg in layout_conflicts(old, storage)]
    if diags:
        raise CompileError(diags, source)
