"""Key exchange for secure channels, by algorithm id: X25519 (RFC 7748), ML-KEM-768
(FIPS 203), the SM2 key exchange (GB/T 32918.3), and the hybrids X25519 + ML-KEM-768 and
SM2 key exchange + ML-KEM-768.

Each exchange is one side's ephemeral state, played in the three moves of a channel
handshake between an initiator I and a responder R:

    I  offer()                            the share I sends first
    R  accept(offer, parties)             -> Accepted(share, secret, confirm) for its reply
    I  complete(share, confirm, parties)  -> Completed(secret, confirm), checking R's confirm
    R  check_finish(confirm)              checks I's confirm

`confirm` is empty except for the SM2 exchange, whose tags S_B and S_A prove that both sides
derived the same point. `parties` names both sides' static signing keys; only the SM2
exchange uses them (its secret already depends on both identities), the others leave
authentication to the signatures of the handshake that carries them. The secret is input
keying material for `hashes.hkdf`, never a key by itself.

A malformed share (wrong size, or a tag where the scheme has none) raises MalformedShare;
any other invalid input, such as a low-order X25519 point, a bad ML-KEM key or ciphertext,
or a wrong tag, raises KeyExchangeError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import pqcrypto.kem.ml_kem_768 as _mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from xinlian.crypto.errors import KeyExchangeError, MalformedShare, UnknownAlgorithm
from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.primitives import sm2, sm2_exchange
from xinlian.crypto.signing import SigningKey, classical_part, classical_public

Rng = Callable[[int], bytes]
X25519_SIZE = 32
MLKEM768_PUBLIC_KEY_SIZE = _mlkem.PUBLIC_KEY_SIZE
MLKEM768_CIPHERTEXT_SIZE = _mlkem.CIPHERTEXT_SIZE


@dataclass(frozen=True, slots=True)
class Parties:
    """The two sides' static (membership) keys, and this side's own signing key."""

    own: SigningKey
    initiator_key: PublicKey
    responder_key: PublicKey


@dataclass(frozen=True, slots=True)
class Accepted:
    share: bytes
    secret: bytes
    confirm: bytes


@dataclass(frozen=True, slots=True)
class Completed:
    secret: bytes
    confirm: bytes


class KeyExchange(ABC):
    """One side's ephemeral key-agreement state; use each instance for one exchange."""

    alg: AlgId

    @abstractmethod
    def offer(self) -> bytes:
        """Initiator: the first share."""

    @abstractmethod
    def accept(self, offer: bytes, parties: Parties) -> Accepted:
        """Responder: answer an offer with a share, the secret and a confirmation tag."""

    @abstractmethod
    def complete(self, share: bytes, confirm: bytes, parties: Parties) -> Completed:
        """Initiator: the secret and own confirmation tag, after checking the responder's."""

    def check_finish(self, confirm: bytes) -> None:
        """Responder: check the initiator's confirmation tag (none unless the scheme has tags)."""
        _no_tag(confirm)


def _no_tag(confirm: bytes) -> None:
    if confirm:
        raise MalformedShare("this key exchange carries no confirmation tag")


class X25519Exchange(KeyExchange):
    """Ephemeral X25519 (RFC 7748): each share is a 32-byte public key."""

    alg = AlgId.X25519

    def __init__(self, rng: Rng) -> None:
        self._key = X25519PrivateKey.from_private_bytes(rng(X25519_SIZE))

    def offer(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    def _shared(self, peer: bytes) -> bytes:
        try:
            return self._key.exchange(X25519PublicKey.from_public_bytes(peer))
        except ValueError as exc:  # wrong length, or a low-order point (all-zero secret)
            raise KeyExchangeError(f"bad X25519 share: {exc}") from exc

    def accept(self, offer: bytes, parties: Parties) -> Accepted:
        return Accepted(self.offer(), self._shared(offer), b"")

    def complete(self, share: bytes, confirm: bytes, parties: Parties) -> Completed:
        _no_tag(confirm)
        return Completed(self._shared(share), b"")


class MlKemExchange(KeyExchange):
    """ML-KEM-768 (FIPS 203): the initiator offers an encapsulation key, the responder
    answers with a ciphertext; the secret is the encapsulated 32 bytes."""

    alg = AlgId.ML_KEM_768

    def __init__(self, rng: Rng) -> None:
        # PQClean's key generation and encapsulation draw from the OS's CSPRNG.
        self._secret: bytes | None = None

    def offer(self) -> bytes:
        public, secret = _mlkem.keygen()
        self._secret = bytes(secret)
        return bytes(public)

    def accept(self, offer: bytes, parties: Parties) -> Accepted:
        if len(offer) != MLKEM768_PUBLIC_KEY_SIZE:
            raise MalformedShare(f"an ML-KEM-768 offer is {MLKEM768_PUBLIC_KEY_SIZE} bytes")
        try:
            ciphertext, secret = _mlkem.encaps(offer)
        except ValueError as exc:
            raise KeyExchangeError(f"bad ML-KEM key: {exc}") from exc
        return Accepted(bytes(ciphertext), bytes(secret), b"")

    def complete(self, share: bytes, confirm: bytes, parties: Parties) -> Completed:
        if len(share) != MLKEM768_CIPHERTEXT_SIZE or self._secret is None:
            raise MalformedShare(f"an ML-KEM-768 reply is {MLKEM768_CIPHERTEXT_SIZE} bytes")
        _no_tag(confirm)
        try:
            secret = _mlkem.decaps(self._secret, share)
        except ValueError as exc:
            raise KeyExchangeError(f"bad ML-KEM ciphertext: {exc}") from exc
        return Completed(bytes(secret), b"")


class HybridExchange(KeyExchange):
    """A classical exchange and ML-KEM-768 side by side: shares are classical || ML-KEM, the
    confirmation tags are the classical part's, and the secret is both secrets, so it stays
    safe while either problem stays hard. X25519 + ML-KEM-768 here; `Sm2HybridExchange`
    below puts the SM2 key exchange in the classical place."""

    alg = AlgId.X25519_ML_KEM_768
    _share_size = X25519_SIZE  # the classical part's share (offer and reply alike)

    def __init__(self, rng: Rng) -> None:
        self._classic: KeyExchange = self._classical(rng)
        self._kem = MlKemExchange(rng)

    def _classical(self, rng: Rng) -> KeyExchange:
        return X25519Exchange(rng)

    def offer(self) -> bytes:
        return self._classic.offer() + self._kem.offer()

    def accept(self, offer: bytes, parties: Parties) -> Accepted:
        cut = self._share_size
        if len(offer) != cut + MLKEM768_PUBLIC_KEY_SIZE:
            raise MalformedShare(f"a {self.alg.name} offer is {cut} + 1184 bytes")
        classic = self._classic.accept(offer[:cut], parties)
        kem = self._kem.accept(offer[cut:], parties)
        return Accepted(classic.share + kem.share, classic.secret + kem.secret, classic.confirm)

    def complete(self, share: bytes, confirm: bytes, parties: Parties) -> Completed:
        cut = self._share_size
        if len(share) != cut + MLKEM768_CIPHERTEXT_SIZE:
            raise MalformedShare(f"a {self.alg.name} reply is {cut} + 1088 bytes")
        classic = self._classic.complete(share[:cut], confirm, parties)
        kem = self._kem.complete(share[cut:], b"", parties)
        return Completed(classic.secret + kem.secret, classic.confirm)

    def check_finish(self, confirm: bytes) -> None:
        self._classic.check_finish(confirm)


class Sm2Exchange(KeyExchange):
    """GB/T 32918.3 with the parties' static SM2 keys, and its tags as `confirm`."""

    alg = AlgId.SM2_KEY_EXCHANGE
    _curve = sm2_exchange.SM2_CURVE
    KEY_SIZE = 32

    def __init__(self, rng: Rng) -> None:
        self._r, self._point = sm2_exchange.ephemeral(self._curve, rng)
        self._agreement: sm2_exchange.Agreement | None = None

    def offer(self) -> bytes:
        return self._curve.encode_point(self._point)

    def _agree(self, initiator: bool, peer_share: bytes, parties: Parties,
               ) -> sm2_exchange.Agreement:
        # Composite (SM2 + ML-DSA-65) static keys take part through their SM2 halves.
        own = classical_part(parties.own)
        initiator_key = classical_public(parties.initiator_key)
        responder_key = classical_public(parties.responder_key)
        if not own.alg == initiator_key.alg == responder_key.alg == AlgId.SM2:
            raise KeyExchangeError("the SM2 key exchange needs both parties' SM2 keys")
        peer_key = responder_key if initiator else initiator_key
        self._agreement = sm2_exchange.agree(
            self._curve, initiator=initiator,
            static_private=int.from_bytes(own.secret, "big"),
            ephemeral_private=self._r, own_ephemeral=self._point,
            peer_static=self._curve.decode_point(peer_key.data),
            peer_ephemeral=self._curve.decode_point(peer_share),
            z_initiator=sm2.z_a(initiator_key.data),
            z_responder=sm2.z_a(responder_key.data), key_size=self.KEY_SIZE)
        return self._agreement

    def accept(self, offer: bytes, parties: Parties) -> Accepted:
        agreement = self._agree(False, offer, parties)
        return Accepted(self.offer(), agreement.key, agreement.responder_tag)

    def complete(self, share: bytes, confirm: bytes, parties: Parties) -> Completed:
        agreement = self._agree(True, share, parties)
        agreement.check(confirm, from_initiator=False)
        return Completed(agreement.key, agreement.initiator_tag)

    def check_finish(self, confirm: bytes) -> None:
        if self._agreement is None:
            raise KeyExchangeError("finish before the exchange")
        self._agreement.check(confirm, from_initiator=True)


class Sm2HybridExchange(HybridExchange):
    """The SM2 key exchange (with its tags) and ML-KEM-768: the `hybrid-sm` channel."""

    alg = AlgId.SM2_ML_KEM_768
    _share_size = sm2.PUBLIC_KEY_SIZE

    def _classical(self, rng: Rng) -> KeyExchange:
        return Sm2Exchange(rng)


_EXCHANGES: dict[AlgId, Callable[[Rng], KeyExchange]] = {
    AlgId.X25519: X25519Exchange,
    AlgId.ML_KEM_768: MlKemExchange,
    AlgId.X25519_ML_KEM_768: HybridExchange,
    AlgId.SM2_KEY_EXCHANGE: Sm2Exchange,
    AlgId.SM2_ML_KEM_768: Sm2HybridExchange,
}


def new_key_exchange(alg: AlgId, rng: Rng) -> KeyExchange:
    """A fresh exchange of algorithm `alg` whose ephemeral secrets come from `rng`."""
    try:
        factory = _EXCHANGES[alg]
    except KeyError:
        raise UnknownAlgorithm(f"{alg!r} is not a key-exchange algorithm") from None
    return factory(rng)
