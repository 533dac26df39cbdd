"""The post-quantum algorithm catalogue: security level, sizes, and the four indicators.

The national guideline's indicators for a post-quantum algorithm: >= 128-bit quantum
security; one sign+verify (signatures) or encrypt+decrypt (encryption) under 1 ms; a
ciphertext under 50x its plaintext; a signature of at most 5,000 bytes. Three of them are
properties of the parameter set and are checked here, statically; the time is measured by
`pq_table.measure` (on the machine at hand) and reported next to them.

Quantum security is the best-known quantum attack cost published for the parameter set:
the quantum core-SVP estimate (0.265 beta) of the round-3 submissions for ML-KEM (Kyber)
and ML-DSA (Dilithium); for Falcon-1024 and SLH-DSA, the floor their NIST category implies
under Grover key search (category 5: 128 bits; SLH-DSA-128: a 128-bit hash, 64 bits);
Falcon-512 is category 1 (its submission's quantum core-SVP figure, about 108 bits, fails
as well). A composite or hybrid has the quantum security of its post-quantum half: the
classical half adds none.

A post-quantum suite refuses an algorithm that fails a static indicator for its use, with
IndicatorNotMet (`require`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.crypto.errors import IndicatorNotMet
from xinlian.crypto.keys import AlgId

MIN_QUANTUM_BITS = 128
MAX_SIGNATURE = 5000
MAX_EXPANSION = 50.0
MAX_OPERATION_US = 1000.0
PLAINTEXT_SIZES = (32, 1024, 65536)


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One parameter set. `overhead` is what a ciphertext adds to its plaintext (the KEM
    ciphertext, a classical part, the AEAD tag); 0 for signatures."""

    name: str
    use: str  # "signature" | "encryption" | "key_exchange"
    nist_level: int  # 0: classical only
    quantum_bits: int
    public_key: int
    secret_key: int
    signature: int = 0
    overhead: int = 0
    wire: int = 0  # key exchange: bytes of both shares

    def expansion(self, plaintext: int) -> float:
        return (plaintext + self.overhead) / plaintext

    def static_failures(self) -> list[str]:
        """The indicators this parameter set fails whatever the machine: empty if none."""
        failed = []
        if self.quantum_bits < MIN_QUANTUM_BITS:
            failed.append(f"quantum security {self.quantum_bits} < {MIN_QUANTUM_BITS} bits")
        if self.use == "signature" and self.signature > MAX_SIGNATURE:
            failed.append(f"signature {self.signature} > {MAX_SIGNATURE} bytes")
        if self.use == "encryption":
            worst = max(self.expansion(n) for n in PLAINTEXT_SIZES)
            if worst >= MAX_EXPANSION:
                failed.append(f"ciphertext {worst:.1f}x a {min(PLAINTEXT_SIZES)}-byte "
                              f"plaintext >= {MAX_EXPANSION:.0f}x")
        return failed


_AEAD = 16  # GCM tag; the derived key is used once, so no nonce travels
ALGORITHMS: tuple[Algorithm, ...] = (
    Algorithm("ML-DSA-44", "signature", 2, 112, 1312, 2560, signature=2420),
    Algorithm("ML-DSA-65", "signature", 3, 165, 1952, 4032, signature=3309),
    Algorithm("ML-DSA-87", "signature", 5, 229, 2592, 4896, signature=4627),
    Algorithm("Falcon-512", "signature", 1, 108, 897, 1281, signature=752),
    Algorithm("Falcon-1024", "signature", 5, 128, 1793, 2305, signature=1462),
    Algorithm("SLH-DSA-SHA2-128s", "signature", 1, 64, 32, 64, signature=7856),
    Algorithm("SLH-DSA-SHA2-128f", "signature", 1, 64, 32, 64, signature=17088),
    Algorithm("SM2+ML-DSA-65", "signature", 3, 165, 1952 + 65, 64, signature=3309 + 64),
    Algorithm("Ed25519+ML-DSA-65", "signature", 3, 165, 1952 + 32, 64, signature=3309 + 64),
    Algorithm("ML-KEM-512", "encryption", 1, 107, 800, 1632, overhead=768 + _AEAD),
    Algorithm("ML-KEM-768", "encryption", 3, 166, 1184, 2400, overhead=1088 + _AEAD),
    Algorithm("ML-KEM-1024", "encryption", 5, 232, 1568, 3168, overhead=1568 + _AEAD),
    Algorithm("SM2+ML-KEM-768", "encryption", 3, 166, 65 + 1184, 32 + 2400,
              overhead=65 + 32 + 32 + 1088 + _AEAD),
    Algorithm("X25519+ML-KEM-768", "encryption", 3, 166, 32 + 1184, 32 + 2400,
              overhead=32 + 1088 + _AEAD),
    Algorithm("X25519+ML-KEM-768 exchange", "key_exchange", 3, 166, 32 + 1184, 32 + 2400,
              wire=32 + 1184 + 32 + 1088),
    Algorithm("SM2-KE+ML-KEM-768 exchange", "key_exchange", 3, 166, 65 + 1184, 32 + 2400,
              wire=65 + 1184 + 65 + 1088 + 64),
)
BY_NAME = {a.name: a for a in ALGORITHMS}

# The catalogue entry behind each post-quantum algorithm id a suite can name.
_BY_ALG = {
    AlgId.ML_DSA_65: "ML-DSA-65",
    AlgId.SM2_ML_DSA_65: "SM2+ML-DSA-65",
    AlgId.ED25519_ML_DSA_65: "Ed25519+ML-DSA-65",
    AlgId.ML_KEM_768_AES256_GCM: "ML-KEM-768",
    AlgId.SM2_ML_KEM_768_SM4_GCM: "SM2+ML-KEM-768",
    AlgId.X25519_ML_KEM_768_AES256_GCM: "X25519+ML-KEM-768",
    AlgId.X25519_ML_KEM_768: "X25519+ML-KEM-768 exchange",
    AlgId.SM2_ML_KEM_768: "SM2-KE+ML-KEM-768 exchange",
}


def require(name: str, use: str) -> Algorithm:
    """The catalogue entry `name`, if it meets the static indicators for `use`; else
    IndicatorNotMet (also for a name the catalogue lacks, such as a classical algorithm)."""
    algorithm = BY_NAME.get(name)
    if algorithm is None:
        raise IndicatorNotMet(f"{name} is not a post-quantum algorithm of the catalogue")
    if algorithm.use != use:
        raise IndicatorNotMet(f"{name} is a {algorithm.use} algorithm, not for {use}")
    failed = algorithm.static_failures()
    if failed:
        raise IndicatorNotMet(f"{name} is not offered for {use}: {'; '.join(failed)}")
    return algorithm


def require_alg(alg: AlgId, use: str) -> Algorithm:
    """`require` for the algorithm id a suite names."""
    name = _BY_ALG.get(alg)
    if name is None:
        raise IndicatorNotMet(f"{alg.name} has no post-quantum security: not for a "
                              f"post-quantum suite's {use}")
    return require(name, use)
