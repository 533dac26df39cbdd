"""`xinlian pq cert issue|show|revoke`: membership certificates and revocation lists.

An organisation's admin (a key listed under its `organisations[].admins` in the genesis)
issues a certificate for a node key, or a revocation list of serials; the files are the
canonical binary encodings the node reads (node.toml `[identity]`, node/identity.py).
Every command checks what it writes or shows against the genesis, so a certificate that
would be refused at the handshake is refused here first, with the same typed error.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import SUITES, Suite, get_suite
from xinlian.errors import XinlianError
from xinlian.ledger.genesis import Genesis, load_genesis
from xinlian.network.errors import CertificateRefused, MalformedFrame
from xinlian.network.identity import (
    ROLES,
    Certificate,
    IdentityPolicy,
    RevocationList,
    decode_certificate,
    decode_revocations,
    issue_certificate,
    require_suite_key,
    revoke,
)
from xinlian.network.membership import node_id_of
from xinlian.node.errors import NodeConfigError
from xinlian.node.keyfile import read_key

DAY_MS = 86_400_000


def register(pq_sub: Any) -> None:
    cert = pq_sub.add_parser("cert", help="membership certificates: issue, show, revoke")
    sub = cert.add_subparsers(dest="cert_command", required=True)
    issue = sub.add_parser("issue", help="certify a node key for an organisation")
    _common(issue)
    subject = issue.add_mutually_exclusive_group(required=True)
    subject.add_argument("--subject-key", help="the node's key file (only its public key "
                         "is read)")
    subject.add_argument("--subject", help="the node's public key, hex")
    issue.add_argument("--serial", type=int, required=True,
                       help="unique within the organisation; revocation names it")
    issue.add_argument("--role", choices=ROLES, default="validator")
    issue.add_argument("--days", type=float, default=365.0,
                       help="valid from now for this many days (default 365)")
    issue.add_argument("--not-before-ms", type=int, help="start of validity (Unix ms)")
    issue.add_argument("--not-after-ms", type=int, help="end of validity (Unix ms)")
    issue.set_defaults(func=run_issue)
    rev = sub.add_parser("revoke", help="write an organisation's revocation list")
    _common(rev)
    rev.add_argument("--serial", type=int, action="append", required=True,
                     help="a serial to revoke (repeatable)")
    rev.add_argument("--list", help="an existing list of the organisation to extend")
    rev.set_defaults(func=run_revoke)
    show = sub.add_parser("show", help="print a certificate or revocation list as JSON")
    show.add_argument("file")
    show.add_argument("--genesis", help="also verify it against this genesis TOML")
    show.add_argument("--subject", help="verify that the certificate is for this public "
                      "key (hex; default: the key it names)")
    show.add_argument("--now-ms", type=int, help="the time to verify at (default: now)")
    show.set_defaults(func=run_show)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--genesis", required=True, help="the chain's genesis TOML")
    p.add_argument("--admin-key", required=True, help="the organisation admin's key file")
    p.add_argument("--organisation", required=True)
    p.add_argument("--out", required=True, help="the file to write")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _hex_key(genesis: Genesis, text: str) -> PublicKey:
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError as exc:
        raise NodeConfigError(f"the public key is not hex: {text[:20]!r}") from exc
    return PublicKey(genesis.crypto_suite().signature, data)


def _subject(genesis: Genesis, args: argparse.Namespace) -> PublicKey:
    if args.subject is not None:
        return _hex_key(genesis, args.subject)
    try:
        doc = json.loads(Path(args.subject_key).read_text(encoding="utf-8"))
        alg = get_suite(doc["suite"]).signature
        return PublicKey(alg, bytes.fromhex(doc["public_key"]))
    except (OSError, ValueError, KeyError, TypeError, XinlianError) as exc:
        raise NodeConfigError(f"cannot read key file {args.subject_key}: {exc}") from exc


def _admin(genesis: Genesis, args: argparse.Namespace) -> SigningKey:
    _, key = read_key(Path(args.admin_key))
    require_suite_key(genesis.crypto_suite(), key.public_key, "the admin key")
    org = next((o for o in genesis.organisations if o.name == args.organisation), None)
    if org is None:
        raise CertificateRefused(f"the genesis has no organisation {args.organisation!r}")
    if key.public_key not in org.admins:
        raise CertificateRefused(f"the key is not an admin of {args.organisation!r}")
    return key


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise NodeConfigError(f"cannot read {path}: {exc.strerror}") from exc


def _write(path: str, value: Certificate | RevocationList) -> None:
    Path(path).write_bytes(codec.encode(value))


def run_issue(args: argparse.Namespace) -> int:
    genesis = load_genesis(args.genesis)
    admin = _admin(genesis, args)
    subject = _subject(genesis, args)
    suite = genesis.crypto_suite()
    require_suite_key(suite, subject, "the subject key")
    begin = args.not_before_ms if args.not_before_ms is not None else _now_ms()
    end = (args.not_after_ms if args.not_after_ms is not None
           else begin + int(args.days * DAY_MS))
    cert = issue_certificate(admin, chain_id=genesis.chain_id,
                             organisation=args.organisation, role=args.role,
                             subject=subject, serial=args.serial, not_before_ms=begin,
                             not_after_ms=end)
    IdentityPolicy.from_genesis(genesis, roles=ROLES).check(cert, subject, begin)
    _write(args.out, cert)
    print(json.dumps({"written": args.out, **_describe(suite, cert)}))
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    genesis = load_genesis(args.genesis)
    admin = _admin(genesis, args)
    serials = set(args.serial)
    if args.list is not None:
        old = decode_revocations(_read(args.list))
        IdentityPolicy.from_genesis(genesis).with_revocations([old])
        if old.body.organisation != args.organisation:
            raise CertificateRefused(f"{args.list} is {old.body.organisation!r}'s list")
        serials.update(old.body.serials)
    if not all(0 <= s < 2**64 for s in serials):
        raise CertificateRefused("serials are u64")
    crl = revoke(admin, chain_id=genesis.chain_id, organisation=args.organisation,
                 serials=serials, issued_ms=_now_ms())
    IdentityPolicy.from_genesis(genesis).with_revocations([crl])
    _write(args.out, crl)
    print(json.dumps({"written": args.out, "kind": "revocation_list",
                      "organisation": args.organisation, "serials": crl.body.serials}))
    return 0


def _describe(suite: Suite | None, cert: Certificate) -> dict[str, Any]:
    """The certificate's fields; the subject's node id needs the chain's suite (its hash),
    else the suite whose signature algorithm the subject key has."""
    body = cert.body
    suite = suite or next((s for s in SUITES.values() if s.signature == body.subject.alg),
                          None)
    return {"kind": "certificate", "version": body.version, "chain_id": body.chain_id,
            "serial": body.serial, "organisation": body.organisation, "role": body.role,
            "subject_algorithm": body.subject.alg.name,
            "subject_node_id": None if suite is None else node_id_of(suite,
                                                                     body.subject).hex(),
            "subject": body.subject.data.hex(),
            "not_before_ms": body.not_before_ms, "not_after_ms": body.not_after_ms,
            "issuer_algorithm": body.issuer.alg.name,
            "signature_algorithm": cert.signature.alg.name,
            "bytes": len(codec.encode(cert))}


def run_show(args: argparse.Namespace) -> int:
    data = _read(args.file)
    genesis = None if args.genesis is None else load_genesis(args.genesis)
    try:
        cert = decode_certificate(data)
    except MalformedFrame:
        try:
            crl = decode_revocations(data)
        except MalformedFrame as exc:
            raise MalformedFrame(f"{args.file} is neither a membership certificate nor a "
                                 "revocation list") from exc
        out: dict[str, Any] = {"kind": "revocation_list", "version": crl.body.version,
                               "chain_id": crl.body.chain_id,
                               "organisation": crl.body.organisation,
                               "issued_ms": crl.body.issued_ms, "serials": crl.body.serials,
                               "issuer_algorithm": crl.body.issuer.alg.name}
        if genesis is not None:
            IdentityPolicy.from_genesis(genesis).with_revocations([crl])
            out["verified"] = True
        print(json.dumps(out))
        return 0
    out = _describe(None if genesis is None else genesis.crypto_suite(), cert)
    if genesis is not None:
        subject = cert.body.subject if args.subject is None else _hex_key(genesis,
                                                                          args.subject)
        now = args.now_ms if args.now_ms is not None else _now_ms()
        IdentityPolicy.from_genesis(genesis, roles=ROLES).check(cert, subject, now)
        out["verified"] = True
    print(json.dumps(out))
    return 0
