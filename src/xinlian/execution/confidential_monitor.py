"""The regulator's monitoring engine: abnormal-transaction rules over the private
transactions the regulator opened (docs/privacy.md, "Monitoring opened transactions").

Sans-I/O: the caller reads openings (sdk/confidential.py `monitor`, which reads them
proven) and feeds them, in order of the blocks that hold the transfers, to `Monitor.feed`,
which returns the findings each one causes. Rules are data, read from a TOML file by
`parse_rules`:

  [[amount]]    name, above                  a transaction moving more than `above`
  [[velocity]]  name, direction ("sent" | "received"), window (blocks),
                max_count and/or max_total   an account's transactions within the last
                                             `window` blocks, more than max_count of them
                                             or more than max_total in value
  [[fan]]       name, direction ("out" | "in"), window, max_parties
                                             one sender paying more than max_parties
                                             distinct receivers in the window ("out"), or
                                             one receiver paid by more ("in")

A window of w blocks ending at height h holds heights h-w+1 .. h. Each transaction that
leaves an account over a limit is one finding, with its evidence: the transactions
(id, block height) in the window and the rule. An anonymous transaction's outputs that
return to one of its senders are change, not value sent.
"""

from __future__ import annotations

import tomllib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from xinlian.execution.errors import ExecutionError


class MonitorError(ExecutionError):
    code = 5310
    name = "monitor_error"


class BadRules(MonitorError):
    """A rules file that is not TOML, names an unknown rule, or gives a bad parameter."""

    code = 5311
    name = "monitor_bad_rules"


class OutOfOrder(MonitorError):
    """A transaction fed at a lower block height than one fed before."""

    code = 5312
    name = "monitor_out_of_order"


Kind = Literal["confidential", "anonymous"]


@dataclass(frozen=True)
class OpenedTx:
    """One opened private transaction: `payments` are (receiver, amount) pairs, change
    excluded; `height` is the block of the transfer (not of its opening)."""

    tx: bytes
    height: int
    kind: Kind
    senders: tuple[bytes, ...]
    payments: tuple[tuple[bytes, int], ...]

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.payments)

    @property
    def receivers(self) -> tuple[bytes, ...]:
        return tuple(dict.fromkeys(r for r, _ in self.payments))


def anonymous_tx(tx: bytes, height: int, senders: Sequence[bytes],
                 receivers: Sequence[bytes], amounts: Sequence[int]) -> OpenedTx:
    """An opened anonymous transfer: outputs to its own senders are change."""
    own = set(senders)
    return OpenedTx(tx, height, "anonymous", tuple(dict.fromkeys(senders)),
                    tuple((r, a) for r, a in zip(receivers, amounts, strict=True)
                          if r not in own))


def confidential_tx(tx: bytes, height: int, sender: bytes, receiver: bytes,
                    amount: int) -> OpenedTx:
    return OpenedTx(tx, height, "confidential", (sender,), ((receiver, amount),))


@dataclass(frozen=True)
class AmountRule:
    name: str
    above: int


@dataclass(frozen=True)
class VelocityRule:
    name: str
    direction: Literal["sent", "received"]
    window: int
    max_count: int | None
    max_total: int | None


@dataclass(frozen=True)
class FanRule:
    name: str
    direction: Literal["out", "in"]
    window: int
    max_parties: int


Rule = AmountRule | VelocityRule | FanRule


@dataclass(frozen=True)
class Evidence:
    tx: bytes
    height: int


@dataclass(frozen=True)
class Finding:
    """`account`: whose limit it passed (None for an amount rule); `value`: the amount,
    count, total or number of parties found; `limit`: the rule's."""

    rule: str
    kind: str
    account: bytes | None
    measure: str
    value: int
    limit: int
    evidence: tuple[Evidence, ...]

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind,
                "account": None if self.account is None else "0x" + self.account.hex(),
                "measure": self.measure, "value": self.value, "limit": self.limit,
                "evidence": [{"tx": "0x" + e.tx.hex(), "height": e.height}
                             for e in self.evidence]}


# -- rules file ----------------------------------------------------------------------------

_FIELDS: dict[str, dict[str, tuple[type, bool]]] = {
    "amount": {"name": (str, True), "above": (int, True)},
    "velocity": {"name": (str, True), "direction": (str, True), "window": (int, True),
                 "max_count": (int, False), "max_total": (int, False)},
    "fan": {"name": (str, True), "direction": (str, True), "window": (int, True),
            "max_parties": (int, True)},
}
_WHAT = {str: "text", int: "an integer"}
_DIRECTIONS = {"velocity": ("sent", "received"), "fan": ("out", "in")}


def parse_rules(text: str) -> list[Rule]:
    """The rules of a TOML rules file; BadRules naming the first fault."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadRules(f"the rules file is not TOML: {exc}") from exc
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise BadRules(f"unknown rule kind {unknown[0]!r} (amount, velocity, fan)")
    rules: list[Rule] = []
    for kind, fields in _FIELDS.items():
        entries = doc.get(kind, [])
        if not isinstance(entries, list):
            raise BadRules(f"{kind}: write each rule as [[{kind}]]")
        for entry in entries:
            rules.append(_rule(kind, fields, entry))
    if not rules:
        raise BadRules("the rules file has no rule")
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise BadRules("two rules have one name")
    return rules


def _rule(kind: str, fields: dict[str, tuple[type, bool]], entry: dict[str, Any]) -> Rule:
    where = f"[[{kind}]] {entry.get('name', '?')!s}"
    extra = sorted(set(entry) - set(fields))
    if extra:
        raise BadRules(f"{where}: unknown field {extra[0]!r}")
    for key, (typ, required) in fields.items():
        if key not in entry:
            if required:
                raise BadRules(f"{where}: {key} is missing")
            continue
        value = entry[key]
        if not isinstance(value, typ) or isinstance(value, bool):
            raise BadRules(f"{where}: {key} must be {_WHAT[typ]}")
        if isinstance(value, int) and value < (1 if key == "window" else 0):
            bound = "positive" if key == "window" else "not negative"
            raise BadRules(f"{where}: {key} must be {bound}")
    if kind in _DIRECTIONS and entry["direction"] not in _DIRECTIONS[kind]:
        raise BadRules(f"{where}: direction is one of {', '.join(_DIRECTIONS[kind])}")
    if kind == "amount":
        return AmountRule(entry["name"], entry["above"])
    if kind == "velocity":
        if "max_count" not in entry and "max_total" not in entry:
            raise BadRules(f"{where}: give max_count, max_total or both")
        return VelocityRule(entry["name"], entry["direction"], entry["window"],
                            entry.get("max_count"), entry.get("max_total"))
    return FanRule(entry["name"], entry["direction"], entry["window"], entry["max_parties"])


# -- the engine ----------------------------------------------------------------------------


@dataclass
class _Window:
    """An account's transactions in the last `size` blocks."""

    size: int
    items: deque[tuple[OpenedTx, int, frozenset[bytes]]] = field(default_factory=deque)

    def push(self, tx: OpenedTx, value: int, parties: frozenset[bytes]) -> None:
        while self.items and self.items[0][0].height <= tx.height - self.size:
            self.items.popleft()
        self.items.append((tx, value, parties))

    def evidence(self) -> tuple[Evidence, ...]:
        return tuple(Evidence(t.tx, t.height) for t, _, _ in self.items)


class Monitor:
    """Feed opened transactions in block order; each feed returns its findings."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self.height = 0
        self._windows: dict[tuple[str, bytes], _Window] = {}

    def feed(self, tx: OpenedTx) -> list[Finding]:
        if tx.height < self.height:
            raise OutOfOrder(f"transaction at block {tx.height} after block {self.height}")
        self.height = tx.height
        found: list[Finding] = []
        for rule in self.rules:
            if isinstance(rule, AmountRule):
                if tx.total > rule.above:
                    found.append(Finding(rule.name, "amount", None, "amount", tx.total,
                                         rule.above, (Evidence(tx.tx, tx.height),)))
            elif isinstance(rule, VelocityRule):
                found += self._velocity(rule, tx)
            else:
                found += self._fan(rule, tx)
        return found

    def _window(self, rule: Rule, account: bytes, size: int) -> _Window:
        return self._windows.setdefault((rule.name, account), _Window(size))

    def _velocity(self, rule: VelocityRule, tx: OpenedTx) -> list[Finding]:
        if rule.direction == "sent":
            moved = [(s, tx.total) for s in tx.senders]
        else:
            moved = [(r, sum(a for to, a in tx.payments if to == r)) for r in tx.receivers]
        found = []
        for account, value in moved:
            window = self._window(rule, account, rule.window)
            window.push(tx, value, frozenset())
            count = len(window.items)
            total = sum(v for _, v, _ in window.items)
            for measure, got, limit in (("count", count, rule.max_count),
                                        ("total", total, rule.max_total)):
                if limit is not None and got > limit:
                    found.append(Finding(rule.name, "velocity", account,
                                         f"{measure}_{rule.direction}", got, limit,
                                         window.evidence()))
        return found

    def _fan(self, rule: FanRule, tx: OpenedTx) -> list[Finding]:
        if rule.direction == "out":
            links = [(s, frozenset(tx.receivers)) for s in tx.senders]
        else:
            links = [(r, frozenset(tx.senders)) for r in tx.receivers]
        found = []
        for account, parties in links:
            window = self._window(rule, account, rule.window)
            window.push(tx, 0, parties)
            distinct = frozenset().union(*(p for _, _, p in window.items))
            if len(distinct) > rule.max_parties:
                found.append(Finding(rule.name, "fan", account,
                                     "receivers" if rule.direction == "out" else "senders",
                                     len(distinct), rule.max_parties, window.evidence()))
        return found


def run(rules: Iterable[Rule], txs: Iterable[OpenedTx]) -> list[Finding]:
    """Every finding of `txs`, fed in block order (ties by transaction id)."""
    monitor = Monitor(rules)
    return [f for tx in sorted(txs, key=lambda t: (t.height, t.tx)) for f in monitor.feed(tx)]
