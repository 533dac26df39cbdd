"""Who may connect: the node signing keys of the membership and where each node listens.

A node's id is its address in the membership: the last 20 bytes of the chain hash of its
public key's canonical encoding (xinlian.ledger.account.address_of), so the key a peer
proves in the handshake determines the id that the runtime reports as the sender.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """A member node: its signing key, the address it accepts connections on and the
    organisation that owns it (a membership certificate must be that organisation's; empty:
    not checked)."""

    public_key: PublicKey
    host: str
    port: int
    organisation: str = ""


class Membership:
    """The member keys of one chain, indexed by node id and by encoded key."""

    def __init__(self, suite: Suite, peers: Iterable[PeerInfo]) -> None:
        self.suite = suite
        self._by_id: dict[NodeId, PeerInfo] = {}
        self._by_key: dict[bytes, NodeId] = {}
        for peer in peers:
            node_id = node_id_of(suite, peer.public_key)
            self._by_id[node_id] = peer
            self._by_key[codec.encode(peer.public_key)] = node_id

    def node_id(self, public_key: PublicKey) -> NodeId | None:
        """The id of the member with this key, or None for a key outside the membership."""
        return self._by_key.get(codec.encode(public_key))

    def peer(self, node_id: NodeId) -> PeerInfo | None:
        return self._by_id.get(node_id)

    def ids(self) -> tuple[NodeId, ...]:
        return tuple(self._by_id)
