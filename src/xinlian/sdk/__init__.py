"""Client SDK: build, sign, submit, wait for and verify transactions and proofs."""
