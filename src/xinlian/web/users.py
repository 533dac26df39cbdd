"""Workbench users: names, scrypt password hashes and a role per project, from a JSON file.

The file is written by `xinlian web-user` and only read by the server:

    {"users": {"alice": {"password": "scrypt$16384$8$1$<salt hex>$<hash hex>",
                         "roles": {"token": "owner", "*": "viewer"}}}}

A role for `*` applies to every project the user has no role of its own on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinlian.web.errors import BadUsersFile, Forbidden

ROLES = ("viewer", "editor", "owner")  # each may do what the ones before it may
_N, _R, _P = 1 << 14, 8, 1  # scrypt cost: 16 MiB of memory per check


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def is_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (compared in constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(bytes.fromhex(digest)), maxmem=1 << 26)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass
class User:
    name: str
    password: str  # the scrypt hash
    roles: dict[str, str] = field(default_factory=dict)

    def role(self, project: str) -> str | None:
        return self.roles.get(project, self.roles.get("*"))

    def require(self, project: str, role: str) -> None:
        """Forbidden unless this user holds `role` (or a higher one) on `project`."""
        held = self.role(project)
        if held is None or ROLES.index(held) < ROLES.index(role):
            raise Forbidden(f"{self.name} is {held or 'not a member'} of {project}; "
                            f"this needs {role}")


def load_users(path: Path) -> dict[str, User]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadUsersFile(f"{path}: {exc}") from exc
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(users, dict):
        raise BadUsersFile(f"{path}: no `users` table")
    return {name: _user(path, name, entry) for name, entry in users.items()}


def _user(path: Path, name: str, entry: Any) -> User:
    if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
        raise BadUsersFile(f"{path}: user {name!r} needs a `password` hash")
    roles = entry.get("roles", {})
    if not isinstance(roles, dict) or any(r not in ROLES for r in roles.values()):
        raise BadUsersFile(f"{path}: the roles of {name!r} must be among {', '.join(ROLES)}")
    return User(name, entry["password"], dict(roles))


def save_user(path: Path, user: User) -> None:
    """Add or replace one user in the file (created if absent)."""
    doc: dict[str, Any] = {"users": {}}
    if path.exists():
        load_users(path)  # refuse to rewrite a file that is not ours
        doc = json.loads(path.read_text(encoding="utf-8"))
    doc["users"][user.name] = {"password": user.password, "roles": user.roles}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
