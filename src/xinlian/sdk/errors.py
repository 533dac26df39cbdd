"""The SDK's typed errors (61xx).

`RpcError` carries the server's JSON-RPC error: `rpc_code` and the Xinlian error it
reported (`remote_code`, `remote_name`, e.g. 4004 "nonce_too_low"), so callers branch on
the same codes the node uses. `ProofError` means the node's answer did not verify: treat the
answer as false, whatever it says.
"""

from __future__ import annotations

from typing import Any

from xinlian.errors import XinlianError
from xinlian.ledger.block import Receipt


class SdkError(XinlianError):
    code = 6100
    name = "sdk_error"


class TransportError(SdkError):
    """The node could not be reached, or answered with something that is not JSON-RPC."""

    code = 6101
    name = "transport_error"


class RpcError(SdkError):
    """The node answered with a JSON-RPC error."""

    code = 6102
    name = "rpc_error"

    def __init__(self, rpc_code: int, remote_code: int, remote_name: str, message: str) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code
        self.remote_code = remote_code
        self.remote_name = remote_name

    def __str__(self) -> str:
        return f"{self.remote_name} ({self.remote_code}): {self.message}"


class TxRejected(RpcError):
    """The node refused a submitted transaction (its hash is `tx_hash`)."""

    code = 6103
    name = "tx_rejected"

    def __init__(self, rpc_code: int, remote_code: int, remote_name: str, message: str,
                 tx_hash: bytes) -> None:
        super().__init__(rpc_code, remote_code, remote_name, message)
        self.tx_hash = tx_hash


class ResponseError(SdkError):
    """A result does not have the shape the method promises."""

    code = 6104
    name = "bad_response"


class CommitTimeout(SdkError):
    """Transactions were not committed before the deadline; `pending` lists their hashes."""

    code = 6105
    name = "commit_timeout"

    def __init__(self, message: str, pending: list[bytes]) -> None:
        super().__init__(message)
        self.pending = pending


class ProofError(SdkError):
    """A proof, header hash, header signature or audit path failed to verify."""

    code = 6110
    name = "proof_failed"


class UntrustedChain(ProofError):
    """The node serves another chain than the one pinned (genesis hash or node key)."""

    code = 6111
    name = "untrusted_chain"


class AbiMismatch(SdkError):
    """An ABI document is not one the compiler writes, or a value from the node does not
    decode by it (the wrong ABI for the contract, or a bad answer)."""

    code = 6120
    name = "abi_mismatch"


class ContractFailed(SdkError):
    """A contract run failed: a committed transaction whose receipt has a non-zero status
    (its state changes were reverted, its fuel paid; `receipt` holds it), a refused
    deployment or upgrade, or a failed read-only query (`receipt` is None).

    `remote_code` / `remote_name` are the node's error (e.g. 7506 `revert`, 7504
    `out_of_fuel`, 7513 `contract_frozen`), `trace` the Qi stack, innermost first."""

    code = 6121
    name = "contract_failed"

    def __init__(self, remote_code: int, remote_name: str, message: str, trace: list[str], *,
                 fuel_used: int = 0, receipt: Receipt | None = None) -> None:
        super().__init__(message or remote_name)
        self.remote_code = remote_code
        self.remote_name = remote_name
        self.trace = trace
        self.fuel_used = fuel_used
        self.receipt = receipt

    def __str__(self) -> str:
        where = "".join(f"\n  at {frame}" for frame in self.trace)
        return f"{self.remote_name} ({self.remote_code}): {self.message}{where}"


class ContractReverted(ContractFailed):
    """The contract raised one of its declared errors (`revert Name(args)`): the class of
    the exception is the error's own (`token.errors.InsufficientBalance`), `error_name` its
    Qi name and `error_args` its decoded arguments by name."""

    code = 6122
    name = "contract_reverted"

    def __init__(self, remote_code: int, remote_name: str, message: str, trace: list[str], *,
                 error_name: str, error_args: dict[str, Any], fuel_used: int = 0,
                 receipt: Receipt | None = None) -> None:
        super().__init__(remote_code, remote_name, message, trace, fuel_used=fuel_used,
                         receipt=receipt)
        self.error_name = error_name
        self.error_args = error_args


class NoContract(SdkError):
    """No contract (or no code) at the address or hash asked for; with verification,
    its absence is proven."""

    code = 6123
    name = "no_contract"


class IndexQueryError(SdkError):
    """An index query the contract's ABI does not allow: an unknown event or variable, a
    parameter that is not indexed, a value of the wrong type (sdk/indexes.py)."""

    code = 6130
    name = "bad_index_query"


class NotCertifiedYet(ProofError):
    """The block asked about has no committee certificate yet (it trails the head by about
    one block); ask again shortly."""

    code = 6112
    name = "not_certified_yet"


class AnswerTampered(ProofError):
    """A node's answer was changed: a record, a version, a figure or a proof node is not
    what the committed structure holds (storage's answer_tampered, 3021)."""

    code = 6114
    name = "answer_tampered"


class AnswerIncomplete(ProofError):
    """A node's answer left out what the query covers: a record, a version, a block
    (storage's answer_incomplete, 3022)."""

    code = 6115
    name = "answer_incomplete"


class AnswerReordered(ProofError):
    """A node's answer holds the right parts in the wrong order (storage's
    answer_reordered, 3023)."""

    code = 6116
    name = "answer_reordered"


def answer_error(exc: XinlianError, where: str) -> ProofError:
    """The SDK error for a storage verifier's error `exc`: tampered, incomplete and
    reordered answers apart, any other failure a plain ProofError."""
    kind = _ANSWER_ERRORS.get(exc.code, ProofError)
    return kind(f"{where}: {exc.message}")


_ANSWER_ERRORS: dict[int, type[ProofError]] = {
    3021: AnswerTampered, 3022: AnswerIncomplete, 3023: AnswerReordered}


class Unavailable(SdkError):
    """The node cannot give what a check needs (for instance the history of blocks older
    than the state snapshot it joined from): ask another node."""

    code = 6113
    name = "unavailable"


class DataQueryFailed(SdkError):
    """A data query or write the collection does not allow: no such collection, an
    unknown attribute, a bound of the wrong kind, an attribute without a range index, a
    page over the limit (sdk/data.py). `reason` is the typed error of the data model."""

    code = 6140
    name = "bad_data_query"

    def __init__(self, message: str, reason: XinlianError | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class TxFailed(SdkError):
    """Base of a committed transaction whose receipt has a non-zero status (`receipt`):
    `remote_code` and `remote_name` are the error it failed with."""

    def __init__(self, receipt: Receipt) -> None:
        super().__init__(f"{receipt.error} ({receipt.status})")
        self.receipt = receipt
        self.remote_code = receipt.status
        self.remote_name = receipt.error


class DataWriteFailed(TxFailed):
    """A committed data transaction whose receipt has a non-zero status (`receipt`): its
    writes were dropped, its fee paid. `remote_name` is the data model's error (e.g.
    `unknown_attribute`, `not_writer`, `wrong_kind`)."""

    code = 6141
    name = "data_write_failed"


class ConfidentialFailed(TxFailed):
    """A committed confidential-account transaction whose receipt has a non-zero status:
    nothing of it was applied, its fee was paid. `remote_name` is the reason (e.g.
    `confidential_stale_balance`: an incoming transfer landed first, prove again;
    `confidential_invalid_proof`, `not_regulator_member`)."""

    code = 6150
    name = "confidential_failed"


class AnonymousFailed(TxFailed):
    """A committed anonymous-note transaction whose receipt has a non-zero status:
    nothing of it was applied, its fee was paid. `remote_name` is the reason (e.g.
    `anonymous_double_spend`: a note of it is spent already, scan and prepare again;
    `anonymous_invalid_proof`, `not_regulator_member`)."""

    code = 6151
    name = "anonymous_failed"
