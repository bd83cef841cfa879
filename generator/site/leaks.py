"""Find in a built site what must never be published: any file of the gated folder or gated document (its
bytes, a large piece of it, or its file name), the gate's secrets and database, and private keys."""

from __future__ import annotations

import os
from pathlib import Path

from generator.content import model
from generator.content.project import Project

# A gated file is looked for whole and by a window from its middle (a re-encoded copy of part of it).
_WINDOW = 512
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PRIVATE_KEY = b"PRIVATE KEY-----"
_STATE_SECRETS = ("gate-session.key", "audit.key")
_SECRET_ENVS = ("TRUSTCENTER_GATE_SECRET", "TRUSTCENTER_AUDIT_KEY")
_MAX_SECRET_BYTES = 4096


def _gated_files(tc: model.TrustCenter) -> dict[Path, str]:
    """Every gated file: the documents listed as gated, and every file in the gated folder, listed or not."""
    found = {tc.document_path(d): f"gated document '{d.id}'" for d in tc.gated_documents}
    gated_dir = tc.root / model.GATED_DIR
    for folder, _, names in os.walk(gated_dir) if gated_dir.is_dir() else ():
        for name in names:
            path = Path(folder, name).resolve()
            found.setdefault(path, f"{model.GATED_DIR}/{Path(folder, name).relative_to(gated_dir).as_posix()}")
    return found


def _secrets(project: Project) -> list[bytes]:
    values = [os.environ[name].encode() for name in _SECRET_ENVS if os.environ.get(name)]
    for name in _STATE_SECRETS:
        file = project.state_dir / name
        if file.is_file() and file.stat().st_size <= _MAX_SECRET_BYTES:
            values.append(file.read_bytes())
    return [value for value in values if len(value) >= 16]


def find(site_dir: Path, tc: model.TrustCenter, project: Project) -> list[str]:
    """Descriptions of every leak found (empty when the site is clean)."""
    needles: list[tuple[str, bytes, bytes]] = []  # (what, file name, content window)
    for path, what in _gated_files(tc).items():
        data = path.read_bytes() if path.is_file() else b""
        middle = len(data) // 2
        window = data[middle: middle + _WINDOW] if len(data) >= 2 * _WINDOW else data
        needles.append((what, path.name.encode(), window))
    secrets = _secrets(project)
    prints = _page_prints(_gated_files(tc)) if _has_pdfs(site_dir) else {}
    found: list[str] = []
    for folder, _, names in os.walk(site_dir):
        for name in names:
            file = Path(folder, name)
            content = file.read_bytes()
            shown = file.relative_to(site_dir).as_posix()
            for what, file_name, window in needles:
                if file_name in content or file_name.decode() == name:
                    found.append(f"{shown} contains the file name of {what}")
                if window and window in content:
                    found.append(f"{shown} contains the content of {what}")
            if content.startswith(_SQLITE_MAGIC):
                found.append(f"{shown} is an SQLite database (the gate's audit log?)")
            if name.lower().endswith(".pem") or _PRIVATE_KEY in content:
                found.append(f"{shown} is or holds a key file")
            if any(secret in content for secret in secrets):
                found.append(f"{shown} contains one of the gate's secrets")
            if prints and content.startswith(b"%PDF"):
                from generator.content.pdf import page_fingerprints

                for what in {prints[p] for p in page_fingerprints(file) if p in prints}:
                    found.append(f"{shown} has the pages of {what} (a re-saved or renamed copy)")
    return found


def _has_pdfs(site_dir: Path) -> bool:
    return any(name.lower().endswith(".pdf") for _, _, names in os.walk(site_dir) for name in names)


def _page_prints(gated: dict[Path, str]) -> dict[str, str]:
    """Page fingerprint -> which gated file has that page (pikepdf is loaded only when the site has PDFs)."""
    from generator.content.pdf import page_fingerprints

    prints: dict[str, str] = {}
    for path, what in gated.items():
        if path.is_file():
            prints.update(dict.fromkeys(page_fingerprints(path), what))
    return prints
