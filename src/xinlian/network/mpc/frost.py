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

from collections.abc import Callable, Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, GroupError, get_group
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.network.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.network.mpc.chain import Leader, Member, dkg_cores
from xinlian.network.mpc.envelope import MpcCore, seeded_rng
from xinlian.network.mpc.setup import (
    KEY_SOURCES,
    Outcome,
    Params,
    Setup,
    check,
    faulty_ids,
    two_thirds,
)
from xinlian.network.mpc.signatures import verify_schnorr
from xinlian.protocol import Action, Core, NodeId

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
                 message: bytes, rng: Any) -> None:
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


def bad_share(group: Group) -> Callable[[bytes], bytes]:
    """A signer whose round-two share is off by one (fails the share check)."""
    def change(payload: bytes) -> bytes:
        try:
            msg = codec.decode(payload, Message)
        except CodecError:
            return payload
        if not isinstance(msg, Share):
            return payload
        value = (group.decode_scalar(msg.share.share) + group.scalar(1)).encode()
        return codec.encode(Share(frost.WireSignatureShare(msg.share.identifier, value)))
    return change


FAULTS = ("silent", "invalid")


def dealt_keys(params: Params, label: str) -> tuple[list[KeyShare], int]:
    """Trusted-dealer t-of-n shares over `params.curve` (ed25519 or secp256k1), seeded."""
    group, n, t = signing_group(params)
    rng = seeded_rng(params.seed, label, "dealer")
    keys = frost.share_secret(group, group.random_scalar(rng), t, range(1, n + 1), rng)
    return keys, t


def signing_group(params: Params) -> tuple[Group, int, int]:
    """The group, n and t of a FROST or ROAST run (checked)."""
    group = get_group(params.curve or "ed25519")
    check(group.name in frost.CIPHERSUITES, "FROST/ROAST run over ed25519 or secp256k1")
    n = params.parties
    t = params.threshold_or(two_thirds(n))
    check(n >= 2 and 1 <= t <= n, "need 1 <= threshold <= parties, parties >= 2")
    check(params.keys in KEY_SOURCES, f"keys come from: {', '.join(KEY_SOURCES)}")
    return group, n, t


def honest_cores(params: Params, protocol: str, member: Member, leader: Leader
                 ) -> tuple[Callable[[int, Mapping[int, NodeId]], Core], int, str]:
    """Honest cores of a FROST-family run with dealt or DKG keys; also t and the group key
    when it is known in advance (dealt keys; with the DKG it comes out of the run)."""
    group, _, t = signing_group(params)
    if params.keys == "dkg":
        return dkg_cores(params, group, protocol, member, leader), t, ""
    keys, _ = dealt_keys(params, protocol)
    public = keys[0].public

    def make(me: int, roster: Mapping[int, NodeId]) -> Core:
        if me == 0:
            return leader(roster, public)
        return member(me, roster, public, keys[me - 1])
    return make, t, public.group_public_key.encode().hex()


def signature_summary(out: Outcome, message: bytes, group: Group) -> dict[str, Any]:
    """The coordinator's signature checked with the ordinary verifier for its key."""
    key = group.decode_element(bytes.fromhex(out["group_key"]))
    signature = out["signature"]
    verified = verify_schnorr(key, message, bytes.fromhex(signature))
    return {"group_key": out["group_key"], "signature": signature, "verified": verified,
            "ok": verified}


def setup(params: Params) -> Setup:
    n = params.parties
    check(params.fault in FAULTS, f"frost faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n, "at most every signer is faulty")
    faulty = faulty_ids(params)
    session = b"frost/%d" % params.seed
    message = params.message.encode()
    parties = tuple(range(n + 1))
    group = signing_group(params)[0]

    def member(me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage,
               key: KeyShare) -> Core:
        return FrostSigner(me, roster, key, session, message,
                           seeded_rng(params.seed, "frost", "nonce", me))

    def leader(roster: Mapping[int, NodeId], public: PublicKeyPackage) -> Core:
        return FrostCoordinator(COORDINATOR, roster, public, session, message, params.round_ms)

    honest, t, group_key = honest_cores(params, "frost", member, leader)

    def make_core(me: int, roster: Mapping[int, NodeId]) -> Core:
        core = honest(me, roster)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(bad_share(group)))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(COORDINATOR)
        if out is None:
            return {"ok": False, "error": "the coordinator did not finish", "identified": []}
        result: dict[str, Any] = {"ok": False, "curve": group.name, "threshold": t,
                                  "keys": params.keys, "signers": out["signers"],
                                  "identified": out["culprits"],
                                  "group_key": out.get("group_key", group_key)}
        if out["ok"]:
            result.update(signature_summary(out, message, group))
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "coordinator" if i == COORDINATOR else "signer" for i in parties}
    return Setup(params, parties, make_core, frozenset({COORDINATOR}), summarise, faulty, roles)
