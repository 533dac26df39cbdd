"""Qi projects on disk: each sub-folder of the projects folder is a project, its `.qi`
files (in sub-folders too) are what the workbench edits. Names coming from the browser are
checked to stay inside the project; files are written whole through a temporary file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from xinlian.lang.fmt import require_size
from xinlian.web.errors import BadPath, BadRequest, NotFound

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
DEPLOYMENTS = ".deployments.json"  # the contracts deployed from the project, with ABIs


class Projects:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and _NAME.fullmatch(p.name))

    def folder(self, project: str) -> Path:
        if not _NAME.fullmatch(project):
            raise BadPath(f"{project!r} is not a project name")
        folder = self.root / project
        if not folder.is_dir():
            raise NotFound(f"no project {project!r}")
        return folder

    def files(self, project: str) -> list[str]:
        """The project's `.qi` files, as paths relative to it, sorted."""
        folder = self.folder(project)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.qi")
                      if _is_plain(p.relative_to(folder).parts))

    def path(self, project: str, file: str) -> Path:
        parts = Path(file).parts
        if not parts or not _is_plain(parts) or not file.endswith(".qi"):
            raise BadPath(f"{file!r} is not a .qi file name inside the project")
        return self.folder(project).joinpath(*parts)

    def read(self, project: str, file: str) -> str:
        path = self.path(project, file)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise NotFound(f"no file {file!r} in {project}") from exc
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{file} is not UTF-8 text") from exc

    def write(self, project: str, file: str, text: str) -> None:
        require_size(text, file)
        path = self.path(project, file)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    def deployments(self, project: str) -> list[dict[str, Any]]:
        path = self.folder(project) / DEPLOYMENTS
        if not path.exists():
            return []
        found: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return found

    def record_deployment(self, project: str, entry: dict[str, Any]) -> None:
        """Add a deployment, or replace the one at the same address (after an upgrade)."""
        kept = [d for d in self.deployments(project) if d["address"] != entry["address"]]
        path = self.folder(project) / DEPLOYMENTS
        path.write_text(json.dumps([*kept, entry], indent=1), encoding="utf-8")


def _is_plain(parts: tuple[str, ...]) -> bool:
    return all(_NAME.fullmatch(p) for p in parts)
