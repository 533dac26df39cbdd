"""The distributed-crypto protocols of xinlian.crypto as sans-I/O cores that exchange messages.

Each protocol module wraps the crypto parties (DKG, FROST, ROAST, threshold BLS, threshold
SM2, proxy re-encryption, ring signatures) as `xinlian.protocol.Core` objects that
speak canonical envelopes (`envelope.py`). Two runners drive them: the seeded simulator
(`simrun.py`) and one OS process per party over the real transport (`procrun.py`,
`party.py`). The `xinlian crypto ...` commands (docs/crypto/cli.md) are built on them.
"""
