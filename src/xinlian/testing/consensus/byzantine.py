"""Consensus-aware Byzantine behaviours, as interceptors for `Simulation.intercept`.

They know the message formats, so they can lie in ways that pass decoding: an equivocating
leader sends two different valid blocks for one round to two halves of the committee; a
forking leader justifies a fork from an old QC with a forged TC; a forger corrupts its vote
and timeout signatures; a withholder drops its votes; another signs votes for the right
block at the wrong height; colluding members certify a batch of their own making among
themselves (`forged_batch`) and lead with it (`propose_also`). Protocol-
agnostic attacks (garbage, replay, silence) are in `xinlian.sim.adversary`. A leader's
rewritten block goes out as a full `Proposal`, which every member accepts, also where
honest leaders send compact ones (consensus/compact.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from xinlian import codec
from xinlian.consensus.certificates import Cert, Meter, VoteKey, combine
from xinlian.consensus.committee import Committee, bitmap
from xinlian.consensus.compact import certificates
from xinlian.consensus.messages import (
    QC,
    TC,
    Available,
    Batch,
    BatchCert,
    BatchMsg,
    Block,
    CompactProposal,
    Proposal,
    Timeout,
    Vote,
    ack_message,
    decode_message,
    kind,
    vote_message,
)
from xinlian.protocol import Action, Broadcast, NodeId, Send
from xinlian.sim import adversary
from xinlian.sim.runtime import Interceptor, Simulation


def proposed(sim: Simulation, node: NodeId, action: Action) -> Block | None:
    """The block a leader's broadcast proposes (a compact one rebuilt from the certificates
    the leader keeps to serve), or None for any other action."""
    if not isinstance(action, Broadcast):
        return None
    k = kind(action.message)
    if k == "proposal":
        return decode_message(action.message).block  # type: ignore[union-attr]
    if k != "compact_proposal":
        return None
    compact = decode_message(action.message)
    assert isinstance(compact, CompactProposal)
    served = sim.core(node).served  # type: ignore[union-attr]
    full = [served.get(bytes(d)) for d in compact.certs]
    block = compact.block
    assert all(c is not None for c in full) and len(full) == len(certificates(block))
    justify = msgspec.structs.replace(block.justify, cert=full[0])
    payload = [msgspec.structs.replace(c, cert=cert)
               for c, cert in zip(block.payload, full[1:], strict=True)]
    return msgspec.structs.replace(block, justify=justify, payload=payload)


def equivocate() -> Interceptor:
    """As leader, send half the recipients the real block and the other half a twin that
    differs (its payload emptied, or a batch dropped), so both are well-formed."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        block = proposed(sim, node, action)
        if block is None:
            return (action,)
        assert isinstance(action, Broadcast)
        twin = msgspec.structs.replace(block, payload=block.payload[1:])
        if twin == block:  # no payload to drop: change the reconfiguration field instead
            return (action,)
        other = codec.encode(Proposal(twin))
        half = len(action.to) // 2
        return (Broadcast(action.to[:half], action.message), Broadcast(action.to[half:], other))
    return hook


def fork_with_forged_tc() -> Interceptor:
    """As leader, propose instead a block that forks from the oldest QC this node has
    proposed on, "justified" by a TC with forged signatures claiming nobody had a newer QC.
    Honest members must check the TC and drop the block; if they voted, the fork would
    certify and eventually commit over blocks already committed."""
    oldest: list[QC] = []

    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        block = proposed(sim, node, action)
        if block is None:
            return (action,)
        assert isinstance(action, Broadcast)
        if block.justify.round >= 1 and not oldest:
            oldest.append(block.justify)
        if not oldest or oldest[0].epoch != block.epoch or oldest[0].round + 1 >= block.round:
            return (action,)
        old = oldest[0]
        n = len(block.justify.cert.signers) * 8
        forged = TC(block.epoch, block.round - 1, [0] * 3,
                    Cert(bitmap(range(3), n), [bytes([0xA0]) + bytes(95)]))
        fork = Block(block.epoch, block.round, old.height + 1, old.block_id, block.author,
                     old, forged, [], None)
        return (Broadcast(action.to, codec.encode(Proposal(fork))),)
    return hook


def forge_signatures() -> Interceptor:
    """Corrupt every vote and timeout signature this node sends (flip one bit)."""
    def corrupt(sig: bytes) -> bytes:
        return bytes([sig[0] ^ 1]) + sig[1:] if sig else b"\x00"

    def rewrite(message: bytes) -> bytes:
        k = kind(message)
        if k == "vote":
            v = decode_message(message)
            assert isinstance(v, Vote)
            return codec.encode(Vote(v.epoch, v.round, v.height, v.block_id,
                                     corrupt(bytes(v.signature))))
        if k == "timeout":
            t = decode_message(message)
            assert isinstance(t, Timeout)
            return codec.encode(Timeout(t.epoch, t.round, t.high_qc, t.last_tc,
                                        corrupt(bytes(t.signature))))
        return message

    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        if isinstance(action, Send):
            return (Send(action.to, rewrite(action.message)),)
        if isinstance(action, Broadcast):
            return (Broadcast(action.to, rewrite(action.message)),)
        return (action,)
    return hook


def vote_other_height() -> Interceptor:
    """Sign and send votes that name the right block but another height (a validly signed
    statement that must not be mixed into the tally of honest votes)."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        if not isinstance(action, Send | Broadcast) or kind(action.message) != "vote":
            return (action,)
        v = decode_message(action.message)
        assert isinstance(v, Vote)
        core = sim.core(node)
        message = vote_message(v.epoch, v.round, v.height + 7, bytes(v.block_id))
        signature = core.key.sign(core.committee, message, core.meter)  # type: ignore[union-attr]
        other = codec.encode(Vote(v.epoch, v.round, v.height + 7, v.block_id, signature))
        if isinstance(action, Send):
            return (Send(action.to, other),)
        return (Broadcast(action.to, other),)
    return hook


def withhold_votes() -> Interceptor:
    """Never send a vote or a timeout (a member that silently refuses to take part)."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        if isinstance(action, Send | Broadcast) and kind(action.message) in ("vote", "timeout"):
            return ()
        return (action,)
    return hook


BEHAVIOURS = ("equivocate", "fork", "forge", "withhold", "height", "garbage", "replay",
              "silent")


def behaviour(name: str) -> Interceptor:
    """The interceptor of one of `BEHAVIOURS`, by the name the seed campaigns use."""
    return {
        "equivocate": equivocate,
        "fork": fork_with_forged_tc,
        "forge": forge_signatures,
        "withhold": withhold_votes,
        "height": vote_other_height,
        "garbage": lambda: adversary.garbage(0.3),
        "replay": lambda: adversary.replay(0.3),
        "silent": adversary.silent,
    }[name]()


def forged_batch(sim: Simulation, committee: Committee, faulty: dict[int, VoteKey],
                 payload: bytes, at_ms: int) -> BatchCert:
    """The faulty members (index -> vote key) make a batch of `payload` authored by the
    first of them, ack it among themselves and certify it with their own signatures alone
    (short of a validity quorum when they are at most f); at `at_ms` its author sends
    the batch and the certificate to every other member. Returns the certificate."""
    author = min(faulty)
    message = codec.encode(BatchMsg(Batch(committee.epoch, author, 2**40, 1, payload)))
    digest = committee.hash(message)
    ack = ack_message(committee.epoch, digest)
    cert = combine(committee, [(i, key.sign(committee, ack, Meter()))
                               for i, key in sorted(faulty.items())], Meter())
    forged = BatchCert(committee.epoch, digest, author, 1, cert)
    sender = committee.nodes[author]
    for node in committee.nodes:
        if committee.index(node) not in faulty:
            sim.inject(sender, node, message, at_ms)
            sim.inject(sender, node, codec.encode(Available(forged)), at_ms + 1)
    return forged


def propose_also(cert: BatchCert) -> Interceptor:
    """As leader, add `cert` to every proposal's payload."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        block = proposed(sim, node, action)
        if block is None:
            return (action,)
        assert isinstance(action, Broadcast)
        if cert in block.payload:
            return (action,)
        twin = msgspec.structs.replace(block, payload=[*block.payload, cert])
        return (Broadcast(action.to, codec.encode(Proposal(twin))),)
    return hook
