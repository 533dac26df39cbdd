"""`xinlian private bbs keygen|sign|verify|prove|verify-proof`: BBS credentials as JSON files;
`xinlian private gc` and `gc-circuit` (garbled circuits) come from private_gc_cmd.py,
`xinlian private range` (range proofs) from private_range_cmd.py, `xinlian private agg`
(encrypted aggregates) from private_agg_cmd.py, confidential accounts (`keygen`,
`register`, `deposit`, `transfer`, `balance`, `withdraw`, `share`, `open`, `regulator`)
from private_conf_cmd.py, anonymous notes (`anon ...`) from private_anon_cmd.py, the
regulator's rules (`monitor`) from private_monitor_cmd.py.

The issuer's key file holds the suite and both keys (written mode 0600). A signature file is
the holder's credential: the suite, the issuer's public key, the header, every message and
the signature. A proof file is what the holder hands a verifier: the suite, the public key,
the header, the presentation header, the disclosed messages with their indexes, and the
proof. Messages and headers are UTF-8 text; keys, signatures and proofs are hex. Every
file is validated when read: bad input exits with status 2 and a typed error
(docs/privacy.md#bbs-signatures lists them).
"""

from __future__ import annotations

import argparse
import json

from xinlian.cli import (
    private_agg_cmd,
    private_anon_cmd,
    private_conf_cmd,
    private_gc_cmd,
    private_monitor_cmd,
    private_range_cmd,
)
from xinlian.cli.private_files import Doc, Reader, write
from xinlian.crypto.privacy import bbs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    private = subparsers.add_parser(
        "private",
        help="privacy schemes: BBS credentials, garbled circuits, range proofs, aggregates, "
             "confidential and anonymous transfers with regulator tracing")
    sub = private.add_subparsers(dest="private_command", required=True)
    private_gc_cmd.register(sub)
    private_range_cmd.register(sub)
    private_agg_cmd.register(sub)
    private_conf_cmd.register(sub)
    private_anon_cmd.register(sub)
    private_monitor_cmd.register(sub)
    b = sub.add_parser("bbs", help="BBS signatures with selective-disclosure proofs")
    bsub = b.add_subparsers(dest="bbs_command", required=True)

    k = bsub.add_parser("keygen", help="make an issuer key (OS CSPRNG)")
    k.add_argument("--suite", choices=sorted(bbs.SUITES), default=bbs.BLS12_381_SHA_256.name)
    k.add_argument("--out", required=True, help="key file to write (mode 0600)")
    k.set_defaults(func=keygen)

    s = bsub.add_parser("sign", help="sign a header and messages into a credential file")
    s.add_argument("--key", required=True, help="the issuer's key file")
    s.add_argument(
        "--messages", required=True, help='JSON file {"header": "...", "messages": ["...", ...]}'
    )
    s.add_argument("--out", required=True, help="signature (credential) file to write")
    s.set_defaults(func=sign)

    v = bsub.add_parser("verify", help="verify a signature file")
    v.add_argument("signature", help="signature file")
    v.set_defaults(func=verify)

    p = bsub.add_parser("prove", help="make a proof disclosing some messages")
    p.add_argument("signature", help="signature file")
    p.add_argument("--disclose", default="", help="comma-separated message indexes, e.g. 0,2")
    p.add_argument("--presentation-header", default="", help="the verifier's nonce or context")
    p.add_argument("--out", required=True, help="proof file to write")
    p.set_defaults(func=prove)

    vp = bsub.add_parser("verify-proof", help="verify a proof file")
    vp.add_argument("proof", help="proof file")
    vp.set_defaults(func=verify_proof)


# --- reading and writing the documents ------------------------------------------------------

_files = Reader(bbs.MalformedBbsInputError)
_read, _text, _hex = _files.read, _files.text, _files.hex


def _texts(doc: Doc, name: str) -> list[bytes]:
    return [m.encode() for m in _files.texts(doc, name)]


def _suite(doc: Doc) -> bbs.Ciphersuite:
    return bbs.get_suite(_text(doc, "suite"))


def _indexes(text: str) -> list[int]:
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise bbs.BbsIndexError(f"--disclose {text!r}: expected indexes like 0,2") from None


# --- the commands ---------------------------------------------------------------------------


def keygen(args: argparse.Namespace) -> int:
    suite = bbs.get_suite(args.suite)
    sk = bbs.generate_secret_key(suite)
    pk = bbs.sk_to_pk(sk)
    doc = {"suite": suite.name, "secret_key": sk.to_bytes(32, "big").hex(), "public_key": pk.hex()}
    write(args.out, doc, secret=True)
    print(json.dumps({"suite": suite.name, "public_key": pk.hex()}))
    return 0


def sign(args: argparse.Namespace) -> int:
    key, request = _read(args.key), _read(args.messages)
    suite = _suite(key)
    sk = bbs.decode_secret_key(_hex(key, "secret_key"))
    pk = bbs.sk_to_pk(sk)
    header, messages = _text(request, "header"), _texts(request, "messages")
    signature = bbs.sign(sk, pk, header.encode(), messages, suite)
    write(
        args.out,
        {
            "suite": suite.name,
            "public_key": pk.hex(),
            "header": header,
            "messages": [m.decode() for m in messages],
            "signature": signature.hex(),
        },
    )
    print(json.dumps({"signature_bytes": len(signature), "messages": len(messages)}))
    return 0


def _credential(path: str) -> tuple[bbs.Ciphersuite, bytes, bytes, list[bytes], bytes]:
    doc = _read(path)
    return (
        _suite(doc),
        _hex(doc, "public_key"),
        _text(doc, "header").encode(),
        _texts(doc, "messages"),
        _hex(doc, "signature"),
    )


def verify(args: argparse.Namespace) -> int:
    suite, pk, header, messages, signature = _credential(args.signature)
    bbs.verify(pk, signature, header, messages, suite)
    print(json.dumps({"valid": True, "messages": len(messages)}))
    return 0


def prove(args: argparse.Namespace) -> int:
    suite, pk, header, messages, signature = _credential(args.signature)
    shown = _indexes(args.disclose)
    ph = args.presentation_header
    proof = bbs.proof_gen(pk, signature, header, ph.encode(), messages, shown, suite)
    write(
        args.out,
        {
            "suite": suite.name,
            "public_key": pk.hex(),
            "header": header.decode(),
            "presentation_header": ph,
            "disclosed_indexes": shown,
            "disclosed_messages": [messages[i].decode() for i in shown],
            "proof": proof.hex(),
        },
    )
    print(json.dumps({"proof_bytes": len(proof), "disclosed": shown}))
    return 0


def verify_proof(args: argparse.Namespace) -> int:
    doc = _read(args.proof)
    indexes = doc.get("disclosed_indexes")
    if not isinstance(indexes, list) or not all(type(i) is int for i in indexes):
        raise bbs.BbsIndexError("field 'disclosed_indexes': expected a list of integers")
    disclosed = _texts(doc, "disclosed_messages")
    bbs.proof_verify(
        _hex(doc, "public_key"),
        _hex(doc, "proof"),
        _text(doc, "header").encode(),
        _text(doc, "presentation_header").encode(),
        disclosed,
        indexes,
        _suite(doc),
    )
    shown = {str(i): m.decode() for i, m in zip(indexes, disclosed, strict=True)}
    print(json.dumps({"valid": True, "disclosed": shown}, ensure_ascii=False))
    return 0
