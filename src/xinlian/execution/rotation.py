"""Validators' move to a migration's target suite: their registered keys and the switch rule.

State it keeps (world-state keys, proven like any account):
  sys/pq/rotation/<node id>  the validator's registered keys of the target suite (RotatedKeys)

An admin of a validator's organisation proposes `RotateValidatorKeys` (approved like every
system change); each new key signs `rotation_message` (chain id, the validator's id, its
current node and vote keys, both new keys), so a rotation is proven by both new keys and
neither can be replayed for another validator, chain or earlier key. A validator keeps its
id (the address of the node key it joined with), as an account keeps its address.

The switch rule (`next_committee_members`), evaluated for the committee of the epoch that
starts after a ledger block: the committee votes with the target suite, its members with
their registered vote keys,
- from block H on, once every validator has registered; or
- from block H+W on, without the validators that never registered (they leave the
  committee but stay validators: registering later brings them back), when those that did
  hold more than 2/3 of the validators' voting power; below that, the switch waits.
Once a committee has switched, later ones stay on the target suite (a validator added
afterwards joins once it registers). Certificates of earlier epochs keep their committees'
suites, so they verify as they did.

The transport and the headers follow the committee (`transport_keys`, `node_key_in`): a
validator that registered authenticates with its rotated node key, and signs the ledger
headers it stores with it, from the first epoch whose committee has switched. Peers accept
its rotated key from its registration on and its old key until the committee has switched
and block H+W is reached (the window: both sides of the switch reach each other), then
only the rotated one, under the target suite's handshake alone. Its node id stays the
address of the node key it joined with.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import check_public_key, verify
from xinlian.crypto.suites import SUITES, Suite
from xinlian.execution.errors import BindingNotCosigned, InvalidBinding
from xinlian.execution.migration import get_schedule
from xinlian.execution.payloads import RotateValidatorKeys
from xinlian.execution.state import Overlay, Reader
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Event
from xinlian.ledger.genesis import Validator

ROTATION_PREFIX = b"sys/pq/rotation/"
ROTATION_DOMAIN = b"xinlian/pq-rotate/v1\x00"


class RotatedKeys(Struct):
    """A validator's registered keys of the target suite."""

    consensus_key: PublicKey
    node_key: PublicKey


def rotation_message(chain_id: str, node: bytes, old: Validator, consensus_key: PublicKey,
                     node_key: PublicKey) -> bytes:
    """What each new key signs to register both for validator `node` on chain `chain_id`."""
    return ROTATION_DOMAIN + codec.encode([chain_id, node, old.node_key, old.consensus_key,
                                           consensus_key, node_key])


def get_rotated(read: Reader, node: bytes) -> RotatedKeys | None:
    raw = read(ROTATION_PREFIX + node)
    return None if raw is None else codec.decode(raw, RotatedKeys)


def check_rotation(read: Reader, hash_bytes: Callable[[bytes], bytes], chain_id: str,
                   current: list[Validator], change: RotateValidatorKeys) -> Validator:
    """The validator `change` rotates; InvalidBinding if the rotation is not allowed,
    BindingNotCosigned unless both new keys signed it."""
    schedule = get_schedule(read)
    if schedule is None:
        raise InvalidBinding("no migration is scheduled")
    target = SUITES[schedule.to_suite]
    node = bytes(change.node)
    old = next((v for v in current if address_of(v.node_key, hash_bytes) == node), None)
    if old is None:
        raise InvalidBinding(f"{node.hex()} is not a validator")
    for key, alg, role in ((change.consensus_key, target.vote, "vote"),
                           (change.node_key, target.signature, "node")):
        if key.alg != alg:
            raise InvalidBinding(f"a {target.name} {role} key is {alg.name}, not {key.alg.name}")
        try:
            check_public_key(key)
        except CryptoError as exc:
            raise InvalidBinding(f"malformed {role} key: {exc.message}") from exc
    message = rotation_message(chain_id, node, old, change.consensus_key, change.node_key)
    for key, proof, role in ((change.consensus_key, change.consensus_proof, "vote"),
                             (change.node_key, change.node_proof, "node")):
        if not _signed(key, message, proof):
            raise BindingNotCosigned(f"the rotation carries no valid signature of the new "
                                     f"{role} key")
    if read(ROTATION_PREFIX + node) is not None:
        raise InvalidBinding("the validator has registered its keys already")
    return old


def _signed(key: PublicKey, message: bytes, proof: Signature) -> bool:
    try:
        return proof.alg == key.alg and verify(key, message, proof)
    except CryptoError:
        return False


def enact_rotation(state: Overlay, change: RotateValidatorKeys) -> list[Event]:
    keys = RotatedKeys(change.consensus_key, change.node_key)
    state.set(ROTATION_PREFIX + bytes(change.node), codec.encode(keys))
    return [Event("system", "ValidatorKeysRotated", codec.encode([bytes(change.node), keys]))]


def next_committee_members(read: Reader, chain_suite: Suite, current: list[Validator],
                           height: int, switched: bool) -> tuple[Suite, list[Validator]]:
    """The suite and members of a committee whose epoch starts at block `height` (the rule
    in the module docstring); `switched`: the committee before it votes with the target
    suite already. Members keep their node keys (their ids); a rotated member's vote key
    is its registered one."""
    schedule = get_schedule(read)
    if schedule is None or not (switched or height >= schedule.height):
        return chain_suite, current
    rotated = {i: keys for i, v in enumerate(current)
               if (keys := get_rotated(read, address_of(v.node_key, chain_suite.hash_bytes)))}
    if not switched and len(rotated) < len(current):
        power = sum(current[i].power for i in rotated)
        if (height < schedule.height + schedule.window
                or 3 * power <= 2 * sum(v.power for v in current)):
            return chain_suite, current
    members = [Validator(v.organisation, v.node_key, rotated[i].consensus_key.data, b"",
                         v.power, v.endpoint) for i, v in enumerate(current) if i in rotated]
    return SUITES[schedule.to_suite], members


def is_retired(read: Reader, height: int, switched: bool) -> bool:
    """Old node keys are refused: the committee has switched and the window has passed."""
    schedule = get_schedule(read)
    return (schedule is not None and switched
            and height >= schedule.height + schedule.window)


def transport_keys(read: Reader, chain_suite: Suite, current: list[Validator], height: int,
                   switched: bool) -> tuple[tuple[Suite, ...], list[tuple[PublicKey, ...]]]:
    """The handshake suites peers admit at block `height`, and for each of `current` the
    node keys it may authenticate with, the one it uses first (the rule in the module
    docstring; `switched`: the current committee votes with the target suite)."""
    schedule = get_schedule(read)
    if schedule is None:
        return (chain_suite,), [(v.node_key,) for v in current]
    target = SUITES[schedule.to_suite]
    retired = is_retired(read, height, switched)
    keys: list[tuple[PublicKey, ...]] = []
    for v in current:
        rotated = get_rotated(read, address_of(v.node_key, chain_suite.hash_bytes))
        if rotated is None:
            keys.append((v.node_key,))
        elif retired:
            keys.append((rotated.node_key,))
        else:
            pair = (v.node_key, rotated.node_key)
            keys.append(pair[::-1] if switched else pair)
    return ((target,) if retired else (chain_suite, target)), keys


def node_key_in(read: Reader, chain_suite: Suite, validator: Validator,
                switched: bool) -> PublicKey:
    """The node key `validator` signs ledger headers with in an epoch whose committee has
    (`switched`) or has not switched: its registered one after the switch."""
    rotated = get_rotated(read, address_of(validator.node_key, chain_suite.hash_bytes))
    return rotated.node_key if switched and rotated is not None else validator.node_key
