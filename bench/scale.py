"""Synthetic larger content sets: the demo with N times its subprocessors and controls."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def copy_project(dest: Path) -> Path:
    for part in ("trust", "site_src", "overrides", "mkdocs.yml"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("demo-*.pem"))
        else:
            shutil.copy2(source, dest / part)
    return dest


def scaled_project(dest: Path, factor: int) -> Path:
    """A copy of the demo whose subprocessors and controls are repeated `factor` times."""
    copy_project(dest)
    trust = dest / "trust"
    subs = yaml.safe_load((trust / "subprocessors.yaml").read_text())
    originals = subs["subprocessors"]
    subs["subprocessors"] = [
        {**sub, "name": sub["name"] if copy == 0 else f"{sub['name']} {copy + 1}"}
        for copy in range(factor) for sub in originals
    ]
    (trust / "subprocessors.yaml").write_text(yaml.safe_dump(subs, sort_keys=False, allow_unicode=True))
    controls = yaml.safe_load((trust / "controls.yaml").read_text())
    categories = controls["categories"]
    controls["categories"] = [
        {**cat, "id": cat["id"] if copy == 0 else f"{cat['id']}-{copy + 1}",
         "name": cat["name"] if copy == 0 else f"{cat['name']} ({copy + 1})",
         "controls": [{**c, "id": c["id"] if copy == 0 else _control_id(c["id"], copy)} for c in cat["controls"]]}
        for copy in range(factor) for cat in categories
    ]
    (trust / "controls.yaml").write_text(yaml.safe_dump(controls, sort_keys=False, allow_unicode=True))
    return dest


def _control_id(control_id: str, copy: int) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "", f"{control_id}.{copy + 1}")
