"""Drive the two parties: in one process, or over a connected socket (a socket pair locally).

Frames on a socket are an 8-byte big-endian length then the message. The runner is the only
part that does I/O; the parties (protocol.py) never see a socket.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

from xinlian.crypto.privacy.garbled.circuit import Circuit
from xinlian.crypto.privacy.garbled.errors import ProtocolError
from xinlian.crypto.privacy.garbled.protocol import Evaluator, Garbler

MAX_FRAME = 1 << 34  # 16 GiB: far above a 100-million-gate circuit's tables


def run_in_process(garbler: Garbler, evaluator: Evaluator) -> list[int]:
    """Pass the messages between the two parties; the output values both learn."""
    message: bytes | None = evaluator.start()
    while message is not None:
        reply = garbler.receive(message)
        message = evaluator.receive(reply) if reply is not None else None
    if evaluator.outputs is None or evaluator.outputs != garbler.outputs:
        raise ProtocolError("the parties disagree on the output")
    return evaluator.outputs


def send_frame(sock: socket.socket, data: bytes) -> None:
    sock.sendall(len(data).to_bytes(8, "big") + data)


def _read(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ProtocolError("the peer closed the connection mid-protocol")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes:
    size = int.from_bytes(_read(sock, 8), "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the limit")
    return _read(sock, size)


def serve_garbler(garbler: Garbler, sock: socket.socket) -> list[int]:
    """Run G's side over `sock` until E's result arrives."""
    while not garbler.done:
        reply = garbler.receive(recv_frame(sock))
        if reply is not None:
            send_frame(sock, reply)
    assert garbler.outputs is not None
    return garbler.outputs


def serve_evaluator(evaluator: Evaluator, sock: socket.socket) -> list[int]:
    """Run E's side over `sock`: start, then answer each of G's messages."""
    send_frame(sock, evaluator.start())
    while not evaluator.done:
        send_frame(sock, evaluator.receive(recv_frame(sock)))
    assert evaluator.outputs is not None
    return evaluator.outputs


def run_over_socketpair(garbler: Garbler, evaluator: Evaluator) -> list[int]:
    """G in a thread and E in this one, over a local socket pair; the outputs E computed,
    checked against those G received."""
    ga, ev = socket.socketpair()
    result: list[list[int]] = []
    errors: list[BaseException] = []

    def garbler_side() -> None:
        try:
            result.append(serve_garbler(garbler, ga))
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)
            ga.close()

    thread = threading.Thread(target=garbler_side, name="garbler")
    thread.start()
    try:
        outputs = serve_evaluator(evaluator, ev)
    finally:
        thread.join()
        ga.close()
        ev.close()
    if errors:
        raise errors[0]
    if result != [outputs]:
        raise ProtocolError("the parties disagree on the output")
    return outputs


def compute(circuit: Circuit, garbler_values: Sequence[int], evaluator_values: Sequence[int],
            garbler_inputs: Sequence[int] = (0,)) -> list[int]:
    """Both parties in this process (a demonstration and the tests' reference)."""
    return run_in_process(Garbler(circuit, garbler_values, garbler_inputs),
                          Evaluator(circuit, evaluator_values, garbler_inputs))
