"""`xinlian private range commit|prove|verify`: Pedersen commitments and Bulletproofs range
proofs as JSON files.

An openings file (written mode 0600: it reveals the amounts) holds the group, the values,
their blindings (fresh from the OS CSPRNG) and the commitments. A proof file is what a
verifier receives: the group, the bit size, the commitments and the proof, nothing of the
values. Blindings, commitments and proofs are hex. Every file is validated when read: bad
input exits with status 2 and a typed error (docs/privacy.md#range-proofs-bulletproofs).
"""

from __future__ import annotations

import argparse
import json

from xinlian.cli.private_files import Doc, Reader, write
from xinlian.crypto.primitives.groups import Element, Group, GroupError, Scalar
from xinlian.crypto.privacy.confidential import GROUPS, get_group, pedersen, range_proof
from xinlian.crypto.privacy.confidential.errors import (
    MalformedProofError,
    RangeProofStatementError,
)
from xinlian.crypto.privacy.confidential.range_proof import RangeProof

_files = Reader(MalformedProofError)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("range", help="Pedersen commitments and Bulletproofs range proofs")
    rsub = r.add_subparsers(dest="range_command", required=True)

    c = rsub.add_parser("commit", help="commit to amounts with fresh blindings")
    c.add_argument("--group", choices=sorted(GROUPS), default="ristretto255")
    c.add_argument("--values", required=True, help="comma-separated amounts, e.g. 1250000,37")
    c.add_argument("--out", required=True, help="openings file to write (mode 0600)")
    c.set_defaults(func=commit)

    p = rsub.add_parser("prove", help="prove the committed amounts lie in [0, 2^bits)")
    p.add_argument("openings", help="openings file")
    p.add_argument("--bits", type=int, choices=range_proof.BIT_SIZES, default=64)
    p.add_argument("--out", required=True, help="proof file to write")
    p.set_defaults(func=prove)

    v = rsub.add_parser("verify", help="verify proof files (several: one batch)")
    v.add_argument("proofs", nargs="+", help="proof files")
    v.set_defaults(func=verify)


def _values(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RangeProofStatementError(f"--values {text!r}: expected amounts like 10,25") from None


def _commitments(group: Group, doc: Doc) -> list[Element]:
    return [pedersen.decode_commitment(group, c) for c in _files.hexes(doc, "commitments")]


def commit(args: argparse.Namespace) -> int:
    group = get_group(args.group)
    values = _values(args.values)
    range_proof.check_statement(64, len(values))
    for v in values:
        if not 0 <= v < 1 << 64:
            raise RangeProofStatementError(f"amount {v} is outside [0, 2^64)")
    blindings = [pedersen.random_blinding(group) for _ in values]
    commitments = [pedersen.commit(group, v, r).encode().hex()
                   for v, r in zip(values, blindings, strict=True)]
    write(args.out, {"group": group.name, "values": values,
                     "blindings": [r.encode().hex() for r in blindings],
                     "commitments": commitments}, secret=True)
    print(json.dumps({"group": group.name, "commitments": commitments}))
    return 0


def prove(args: argparse.Namespace) -> int:
    doc = _files.read(args.openings)
    group = get_group(_files.text(doc, "group"))
    values = _files.ints(doc, "values")
    try:
        blindings: list[Scalar] = [group.decode_scalar(b) for b in _files.hexes(doc, "blindings")]
    except GroupError as exc:
        raise MalformedProofError(f"field 'blindings': {exc}") from exc
    proof, commitments = range_proof.prove(group, values, blindings, args.bits)
    if commitments != _commitments(group, doc):
        raise MalformedProofError("the openings' commitments do not match their values")
    data = proof.encode()
    write(args.out, {"group": group.name, "bits": args.bits,
                     "commitments": [c.encode().hex() for c in commitments],
                     "proof": data.hex()})
    print(json.dumps({"proof_bytes": len(data), "values": len(values), "bits": args.bits}))
    return 0


def _statement(path: str) -> tuple[Group, list[Element], RangeProof, int]:
    doc = _files.read(path)
    group = get_group(_files.text(doc, "group"))
    bits = _files.get(doc, "bits")
    if type(bits) is not int:
        raise MalformedProofError("field 'bits': expected an integer")
    commitments = _commitments(group, doc)
    proof = range_proof.decode(group, _files.hex(doc, "proof"), bits, len(commitments))
    return group, commitments, proof, bits


def verify(args: argparse.Namespace) -> int:
    statements = [_statement(path) for path in args.proofs]
    group = statements[0][0]
    if any(s[0] is not group for s in statements):
        raise RangeProofStatementError("a batch must be of one group")
    range_proof.batch_verify(group, [(c, p, n) for _, c, p, n in statements])
    print(json.dumps({"valid": True, "proofs": len(statements),
                      "values": sum(len(s[1]) for s in statements)}))
    return 0
