"""Ledger: transactions, blocks, receipts, genesis and the mempool."""
