"""Encrypted aggregates: sums and counts over EC-ElGamal ciphertexts that members add up
without decrypting, and that only t of the n holders of the aggregate key's DKG shares can
open, each share proven (docs/privacy.md, section Encrypted aggregates).

    from xinlian.crypto.privacy.homomorphic import contribution, dlog, elgamal, threshold

- elgamal.py: exponential EC-ElGamal on SM2 (or ristretto255), homomorphic addition;
- sigma.py: the bit proof (counts) and the ciphertext-commitment link (sums), batchable;
- contribution.py: a member's ciphertext with its proof (bit, or link + Bulletproofs range);
- threshold.py: decryption shares with Chaum-Pedersen proofs, and their combination;
- dlog.py: the bounded discrete log (baby-step giant-step, capped table).
"""
