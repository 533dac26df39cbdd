"""Who may move a blob attribute's payload through a node, and how a request proves it.

The chain holds a blob's commitment in a record (model.py, kind `blob`); the payload lives
off chain in each node's blob store. The RPC is unauthenticated, so a blob request carries
a `BlobAuth`: the caller's public key, an expiry and a nonce, and its signature over

    "xinlian/blob-auth/v1" 0x00 || genesis hash || codec(method, collection, record id,
                                                         attribute, commitment root,
                                                         expiry ms, nonce)

The node checks, against its committed state at the head: the signature; that the expiry
is in the future and at most MAX_AUTH_TTL_MS ahead (replay is bounded by the expiry: a
request can be replayed by whoever saw it until then, to read or upload the same blob of
the same record, nothing else); and that the signer's address is the collection's owner,
one of its readers (`get`) or writers (`put`), directly or as an admin of a listed
organisation. The genesis hash binds a signature to one chain.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import verify
from xinlian.execution.data.model import Collection
from xinlian.execution.errors import BlobAccessDenied
from xinlian.execution.system import ADMIN_PREFIX
from xinlian.ledger.account import address_of

GET, PUT = "get", "put"
MAX_AUTH_TTL_MS = 10 * 60 * 1000
_DOMAIN = b"xinlian/blob-auth/v1\x00"

Read = Callable[[bytes], bytes | None]  # committed state


class BlobAuth(Struct):
    """A signed blob request (module docstring)."""

    public_key: PublicKey
    expiry_ms: int
    nonce: int
    signature: Signature


class _Signed(Struct):
    method: str
    collection: str
    record_id: bytes
    attribute: str
    root: bytes
    expiry_ms: int
    nonce: int


def auth_message(genesis_hash: bytes, method: str, collection: str, record_id: bytes,
                 attribute: str, root: bytes, expiry_ms: int, nonce: int) -> bytes:
    """The bytes a blob request's signature covers."""
    return _DOMAIN + genesis_hash + codec.encode(
        _Signed(method, collection, record_id, attribute, root, expiry_ms, nonce))


def is_member(read: Read, collection: Collection, address: bytes, method: str) -> bool:
    """The owner, a listed reader (GET) or writer (PUT), or an admin of a listed org."""
    if address == collection.owner:
        return True
    members, orgs = ((collection.readers, collection.reader_orgs) if method == GET
                     else (collection.writers, collection.writer_orgs))
    if address in members:
        return True
    org = read(ADMIN_PREFIX + address)
    return org is not None and org.decode() in orgs


def check_auth(read: Read, hasher: Callable[[bytes], bytes], genesis_hash: bytes,
               now_ms: int, collection: Collection, method: str, record_id: bytes,
               attribute: str, root: bytes, auth: BlobAuth | None) -> None:
    """BlobAccessDenied unless `auth` proves a member may `method` this blob now."""
    if auth is None:
        raise BlobAccessDenied(f"a blob {method} in {collection.name!r} needs a signed request")
    if not now_ms < auth.expiry_ms <= now_ms + MAX_AUTH_TTL_MS:
        raise BlobAccessDenied(
            f"the request expires at {auth.expiry_ms} ms; it must be after now ({now_ms}) "
            f"and at most {MAX_AUTH_TTL_MS} ms ahead")
    message = auth_message(genesis_hash, method, collection.name, record_id, attribute, root,
                           auth.expiry_ms, auth.nonce)
    if not verify(auth.public_key, message, auth.signature):
        raise BlobAccessDenied("the blob request's signature does not verify")
    address = address_of(auth.public_key, hasher)
    if not is_member(read, collection, address, method):
        role = "reader" if method == GET else "writer"
        raise BlobAccessDenied(f"0x{address.hex()} is not a {role} of {collection.name!r}")
