"""Length-prefixed frames: a 4-byte big-endian length, then that many bytes.

`FrameDecoder` is sans-I/O: feed it whatever the socket returned and take whole frames
out. The maximum frame size is a hard limit checked on the header, before any body byte
is buffered, so a peer cannot make us allocate more than `max_size` per connection. An
empty frame is malformed (no message of ours is empty). After an error the decoder is
dead: the byte stream can no longer be trusted to be aligned, so the connection closes.
"""

from __future__ import annotations

from xinlian.network.errors import MalformedFrame, OversizeFrame

HEADER_SIZE = 4
MAX_FRAME_LIMIT = (1 << 32) - 1


def encode_frame(payload: bytes, max_size: int) -> bytes:
    """The frame carrying `payload`; raises OversizeFrame if it exceeds `max_size`."""
    n = len(payload)
    if n == 0:
        raise MalformedFrame("a frame cannot be empty")
    if n > max_size:
        raise OversizeFrame(f"frame of {n} bytes exceeds the limit of {max_size}")
    return n.to_bytes(HEADER_SIZE, "big") + payload


class FrameDecoder:
    """Reassembles frames from a byte stream; see the module docstring."""

    __slots__ = ("_buf", "_dead", "max_size")

    def __init__(self, max_size: int) -> None:
        if not 0 < max_size <= MAX_FRAME_LIMIT:
            raise ValueError(f"max frame size must be in 1..{MAX_FRAME_LIMIT}")
        self.max_size = max_size
        self._buf = bytearray()
        self._dead = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buf)

    def feed(self, data: bytes, max_frames: int | None = None) -> list[bytes]:
        """Append `data`; return the frames now complete, in order (at most `max_frames`).

        Bytes beyond the returned frames stay buffered and unparsed until the next call,
        so a caller can raise `max_size` between frames (handshake, then channel).
        """
        if self._dead:
            raise MalformedFrame("decoder used after a framing error")
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE and (max_frames is None or len(frames) < max_frames):
            n = int.from_bytes(buf[pos:pos + HEADER_SIZE], "big")
            if n == 0 or n > self.max_size:
                self._dead = True
                self._buf = bytearray()
                if n == 0:
                    raise MalformedFrame("empty frame")
                raise OversizeFrame(f"frame of {n} bytes exceeds the limit of {self.max_size}")
            if end - pos - HEADER_SIZE < n:
                break
            start = pos + HEADER_SIZE
            with memoryview(buf) as view:
                frames.append(bytes(view[start:start + n]))  # one copy
            pos = start + n
        if pos:
            del buf[:pos]
        return frames
