"""The crypto package's typed errors (2xxx)."""

from __future__ import annotations

from xinlian.errors import XinlianError


class CryptoError(XinlianError):
    code = 2000
    name = "crypto_error"


class InvalidSignature(CryptoError):
    code = 2001
    name = "invalid_signature"


class InvalidKey(CryptoError):
    """Key bytes that do not decode to a valid key of the named algorithm."""

    code = 2002
    name = "invalid_key"


class DecryptionError(CryptoError):
    """Authentication failed or the ciphertext is malformed."""

    code = 2003
    name = "decryption_failed"


class UnknownAlgorithm(CryptoError):
    code = 2004
    name = "unknown_algorithm"


class AlgorithmMismatch(CryptoError):
    """A key, signature or ciphertext was used with another algorithm's object."""

    code = 2005
    name = "algorithm_mismatch"


class VerifierUnavailable(CryptoError):
    """The batch-verification workers died and could not be restarted: the caller must stop
    (fail-stop) rather than treat the batch as verified or as invalid."""

    code = 2006
    name = "verifier_unavailable"


class KeyExchangeError(CryptoError):
    """A key-exchange share is invalid, or a confirmation tag does not match."""

    code = 2007
    name = "key_exchange_failed"


class MalformedShare(KeyExchangeError):
    """A key-exchange message has the wrong size or carries a part its scheme does not have."""

    code = 2008
    name = "malformed_share"


class IndicatorNotMet(CryptoError):
    """A post-quantum suite names an algorithm that fails one of the platform's indicators
    for its use (quantum security, signature size, ciphertext expansion): not offered."""

    code = 2009
    name = "indicator_not_met"
