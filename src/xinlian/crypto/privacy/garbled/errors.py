"""The garbled-circuit package's typed errors (21xx, under the crypto family)."""

from __future__ import annotations

from xinlian.crypto.errors import CryptoError


class GarbledError(CryptoError):
    code = 2100
    name = "garbled_error"


class MalformedCircuit(GarbledError):
    """A Bristol-fashion file that does not parse or breaks the format's rules."""

    code = 2101
    name = "malformed_circuit"


class UnsupportedGate(GarbledError):
    """A gate the garbling scheme does not take (EQ: constants are built from inputs)."""

    code = 2102
    name = "unsupported_gate"


class InputMismatch(GarbledError):
    """Input values that do not match the circuit's input widths or the parties' split."""

    code = 2103
    name = "input_mismatch"


class ProtocolError(GarbledError):
    """A message out of turn, of the wrong size, or for another circuit."""

    code = 2104
    name = "garbled_protocol_error"


class TamperDetected(GarbledError):
    """An output label is neither of the two the garbler committed to: the garbled tables or
    input labels were altered."""

    code = 2105
    name = "garbled_tamper_detected"
