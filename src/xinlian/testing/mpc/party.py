"""One MPC party as its own OS process: `python -m xinlian.testing.mpc.party SPEC INDEX FD`.

SPEC is the JSON the parent wrote (run parameters, every party's port, a data directory),
INDEX this party's index and FD an inherited listening socket. The party first generates
its own secrets from the OS CSPRNG (its node key and whatever its protocol needs, such as
a DKG encryption key or a broadcast signing key) and prints only their public forms. The
parent collects every party's, writes the membership file and sends its path on the
party's standard input; the party then builds its core from the parameters, its own
secrets and the others' public keys, and runs it under the real `NetworkRuntime` over the
authenticated, encrypted `Transport`. It prints one JSON line per outcome its core
delivers, keeps serving its peers until its standard input closes, then prints its
counters (and the SHA-256 of each secret it holds) as a last JSON line and exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.suites import get_suite
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.network.runtime import NetworkRuntime
from xinlian.network.transport import Transport
from xinlian.protocol import NodeId
from xinlian.storage.kv import Store
from xinlian.testing.mpc.byzantine import inner
from xinlian.testing.mpc.keys import Keys
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import Params

SUITE = "intl"  # node keys and channels; the protocols choose their own groups


def roster_of(public: dict[int, dict[str, bytes]], ports: dict[int, int]
              ) -> tuple[Membership, dict[int, NodeId]]:
    """The membership and roster from every party's published node key."""
    suite = get_suite(SUITE)
    keys = {i: codec.decode(public[i]["node"], PublicKey) for i in public}
    membership = Membership(suite, [PeerInfo(keys[i], "127.0.0.1", ports[i]) for i in keys])
    return membership, {i: node_id_of(suite, keys[i]) for i in keys}


def read_members(path: str) -> dict[int, dict[str, bytes]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {int(i): {k: bytes.fromhex(v) for k, v in d.items()} for i, d in data.items()}


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def serve(spec: dict[str, Any], me: int, fd: int) -> None:
    params = Params.from_dict(spec["params"])
    setup = build(params)
    ports = {int(i): p for i, p in spec["ports"].items()}
    node = get_suite(SUITE).generate_signing_key()  # from the OS CSPRNG
    own = setup.generate(me, os.urandom)
    _emit({"public": {"node": codec.encode(node.public_key).hex(),
                      **{k: v.hex() for k, v in own.public.items()}}})
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(None, sys.stdin.readline)  # the membership file
    public = read_members(path.strip())
    membership, roster = roster_of(public, ports)
    core = setup.make_core(me, roster, Keys(own.secret, public, os.urandom))
    transport = Transport(get_suite(SUITE), node, membership,
                          sock=socket.socket(fileno=fd), seed=me)
    store = Store(Path(spec["dir"]) / f"party{me}", sub_dbs=("core",))
    runtime = NetworkRuntime(core, transport, store,
                             deliver=lambda value: _emit({"outcome": value}))
    await runtime.start()
    stdin = loop.run_in_executor(None, sys.stdin.read)  # returns at EOF: stop
    task = asyncio.ensure_future(runtime.run())
    done, _ = await asyncio.wait({stdin, task}, return_when=asyncio.FIRST_COMPLETED)
    failed = task.exception() if task in done else None
    await runtime.stop()
    store.close()
    honest = inner(core)
    _emit({"stats": {"transport": transport.stats.as_dict(),
                     "dropped": dict(getattr(honest, "dropped", {})),
                     "faults": {str(k): v for k, v in getattr(honest, "faults", {}).items()},
                     "events": runtime.events_handled,
                     "held": sorted([*own.held(),
                                     hashlib.sha256(node.to_bytes()).hexdigest()]),
                     "error": repr(failed) if failed else None}})
    if not stdin.done():
        await stdin


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    asyncio.run(serve(spec, int(argv[1]), int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
