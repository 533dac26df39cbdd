"""Real loopback transports across a suite migration: validators that registered rotated
node keys reconnect with them at the switch (the pq handshake, its hybrid X25519 + ML-KEM
exchange), keep reaching a validator that still holds only its old key during the window,
and after it refuse that classical key while their own channels keep carrying messages."""

from __future__ import annotations

import asyncio

import pytest

from xinlian.crypto.keys import AlgId
from xinlian.execution.rotation import transport_keys
from xinlian.ledger.genesis import Validator
from xinlian.network.membership import Membership
from xinlian.network.transport import Transport
from xinlian.node.validator import membership_of

from .harness import Inbox, listening_socket
from .test_handshake_migration import IDS, INTL, NEW, OLD, H, Read, W, state

pytestmark = pytest.mark.timeout(60)


def test_validators_switch_their_channels_to_rotated_keys_through_the_window() -> None:
    async def main() -> None:
        socks = [listening_socket() for _ in range(3)]
        validators = [Validator(f"org{i}", OLD[i].public_key, b"", b"", 1,
                                f"127.0.0.1:{s.getsockname()[1]}") for i, s in enumerate(socks)]

        def members(read: Read, height: int, switched: bool) -> Membership:
            sessions, keys = transport_keys(read, INTL, validators, height, switched)
            return membership_of(INTL, validators, sessions, keys)

        inboxes = [Inbox() for _ in range(3)]
        nodes = [Transport(INTL, OLD[i], members(state(scheduled=False), 1, False),
                           inboxes[i], sock=socks[i], seed=i) for i in range(3)]
        try:
            for node in nodes:
                await node.start()
            for i, node in enumerate(nodes):
                await node.wait_connected([x for x in IDS[:3] if x != IDS[i]])
            _, first = nodes[1].auth(IDS[0])
            assert first is not None and first.suite == "intl"

            # validators 0 and 1 registered; the committee switched, inside the window
            window = members(state(registered=(0, 1)), H + 1, True)
            for node in nodes:
                node.set_membership(window)
            for i in (0, 1):
                nodes[i].set_keys((NEW[i], OLD[i]))
            await nodes[1].peer_stats(IDS[0]).reach("connections_in", 2)
            await nodes[0].peer_stats(IDS[1]).reach("connections_in", 2)
            _, inbound = nodes[1].auth(IDS[0])
            assert inbound is not None
            assert (inbound.suite, inbound.peer_key, inbound.own_key) == (
                "pq", AlgId.ML_DSA_65, AlgId.ML_DSA_65)
            # validator 2 holds only its Ed25519 key: 0 reaches it under the pq handshake
            # (its key exchange), 2 reaches 0 with the old pair
            await nodes[2].peer_stats(IDS[0]).reach("connections_in", 2)
            _, from_zero = nodes[2].auth(IDS[0])
            assert from_zero is not None and (from_zero.suite, from_zero.own_key) == (
                "pq", AlgId.ED25519)
            assert nodes[2].send(IDS[0], b"still old") and nodes[0].send(IDS[2], b"to 2")
            await inboxes[0].wait_for(1)
            await inboxes[2].wait_for(1)

            # after the window: only rotated keys under the pq handshake (validator 2,
            # listed here to try, never registered and lags behind on the old view)
            retired = members(state(registered=(0, 1)), H + W, True)
            for i in (0, 1):
                nodes[i].set_membership(retired)
                nodes[i].set_keys((NEW[i],))
            await nodes[0].stats.reach("keys_retired", 2)  # its channels with 2 close
            await nodes[0].stats.reach("classical_identity", 1)  # 2 answers with Ed25519
            assert not nodes[0].connected(IDS[2])
            assert nodes[0].send(IDS[1], b"pq only")
            await inboxes[1].wait_for(1)
            assert inboxes[1].messages[IDS[0]] == [b"pq only"]
            out, inbound = nodes[0].auth(IDS[1])
            assert out is not None and inbound is not None
            assert {out.suite, inbound.suite} == {"pq"}
            assert {out.peer_key, inbound.peer_key} == {AlgId.ML_DSA_65}
        finally:
            for node in nodes:
                await node.close()

    asyncio.run(main())
