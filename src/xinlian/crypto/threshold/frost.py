"""FROST threshold Schnorr signatures, as specified in RFC 9591.

Two ciphersuites: FROST(Ed25519, SHA-512), whose signatures are ordinary Ed25519
signatures (RFC 8032), and FROST(secp256k1, SHA-256), whose signatures are (R, z) with R a
33-byte SEC1 point. Function names follow the RFC (§4 helpers, §5 protocol), so a reviewer
can read them side by side: `commit` is round one, `sign` round two, `aggregate` the
coordinator's last step, and `verify_signature_share` identifies misbehaving signers.

`SigningPackage` is the coordinator's message to the signers (message + commitment list)
and caches the binding factors, group commitment and challenge that both sides compute.
Nonces are single-use: `SigningNonces.take()` hands them out once and zeroes them.
Wire forms (`Wire*`) are canonical codec records; their `to_*` functions validate every
point and scalar at the boundary and raise typed errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.crypto.primitives.groups import (
    ED25519,
    SECP256K1,
    DistributedCryptoError,
    Element,
    Group,
    GroupError,
    Rng,
    Scalar,
    lagrange_coefficient,
)
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.dkg import (  # trusted dealer, RFC 9591 App. C
    share_polynomial as share_polynomial,
)
from xinlian.crypto.threshold.dkg import (
    share_secret as share_secret,
)


class FrostError(DistributedCryptoError):
    """Root of the FROST errors (820x)."""

    code = 8200
    name = "frost_error"


class InvalidSignatureShareError(FrostError):
    """One or more signature shares fail verification; `culprits` names their senders."""

    code = 8201
    name = "invalid_signature_share"

    def __init__(self, culprits: Sequence[int], message: str = "") -> None:
        self.culprits = sorted(culprits)
        super().__init__(message or f"invalid signature shares from {self.culprits}")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "culprits": self.culprits}


class InvalidCommitmentListError(FrostError):
    """Commitment list unsorted, with duplicates, unknown signers or too few signers."""

    code = 8202
    name = "invalid_commitment_list"


class NonceReuseError(FrostError):
    """A signer was asked to use nonces it has already used, or that are not its own."""

    code = 8203
    name = "nonce_reuse"


class InvalidIdentifierError(FrostError):
    """Identifier zero, out of range, or not a member of the key."""

    code = 8204
    name = "invalid_identifier"


class MissingSignatureShareError(FrostError):
    """Aggregation was asked for without a share from every listed signer."""

    code = 8205
    name = "missing_signature_share"


@dataclass(frozen=True)
class Ciphersuite:
    """An RFC 9591 ciphersuite: a group, its hash, and the context string for H1..H5."""

    name: str
    context: bytes
    group: Group
    challenge_dst: bytes  # empty for Ed25519: H2 is plain SHA-512 for RFC 8032 compatibility

    def h1(self, m: bytes) -> Scalar:
        return self.group.hash_to_scalar(self.context + b"rho", m)

    def h2(self, m: bytes) -> Scalar:
        return self.group.hash_to_scalar(self.challenge_dst, m)

    def h3(self, m: bytes) -> Scalar:
        return self.group.hash_to_scalar(self.context + b"nonce", m)

    def h4(self, m: bytes) -> bytes:
        return self.group.digest(self.context + b"msg" + m)

    def h5(self, m: bytes) -> bytes:
        return self.group.digest(self.context + b"com" + m)

    @property
    def signature_size(self) -> int:
        return self.group.element_size + self.group.scalar_size


FROST_ED25519 = Ciphersuite("FROST(Ed25519, SHA-512)", b"FROST-ED25519-SHA512-v1", ED25519, b"")
FROST_SECP256K1 = Ciphersuite("FROST(secp256k1, SHA-256)", b"FROST-secp256k1-SHA256-v1",
                              SECP256K1, b"FROST-secp256k1-SHA256-v1chal")
CIPHERSUITES = {s.group.name: s for s in (FROST_ED25519, FROST_SECP256K1)}


def suite_for(group: Group) -> Ciphersuite:
    try:
        return CIPHERSUITES[group.name]
    except KeyError:
        raise FrostError(f"no FROST ciphersuite over {group.name}") from None


# -- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningCommitments:
    """Round-one output of one signer: (D_i, E_i) = (d_i*G, e_i*G)."""

    identifier: int
    hiding: Element
    binding: Element


@dataclass
class SigningNonces:
    """The secret (d_i, e_i) behind a `SigningCommitments`; usable exactly once."""

    commitments: SigningCommitments
    _hiding: Scalar | None
    _binding: Scalar | None

    def take(self) -> tuple[Scalar, Scalar]:
        if self._hiding is None or self._binding is None:
            raise NonceReuseError("these signing nonces were already used")
        pair = (self._hiding, self._binding)
        self._hiding = self._binding = None
        return pair

    @property
    def used(self) -> bool:
        return self._hiding is None

    def __repr__(self) -> str:
        return f"SigningNonces(id={self.commitments.identifier}, used={self.used})"


@dataclass(frozen=True)
class SignatureShare:
    identifier: int
    share: Scalar


@dataclass(frozen=True)
class Signature:
    R: Element
    z: Scalar

    def encode(self) -> bytes:
        return self.R.encode() + self.z.encode()


def decode_signature(suite: Ciphersuite, data: bytes) -> Signature:
    """Parse (R, z); typed GroupError for a bad point or scalar."""
    g = suite.group
    if len(data) != suite.signature_size:
        raise FrostError(f"signature must be {suite.signature_size} bytes, got {len(data)}")
    return Signature(g.decode_element(data[:g.element_size]),
                     g.decode_scalar(data[g.element_size:]))


# -- RFC 9591 §4 helpers --------------------------------------------------------------------


def nonce_generate(suite: Ciphersuite, secret: Scalar, rng: Rng) -> Scalar:
    """§4.1: H3(random_bytes(32) || SerializeScalar(secret))."""
    return suite.h3(rng(32) + secret.encode())


def _check_identifier(group: Group, identifier: int) -> None:
    if not 0 < identifier < group.order:
        raise InvalidIdentifierError(f"identifier {identifier} out of range")


def encode_group_commitment_list(suite: Ciphersuite,
                                 commitments: Sequence[SigningCommitments]) -> bytes:
    """§4.3: id || D_i || E_i for each signer, in identifier order."""
    g = suite.group
    return b"".join(g.scalar(c.identifier).encode() + c.hiding.encode() + c.binding.encode()
                    for c in commitments)


def binding_factor_inputs(suite: Ciphersuite, group_public_key: Element, msg: bytes,
                          commitments: Sequence[SigningCommitments]) -> dict[int, bytes]:
    """§4.4's rho_input for each signer (exposed for the test vectors)."""
    prefix = (group_public_key.encode() + suite.h4(msg)
              + suite.h5(encode_group_commitment_list(suite, commitments)))
    return {c.identifier: prefix + suite.group.scalar(c.identifier).encode()
            for c in commitments}


@dataclass
class SigningPackage:
    """Message plus the sorted commitment list of one signing session (RFC 9591 §5.2)."""

    suite: Ciphersuite
    group_public_key: Element
    message: bytes
    commitments: tuple[SigningCommitments, ...]
    binding_factors: dict[int, Scalar] = field(init=False)
    group_commitment: Element = field(init=False)
    challenge: Scalar = field(init=False)

    def __post_init__(self) -> None:
        ids = [c.identifier for c in self.commitments]
        for i in ids:
            _check_identifier(self.suite.group, i)
        if ids != sorted(set(ids)):
            raise InvalidCommitmentListError("commitment list must be sorted, without duplicates")
        if not ids:
            raise InvalidCommitmentListError("empty commitment list")
        inputs = binding_factor_inputs(self.suite, self.group_public_key, self.message,
                                       self.commitments)
        self.binding_factors = {i: self.suite.h1(m) for i, m in inputs.items()}
        g = self.suite.group
        # §4.5: R = sum(D_i + rho_i * E_i)
        self.group_commitment = g.sum(
            [c.hiding for c in self.commitments]
            + [self.binding_factors[c.identifier] * c.binding for c in self.commitments])
        self.challenge = compute_challenge(self.suite, self.group_commitment,
                                           self.group_public_key, self.message)

    @property
    def signers(self) -> list[int]:
        return [c.identifier for c in self.commitments]

    def lagrange(self, identifier: int) -> Scalar:
        return lagrange_coefficient(self.suite.group, self.signers, identifier)

    def commitment_share(self, c: SigningCommitments) -> Element:
        return c.hiding + self.binding_factors[c.identifier] * c.binding


def compute_challenge(suite: Ciphersuite, R: Element, group_public_key: Element,
                      msg: bytes) -> Scalar:
    """§4.6: H2(R || PK || msg)."""
    return suite.h2(R.encode() + group_public_key.encode() + msg)


# -- RFC 9591 §5: the protocol ------------------------------------------------------------


def commit(key: KeyShare, rng: Rng, suite: Ciphersuite | None = None) -> SigningNonces:
    """Round one (§5.1): fresh hiding and binding nonces bound to the secret share (`rng`:
    the OS CSPRNG in real runs, a seeded source in simulation)."""
    suite = suite or suite_for(key.group)
    d = nonce_generate(suite, key.secret, rng)
    e = nonce_generate(suite, key.secret, rng)
    g = suite.group
    return SigningNonces(SigningCommitments(key.identifier, g.base_mul(d), g.base_mul(e)), d, e)


def sign(key: KeyShare, nonces: SigningNonces, package: SigningPackage) -> SignatureShare:
    """Round two (§5.2): z_i = d_i + e_i*rho_i + lambda_i*s_i*c, using the nonces once."""
    own = next((c for c in package.commitments if c.identifier == key.identifier), None)
    if own is None or own != nonces.commitments:
        raise NonceReuseError("the signing package does not carry this signer's commitments")
    if len(package.commitments) < key.public.threshold:
        raise InvalidCommitmentListError(
            f"{len(package.commitments)} signers, threshold is {key.public.threshold}")
    if package.group_public_key != key.public.group_public_key:
        raise InvalidCommitmentListError("signing package is for another key")
    unknown = set(package.signers) - set(key.public.members)
    if unknown:
        raise InvalidCommitmentListError(f"signers {sorted(unknown)} are not members")
    d, e = nonces.take()
    rho = package.binding_factors[key.identifier]
    lam = package.lagrange(key.identifier)
    return SignatureShare(key.identifier, d + e * rho + lam * key.secret * package.challenge)


def verify_signature_share(package: SigningPackage, public: PublicKeyPackage,
                           share: SignatureShare) -> bool:
    """§5.4: z_i*G == D_i + rho_i*E_i + (c*lambda_i)*Y_i."""
    c_i = next((c for c in package.commitments if c.identifier == share.identifier), None)
    y_i = public.verifying_share(share.identifier)
    if c_i is None or y_i is None:
        return False
    lam = package.lagrange(share.identifier)
    g = package.suite.group
    return g.base_mul(share.share) == package.commitment_share(c_i) + (
        package.challenge * lam) * y_i


def aggregate(package: SigningPackage, shares: Mapping[int, SignatureShare],
              public: PublicKeyPackage | None = None) -> Signature:
    """§5.3: (R, sum z_i). With `public`, every share is checked first and all invalid
    ones are reported together in InvalidSignatureShareError.culprits."""
    missing = [i for i in package.signers if i not in shares]
    if missing:
        raise MissingSignatureShareError(f"no share from {missing}")
    if public is not None:
        bad = [i for i in package.signers if not verify_signature_share(package, public,
                                                                         shares[i])]
        if bad:
            raise InvalidSignatureShareError(bad)
    z = package.suite.group.scalar(sum(shares[i].share.value for i in package.signers))
    return Signature(package.group_commitment, z)


def verify(suite: Ciphersuite, group_public_key: Element, msg: bytes,
           signature: Signature) -> bool:
    """Prime-order Schnorr verification: z*G == R + c*PK (the RFC's cofactor 1 case;
    for Ed25519 `decode_element` already refused torsion components)."""
    c = compute_challenge(suite, signature.R, group_public_key, msg)
    return suite.group.base_mul(signature.z) == signature.R + c * group_public_key


def verify_bytes(suite: Ciphersuite, group_public_key: bytes, msg: bytes, sig: bytes) -> bool:
    """Verify encoded key and signature; False (not an exception) for any bad encoding."""
    try:
        pk = suite.group.decode_element(group_public_key)
        return verify(suite, pk, msg, decode_signature(suite, sig))
    except (GroupError, FrostError):
        return False


# -- wire forms -----------------------------------------------------------------------------


class WireCommitments(codec.Struct):
    identifier: int
    hiding: bytes
    binding: bytes


class WireSigningPackage(codec.Struct):
    message: bytes
    commitments: list[WireCommitments]


class WireSignatureShare(codec.Struct):
    identifier: int
    share: bytes


def commitments_to_wire(c: SigningCommitments) -> WireCommitments:
    return WireCommitments(c.identifier, c.hiding.encode(), c.binding.encode())


def commitments_from_wire(suite: Ciphersuite, w: WireCommitments) -> SigningCommitments:
    """Validate a received commitment pair (typed GroupError for bad points)."""
    _check_identifier(suite.group, w.identifier)
    g = suite.group
    return SigningCommitments(w.identifier, g.decode_element(w.hiding),
                              g.decode_element(w.binding))


def package_to_wire(p: SigningPackage) -> WireSigningPackage:
    return WireSigningPackage(p.message, [commitments_to_wire(c) for c in p.commitments])


def package_from_wire(suite: Ciphersuite, group_public_key: Element,
                      w: WireSigningPackage) -> SigningPackage:
    return SigningPackage(suite, group_public_key, w.message,
                          tuple(commitments_from_wire(suite, c) for c in w.commitments))


def share_to_wire(s: SignatureShare) -> WireSignatureShare:
    return WireSignatureShare(s.identifier, s.share.encode())


def share_from_wire(suite: Ciphersuite, w: WireSignatureShare) -> SignatureShare:
    _check_identifier(suite.group, w.identifier)
    return SignatureShare(w.identifier, suite.group.decode_scalar(w.share))
