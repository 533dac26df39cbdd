"""Key files: a signing key as JSON (suite, algorithm, secret, public key, address).

Written with mode 0600. The address is stored for people to read; on load it is recomputed
from the public key and a mismatch is an error, as is a secret that does not give the
stored public key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xinlian.crypto.errors import CryptoError
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.ledger.account import address_of
from xinlian.node.errors import NodeConfigError


def key_document(suite: Suite, key: SigningKey) -> dict[str, str]:
    return {
        "suite": suite.name,
        "algorithm": key.alg.name,
        "secret": key.to_bytes().hex(),
        "public_key": key.public_key.data.hex(),
        "address": address_of(key.public_key, suite.hash_bytes).hex(),
    }


def write_key(path: Path, suite: Suite, key: SigningKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(key_document(suite, key), f, indent=2)
        f.write("\n")


def read_key(path: Path) -> tuple[Suite, SigningKey]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        suite = get_suite(doc["suite"])
        key = suite.load_signing_key(bytes.fromhex(doc["secret"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NodeConfigError(f"cannot read key file {path}: {exc}") from exc
    except CryptoError as exc:
        raise NodeConfigError(f"key file {path}: {exc.message}") from exc
    if key.public_key.data.hex() != doc.get("public_key"):
        raise NodeConfigError(f"key file {path}: the secret does not match the public key")
    return suite, key


def write_consensus_key(path: Path, suite: Suite, secret: bytes, public: bytes,
                        pop: bytes) -> None:
    """A validator's consensus (vote) key: BLS12-381 on intl, the suite's signature key
    otherwise; `pop` is the BLS proof of possession (empty for suite keys)."""
    doc = {"suite": suite.name, "secret": secret.hex(), "public_key": public.hex(),
           "pop": pop.hex()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def read_consensus_secret(path: Path) -> bytes:
    try:
        return bytes.fromhex(json.loads(Path(path).read_text(encoding="utf-8"))["secret"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NodeConfigError(f"cannot read consensus key file {path}: {exc}") from exc
