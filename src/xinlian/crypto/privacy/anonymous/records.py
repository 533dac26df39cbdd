"""The records of anonymous transfers as they travel and are stored (codec.Struct: one
canonical MessagePack encoding each). Points and scalars are bytes in the group's
canonical encoding (32 bytes on ristretto255; 33-byte compressed points and 32-byte
scalars on SM2); the verifier decodes them strictly (errors.MalformedTransferError)."""

from __future__ import annotations

from xinlian import codec


class Address(codec.Struct):
    """A user's anonymous address: view key A = a*G, spend key B = b*G (G the Pedersen
    value generator of confidential/generators.py). Registered on chain with a proof of
    knowledge of a and b (keys.prove_registration), so receiver sets hold real members."""

    view: bytes
    spend: bytes


class Note(codec.Struct):
    """One output as the chain stores it; a ring member when someone spends.

    one_time_key  P = s*G + B, s = Hs(r*A): unlinkable to the address (A, B)
    tx_key        R = r*G, from which the receiver recomputes s = Hs(a*R)
    commitment    C = v*G + m*H (m = Hs'(r*A): the receiver recomputes it)
    owner_c1/c2   (k*B0, B + k*pk_R): the receiver's spend key B for the regulator
    amount_c1/c2  (t*B0, v*G + t*pk_R): the amount v for the regulator
    sealed_amount v (8 bytes, big-endian) masked with a key derived from r*A
    """

    one_time_key: bytes
    tx_key: bytes
    commitment: bytes
    owner_c1: bytes
    owner_c2: bytes
    amount_c1: bytes
    amount_c2: bytes
    sealed_amount: bytes


class Spend(codec.Struct):
    """One input: the key image I = x*Hp(P) (the same for every spend of a note), the
    pseudo commitment C' = v*G + m'*H to the spent amount, the spent note's owner escrow
    re-randomised (E' = E_pi + k'*(B0, pk_R)) and the ring proof (1 + 3n scalars) that
    some ring member i has P_i = x*G, I = x*Hp(P_i), C_i - C' = z*H and E' - E_i =
    k'*(B0, pk_R)."""

    key_image: bytes
    pseudo_commitment: bytes
    owner_c1: bytes
    owner_c2: bytes
    proof: bytes


class Output(codec.Struct):
    """One output: the new note, its receiver proof over the receiver set (1 + 2m
    scalars: for some member j, E1 = k*B0, E2 - B_j = k*pk_R, P - B_j = s*G) and its
    amount-escrow proof (4 scalars: C, T1, T2 hold one v)."""

    note: Note
    receiver_proof: bytes
    amount_proof: bytes


class Transfer(codec.Struct):
    """An anonymous transfer: spends and outputs with public fee, public amount in (a
    shield's deposit) and public amount out (an unshield), such that
    sum C'_in + public_in*G = sum C_out + (fee + public_out)*G + z*H (balance_proof: 2
    scalars, knowledge of z), and one aggregated 32-bit range proof over the output
    commitments (padded with the identity to a power of two)."""

    group: str
    spends: list[Spend]
    outputs: list[Output]
    fee: int
    public_in: int
    public_out: int
    balance_proof: bytes
    range_proof: bytes
