"""Harnesses for the distributed-crypto cores (xinlian.crypto.threshold, .privacy).

`setup.py` turns run parameters into each party's core, `simrun.py` drives them in the
seeded simulator and `procrun.py` + `party.py` as one OS process per party over the real
transport, `byzantine.py` makes parties misbehave; one module per protocol builds its
setup. The `xinlian crypto ...` demo commands (docs/crypto/cli.md) are built on them.
"""
