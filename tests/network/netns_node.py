"""One node for the network-namespace test: exchange messages with the other node, report.

Run by test_netns.py inside a namespace as
`python netns_node.py INDEX SUITE HOST0:PORT0 HOST1:PORT1 COUNT SIZE`; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys

from xinlian.crypto.suites import get_suite
from xinlian.network.membership import Membership, PeerInfo
from xinlian.network.transport import Transport


async def main(index: int, suite_name: str, addresses: list[str], count: int,
               size: int) -> None:
    suite = get_suite(suite_name)
    keys = [suite.generate_signing_key(bytes([0, i]) * 16) for i in range(2)]
    peers = [PeerInfo(k.public_key, a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1]))
             for k, a in zip(keys, addresses, strict=True)]
    got = [0]
    loop = asyncio.get_running_loop()
    first_at = [0.0]  # when the first data message arrived: elapsed is measured from it
    all_data = asyncio.get_running_loop().create_future()
    peer_done = asyncio.get_running_loop().create_future()

    def receive(_sender: bytes, message: bytes) -> None:
        if message == b"done":
            peer_done.set_result(None)
            return
        got[0] += 1
        if got[0] == 1:
            first_at[0] = loop.time()
        if got[0] == count:
            all_data.set_result(None)

    transport = Transport(suite, keys[index], Membership(suite, peers), receive,
                          listen=(peers[index].host, peers[index].port))
    await transport.start()
    await transport.wait_connected()
    other = next(i for i in transport.membership.ids() if i != transport.node_id)
    for k in range(count):
        await transport.send_wait(other, k.to_bytes(8, "big") + b"x" * (size - 8))
    await all_data
    elapsed = loop.time() - first_at[0]
    await transport.send_wait(other, b"done")  # after the peer has all of ours, it says done
    await peer_done
    await transport.flush()  # our own "done" must reach the peer before we close
    print(json.dumps({"received": got[0], "receive_span_s": elapsed,
                      "stats": transport.stats.as_dict()}))
    await transport.close()


if __name__ == "__main__":
    i, suite, a0, a1, n, size = sys.argv[1:7]
    asyncio.run(main(int(i), suite, [a0, a1], int(n), int(size)))
