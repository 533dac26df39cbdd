"""The Qi intermediate representation: typed, structured trees.

The checker produces it, the optimiser rewrites it and the code generator walks it. Nodes
are deliberately generic (`kind` + children + `data`) so that passes can traverse every
node without knowing each kind. Expression kinds:

    const(data=value)  local(data=Var)  bin(data=op)  un(data=op)  and  or
    call(data=fn name)  host(data=builtin name)  sload(data=StateVar, args=map keys)
    field(data=index)  index  len  new_struct  new_list  new_array  cast  opt_wrap
    opt_none  unwrap  unwrap_or  is_some  ext_call(data=(iface, method))  pop
    seq(data=statements run first, args=[] or [result])  encode  decode
    new_map  map_get(args=[map, key])  map_has  map_entry (get, inserting the zero value)
    map_len  map_items(data=1 keys / 2 values)  slice(args=[bytes, start, end])  to_string

Statement kinds:

    let/set(data=Var, args=[value])  sstore(data=StateVar, args=[*keys, value])
    field_set(data=index, args=[obj, value])  index_set(args=[base, index, value])
    push(args=[list, value])  map_set(args=[map, key, value])  expr  if(args=[cond], body, orelse)
    loop(args=[cond], body, step)  break  continue  return(args=[] or [value])
    emit(data=event index)  revert(data=error index)  panic(data=code)
    try(data=(var, err_var), args=[ext_call], body, orelse)  async(data=callback, args=[ext_call])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from xinlian.lang.errors import Span
from xinlian.lang.types import Ty

# panic codes reported by the engine (stable; documented in docs/qi/reference.md)
PANIC_OVERFLOW = 1
PANIC_BOUNDS = 2
PANIC_UNWRAP = 3
PANIC_ASSERT = 4
PANIC_CAST = 5
PANIC_ENCODING = 6
PANIC_EMPTY = 7
PANIC_NAMES = {PANIC_OVERFLOW: "arithmetic overflow", PANIC_BOUNDS: "index out of bounds",
               PANIC_UNWRAP: "unwrap of none", PANIC_ASSERT: "assertion failed",
               PANIC_CAST: "value out of range for conversion", PANIC_ENCODING: "bad encoding",
               PANIC_EMPTY: "pop from empty list"}


@dataclass(eq=False)
class Var:
    name: str
    ty: Ty
    mutable: bool = True


@dataclass(eq=False)
class StateVar:
    name: str
    ty: Ty
    slot: int
    indexed: bool = False


@dataclass(eq=False)
class Expr:
    kind: str
    ty: Ty
    args: list[Expr] = field(default_factory=list)
    data: object = None
    span: Span | None = None


@dataclass(eq=False)
class Stmt:
    kind: str
    args: list[Expr] = field(default_factory=list)
    body: list[Stmt] = field(default_factory=list)
    orelse: list[Stmt] = field(default_factory=list)
    step: list[Stmt] = field(default_factory=list)
    data: object = None
    span: Span | None = None


@dataclass(eq=False)
class Function:
    name: str
    params: list[Var]
    ret: Ty
    body: list[Stmt]
    span: Span
    public: bool = False
    view: bool = False
    kind: str = "fn"  # fn, init, test, migrate, callback, scheduled
    every: int | None = None
    reads: set[str] = field(default_factory=set)  # state actually read (transitive)
    writes: set[str] = field(default_factory=set)
    declared_reads: list[str] | None = None
    declared_writes: list[str] | None = None
    calls: set[str] = field(default_factory=set)  # internal callees
    external: bool = False  # makes cross-contract calls


@dataclass
class Signature:
    name: str
    params: list[tuple[str, Ty, bool]]  # name, type, indexed


@dataclass
class Program:
    file: str
    contract: str | None
    structs: list[Ty]
    enums: list[Ty]
    states: list[StateVar]
    events: list[Signature]
    errors: list[Signature]
    functions: dict[str, Function]
    interfaces: dict[str, dict[str, tuple[list[Ty], Ty]]]
    upgrades: str | None = None


def walk_exprs(e: Expr) -> Iterator[Expr]:
    yield e
    for a in e.args:
        yield from walk_exprs(a)


def walk_stmts(stmts: list[Stmt]) -> Iterator[Stmt]:
    for s in stmts:
        yield s
        yield from walk_stmts(s.body)
        yield from walk_stmts(s.orelse)
        yield from walk_stmts(s.step)
