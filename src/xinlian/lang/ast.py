"""Qi syntax tree, as written by the programmer (names unresolved, types unchecked)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xinlian.lang.errors import Span


# --- types as written -------------------------------------------------------------------
@dataclass
class TypeRef:
    name: str  # "u64", "list", "map", "array", "optional", or a user type name
    args: list[TypeRef]
    span: Span
    size: int = 0  # for fixed arrays [T; N]


# --- expressions --------------------------------------------------------------------------
@dataclass
class Expr:
    span: Span


@dataclass
class IntLit(Expr):
    value: int


@dataclass
class BoolLit(Expr):
    value: bool


@dataclass
class StrLit(Expr):
    value: str


@dataclass
class BytesLit(Expr):
    value: bytes


@dataclass
class NoneLit(Expr):
    pass


@dataclass
class Name(Expr):
    ident: str


@dataclass
class Path(Expr):
    """`Enum::Variant`."""

    owner: str
    member: str


@dataclass
class Unary(Expr):
    op: str
    operand: Expr


@dataclass
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass
class Call(Expr):
    func: Expr
    args: list[Expr]


@dataclass
class Index(Expr):
    base: Expr
    index: Expr


@dataclass
class Field(Expr):
    base: Expr
    name: str


@dataclass
class Cast(Expr):
    value: Expr
    to: TypeRef


@dataclass
class ListLit(Expr):
    items: list[Expr]


@dataclass
class MapLit(Expr):
    """`{}`: an empty in-memory map (its type comes from the context)."""


@dataclass
class StructLit(Expr):
    type_name: str
    fields: list[tuple[str, Expr, Span]]


# --- statements ---------------------------------------------------------------------------
@dataclass
class Stmt:
    span: Span


@dataclass
class Let(Stmt):
    name: str
    mutable: bool
    type: TypeRef | None
    value: Expr


@dataclass
class Assign(Stmt):
    target: Expr
    op: str  # "=", "+=", ...
    value: Expr


@dataclass
class ExprStmt(Stmt):
    expr: Expr


@dataclass
class If(Stmt):
    cond: Expr
    then: list[Stmt]
    orelse: list[Stmt]


@dataclass
class While(Stmt):
    cond: Expr
    body: list[Stmt]
    invariants: list[Expr] = field(default_factory=list)  # `invariant e` (for the prover)


@dataclass
class ForRange(Stmt):
    var: str
    start: Expr
    end: Expr
    body: list[Stmt]
    invariants: list[Expr] = field(default_factory=list)


@dataclass
class ForEach(Stmt):
    var: str
    iterable: Expr
    body: list[Stmt]
    invariants: list[Expr] = field(default_factory=list)


@dataclass
class Break(Stmt):
    pass


@dataclass
class Continue(Stmt):
    pass


@dataclass
class Return(Stmt):
    value: Expr | None


@dataclass
class Emit(Stmt):
    event: str
    args: list[Expr]


@dataclass
class Revert(Stmt):
    error: str
    args: list[Expr]


@dataclass
class Require(Stmt):
    cond: Expr
    error: str | None  # custom error name, or None for a message
    args: list[Expr]
    message: str


@dataclass
class Assert(Stmt):
    cond: Expr


@dataclass
class Try(Stmt):
    """`try let v = Iface(addr).method(args) { ... } catch e { ... }`."""

    var: str | None
    call: Expr
    body: list[Stmt]
    err_var: str | None
    handler: list[Stmt]


@dataclass
class Catch:
    """One `catch` clause of a `try` block: `catch E(a, b) { }` (error `E`, its arguments
    bound by position), `catch E { }`, or `catch e { }` (any error; `e` is its name). Which
    of the last two it is depends on whether the name is a declared error."""

    span: Span
    name: str | None
    binds: list[str] | None  # None: no parenthesised list
    body: list[Stmt]


@dataclass
class TryBlock(Stmt):
    """`try { ... } catch ... { ... }`: run a block, handling errors raised inside it."""

    body: list[Stmt]
    catches: list[Catch]


@dataclass
class AsyncCall(Stmt):
    """`async Iface(addr).method(args) then callback;`."""

    call: Expr
    callback: str


# --- specifications (checked by the compiler, proved by `xinlian qi verify`) ----------------
SPEC_CLAUSES = ("requires", "ensures", "aborts_if", "modifies")


@dataclass
class SpecClause:
    """`requires e`, `ensures e`, `aborts_if e` or `modifies a, b` on a function, or a
    contract's `invariant e;`. Code generation ignores them."""

    kind: str  # one of SPEC_CLAUSES, or "invariant"
    expr: Expr | None
    span: Span
    names: list[str] = field(default_factory=list)  # `modifies`


# --- declarations ---------------------------------------------------------------------------
@dataclass
class Param:
    name: str
    type: TypeRef
    span: Span
    indexed: bool = False


@dataclass
class FnDecl:
    name: str
    params: list[Param]
    ret: TypeRef | None
    body: list[Stmt] | None  # None in interfaces
    span: Span
    public: bool = False
    view: bool = False
    is_init: bool = False
    is_test: bool = False
    expect_revert: str | None = None  # a test that must revert: an error name, or "*" (any)
    reads: list[str] | None = None  # declared state access; None = undeclared
    writes: list[str] | None = None
    every: int | None = None  # scheduled: run every N blocks
    specs: list[SpecClause] = field(default_factory=list)


@dataclass
class StructDecl:
    name: str
    fields: list[Param]
    span: Span


@dataclass
class EnumDecl:
    name: str
    variants: list[str]
    span: Span


@dataclass
class StateDecl:
    name: str
    type: TypeRef
    span: Span
    indexed: bool = False


@dataclass
class EventDecl:
    name: str
    params: list[Param]
    span: Span


@dataclass
class ErrorDecl:
    name: str
    params: list[Param]
    span: Span


@dataclass
class InterfaceDecl:
    name: str
    methods: list[FnDecl]
    span: Span


@dataclass
class UpgradeClause:
    """`upgrade by admin;` / `by governance;` / `by approvals(k of [...]);` / `never;`"""

    kind: str
    span: Span
    threshold: int = 0
    approvers: list[bytes] = field(default_factory=list)


@dataclass
class ContractDecl:
    name: str
    span: Span
    upgrades: str | None = None
    upgrade_rule: UpgradeClause | None = None
    states: list[StateDecl] = field(default_factory=list)
    events: list[EventDecl] = field(default_factory=list)
    errors: list[ErrorDecl] = field(default_factory=list)
    functions: list[FnDecl] = field(default_factory=list)
    invariants: list[SpecClause] = field(default_factory=list)


@dataclass
class Program:
    file: str
    structs: list[StructDecl] = field(default_factory=list)
    enums: list[EnumDecl] = field(default_factory=list)
    interfaces: list[InterfaceDecl] = field(default_factory=list)
    functions: list[FnDecl] = field(default_factory=list)  # free functions and tests
    contracts: list[ContractDecl] = field(default_factory=list)
