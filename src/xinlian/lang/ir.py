"""The Qi intermediate representation: typed, structured trees.

The checker produces it, the optimiser rewrites it and the code generator walks it. Each
node kind is its own class, carrying its own typed fields; every node also keeps its child
expressions in `args` (and a statement its nested statement lists in `blocks()`), so that
passes can traverse every node without knowing each kind. `args` holds, per class:

    expressions:  Bin/And/Or [left, right]   Not/Field/Len/Cast/OptWrap/IsSome/Unwrap/Pop/
                  ToString/MapLen/MapItems [operand]   UnwrapOr [optional, default]
                  Call/Host/NewStruct/NewList/NewArray/Encode [arguments or items]
                  SLoad [map keys]   Index/MapGet/MapHas/MapEntry [base, index or key]
                  ExtCall [address, *arguments]   Decode/DecodeAt [bytes]
                  Slice [bytes, start, end]
                  Seq [] or [result] (its statements run first)
    statements:   Let/Set [value]   SStore [*keys, value]   FieldSet [object, value]
                  IndexSet [base, index, value]   Push [list, value]   MapSet [map, key, value]
                  ExprStmt [expression]   If/Loop [condition]   Return [] or [value]
                  Emit/Revert [values]   Try/Async [ExtCall]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from xinlian.lang.errors import Span
from xinlian.lang.types import Ty
from xinlian.lang.upgrade_rule import UpgradeRule

# panic codes reported by the engine (stable; documented in docs/qi/reference.md)
PANIC_OVERFLOW = 1
PANIC_BOUNDS = 2
PANIC_UNWRAP = 3
PANIC_ASSERT = 4
PANIC_CAST = 5
PANIC_ENCODING = 6
PANIC_EMPTY = 7
PANIC_MEMORY = 8  # the engine reports these two as their own errors, not by PANIC_NAMES
PANIC_DIVZERO = 9
PANIC_UTF8 = 10
PANIC_NAMES = {PANIC_OVERFLOW: "arithmetic overflow", PANIC_BOUNDS: "index out of bounds",
               PANIC_UNWRAP: "unwrap of none", PANIC_ASSERT: "assertion failed",
               PANIC_CAST: "value out of range for conversion", PANIC_ENCODING: "bad encoding",
               PANIC_EMPTY: "pop from empty list", PANIC_UTF8: "invalid UTF-8"}


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


# --- expressions ---------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Expr:
    """An expression of type `ty`; subclasses name the operation."""

    ty: Ty
    args: list[Expr] = field(default_factory=list, kw_only=True)
    span: Span | None = field(default=None, kw_only=True)


@dataclass(eq=False, slots=True)
class Const(Expr):
    value: int | bytes  # bool and enum variants are ints


@dataclass(eq=False, slots=True)
class Local(Expr):
    var: Var


@dataclass(eq=False, slots=True)
class Bin(Expr):
    op: str  # arithmetic, bitwise, comparison, "+wrap" or "concat"


@dataclass(eq=False, slots=True)
class Not(Expr):
    pass


@dataclass(eq=False, slots=True)
class And(Expr):
    pass


@dataclass(eq=False, slots=True)
class Or(Expr):
    pass


@dataclass(eq=False, slots=True)
class Call(Expr):
    fn: str


@dataclass(eq=False, slots=True)
class Host(Expr):
    name: str  # the builtin


@dataclass(eq=False, slots=True)
class SLoad(Expr):
    state: StateVar
    raw: bool = False  # the stored encoding as `bytes`, undecoded (a streamed loop's input)


@dataclass(eq=False, slots=True)
class Field(Expr):
    index: int


@dataclass(eq=False, slots=True)
class Index(Expr):
    pass


@dataclass(eq=False, slots=True)
class Len(Expr):
    pass


@dataclass(eq=False, slots=True)
class NewStruct(Expr):
    pass


@dataclass(eq=False, slots=True)
class NewList(Expr):
    pass


@dataclass(eq=False, slots=True)
class NewArray(Expr):
    pass


@dataclass(eq=False, slots=True)
class Cast(Expr):
    pass


@dataclass(eq=False, slots=True)
class OptWrap(Expr):
    pass


@dataclass(eq=False, slots=True)
class OptNone(Expr):
    pass


@dataclass(eq=False, slots=True)
class IsSome(Expr):
    pass


@dataclass(eq=False, slots=True)
class Unwrap(Expr):
    pass


@dataclass(eq=False, slots=True)
class UnwrapOr(Expr):
    pass


@dataclass(eq=False, slots=True)
class ExtCall(Expr):
    iface: str
    method: str


@dataclass(eq=False, slots=True)
class Pop(Expr):
    pass


@dataclass(eq=False, slots=True)
class Seq(Expr):
    stmts: list[Stmt]  # run before the result (if any) is evaluated


@dataclass(eq=False, slots=True)
class Text(Expr):
    """A string or bytes operation run by the host's `text` import (`emitter.TEXT_OPS`):
    `to_string` of a wide integer, `parse`, `find`, `cmp` (-1, 0, 1) and `utf8` (the
    bytes unchanged as a string, or the fault *invalid UTF-8*)."""

    op: str


@dataclass(eq=False, slots=True)
class Encode(Expr):
    pass


@dataclass(eq=False, slots=True)
class Decode(Expr):
    pass


@dataclass(eq=False, slots=True)
class DecodeAt(Expr):
    """One value decoded from the bytes at offset `pos` (a `u32` local), which it advances
    past the value: a loop over a stored list decodes one element at a time."""

    pos: Var


@dataclass(eq=False, slots=True)
class NewMap(Expr):
    pass


@dataclass(eq=False, slots=True)
class MapGet(Expr):
    pass


@dataclass(eq=False, slots=True)
class MapHas(Expr):
    pass


@dataclass(eq=False, slots=True)
class MapEntry(Expr):
    """Get, inserting the zero value when the key is absent."""


@dataclass(eq=False, slots=True)
class MapLen(Expr):
    pass


@dataclass(eq=False, slots=True)
class MapItems(Expr):
    values: bool  # False: the keys


@dataclass(eq=False, slots=True)
class Slice(Expr):
    pass


@dataclass(eq=False, slots=True)
class ToString(Expr):
    pass


@dataclass(eq=False, slots=True)
class Old(Expr):
    """Specifications only: `old(e)`, the value of `e` when the function was entered."""


@dataclass(eq=False, slots=True)
class MapSum(Expr):
    """Specifications only: `sum(m)`, the sum of every value of the state map `state` as an
    unbounded integer (absent keys count as 0)."""

    state: StateVar


SPEC_ONLY = frozenset({"Old", "MapSum"})  # expression kinds only specifications have


# --- statements ----------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Stmt:
    """A statement; subclasses name it. Those with nested statement lists override
    `blocks` and `map_blocks`."""

    args: list[Expr] = field(default_factory=list, kw_only=True)
    span: Span | None = field(default=None, kw_only=True)

    def blocks(self) -> tuple[list[Stmt], ...]:
        """The nested statement lists, in order."""
        return ()

    def map_blocks(self, f: Callable[[list[Stmt]], list[Stmt]]) -> None:
        """Replace each nested statement list by `f` of it, in the order of `blocks`."""


@dataclass(eq=False, slots=True)
class Let(Stmt):
    var: Var


@dataclass(eq=False, slots=True)
class Set(Stmt):
    var: Var


@dataclass(eq=False, slots=True)
class SStore(Stmt):
    state: StateVar


@dataclass(eq=False, slots=True)
class FieldSet(Stmt):
    index: int


@dataclass(eq=False, slots=True)
class IndexSet(Stmt):
    pass


@dataclass(eq=False, slots=True)
class Push(Stmt):
    pass


@dataclass(eq=False, slots=True)
class MapSet(Stmt):
    pass


@dataclass(eq=False, slots=True)
class ExprStmt(Stmt):
    pass


@dataclass(eq=False, slots=True)
class If(Stmt):
    body: list[Stmt] = field(default_factory=list)
    orelse: list[Stmt] = field(default_factory=list)

    def blocks(self) -> tuple[list[Stmt], ...]:
        return (self.body, self.orelse)

    def map_blocks(self, f: Callable[[list[Stmt]], list[Stmt]]) -> None:
        self.body = f(self.body)
        self.orelse = f(self.orelse)


@dataclass(eq=False, slots=True)
class Loop(Stmt):
    body: list[Stmt] = field(default_factory=list)
    step: list[Stmt] = field(default_factory=list)  # runs after the body and on `continue`
    invariants: list[Expr] = field(default_factory=list)  # for the prover; not compiled

    def blocks(self) -> tuple[list[Stmt], ...]:
        return (self.body, self.step)

    def map_blocks(self, f: Callable[[list[Stmt]], list[Stmt]]) -> None:
        self.body = f(self.body)
        self.step = f(self.step)


@dataclass(eq=False, slots=True)
class Break(Stmt):
    pass


@dataclass(eq=False, slots=True)
class Continue(Stmt):
    pass


@dataclass(eq=False, slots=True)
class Return(Stmt):
    pass


@dataclass(eq=False, slots=True)
class Emit(Stmt):
    event: int  # index into Program.events


@dataclass(eq=False, slots=True)
class Revert(Stmt):
    error: int  # index into Program.errors


@dataclass(eq=False, slots=True)
class Panic(Stmt):
    code: int  # one of PANIC_*


@dataclass(eq=False, slots=True)
class Try(Stmt):
    var: Var | None  # receives the result on success
    err_var: Var | None  # receives the error bytes on failure
    body: list[Stmt] = field(default_factory=list)
    orelse: list[Stmt] = field(default_factory=list)

    def blocks(self) -> tuple[list[Stmt], ...]:
        return (self.body, self.orelse)

    def map_blocks(self, f: Callable[[list[Stmt]], list[Stmt]]) -> None:
        self.body = f(self.body)
        self.orelse = f(self.orelse)


CATCH_ANY = -3  # `Catch.error` of a clause that takes every error


@dataclass(eq=False, slots=True)
class Catch:
    """A handler of a `TryBlock`: `error` is the contract's error index (-1 for `Error`,
    raised by `require(c, "text")`, CATCH_ANY for every error); `binds` receive all its
    arguments in order (or are empty), `name_var` the error's name."""

    error: int
    binds: list[Var]
    name_var: Var | None
    body: list[Stmt] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class TryBlock(Stmt):
    """Run `body`; a revert raised in it (here, in a called function or by a contract called
    synchronously) rolls back the block's state writes, events and async requests and runs
    the first matching handler, or goes on up if none matches. Faults are not caught."""

    body: list[Stmt] = field(default_factory=list)
    catches: list[Catch] = field(default_factory=list)

    def blocks(self) -> tuple[list[Stmt], ...]:
        return (self.body, *(c.body for c in self.catches))

    def map_blocks(self, f: Callable[[list[Stmt]], list[Stmt]]) -> None:
        self.body = f(self.body)
        for c in self.catches:
            c.body = f(c.body)


@dataclass(eq=False, slots=True)
class Async(Stmt):
    callback: str


@dataclass(eq=False)
class Spec:
    """A checked specification clause (`requires`, `ensures`, `aborts_if`, `invariant`):
    a pure boolean expression. `modifies` lists state names in `Function.modifies`."""

    kind: str
    expr: Expr
    span: Span


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
    expect_revert: str | None = None  # tests only: the error it must revert with, "*" any
    reads: set[str] = field(default_factory=set)  # state actually read (transitive)
    writes: set[str] = field(default_factory=set)
    declared_reads: list[str] | None = None
    declared_writes: list[str] | None = None
    calls: set[str] = field(default_factory=set)  # internal callees
    external: bool = False  # makes cross-contract calls
    specs: list[Spec] = field(default_factory=list)  # proved by `qi verify`, not compiled
    modifies: list[str] | None = None  # `modifies`: the state it may change; None: any
    result: Var | None = None  # the `result` of its `ensures` clauses


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
    upgrade_rule: UpgradeRule = field(default_factory=UpgradeRule)
    invariants: list[Spec] = field(default_factory=list)  # the contract's `invariant`s


def walk_exprs(e: Expr) -> Iterator[Expr]:
    yield e
    for a in e.args:
        yield from walk_exprs(a)


def walk_stmts(stmts: list[Stmt]) -> Iterator[Stmt]:
    for s in stmts:
        yield s
        for block in s.blocks():
            yield from walk_stmts(block)
