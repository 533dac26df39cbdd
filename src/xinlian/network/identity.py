"""Membership certificates and revocation lists: who an organisation vouches for.

A certificate binds a node's signing key (the subject) to an organisation and a role for a
validity window; one of that organisation's admins (genesis `organisations[].admins`, as
governance has changed them since: keys of the chain's suite) signs it. A revocation list
names the serials an organisation has withdrawn; an admin of the same organisation signs
it, and operators distribute it in each node's configuration. The node checks the lists'
signatures when it loads them, so at handshake time it decides from the organisations it
was given, its own clock and its own lists, trusting nothing the peer says beyond the
signed certificate itself.

On a post-quantum suite (`pq`, `hybrid-sm`, `hybrid-intl`) a classical-only subject or
issuer key (SM2, Ed25519) is refused with `ClassicalIdentity`: the certificate would then
be forgeable by whoever breaks the classical algorithm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.errors import CryptoError, IndicatorNotMet
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.pq_params import require_alg
from xinlian.crypto.signing import SigningKey, check_public_key, verify
from xinlian.crypto.suites import Suite
from xinlian.ledger.genesis import Genesis, Organisation
from xinlian.network.errors import (
    CertificateExpired,
    CertificateRefused,
    CertificateRevoked,
    ClassicalIdentity,
    MalformedFrame,
)

VERSION = 1
MAX_CERTIFICATE = 12 * 1024  # a hybrid subject and issuer key plus a composite signature
DEFAULT_SKEW_MS = 5 * 60 * 1000
ROLES = ("validator", "observer")
_CERT_DOMAIN = b"xinlian/identity/v1/certificate"
_CRL_DOMAIN = b"xinlian/identity/v1/revocations"


class CertificateBody(Struct):
    version: int
    chain_id: str
    serial: int
    organisation: str
    role: str
    subject: PublicKey
    not_before_ms: int
    not_after_ms: int
    issuer: PublicKey


class Certificate(Struct):
    body: CertificateBody
    signature: Signature


class RevocationBody(Struct):
    version: int
    chain_id: str
    organisation: str
    issued_ms: int
    serials: list[int]
    issuer: PublicKey


class RevocationList(Struct):
    body: RevocationBody
    signature: Signature


def certificate_message(body: CertificateBody) -> bytes:
    """What the issuer signs: the body's encoding under the certificate domain."""
    return _CERT_DOMAIN + codec.encode(body)


def issue_certificate(admin: SigningKey, *, chain_id: str, organisation: str, role: str,
                      subject: PublicKey, serial: int, not_before_ms: int,
                      not_after_ms: int) -> Certificate:
    if role not in ROLES:
        raise CertificateRefused(f"role {role!r} is not one of {ROLES}")
    if not 0 <= serial < 2**64 or not 0 <= not_before_ms < not_after_ms:
        raise CertificateRefused("the serial must be a u64 and the window not empty")
    body = CertificateBody(VERSION, chain_id, serial, organisation, role, subject,
                           not_before_ms, not_after_ms, admin.public_key)
    return Certificate(body, admin.sign(certificate_message(body)))


def revoke(admin: SigningKey, *, chain_id: str, organisation: str, serials: Iterable[int],
           issued_ms: int) -> RevocationList:
    body = RevocationBody(VERSION, chain_id, organisation, issued_ms, sorted(set(serials)),
                          admin.public_key)
    return RevocationList(body, admin.sign(_CRL_DOMAIN + codec.encode(body)))


def decode_certificate(data: bytes) -> Certificate:
    try:
        return codec.decode(data, Certificate, max_size=MAX_CERTIFICATE)
    except codec.CodecError as exc:
        raise MalformedFrame(f"bad certificate: {exc.message}") from exc


def decode_revocations(data: bytes) -> RevocationList:
    try:
        return codec.decode(data, RevocationList)
    except codec.CodecError as exc:
        raise MalformedFrame(f"bad revocation list: {exc.message}") from exc


def refuse_classical(suite: Suite, key: PublicKey, what: str) -> None:
    """`ClassicalIdentity` for a key without post-quantum security on a post-quantum suite."""
    if suite.post_quantum:
        try:
            require_alg(key.alg, "signature")
        except IndicatorNotMet as exc:
            raise ClassicalIdentity(f"{what}: {exc.message}") from exc


def require_suite_key(suite: Suite, key: PublicKey, what: str) -> None:
    """Refuse a key that is not of the suite's signature algorithm (a classical key on a
    post-quantum suite with `ClassicalIdentity`) or that does not decode."""
    refuse_classical(suite, key, what)
    if key.alg != suite.signature:
        raise CertificateRefused(f"{what} is {key.alg!r}, not {suite.signature.name}")
    try:
        check_public_key(key)
    except CryptoError as exc:
        raise CertificateRefused(f"{what} is invalid: {exc.message}") from exc


@dataclass(frozen=True)
class IdentityPolicy:
    """What a node accepts: its chain's organisations and admins (from genesis), the
    revocation lists it was given (checked on construction), the roles it admits and the
    clock skew it tolerates at either end of a validity window."""

    suite: Suite
    chain_id: str
    admins: dict[str, tuple[PublicKey, ...]]
    revoked: dict[str, frozenset[int]] = field(default_factory=dict)
    roles: frozenset[str] = frozenset({"validator"})
    skew_ms: int = DEFAULT_SKEW_MS

    @classmethod
    def of(cls, suite: Suite, chain_id: str, organisations: Iterable[Organisation],
           revocations: Iterable[RevocationList] = (), *,
           roles: Iterable[str] = ("validator",),
           skew_ms: int = DEFAULT_SKEW_MS) -> IdentityPolicy:
        """The policy of a chain whose organisations (the genesis', or the state's after
        governance changed them) are `organisations`, with these revocation lists."""
        policy = cls(suite, chain_id, {o.name: tuple(o.admins) for o in organisations},
                     roles=frozenset(roles), skew_ms=skew_ms)
        return policy.with_revocations(revocations)

    @classmethod
    def from_genesis(cls, genesis: Genesis, revocations: Iterable[RevocationList] = (), *,
                     roles: Iterable[str] = ("validator",),
                     skew_ms: int = DEFAULT_SKEW_MS) -> IdentityPolicy:
        """`of` the genesis' organisations."""
        return cls.of(genesis.crypto_suite(), genesis.chain_id, genesis.organisations,
                      revocations, roles=roles, skew_ms=skew_ms)

    def with_revocations(self, revocations: Iterable[RevocationList]) -> IdentityPolicy:
        """This policy with exactly these revocation lists (each checked: its chain, and a
        signature by an admin of the organisation it speaks for), replacing any before."""
        revoked: dict[str, set[int]] = {}
        for crl in revocations:
            body = crl.body
            if body.version != VERSION:
                raise CertificateRefused(f"revocation list version {body.version}")
            self._check_signed(body.issuer, body.organisation, body.chain_id,
                               _CRL_DOMAIN + codec.encode(body), crl.signature)
            revoked.setdefault(body.organisation, set()).update(body.serials)
        return replace(self, revoked={org: frozenset(s) for org, s in revoked.items()})

    def _check_signed(self, issuer: PublicKey, organisation: str, chain_id: str,
                      message: bytes, signature: Signature) -> None:
        if chain_id != self.chain_id:
            raise CertificateRefused(f"issued for chain {chain_id!r}, not {self.chain_id!r}")
        require_suite_key(self.suite, issuer, "the issuer key")
        if issuer not in self.admins.get(organisation, ()):
            raise CertificateRefused(f"the issuer is not an admin of {organisation!r}")
        try:
            ok = verify(issuer, message, signature)
        except CryptoError:
            ok = False
        if not ok:
            raise CertificateRefused("the issuer's signature does not verify")

    def check(self, cert: Certificate, subject: PublicKey, now_ms: int) -> CertificateBody:
        """The certificate's body if it vouches for `subject` now; else a typed error
        (`ClassicalIdentity`, `CertificateExpired`, `CertificateRevoked`, or
        `CertificateRefused` for everything else)."""
        body = cert.body
        if body.version != VERSION:
            raise CertificateRefused(f"certificate version {body.version}")
        require_suite_key(self.suite, body.subject, "the certified key")
        if body.subject != subject:
            raise CertificateRefused("the certificate is for another key")
        if body.role not in self.roles:
            raise CertificateRefused(f"role {body.role!r} is not admitted here")
        self._check_signed(body.issuer, body.organisation, body.chain_id,
                           certificate_message(body), cert.signature)
        self._refuse_stale(body, now_ms)
        return body

    def _refuse_stale(self, body: CertificateBody, now_ms: int) -> None:
        if not body.not_before_ms - self.skew_ms <= now_ms <= body.not_after_ms + self.skew_ms:
            raise CertificateExpired(f"valid {body.not_before_ms}..{body.not_after_ms} ms, "
                                     f"now {now_ms} ms (skew {self.skew_ms} ms)")
        if body.serial in self.revoked.get(body.organisation, frozenset()):
            raise CertificateRevoked(f"serial {body.serial} of {body.organisation!r} "
                                     "is revoked")

    def still_holds(self, body: CertificateBody | None, now_ms: int) -> bool:
        """Whether a certificate accepted earlier (None: none was asked for) is still inside
        its window, not revoked, and issued by a current admin of its organisation; its
        signature was checked when it was accepted."""
        if body is not None:
            if body.issuer not in self.admins.get(body.organisation, ()):
                return False
            try:
                self._refuse_stale(body, now_ms)
            except CertificateRefused:
                return False
        return True
