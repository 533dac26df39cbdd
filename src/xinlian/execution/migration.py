"""A chain's move to a post-quantum or hybrid suite without a fork: schedule and key bindings.

State it keeps (world-state keys, proven like any account):
  sys/pq/schedule         the migration (ledger.migration.MigrationSchedule), once enacted
  sys/pq/bound/<account>  the key bound to an account (PublicKey)
  sys/pq/alias/<address>  the account a bound key acts for, by the key's own address
  sys/pq/bound_count      how many accounts have bound a key

Governance schedules the move (Propose(ScheduleMigration), approved like every system change);
the acceptance rule it sets is ledger/migration.py. An account binds a key of the target suite
with BindKey, signed by its current key (the transaction) and by the new key (the proof over
`binding_message`), so neither key alone can bind; a frozen account gets one only through
Propose(RecoverAccount). A bound key's own address must hold no account, so an address is
never both an account and an alias.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.signing import check_public_key, verify
from xinlian.crypto.suites import SUITES, Suite
from xinlian.execution.errors import BindingNotCosigned, InvalidBinding, InvalidSchedule
from xinlian.execution.payloads import ScheduleMigration
from xinlian.execution.state import Overlay, Reader
from xinlian.ledger.account import account_key, address_of
from xinlian.ledger.block import Event
from xinlian.ledger.errors import LedgerError
from xinlian.ledger.migration import MigrationSchedule, key_error
from xinlian.ledger.transaction import Transaction

SCHEDULE_KEY = b"sys/pq/schedule"
BOUND_PREFIX = b"sys/pq/bound/"
ALIAS_PREFIX = b"sys/pq/alias/"
BOUND_COUNT_KEY = b"sys/pq/bound_count"
BINDING_DOMAIN = b"xinlian/pq-bind/v1\x00"


def binding_message(chain_id: str, account: bytes, key: PublicKey) -> bytes:
    """What the new key signs to bind itself to `account` on chain `chain_id`."""
    return BINDING_DOMAIN + codec.encode([chain_id, account, key])


def get_schedule(read: Reader) -> MigrationSchedule | None:
    raw = read(SCHEDULE_KEY)
    return None if raw is None else codec.decode(raw, MigrationSchedule)


def get_bound_key(read: Reader, account: bytes) -> PublicKey | None:
    raw = read(BOUND_PREFIX + account)
    return None if raw is None else codec.decode(raw, PublicKey)


def get_bound_count(read: Reader) -> int:
    raw = read(BOUND_COUNT_KEY)
    return 0 if raw is None else codec.decode(raw, int)


def resolve_sender(read: Reader, hash_bytes: Callable[[bytes], bytes],
                   schedule: MigrationSchedule | None, tx: Transaction) -> None:
    """Point `tx.sender_address` at the account its key is bound to, if it is bound (only
    keys of the target suite can be)."""
    if schedule is None or tx.body.sender.alg != schedule.new:
        return
    own = address_of(tx.body.sender, hash_bytes)
    account = read(ALIAS_PREFIX + own)
    tx.sender_address = own if account is None else account


def key_rule(read: Reader, hash_bytes: Callable[[bytes], bytes], schedule: MigrationSchedule | None,
             tx: Transaction, height: int) -> LedgerError | None:
    """Resolve the transaction's account (`resolve_sender`), then why its key may not sign
    in block `height` (None: it may)."""
    resolve_sender(read, hash_bytes, schedule, tx)
    return key_error(schedule, tx.body.sender.alg, height)


def check_schedule(read: Reader, suite: Suite, change: ScheduleMigration,
                   height: int) -> MigrationSchedule:
    """The schedule `change` enacts in block `height`; InvalidSchedule if it cannot be."""
    target = SUITES.get(change.to_suite)
    if target is None or not target.post_quantum:
        offered = sorted(s.name for s in SUITES.values() if s.post_quantum)
        raise InvalidSchedule(f"{change.to_suite!r} is not a post-quantum or hybrid suite; "
                              f"choose one of {offered}")
    if target.signature == suite.signature:
        raise InvalidSchedule(f"the chain's accounts already sign with {suite.signature.name}")
    if change.height <= height:
        raise InvalidSchedule(f"height {change.height} is not after block {height}")
    if change.window < 1:
        raise InvalidSchedule("the overlap window is at least one block")
    if read(SCHEDULE_KEY) is not None:
        raise InvalidSchedule("a migration is scheduled already")
    return MigrationSchedule(suite.name, target.name, change.height, change.window,
                             suite.signature, target.signature)


def enact_schedule(state: Overlay, schedule: MigrationSchedule) -> list[Event]:
    state.set(SCHEDULE_KEY, codec.encode(schedule))
    return [Event("system", "MigrationScheduled", codec.encode(schedule))]


def bind_key(state: Overlay, hash_bytes: Callable[[bytes], bytes], chain_id: str, account: bytes,
             key: PublicKey, proof: Signature, signer: AlgId | None) -> list[Event]:
    """Bind `key` to `account` once `proof` (the key's signature of the binding message)
    verifies; BindingNotCosigned if it does not, InvalidBinding if the binding is not
    allowed. The caller checked the account's own signature: `signer` is the algorithm of
    the key that signed the transaction (None: governance approved a recovery)."""
    schedule = get_schedule(state.get)
    if schedule is None:
        raise InvalidBinding("no migration is scheduled")
    if signer is not None and signer != schedule.old:
        raise InvalidBinding(f"only an account's {schedule.old.name} key binds a new key")
    if key.alg != schedule.new:
        raise InvalidBinding(f"the migration binds {schedule.new.name} keys, not {key.alg.name}")
    try:
        check_public_key(key)
    except CryptoError as exc:
        raise InvalidBinding(f"malformed key: {exc.message}") from exc
    try:
        cosigned = proof.alg == key.alg and verify(
            key, binding_message(chain_id, account, key), proof)
    except CryptoError:
        cosigned = False
    if not cosigned:
        raise BindingNotCosigned("the binding carries no valid signature of the new key")
    if state.get(BOUND_PREFIX + account) is not None:
        raise InvalidBinding("the account has bound a key already")
    own = address_of(key, hash_bytes)
    if state.get(ALIAS_PREFIX + own) is not None or state.get(account_key(own)) is not None:
        raise InvalidBinding("that key is bound already, or its own address holds an account")
    state.set(BOUND_PREFIX + account, codec.encode(key))
    state.set(ALIAS_PREFIX + own, account)
    state.set(BOUND_COUNT_KEY, codec.encode(get_bound_count(state.get) + 1))
    return [Event("system", "KeyBound", codec.encode([account, key]))]
