"""The trust anchor a user pins for the workbench: what the server's SDK and the page's own
checks (web/proofs.js `checkAnchor`) rest on, obtained out of band rather than from the node.

A pin is the chain's genesis hash and, on a solo chain, the node key that signs its headers
(the genesis names no such key; a BFT chain's committee comes from the genesis itself). Its
JSON form, `{"genesis_hash": "0x…", "node_key": "0x…" | null}` with the node key encoded as
`xl_status` serves it, is what `xinlian web-anchor` prints, `xinlian web --trust-anchor`
reads and the page takes pasted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.ledger.genesis import Genesis
from xinlian.web.errors import BadTrustAnchor

GENESIS_HASH_SIZE = 32


@dataclass(frozen=True)
class Pin:
    genesis_hash: bytes
    node_key: PublicKey | None  # a solo chain's; None on a BFT chain

    def to_json(self) -> dict[str, str | None]:
        return {"genesis_hash": "0x" + self.genesis_hash.hex(),
                "node_key": None if self.node_key is None
                else "0x" + codec.encode(self.node_key).hex()}


def pin_of(genesis: Genesis, node_key: PublicKey | None) -> Pin:
    """The pin of a chain from its genesis (and a solo chain's node key)."""
    if genesis.validators:
        return Pin(genesis.hash(), None)
    if node_key is None:
        raise BadTrustAnchor("a solo chain's pin needs its node key: its genesis names none")
    return Pin(genesis.hash(), node_key)


def _hex(value: Any, what: str) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise BadTrustAnchor(f"{what} is not 0x-prefixed hex")


def parse_pin(value: Any) -> Pin:
    """A pin from its JSON form; BadTrustAnchor unless it is one."""
    if not isinstance(value, dict) or set(value) - {"genesis_hash", "node_key"}:
        raise BadTrustAnchor('a trust anchor is {"genesis_hash": "0x…", "node_key": "0x…" or null}')
    digest = _hex(value.get("genesis_hash"), "genesis_hash")
    if len(digest) != GENESIS_HASH_SIZE:
        raise BadTrustAnchor(f"genesis_hash is {GENESIS_HASH_SIZE} bytes, not {len(digest)}")
    if value.get("node_key") is None:
        return Pin(digest, None)
    try:
        key = codec.decode(_hex(value["node_key"], "node_key"), PublicKey)
    except codec.CodecError as exc:
        raise BadTrustAnchor(f"node_key is not an encoded public key: {exc.message}") from None
    return Pin(digest, key)


def read_pin(path: Path) -> Pin:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadTrustAnchor(f"cannot read the trust anchor {path}: {exc}") from None
    return parse_pin(value)
