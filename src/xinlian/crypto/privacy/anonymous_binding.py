"""Binding a message to an anonymous transfer (crypto/privacy/anonymous/): a one-of-n
proof that whoever made the message knows the one-time secret x of a member P_i of the
first spend's ring with that spend's key image I = x*Hp(ctx, P_i).

The transfer's own proofs are bound to the chain's context only (it also fixes the key
images, so it cannot vary per transaction). What the chain adds around a transfer (who
submits it and is refunded its fee, which account receives its public amount) must not be
changeable by someone who copies the transfer from the pool: only the spender, who knows
x, can make this proof for another message. Relation of member i (witness x):
P_i = x*G, I = x*Hp(ctx, P_i) (keys.key_base); the transcript holds the context, the
message, the key image and the ring, so the proof is sound for this message only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xinlian.crypto.primitives.groups import Group, Rng
from xinlian.crypto.privacy.anonymous import oneof
from xinlian.crypto.privacy.anonymous.errors import StatementError
from xinlian.crypto.privacy.anonymous.keys import OwnedNote, decode_point, key_base
from xinlian.crypto.privacy.anonymous.oneof import Relation
from xinlian.crypto.privacy.anonymous.records import Note, Transfer
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.sigma import Equation
from xinlian.crypto.privacy.confidential.transcript import Transcript


def _relations(group: Group, context: bytes, message: bytes, image: bytes,
               ring: Sequence[Note]) -> tuple[Transcript, list[Relation]]:
    g = generators(group).g
    key_image = decode_point(group, image, "key image")
    tr = Transcript(group, b"ANON-BINDING")
    tr.append(b"context", context)
    tr.append(b"message", message)
    members: list[Relation] = []
    for note in ring:
        p = decode_point(group, note.one_time_key, "ring one-time key")
        members.append([Equation(p, ((0, g),)),
                        Equation(key_image, ((0, key_base(group, context, p)),))])
    return tr, members


def prove_binding(spent: OwnedNote, ring: Sequence[Note], transfer: Transfer,
                  context: bytes, message: bytes, rng: Rng = os.urandom) -> bytes:
    """The binding of `message` to `transfer`, whose first spend spends `spent` in `ring`."""
    if not transfer.spends:
        raise StatementError("a transfer without spends binds nothing")
    group = spent.secret.group
    tr, members = _relations(group, context, message, transfer.spends[0].key_image, ring)
    index = [n.one_time_key for n in ring].index(spent.note.one_time_key)
    return oneof.prove(tr, members, index, [spent.secret], rng).encode(group)


def verify_binding(group: Group, transfer: Transfer, ring: Sequence[Note], context: bytes,
                   message: bytes, proof: bytes) -> None:
    """Raise InvalidTransferProofError (MalformedTransferError, StatementError) unless
    `proof` binds `message` to `transfer`, whose first spend's ring is `ring`."""
    if not transfer.spends:
        raise StatementError("a transfer without spends binds nothing")
    tr, members = _relations(group, context, message, transfer.spends[0].key_image, ring)
    oneof.verify(tr, members, oneof.decode(group, proof, len(members), 1))
