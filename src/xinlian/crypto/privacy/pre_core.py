"""Threshold proxy re-encryption: an owner (party 0), N proxies (1..N), a receiver (N + 1).

The owner encrypts the message to its policy key, splits a re-encryption key for the
receiver into N signed fragments and sends each proxy its fragment with the ciphertext
(over the authenticated, encrypted channel, as a kfrag must travel); it sends the receiver
the ciphertext. Each proxy checks its fragment and re-encrypts on its own, and sends the
result to the receiver, which waits for every proxy or the round deadline and decrypts
from any M valid re-encryptions; fragments that fail their proofs name their proxies.
Proxies never see the plaintext or the data key. The owner's, receiver's and signing keys
are derived from the run seed (a local demonstration of a key registry).
"""

from __future__ import annotations

from collections.abc import Mapping

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.primitives.groups import Element, GroupError, Rng, Scalar
from xinlian.crypto.privacy import pre
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.threshold.envelope import Collector, MpcCore
from xinlian.protocol import Action, NodeId

OWNER = 0
SUITE_OF_CURVE = {"sm2": "sm", "secp256k1": "intl"}
SIGNER_OF_SUITE = {"sm": AlgId.SM2, "intl": AlgId.ED25519}


class Grant(codec.Struct, tag=1):
    kfrag: pre.KFrag
    ciphertext: pre.PreCiphertext


class Notice(codec.Struct, tag=2):
    ciphertext: pre.PreCiphertext


class Fragment(codec.Struct, tag=3):
    fragment: pre.ReEncrypted


Message = Grant | Notice | Fragment


class Owner(MpcCore):
    protocol = "pre"

    def __init__(self, me: int, roster: Mapping[int, NodeId], suite: str, policy: Scalar,
                 receiver_key: Element, signer: SigningKey, threshold: int, proxies: int,
                 session: bytes, plaintext: bytes, rng: Rng) -> None:
        super().__init__(me, roster, [session])
        self.args = (suite, policy, receiver_key, signer, threshold, proxies)
        self.session = session
        self.plaintext = plaintext
        self.rng = rng

    def on_start(self, now_ms: int) -> list[Action]:
        suite, policy, receiver_key, signer, threshold, proxies = self.args
        ct = pre.encrypt(suite, policy.group.base_mul(policy), self.plaintext, self.rng)
        kfrags = pre.generate_kfrags(suite, policy, receiver_key, signer, threshold, proxies,
                                     self.rng)
        out = [self.send(i + 1, self.session, codec.encode(Grant(k, ct)))
               for i, k in enumerate(kfrags)]
        out.append(self.send(proxies + 1, self.session, codec.encode(Notice(ct))))
        return out


class Proxy(MpcCore):
    protocol = "pre"

    def __init__(self, me: int, roster: Mapping[int, NodeId], owner_key: Element,
                 receiver_key: Element, verifying_key: PublicKey, receiver: int,
                 session: bytes, rng: Rng) -> None:
        super().__init__(me, roster, [session])
        self.keys = (owner_key, receiver_key, verifying_key)
        self.receiver = receiver
        self.session = session
        self.rng = rng
        self.done = False

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        owner_key, receiver_key, verifying_key = self.keys
        try:
            msg = codec.decode(payload, Message)
            if sender != OWNER or not isinstance(msg, Grant) or self.done:
                raise pre.PreError("proxies take one grant, from the owner")
            frag = pre.reencrypt(msg.kfrag, msg.ciphertext, owner_key, receiver_key,
                                 verifying_key, self.rng)
        except (pre.PreError, GroupError, CryptoError, CodecError):
            self.fault(sender)
            return []
        self.done = True
        return [self.send(self.receiver, self.session, codec.encode(Fragment(frag)))]


class Receiver(Collector):
    protocol = "pre"

    def __init__(self, me: int, roster: Mapping[int, NodeId], secret: Scalar,
                 owner_key: Element, verifying_key: PublicKey, threshold: int, proxies: int,
                 session: bytes, round_ms: int) -> None:
        super().__init__(me, roster, [session], round_ms)
        self.secret = secret
        self.owner_key = owner_key
        self.verifying_key = verifying_key
        self.threshold = threshold
        self.proxies = proxies
        self.ciphertext: pre.PreCiphertext | None = None
        self.fragments: dict[int, pre.ReEncrypted] = {}
        self.done = False

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        msg = self.decode_from(sender, payload, Message)
        if msg is None:
            return []
        if isinstance(msg, Notice) and sender == OWNER and self.ciphertext is None:
            self.ciphertext = msg.ciphertext
        elif isinstance(msg, Fragment) and 1 <= sender <= self.proxies:
            self.fragments.setdefault(sender, msg.fragment)
        else:
            self.fault(sender)
            return []
        if self.ciphertext is not None and len(self.fragments) == self.proxies:
            return self._decrypt()
        return []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return [] if self.done else self._decrypt()

    def _decrypt(self) -> list[Action]:
        self.done = True
        if self.ciphertext is None:
            return [self.deliver("receiver", ok=False, error="no ciphertext from the owner",
                                 culprits=[], received=len(self.fragments))]
        proxies = sorted(self.fragments)
        fragments = [self.fragments[i] for i in proxies]
        culprits: list[int] = []
        try:
            # With all fragments required, every invalid one is named; then any M decrypt.
            plain = self._open(fragments, max(len(fragments), self.threshold))
        except pre.NotEnoughFragmentsError as exc:
            culprits = [proxies[k] for k in exc.culprits]
            try:
                plain = self._open(fragments, self.threshold)
            except (pre.PreError, CryptoError) as again:
                return [self.deliver("receiver", ok=False, error=again.message,
                                     culprits=culprits, received=len(proxies))]
        except (pre.PreError, CryptoError) as exc:
            return [self.deliver("receiver", ok=False, error=exc.message, culprits=[],
                                 received=len(proxies))]
        return [self.deliver("receiver", ok=True, plaintext=plain.hex(), culprits=culprits,
                             received=len(proxies))]

    def _open(self, fragments: list[pre.ReEncrypted], threshold: int) -> bytes:
        assert self.ciphertext is not None
        return pre.decrypt_reencrypted(self.secret, self.owner_key, self.verifying_key,
                                       self.ciphertext, fragments, threshold)
