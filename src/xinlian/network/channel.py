"""The encrypted channel after a handshake: one AEAD key per direction, counters as nonces.

A record is counter (8 bytes, big-endian) || AEAD(key, nonce = 0^4 || counter, plaintext).
The sender numbers its records 0, 1, 2, ...; the receiver accepts a record only if it
authenticates and its counter is above the last one accepted. Because the counter is the
nonce, changing it breaks the tag; because it must increase, a replayed or reordered record
is refused even though it authenticates. A refused record changes nothing, so the channel
keeps working after a forged, replayed or truncated record is dropped.

Records carry batches of messages (`pack`/`unpack`): each message is a 4-byte length and
its bytes, so one AEAD call and one frame cover everything that was waiting in the queue.
"""

from __future__ import annotations

from collections.abc import Iterable

from xinlian.crypto.errors import DecryptionError
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives.symmetric import TAG_SIZE, open_sealed, seal
from xinlian.network.errors import DecryptFailed, MalformedFrame, OversizeFrame, ReplayedRecord

COUNTER_SIZE = 8
RECORD_OVERHEAD = COUNTER_SIZE + TAG_SIZE
MESSAGE_HEADER = 4
_MAX_COUNTER = (1 << 64) - 1


class Channel:
    """Seals outgoing and opens incoming records for one authenticated connection."""

    __slots__ = ("_recv_key", "_send_key", "aead", "last_received", "next_send")

    def __init__(self, aead: AlgId, send_key: bytes, recv_key: bytes) -> None:
        self.aead = aead
        self._send_key = send_key
        self._recv_key = recv_key
        self.next_send = 0
        self.last_received = -1

    def seal(self, plaintext: bytes) -> bytes:
        counter = self.next_send
        if counter >= _MAX_COUNTER:
            raise ReplayedRecord("send counter exhausted; reconnect for fresh keys")
        self.next_send = counter + 1
        nonce = counter.to_bytes(12, "big")
        return nonce[4:] + seal(self.aead, self._send_key, nonce, plaintext)

    def open(self, record: bytes) -> bytes:
        """The plaintext of `record`; raises MalformedFrame, ReplayedRecord or DecryptFailed."""
        if len(record) < RECORD_OVERHEAD:
            raise MalformedFrame(f"a record is at least {RECORD_OVERHEAD} bytes")
        counter = int.from_bytes(record[:COUNTER_SIZE], "big")
        if counter <= self.last_received:
            raise ReplayedRecord(f"record {counter} after {self.last_received}")
        try:
            plaintext = open_sealed(self.aead, self._recv_key, counter.to_bytes(12, "big"),
                                    record[COUNTER_SIZE:])
        except DecryptionError as exc:
            raise DecryptFailed("record failed authentication") from exc
        self.last_received = counter
        return plaintext


def pack(messages: Iterable[bytes]) -> bytes:
    """Length-prefixed messages, concatenated."""
    return b"".join(len(m).to_bytes(MESSAGE_HEADER, "big") + m for m in messages)


def unpack(plaintext: bytes, max_message: int) -> list[bytes]:
    """The messages in a record; raises MalformedFrame or OversizeFrame (nothing partial)."""
    out: list[bytes] = []
    pos, end = 0, len(plaintext)
    view = memoryview(plaintext)
    while pos < end:
        if end - pos < MESSAGE_HEADER:
            raise MalformedFrame("truncated message header in record")
        n = int.from_bytes(view[pos:pos + MESSAGE_HEADER], "big")
        pos += MESSAGE_HEADER
        if n > max_message:
            raise OversizeFrame(f"message of {n} bytes exceeds the limit of {max_message}")
        if n == 0 or end - pos < n:
            raise MalformedFrame("empty or truncated message in record")
        out.append(bytes(view[pos:pos + n]))
        pos += n
    if not out:
        raise MalformedFrame("empty record")
    return out
