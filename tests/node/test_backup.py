"""Backup and restore of a data directory: bad input gets typed errors and leaves nothing
behind (the online round trip of a running node is tests/e2e/test_backup_restore.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.node.backup import MANIFEST, backup, read_manifest, restore, stores_of
from xinlian.node.errors import CorruptBackup, NodeConfigError, TargetNotEmpty
from xinlian.storage.kv import Store, WriteBatch
from xinlian.testing.disk import flip_byte_everywhere

from .conftest import BALANCE

FILES = ["genesis.toml", "node.toml", "node_key.json", "consensus_key.json"]


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_backup_and_restore_carry_the_stores_and_files(data: Path, tmp_path: Path) -> None:
    manifest = backup(data, tmp_path / "bk", FILES)
    assert sorted(manifest.files) == ["genesis.toml", "node.toml", "node_key.json"]
    assert list(manifest.stores) == ["chain"] == stores_of(tmp_path / "bk")
    assert manifest.head is not None and manifest.head.height == 0
    assert (tmp_path / "bk" / "node_key.json").stat().st_mode & 0o777 == 0o600
    assert read_manifest(tmp_path / "bk") == manifest
    assert restore(tmp_path / "bk", tmp_path / "new") == manifest
    for name in manifest.files:
        assert (tmp_path / "new" / name).read_bytes() == (data / name).read_bytes()


def test_invalid_backup_into_a_non_empty_directory(data: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "bk"
    target.mkdir()
    (target / "other").write_text("x")
    err = _error(capsys, ["node", "backup", str(target), "--data", str(data)])
    assert "6511 target_not_empty" in err
    assert [p.name for p in target.iterdir()] == ["other"]
    with pytest.raises(TargetNotEmpty):
        backup(data, target / "other", FILES)  # a file, not a directory


def test_invalid_backup_of_what_is_no_data_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NodeConfigError):
        backup(tmp_path / "empty", tmp_path / "bk", FILES)
    with pytest.raises(NodeConfigError):
        backup(tmp_path / "missing", tmp_path / "bk", FILES)
    assert not (tmp_path / "bk").exists()


def test_invalid_backup_of_a_key_kept_outside(data: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    node_toml = data / "node.toml"
    node_toml.write_text(node_toml.read_text().replace('"node_key.json"', '"../account.json"'))
    err = _error(capsys, ["node", "backup", str(tmp_path / "bk"), "--data", str(data)])
    assert "6502 bad_config" in err and "../account.json" in err
    assert not (tmp_path / "bk").exists()


def test_invalid_restore_into_a_non_empty_directory(data: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    backup(data, tmp_path / "bk", FILES)
    err = _error(capsys, ["node", "restore", str(tmp_path / "bk"), "--data", str(data)])
    assert "6511 target_not_empty" in err


def test_invalid_restore_of_a_damaged_store_file(data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    backup(data, tmp_path / "bk", FILES)
    stored = tmp_path / "bk" / "chain" / "data.mdb"
    assert flip_byte_everywhere(stored, BALANCE.to_bytes(5, "big"), 2) >= 1
    err = _error(capsys, ["node", "restore", str(tmp_path / "bk"), "--data",
                          str(tmp_path / "new")])
    assert "6510 corrupt_backup" in err and "SHA-256" in err
    assert not (tmp_path / "new").exists()


def test_invalid_restore_of_damage_the_manifest_agrees_with(data: Path, tmp_path: Path) -> None:
    """Damage copied from a failing source disk: the hashes hold, the record checksums do
    not, and the restore's scan finds it."""
    backup(data, tmp_path / "bk", FILES)
    stored = tmp_path / "bk" / "chain" / "data.mdb"
    flip_byte_everywhere(stored, BALANCE.to_bytes(5, "big"), 2)
    doc = json.loads((tmp_path / "bk" / MANIFEST).read_text())
    doc["stores"]["chain"] = hashlib.sha256(stored.read_bytes()).hexdigest()
    (tmp_path / "bk" / MANIFEST).write_text(json.dumps(doc))
    (tmp_path / "new").mkdir()
    with pytest.raises(CorruptBackup, match="fails its check"):
        restore(tmp_path / "bk", tmp_path / "new")
    assert list((tmp_path / "new").iterdir()) == []  # emptied, not removed: it was there


@pytest.mark.parametrize("damage", ["missing", "not json", "format", "escape", "lost file"])
def test_invalid_restore_of_a_broken_backup(data: Path, tmp_path: Path, damage: str) -> None:
    backup(data, tmp_path / "bk", FILES)
    path = tmp_path / "bk" / MANIFEST
    doc = json.loads(path.read_text())
    if damage == "missing":
        path.unlink()
    elif damage == "not json":
        path.write_text("{")
    elif damage == "format":
        path.write_text(json.dumps({**doc, "format": 99}))
    elif damage == "escape":
        doc["files"]["../outside"] = doc["files"].pop("node.toml")
        path.write_text(json.dumps(doc))
    else:
        (tmp_path / "bk" / "node_key.json").unlink()
    with pytest.raises(CorruptBackup):
        restore(tmp_path / "bk", tmp_path / "new")
    assert not (tmp_path / "new").exists() and not (tmp_path / "outside").exists()


def test_a_store_without_a_chain_is_backed_up_and_restored(tmp_path: Path) -> None:
    """A light node's directory holds only light/: no head, nothing to scan as a chain."""
    with Store(tmp_path / "d" / "light", sub_dbs=("light",)) as store:
        batch = WriteBatch()
        for i in range(100):
            batch.put("light", i.to_bytes(4, "big"), bytes([i]) * 40)
        store.commit(batch)
        expected = store.scan("light")
    manifest = backup(tmp_path / "d", tmp_path / "bk", FILES)
    assert manifest.head is None and list(manifest.stores) == ["light"] and not manifest.files
    restore(tmp_path / "bk", tmp_path / "new")
    with Store(tmp_path / "new" / "light", sub_dbs=("light",)) as store:
        assert store.scan("light") == expected
