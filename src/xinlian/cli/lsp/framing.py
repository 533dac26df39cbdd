"""The base protocol's framing: `Content-Length: N` headers, a blank line, N bytes of JSON.

`FrameReader` is fed bytes as they arrive and hands back whole message bodies, or
`FrameError`s for headers it cannot use (no or a bad Content-Length, a body over the size
limit, a header block that never ends). After an error it carries on with the next frame,
so one bad message costs the client that message only.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BODY_BYTES = 16 << 20  # a document of the formatter's maximum size fits many times over
MAX_HEADER_BYTES = 8192


@dataclass(frozen=True)
class FrameError:
    reason: str


def encode_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameReader:
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.body_length: int | None = None  # the length of the body being waited for
        self.discard = 0  # bytes of a refused body still to skip

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        self.buffer += data
        out: list[bytes | FrameError] = []
        while True:
            if self.discard:
                skipped = min(self.discard, len(self.buffer))
                del self.buffer[:skipped]
                self.discard -= skipped
                if self.discard:
                    return out
            if self.body_length is None:
                item = self.header()
                if item is None:
                    return out
                if isinstance(item, FrameError):
                    out.append(item)
                    continue
                self.body_length = item
            if len(self.buffer) < self.body_length:
                return out
            out.append(bytes(self.buffer[:self.body_length]))
            del self.buffer[:self.body_length]
            self.body_length = None

    def header(self) -> int | FrameError | None:
        """The body length of the next header block, None if it is incomplete."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER_BYTES:
                self.buffer.clear()
                return FrameError(f"a header block longer than {MAX_HEADER_BYTES} bytes")
            return None
        block = bytes(self.buffer[:end])
        del self.buffer[:end + 4]
        length = None
        for line in block.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep and name.strip().lower() == b"content-length":
                text = value.strip()
                length = int(text) if text.isdigit() else None
        if length is None:
            return FrameError("a header block without a valid Content-Length")
        if length > MAX_BODY_BYTES:
            self.discard = length
            return FrameError(f"a message of {length} bytes, over the limit of {MAX_BODY_BYTES}")
        return length
