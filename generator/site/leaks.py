"""Find gated documents in a built site: their bytes, a large piece of them, or their file name."""

from __future__ import annotations

import os
from pathlib import Path

from generator.content import model

# A gated file is looked for whole and by a window from its middle (a re-encoded copy of part of it).
_WINDOW = 512


def find(site_dir: Path, tc: model.TrustCenter) -> list[str]:
    """Descriptions of every leak found (empty when the site is clean)."""
    needles: list[tuple[str, bytes, bytes]] = []  # (document id, file name, content window)
    for document in tc.gated_documents:
        path = tc.document_path(document)
        data = path.read_bytes() if path.is_file() else b""
        middle = len(data) // 2
        window = data[middle: middle + _WINDOW] if len(data) >= 2 * _WINDOW else data
        needles.append((document.id, path.name.encode(), window))
    if not needles:
        return []
    found: list[str] = []
    for folder, _, names in os.walk(site_dir):
        for name in names:
            file = Path(folder, name)
            content = file.read_bytes()
            shown = file.relative_to(site_dir).as_posix()
            for document_id, file_name, window in needles:
                if file_name in content or file_name.decode() == name:
                    found.append(f"{shown} contains the file name of gated document '{document_id}'")
                if window and window in content:
                    found.append(f"{shown} contains the content of gated document '{document_id}'")
    return found
