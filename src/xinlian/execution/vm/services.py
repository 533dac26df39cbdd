"""The host side of `qi.service`: transaction context and cryptography for contracts.

Each builtin of `xinlian.lang.services.SERVICES` is a function here from the running
frame and its decoded arguments to its result. Everything is deterministic: SM2
encryption, randomised in the standard, derives its ephemeral key from the transaction
hash, the contract, a count of encryptions in the transaction and the message, so every
node computes the same ciphertext. Inputs the algorithms refuse raise `CryptoInputError`.

Fuel (base, per byte of encoded arguments) per builtin is calibrated by
`benchmarks/fuel.py` like the rest of the host schedule: the fuel per call that its
measured time implies at plain code's rate, plus about 10%.

`conf_pay` executes a confidential transfer from the transaction's origin inside the
contract's run (execution/confidential.py, `Confidential.pay`): its writes go through the
run's journal, so a revert, a failed call or a caught error undoes the transfer with the
contract's own writes. Its proofs are bound to the origin, the transaction's nonce and
the calling contract, so a contract can neither spend another account's balance nor
replay a payment. Its fuel adds the verification's (confidential.VERIFY_FUEL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from xinlian import codec
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2, symmetric
from xinlian.crypto.signing import verify_raw
from xinlian.crypto.suites import get_suite
from xinlian.errors import XinlianError
from xinlian.execution import confidential
from xinlian.execution.confidential_payloads import ContractPayment
from xinlian.lang.errors import ConfidentialPayError, CryptoInputError

if TYPE_CHECKING:
    from xinlian.execution.vm.host import Frame

# how many recent blocks' hashes `block_hash` can see
BLOCK_HASH_WINDOW = 256

# name -> (base fuel, fuel per byte of the encoded arguments); results are charged per
# byte written back like every host result (RESULT_FUEL_PER_BYTE)
SERVICE_FUEL: dict[str, tuple[int, int]] = {
    "tx_hash": (185_000, 0),
    "tx_index": (185_000, 0),
    "origin": (185_000, 0),
    "block_hash": (185_000, 0),
    "sm4_gcm_encrypt": (400_000, 240),
    "sm4_gcm_decrypt": (400_000, 240),
    "sm4_cbc_encrypt": (400_000, 240),
    "sm4_cbc_decrypt": (400_000, 240),
    "sm2_encrypt": (18_300_000, 2),
    "sm2_decrypt": (9_100_000, 2),
    "sm2_verify_id": (12_600_000, 2),
    "verify": (185_000, 2),  # + the suite algorithm's VERIFY_FUEL
    # + the verification's confidential.VERIFY_FUEL; the base covers its state: three
    # reads and three writes of ~200-byte records at the storage schedule's rates
    "conf_pay": (1_100_000, 2),
    # one state read: `conf_balance` measured (benchmarks/fuel.py, 258,000 per call)
    "conf_key": (280_000, 0),
    "conf_balance": (280_000, 0),
    "conf_regulated": (280_000, 0),
}


def _tx_hash(f: Frame) -> bytes:
    return f.world.tx.hash


def _tx_index(f: Frame) -> int:
    return f.world.tx.index


def _origin(f: Frame) -> bytes:
    return f.origin


def _block_hash(f: Frame, number: int) -> bytes | None:
    """The hash of block `number` if it is one of the last BLOCK_HASH_WINDOW closed
    blocks (the current block has no hash yet), else none."""
    current = f.world.block_number
    if not current - BLOCK_HASH_WINDOW <= number < current:
        return None
    return f.world.block_hashes.get(number)


def _sm4_gcm_encrypt(f: Frame, key: bytes, nonce: bytes, plaintext: bytes,
                     aad: bytes) -> bytes:
    return symmetric.seal(AlgId.SM4_GCM, key, nonce, plaintext, aad)


def _sm4_gcm_decrypt(f: Frame, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    return symmetric.open_sealed(AlgId.SM4_GCM, key, nonce, sealed, aad)


def _sm4_cbc_encrypt(f: Frame, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    return symmetric.sm4_cbc_encrypt(key, iv, plaintext)


def _sm4_cbc_decrypt(f: Frame, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    return symmetric.sm4_cbc_decrypt(key, iv, ciphertext)


def _sm2_encrypt(f: Frame, public_key: bytes, plaintext: bytes) -> bytes:
    f.run.encryptions += 1
    seed = f.world.tx.hash + f.contract + f.run.encryptions.to_bytes(8, "big")
    return sm2.encrypt_with_seed(public_key, plaintext, seed)


def _sm2_decrypt(f: Frame, secret: bytes, ciphertext: bytes) -> bytes:
    return sm2.SM2PrivateKey(secret).decrypt(ciphertext)


def _sm2_verify_id(f: Frame, public_key: bytes, message: bytes, signature: bytes,
                   signer_id: bytes) -> bool:
    try:
        return sm2.verify_with_id(public_key, message, signature, signer_id)
    except CryptoError:  # a malformed key verifies nothing, as for every verify builtin
        return False


def _verify(f: Frame, public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        return verify_raw(get_suite(f.world.suite).signature, public_key, message, signature)
    except (CryptoError, ValueError):
        return False


class _Journal:
    """The run's state as confidential.Store: world-state keys, written through the
    run's journal."""

    def __init__(self, f: Frame) -> None:
        self._state = f.world.state

    def get(self, key: bytes) -> bytes | None:
        return self._state.read(key)

    def set(self, key: bytes, value: bytes | None) -> None:
        self._state.write(key, value)


def _conf_pay(f: Frame, to: bytes, floor: int, payment: bytes) -> bytes:
    """Execute the origin's confidential transfer `payment` (ContractPayment's encoding)
    to `to` of at least `floor`; the transfer's id (what the regulator opens)."""
    tx = f.world.tx
    if tx.nonce is None:
        raise ConfidentialPayError("`conf_pay` runs only in a transaction an account signed")
    hash_bytes = get_suite(f.world.suite).hash_bytes
    f.run.payments += 1
    transfer_id = hash_bytes(b"xinlian/conf/pay\x00" + tx.hash + f.contract
                             + f.run.payments.to_bytes(4, "big"))
    try:
        confidential.Confidential(hash_bytes).pay(
            _Journal(f), tx.chain_id, f.origin, tx.nonce, f.contract, transfer_id,
            f.world.block_number, to, floor, codec.decode(payment, ContractPayment))
    except XinlianError as exc:
        raise ConfidentialPayError(f"`conf_pay`: {exc.name} ({exc.code}): {exc.message}"
                                   ) from None
    return transfer_id


def _conf_key(f: Frame, account: bytes) -> bytes | None:
    found = confidential.get_account(f.world.state.read, account)
    return None if found is None else found.key


def _conf_balance(f: Frame, account: bytes) -> bytes | None:
    found = confidential.get_account(f.world.state.read, account)
    return None if found is None else found.balance


def _conf_regulated(f: Frame) -> bool:
    return f.world.state.read(confidential.REGULATOR_KEY) is not None


def service_fuel(name: str, f: Frame) -> int:
    """Fuel a builtin costs beyond SERVICE_FUEL: a confidential payment's verification,
    in the chain's confidential group."""
    if name != "conf_pay":
        return 0
    reg = confidential.get_regulator(f.world.state.read)
    group = "ristretto255" if reg is None else reg.group
    return confidential.VERIFY_FUEL[group][ContractPayment]


SERVICE_FNS: dict[str, Callable[..., Any]] = {
    "tx_hash": _tx_hash, "tx_index": _tx_index, "origin": _origin,
    "block_hash": _block_hash,
    "sm4_gcm_encrypt": _sm4_gcm_encrypt, "sm4_gcm_decrypt": _sm4_gcm_decrypt,
    "sm4_cbc_encrypt": _sm4_cbc_encrypt, "sm4_cbc_decrypt": _sm4_cbc_decrypt,
    "sm2_encrypt": _sm2_encrypt, "sm2_decrypt": _sm2_decrypt,
    "sm2_verify_id": _sm2_verify_id, "verify": _verify,
    "conf_pay": _conf_pay, "conf_key": _conf_key, "conf_balance": _conf_balance,
    "conf_regulated": _conf_regulated,
}


def serve(name: str, frame: Frame, args: list[Any]) -> Any:
    """Run builtin `name`; what the algorithms refuse becomes `CryptoInputError`."""
    try:
        return SERVICE_FNS[name](frame, *args)
    except (CryptoError, ValueError) as exc:
        raise CryptoInputError(f"`{name}`: {exc}") from None
