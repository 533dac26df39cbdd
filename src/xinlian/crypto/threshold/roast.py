"""ROAST: robust asynchronous coordination of FROST signing (Ruffing et al., CCS 2022).

Theory of operation. A FROST session fails if one chosen signer stays silent or sends a bad
share, and a coordinator cannot tell "slow" from "silent". ROAST never waits: the
coordinator keeps the set R of signers that have answered everything asked of them, each
with a fresh nonce commitment. As soon as |R| = t it starts a new session with exactly
those t signers and empties R. Every signer answers a request with its share *and* its
next commitment, so honest signers flow back into R at once; a signer whose share fails
verification is marked malicious and never used again; a silent signer simply never
returns. Sessions run concurrently, and the first one to collect t valid shares yields
the signature. With at most n - t misbehaving signers at most n - t + 1 sessions are ever
started, and one of them consists of honest signers only.

Both roles are sans-I/O state machines (`receive(sender, data) -> actions`); the signer
signs only the message it was created for, only with its latest nonces, and each nonce
pair at most once. `xinlian.crypto.threshold.roast_sim` drives them on a discrete-event network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import DistributedCryptoError, GroupError, Rng
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.frost import (
    Ciphersuite,
    InvalidSignatureShareError,
    Signature,
    SignatureShare,
    SigningCommitments,
    SigningNonces,
    SigningPackage,
    WireCommitments,
)

COORDINATOR = 0  # the coordinator's address in Send actions


class RoastError(DistributedCryptoError):
    """Root of the ROAST errors (830x)."""

    code = 8300
    name = "roast_error"


class WrongRunError(RoastError):
    """A message for another signing run (a replay from an earlier run, or misrouted)."""

    code = 8301
    name = "wrong_run"


class UnexpectedMessageError(RoastError):
    """A response nobody asked for: a replay, a second answer, or from a non-signer."""

    code = 8302
    name = "unexpected_message"


class StaleRequestError(RoastError):
    """A signer was asked to sign another message, or with nonces it no longer holds."""

    code = 8303
    name = "stale_request"


class RoastFailedError(RoastError):
    """Fewer than t signers remain that are not known to be malicious."""

    code = 8304
    name = "roast_failed"


# -- messages -----------------------------------------------------------------------------


class Response(codec.Struct, tag=1):
    """Signer -> coordinator: the share for `session` (empty for session 0, the first
    message) and the commitment for the signer's next session."""

    run: bytes
    signer: int
    session: int
    share: bytes
    next_commitment: WireCommitments


class Request(codec.Struct, tag=2):
    """Coordinator -> signer: sign `message` in `session` with these commitments."""

    run: bytes
    session: int
    message: bytes
    commitments: list[WireCommitments]


@dataclass(frozen=True)
class Send:
    to: int
    data: bytes


@dataclass(frozen=True)
class Fault:
    party: int
    error: DistributedCryptoError | CodecError


@dataclass(frozen=True)
class Completed:
    signature: Signature
    session: int
    sessions_started: int
    malicious: tuple[int, ...]


@dataclass(frozen=True)
class Aborted:
    error: RoastError


Action = Send | Fault | Completed | Aborted


# -- signer -------------------------------------------------------------------------------


class RoastSigner:
    """One signer: answers requests for its agreed message with a share and new nonces."""

    def __init__(self, key: KeyShare, run: bytes, message: bytes,
                 suite: Ciphersuite | None = None, *, rng: Rng) -> None:
        self.key = key
        self.run = run
        self.message = message
        self.suite = suite or frost.suite_for(key.group)
        self.rng = rng
        self.nonces: SigningNonces | None = None
        self.last_session = 0

    def _respond(self, session: int, share: bytes) -> list[Action]:
        self.nonces = frost.commit(self.key, self.rng, self.suite)
        msg = Response(self.run, self.key.identifier, session, share,
                       frost.commitments_to_wire(self.nonces.commitments))
        return [Send(COORDINATOR, codec.encode(msg))]

    def start(self) -> list[Action]:
        """Announce the first nonce commitment."""
        return self._respond(0, b"")

    def receive(self, sender: int, data: bytes) -> list[Action]:
        if sender != COORDINATOR:
            return [Fault(sender, UnexpectedMessageError("signers only take requests"))]
        try:
            req = codec.decode(data, Request)
            if req.run != self.run:
                raise WrongRunError("request for another run")
            if req.message != self.message:
                raise StaleRequestError("request to sign a message this signer did not agree to")
            if req.session <= self.last_session:
                raise StaleRequestError(f"session {req.session} is not newer than "
                                        f"{self.last_session}")
            if self.nonces is None:
                raise StaleRequestError("no fresh nonces")
            if len(req.commitments) > len(self.key.public.members):
                raise frost.InvalidCommitmentListError("more signers than members")
            package = frost.package_from_wire(
                self.suite, self.key.public.group_public_key,
                frost.WireSigningPackage(req.message, req.commitments))
            share = frost.sign(self.key, self.nonces, package)
        except (RoastError, frost.FrostError, GroupError, CodecError) as exc:
            return [Fault(sender, exc)]
        self.last_session = req.session
        return self._respond(req.session, share.share.encode())


# -- coordinator --------------------------------------------------------------------------


@dataclass
class _Session:
    package: SigningPackage
    shares: dict[int, SignatureShare] = field(default_factory=dict)


class RoastCoordinator:
    """Collects commitments and shares; starts a session whenever t signers are ready."""

    def __init__(self, public: PublicKeyPackage, run: bytes, message: bytes,
                 signers: Sequence[int] | None = None,
                 suite: Ciphersuite | None = None) -> None:
        self.public = public
        self.run = run
        self.message = message
        self.suite = suite or frost.suite_for(public.group)
        self.signers = set(signers if signers is not None else public.members)
        if not self.signers <= set(public.members):
            raise RoastError("signers must be members of the key")
        self.t = public.threshold
        self.ready: dict[int, SigningCommitments] = {}  # R, with each signer's commitment
        self.assigned: dict[int, int] = {}  # signer -> session it owes a share for
        self.malicious: set[int] = set()
        self.sessions: dict[int, _Session] = {}
        self.done = False

    def receive(self, sender: int, data: bytes) -> list[Action]:
        if self.done:
            return []
        if sender not in self.signers or sender in self.malicious:
            return [Fault(sender, UnexpectedMessageError(f"{sender} is not an active signer"))]
        try:
            msg = codec.decode(data, Response)
            if msg.run != self.run:
                raise WrongRunError("response for another run")
            if msg.signer != sender:
                raise UnexpectedMessageError("response names another signer")
            if sender in self.ready or self.assigned.get(sender, 0) != msg.session:
                raise UnexpectedMessageError(f"no share from {sender} expected for session "
                                             f"{msg.session}")
            commitment = frost.commitments_from_wire(self.suite, msg.next_commitment)
            if commitment.identifier != sender:
                raise UnexpectedMessageError("commitment names another signer")
            share = None
            if msg.session:
                share = SignatureShare(sender, self.suite.group.decode_scalar(msg.share))
        except (UnexpectedMessageError, WrongRunError) as exc:  # replay/duplicate: drop only
            return [Fault(sender, exc)]
        except (RoastError, frost.FrostError, GroupError, CodecError) as exc:
            return self._mark_malicious(sender, exc)
        out: list[Action] = []
        if share is not None:
            session = self.sessions[msg.session]
            if not frost.verify_signature_share(session.package, self.public, share):
                return self._mark_malicious(sender, InvalidSignatureShareError([sender]))
            session.shares[sender] = share
            del self.assigned[sender]
            if len(session.shares) == self.t:
                sig = frost.aggregate(session.package, session.shares)
                self.done = True
                return [Completed(sig, msg.session, len(self.sessions),
                                  tuple(sorted(self.malicious)))]
        self.ready[sender] = commitment
        if len(self.ready) == self.t:
            out += self._start_session()
        return out

    def _start_session(self) -> list[Action]:
        sid = len(self.sessions) + 1
        commitments = tuple(self.ready[i] for i in sorted(self.ready))
        package = SigningPackage(self.suite, self.public.group_public_key, self.message,
                                 commitments)
        self.sessions[sid] = _Session(package)
        data = codec.encode(Request(self.run, sid, self.message,
                                    [frost.commitments_to_wire(c) for c in commitments]))
        for i in self.ready:
            self.assigned[i] = sid
        self.ready = {}
        return [Send(i, data) for i in sorted(self.assigned) if self.assigned[i] == sid]

    def _mark_malicious(self, signer: int, error: DistributedCryptoError | CodecError
                        ) -> list[Action]:
        self.malicious.add(signer)
        self.ready.pop(signer, None)
        self.assigned.pop(signer, None)
        out: list[Action] = [Fault(signer, error)]
        if len(self.signers - self.malicious) < self.t:
            self.done = True
            out.append(Aborted(RoastFailedError(
                f"{len(self.signers - self.malicious)} signers left, threshold {self.t}")))
        return out
