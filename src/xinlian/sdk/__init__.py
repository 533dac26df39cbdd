"""Client SDK: build, sign, submit, wait for and verify transactions and proofs.

`Client` (blocking) and `AsyncClient` (asyncio, with websocket subscriptions) talk to a
node's JSON-RPC API; `Wallet` signs transactions for any suite; `Verifier` checks headers,
state proofs and transaction audit paths: on a BFT chain against headers its committees
certified (`HeaderChain`), on a solo chain against the trusted node key; `Contract` wraps
a deployed Qi contract, typed by its ABI (`ContractAbi`). See docs/sdk.md.
"""

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
