"""Collects signed votes on one statement until they reach a power threshold.

With BLS (aggregate committees) votes are stored unchecked and verified optimistically: at
the threshold they are summed and the sum is checked with one pairing; only if that fails is
each vote checked, the bad ones dropped and counted, and collection continues. With list
certificates each vote is checked on arrival. Either way one certificate comes out per key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from xinlian.consensus.certificates import Cert, Meter, combine, verify_cert, verify_one
from xinlian.consensus.committee import Committee
from xinlian.consensus.errors import InvalidCertificate


@dataclass
class _Tally:
    votes: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # index -> (msg, sig)
    checked: set[int] = field(default_factory=set)
    done: bool = False


class Aggregator:
    """Votes per key (e.g. (epoch, round, block id)); `add` returns the certificate once."""

    def __init__(self) -> None:
        self._tallies: dict[Hashable, _Tally] = {}
        self.invalid = 0

    def voters(self, key: Hashable) -> set[int]:
        tally = self._tallies.get(key)
        return set(tally.votes) if tally else set()

    def power(self, committee: Committee, key: Hashable) -> int:
        tally = self._tallies.get(key)
        return committee.power(tally.votes) if tally else 0

    def add(self, committee: Committee, key: Hashable, index: int, message: bytes,
            signature: bytes, threshold: int, meter: Meter) -> tuple[Cert, list[int]] | None:
        """Record a vote; return (certificate, signer indices) when the threshold is met."""
        tally = self._tallies.setdefault(key, _Tally())
        if tally.done or index in tally.votes:
            return None
        if not committee.aggregate:
            if not verify_one(committee, index, message, signature, meter):
                self.invalid += 1
                return None
            tally.checked.add(index)
        tally.votes[index] = (message, signature)
        if committee.power(tally.votes) < threshold:
            return None
        return self._certify(committee, tally, threshold, meter)

    def _certify(self, committee: Committee, tally: _Tally, threshold: int,
                 meter: Meter) -> tuple[Cert, list[int]] | None:
        votes = [(i, sig) for i, (_, sig) in tally.votes.items()]
        try:
            cert = combine(committee, votes, meter)
            if committee.aggregate and len(tally.checked) < len(tally.votes):
                verify_cert(committee, cert, lambda i: tally.votes[i][0], threshold, meter)
        except InvalidCertificate:
            for i, (msg, sig) in list(tally.votes.items()):
                if i not in tally.checked:
                    if verify_one(committee, i, msg, sig, meter):
                        tally.checked.add(i)
                    else:
                        del tally.votes[i]
                        self.invalid += 1
            if committee.power(tally.votes) < threshold:
                return None
            cert = combine(committee, [(i, s) for i, (_, s) in tally.votes.items()], meter)
        tally.done = True
        return cert, sorted(tally.votes)

    def forget(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop every tally whose key fails the predicate `keep(key)`."""
        for key in [k for k in self._tallies if not keep(k)]:
            del self._tallies[key]
