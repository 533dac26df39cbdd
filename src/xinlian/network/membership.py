"""Who may connect: the node signing keys of the membership and where each node listens.

A node's id is its address in the membership: the last 20 bytes of the chain hash of its
public key's canonical encoding (xinlian.ledger.account.address_of), so the key a peer
proves in the handshake determines the id that the runtime reports as the sender.

Across a suite migration (execution/rotation.py) a validator keeps that id, derived from
the node key it joined with (`PeerInfo.public_key`), while the keys it may authenticate
with (`PeerInfo.keys`) follow its registration: the old key, the rotated one, or both
during the window. `sessions` are the suites whose handshakes the membership admits (the
chain's, the migration's target, or only the target once the old keys are retired); when
all of them are post-quantum a classical-only key authenticates nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import Suite
from xinlian.ledger.account import address_of
from xinlian.protocol import NodeId


def node_id_of(suite: Suite, public_key: PublicKey) -> NodeId:
    return address_of(public_key, suite.hash_bytes)


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A member node: its id key (the node key it joined with: its id is that key's
    address), the address it accepts connections on, the organisation that owns it (a
    membership certificate must be that organisation's; empty: not checked) and the keys
    it may authenticate with (empty: its id key only)."""

    public_key: PublicKey
    host: str
    port: int
    organisation: str = ""
    keys: tuple[PublicKey, ...] = ()

    @property
    def accepted(self) -> tuple[PublicKey, ...]:
        """The keys the handshake accepts from this member."""
        return self.keys or (self.public_key,)


class Membership:
    """The member keys of one chain, indexed by node id and by encoded key."""

    def __init__(self, suite: Suite, peers: Iterable[PeerInfo],
                 sessions: Sequence[Suite] = ()) -> None:
        self.suite = suite
        self.sessions = tuple(sessions) or (suite,)
        self._by_id: dict[NodeId, PeerInfo] = {}
        self._by_key: dict[bytes, NodeId] = {}
        for peer in peers:
            node_id = node_id_of(suite, peer.public_key)
            self._by_id[node_id] = peer
            for key in peer.accepted:
                self._by_key[codec.encode(key)] = node_id

    @property
    def post_quantum_only(self) -> bool:
        """Every admitted session suite is post-quantum: classical-only keys are refused."""
        return all(s.post_quantum for s in self.sessions)

    def session_suite(self, name: str) -> Suite | None:
        return next((s for s in self.sessions if s.name == name), None)

    def node_id(self, public_key: PublicKey) -> NodeId | None:
        """The id of the member with this key, or None for a key outside the membership."""
        return self._by_key.get(codec.encode(public_key))

    def peer(self, node_id: NodeId) -> PeerInfo | None:
        return self._by_id.get(node_id)

    def ids(self) -> tuple[NodeId, ...]:
        return tuple(self._by_id)
