"""The authenticated key exchange that opens every connection (sans-I/O).

Theory of operation. Three messages, initiator I (who dialled) and responder R:

    Hello   I -> R   version, suite, I's signing key, I's key share, nonce
    Reply   R -> I   R's signing key, R's key share, nonce, confirm, sig_R(th_R)
    Finish  I -> R   confirm, sig_I(th_I)

th_R = H("responder" || H(Hello) || H(Reply body)) and th_I = H("initiator" || H(Hello) ||
H(Reply) || H(confirm)), with H the suite's hash. Each side proves possession of its
membership key by signing a transcript that contains the other side's fresh share and
nonce, so a recorded handshake cannot be replayed; R refuses any key that is not in the
membership before doing any key-agreement work, and I refuses a Reply whose key is not the
one configured for the node it dialled. Both then run HKDF (suite hash) with the secret as
input keying material and the hash of the whole transcript as salt, and split the output
into one AEAD key per direction.

Key shares by suite:
- `intl`: X25519.
- `pq`: X25519 and ML-KEM-768 (I sends both public keys, R answers with its X25519 key and
  the ML-KEM ciphertext); the secret is both shared secrets, so it stays safe while either
  problem stays hard.
- `sm`: the SM2 key exchange of GB/T 32918.3 with the membership keys as static keys, so
  the secret already depends on both identities; `confirm` carries its tags S_B and S_A.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pqcrypto.kem.ml_kem_768 as mlkem
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.symmetric import KEY_SIZES
from xinlian.crypto.signing import SigningKey, check_public_key, verify
from xinlian.crypto.suites import Suite
from xinlian.network import sm2_exchange
from xinlian.network.errors import HandshakeError, KeyExchangeError, MalformedFrame, Unauthenticated
from xinlian.network.membership import Membership
from xinlian.protocol import NodeId

VERSION = 1
NONCE_SIZE = 32
MAX_HANDSHAKE_FRAME = 16 * 1024
_DOMAIN = b"xinlian/net/v1/"
_HKDF_HASHES: dict[AlgId, hashes.HashAlgorithm] = {
    AlgId.SM3: hashes.SM3(), AlgId.SHA256: hashes.SHA256(), AlgId.SHA3_256: hashes.SHA3_256()}
Rng = Callable[[int], bytes]
T = TypeVar("T")


class Hello(Struct):
    version: int
    suite: str
    key: PublicKey
    share: bytes
    nonce: bytes


class ReplyBody(Struct):
    key: PublicKey
    share: bytes
    nonce: bytes
    confirm: bytes


class Reply(Struct):
    body: ReplyBody
    signature: Signature


class Finish(Struct):
    confirm: bytes
    signature: Signature


@dataclass(frozen=True, slots=True)
class Session:
    """The outcome of a handshake: who the peer is and the two directional AEAD keys."""

    peer_id: NodeId
    peer_key: PublicKey
    aead: AlgId
    send_key: bytes
    recv_key: bytes


def _decode(data: bytes, kind: type[T]) -> T:
    try:
        return codec.decode(data, kind)
    except codec.CodecError as exc:
        raise MalformedFrame(f"bad {kind.__name__}: {exc.message}") from exc


# -- key shares by suite ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Parties:
    own: SigningKey
    initiator_key: PublicKey
    responder_key: PublicKey


class _Exchange(ABC):
    """One side's ephemeral key-agreement state."""

    @abstractmethod
    def offer(self) -> bytes:
        """The initiator's share for Hello."""

    @abstractmethod
    def accept(self, offer: bytes, parties: _Parties) -> tuple[bytes, bytes, bytes]:
        """Responder: (share for Reply, secret, confirm for Reply)."""

    @abstractmethod
    def complete(self, share: bytes, confirm: bytes, parties: _Parties) -> tuple[bytes, bytes]:
        """Initiator: (secret, confirm for Finish), after checking the responder's confirm."""

    def check_finish(self, confirm: bytes) -> None:
        """Responder: check the initiator's confirm (empty unless the exchange has tags)."""
        if confirm:
            raise MalformedFrame("this suite carries no confirmation tag")


def _x25519(private: X25519PrivateKey, peer: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer))
    except ValueError as exc:  # wrong length, or a low-order point (all-zero secret)
        raise HandshakeError(f"bad X25519 share: {exc}") from exc


class _X25519Exchange(_Exchange):
    def __init__(self, rng: Rng) -> None:
        self._key = X25519PrivateKey.from_private_bytes(rng(32))

    def _public(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    def offer(self) -> bytes:
        return self._public()

    def accept(self, offer: bytes, parties: _Parties) -> tuple[bytes, bytes, bytes]:
        return self._public(), _x25519(self._key, offer), b""

    def complete(self, share: bytes, confirm: bytes, parties: _Parties) -> tuple[bytes, bytes]:
        if confirm:
            raise MalformedFrame("this suite carries no confirmation tag")
        return _x25519(self._key, share), b""


class _HybridExchange(_Exchange):
    """X25519 + ML-KEM-768; the secret is x25519_secret || mlkem_secret."""

    def __init__(self, rng: Rng) -> None:
        self._classic = _X25519Exchange(rng)
        self._kem: tuple[bytes, bytes] | None = None

    def offer(self) -> bytes:
        public, secret = mlkem.keygen()
        self._kem = (public, secret)
        return self._classic.offer() + public

    def accept(self, offer: bytes, parties: _Parties) -> tuple[bytes, bytes, bytes]:
        if len(offer) != 32 + mlkem.PUBLIC_KEY_SIZE:
            raise MalformedFrame("a hybrid offer is 32 + 1184 bytes")
        share, classic, _ = self._classic.accept(offer[:32], parties)
        try:
            ciphertext, kem_secret = mlkem.encaps(offer[32:])
        except ValueError as exc:
            raise HandshakeError(f"bad ML-KEM key: {exc}") from exc
        return share + ciphertext, classic + kem_secret, b""

    def complete(self, share: bytes, confirm: bytes, parties: _Parties) -> tuple[bytes, bytes]:
        if len(share) != 32 + mlkem.CIPHERTEXT_SIZE or self._kem is None:
            raise MalformedFrame("a hybrid reply is 32 + 1088 bytes")
        classic, _ = self._classic.complete(share[:32], confirm, parties)
        try:
            kem_secret = mlkem.decaps(self._kem[1], share[32:])
        except ValueError as exc:
            raise HandshakeError(f"bad ML-KEM ciphertext: {exc}") from exc
        return classic + kem_secret, b""


class _Sm2Exchange(_Exchange):
    """GB/T 32918.3 with the membership SM2 keys as static keys and tags in `confirm`."""

    _curve = sm2_exchange.SM2_CURVE

    def __init__(self, rng: Rng) -> None:
        self._r, self._point = sm2_exchange.ephemeral(self._curve, rng)
        self._agreement: sm2_exchange.Agreement | None = None

    def offer(self) -> bytes:
        return self._curve.encode_point(self._point)

    def _agree(self, initiator: bool, peer_share: bytes, parties: _Parties,
               ) -> sm2_exchange.Agreement:
        peer_key = parties.responder_key if initiator else parties.initiator_key
        self._agreement = sm2_exchange.agree(
            self._curve, initiator=initiator,
            static_private=int.from_bytes(parties.own.secret, "big"),
            ephemeral_private=self._r, own_ephemeral=self._point,
            peer_static=self._curve.decode_point(peer_key.data),
            peer_ephemeral=self._curve.decode_point(peer_share),
            z_initiator=sm2.z_a(parties.initiator_key.data),
            z_responder=sm2.z_a(parties.responder_key.data), key_size=32)
        return self._agreement

    def accept(self, offer: bytes, parties: _Parties) -> tuple[bytes, bytes, bytes]:
        agreement = self._agree(False, offer, parties)
        return self.offer(), agreement.key, agreement.responder_tag

    def complete(self, share: bytes, confirm: bytes, parties: _Parties) -> tuple[bytes, bytes]:
        agreement = self._agree(True, share, parties)
        agreement.check(confirm, from_initiator=False)
        return agreement.key, agreement.initiator_tag

    def check_finish(self, confirm: bytes) -> None:
        if self._agreement is None:
            raise HandshakeError("finish before the exchange")
        self._agreement.check(confirm, from_initiator=True)


_EXCHANGES: dict[str, Callable[[Rng], _Exchange]] = {
    "intl": _X25519Exchange, "pq": _HybridExchange, "sm": _Sm2Exchange,
}


def _exchange(suite: Suite, rng: Rng) -> _Exchange:
    try:
        return _EXCHANGES[suite.name](rng)
    except KeyError:
        raise HandshakeError(f"no channel key exchange for suite {suite.name!r}") from None


# -- the handshake ------------------------------------------------------------------------

class _Side:
    def __init__(self, suite: Suite, key: SigningKey, rng: Rng) -> None:
        if key.alg != suite.signature:
            raise HandshakeError(f"a {suite.name} node signs with {suite.signature.name}")
        self.suite = suite
        self.key = key
        self.rng = rng
        self.exchange = _exchange(suite, rng)

    def _h(self, *parts: bytes) -> bytes:
        return self.suite.hash_bytes(b"".join(parts))

    def _check_key(self, key: PublicKey) -> None:
        if key.alg != self.suite.signature:
            raise Unauthenticated(f"peer key is {key.alg!r}, not {self.suite.signature.name}")
        try:
            check_public_key(key)
        except CryptoError as exc:
            raise Unauthenticated(f"peer key is invalid: {exc.message}") from exc

    def _verify(self, key: PublicKey, message: bytes, signature: Signature) -> None:
        try:
            ok = verify(key, message, signature)
        except CryptoError:
            ok = False
        if not ok:
            raise Unauthenticated("the handshake signature does not verify")

    def _session(self, peer_id: NodeId, peer_key: PublicKey, secret: bytes, hello: bytes,
                 reply: bytes, finish: bytes, initiator: bool) -> Session:
        size = KEY_SIZES[self.suite.aead]
        okm = HKDF(_HKDF_HASHES[self.suite.hash], 2 * size,
                   salt=self._h(self._h(hello), self._h(reply), self._h(finish)),
                   info=_DOMAIN + b"keys/" + self.suite.name.encode()).derive(secret)
        i2r, r2i = okm[:size], okm[size:]
        send, recv = (i2r, r2i) if initiator else (r2i, i2r)
        return Session(peer_id, peer_key, self.suite.aead, send, recv)

    def _responder_transcript(self, hello: bytes, body: bytes) -> bytes:
        return self._h(_DOMAIN + b"responder", self._h(hello), self._h(body))

    def _initiator_transcript(self, hello: bytes, reply: bytes, confirm: bytes) -> bytes:
        return self._h(_DOMAIN + b"initiator", self._h(hello), self._h(reply),
                       self._h(confirm))


class Initiator(_Side):
    """The dialling side: `hello()`, then `finish(reply)` gives (Finish bytes, Session)."""

    def __init__(self, suite: Suite, key: SigningKey, peer_id: NodeId, peer_key: PublicKey,
                 rng: Rng = os.urandom) -> None:
        super().__init__(suite, key, rng)
        self.peer_id = peer_id
        self.peer_key = peer_key
        self._hello: bytes | None = None

    def hello(self) -> bytes:
        self._hello = codec.encode(Hello(VERSION, self.suite.name, self.key.public_key,
                                         self.exchange.offer(), self.rng(NONCE_SIZE)))
        return self._hello

    def finish(self, data: bytes) -> tuple[bytes, Session]:
        if self._hello is None:
            raise HandshakeError("finish() before hello()")
        reply = _decode(data, Reply)
        body = reply.body
        if body.key != self.peer_key:
            raise Unauthenticated("the responder is not the node we dialled")
        if len(body.nonce) != NONCE_SIZE:
            raise MalformedFrame("bad nonce")
        self._verify(body.key, self._responder_transcript(self._hello, codec.encode(body)),
                     reply.signature)
        parties = _Parties(self.key, self.key.public_key, self.peer_key)
        try:
            secret, confirm = self.exchange.complete(body.share, body.confirm, parties)
        except KeyExchangeError as exc:
            raise HandshakeError(exc.message) from exc
        signature = self.key.sign(self._initiator_transcript(self._hello, data, confirm))
        finish = codec.encode(Finish(confirm, signature))
        return finish, self._session(self.peer_id, self.peer_key, secret, self._hello, data,
                                     finish, initiator=True)


class Responder(_Side):
    """The accepting side: `reply(hello)`, then `finish(data)` gives the Session."""

    def __init__(self, suite: Suite, key: SigningKey, membership: Membership,
                 rng: Rng = os.urandom) -> None:
        super().__init__(suite, key, rng)
        self.membership = membership
        self._state: tuple[bytes, bytes, bytes, NodeId, PublicKey] | None = None

    def reply(self, data: bytes) -> bytes:
        hello = _decode(data, Hello)
        if hello.version != VERSION or hello.suite != self.suite.name:
            raise HandshakeError(f"peer speaks v{hello.version}/{hello.suite!r}, "
                                 f"we speak v{VERSION}/{self.suite.name!r}")
        if len(hello.nonce) != NONCE_SIZE:
            raise MalformedFrame("bad nonce")
        peer_id = self.membership.node_id(hello.key)
        if peer_id is None:
            raise Unauthenticated("the initiator's key is not in the membership")
        self._check_key(hello.key)
        parties = _Parties(self.key, hello.key, self.key.public_key)
        try:
            share, secret, confirm = self.exchange.accept(hello.share, parties)
        except KeyExchangeError as exc:
            raise HandshakeError(exc.message) from exc
        body = ReplyBody(self.key.public_key, share, self.rng(NONCE_SIZE), confirm)
        signature = self.key.sign(self._responder_transcript(data, codec.encode(body)))
        reply = codec.encode(Reply(body, signature))
        self._state = (data, reply, secret, peer_id, hello.key)
        return reply

    def finish(self, data: bytes) -> Session:
        if self._state is None:
            raise HandshakeError("finish() before reply()")
        hello, reply, secret, peer_id, peer_key = self._state
        finish = _decode(data, Finish)
        self._verify(peer_key, self._initiator_transcript(hello, reply, finish.confirm),
                     finish.signature)
        try:
            self.exchange.check_finish(finish.confirm)
        except KeyExchangeError as exc:
            raise HandshakeError(exc.message) from exc
        return self._session(peer_id, peer_key, secret, hello, reply, data, initiator=False)
