"""Confidential amounts: Pedersen commitments and aggregated Bulletproofs range proofs on
ristretto255 and the SM2 curve (docs/privacy.md, section Range proofs).

    from xinlian.crypto.privacy.confidential import GROUPS, pedersen, range_proof
"""

from __future__ import annotations

from xinlian.crypto.primitives.groups import SM2, Group
from xinlian.crypto.primitives.groups.ristretto255 import RISTRETTO255
from xinlian.crypto.privacy.confidential.errors import RangeProofStatementError

GROUPS: dict[str, Group] = {g.name: g for g in (RISTRETTO255, SM2)}


def get_group(name: str) -> Group:
    """The group called `name` ("ristretto255" or "sm2")."""
    try:
        return GROUPS[name]
    except KeyError:
        raise RangeProofStatementError(
            f"unknown group {name!r}; expected one of {sorted(GROUPS)}") from None
