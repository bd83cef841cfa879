"""The leak check after every build: nothing from the gated folder, none of the gate's secrets, no database
and no key file reaches the site, whatever the pages folder holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import copy_demo, edit, run_cli


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The demo, with the pages folder's opt-in to any file (which `check` otherwise refuses first): the leak check
    is the last line, after every other."""
    project = copy_demo(tmp_path / "project")
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    return project


def build_refuses(project: Path, expected: str) -> None:
    result = run_cli("build", cwd=project)
    assert result.returncode == 1, result.stderr
    assert "gated content found in the built site" in result.stderr and expected in result.stderr, result.stderr
    assert not (project / "site").exists()


def test_a_file_of_the_gated_folder_that_no_entry_lists_is_still_caught(project: Path) -> None:
    draft = project / "trust/private/soc2-type2-2027-draft.pdf"
    draft.write_bytes((project / "trust/private/soc2-type2-2026.pdf").read_bytes()[::-1])  # other bytes
    (project / "site_src/assets").mkdir()
    (project / "site_src/assets/preview.pdf").write_bytes(draft.read_bytes())
    build_refuses(project, "contains the content of private/soc2-type2-2027-draft.pdf")


def test_the_gates_session_secret_is_caught(project: Path, state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    secret = state_dir / "gate-session.key"
    secret.write_bytes(b"0123456789abcdef0123456789abcdef")
    secret.chmod(0o600)
    (project / "site_src/notes.txt").write_bytes(b"backup: " + secret.read_bytes())
    build_refuses(project, "notes.txt contains one of the gate's secrets")


def test_a_database_is_caught(project: Path) -> None:
    database = sqlite3.connect(project / "site_src/export.db")
    database.execute("CREATE TABLE events (id INTEGER)")
    database.commit()
    database.close()
    build_refuses(project, "export.db is an SQLite database")


@pytest.mark.parametrize(("name", "content"), [("signing.pem", b"-----BEGIN PUBLIC KEY-----\n"),
                                               ("key.txt", b"-----BEGIN PRIVATE KEY-----\nMC4CAQ\n")])
def test_a_key_file_is_caught(project: Path, name: str, content: bytes) -> None:
    (project / "site_src" / name).write_bytes(content)
    build_refuses(project, f"{name} is or holds a key file")
