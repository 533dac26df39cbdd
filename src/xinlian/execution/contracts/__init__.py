"""The contract executor: Qi contracts (DEPLOY, CALL, UPGRADE, FUND) over the ledger's state.

`records` holds the state layout (`ct/`, `code/`, `cver/`, `cs/`), `world` the engine's
view of a block's overlay (journaled, code looked up from state), `runner` the operations.
The ledger's `Executor` and `LocalChain` both run contracts through `runner`.
"""
