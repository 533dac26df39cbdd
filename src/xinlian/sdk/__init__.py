"""Client SDK: build, sign, submit, wait for and verify transactions and proofs.

`Client` (blocking) and `AsyncClient` (asyncio, with websocket subscriptions) talk to a
node's JSON-RPC API; `Wallet` signs transactions for any suite; `Verifier` checks headers,
state proofs and transaction audit paths: on a BFT chain against headers its committees
certified (`HeaderChain`), on a solo chain against the trusted node key; `Contract` wraps
a deployed Qi contract, typed by its ABI (`ContractAbi`). See docs/sdk.md.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xinlian.sdk.aio import AsyncClient, Subscription
    from xinlian.sdk.client import Client
    from xinlian.sdk.contract_abi import ContractAbi, ContractEvent
    from xinlian.sdk.contracts import Contract, ContractCode, ContractReceipt, ProvenValue
    from xinlian.sdk.errors import (
        AbiMismatch,
        AnswerIncomplete,
        AnswerReordered,
        AnswerTampered,
        CommitTimeout,
        ContractFailed,
        ContractReverted,
        NoContract,
        NotCertifiedYet,
        ProofError,
        ResponseError,
        RpcError,
        SdkError,
        TransportError,
        TxRejected,
        UntrustedChain,
    )
    from xinlian.sdk.headers import HeaderChain
    from xinlian.sdk.ops import Ops
    from xinlian.sdk.verify import Verifier, trust
    from xinlian.sdk.wallet import SignedTx, Wallet

# Each name's module, imported when the name is first used: importing one light module of
# the SDK (its errors, say) does not load the clients and what they import.
_WHERE = {
    "AbiMismatch": "errors",
    "AnswerIncomplete": "errors",
    "AnswerReordered": "errors",
    "AnswerTampered": "errors",
    "AsyncClient": "aio",
    "Client": "client",
    "CommitTimeout": "errors",
    "Contract": "contracts",
    "ContractAbi": "contract_abi",
    "ContractCode": "contracts",
    "ContractEvent": "contract_abi",
    "ContractFailed": "errors",
    "ContractReceipt": "contracts",
    "ContractReverted": "errors",
    "HeaderChain": "headers",
    "NoContract": "errors",
    "NotCertifiedYet": "errors",
    "Ops": "ops",
    "ProofError": "errors",
    "ProvenValue": "contracts",
    "ResponseError": "errors",
    "RpcError": "errors",
    "SdkError": "errors",
    "SignedTx": "wallet",
    "Subscription": "aio",
    "TransportError": "errors",
    "TxRejected": "errors",
    "UntrustedChain": "errors",
    "Verifier": "verify",
    "Wallet": "wallet",
    "trust": "verify",
}
__all__ = [
    "AbiMismatch",
    "AnswerIncomplete",
    "AnswerReordered",
    "AnswerTampered",
    "AsyncClient",
    "Client",
    "CommitTimeout",
    "Contract",
    "ContractAbi",
    "ContractCode",
    "ContractEvent",
    "ContractFailed",
    "ContractReceipt",
    "ContractReverted",
    "HeaderChain",
    "NoContract",
    "NotCertifiedYet",
    "Ops",
    "ProofError",
    "ProvenValue",
    "ResponseError",
    "RpcError",
    "SdkError",
    "SignedTx",
    "Subscription",
    "TransportError",
    "TxRejected",
    "UntrustedChain",
    "Verifier",
    "Wallet",
    "trust",
]


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"xinlian.sdk.{_WHERE[name]}"), name)
