"""`xinlian private gc`: two-party computation of a Bristol-fashion circuit by garbled
circuits; `xinlian private gc-circuit`: write one of the built-in circuits (docs/privacy.md).

Without `--role`, both parties run here over a local socket pair (a demonstration: one user
holds every input). With `--role garbler --listen HOST:PORT` and `--role evaluator --connect
HOST:PORT`, each party runs in its own process with only its own inputs.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path
from typing import Any

from xinlian.crypto.privacy.garbled.builder import CIRCUITS
from xinlian.crypto.privacy.garbled.circuit import Circuit, parse_bristol, to_bristol
from xinlian.crypto.privacy.garbled.errors import InputMismatch, MalformedCircuit
from xinlian.crypto.privacy.garbled.protocol import Evaluator, Garbler
from xinlian.crypto.privacy.garbled.runner import (
    run_over_socketpair,
    serve_evaluator,
    serve_garbler,
)


def register(psub: Any) -> None:
    """Add `gc` and `gc-circuit` under `xinlian private` (private_cmd.py makes the group)."""
    gc = psub.add_parser("gc", help="compute a Bristol-fashion circuit by garbled circuits")
    gc.add_argument("--circuit", required=True, help="a Bristol-fashion circuit file")
    gc.add_argument("--inputs", nargs="*", default=[], type=_value,
                    help="input values (decimal or 0x hex): all of them in circuit order, "
                         "or with --role only this party's")
    gc.add_argument("--garbler-inputs", default="0",
                    help="indices of the input values the garbler holds (default 0)")
    gc.add_argument("--role", choices=["garbler", "evaluator"])
    gc.add_argument("--hex", action="store_true",
                    help="print the outputs in hex, zero-padded to their widths")
    gc.add_argument("--listen", help="HOST:PORT the garbler accepts the evaluator on")
    gc.add_argument("--connect", help="HOST:PORT of the garbler, for the evaluator (retried "
                                      "for 30 s while refused)")
    gc.set_defaults(func=run_gc)
    write = psub.add_parser("gc-circuit", help="write a built-in circuit in Bristol fashion")
    write.add_argument("name", choices=sorted(CIRCUITS))
    write.add_argument("--out", required=True, help="the file to write")
    write.set_defaults(func=write_circuit)


def _value(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _address(text: str | None, flag: str) -> tuple[str, int]:
    host, _, port = (text or "").rpartition(":")
    if not host or not port.isdigit():
        raise InputMismatch(f"{flag} takes HOST:PORT, not {text!r}")
    return host, int(port)


def _connect(address: tuple[str, int], patience: float = 30.0) -> socket.socket:
    """A connection to the garbler, retried while it is refused (the garbler may still be
    reading its circuit) for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return socket.create_connection(address)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _load(path: str) -> Circuit:
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedCircuit(f"cannot read {path}: {exc}") from None
    return parse_bristol(text)


def run_gc(args: argparse.Namespace) -> int:
    circuit = _load(args.circuit)
    try:
        theirs = tuple(int(i) for i in args.garbler_inputs.split(",") if i.strip())
    except ValueError:
        raise InputMismatch(f"--garbler-inputs: {args.garbler_inputs!r}") from None
    if args.role is None:
        if len(args.inputs) != len(circuit.input_widths):
            raise InputMismatch(f"{len(args.inputs)} values for "
                                f"{len(circuit.input_widths)} inputs")
        g_values = [v for i, v in enumerate(args.inputs) if i in theirs]
        e_values = [v for i, v in enumerate(args.inputs) if i not in theirs]
        outputs = run_over_socketpair(Garbler(circuit, g_values, theirs),
                                      Evaluator(circuit, e_values, theirs))
    elif args.role == "garbler":
        garbler = Garbler(circuit, args.inputs, theirs)
        with socket.create_server(_address(args.listen, "--listen")) as server:
            conn, _ = server.accept()
            with conn:
                outputs = serve_garbler(garbler, conn)
    else:
        evaluator = Evaluator(circuit, args.inputs, theirs)
        with _connect(_address(args.connect, "--connect")) as conn:
            outputs = serve_evaluator(evaluator, conn)
    for width, value in zip(circuit.output_widths, outputs, strict=True):
        print(f"{value:#0{2 + (width + 3) // 4}x}" if args.hex else value)
    return 0


def write_circuit(args: argparse.Namespace) -> int:
    circuit = CIRCUITS[args.name]()
    Path(args.out).write_text(to_bristol(circuit), encoding="ascii")
    print(f"{args.name}: {circuit.n_gates} gates ({circuit.n_and} AND), "
          f"inputs {list(circuit.input_widths)}, outputs {list(circuit.output_widths)} bits")
    return 0
