"""Harnesses for the distributed-crypto cores (xinlian.crypto.threshold, .privacy).

`setup.py` turns run parameters into each party's core, `keys.py` gives each party its own
secrets and everyone's public keys, `simrun.py` drives the cores in the seeded simulator
and `procrun.py` + `party.py` as one OS process per party over the real transport,
`byzantine.py` makes parties misbehave; one module per protocol builds its setup. For the
round-logic tests and benchmarks: `dkg_session.py` (a DKG session among given parties, in
the simulator), `roast_run.py` (ROAST with misbehaving signers and the coordinated worst
case, in the simulator) and `tsm2_committee.py` (threshold-SM2 members in the simulator,
one operation at a time). The
`xinlian crypto ...` demo commands (docs/crypto/cli.md) are built on them.
"""
