"""A validator's membership identity from node.toml's `[identity]` table.

    [identity]
    certificate = "node.cert"            # this node's certificate (`xinlian pq cert issue`)
    revocations = ["org0.crl"]           # revocation lists (`xinlian pq cert revoke`)
    skew_ms = 300000                     # clock skew tolerated at a window's ends

File names are relative to the data directory. `read_identity_files` reads and decodes
them; `identity_for` checks them against the organisations the chain has now (the state's,
which governance changes: AddOrganisation, AddAdmin, ...), including this node's own
certificate, so an expired, revoked or foreign certificate stops the node at start instead
of failing every handshake. The validator rebuilds its identity when the organisations
change and when SIGHUP makes it read the files again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import Suite
from xinlian.ledger.genesis import Organisation
from xinlian.network.errors import NetworkError
from xinlian.network.handshake import Identity
from xinlian.network.identity import (
    DEFAULT_SKEW_MS,
    Certificate,
    IdentityPolicy,
    RevocationList,
    decode_certificate,
    decode_revocations,
)
from xinlian.node.errors import NodeConfigError

MAX_SKEW_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class IdentityFiles:
    """What `[identity]` names, decoded but not yet checked against the chain."""

    certificate: Certificate
    revocations: tuple[RevocationList, ...]
    skew_ms: int


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NodeConfigError(f"[identity]: cannot read {path}: {exc.strerror}") from exc


def read_identity_files(config: dict[str, object], data: Path) -> IdentityFiles | None:
    """The files node.toml's `[identity]` names (None without the table), decoded."""
    table = config.get("identity")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("certificate"), str):
        raise NodeConfigError("[identity] in node.toml needs certificate = \"FILE\"")
    names = table.get("revocations", [])
    skew = table.get("skew_ms", DEFAULT_SKEW_MS)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NodeConfigError("[identity] revocations must be a list of file names")
    if type(skew) is not int or not 0 <= skew <= MAX_SKEW_MS:
        raise NodeConfigError(f"[identity] skew_ms must be an integer in 0..{MAX_SKEW_MS}")
    try:
        return IdentityFiles(decode_certificate(_read(data / table["certificate"])),
                             tuple(decode_revocations(_read(data / n)) for n in names), skew)
    except NetworkError as exc:
        raise NodeConfigError(f"[identity]: {exc.name}: {exc.message}") from exc


def identity_for(files: IdentityFiles, suite: Suite, chain_id: str,
                 organisations: Iterable[Organisation], key: PublicKey) -> Identity:
    """The identity of node `key` on a chain whose organisations are `organisations`: each
    revocation list signed by an admin of its organisation, and this node's own certificate
    holding now; else NodeConfigError naming the refusal."""
    try:
        policy = IdentityPolicy.of(suite, chain_id, organisations, files.revocations,
                                   skew_ms=files.skew_ms)
        policy.check(files.certificate, key, time.time_ns() // 1_000_000)
    except NetworkError as exc:
        raise NodeConfigError(f"[identity]: {exc.name}: {exc.message}") from exc
    return Identity(files.certificate, policy)
