"""Payloads of anonymous-note transactions (kind ANONYMOUS, a tagged union like the
confidential operations); the rules are in execution/anonymous.py, the proofs and the
records they carry (records.Transfer, records.Address) in crypto/privacy/anonymous/.

Who may do what:
- RegisterAddress(address, proof): any account, once: its anonymous address (view key A,
  spend key B) with a proof of knowledge of both secrets, so receiver sets hold only real
  members; a spend key belongs to one account only (the regulator's opening names it).
- Shield(receivers, transfer): the sender moves `transfer.public_in` of its public
  balance into one new note for one of the registered accounts in `receivers` (the
  amount is public; the transfer has no spend).
- AnonTransfer(rings, receivers, transfer, to): spends one note of each ring (rings name
  notes by their global index) into new notes, one per receiver set (sets name registered
  accounts), with `fee + public_out` of the transfer leaving the notes in public:
  `public_out` to the public balance of `to` (unshield), `fee` to whoever submits it (the
  submitter, who may be a relayer, pays the transaction's fee and is refunded from the
  notes; the sender is never the signer unless it submits itself).
- AnonOpenRequest(transfer, blinded, proofs): a member of the regulator key (`conf/reg`,
  the same key as confidential transfers') asks to open an anonymous transfer, every
  ciphertext's c1 blinded by a rho only it knows (execution/confidential_opening.py).
- AnonOpenShare(transfer, shares): a member publishes its decryption shares of every
  ciphertext, on the pending request's blinded bases; with t of them the opening is
  recorded on chain, readable by the requester only.
"""

from __future__ import annotations

from typing import Annotated

from xinlian.codec import Struct, at_most, exactly
from xinlian.crypto.privacy.anonymous.records import Address as AnonAddress
from xinlian.crypto.privacy.anonymous.records import Transfer

Address = Annotated[bytes, exactly(20)]
Digest = Annotated[bytes, exactly(32)]

MIN_RING = 2  # a ring of one names its spender
MAX_RING = 16
MAX_RECEIVERS = 16  # members of one output's receiver set
MAX_INPUTS = 4
MAX_OUTPUTS = 4
MAX_CIPHERS = MAX_INPUTS + 2 * MAX_OUTPUTS  # a sender per spend, receiver and amount per output


class RegisterAddress(Struct, tag="register"):
    address: AnonAddress
    proof: Annotated[bytes, at_most(256)]


class Shield(Struct, tag="shield"):
    receivers: Annotated[list[Address], at_most(MAX_RECEIVERS)]
    transfer: Transfer  # no spends, one output, public_in the amount


class AnonTransfer(Struct, tag="transfer"):
    rings: Annotated[list[Annotated[list[int], at_most(MAX_RING)]], at_most(MAX_INPUTS)]
    receivers: Annotated[list[Annotated[list[Address], at_most(MAX_RECEIVERS)]],
                         at_most(MAX_OUTPUTS)]
    transfer: Transfer  # public_in 0
    binding: Annotated[bytes, at_most(33 * (MAX_RING + 1))]
    to: Address | None = None  # the public account `transfer.public_out` goes to


class AnonOpenShare(Struct, tag="open_share"):
    transfer: Digest  # the anonymous transfer's transaction hash
    # one per ciphertext of the transfer, in the order of its trace, on the request's bases
    shares: Annotated[list[Annotated[bytes, at_most(65)]], at_most(MAX_CIPHERS)]
    proofs: Annotated[list[Annotated[bytes, at_most(96)]], at_most(MAX_CIPHERS)]


class AnonOpenRequest(Struct, tag="open_request"):
    transfer: Digest  # the anonymous transfer's transaction hash
    # one blinded base c1' = c1 + rho_k*B0 per ciphertext, in the order of its trace
    blinded: Annotated[list[Annotated[bytes, at_most(65)]], at_most(MAX_CIPHERS)]
    proofs: Annotated[list[Annotated[bytes, at_most(96)]], at_most(MAX_CIPHERS)]


AnonymousOp = RegisterAddress | Shield | AnonTransfer | AnonOpenShare | AnonOpenRequest
