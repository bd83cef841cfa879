"""Find in a built site what must never be published: any file of the gated folder or gated document (its
bytes, a large piece of it, or its file name), the gate's secrets and database, and private keys: any PEM key or
private JWK, and the signing keys this machine holds (the data-signing key the build signs with, the link key
of $TRUSTCENTER_SIGNING_KEY, the demo key) in whatever form they were pasted: raw, hex, base64, PEM body."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content import model
from generator.content.project import Project
from generator.errors import KeyFileError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# A gated file is looked for whole and by a window from its middle (a re-encoded copy of part of it).
_WINDOW = 512
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PRIVATE_KEY = b"PRIVATE KEY-----"
_STATE_SECRETS = ("gate-session.key", "audit.key")
_SECRET_ENVS = ("TRUSTCENTER_GATE_SECRET", "TRUSTCENTER_AUDIT_KEY")
_MAX_SECRET_BYTES = 4096
_JWK = b'"kty"'
_PRIVATE_JWK_MEMBER = re.compile(rb'"d"\s*:\s*"[A-Za-z0-9_-]{40,}')  # a private key's JWK (RFC 7517, 8037)


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
    key_forms = _private_key_forms(project)
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
            if _JWK in content and _PRIVATE_JWK_MEMBER.search(content):
                found.append(f"{shown} holds a private key as a JWK (a \"d\" member)")
            for what in dict.fromkeys(what for what, form in key_forms if form in content):
                found.append(f"{shown} holds {what}")
            if any(secret in content for secret in secrets):
                found.append(f"{shown} contains one of the gate's secrets")
            if prints and content.startswith(b"%PDF"):
                from generator.content.pdf import page_fingerprints

                for what in {prints[p] for p in page_fingerprints(file) if p in prints}:
                    found.append(f"{shown} has the pages of {what} (a re-saved or renamed copy)")
    return found


def _private_key_forms(project: Project) -> list[tuple[str, bytes]]:
    """(which key, one way of writing it) for each private key this machine signs with. A key that cannot be
    read is left out: the build has refused it already, or the gate will."""
    from generator.gate import keys
    from generator.site import signing

    held: list[tuple[str, Ed25519PrivateKey]] = []
    with_key = os.environ.get(keys.SIGNING_KEY_ENV, "").strip()
    files = [("the link-signing key", Path(with_key).expanduser())] if with_key else []
    files.append(("the demo's signing key", project.state_dir / keys.DEMO_KEY_FILE))
    for what, file in files:
        try:
            if file.is_file():
                held.append((what, keys.load_private_key(file)))
        except (KeyFileError, OSError):
            continue
    try:
        configured = signing.configured_private_key()
    except (KeyFileError, OSError):
        configured = None
    if configured is not None:
        held.append(("the data-signing key", configured[0]))
    return [(f"{what} (a private key)", form) for what, key in held for form in signing.private_key_forms(key)]


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
