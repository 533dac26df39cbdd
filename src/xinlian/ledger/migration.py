"""The acceptance rule of a suite migration: which signature algorithms sign for accounts when.

A migration (scheduled by governance, execution/migration.py) moves the chain from the
signature algorithm of its suite (`old`) to that of a post-quantum or hybrid suite (`new`)
at height H with an overlap window of W blocks. For a transaction going into block `h`:

- h < H: only `old` keys sign (a key bound ahead of time waits for H);
- H <= h < H + W: `old` and `new` keys both sign, each for its account;
- h >= H + W: only `new` keys sign. An account whose owner never bound a `new` key is frozen:
  its old key signs nothing more, and only a governance-approved binding (RecoverAccount)
  gives it a key again.

A bound key acts for the account it was bound to (same address, balance and nonce); without
a schedule no rule applies. Accounts keep their addresses: an address is the hash of the
key that created it, and a binding adds a key to it rather than moving it.
"""

from __future__ import annotations

from enum import StrEnum

from xinlian.codec import Struct
from xinlian.crypto.keys import AlgId
from xinlian.ledger.errors import KeyNotAccepted


class MigrationSchedule(Struct):
    from_suite: str
    to_suite: str
    height: int  # H: the first block that accepts the new suite's keys
    window: int  # W: blocks during which both kinds are accepted
    old: AlgId  # the signature algorithm of `from_suite`
    new: AlgId  # the signature algorithm of `to_suite`


class Phase(StrEnum):
    NONE = "none"  # no migration scheduled
    SCHEDULED = "scheduled"  # before H
    OVERLAP = "overlap"  # [H, H + W)
    DONE = "done"  # from H + W


def get_phase(schedule: MigrationSchedule | None, height: int) -> Phase:
    """The migration's phase at block `height`."""
    if schedule is None:
        return Phase.NONE
    if height < schedule.height:
        return Phase.SCHEDULED
    if height < schedule.height + schedule.window:
        return Phase.OVERLAP
    return Phase.DONE


def accepted_algs(schedule: MigrationSchedule, height: int) -> tuple[AlgId, ...]:
    """The signature algorithms that sign for accounts in block `height`."""
    phase = get_phase(schedule, height)
    if phase is Phase.SCHEDULED:
        return (schedule.old,)
    if phase is Phase.OVERLAP:
        return (schedule.old, schedule.new)
    return (schedule.new,)


def key_error(schedule: MigrationSchedule | None, alg: AlgId, height: int
              ) -> KeyNotAccepted | None:
    """Why a key of `alg` may not sign a transaction of block `height` (None: it may)."""
    if schedule is None:
        return None
    accepted = accepted_algs(schedule, height)
    if alg in accepted:
        return None
    return KeyNotAccepted(
        f"{alg.name} keys do not sign in block {height} of the move from "
        f"{schedule.from_suite} to {schedule.to_suite} (accepted: "
        f"{', '.join(a.name for a in accepted)})")
