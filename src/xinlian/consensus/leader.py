"""Leader election: round-robin rotation over the committee, offset by the epoch.

Every honest node computes the same leader for a round from the committee alone, so a
proposal from anyone else is dropped. Power weighs quorums, not turns.
"""

from __future__ import annotations

from xinlian.consensus.committee import Committee


def leader(committee: Committee, round_: int) -> bytes:
    return committee.nodes[(round_ + committee.epoch) % committee.n]
