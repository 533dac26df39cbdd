"""State proofs: inclusion and exclusion verify; tampering and bad bytes are rejected."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.errors import XinlianError
from xinlian.storage import jmt
from xinlian.storage.errors import MalformedProofError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import (
    MAX_PROOF_SIZE,
    Proof,
    ProofLeaf,
    decode_proof,
    encode_proof,
    verify_proof,
)

STATE = {b"acct-%d" % i: b"balance-%d" % (i * 7) for i in range(3000)}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jmt.StateTree]:
    with Store(tmp_path_factory.mktemp("proof"), sub_dbs=jmt.SUB_DBS) as store:
        tree = jmt.StateTree(store, sha256)
        batch = WriteBatch()
        tree.apply(1, STATE, batch)
        store.commit(batch)
        yield tree


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]


def test_inclusion_proof_verifies_and_rejects_tampering(tree: jmt.StateTree) -> None:
    root = tree.root()
    key = b"acct-17"
    value, proof = tree.get_with_proof(key)
    assert value == STATE[key]
    assert verify_proof(root, key, value, proof, sha256)
    assert not verify_proof(root, key, value + b"!", proof, sha256)
    assert not verify_proof(root, key, None, proof, sha256)
    assert not verify_proof(root, b"acct-18", value, proof, sha256)
    assert not verify_proof(_flip(root, 0), key, value, proof, sha256)
    assert not verify_proof(root, key, value, proof, sm3)
    for i, sibling in enumerate(proof.siblings):
        if sibling:
            bad = list(proof.siblings)
            bad[i] = _flip(sibling, 31)
            assert not verify_proof(root, key, value, Proof(bad, proof.leaf), sha256)
    assert proof.leaf is not None
    for leaf in (ProofLeaf(_flip(proof.leaf.path, 0), proof.leaf.value_hash),
                 ProofLeaf(proof.leaf.path, _flip(proof.leaf.value_hash, 0))):
        assert not verify_proof(root, key, value, Proof(proof.siblings, leaf), sha256)
    shorter = Proof(proof.siblings[:-4], proof.leaf)
    assert not verify_proof(root, key, value, shorter, sha256)


def test_exclusion_proofs_of_both_kinds(tree: jmt.StateTree) -> None:
    root = tree.root()
    kinds = set()
    for i in range(200):
        key = b"missing-%d" % i
        value, proof = tree.get_with_proof(key)
        assert value is None
        assert verify_proof(root, key, None, proof, sha256)
        assert not verify_proof(root, key, b"", proof, sha256)
        kinds.add(proof.leaf is None)
        if proof.leaf is not None:  # the neighbour leaf does not prove the key absent
            assert not verify_proof(root, key, None, Proof(proof.siblings, None), sha256)
    assert kinds == {True, False}


def test_another_keys_leaf_cannot_prove_absence(tree: jmt.StateTree) -> None:
    root = tree.root()
    _, other = tree.get_with_proof(b"acct-1")
    for key in (b"acct-2", b"missing"):
        assert not verify_proof(root, key, None, other, sha256)
    _, own = tree.get_with_proof(b"acct-2")
    assert not verify_proof(root, b"acct-2", None, own, sha256)


def test_proof_round_trips_canonically_within_the_size_bound(tree: jmt.StateTree) -> None:
    for key in (b"acct-5", b"nope"):
        _, proof = tree.get_with_proof(key)
        data = encode_proof(proof)
        assert len(data) < MAX_PROOF_SIZE
        assert decode_proof(data) == proof


@settings(max_examples=60)
@given(st.integers(0, 2999), st.booleans(), st.integers(min_value=0), st.integers(0, 7))
def test_any_bit_flip_is_rejected(tree: jmt.StateTree, index: int, present: bool,
                                  position: int, bit: int) -> None:
    key = b"acct-%d" % index if present else b"missing-%d" % index
    value, proof = tree.get_with_proof(key)
    data = encode_proof(proof)
    i = position % len(data)
    bad = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]
    try:
        tampered = decode_proof(bad)
    except XinlianError:
        return
    assert not verify_proof(tree.root(), key, value, tampered, sha256)


def test_bad_proof_bytes_are_typed_errors() -> None:
    good = Proof([b"\x11" * 32] * 4, ProofLeaf(b"\x22" * 32, b"\x33" * 32))
    data = encode_proof(good)
    with pytest.raises(codec.MalformedError):
        decode_proof(data + b"\x00")
    with pytest.raises(codec.MalformedError):
        decode_proof(data[:-1])
    with pytest.raises(codec.WrongTypeError):
        decode_proof(codec.encode([1, 2]))
    with pytest.raises(codec.OversizeError):
        decode_proof(bytes(MAX_PROOF_SIZE + 1))
    with pytest.raises(codec.OversizeError):
        decode_proof(codec.encode([[b"\x11" * 33] * 4, None]))
    with pytest.raises(codec.NonCanonicalError):  # a 32-byte bin with a bin16 header
        decode_proof(b"\x92\x91\xc5\x00\x20" + b"\x11" * 32 + b"\xc0")
    with pytest.raises(MalformedProofError):
        decode_proof(encode_proof(Proof([b"\x11" * 32] * 3, None)))
    with pytest.raises(MalformedProofError):
        decode_proof(encode_proof(Proof([b"\x11" * 31] * 4, None)))
    with pytest.raises(MalformedProofError) as info:
        decode_proof(encode_proof(Proof([bytes(32)] * 4, None)))
    assert info.value.code == 3008
    with pytest.raises(MalformedProofError):
        decode_proof(encode_proof(Proof([b""] * 260, None)))
    assert not verify_proof(bytes(32), b"k", None, Proof([b""] * 3, None), sha256)


def test_random_garbage_never_decodes_into_a_verifying_proof() -> None:
    rng = random.Random(11)
    for _ in range(500):
        data = rng.randbytes(rng.randrange(1, 300))
        try:
            proof = decode_proof(data)
        except XinlianError:
            continue
        assert not verify_proof(rng.randbytes(32), b"k", None, proof, sha256)


def test_verifier_module_imports_neither_lmdb_nor_the_store() -> None:
    code = ("import sys, xinlian.storage.proof; "
            "assert 'lmdb' not in sys.modules and 'xinlian.storage.kv' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)
