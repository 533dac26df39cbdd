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

Both roles are pure state machines (`receive(sender, data)` returns the messages to send,
as (recipient, bytes); the outcome and the faults seen are their state), run by one core,
`roast_core.RoastParty`, under the simulator or the network runtime. The signer signs only
the message it was created for, only with its latest nonces, and each nonce pair at most
once.
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

COORDINATOR = 0  # the coordinator's index


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
class Fault:
    """A record of misbehaviour: `party` sent something that is not accepted."""

    party: int
    error: DistributedCryptoError | CodecError


Outgoing = tuple[int, bytes]  # (recipient, message): what a party asks its core to send


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
        self.faults: list[Fault] = []  # every misbehaviour seen, in order

    def _respond(self, session: int, share: bytes) -> list[Outgoing]:
        self.nonces = frost.commit(self.key, self.rng, self.suite)
        msg = Response(self.run, self.key.identifier, session, share,
                       frost.commitments_to_wire(self.nonces.commitments))
        return [(COORDINATOR, codec.encode(msg))]

    def _fault(self, party: int, error: DistributedCryptoError | CodecError) -> list[Outgoing]:
        self.faults.append(Fault(party, error))
        return []

    def start(self) -> list[Outgoing]:
        """Announce the first nonce commitment."""
        return self._respond(0, b"")

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        if sender != COORDINATOR:
            return self._fault(sender, UnexpectedMessageError("signers only take requests"))
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
            return self._fault(sender, exc)
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
        self.faults: list[Fault] = []  # every misbehaviour seen, in order
        self.signature: Signature | None = None  # the result, once a session completes
        self.signed_session = 0  # the session that produced it
        self.error: RoastError | None = None  # set when too few signers remain

    def _fault(self, party: int, error: DistributedCryptoError | CodecError) -> list[Outgoing]:
        self.faults.append(Fault(party, error))
        return []

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        """Handle a signer's response; returns the requests of any session it starts. The
        outcome is `signature` (with `signed_session`) or `error` once `done`."""
        if self.done:
            return []
        if sender not in self.signers or sender in self.malicious:
            return self._fault(sender, UnexpectedMessageError(f"{sender} is not an active signer"))
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
            return self._fault(sender, exc)
        except (RoastError, frost.FrostError, GroupError, CodecError) as exc:
            return self._mark_malicious(sender, exc)
        out: list[Outgoing] = []
        if share is not None:
            session = self.sessions[msg.session]
            if not frost.verify_signature_share(session.package, self.public, share):
                return self._mark_malicious(sender, InvalidSignatureShareError([sender]))
            session.shares[sender] = share
            del self.assigned[sender]
            if len(session.shares) == self.t:
                self.signature = frost.aggregate(session.package, session.shares)
                self.signed_session = msg.session
                self.done = True
                return []
        self.ready[sender] = commitment
        if len(self.ready) == self.t:
            out += self._start_session()
        return out

    def _start_session(self) -> list[Outgoing]:
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
        return [(i, data) for i in sorted(self.assigned) if self.assigned[i] == sid]

    def _mark_malicious(self, signer: int, error: DistributedCryptoError | CodecError
                        ) -> list[Outgoing]:
        self.malicious.add(signer)
        self.ready.pop(signer, None)
        self.assigned.pop(signer, None)
        if len(self.signers - self.malicious) < self.t:
            self.done = True
            self.error = RoastFailedError(
                f"{len(self.signers - self.malicious)} signers left, threshold {self.t}")
        return self._fault(signer, error)
