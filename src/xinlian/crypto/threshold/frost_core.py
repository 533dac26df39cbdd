"""FROST signing (RFC 9591) as two message rounds through a coordinator (party 0).

Round one: every signer commits and sends its commitments to the coordinator. When all
have answered, or the round deadline passes, the coordinator builds the signing package
from every commitment it received (FROST signs with any >= t signers) and sends it to
them. Round two: each signer checks that the package is for the agreed message and key and
answers with its share; the coordinator aggregates, checking every share (RFC 9591 §5.4),
so invalid shares name their senders. FROST itself does not retry: a signer that commits
and then goes silent or cheats fails the run (identified); ROAST (roast.py) is the robust
wrapper. Keys come from a trusted dealer (`frost.share_secret`) seeded by the run seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import GroupError, Rng
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.envelope import MpcCore
from xinlian.protocol import Action, NodeId

COORDINATOR = 0


class Commit(codec.Struct, tag=1):
    commitments: frost.WireCommitments


class Package(codec.Struct, tag=2):
    package: frost.WireSigningPackage


class Share(codec.Struct, tag=3):
    share: frost.WireSignatureShare


Message = Commit | Package | Share


class FrostSigner(MpcCore):
    protocol = "frost"

    def __init__(self, me: int, roster: Mapping[int, NodeId], key: KeyShare, session: bytes,
                 message: bytes, rng: Rng) -> None:
        super().__init__(me, roster, [session])
        self.key = key
        self.session = session
        self.message = message
        self.suite = frost.suite_for(key.group)
        self.nonces = frost.commit(key, rng, self.suite)

    def on_start(self, now_ms: int) -> list[Action]:
        body = Commit(frost.commitments_to_wire(self.nonces.commitments))
        return [self.send(COORDINATOR, self.session, codec.encode(body))]

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        try:
            msg = codec.decode(payload, Message)
            if sender != COORDINATOR or not isinstance(msg, Package):
                raise frost.FrostError("signers only take signing packages")
            if msg.package.message != self.message:
                raise frost.FrostError("package for a message this signer did not agree to")
            if len(msg.package.commitments) > len(self.key.public.members):
                raise frost.InvalidCommitmentListError("more signers than members")
            package = frost.package_from_wire(self.suite, self.key.public.group_public_key,
                                              msg.package)
            share = frost.sign(self.key, self.nonces, package)
        except (frost.FrostError, GroupError, CodecError):
            self.fault(sender)
            return []
        body = Share(frost.share_to_wire(share))
        return [self.send(COORDINATOR, self.session, codec.encode(body))]


class FrostCoordinator(MpcCore):
    protocol = "frost"

    def __init__(self, me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage,
                 session: bytes, message: bytes, round_ms: int) -> None:
        super().__init__(me, roster, [session])
        self.public = public
        self.session = session
        self.message = message
        self.suite = frost.suite_for(public.group)
        self.round_ms = round_ms
        self.commitments: dict[int, frost.SigningCommitments] = {}
        self.package: frost.SigningPackage | None = None
        self.shares: dict[int, frost.SignatureShare] = {}
        self.done = False

    def on_start(self, now_ms: int) -> list[Action]:
        return [self.timer("commit", now_ms + self.round_ms)]

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        if self.done:
            return []
        try:
            msg = codec.decode(payload, Message)
            if isinstance(msg, Commit) and self.package is None and sender in self.public.members:
                c = frost.commitments_from_wire(self.suite, msg.commitments)
                if c.identifier != sender or sender in self.commitments:
                    raise frost.FrostError("commitment for another signer, or a second one")
                self.commitments[sender] = c
                if len(self.commitments) == len(self.public.members):
                    return self._request(now_ms)
                return []
            if isinstance(msg, Share) and self.package is not None:
                share = frost.share_from_wire(self.suite, msg.share)
                if share.identifier != sender or sender not in self.package.signers:
                    raise frost.FrostError("share from a signer that was not asked")
                self.shares.setdefault(sender, share)
                if len(self.shares) == len(self.package.signers):
                    return self._aggregate()
                return []
            raise frost.FrostError("unexpected message")
        except (frost.FrostError, GroupError, CodecError):
            self.fault(sender)
            return []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        if self.done:
            return []
        if name == "commit" and self.package is None:
            return self._request(now_ms)
        if name == "share":
            return self._aggregate()
        return []

    def _request(self, now_ms: int) -> list[Action]:
        if len(self.commitments) < self.public.threshold:
            self.done = True
            return [self._report(ok=False, signers=sorted(self.commitments),
                                 error=f"{len(self.commitments)} commitments, threshold "
                                       f"{self.public.threshold}", culprits=[])]
        ids = sorted(self.commitments)
        self.package = frost.SigningPackage(self.suite, self.public.group_public_key,
                                            self.message,
                                            tuple(self.commitments[i] for i in ids))
        body = codec.encode(Package(frost.package_to_wire(self.package)))
        return [self.broadcast(ids, self.session, body),
                self.timer("share", now_ms + self.round_ms)]

    def _aggregate(self) -> list[Action]:
        assert self.package is not None
        self.done = True
        signers = self.package.signers
        try:
            sig = frost.aggregate(self.package, self.shares, self.public)
        except frost.MissingSignatureShareError:
            missing = [i for i in signers if i not in self.shares]
            return [self._report(ok=False, signers=signers, culprits=missing,
                                 error="no share from signers that committed")]
        except frost.InvalidSignatureShareError as exc:
            return [self._report(ok=False, signers=signers,
                                 culprits=exc.culprits, error="invalid signature shares")]
        return [self._report(ok=True, signers=signers, culprits=[],
                             signature=sig.encode().hex())]

    def _report(self, **result: Any) -> Action:
        return self.deliver("coordinator", group_key=self.public.group_public_key.encode().hex(),
                            **result)
