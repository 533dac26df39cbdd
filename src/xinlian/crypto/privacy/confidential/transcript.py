"""The Fiat-Shamir transcript: a running hash over labelled, length-prefixed messages.

Each proof starts from a domain separator naming the protocol, its version and the group;
the protocol then appends its whole statement (generators' seed, bit size, value count,
commitments) before any prover message, so every challenge binds everything the verifier
checks against.
"""

from __future__ import annotations

from xinlian.crypto.primitives.groups import Element, Group, transcript


class Transcript:
    """Absorbs labelled messages; squeezes challenges as non-zero scalars."""

    def __init__(self, group: Group, protocol: bytes) -> None:
        self.group = group
        self._dst = b"XINLIAN-CONFIDENTIAL-V1-" + protocol
        self._state = group.digest(transcript(self._dst, group.name.encode()))

    def append(self, label: bytes, data: bytes) -> None:
        self._state = self.group.digest(transcript(self._state, label, data))

    def append_int(self, label: bytes, value: int) -> None:
        self.append(label, value.to_bytes(8, "big"))

    def append_element(self, label: bytes, e: Element) -> None:
        """The element's encoding; the identity absorbs as the empty string."""
        self.append(label, b"" if e.is_identity() else e.encode())

    def append_scalar(self, label: bytes, k: int) -> None:
        self.append(label, self.group.scalar(k).encode())

    def challenge(self, label: bytes) -> int:
        """A non-zero challenge; it is absorbed back so later challenges depend on it."""
        c = self.group.hash_to_scalar(self._dst, transcript(self._state, label))
        if c.is_zero():  # probability ~2^-252: refuse the degenerate value, stay deterministic
            c = self.group.scalar(1)
        self.append(b"challenge:" + label, c.encode())
        return c.value
