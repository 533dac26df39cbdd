"""Primitives under the recipes: prime-order groups, SM2, BLS12-381, symmetric ciphers and
DLEQ proofs. Code above `crypto/` reaches them through the suite, not by name."""
