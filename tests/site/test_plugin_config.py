"""The plugin's options in mkdocs.yml: typed, validated, and trust_dir honoured by every command."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as etree
from pathlib import Path

import pytest
from support import copy_demo, edit, git, git_repo, run_cli

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def set_plugin_options(project: Path, options: str) -> None:
    edit(project / "mkdocs.yml", "  - trustcenter\n", f"  - trustcenter:\n{options}")


def test_trust_dir_is_honoured_by_check_build_keys_links_and_changes(project: Path, tmp_path: Path) -> None:
    (project / "trust").rename(project / "content")
    set_plugin_options(project, "      trust_dir: content\n")
    result = run_cli("check", "--strict", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "content/ is valid" in result.stdout
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert json.loads((project / "site/trust.json").read_text())["company"]["name"] == "Halyard Systems, Inc."
    key = tmp_path / "keys" / "sales.pem"
    result = run_cli("keys", "new", "--kid", "sales", "--private-key", str(key), cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "content/keys/sales.pem").is_file() and not (project / "trust").exists()
    result = run_cli("link", "create", "soc2-type2-report", "--to", "jane@customer.example", "--private-key", str(key),
                     cwd=project)
    assert result.returncode == 0, result.stderr
    git_repo(project)
    edit(project / "content/documents.yaml", "id: soc2-type2-report", "id: soc2-report-typo")
    result = run_cli("check", cwd=project)
    assert result.returncode == 1 and "content/certifications.yaml:" in result.stdout
    git(project, "commit", "-qam", "Rename the SOC 2 report's id")
    result = run_cli("changes", cwd=project)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  - SOC 2 Type II report .*\) removed\.$", result.stdout, re.MULTILINE)
    assert "is missing or does not validate" not in result.stdout


def test_an_invalid_option_is_refused_by_name(project: Path) -> None:
    set_plugin_options(project, "      git_history_commits: 0\n")
    result = run_cli("build", cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "git_history_commits" in result.stderr and "from 1 to 10000" in result.stderr
    assert not (project / "site").exists()


def test_a_trust_dir_outside_the_project_is_refused(project: Path) -> None:
    set_plugin_options(project, "      trust_dir: ../elsewhere\n")
    for command in ("check", "build"):
        result = run_cli(command, cwd=project)
        assert result.returncode == 1 and "Traceback" not in result.stderr, command
        assert "trust_dir" in result.stdout + result.stderr, command


def test_feed_entries_bounds_the_feed(project: Path) -> None:
    set_plugin_options(project, "      feed_entries: 3\n")
    assert run_cli("build", cwd=project).returncode == 0
    feed = etree.parse(project / "site/feed.xml").getroot()
    assert len(list(feed.iter(f"{ATOM}entry"))) == 3
