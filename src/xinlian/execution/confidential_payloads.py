"""Payloads of confidential-account transactions (kind CONFIDENTIAL, a tagged union like the
system operations) and the governance change that names the regulator key.

Who may do what (enforced in execution/confidential.py):
- Register(key, proof): any account, once: its twisted-ElGamal key with a proof of knowledge.
- Deposit(amount): a registered account moves `amount` of its public balance into its
  confidential balance (the amount is public; the balance stays encrypted).
- ConfidentialTransfer(to, note, balance): a registered account sends an encrypted amount to
  another registered account; `note` is transfer.TransferNote's encoding, `balance` the
  digest of the sender's balance ciphertext the note was proven against.
- Withdraw(amount, note, balance): back to the public balance, with a proof.
- OpenRequest(transfer, blinded, proof): a member of the regulator key asks to open a
  confidential transfer, with the blinded base C1' = C1 + rho*B0 and a proof of rho
  (crypto/privacy/confidential/tracing.py); rho stays with the requester.
- OpenShare(transfer, share, proof): a member of the regulator key publishes its decryption
  share on the request's blinded base; with t of them the opening is recorded on chain,
  and only the requester (who knows rho) reads the amount from it.
- Propose(SetRegulator(...)): governance names the regulator key (from a DKG among the
  regulator's members) and the account of each member.
"""

from __future__ import annotations

from typing import Annotated

from xinlian.codec import Struct, at_most, exactly

Address = Annotated[bytes, exactly(20)]
Point = Annotated[bytes, at_most(65)]
Digest = Annotated[bytes, exactly(32)]
Note = Annotated[bytes, at_most(4096)]


class Register(Struct, tag="register"):
    key: Point
    proof: Annotated[bytes, at_most(96)]


class Deposit(Struct, tag="deposit"):
    amount: int


class ConfidentialTransfer(Struct, tag="transfer"):
    to: Address
    note: Note
    balance: Digest


class Withdraw(Struct, tag="withdraw"):
    amount: int
    note: Note
    balance: Digest


class OpenShare(Struct, tag="open_share"):
    transfer: Digest  # the confidential transfer's transaction hash
    share: Point
    proof: Annotated[bytes, at_most(96)]


class OpenRequest(Struct, tag="open_request"):
    transfer: Digest  # the confidential transfer's id (its transaction hash, or conf_pay's)
    blinded: Point  # C1' = C1 + rho*B0
    proof: Annotated[bytes, at_most(96)]  # knowledge of rho


ConfidentialOp = Register | Deposit | ConfidentialTransfer | Withdraw | OpenShare | OpenRequest


class ContractPayment(Struct):
    """What a contract passes to `conf_pay` (execution/vm/services.py): the origin's
    transfer note and balance digest as in ConfidentialTransfer, and the proof that the
    amount is at least the floor the contract asks (empty for a floor of 0)."""

    note: Note
    balance: Digest
    floor: Annotated[bytes, at_most(1024)]


class RegulatorMember(Struct):
    index: int  # the member's DKG identifier
    address: Address  # the account that submits its shares
    verifying_share: Point  # x_i * B0


class SetRegulator(Struct, tag="set_regulator"):
    """The regulator key: the group of confidential accounts ("ristretto255" or "sm2"),
    the threshold t, the public key and the members."""

    group: str
    threshold: int
    public_key: Point
    members: list[RegulatorMember]
