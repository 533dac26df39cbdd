"""Encrypted aggregates on SM2 (issue 18, items 4 and 6): a contribution's encrypt + prove,
verify alone and in a batch, bytes; the homomorphic sum per ciphertext; a member's
decryption share, checking and combining t of them; the comparison of an aggregate with a
threshold (the whole protocol, the proof's check and bytes); a DATA_WRITE of 32 encrypted
values through the executor; the bounded discrete log with
its table's build time and memory; the light-terminal prover on one core under an address-space
cap (benchmarks/light_prover.py, in a subprocess per cap).

    python -m benchmarks.privacy_aggregates [--quick]

Times are process CPU time (time.process_time), the best of the repeats: the machine is
shared, so wall time would measure the others' load; every line carries the 1-minute load
average. The Bulletproofs generators are derived before timing (the prover's setup line
measures them). The key is a real DKG key (5 members, threshold 3, keygen in process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks.report import best_of, emit
from xinlian.crypto.primitives.groups import SM2, Element
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.homomorphic import (
    comparison,
    contribution,
    dlog,
    elgamal,
    threshold,
)
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.threshold.dkg import KeyShare

QUICK = "--quick" in sys.argv
REPEATS = 2 if QUICK else 5
BATCH = 8 if QUICK else 64
BENCH = "privacy_aggregates"
ROOT = Path(__file__).resolve().parent.parent


def load() -> float:
    return round(os.getloadavg()[0], 2)


def cpu(fn: Callable[[], object]) -> float:
    return best_of(REPEATS, fn, time.process_time)


def bench_bits(key: Element, bits: int) -> None:
    common = {"bits": bits, "group": "sm2", "clock": "process_time", "load_1min": load()}
    prove = cpu(partial(contribution.contribute, key, 1, bits, b"b"))
    items = [(contribution.contribute(key, 1, bits, b"m%d" % i), b"m%d" % i)
             for i in range(BATCH)]
    one = cpu(partial(contribution.verify, key, items[0][0], items[0][1]))
    batch = cpu(partial(contribution.verify_batch, key, items))
    emit(BENCH, "encrypt_prove_ms", prove * 1e3, "ms", **common)
    emit(BENCH, "verify_ms", one * 1e3, "ms", **common)
    emit(BENCH, "batch_verify_ms_per_contribution", batch / BATCH * 1e3, "ms",
         batch=BATCH, **common)
    emit(BENCH, "contribution_bytes", len(items[0][0].encode()), "bytes", **common)


def bench_contributions() -> None:
    shares = local_keygen(SM2, 5, 3, b"bench-aggregates")
    key = shares[0].public.group_public_key
    generators(SM2)
    for bits in contribution.BIT_SIZES:
        bench_bits(key, bits)

    cts = [elgamal.encrypt(key, 1)[0] for _ in range(1000)]
    add = cpu(partial(elgamal.total, cts, SM2))
    emit(BENCH, "aggregate_us_per_ciphertext", add / len(cts) * 1e6, "us",
         ciphertexts=len(cts), clock="process_time", load_1min=load())

    public = shares[0].public
    total = elgamal.total(cts, SM2)
    made = [threshold.make_share(s, total) for s in shares[:3]]
    common = {"threshold": 3, "members": 5, "clock": "process_time", "load_1min": load()}
    emit(BENCH, "decryption_share_ms", cpu(partial(threshold.make_share, shares[0], total))
         * 1e3, "ms", **common)
    emit(BENCH, "share_verify_ms",
         cpu(partial(threshold.verify_share, public, total, made[0])) * 1e3, "ms", **common)
    emit(BENCH, "combine_t_shares_ms", cpu(partial(threshold.combine, public, total, made))
         * 1e3, "ms", note="checks the 3 shares' proofs, then interpolates", **common)
    assert threshold.decrypt(public, total, made, len(cts)) == len(cts)


def bench_dlog() -> None:
    for log_bound in (16, 24, 32) if QUICK else (16, 24, 32, 36, 40):
        bound = (1 << log_bound) - 1
        size = dlog.table_for(bound)
        dlog.baby_steps.cache_clear()
        tracemalloc.start()
        dlog.baby_steps(SM2, size)
        memory = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        dlog.baby_steps.cache_clear()
        build = time.process_time()
        dlog.baby_steps(SM2, size)
        build = time.process_time() - build
        point = elgamal.base(SM2) * SM2.scalar(bound)  # the worst case: the last giant step
        start = time.process_time()
        assert dlog.solve(point, bound) == bound
        search = time.process_time() - start
        common = {"bound": f"2^{log_bound}", "table": size, "group": "sm2",
                  "clock": "process_time", "load_1min": load()}
        emit(BENCH, "dlog_table_build_s", build, "s", **common)
        emit(BENCH, "dlog_table_mib", memory / 2**20, "MiB", note="tracemalloc", **common)
        emit(BENCH, "dlog_worst_search_s", search, "s", note="table built", **common)


def compare_once(shares: list[KeyShare], question: comparison.Question
                 ) -> comparison.ComparisonProof:
    """The whole comparison protocol, every party in this process."""
    public = shares[0].public
    made = [comparison.member_commit(s, question) for s in shares]
    challenge, state = comparison.prover_challenge(public, question, [m for m, _ in made])
    responses = {s.identifier: comparison.member_respond(s, secret, question, challenge)
                 for s, (_, secret) in zip(shares, made, strict=True)}
    return comparison.prover_finish(public, state, responses)


def bench_comparison() -> None:
    shares = local_keygen(SM2, 5, 3, b"bench-compare")
    public = shares[0].public
    cts = [elgamal.encrypt(public.group_public_key, 60_000)[0] for _ in range(100)]
    question = comparison.Question(elgamal.total(cts, SM2), 100 * 65_535, 5_000_000, b"bench")
    proofs: list[comparison.ComparisonProof] = []
    made = cpu(lambda: proofs.append(compare_once(shares[:3], question)))
    proof = proofs[-1]
    assert comparison.verify(public, question, proof) and proof.claim
    size = 4 * SM2.element_size + 3 * SM2.scalar_size + len(proof.range.encode())
    common = {"threshold": 3, "bits": question.bits, "bound": question.bound,
              "clock": "process_time", "load_1min": load()}
    emit(BENCH, "compare_protocol_ms", made * 1e3, "ms",
         note="3 members' commits and responses, the prover's opening and proof", **common)
    emit(BENCH, "compare_verify_ms",
         cpu(partial(comparison.verify, public, question, proof)) * 1e3, "ms", **common)
    emit(BENCH, "compare_proof_bytes", size, "bytes", **common)


def bench_chain() -> None:
    """A DATA_WRITE of MAX_ENCRYPTED 16-bit values through the executor (signature, the
    values' batch check, the records' writes), beside one of as many plain numbers."""
    from xinlian.execution.data.model import (
        MAX_ENCRYPTED,
        AggregateKey,
        AttributeDecl,
        DataWrite,
        DeclareCollection,
        Field,
        Put,
        contribution_context,
    )
    from xinlian.execution.data.values import encode
    from xinlian.ledger.transaction import TxKind
    from xinlian.testing.contracts import ContractChain

    key = local_keygen(SM2, 4, 3, b"bench-chain")[0].public.group_public_key
    chain = ContractChain()
    chain.one(0, TxKind.DATA_COLLECTION, DeclareCollection("loans", [
        AttributeDecl("amount", "encrypted"), AttributeDecl("plain", "number", "none")]))
    chain.one(0, TxKind.DATA_WRITE, DataWrite("loans", [AggregateKey("amount", key.encode(),
                                                                     16)]))
    for attribute in ("amount", "plain"):
        seconds = []
        for round_ in range(REPEATS):
            puts = []
            for i in range(MAX_ENCRYPTED):
                rid = b"r%d-%d" % (round_, i)
                value = (contribution.contribute(key, 1000 + i, 16, contribution_context(
                    "loans", "amount", rid)).encode() if attribute == "amount"
                    else encode("number", 1000 + i))
                puts.append(Put(rid, [Field(attribute, value)]))
            raw = chain.raw(0, TxKind.DATA_WRITE, DataWrite("loans", list(puts)))
            start = time.process_time()
            [receipt] = chain.block([raw]).receipts
            seconds.append(time.process_time() - start)
            assert receipt.status == 0, receipt
        emit(BENCH, "data_write_block_ms", min(seconds) * 1e3, "ms", values=MAX_ENCRYPTED,
             attribute="encrypted 16-bit" if attribute == "amount" else "number",
             note="one DATA_WRITE executed and committed as a block (ContractChain)",
             clock="process_time", load_1min=load())


def bench_light() -> None:
    caps = (128, 64) if QUICK else (128, 96, 64, 48)
    for bits in (contribution.COUNT, 16, 32):
        for cap in caps:
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.light_prover", "--bits", str(bits),
                 "--mem-mib", str(cap), "--repeats", str(REPEATS)],
                cwd=ROOT, capture_output=True, text=True, check=False)
            if child.returncode == 0:
                sys.stdout.write(child.stdout)
                sys.stdout.flush()
            else:
                emit(BENCH, "light_prover_fits", 0, "bool", bits=bits, mem_cap_mib=cap,
                     error=child.stderr.strip().splitlines()[-1][:200])


def main() -> None:
    bench_contributions()
    bench_comparison()
    bench_chain()
    bench_dlog()
    bench_light()


if __name__ == "__main__":
    main()
