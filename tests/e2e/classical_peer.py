"""A peer with a classical (Ed25519) node key dialling the validators of a `pq` network:
run as its own process by tests/e2e/test_pq_identity.py.

    python classical_peer.py GENESIS ADMIN_KEY ORGANISATION HOST:PORT...

It holds the strongest credentials a classical key can have: a membership certificate
signed by a genuine admin of the organisation (the admin's mistake, or a stolen admin key).
For each endpoint it sends the handshake's Hello and prints one JSON line: whether the
validator answered with a Reply or closed the connection.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.ledger.genesis import load_genesis
from xinlian.network import handshake as hs
from xinlian.network.framing import encode_frame
from xinlian.network.identity import issue_certificate
from xinlian.node.keyfile import read_key


def main(genesis_path: str, admin_path: str, organisation: str, *endpoints: str) -> None:
    genesis = load_genesis(Path(genesis_path))
    suite = genesis.crypto_suite()
    _, admin = read_key(Path(admin_path))
    key = get_suite("intl").generate_signing_key()
    now = time.time_ns() // 1_000_000
    cert = issue_certificate(admin, chain_id=genesis.chain_id, organisation=organisation,
                             role="validator", subject=key.public_key, serial=99,
                             not_before_ms=now - 60_000, not_after_ms=now + 86_400_000)
    offer = suite.new_key_exchange(os.urandom).offer()
    hello = codec.encode(hs.Hello(hs.VERSION, suite.name, key.public_key, offer,
                                  os.urandom(hs.NONCE_SIZE), codec.encode(cert)))
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(encode_frame(hello, hs.MAX_HANDSHAKE_FRAME))
            answer = sock.recv(65536)  # a Reply frame, or b"" when the validator hangs up
        print(json.dumps({"endpoint": endpoint, "answered": len(answer)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
