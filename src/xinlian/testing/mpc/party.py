"""One MPC party as its own OS process: `python -m xinlian.testing.mpc.party SPEC INDEX FD`.

SPEC is the JSON the parent wrote (run parameters, every party's port, a data directory),
INDEX this party's index and FD an inherited listening socket. The party derives its node
key and everyone's public node keys from the run seed (`node_key`), builds its core from
the parameters exactly as the simulator would, and runs it under the real
`NetworkRuntime` over the authenticated, encrypted `Transport`. It prints one JSON line
per outcome its core delivers, keeps serving its peers until its standard input closes,
then prints its counters as a last JSON line and exits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
from pathlib import Path
from typing import Any

from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.network.runtime import NetworkRuntime
from xinlian.network.transport import Transport
from xinlian.protocol import NodeId
from xinlian.storage.kv import Store
from xinlian.testing.mpc.byzantine import inner
from xinlian.testing.mpc.protocols import build
from xinlian.testing.mpc.setup import Params

SUITE = "intl"  # node keys and channels; the protocols choose their own groups


def node_key(seed: int, party: int) -> SigningKey:
    """A party's node (channel) key, derived from the run seed: local runs only."""
    digest = hashlib.sha256(b"xinlian/mpc/node-key/%d/%d" % (seed, party)).digest()
    return get_suite(SUITE).generate_signing_key(digest)


def roster_of(seed: int, parties: list[int], ports: dict[int, int]
              ) -> tuple[Membership, dict[int, NodeId]]:
    suite = get_suite(SUITE)
    keys = {i: node_key(seed, i).public_key for i in parties}
    membership = Membership(suite, [PeerInfo(keys[i], "127.0.0.1", ports[i]) for i in parties])
    return membership, {i: node_id_of(suite, keys[i]) for i in parties}


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


async def serve(spec: dict[str, Any], me: int, fd: int) -> None:
    params = Params.from_dict(spec["params"])
    setup = build(params)
    ports = {int(i): p for i, p in spec["ports"].items()}
    membership, roster = roster_of(params.seed, list(setup.parties), ports)
    core = setup.make_core(me, roster)
    transport = Transport(get_suite(SUITE), node_key(params.seed, me), membership,
                          sock=socket.socket(fileno=fd), seed=me)
    store = Store(Path(spec["dir"]) / f"party{me}", sub_dbs=("core",))
    runtime = NetworkRuntime(core, transport, store,
                             deliver=lambda value: _emit({"outcome": value}))
    await runtime.start()
    loop = asyncio.get_running_loop()
    stdin = loop.run_in_executor(None, sys.stdin.buffer.read)  # returns at EOF: stop
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
                     "error": repr(failed) if failed else None}})
    if not stdin.done():
        await stdin


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    asyncio.run(serve(spec, int(argv[1]), int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
