"""Online backup of a node's data directory, and restore into a fresh one.

Theory of operation. A data directory holds LMDB stores (chain/, and a validator's
batches/; a light node's light/) and a few small files (genesis, node.toml, keys). A
backup copies each store with `storage.kv.copy_store`: compacted, inside one read
transaction, so each copy is the image of one commit while the node keeps committing.
The chain store is copied first: what a later store holds for consensus (batch payloads,
written before the blocks that order them commit) then covers everything the copied chain
refers to, and a batch that is missing anyway is fetched again from peers, as after a
crash. The manifest (backup.json) is written last, with the SHA-256 of every file and the
head the chain copy holds; a directory without it is no backup. A restore checks every file
against the manifest as it copies, then scans the restored directory as `xinlian node check`
does; anything wrong leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from xinlian import codec
from xinlian.ledger.block import Block, header_hash
from xinlian.ledger.genesis import load_genesis
from xinlian.node.chain import CHAIN_SUB_DBS
from xinlian.node.check import check_data_dir
from xinlian.node.errors import CorruptBackup, NodeConfigError, TargetNotEmpty
from xinlian.storage.chain_index import ChainIndex
from xinlian.storage.kv import Store, copy_store

MANIFEST = "backup.json"
FORMAT = 1
CHAIN = "chain"
STORE_FILE = "data.mdb"
GENESIS = "genesis.toml"


@dataclass(frozen=True)
class Head:
    height: int
    hash: str
    state_root: str


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: `stores` and `files` map names to their SHA-256 (hex);
    `head` is the chain copy's last block (None for a node without a chain store)."""

    format: int
    stores: dict[str, str]
    files: dict[str, str]
    head: Head | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def backup(data: Path, target: Path, files: Sequence[str]) -> Manifest:
    """Copy every store of `data` and those of `files` that it holds into the empty (or
    new) directory `target`, the node running or not; returns the manifest written."""
    stores = stores_of(data)
    if not stores:
        raise NodeConfigError(f"{data} holds no store to back up")
    outside = [f for f in files if not _plain_name(f)]
    if outside:
        raise NodeConfigError(f"files outside the data directory {outside} (named in its "
                              "node.toml): a backup carries only the directory's own files")
    created = claim_empty(target)
    try:
        for name in stores:
            (target / name).mkdir()
            copy_store(data / name, target / name)
        present = [f for f in files if (data / f).is_file()]
        for name in present:
            _copy_file(data / name, target / name)
        head = _head(target) if CHAIN in stores else None
        manifest = Manifest(FORMAT, {n: _sha256(target / n / STORE_FILE) for n in stores},
                            {n: _sha256(target / n) for n in present}, head)
        _write_atomically(target / MANIFEST, json.dumps(manifest.to_dict(), indent=2) + "\n")
    except BaseException:
        _clear(target, created)
        raise
    return manifest


def restore(source: Path, data: Path) -> Manifest:
    """Restore the backup in `source` into the empty (or new) directory `data`: every file
    must match the manifest and the restored chain must pass `check_data_dir`."""
    manifest = read_manifest(source)
    created = claim_empty(data)
    try:
        for name, digest in manifest.stores.items():
            (data / name).mkdir()
            _copy_checked(source / name / STORE_FILE, data / name / STORE_FILE, digest)
        for name, digest in manifest.files.items():
            _copy_checked(source / name, data / name, digest)
        if CHAIN in manifest.stores:
            _check_restored(data, manifest)
    except BaseException:
        _clear(data, created)
        raise
    return manifest


def read_manifest(source: Path) -> Manifest:
    """The manifest of the backup in `source`; CorruptBackup unless it is well formed."""
    try:
        doc = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        head = doc["head"]
        manifest = Manifest(doc["format"], dict(doc["stores"]), dict(doc["files"]),
                            None if head is None else Head(int(head["height"]),
                                                           str(head["hash"]),
                                                           str(head["state_root"])))
    except FileNotFoundError:
        raise CorruptBackup(f"{source} holds no {MANIFEST}: not a whole backup") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptBackup(f"{source / MANIFEST} is not a backup manifest: {exc}") from exc
    if manifest.format != FORMAT:
        raise CorruptBackup(f"backup format {manifest.format!r}; this node reads {FORMAT}")
    for name, digest in (*manifest.stores.items(), *manifest.files.items()):
        if not _plain_name(name) or not isinstance(digest, str) or len(digest) != 64:
            raise CorruptBackup(f"{source / MANIFEST} lists a bad entry {name!r}")
    if (CHAIN in manifest.stores) != (manifest.head is not None):
        raise CorruptBackup(f"{source / MANIFEST}: a chain store and its head go together")
    return manifest


def stores_of(data: Path) -> list[str]:
    """The LMDB stores directly under `data`, the chain store first."""
    if not data.is_dir():
        raise NodeConfigError(f"{data} is not a data directory")
    names = sorted(p.name for p in data.iterdir() if (p / STORE_FILE).is_file())
    return sorted(names, key=lambda n: n != CHAIN)


# -- helpers ---------------------------------------------------------------------------

def _head(backup_dir: Path) -> Head:
    """The last block of the chain copy (read-only; the copy is left as written)."""
    genesis = load_genesis(backup_dir / GENESIS)
    store = Store(backup_dir / CHAIN, sub_dbs=CHAIN_SUB_DBS, readonly=True)
    try:
        index = ChainIndex(store)
        height = index.last_height()
        raw = None if height is None else index.block_by_height(height)
    finally:
        store.close()
        (backup_dir / CHAIN / "lock.mdb").unlink(missing_ok=True)
    if raw is None:
        raise NodeConfigError("the chain store holds no block: an uninitialised node")
    header = codec.decode(raw, Block).header
    return Head(header.height, header_hash(header, genesis.crypto_suite().hash_bytes).hex(),
                header.state_root.hex())


def _check_restored(data: Path, manifest: Manifest) -> None:
    report = check_data_dir(data, load_genesis(data / GENESIS))
    if not report.ok:
        raise CorruptBackup(f"the restored data fails its check: {report.problems[0].message}")
    assert manifest.head is not None
    store = Store(data / CHAIN, sub_dbs=CHAIN_SUB_DBS, readonly=True)
    try:
        height = ChainIndex(store).last_height()
    finally:
        store.close()
    if height != manifest.head.height:
        raise CorruptBackup(f"the restored chain ends at {height}, the manifest says "
                            f"{manifest.head.height}")


def claim_empty(target: Path) -> bool:
    """Make sure `target` is an empty directory; True if this call created it."""
    if target.exists():
        if not target.is_dir() or any(target.iterdir()):
            raise TargetNotEmpty(f"{target} exists and is not an empty directory")
        return False
    target.mkdir(parents=True, mode=0o700)
    return True


def _clear(target: Path, created: bool) -> None:
    """Remove what a failed backup or restore wrote (the directory too if it made it)."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for entry in target.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _plain_name(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _copy_file(source: Path, target: Path) -> None:
    """Copy with mode 0600 (key files are secrets) and flush."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _copy_checked(source: Path, target: Path, digest: str) -> None:
    try:
        _copy_file(source, target)
    except FileNotFoundError:
        raise CorruptBackup(f"the backup lacks {source.name} ({source})") from None
    except OSError as exc:
        raise CorruptBackup(f"cannot read {source} from the backup: {exc}") from exc
    if _sha256(target) != digest:
        raise CorruptBackup(f"{source} does not match its SHA-256 in the manifest")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):  # the rename itself, where the platform allows
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

