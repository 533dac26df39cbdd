"""The workbench's side of the connected chain: deploy, call and upgrade contracts with the
dev key given at start-up (it never leaves the server), and the explorer's reads, each
verified by the SDK against the node's signing key or committee before it is shown.

Each explorer answer also carries the node's own records under `proof` (its JSON-RPC
shapes, as the SDK received them), the trust anchor under `anchor` (on a BFT chain with
the genesis committee and the epoch-change proofs since) and, on a BFT chain, the node's
certificate of the item's header under `certified` (`xl_getCertifiedHeader`), so that
the page checks them again itself (web/proofs.js) rather than taking the server's word.

Everything here blocks (the SDK's `Client`); the server runs it in a worker thread, one
call at a time, since the client and the wallet's nonce are not shared safely.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from xinlian import codec
from xinlian.api.format import to_json
from xinlian.execution.contracts.records import contract_key
from xinlian.lang.abi_json import args_from_text, params_of, value_to_json
from xinlian.lang.compiler import Artifact
from xinlian.ledger.block import Event
from xinlian.node.keyfile import read_key
from xinlian.sdk import Client, calls
from xinlian.sdk.contract_abi import ContractAbi, ContractEvent
from xinlian.sdk.contracts import ContractReceipt
from xinlian.sdk.errors import UntrustedChain
from xinlian.sdk.wallet import Wallet
from xinlian.web.anchor import Pin
from xinlian.web.errors import BadRequest, NoChainKey, NotFound

T = TypeVar("T")
RECENT_BLOCKS = 20


def plain(value: Any) -> Any:
    """A view of the SDK as JSON: structs as objects, bytes as hex, events by name."""
    if isinstance(value, ContractEvent):
        return {"event": value.event_name, "args": plain(value.as_dict())}
    if isinstance(value, msgspec.Struct):
        return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value_to_json(value)


def hex_bytes(text: str, size: int | None, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = None
    if raw is None or (size is not None and len(raw) != size):
        raise BadRequest(f"{what} {text!r} is not {size or 'some'} bytes of hex")
    return raw


class Chain:
    """`pin`: the trust anchor given with `--trust-anchor`; the SDK then trusts nothing the
    node says about its genesis and node key."""

    def __init__(self, url: str, key_file: Path | None, pin: Pin | None = None) -> None:
        self.pin = pin
        self.client = Client(url, node_key=None if pin is None else pin.node_key,
                             genesis_hash=None if pin is None else pin.genesis_hash)
        self.genesis: bytes | None = None  # the trusted genesis, canonically encoded
        self.key = read_key(key_file)[1] if key_file is not None else None
        self.wallet: Wallet | None = None
        self.lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def locked(self, work: Callable[[], T]) -> T:
        with self.lock:
            return work()

    def signer(self) -> Wallet:
        if self.key is None:
            raise NoChainKey("the workbench was started without --key: it cannot sign")
        if self.wallet is None:
            self.wallet = self.client.wallet(self.key)
        return self.wallet

    def fresh_signer(self) -> Wallet:
        """The wallet with its nonce read again (after a transaction the node refused)."""
        self.wallet = None
        return self.signer()

    # --- contracts ----------------------------------------------------------------------
    def deploy(self, art: Artifact, args: list[str]) -> dict[str, Any]:
        ctor = next((f["name"] for f in art.abi["functions"] if f["kind"] == "init"), None)
        if ctor is None and args:
            raise BadRequest("the contract has no constructor but arguments were given")
        values = args_from_text(params_of(art.abi, ctor), ctor, args) if ctor else []
        return self._signed(lambda w: self.client.deploy(w, art, *values))

    def call(self, address: bytes, abi: dict[str, Any], fn: str, args: list[str]
             ) -> dict[str, Any]:
        values = args_from_text(params_of(abi, fn), fn, args)
        method = ContractAbi.of(abi).method(fn)
        if method.view:
            contract = self.client.contract(address, abi)
            return {"view": True, "value": plain(contract.fn(fn)(*values))}
        return self._signed(lambda w: self.client.contract(address, abi, wallet=w)
                            .fn(fn)(*values))

    def upgrade(self, address: bytes, old_abi: dict[str, Any], art: Artifact
                ) -> dict[str, Any]:
        return self._signed(lambda w: self.client.contract(address, old_abi, wallet=w)
                            .upgrade(art))

    def _signed(self, send: Callable[[Wallet], ContractReceipt]) -> dict[str, Any]:
        wallet = self.signer()
        try:
            out = send(wallet)
        except Exception:
            self.wallet = None  # the nonce may have moved or not: read it again next time
            raise
        return {"view": False, "contract": out.contract.hex(), "tx_hash": out.tx_hash.hex(),
                "value": plain(out.value), "events": plain(out.events),
                "fuel_used": out.fuel_used}

    # --- explorer -----------------------------------------------------------------------
    def anchor(self) -> dict[str, Any]:
        """What the page checks the records against: the genesis (which the page hashes
        and checks against its pin, or the `--trust-anchor` one in `pin`), the chain, its
        suite, and how its headers are accepted (by the node key the SDK pinned, on a solo
        chain; on a BFT chain by the genesis committee and those that followed, with the
        epoch-change proofs the SDK checked, as `xl_getEpochProofs` gives them)."""
        verifier = self.client.verifier()
        headers = verifier.headers
        pin = None if self.pin is None else self.pin.to_json()
        return {"genesis": self._genesis(), "pin": pin,
                "chain_id": verifier.chain_id, "suite": verifier.suite.name,
                "basis": verifier.basis,
                "node_key": None if verifier.node_key is None else to_json(verifier.node_key),
                "committee": None if headers is None else to_json(headers.roots[0].committee),
                "epochs": [] if headers is None else ["0x" + codec.encode(p).hex()
                                                      for p in headers.proofs]}

    def _genesis(self) -> str:
        """The genesis the verifier was made from (hex of its encoding), for the page to
        hash and to rebuild the anchor from; read once."""
        if self.genesis is None:
            verifier = self.client.verifier()
            info = self.client.chain_info()
            genesis = info.genesis
            if (genesis.hash() != info.genesis_hash or genesis.chain_id != verifier.chain_id
                    or genesis.suite != verifier.suite.name
                    or (self.pin is not None and info.genesis_hash != self.pin.genesis_hash)):
                raise UntrustedChain("the node now serves another genesis than it did")
            self.genesis = codec.encode(genesis)
        return "0x" + self.genesis.hex()

    def certificates(self, heights: list[int]) -> list[Any]:
        """The node's certificates of these heights' headers, as it serves them (None on a
        solo chain, or for a header it holds none for), for the page to check."""
        if self.client.verifier().headers is None:
            return [None] * len(heights)
        found = self.client.call_many([calls.certified_header(h) for h in heights])
        return [None if c is None else to_json(c) for c in found]

    def certified(self, height: int) -> Any:
        return self.certificates([height])[0]

    def overview(self) -> dict[str, Any]:
        status = self.client.status()
        low = max(0, status.height - RECENT_BLOCKS + 1)
        blocks = [self.block_summary(h) for h in range(status.height, low - 1, -1)]
        for block, cert in zip(blocks, self.certificates([b["height"] for b in blocks]),
                               strict=True):
            block["certified"] = cert
        return {"status": plain(status), "verified_by": self.client.verifier().basis,
                "anchor": self.anchor(), "blocks": blocks}

    def block_summary(self, height: int) -> dict[str, Any]:
        view = self.client.block(height)  # verified: its header's signature
        if view is None:
            raise NotFound(f"no block {height}")
        h = view.header
        return {"height": h.height, "hash": view.hash.hex(), "tx_count": h.tx_count,
                "timestamp_ms": h.timestamp_ms, "proof": to_json(view)}

    def block(self, height: int) -> dict[str, Any]:
        view = self.client.block(height)
        if view is None:
            raise NotFound(f"no block {height}")
        return {"verified_by": self.client.verifier().basis, "anchor": self.anchor(),
                "hash": view.hash.hex(), "header": plain(view.header),
                "tx_hashes": plain(view.tx_hashes), "proof": to_json(view),
                "certified": self.certified(height)}

    def transaction(self, tx_hash: bytes, abis: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A transaction and its receipt, proven under a signed header; the events of the
        contracts in `abis` (by address hex) decoded."""
        view = self.client.transaction(tx_hash)
        if view is None:
            raise NotFound(f"no transaction {tx_hash.hex()}")
        receipt = plain(view.receipt)
        receipt["events"] = [_event(e, abis) for e in view.receipt.events]
        return {"verified_by": self.client.verifier().basis, "anchor": self.anchor(),
                "hash": view.hash.hex(), "height": view.height, "index": view.index,
                "sender": view.sender.hex(), "receipt": receipt, "proof": to_json(view),
                "certified": self.certified(view.height)}

    def account(self, address: bytes) -> dict[str, Any]:
        view = self.client.account(address)
        return {"verified_by": self.client.verifier().basis, "anchor": self.anchor(),
                "address": address.hex(), "account": plain(view.account),
                "proof": to_json(view), "certified": self.certified(view.state.header.height)}

    def contract(self, address: bytes) -> dict[str, Any]:
        """The contract's record, ABI and versions; `proof`: the state proof of its record
        alone (the page checks that one; the code and versions are checked here)."""
        info = self.client.contract_info(address)
        versions = self.client.contract_versions(address)
        record = self.client.state_proof(contract_key(address), height=info.height)
        return {"verified_by": self.client.verifier().basis, "anchor": self.anchor(),
                "address": address.hex(), "info": plain(info), "versions": plain(versions),
                "proof": to_json(record), "certified": self.certified(record.header.height)}


def _event(event: Event, abis: dict[str, dict[str, Any]]) -> dict[str, Any]:
    abi = abis.get(event.source.removeprefix("0x"))
    if abi is not None:
        return {"source": event.source, **plain(ContractAbi.of(abi).decode_event(event))}
    return {"source": event.source, "event": event.name, "data": event.data.hex()}
