"""An analytical performance model of this protocol: throughput and latency from first principles.

Inputs: committee size n, transaction size, offered load, batch interval, NIC bandwidth
(each direction), one-way network delay d, the CPU a node has (`cores`: 1 for a machine of
its own, 2/4 for four processes on two cores), and the measured cost of each crypto
operation — plus, for real processes, the cost of handling one message (`msg_us`: event
loop, framing, decoding) and of moving one byte through the channel (`wire_bytes`: AEAD,
copies, the store), which the simulator does not charge.

Throughput is the offered load unless a resource saturates first:
- bandwidth: every node takes in every other node's batches and sends its own to n-1 peers,
  so each NIC carries about (n-1)/n of the whole transaction stream in each direction, plus
  per-batch overhead (acks, availability certificates) and per-block overhead (proposals,
  votes);
- CPU: every node signs an ack per foreign batch (a node holding a batch does not check
  its certificate), the author checks its batch's aggregated acks once, and per block a
  node checks one QC and signs one vote; the leader also aggregates. The node that
  saturates first (its CPU-seconds per second reach `cores`) caps the load.

Latency (submission to commit at a follower), with T the round time:
  batch wait (half the batch interval) + batch broadcast (copies leave the author's NIC in
  committee order and only the first f+1 acks are needed, plus M/D/1 queueing at the
  receiver's NIC; then d) + ack (d) + certificate broadcast (d) + wait for the next proposal
  (T/2) + 2-chain commit (2T) + the proposal that announces it reaching the follower (d);
  T = 2d + the proposal's serialisation at the leader's NIC + the CPU on the critical path
  (verify QC and certificates, sign the vote, aggregate the next QC), stretched by
  1 / (1 - CPU utilisation) for the wait for a busy processor (processor sharing).
With list certificates (`Params.sig_bytes`: one suite signature per signer, as on `sm`, `pq`
and the hybrids) a certificate check is one verification per signer instead of pairings,
every member takes in each batch certificate's f+1 signatures, and per round either the
leader sends a full proposal (the QC's 2f+1 signatures and every batch certificate) n-1
times, or, with compact proposals (consensus/compact.py), each member broadcasts its vote
and the proposal names certificates by digest; the round then also waits for the quorum's
votes to be read in.
Above saturation the latency is unbounded (queues grow) and the model says so (infinity).
It ignores jitter and loss; the benchmarks report its error against the simulator and
against real processes (benchmarks/consensus_model.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ACK_BYTES = 140  # an Ack message with a BLS signature, encoded
CERT_BYTES_BASE = 150  # BatchCert without the bitmap (digest, counts, aggregate)
VOTE_BYTES = 160
BLOCK_BASE_BYTES = 400  # block header, QC, encoding
SIG_OVERHEAD_BYTES = 80  # a vote or ack message besides its signature
REF_BYTES = 110  # a batch certificate in a compact proposal: fields, bitmap, digest


@dataclass(frozen=True)
class Params:
    n: int
    tx_size: int
    offered_tx_per_s: float
    batch_interval_ms: float
    bandwidth_bytes_per_s: float
    one_way_ms: float
    cores: float = 1.0
    sig_bytes: int | None = None  # list certificates of this signature size; None: BLS
    compact: bool = True  # with list certificates: compact proposals, broadcast votes


@dataclass(frozen=True)
class Prediction:
    throughput_tx_per_s: float
    latency_ms: float
    round_ms: float
    bottleneck: str
    cpu_load: float  # CPU-seconds per second at a node, at the predicted throughput (of cores)
    nic_load: float  # fraction of NIC bandwidth used, at the predicted throughput


def _cert_bytes(n: int, sig_bytes: int | None = None) -> int:
    """An availability certificate: one aggregate, or f+1 signatures of `sig_bytes`."""
    if sig_bytes is None:
        return CERT_BYTES_BASE + (n + 7) // 8
    return CERT_BYTES_BASE + (n + 7) // 8 + (n // 3 + 1) * sig_bytes


def _crypto(p: Params, cost_us: Mapping[str, float], quorum: int, validity: int
            ) -> tuple[float, float, float, float]:
    """(sign, check a QC, the leader's work on a quorum of votes, the author's check of its
    batch's acks) in µs, for BLS aggregates or lists of suite signatures."""
    if p.sig_bytes is None:
        pairing, pk_add = cost_us["bls_pairing"], cost_us["bls_pk_add"]
        sig_add = cost_us["bls_sig_add"]
        return (cost_us["bls_sign"], 2 * pairing + quorum * pk_add,
                2 * pairing + quorum * (pk_add + sig_add),
                2 * pairing + validity * (pk_add + cost_us["bls_sig_add"]))
    verify = cost_us["sig_verify"]  # list votes are checked one by one, on arrival
    return cost_us["sig_sign"], quorum * verify, quorum * verify, validity * verify


def predict(p: Params, cost_us: Mapping[str, float]) -> Prediction:
    n, d = p.n, p.one_way_ms
    hash_b = cost_us["hash_bytes"]
    msg, wire = cost_us.get("msg_us", 0.0), cost_us.get("wire_bytes", 0.0)
    batches_per_s = n * 1000.0 / p.batch_interval_ms  # every node seals on its timer
    quorum = n * 2 // 3 + 1
    validity = n // 3 + 1
    sign, check_qc, aggregate_us, check_acks = _crypto(p, cost_us, quorum, validity)
    listed = p.sig_bytes is not None
    broadcast = listed and p.compact  # votes to everyone, proposals by digest
    vote_bytes = VOTE_BYTES if not listed else (p.sig_bytes or 0) + SIG_OVERHEAD_BYTES
    ack_bytes = ACK_BYTES if not listed else vote_bytes
    ref_bytes = REF_BYTES + (n + 7) // 8 if broadcast else _cert_bytes(n, p.sig_bytes)
    qc_bytes = 0 if broadcast or not listed else quorum * (p.sig_bytes or 0)
    votes_in = n - 1 if broadcast else 1  # vote messages a member takes in per round

    # per block at a node: check the QC, sign a vote, proposal in and votes; the leader
    # (1/n of the rounds) also works on the quorum of votes and sends the proposal n-1 times
    block_us = (check_qc + sign + (1 + votes_in) * msg
                + (aggregate_us + (n - 1 + quorum) * msg) / n)
    critical_us = check_qc + sign + aggregate_us + (quorum + 2) * msg

    def load(tx_per_s: float, round_ms: float) -> tuple[float, float]:
        """(CPU s/s of `cores`, NIC fraction) at a node when the whole system orders
        `tx_per_s` with rounds of `round_ms`."""
        stream = tx_per_s * p.tx_size
        per_batch = ack_bytes + _cert_bytes(n, p.sig_bytes)
        per_round = 0.0  # (BLS: small enough that the model leaves it out)
        if listed:  # the proposal's reference to each batch, and each round's votes and QC
            per_batch += ref_bytes
            per_round = votes_in * vote_bytes + qc_bytes + BLOCK_BASE_BYTES
        nic = (stream * (n - 1) / n + batches_per_s * per_batch
               + 1000.0 / round_ms * per_round) / p.bandwidth_bytes_per_s
        batch = stream / max(batches_per_s, 1e-9)
        # a foreign batch: receive it, hash it, sign and send the ack, take the announcement
        foreign = sign + (hash_b + wire) * batch + 3 * msg
        # an own batch: hash it, send n-1 copies, take n-1 acks, check them once, announce
        own = hash_b * batch + (n - 1) * (wire * batch + 3 * msg) + check_acks
        cpu_us = batches_per_s * ((n - 1) / n * foreign + own / n)
        cpu_us += 1000.0 / round_ms * block_us
        return cpu_us / 1e6 / p.cores, nic

    def settle(tx_per_s: float) -> tuple[float, float, float]:
        """(CPU, NIC, round ms) at a fixed point: the per-block CPU depends on the round time
        and the round time on the CPU load (damped, as the two pull in opposite ways)."""
        round_ms = 2 * d + critical_us / 1000
        cpu, nic = load(tx_per_s, round_ms)
        for _ in range(40):
            cpu, nic = load(tx_per_s, round_ms)
            batches_per_block = batches_per_s * round_ms / 1000
            proposal = BLOCK_BASE_BYTES + qc_bytes + batches_per_block * ref_bytes
            proposal_tx_ms = proposal * (n - 1) / p.bandwidth_bytes_per_s * 1000
            critical_ms = critical_us / 1000 / max(1 - cpu, 0.05)  # waiting for a processor
            # the leader reads in a quorum of votes (each voter also sends n-1 copies)
            votes_ms = (quorum if listed else 1) * vote_bytes / p.bandwidth_bytes_per_s * 1000
            target = 2 * d + proposal_tx_ms + critical_ms + votes_ms
            round_ms = (round_ms + target) / 2
        return cpu, nic, round_ms

    cpu_at_offered, nic_at_offered, round_at_offered = settle(p.offered_tx_per_s)
    throughput, bottleneck = p.offered_tx_per_s, "offered load"
    if nic_at_offered > 1 or cpu_at_offered > 0.999:
        base_cpu, base_nic = load(0.0, round_at_offered)
        unit_cpu = (cpu_at_offered - base_cpu) / p.offered_tx_per_s
        unit_nic = (nic_at_offered - base_nic) / p.offered_tx_per_s
        nic_cap = (1 - base_nic) / unit_nic if unit_nic > 0 else float("inf")
        cpu_cap = (1 - base_cpu) / unit_cpu if unit_cpu > 0 else float("inf")
        throughput = max(0.0, min(nic_cap, cpu_cap))  # 0: the fixed per-batch work alone
        # (acks, certificate checks at this batch rate) already exceeds the resource
        bottleneck = "bandwidth" if nic_cap <= cpu_cap else "cpu"
    # the leader sends each batch's reference n-1 times: when that alone exceeds its NIC
    # (full proposals with list certificates), proposals grow with the round they lengthen
    # and the round time has no fixed point; a block then orders the batches its proposal
    # could carry in the time it took to send it
    refs = batches_per_s * ref_bytes * (n - 1) / p.bandwidth_bytes_per_s
    if refs >= 1:
        throughput = min(throughput, p.offered_tx_per_s / refs)
        return Prediction(throughput, float("inf"), float("inf"), "leader bandwidth (proposals)",
                          cpu_at_offered, nic_at_offered)
    cpu, nic, round_ms = settle(throughput)
    batch_bytes = throughput * p.tx_size / max(batches_per_s, 1e-9)
    service_ms = batch_bytes / p.bandwidth_bytes_per_s * 1000
    # copies leave in committee order; the certificate needs only the first f+1 acks
    broadcast_ms = service_ms * (validity - 1) + service_ms * nic / (2 * max(1 - nic, 0.05))
    latency = (p.batch_interval_ms / 2 + broadcast_ms + d + d + d + round_ms / 2
               + 2 * round_ms + d)
    if bottleneck != "offered load":
        latency = float("inf")  # queues grow without bound
    return Prediction(throughput, latency, round_ms, bottleneck, cpu, nic)
