"""The envelope boundary: garbage, replays, other sessions, other protocols and forged
sender indices are dropped and counted, never raised, and the run still completes."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.threshold.envelope import Envelope, MpcCore
from xinlian.protocol import Action, Broadcast, NodeId, Receive
from xinlian.sim import adversary
from xinlian.sim.runtime import Simulation
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import Params
from xinlian.testing.mpc.simrun import run_sim

pytestmark = pytest.mark.timeout(120)


def _envelope(protocol: str, session: bytes, sender: int, seq: int) -> bytes:
    return codec.encode(Envelope(protocol, session, sender, seq, b"\x91\x01"))


def test_each_kind_of_bad_envelope_is_dropped_and_counted() -> None:
    setup = build(Params("dkg", parties=4, seed=5))
    session = b"dkg/5/keygen"

    def prepare(sim: Simulation, roster: Mapping[int, NodeId]) -> None:
        a, b = roster[1], roster[2]
        sim.inject(a, b, b"\xc1 not msgpack", 0)  # malformed
        sim.inject(a, b, _envelope("frost", session, 1, 900), 0)  # wrong protocol
        sim.inject(a, b, _envelope("dkg", b"dkg/4/keygen", 1, 901), 0)  # wrong session
        sim.inject(a, b, _envelope("dkg", session, 3, 902), 0)  # speaks for party 3

        def twice(s: Simulation, node: NodeId, action: Action) -> list[Action]:
            # The same envelope (same seq) sent twice: every copy after the first is a replay.
            return [action, action] if isinstance(action, Broadcast) else [action]
        sim.intercept(roster[1], twice)

    r = run_sim(setup, prepare=prepare).report()
    assert r["finished"] and r["ok"]
    dropped = r["dropped"]
    assert dropped["malformed"] == 1 and dropped["wrong_protocol"] == 1
    assert dropped["wrong_session"] == 1 and dropped["wrong_sender"] == 1
    assert dropped["replayed"] >= 3  # party 1's deal, at each peer


@pytest.mark.parametrize("protocol", ["dkg", "frost", "roast", "tbls"])
def test_runs_survive_garbage_and_replaying_senders(protocol: str) -> None:
    """Bit-flipped copies can be well-formed different messages. The coordinated protocols
    only lose that sender's own contribution; in the DKG a flipped broadcast no longer
    carries its sender's signature, so it is dropped and the echo round fetches the signed
    copy from a member that got one."""
    setup = build(Params(protocol, parties=5, seed=11))

    def prepare(sim: Simulation, roster: Mapping[int, NodeId]) -> None:
        for i in (1, 2):
            sim.intercept(roster[i], adversary.chain(adversary.garbage(0.5),
                                                     adversary.replay(0.5)))
            for k in range(5):
                sim.inject(roster[i], roster[3], sim.rng.randbytes(40 + k), k)

    r = run_sim(setup, prepare=prepare).report()
    assert r["finished"] and r["ok"]
    assert sum(r["dropped"].values()) > 0


class _Echo(MpcCore):
    protocol = "echo"

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        self.fault(-1)  # reached only by a well-formed, fresh envelope
        return []


def test_an_envelope_with_invalid_utf8_in_its_protocol_name_is_malformed() -> None:
    core = _Echo(0, {0: b"a", 1: b"b"}, [b"s"])
    good = codec.encode(Envelope("echo", b"s", 1, 1, b""))
    bad = good.replace(b"echo", b"e\xc3(o")  # same length, not UTF-8
    assert core.handle(Receive(0, b"b", bad)) == ()
    assert core.dropped["malformed"] == 1 and not core.faults


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_out_of_a_core(data: bytes) -> None:
    core = _Echo(0, {0: b"a", 1: b"b"}, [b"s"])
    assert core.handle(Receive(0, b"b", data)) == ()
    assert sum(core.dropped.values()) == 1 and not core.faults


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=8), st.binary(max_size=8), st.integers(-3, 3), st.integers(0, 5))
def test_only_the_own_run_and_the_true_sender_get_through(protocol: str, session: bytes,
                                                           sender: int, seq: int) -> None:
    core = _Echo(0, {0: b"a", 1: b"b"}, [b"s"])
    data = codec.encode(Envelope(protocol, session, sender, seq, b""))
    core.handle(Receive(0, b"b", data))
    accepted = (protocol, session, sender) == ("echo", b"s", 1)
    assert bool(core.faults) == accepted
    core.handle(Receive(0, b"b", data))  # the same envelope again
    assert core.faults[-1] <= 1
