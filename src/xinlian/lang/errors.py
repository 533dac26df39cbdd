"""The Qi error family (7xxx): compile diagnostics and engine errors.

Compile errors carry one or more `Diagnostic`s, each with a stable code (7100-7399), a
message and a source span, rendered as `file:line:col: error[E7xxx]: message` followed by
the source line and a caret under the offending text. Engine errors (75xx) are raised by
`xinlian.execution.vm` and carry a Qi-level stack trace when the program trapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.errors import XinlianError


@dataclass(frozen=True)
class Span:
    file: str
    line: int  # 1-based
    col: int  # 1-based
    length: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: int
    message: str
    span: Span

    def render(self, source: str | None) -> str:
        head = f"{self.span}: error[E{self.code}]: {self.message}"
        if source is None:
            return head
        lines = source.splitlines()
        if not 1 <= self.span.line <= len(lines):
            return head
        text = lines[self.span.line - 1]
        gutter = f"{self.span.line:>4} | "
        caret = " " * (len(gutter) + self.span.col - 1) + "^" * max(1, self.span.length)
        return f"{head}\n{gutter}{text}\n{caret}"


class QiError(XinlianError):
    code = 7000
    name = "qi_error"


class CompileError(QiError):
    """The program is wrong; `diagnostics` says where and why (at least one)."""

    code = 7100
    name = "compile_error"

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None) -> None:
        self.diagnostics = list(dict.fromkeys(diagnostics))
        self.source = source
        super().__init__(self.render())
        self.code = diagnostics[0].code

    def render(self) -> str:
        return "\n".join(d.render(self.source) for d in self.diagnostics)

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["diagnostics"] = [{"code": d.code, "message": d.message, "file": d.span.file,
                               "line": d.span.line, "col": d.span.col}
                              for d in self.diagnostics]
        return out


# Stable diagnostic codes. Never renumber: tools and docs refer to them.
E_LEX_CHAR = 7101  # unexpected character
E_LEX_STRING = 7102  # unterminated string or bad escape
E_LEX_NUMBER = 7103  # malformed number literal
E_PARSE = 7110  # unexpected token
E_UNKNOWN_NAME = 7201  # name not defined
E_UNKNOWN_TYPE = 7202  # type not defined
E_TYPE_MISMATCH = 7203  # expression has the wrong type
E_DUPLICATE = 7204  # name defined twice
E_ARITY = 7205  # wrong number of arguments
E_NOT_ASSIGNABLE = 7206  # assignment to something that cannot be assigned
E_IMMUTABLE = 7207  # assignment to an immutable `let`
E_LITERAL_RANGE = 7208  # literal does not fit its type
E_MISSING_RETURN = 7209  # a path of a non-unit function ends without `return`
E_BAD_CONTEXT = 7210  # statement not allowed here (break outside loop, emit outside contract)
E_VIEW_WRITES = 7211  # view function changes state or emits
E_ACCESS = 7212  # state used outside the function's declared reads/writes
E_RECURSIVE_TYPE = 7213  # a struct contains itself
E_NOT_CALLABLE = 7214  # call of something that is not a function
E_UNKNOWN_MEMBER = 7215  # no such field or method
E_CONST_FAULT = 7216  # a constant expression overflows its type or divides by zero
E_UNREACHABLE = 7217  # statement after `return`, `revert`, `break` or `continue`
E_FREE_STATE = 7218  # a free function (outside any contract) uses contract state
E_SPEC = 7219  # a specification that is impure or misplaced (`old` outside `ensures`)
E_LAYOUT = 7301  # upgrade breaks the old storage layout
E_CALLBACK = 7302  # async callback has the wrong signature
E_SCHEDULE = 7303  # scheduled function has parameters or a bad period
E_UPGRADE_RULE = 7304  # the `upgrade` clause names an unknown rule or bad approvers


class ProverUnsupported(QiError):
    """The program uses a construct the prover does not model; it refuses rather than
    risk a wrong proof."""

    code = 7220
    name = "not_supported_by_prover"


class EngineError(QiError):
    """Base of errors raised while loading or running a compiled Qi module."""

    code = 7500
    name = "engine_error"

    def __init__(self, message: str = "", trace: list[str] | None = None) -> None:
        self.trace = trace or []
        full = message + ("".join(f"\n  at {t}" for t in self.trace) if self.trace else "")
        super().__init__(full)

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["trace"] = self.trace
        return out


class ModuleError(EngineError):
    """The bytes are not a valid Wasm module, or it does not match the Qi host API."""

    code = 7501
    name = "bad_module"


class ArgumentError(EngineError):
    """Arguments do not match the method's parameter types, or the method does not exist."""

    code = 7502
    name = "bad_arguments"


class TrapError(EngineError):
    """The program stopped on a runtime fault (overflow, bounds, division by zero...)."""

    code = 7503
    name = "trap"


class OutOfFuelError(EngineError):
    """The call used all the fuel it was given."""

    code = 7504
    name = "out_of_fuel"


class OutOfMemoryError(EngineError):
    """The call needed more memory than its limit."""

    code = 7505
    name = "out_of_memory"


class RevertError(EngineError):
    """The contract rejected the call (`revert`, `require`) with a custom error."""

    code = 7506
    name = "revert"

    def __init__(self, error_name: str, args: list[object], trace: list[str] | None = None,
                 message: str = "") -> None:
        """`message` is the error as Qi writes it (`TooBig(limit: 100)`, see `lang.show`);
        without it the arguments are shown by position."""
        self.error_name = error_name
        self.args_ = args
        super().__init__(message or f"{error_name}({', '.join(map(str, args))})", trace)

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["error"] = self.error_name
        return out


class StackOverflowError(EngineError):
    """Recursion went deeper than the engine's stack limit."""

    code = 7507
    name = "stack_overflow"


class EntryPointError(EngineError):
    """The method is an entry point only the engine runs (constructor, async callback,
    scheduled function, `migrate`, test), or is not public: no transaction, contract or
    async call may name it."""

    code = 7508
    name = "not_callable"


class FuelLimitError(EngineError):
    """The fuel asked for exceeds the per-transaction cap, or what is left of the block's."""

    code = 7509
    name = "fuel_limit"


class CryptoInputError(EngineError):
    """A cryptographic builtin refused its input: a key, nonce or IV of the wrong length,
    a ciphertext that is malformed or does not authenticate, bad padding."""

    code = 7511
    name = "crypto_input"


class UpgradeError(EngineError):
    """An upgrade was refused: the sender is not the contract's upgrade authority, or the
    new code's storage layout is incompatible with the stored one. Nothing was changed."""

    code = 7510
    name = "upgrade_refused"


class ReentrancyError(EngineError):
    """A synchronous call would re-enter a contract that is already running lower in the
    call stack (a contract may call itself, but no callee may call back into its callers)."""

    code = 7512
    name = "reentrancy"


class FrozenError(EngineError):
    """The contract is frozen by governance: it refuses calls and upgrades until unfrozen."""

    code = 7513
    name = "contract_frozen"


class ConfidentialPayError(EngineError):
    """A confidential-account builtin (`conf_pay`) refused: the payment does not decode,
    its proofs do not verify for the origin, this contract, the receiver and the floor,
    the balance is stale, an account is unregistered, or the run is not a signed
    transaction's. The message names the confidential error's code (53xx, 88xx)."""

    code = 7515
    name = "confidential_refused"


class TraceLimitError(EngineError):
    """A debug run reached the debugger's cap on recorded steps (`debugger.MAX_STEPS`)."""

    code = 7514
    name = "debug_trace_limit"
