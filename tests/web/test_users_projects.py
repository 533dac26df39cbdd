"""The workbench's users file (scrypt hashes, roles) and its project paths, on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.web.errors import BadPath, BadUsersFile, Forbidden, NotFound
from xinlian.web.projects import Projects
from xinlian.web.users import User, hash_password, is_password, load_users, save_user


def test_passwords_are_salted_scrypt_hashes() -> None:
    one, two = hash_password("pw"), hash_password("pw")
    assert one != two and one.startswith("scrypt$16384$8$1$") and "pw" not in one
    assert is_password("pw", one) and is_password("pw", two)
    assert not is_password("pW", one)
    assert not is_password("pw", "md5$abc") and not is_password("pw", "scrypt$x")


def test_roles_rank_viewer_editor_owner(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    save_user(users, User("ann", hash_password("a"), {"p": "editor", "*": "viewer"}))
    save_user(users, User("ben", hash_password("b"), {"p": "owner"}))
    ann, ben = load_users(users)["ann"], load_users(users)["ben"]
    ann.require("p", "editor")
    ann.require("q", "viewer")  # by the `*` role
    with pytest.raises(Forbidden):
        ann.require("p", "owner")
    with pytest.raises(Forbidden):
        ben.require("q", "viewer")
    assert users.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("content", ["not json", "[]", '{"users": {"a": {}}}',
                                     '{"users": {"a": {"password": "x", "roles": {"p": "god"}}}}'])
def test_invalid_users_files_are_typed_errors(tmp_path: Path, content: str) -> None:
    users = tmp_path / "users.json"
    users.write_text(content)
    with pytest.raises(BadUsersFile):
        load_users(users)


def test_web_user_command_writes_a_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XINLIAN_WEB_PASSWORD", "s3cret")
    users = tmp_path / "users.json"
    assert main(["web-user", "--users", str(users), "dora", "--role", "p=owner"]) == 0
    entry = json.loads(users.read_text())["users"]["dora"]
    assert entry["roles"] == {"p": "owner"} and is_password("s3cret", entry["password"])
    assert main(["web-user", "--users", str(users), "eve", "--role", "p=admin"]) == 2
    assert "bad_web_argument" in capsys.readouterr().err


def test_invalid_web_start_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = tmp_path / "users.json"
    users.write_text("{}")
    assert main(["web", "--projects", str(tmp_path), "--users", str(users)]) == 2
    assert "bad_users_file" in capsys.readouterr().err
    assert main(["web", "--projects", str(tmp_path / "none"), "--users", str(users)]) == 2
    assert main(["web", "--projects", str(tmp_path), "--users", str(users),
                 "--listen", "nowhere"]) == 2
    assert "bad_web_argument" in capsys.readouterr().err


def test_project_paths_stay_inside_the_project(tmp_path: Path) -> None:
    (tmp_path / "p" / "sub").mkdir(parents=True)
    (tmp_path / "p" / "sub" / "a.qi").write_text("x")
    (tmp_path / "p" / "notes.txt").write_text("x")
    projects = Projects(tmp_path)
    assert projects.names() == ["p"] and projects.files("p") == ["sub/a.qi"]
    assert projects.read("p", "sub/a.qi") == "x"
    for bad in ("../p/sub/a.qi", "/etc/passwd.qi", "sub/../../x.qi", "notes.txt", ""):
        with pytest.raises(BadPath):
            projects.path("p", bad)
    with pytest.raises(BadPath):
        projects.folder("..")
    with pytest.raises(NotFound):
        projects.read("p", "missing.qi")
    projects.write("p", "new/b.qi", "y")
    assert projects.files("p") == ["new/b.qi", "sub/a.qi"]
