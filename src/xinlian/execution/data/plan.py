"""Adaptive indexes: which index each `auto` attribute of an adaptive collection keeps, and why.

A collection declared with `adapt_every = N > 0` keeps a plan at `dp/<collection id>`: for
each attribute declared `auto`, the upkeep its writes caused and the queries reported
against it since the last review. Every node keeps the same plan, because it is made of
committed data only: the executor counts the values each write adds or removes (and, for
text, their words), and members report the queries they served off chain with `Queries` ops
(a query itself is never on chain, so it cannot move a committed root). At the end of the
first block at or after a review height that touches the collection, the node applies
`decide` to every adaptive attribute (node/data_plan.py): an index is built, dropped or
switched in that block's one write, its reason recorded in the plan, so every validator
commits the same index roots at the same height.

The cost model, in microseconds of one core (measured by benchmarks/data_plan.py on the
development machine; the figures are part of the chain's rules, like its fees):

- upkeep of a kind over a window: range, RANGE_ENTRY_US per value added or removed;
  keyword, KEYWORD_WORD_US per word of the text values added or removed;
- saving of a kind over a window: each reported query of that kind ("range" queries are
  ranges, time windows and aggregates; "keyword" ones keyword and boolean queries) would
  otherwise read and check every record of the collection: SCAN_RECORD_US per record;
- net = saving - upkeep (0 for no index); build = what writing the kind's entries for
  every value the attribute holds now costs (a drop costs nothing).

The rule: the best option is the one of the highest net (ties kept by the current index,
then in `candidates` order); the attribute moves to it only if its net beats the current
one's by more than its build cost, so a switch pays for itself within one window and a
close call never flaps. An index that no reported query used over a window of writes is
dropped (its net is negative); one that reported queries would have saved more than it costs
is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from msgspec.structs import replace

from xinlian import codec
from xinlian.execution.data.indexes import KINDS
from xinlian.execution.data.model import Attribute, IndexChoice
from xinlian.execution.errors import BadPayload

PLAN_PREFIX = b"dp/"
PRESENCE_POSITION = 0xFFFF  # range-index entries `cid || 0xFFFF || record id`: every record
MAX_REPORTED = 1_000_000_000  # queries in one report
QUERY_KINDS = ("range", "keyword")

# measured: `python -m benchmarks.data_plan` (SHA-256, 20,000 records, CPU time, load 10 on
# the 2-core development machine): 22.2, 10.0 and 113.7 us (docs/data.md has the run)
RANGE_ENTRY_US = 22
KEYWORD_WORD_US = 10
SCAN_RECORD_US = 114


class AttributePlan(codec.Struct):
    """One adaptive attribute: the window's counts and the last decision's reason."""

    position: int
    writes: int = 0        # values added or removed in the window
    words: int = 0         # words of the text values added or removed in the window
    values: int = 0        # records holding a value of the attribute now
    range_queries: int = 0     # reported in the window
    keyword_queries: int = 0   # reported in the window
    changed: int = 0       # the height its index last changed (its declaration at first)
    reason: str = "declared auto"  # why it changed then


class Plan(codec.Struct):
    """An adaptive collection's plan at `dp/<collection id>`."""

    every: int             # blocks between reviews
    next_review: int       # the first height of the next review
    records: int           # records of the collection now
    attributes: list[AttributePlan]

    def of(self, position: int) -> AttributePlan | None:
        return next((a for a in self.attributes if a.position == position), None)


@dataclass(frozen=True)
class Estimate:
    """One option for an attribute over the window: its upkeep and saving (net = saving -
    upkeep), and what building it now would cost."""

    index: str
    upkeep: int
    saving: int
    build: int

    @property
    def net(self) -> int:
        return self.saving - self.upkeep


class IndexEstimate(codec.Struct):
    """An option's figures over the current window, in microseconds (`Estimate`)."""

    index: str
    upkeep: int
    saving: int
    net: int
    build: int


class AttributeView(codec.Struct):
    """What `xl_dataPlan` shows of one adaptive attribute: its index now, the one a review
    would choose from the window so far (`candidate`) and why, the last change of its index
    (`changed` at that height, `reason`), the window's counts and every option's
    estimate."""

    name: str
    kind: str
    index: str
    candidate: str
    why: str
    changed: int
    reason: str
    writes: int
    words: int
    values: int
    range_queries: int
    keyword_queries: int
    estimates: list[IndexEstimate]


def attribute_views(attrs: list[Attribute], plan: Plan) -> list[AttributeView]:
    """The plan's adaptive attributes as `xl_dataPlan` shows them."""
    out = []
    for stats in plan.attributes:
        attr = attrs[stats.position]
        candidate, why = decide(attr, stats, plan.records)
        out.append(AttributeView(
            attr.name, attr.kind, attr.index, candidate, why, stats.changed, stats.reason,
            stats.writes, stats.words, stats.values, stats.range_queries,
            stats.keyword_queries,
            [IndexEstimate(e.index, e.upkeep, e.saving, e.net, e.build)
             for e in estimates(attr, stats, plan.records)]))
    return out


def plan_key(cid: bytes) -> bytes:
    return PLAN_PREFIX + cid


def candidates(kind: str) -> list[str]:
    """The index kinds an attribute of value kind `kind` may keep, then "none"."""
    return [name for name, k in KINDS.items() if k.accepts(kind)] + [IndexChoice.NONE]


def estimates(attr: Attribute, stats: AttributePlan, records: int) -> list[Estimate]:
    """Every option of `attr` under the cost model (module docstring)."""
    out = []
    for index in candidates(attr.kind):
        if index == "range":
            upkeep = stats.writes * RANGE_ENTRY_US
            build = stats.values * RANGE_ENTRY_US
            queries = stats.range_queries
        elif index == "keyword":
            upkeep = stats.words * KEYWORD_WORD_US
            # the values held now, at the window's words per value (1 without writes)
            build = (stats.values * stats.words // stats.writes if stats.writes
                     else stats.values) * KEYWORD_WORD_US
            queries = stats.keyword_queries
        else:
            upkeep = build = queries = 0
        out.append(Estimate(index, upkeep, queries * records * SCAN_RECORD_US, build))
    return out


def decide(attr: Attribute, stats: AttributePlan, records: int) -> tuple[str, str]:
    """The index `attr` keeps after a review, and why (see the module docstring)."""
    options = estimates(attr, stats, records)
    current = next(e for e in options if e.index == attr.index)
    best = max(options, key=lambda e: (e.net, e is current))
    counts = (f"{stats.writes} writes, {stats.words} words, {stats.range_queries} range "
              f"and {stats.keyword_queries} keyword queries over {records} records")
    if best is current:
        return attr.index, (f"kept {attr.index} (net {current.net} us): no option does "
                            f"better; {counts}")
    gain = best.net - current.net
    if gain <= best.build:
        return attr.index, (f"kept {attr.index} (net {current.net} us): {best.index} would "
                            f"gain {gain} us, not more than its build {best.build} us; "
                            f"{counts}")
    verb = "dropped" if best.index == IndexChoice.NONE else f"switched to {best.index}"
    return best.index, (f"{verb} (net {best.net} us against {current.net} us for "
                        f"{attr.index}, build {best.build} us); {counts}")


def reviewed(plan: Plan, attrs: list[Attribute], height: int
             ) -> tuple[Plan, dict[int, tuple[str, str]]]:
    """The plan after a review at `height` (every window count reset) and the attributes
    whose index changes: position -> (old index, new index)."""
    changes: dict[int, tuple[str, str]] = {}
    kept = []
    for stats in plan.attributes:
        attr = attrs[stats.position]
        index, reason = decide(attr, stats, plan.records)
        if index != attr.index:
            changes[stats.position] = (attr.index, index)
        moved = index != attr.index
        kept.append(AttributePlan(stats.position, values=stats.values,
                                  changed=height if moved else stats.changed,
                                  reason=reason if moved else stats.reason))
    return Plan(plan.every, height + plan.every, plan.records, kept), changes


def report(plan: Plan, position: int, kind: str, count: int) -> Plan:
    """`plan` with `count` queries of `kind` reported against attribute `position`;
    BadPayload for a report the plan cannot take."""
    stats = plan.of(position)
    if stats is None:
        raise BadPayload("queries are reported for adaptive attributes only (declared "
                         "auto in a collection that adapts)")
    if kind not in QUERY_KINDS:
        raise BadPayload(f"a query kind is one of {list(QUERY_KINDS)}, not {kind!r}")
    if type(count) is not int or not 0 < count <= MAX_REPORTED:
        raise BadPayload(f"a report counts 1..{MAX_REPORTED} queries, not {count}")
    field = "range_queries" if kind == "range" else "keyword_queries"
    return _with(plan, position, **{field: getattr(stats, field) + count})


def counted(plan: Plan, position: int, writes: int, words: int, values: int) -> Plan:
    """`plan` with `writes` values (of `words` words) added or removed at `position`, and
    the attribute's held values changed by `values`."""
    stats = plan.of(position)
    assert stats is not None
    return _with(plan, position, writes=stats.writes + writes, words=stats.words + words,
                 values=stats.values + values)


def _with(plan: Plan, position: int, **changes: int) -> Plan:
    attributes = [replace(a, **changes) if a.position == position else a
                  for a in plan.attributes]
    return Plan(plan.every, plan.next_review, plan.records, attributes)


def read_plan(read: Callable[[bytes], bytes | None], cid: bytes) -> Plan | None:
    raw = read(plan_key(cid))
    return None if raw is None else _decode_plan(raw)


_decode_plan = codec.trusted_decoder(Plan)  # state written by execution only
