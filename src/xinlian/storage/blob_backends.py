"""Where blob bytes live: one small interface, and the local-disk backend (the default).

A backend stores immutable objects under keys the blob store makes (`c/<leaf hex>` for a
chunk, `m/<root hex>` for a blob's manifest). Objects are content-addressed, so a key's
right bytes never change: `put` of a key that exists writes nothing, and a backend needs
no update, locking or versioning. A backend never judges the bytes; the blob store
verifies everything it reads against the commitment, so a backend that loses or garbles an
object is caught at that object; the store's one overwrite (`replace`) puts verified
bytes over a damaged object, and its one `delete` drops an object found damaged on read
(S3-compatible servers: blob_s3.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from xinlian.storage.errors import BlobBackendError

_KEY_CHARS = frozenset("0123456789abcdef")


class BlobBackend(Protocol):
    def put(self, key: str, data: bytes, replace: bool = False) -> bool:
        """Store `data` under `key` unless the key exists (or whatever it holds, with
        `replace`); True if this call wrote it. The object is whole under its key
        afterwards or as it was before (never partly written)."""
        ...

    def get(self, key: str, start: int = 0, length: int | None = None) -> bytes | None:
        """The object's bytes from `start` (`length` of them, or to its end); None if absent."""
        ...

    def has(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object (nothing if absent): the store drops a chunk found damaged."""
        ...

    def close(self) -> None: ...


def split_key(key: str) -> tuple[str, str]:
    """A store key's kind and hex name; BlobBackendError for anything else (no key reaches
    a path or a URL unchecked)."""
    kind, slash, name = key.partition("/")
    if not (slash and kind in ("c", "m") and len(name) >= 4 and set(name) <= _KEY_CHARS):
        raise BlobBackendError(f"not a blob store key: {key!r}")
    return kind, name


class DiskBackend:
    """Objects as files under `root`: `root/<kind>/<first 2 hex digits>/<hex name>`.

    Atomic writes: the bytes go to a temporary file in the target directory, which is renamed
    over the final name, so a reader or a crash sees the whole object or none. Fsync policy
    (`fsync=True`, the default): each file is fsynced before its rename and its directory
    after it (and a new fan-out directory's parent after creating it), so an object that
    `put` returned is on disk; the blob store writes a blob's manifest after all of its
    chunks, so a manifest that survives a crash has every chunk behind it. With
    `fsync=False` the kernel writes back when it likes: faster, and a crash may lose recent
    objects (never leave a torn one under its final name).
    """

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobBackendError(f"cannot create {self.root}: {exc}") from None

    def path(self, key: str) -> Path:
        kind, name = split_key(key)
        return self.root / kind / name[:2] / name

    def put(self, key: str, data: bytes, replace: bool = False) -> bool:
        path = self.path(key)
        if not replace and path.exists():
            return False
        try:
            self._make_dir(path.parent)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    if self.fsync:
                        out.flush()
                        os.fsync(out.fileno())
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            if self.fsync:
                _sync_dir(path.parent)
        except OSError as exc:
            raise BlobBackendError(f"cannot write {path}: {exc}") from None
        return True

    def _make_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True)
        if self.fsync:
            _sync_dir(directory.parent)
            _sync_dir(directory.parent.parent)

    def get(self, key: str, start: int = 0, length: int | None = None) -> bytes | None:
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                if start:
                    f.seek(start)
                return f.read() if length is None else f.read(length)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BlobBackendError(f"cannot read {path}: {exc}") from None

    def has(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink(missing_ok=True)
            if self.fsync:
                _sync_dir(path.parent)
        except OSError as exc:
            raise BlobBackendError(f"cannot remove {path}: {exc}") from None

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own file."""


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
