"""Storage: LMDB key-value backend, the authenticated state tree and indexes."""
