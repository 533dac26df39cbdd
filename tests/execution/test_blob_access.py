"""The blob access rule (execution/data/blob_access.py): a signed request of a listed reader
(downloads) or writer (uploads), directly or through an organisation it administers, for
one chain, method and blob, until its expiry; every other request is BlobAccessDenied."""

from __future__ import annotations

import pytest

from xinlian.crypto.keys import AlgId
from xinlian.crypto.signing import SigningKey, generate_signing_key
from xinlian.crypto.suites import get_suite
from xinlian.execution.data.blob_access import (
    GET,
    MAX_AUTH_TTL_MS,
    PUT,
    BlobAuth,
    auth_message,
    check_auth,
)
from xinlian.execution.data.model import Attribute, Collection
from xinlian.execution.errors import BlobAccessDenied
from xinlian.execution.system import ADMIN_PREFIX
from xinlian.ledger.account import address_of

HASH = get_suite("sm").hash_bytes
GENESIS = b"\x11" * 32
ROOT = b"\x22" * 32
NOW = 1_000_000


def key(seed: int) -> SigningKey:
    return generate_signing_key(AlgId.SM2, bytes([seed]) * 32)


OWNER, READER, WRITER, ADMIN, STRANGER = (key(i) for i in range(1, 6))


def addr(k: SigningKey) -> bytes:
    return address_of(k.public_key, HASH)


COLLECTION = Collection("scans", addr(OWNER), [Attribute("scan", "blob", "none")],
                        [addr(WRITER)], [], [addr(READER)], ["clinic"], 1, 1)
STATE = {ADMIN_PREFIX + addr(ADMIN): b"clinic"}


def signed(k: SigningKey, method: str, *, expiry: int = NOW + 60_000, genesis: bytes = GENESIS,
           root: bytes = ROOT, record: bytes = b"r1") -> BlobAuth:
    message = auth_message(genesis, method, "scans", record, "scan", root, expiry, 7)
    return BlobAuth(k.public_key, expiry, 7, k.sign(message))


def check(method: str, auth: BlobAuth | None) -> None:
    check_auth(STATE.get, HASH, GENESIS, NOW, COLLECTION, method, b"r1", "scan", ROOT, auth)


def test_members_are_let_through() -> None:
    for member in (OWNER, READER, ADMIN):
        check(GET, signed(member, GET))
    for member in (OWNER, WRITER):
        check(PUT, signed(member, PUT))


@pytest.mark.parametrize("auth", [
    None,
    signed(STRANGER, GET),                       # not a reader
    signed(WRITER, GET),                         # a writer is no reader
    signed(READER, PUT),                         # signed for another method
    signed(READER, GET, genesis=b"\x33" * 32),   # for another chain
    signed(READER, GET, root=b"\x44" * 32),      # for another blob
    signed(READER, GET, record=b"r2"),           # for another record
    signed(READER, GET, expiry=NOW),             # expired
    signed(READER, GET, expiry=NOW + MAX_AUTH_TTL_MS + 1),  # valid too far ahead
])
def test_everything_else_is_denied(auth: BlobAuth | None) -> None:
    with pytest.raises(BlobAccessDenied):
        check(GET, auth)


def test_a_forged_signature_is_denied() -> None:
    good = signed(READER, GET)
    forged = BlobAuth(good.public_key, good.expiry_ms, good.nonce + 1, good.signature)
    with pytest.raises(BlobAccessDenied, match="signature"):
        check(GET, forged)
