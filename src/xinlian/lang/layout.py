"""Storage layout compatibility for upgrades.

A contract declared `contract V2 upgrades V1` keeps V1's storage: every state variable of
V1 must appear in V2 with the same name, slot and type (slots follow declaration order), and
V2 may only add variables after them. The old layout comes from V1 in the same file or from
V1's ABI JSON (`storage` section) given to the compiler.
"""

from __future__ import annotations

from typing import Any

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


def check_compatible(old: list[dict[str, Any]], new: ir.Program, source: str,
                     tree: A.Program) -> None:
    by_slot = {s.slot: s for s in new.states}
    contract = next(c for c in tree.contracts if c.name == new.contract)
    diags: list[Diagnostic] = []
    for entry in old:
        slot, name = int(entry["slot"]), str(entry["name"])
        cur = by_slot.get(slot)
        span = contract.states[slot].span if cur is not None else contract.span
        if cur is None:
            diags.append(Diagnostic(E_LAYOUT, f"upgrade drops state variable `{name}` "
                                    f"(slot {slot})", span))
        elif cur.name != name:
            diags.append(Diagnostic(E_LAYOUT, f"slot {slot} was `{name}`, now `{cur.name}`: "
                                    "keep old state variables first, in order", span))
        elif abi.type_json(cur.ty) != entry["type"]:
            diags.append(Diagnostic(E_LAYOUT, f"state variable `{name}` changed type from "
                                    f"{entry['type']} to {abi.type_json(cur.ty)}", span))
    if diags:
        raise CompileError(diags, source)
