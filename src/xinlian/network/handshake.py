"""The authenticated key exchange that opens every connection (sans-I/O).

Theory of operation. Three messages, initiator I (who dialled) and responder R:

    Hello   I -> R   version, suite, I's signing key, I's key share, nonce, I's certificate
    Reply   R -> I   R's signing key, R's key share, nonce, confirm, R's certificate,
                     sig_R(th_R)
    Finish  I -> R   confirm, sig_I(th_I)

th_R = H("responder" || H(Hello) || H(Reply body)) and th_I = H("initiator" || H(Hello) ||
H(Reply) || H(confirm)), with H the suite's hash. Each side proves possession of its
membership key by signing a transcript that contains the other side's fresh share and
nonce, so a recorded handshake cannot be replayed; R refuses any key that is not in the
membership before doing any key-agreement work, and I refuses a Reply whose key is not the
one configured for the node it dialled. The session id is H("session" || H(Hello) ||
H(Reply body)): both nonces, both key shares and both certificates, all of which both
signatures cover. Both then run HKDF (suite hash) with the secret as
input keying material and the hash of the whole transcript as salt, and split the output
into one AEAD key per direction.

The key shares are those of the suite's key exchange (`xinlian.crypto.key_exchange`):
X25519 on `intl`; X25519 and ML-KEM-768 on `pq` (I sends both public keys, R answers with
its X25519 key and the ML-KEM ciphertext); on `sm` the SM2 key exchange of GB/T 32918.3 with
the membership keys as static keys, whose tags S_B and S_A travel in `confirm`.

Certificates (`xinlian.network.identity`). A side given an `Identity` sends its membership
certificate and requires one from the peer: the peer's certificate must be signed by an
admin of an organisation in the genesis, be inside its validity window by this node's
clock (`now_ms`, with the policy's skew), not be on a revocation list the node holds,
name the organisation the membership says owns the peer, and certify exactly the key that
signs the transcript. On a post-quantum suite a classical-only
peer key is refused with `ClassicalIdentity` before any other work.

Across a suite migration (docs/pq.md, "Migration without a fork") a member may hold two
keys, its old one and the one it registered, and the membership admits two session
suites. The initiator names the suite of the key it signs with in Hello (its rotated key:
the target suite, whose key exchange is the hybrid X25519 + ML-KEM-768 one on `pq` and the
hybrids); the responder runs that suite's key exchange, hash and AEAD if its membership
admits it and signs with its own key of that suite's algorithm when it has one (else with
its id key), so a peer that has not learnt the other's rotated key still reaches it with
the old pair. Each side accepts exactly the keys the membership lists for the other, and
refuses classical-only keys once every admitted suite is post-quantum.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError, KeyExchangeError, MalformedShare
from xinlian.crypto.key_exchange import Parties
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.primitives.symmetric import KEY_SIZES
from xinlian.crypto.signing import SigningKey, check_public_key, verify
from xinlian.crypto.suites import Suite
from xinlian.network.errors import (
    CertificateRefused,
    HandshakeError,
    MalformedFrame,
    Unauthenticated,
)
from xinlian.network.identity import (
    Certificate,
    CertificateBody,
    IdentityPolicy,
    decode_certificate,
    refuse_classical,
)
from xinlian.network.membership import Membership
from xinlian.protocol import NodeId

VERSION = 1
NONCE_SIZE = 32
MAX_HANDSHAKE_FRAME = 24 * 1024  # a Reply with a certificate of MAX_CERTIFICATE fits
_DOMAIN = b"xinlian/net/v1/"
Rng = Callable[[int], bytes]
T = TypeVar("T")


class Hello(Struct):
    version: int
    suite: str
    key: PublicKey
    share: bytes
    nonce: bytes
    certificate: bytes = b""  # an encoded identity.Certificate, or empty


class ReplyBody(Struct):
    key: PublicKey
    share: bytes
    nonce: bytes
    confirm: bytes
    certificate: bytes = b""


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
    session_id: bytes
    # the peer's checked certificate, when the handshake ran with an Identity
    peer_certificate: CertificateBody | None = None
    suite: str = ""  # the session's suite: its key exchange, hash and AEAD


@dataclass(frozen=True, slots=True)
class Identity:
    """This node's membership certificate and the policy it checks its peers' against."""

    certificate: Certificate
    policy: IdentityPolicy


def _decode(data: bytes, kind: type[T]) -> T:
    try:
        return codec.decode(data, kind)
    except codec.CodecError as exc:
        raise MalformedFrame(f"bad {kind.__name__}: {exc.message}") from exc


@contextmanager
def _exchange_errors() -> Iterator[None]:
    """The key exchange's typed errors as the handshake's: a wrongly sized share is a
    malformed frame, any other failure a failed handshake."""
    try:
        yield
    except MalformedShare as exc:
        raise MalformedFrame(exc.message) from exc
    except KeyExchangeError as exc:
        raise HandshakeError(exc.message) from exc


# -- the handshake ------------------------------------------------------------------------

class _Side:
    def __init__(self, suite: Suite, key: SigningKey, rng: Rng, identity: Identity | None,
                 now_ms: int, post_quantum_only: bool) -> None:
        if identity is not None and identity.certificate.body.subject != key.public_key:
            raise HandshakeError("this node's certificate is for another key")
        self.suite = suite
        self.key = key
        self.rng = rng
        self.identity = identity
        self.now_ms = now_ms
        self.post_quantum_only = post_quantum_only
        self.exchange = suite.new_key_exchange(rng)

    def _own_certificate(self) -> bytes:
        return b"" if self.identity is None else codec.encode(self.identity.certificate)

    def _check_certificate(self, data: bytes, key: PublicKey,
                           organisation: str) -> CertificateBody | None:
        if self.identity is None:
            return None
        if not data:
            raise CertificateRefused("the peer presented no membership certificate")
        body = self.identity.policy.check(decode_certificate(data), key, self.now_ms)
        if organisation and body.organisation != organisation:
            raise CertificateRefused(f"the certificate is {body.organisation!r}'s; the "
                                     f"membership says the node is {organisation!r}'s")
        return body

    def _h(self, *parts: bytes) -> bytes:
        return self.suite.hash_bytes(b"".join(parts))

    def _check_key(self, key: PublicKey) -> None:
        if self.post_quantum_only:
            refuse_classical(self.suite, key, "the peer key")
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

    def _session_id(self, hello: bytes, body: bytes) -> bytes:
        return self._h(_DOMAIN + b"session", self._h(hello), self._h(body))

    def _session(self, peer_id: NodeId, peer_key: PublicKey, secret: bytes, hello: bytes,
                 reply: bytes, finish: bytes, initiator: bool, session_id: bytes,
                 peer_certificate: CertificateBody | None) -> Session:
        size = KEY_SIZES[self.suite.aead]
        okm = self.suite.derive_keys(
            secret, salt=self._h(self._h(hello), self._h(reply), self._h(finish)),
            info=_DOMAIN + b"keys/" + self.suite.name.encode(), length=2 * size)
        i2r, r2i = okm[:size], okm[size:]
        send, recv = (i2r, r2i) if initiator else (r2i, i2r)
        return Session(peer_id, peer_key, self.suite.aead, send, recv, session_id,
                       peer_certificate, self.suite.name)

    def _responder_transcript(self, hello: bytes, body: bytes) -> bytes:
        return self._h(_DOMAIN + b"responder", self._h(hello), self._h(body))

    def _initiator_transcript(self, hello: bytes, reply: bytes, confirm: bytes) -> bytes:
        return self._h(_DOMAIN + b"initiator", self._h(hello), self._h(reply),
                       self._h(confirm))


class Initiator(_Side):
    """The dialling side: `hello()`, then `finish(reply)` gives (Finish bytes, Session)."""

    def __init__(self, suite: Suite, key: SigningKey, peer_id: NodeId,
                 peer_key: PublicKey | Sequence[PublicKey], rng: Rng = os.urandom, *,
                 identity: Identity | None = None, now_ms: int = 0,
                 peer_organisation: str = "", post_quantum_only: bool | None = None) -> None:
        """`suite`: the session's, whose signature algorithm `key` must be; `peer_key`: the
        key (or keys) the dialled node may answer with; `identity`, `now_ms` (this node's
        clock) and `peer_organisation` (the dialled node's owner in the membership): see
        the module docstring; `post_quantum_only`: refuse a classical-only peer key
        (default: on a post-quantum suite)."""
        if key.alg != suite.signature:
            raise HandshakeError(f"a {suite.name} node signs with {suite.signature.name}")
        super().__init__(suite, key, rng, identity, now_ms,
                         suite.post_quantum if post_quantum_only is None else post_quantum_only)
        self.peer_id = peer_id
        self.peer_keys = ((peer_key,) if isinstance(peer_key, PublicKey)
                          else tuple(peer_key))
        self.peer_organisation = peer_organisation
        self._hello: bytes | None = None

    def hello(self) -> bytes:
        self._hello = codec.encode(Hello(VERSION, self.suite.name, self.key.public_key,
                                         self.exchange.offer(), self.rng(NONCE_SIZE),
                                         self._own_certificate()))
        return self._hello

    def finish(self, data: bytes) -> tuple[bytes, Session]:
        if self._hello is None:
            raise HandshakeError("finish() before hello()")
        reply = _decode(data, Reply)
        body = reply.body
        if body.key not in self.peer_keys:
            raise Unauthenticated("the responder is not the node we dialled")
        if len(body.nonce) != NONCE_SIZE:
            raise MalformedFrame("bad nonce")
        self._check_key(body.key)
        certified = self._check_certificate(body.certificate, body.key,
                                            self.peer_organisation)
        encoded_body = codec.encode(body)
        self._verify(body.key, self._responder_transcript(self._hello, encoded_body),
                     reply.signature)
        parties = Parties(self.key, self.key.public_key, body.key)
        with _exchange_errors():
            completed = self.exchange.complete(body.share, body.confirm, parties)
        secret, confirm = completed.secret, completed.confirm
        signature = self.key.sign(self._initiator_transcript(self._hello, data, confirm))
        finish = codec.encode(Finish(confirm, signature))
        return finish, self._session(self.peer_id, body.key, secret, self._hello, data,
                                     finish, True, self._session_id(self._hello, encoded_body),
                                     certified)


class Responder(_Side):
    """The accepting side: `reply(hello)`, then `finish(data)` gives the Session."""

    def __init__(self, suite: Suite, key: SigningKey, membership: Membership,
                 rng: Rng = os.urandom, *, identity: Identity | None = None,
                 now_ms: int = 0, keys: Sequence[SigningKey] = ()) -> None:
        """`identity` and `now_ms` (this node's clock): see the module docstring; `keys`:
        the keys this node may answer with (default: `key`, its id key), one per suite."""
        super().__init__(suite, key, rng, identity, now_ms, membership.post_quantum_only)
        self.membership = membership
        self.keys = tuple(keys) or (key,)
        self._state: _Pending | None = None

    def _enter(self, name: str) -> None:
        """Run the session with the suite the Hello names, if the membership admits it."""
        suite = self.membership.session_suite(name)
        if suite is None:
            admitted = [s.name for s in self.membership.sessions]
            raise HandshakeError(f"peer speaks {name!r}, we admit {admitted}")
        if suite != self.suite:
            self.suite = suite
            self.exchange = suite.new_key_exchange(self.rng)
        if self.identity is None:  # a certificate names one key: that one answers
            self.key = next((k for k in self.keys if k.alg == suite.signature), self.key)

    def reply(self, data: bytes) -> bytes:
        hello = _decode(data, Hello)
        if hello.version != VERSION:
            raise HandshakeError(f"peer speaks v{hello.version}, we speak v{VERSION}")
        self._enter(hello.suite)
        if len(hello.nonce) != NONCE_SIZE:
            raise MalformedFrame("bad nonce")
        self._check_key(hello.key)
        peer_id = self.membership.node_id(hello.key)
        member = None if peer_id is None else self.membership.peer(peer_id)
        if peer_id is None or member is None:
            raise Unauthenticated("the initiator's key is not in the membership")
        certified = self._check_certificate(hello.certificate, hello.key, member.organisation)
        parties = Parties(self.key, hello.key, self.key.public_key)
        with _exchange_errors():
            accepted = self.exchange.accept(hello.share, parties)
        secret = accepted.secret
        body = ReplyBody(self.key.public_key, accepted.share, self.rng(NONCE_SIZE),
                         accepted.confirm, self._own_certificate())
        encoded_body = codec.encode(body)
        signature = self.key.sign(self._responder_transcript(data, encoded_body))
        reply = codec.encode(Reply(body, signature))
        self._state = _Pending(data, reply, secret, peer_id, hello.key,
                               self._session_id(data, encoded_body), certified)
        return reply

    def finish(self, data: bytes) -> Session:
        if self._state is None:
            raise HandshakeError("finish() before reply()")
        state = self._state
        finish = _decode(data, Finish)
        self._verify(state.peer_key,
                     self._initiator_transcript(state.hello, state.reply, finish.confirm),
                     finish.signature)
        with _exchange_errors():
            self.exchange.check_finish(finish.confirm)
        return self._session(state.peer_id, state.peer_key, state.secret, state.hello,
                             state.reply, data, False, state.session_id, state.certified)


@dataclass(frozen=True, slots=True)
class _Pending:
    """What the responder keeps between its Reply and the initiator's Finish."""

    hello: bytes
    reply: bytes
    secret: bytes
    peer_id: NodeId
    peer_key: PublicKey
    session_id: bytes
    certified: CertificateBody | None
