"""`xinlian private agg compare-commit|compare-challenge|compare-respond|compare-finish|
compare-verify`: is an aggregate at least T, proven to everyone while only the prover
learns the sum (crypto/privacy/homomorphic/comparison.py; docs/privacy.md, section
"Comparing an aggregate with a threshold").

Members' commit files go to the prover privately (they hold decryption shares); nonce files
and the prover's state file are written mode 0600 and are used once: a member's nonce file
is deleted when it has answered, and an existing one is never overwritten. Every file names
its question (aggregate, bound, T, context), and each step refuses another question's file.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from xinlian.cli.private_agg_cmd import aggregate_of, files, int_field, key_share_of, public_key
from xinlian.cli.private_files import Doc, write
from xinlian.crypto.primitives.groups import SM2, Element, GroupError, Scalar
from xinlian.crypto.privacy.confidential import range_proof
from xinlian.crypto.privacy.confidential.errors import ConfidentialError
from xinlian.crypto.privacy.homomorphic import comparison, elgamal, threshold
from xinlian.crypto.privacy.homomorphic.comparison import (
    Challenge,
    ComparisonProof,
    MemberCommit,
    Nonces,
    ProverState,
    Question,
    SecretNonces,
)
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidContributionError,
    MalformedAggregateInputError,
)
from xinlian.crypto.threshold.dkg import PublicKeyPackage


def register(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def question_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("aggregate", help="aggregate file")
        p.add_argument("--at-least", type=int, required=True, metavar="T")
        p.add_argument("--context", required=True, help="what is asked, e.g. loans-q4>=T")

    c = asub.add_parser("compare-commit", help="a member's share and nonces for a comparison")
    c.add_argument("--key-share", required=True, help="the member's key-share file")
    question_args(c)
    c.add_argument("--out", required=True, help="commit file (send it to the prover only)")
    c.add_argument("--nonces", required=True, help="nonce file to keep (mode 0600, used once)")
    c.set_defaults(func=commit)

    h = asub.add_parser("compare-challenge", help="the prover: open, commit, challenge")
    h.add_argument("--key", required=True, help="the public key file")
    question_args(h)
    h.add_argument("commits", nargs="+", help="the members' commit files (t of them at least)")
    h.add_argument("--out", required=True, help="challenge file (send it to the members)")
    h.add_argument("--state", required=True, help="prover's state file to keep (mode 0600)")
    h.set_defaults(func=challenge)

    r = asub.add_parser("compare-respond", help="a member's answer to the challenge")
    r.add_argument("--key-share", required=True, help="the member's key-share file")
    r.add_argument("--nonces", required=True, help="its nonce file (deleted once answered)")
    r.add_argument("challenge", help="challenge file")
    r.add_argument("--out", required=True, help="response file (send it to the prover)")
    r.set_defaults(func=respond)

    f = asub.add_parser("compare-finish", help="the prover: check the answers, write the proof")
    f.add_argument("--key", required=True, help="the public key file")
    f.add_argument("--state", required=True, help="the prover's state file")
    f.add_argument("responses", nargs="+", help="the members' response files")
    f.add_argument("--out", required=True, help="proof file (public)")
    f.set_defaults(func=finish)

    v = asub.add_parser("compare-verify", help="check a comparison proof for an aggregate")
    v.add_argument("--key", required=True, help="the public key file")
    v.add_argument("aggregate", help="aggregate file")
    v.add_argument("proof", help="proof file")
    v.set_defaults(func=check)


# --- encodings ---------------------------------------------------------------------------------

def _point(doc: Doc, name: str) -> Element:
    try:
        return SM2.decode_element(files.hex(doc, name))
    except GroupError as exc:
        raise MalformedAggregateInputError(f"field {name!r}: {exc}") from None


def _scalar(doc: Doc, name: str) -> Scalar:
    try:
        return SM2.decode_scalar(files.hex(doc, name))
    except GroupError as exc:
        raise MalformedAggregateInputError(f"field {name!r}: {exc}") from None


def _points(doc: Doc, name: str, count: int) -> list[Element]:
    try:
        found = [SM2.decode_element(p) for p in files.hexes(doc, name)]
    except GroupError as exc:
        raise MalformedAggregateInputError(f"field {name!r}: {exc}") from None
    if len(found) != count:
        raise MalformedAggregateInputError(f"field {name!r}: {count} points expected")
    return found


def _question_doc(q: Question) -> Doc:
    return {"aggregate": q.aggregate.encode().hex(), "bound": q.bound, "at_least": q.at_least,
            "context": q.context.decode()}


def _question_of(doc: Doc) -> Question:
    q = files.get(doc, "question")
    if not isinstance(q, dict):
        raise MalformedAggregateInputError("field 'question': expected an object")
    return Question(elgamal.decode(SM2, files.hex(q, "aggregate")), int_field(q, "bound"),
                    int_field(q, "at_least"), files.text(q, "context").encode())


def _asked(args: argparse.Namespace) -> Question:
    doc, ct = aggregate_of(args.aggregate)
    return Question(ct, int_field(doc, "bound"), args.at_least, args.context.encode())


def _same(q: Question, other: Question) -> None:
    if q != other:
        raise AggregateStatementError("the files are for another question (aggregate, "
                                      "bound, T or context)")


def _nonces_doc(n: Nonces) -> Doc:
    return {"member": n.member, "points": [p.encode().hex() for p in n.points]}


def _nonces_of(doc: Doc) -> Nonces:
    a, b, c, d = _points(doc, "points", 4)
    return Nonces(int_field(doc, "member"), (a, b, c, d))


def _proof_doc(p: ComparisonProof) -> Doc:
    return {"claim": p.claim, **{k: getattr(p, k).encode().hex() for k in ("v", "t1", "t2",
                                                                           "t3")},
            **{k: SM2.scalar(getattr(p, k)).encode().hex() for k in ("z_x", "z_m", "z_s")},
            "range": p.range.encode().hex()}


def _proof_of(doc: Doc, bits: int) -> ComparisonProof:
    claim = files.get(doc, "claim")
    if not isinstance(claim, bool):
        raise MalformedAggregateInputError("field 'claim': expected true or false")
    try:
        proof = range_proof.decode(SM2, files.hex(doc, "range"), bits, 1)
    except ConfidentialError as exc:
        raise MalformedAggregateInputError(f"field 'range': {exc}") from None
    return ComparisonProof(claim, _point(doc, "v"), _point(doc, "t1"), _point(doc, "t2"),
                           _point(doc, "t3"), _scalar(doc, "z_x").value,
                           _scalar(doc, "z_m").value, _scalar(doc, "z_s").value, proof)


def _challenge_of(doc: Doc) -> Challenge:
    claim = files.get(doc, "claim")
    listed = files.get(doc, "nonces")
    if not isinstance(claim, bool) or not isinstance(listed, list) or not all(
            isinstance(n, dict) for n in listed):
        raise MalformedAggregateInputError("a challenge has a claim and a list of nonces")
    return Challenge(claim, _point(doc, "v"), _point(doc, "k_m"), _point(doc, "t3"),
                     tuple(_nonces_of(n) for n in listed))


def _new_secret_file(path: str, doc: Doc) -> None:
    if Path(path).exists():
        raise AggregateStatementError(f"{path} exists: nonces are used once, never replaced")
    write(path, doc, secret=True)


# --- the commands ------------------------------------------------------------------------------

def commit(args: argparse.Namespace) -> int:
    key_share = key_share_of(args.key_share)
    q = _asked(args)
    made, secret = comparison.member_commit(key_share, q)
    _new_secret_file(args.nonces, {"question": _question_doc(q), "d": secret.d.encode().hex(),
                                   "e": secret.e.encode().hex(), **_nonces_doc(secret.nonces)})
    write(args.out, {"question": _question_doc(q), "share": made.share.encode().hex(),
                     **_nonces_doc(made.nonces)})
    print(json.dumps({"member": key_share.identifier}))
    return 0


def challenge(args: argparse.Namespace) -> int:
    public = public_key(args.key)
    q = _asked(args)
    commits = []
    for path in args.commits:
        doc = files.read(path)
        _same(q, _question_of(doc))
        commits.append(MemberCommit(threshold.decode_share(public, files.hex(doc, "share")),
                                    _nonces_of(doc)))
    made, state = comparison.prover_challenge(public, q, commits)
    body = {"claim": made.claim, "v": made.v.encode().hex(), "k_m": made.k_m.encode().hex(),
            "t3": made.t3.encode().hex(), "nonces": [_nonces_doc(n) for n in made.nonces]}
    write(args.state, {"question": _question_doc(q), "challenge": body,
                       "shares": [s.encode().hex() for s in state.shares.values()],
                       "value": state.value, "m": state.m, "s": state.s.encode().hex(),
                       "k_m": state.k_m.encode().hex(), "k_s": state.k_s.encode().hex(),
                       "range": state.range.encode().hex()}, secret=True)
    write(args.out, {"question": _question_doc(q), **body})
    print(json.dumps({"members": [n.member for n in made.nonces]}))
    return 0


def respond(args: argparse.Namespace) -> int:
    key_share = key_share_of(args.key_share)
    kept = files.read(args.nonces)
    doc = files.read(args.challenge)
    q = _question_of(doc)
    _same(q, _question_of(kept))
    secret = SecretNonces(int_field(kept, "member"), _scalar(kept, "d"), _scalar(kept, "e"),
                          _nonces_of(kept), _question_of(kept))
    z = comparison.member_respond(key_share, secret, q, _challenge_of(doc))
    os.remove(args.nonces)  # answered: these nonces are never used again
    write(args.out, {"member": key_share.identifier, "z": SM2.scalar(z).encode().hex()})
    print(json.dumps({"member": key_share.identifier}))
    return 0


def _state_of(public: PublicKeyPackage, doc: Doc) -> ProverState:
    q = _question_of(doc)
    body = files.get(doc, "challenge")
    if not isinstance(body, dict):
        raise MalformedAggregateInputError("field 'challenge': expected an object")
    shares = [threshold.decode_share(public, h) for h in files.hexes(doc, "shares")]
    try:
        proof = range_proof.decode(SM2, files.hex(doc, "range"), q.bits, 1)
    except ConfidentialError as exc:
        raise MalformedAggregateInputError(f"field 'range': {exc}") from None
    return ProverState(q, {s.member: s for s in shares}, _challenge_of(body),
                       int_field(doc, "value"), int_field(doc, "m"), _scalar(doc, "s"),
                       _scalar(doc, "k_m"), _scalar(doc, "k_s"), proof)


def finish(args: argparse.Namespace) -> int:
    public = public_key(args.key)
    state = _state_of(public, files.read(args.state))
    responses = {}
    for path in args.responses:
        doc = files.read(path)
        responses[int_field(doc, "member")] = _scalar(doc, "z").value
    proof = comparison.prover_finish(public, state, responses)
    write(args.out, {"question": _question_doc(state.question), **_proof_doc(proof)})
    print(json.dumps({"at_least": state.question.at_least, "claim": proof.claim}))
    return 0


def check(args: argparse.Namespace) -> int:
    public = public_key(args.key)
    doc = files.read(args.proof)
    q = _question_of(doc)
    _, ct = aggregate_of(args.aggregate)
    if q.aggregate != ct:
        raise AggregateStatementError("the proof is for another aggregate")
    proof = _proof_of(doc, q.bits)
    if not comparison.verify(public, q, proof):
        raise InvalidContributionError("the comparison proof does not verify")
    print(json.dumps({"valid": True, "at_least": q.at_least, "claim": proof.claim,
                      "context": q.context.decode()}))
    return 0
