"""The analytical model: saturation, bottleneck naming and how latency scales."""

from __future__ import annotations

from xinlian.testing.consensus.model import Params, predict

COSTS = {"bls_sign": 365.0, "bls_pairing": 577.0, "bls_pk_add": 1.1, "bls_sig_add": 86.0,
         "hash_bytes": 0.00055}
MBIT_100 = 100e6 / 8


def test_below_capacity_the_offered_load_is_ordered() -> None:
    p = predict(Params(4, 200, 20_000, 20, MBIT_100, 25), COSTS)
    assert p.throughput_tx_per_s == 20_000 and p.bottleneck == "offered load"
    assert 0 < p.nic_load < 1 and 0 < p.cpu_load < 1
    # a round is two one-way delays plus serialisation and crypto on the critical path
    assert 50 < p.round_ms < 60


def test_an_overloaded_nic_caps_throughput_near_bandwidth_over_transaction_size() -> None:
    p = predict(Params(16, 200, 200_000, 80, MBIT_100, 25), COSTS)
    assert p.bottleneck == "bandwidth"
    cap = MBIT_100 / (200 * 15 / 16)
    assert 0.9 * cap < p.throughput_tx_per_s < cap
    assert p.latency_ms == float("inf")


def test_slow_crypto_makes_the_cpu_the_bottleneck() -> None:
    slow = dict(COSTS, hash_bytes=0.1)  # 10 MB/s hashing: every node hashes every batch
    p = predict(Params(16, 200, 50_000, 80, 100 * MBIT_100, 25), slow)
    assert p.bottleneck == "cpu" and 10_000 < p.throughput_tx_per_s < 50_000
    overloaded = predict(Params(16, 200, 50_000, 80, 100 * MBIT_100, 25),
                         dict(COSTS, bls_pairing=50_000.0))
    assert overloaded.throughput_tx_per_s == 0  # certificate checks alone exceed the CPU


def test_latency_and_round_time_grow_with_the_committee() -> None:
    small = predict(Params(4, 200, 40_000, 20, MBIT_100, 25), COSTS)
    large = predict(Params(100, 200, 40_000, 500, MBIT_100, 25), COSTS)
    assert large.round_ms > small.round_ms and large.latency_ms > small.latency_ms


def test_sharing_a_machine_and_per_message_costs_load_the_cpu_and_stretch_the_round() -> None:
    alone = predict(Params(4, 200, 40_000, 20, MBIT_100, 0.05), COSTS)
    real = dict(COSTS, msg_us=30.0, wire_bytes=0.0003)
    shared = predict(Params(4, 200, 40_000, 20, MBIT_100, 0.05, cores=0.5), real)
    assert shared.cpu_load > alone.cpu_load  # half a core, and more work per batch
    assert shared.round_ms > alone.round_ms  # waiting for a processor the others keep busy
    starved = predict(Params(4, 200, 40_000, 20, MBIT_100, 0.05, cores=0.05), real)
    assert starved.bottleneck == "cpu" and starved.throughput_tx_per_s < 40_000


def test_rounds_slow_down_instead_of_saturating_the_cpu_with_block_work() -> None:
    """Per-block work grows with the round rate, and a busy processor lengthens the round:
    the model settles where the two meet rather than calling the CPU saturated."""
    p = predict(Params(4, 200, 20_000, 20, MBIT_100, 0.05, cores=0.2), COSTS)
    assert p.bottleneck == "offered load" and 0.5 < p.cpu_load < 1
    idle_machine = predict(Params(4, 200, 20_000, 20, MBIT_100, 0.05), COSTS)
    assert p.round_ms > idle_machine.round_ms


LIST = dict(COSTS, sig_sign=90.0, sig_verify=40.0)


def test_full_proposals_with_large_list_certificates_are_bound_by_the_leaders_nic() -> None:
    full = predict(Params(16, 200, 20_000, 80, MBIT_100, 25, sig_bytes=3309, compact=False),
                   LIST)
    assert full.bottleneck == "leader bandwidth (proposals)"
    assert full.throughput_tx_per_s < 20_000 and full.latency_ms == float("inf")
    compact = predict(Params(16, 200, 20_000, 80, MBIT_100, 25, sig_bytes=3309), LIST)
    assert compact.bottleneck == "offered load" and compact.latency_ms < 1000


def test_larger_signatures_load_the_nic_more_and_need_fewer_batches_at_scale() -> None:
    loads = [predict(Params(50, 200, 20_000, 1000, MBIT_100, 25, sig_bytes=size), LIST).nic_load
             for size in (64, 2420, 3309, 4627)]
    assert loads == sorted(loads) and loads[0] < loads[-1]
    # at n = 100 every member takes in each batch's f+1 ML-DSA-65 signatures (112 KB):
    # BLS's batch interval is far too short, a longer one fits
    short = predict(Params(100, 200, 20_000, 500, MBIT_100, 25, sig_bytes=3309), LIST)
    assert short.bottleneck == "bandwidth"
    longer = predict(Params(100, 200, 10_000, 3000, MBIT_100, 25, sig_bytes=3309), LIST)
    assert longer.bottleneck == "offered load"
    assert longer.latency_ms > 1500  # half the batch interval is waiting for the batch
