"""Builtins served by the host through one import, `qi.service(op, ptr, len) -> len`.

The compiler encodes a builtin's arguments with the canonical ABI encoding, the host
answers with its result encoded the same way (written at offset 0 of linear memory), and
the program decodes it with the codec of the result type. Adding a builtin here needs no
new import, codec or code generator; the op number is the builtin's position in
`SERVICES`, so entries are only ever appended. Inputs the host refuses (a key of the wrong
length, a ciphertext that does not authenticate) stop the call with `CryptoInputError`.
"""

from __future__ import annotations

from xinlian.lang.types import ADDRESS, BOOL, BYTES, U32, U64, OptionalTy, Ty

# name -> (parameter types, result type)
SERVICES: dict[str, tuple[list[Ty], Ty]] = {
    # the transaction being executed
    "tx_hash": ([], BYTES),
    "tx_index": ([], U32),
    "origin": ([], ADDRESS),
    "block_hash": ([U64], OptionalTy(BYTES)),
    # SM4 (GB/T 32907): GCM with a 12-byte nonce and a 16-byte tag appended; CBC with PKCS#7
    "sm4_gcm_encrypt": ([BYTES, BYTES, BYTES, BYTES], BYTES),
    "sm4_gcm_decrypt": ([BYTES, BYTES, BYTES, BYTES], BYTES),
    "sm4_cbc_encrypt": ([BYTES, BYTES, BYTES], BYTES),
    "sm4_cbc_decrypt": ([BYTES, BYTES, BYTES], BYTES),
    # SM2 (GB/T 32918): public-key encryption (C1 || C3 || C2), verification with a signer ID
    "sm2_encrypt": ([BYTES, BYTES], BYTES),
    "sm2_decrypt": ([BYTES, BYTES], BYTES),
    "sm2_verify_id": ([BYTES, BYTES, BYTES, BYTES], BOOL),
    # a signature of the chain's suite
    "verify": ([BYTES, BYTES, BYTES], BOOL),
    # confidential accounts (execution/confidential.py): the origin's proven transfer to
    # an account, of at least a floor, returning its transfer id; an account's registered
    # key and balance ciphertext; whether the chain has a regulator key
    "conf_pay": ([ADDRESS, U64, BYTES], BYTES),
    "conf_key": ([ADDRESS], OptionalTy(BYTES)),
    "conf_balance": ([ADDRESS], OptionalTy(BYTES)),
    "conf_regulated": ([], BOOL),
}
SERVICE_OPS: dict[str, int] = {name: i for i, name in enumerate(SERVICES)}
# builtins that change the chain's state (outside the contract's storage): a `view`
# function may not call them (E7211), like writing state or emitting
STATE_CHANGING: frozenset[str] = frozenset({"conf_pay"})
