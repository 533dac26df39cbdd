"""A validator's membership identity from node.toml's `[identity]` table.

    [identity]
    certificate = "node.cert"            # this node's certificate (`xinlian pq cert issue`)
    revocations = ["org0.crl"]           # revocation lists (`xinlian pq cert revoke`)
    skew_ms = 300000                     # clock skew tolerated at a window's ends

File names are relative to the data directory. The lists are read again on SIGHUP
(`reload`): the node then refuses the newly revoked peers and closes their connections.
The node checks its own certificate against its own policy when it loads it, so an expired,
revoked or foreign certificate stops it at start instead of at every handshake.
"""

from __future__ import annotations

import time
from pathlib import Path

from xinlian.crypto.keys import PublicKey
from xinlian.ledger.genesis import Genesis
from xinlian.network.errors import NetworkError
from xinlian.network.handshake import Identity
from xinlian.network.identity import (
    DEFAULT_SKEW_MS,
    IdentityPolicy,
    decode_certificate,
    decode_revocations,
)
from xinlian.node.errors import NodeConfigError


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise NodeConfigError(f"[identity]: cannot read {path}: {exc.strerror}") from exc


def load_identity(config: dict[str, object], data: Path, genesis: Genesis,
                  key: PublicKey) -> Identity | None:
    """The identity node.toml names (None without an `[identity]` table), checked: the
    files decode, each list is signed by an admin of its organisation, and this node's own
    certificate holds now for `key`."""
    table = config.get("identity")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("certificate"), str):
        raise NodeConfigError("[identity] in node.toml needs certificate = \"FILE\"")
    names = table.get("revocations", [])
    skew = table.get("skew_ms", DEFAULT_SKEW_MS)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise NodeConfigError("[identity] revocations must be a list of file names")
    if not isinstance(skew, int) or not 0 <= skew <= 86_400_000:
        raise NodeConfigError("[identity] skew_ms must be an integer in 0..86400000")
    try:
        certificate = decode_certificate(_read(data / table["certificate"]))
        lists = [decode_revocations(_read(data / name)) for name in names]
        policy = IdentityPolicy.from_genesis(genesis, lists, skew_ms=skew)
        policy.check(certificate, key, time.time_ns() // 1_000_000)
    except NetworkError as exc:
        raise NodeConfigError(f"[identity]: {exc.name}: {exc.message}") from exc
    return Identity(certificate, policy)
