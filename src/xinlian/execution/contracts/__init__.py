"""The contract executor: Qi contracts (DEPLOY, CALL, UPGRADE, FUND, SET_ADMIN) over the state.

`records` holds the state layout (`ct/`, `code/`, `cver/`, `cs/`, `cupg/`), `world` the
engine's view of a block's overlay (journaled, code looked up from state), `authority` who
may upgrade a contract (the rule its code declares), `runner` the operations.
The ledger's `Executor` and `LocalChain` both run contracts through `runner`.
"""
