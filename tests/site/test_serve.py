"""`trustcenter serve`: the live preview rebuilds when a file in trust/ changes."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from support import copy_demo, edit, free_port


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode("utf-8"))


def wait_for(url: str, text: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            if text in fetch(url):
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def test_editing_trust_yaml_rebuilds_the_preview(tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "project")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--dev-addr", f"127.0.0.1:{port}"],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/subprocessors/"
        assert wait_for(url, "Subprocessors", time.monotonic() + 90), "the preview never came up"
        assert "Zephyr Test Analytics" not in fetch(url)
        edit(project / "trust/subprocessors.yaml", "subprocessors:\n", "subprocessors:\n"
             "  - name: Zephyr Test Analytics\n    purpose: Product analytics\n    data_categories: [Usage data]\n"
             "    locations: [NO]\n    website: https://zephyr.example\n    added: 2026-01-05\n")
        assert wait_for(url, "Zephyr Test Analytics", time.monotonic() + 90), "the edit was not picked up"
        assert "Norway" in fetch(url)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_says_where_it_serves_shows_located_errors_and_recovers(tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "project")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--dev-addr", f"127.0.0.1:{port}"],
                                   cwd=project, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/subprocessors/"
        assert wait_for(url, "Subprocessors", time.monotonic() + 90), "the preview never came up"
        assert f"http://127.0.0.1:{port}/" in log.read_text()
        edit(project / "trust/subprocessors.yaml", "    added: 2021-03-01\n", "    added: 2021-13-01\n")
        assert wait_for(url, "The content has errors", time.monotonic() + 90), "no error shown in the page"
        page = fetch(url)
        assert "trust/subprocessors.yaml:" in page and "is not a date" in page
        assert "Amazon Web Services" in page  # the last valid content, not an empty or stuck page
        text = log.read_text()
        assert "ERROR" in text and "trust/subprocessors.yaml:" in text and "is not a date" in text
        edit(project / "trust/subprocessors.yaml", "    added: 2021-13-01\n", "    added: 2021-03-01\n")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and "The content has errors" in fetch(url):
            time.sleep(0.5)
        assert "The content has errors" not in fetch(url), "the preview did not recover once the file was fixed"
    finally:
        process.terminate()
        process.wait(timeout=20)
