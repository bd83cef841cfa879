"""Test support: copies of the demo project on tmp_path and the real CLI run as a subprocess."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROJECT_PARTS = ("trust", "site_src", "overrides", "mkdocs.yml")


def copy_demo(dest: Path) -> Path:
    """A private copy of the demo project (content, pages, theme, config) at dest, with the demo's gated
    reports, which are not in git: generated once per test session (as `trustcenter demo` does)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("demo-*.pem", "private"))
        else:
            shutil.copy2(source, dest / part)
    shutil.copytree(_confidential_pdfs(), dest / "trust" / "private")
    return dest


@functools.cache
def _confidential_pdfs() -> Path:
    from generator.demo import documents

    folder = Path(tempfile.mkdtemp(prefix="trustcenter-demo-private-"))
    documents.write_demo_pdfs(folder, confidential_only=True)
    return folder / "private"


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `trustcenter ARGS` in cwd, as a user would, and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, check=False,
    )


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace text in a content file; fails loudly if the text is not there (the test would be void)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_directory(directory: Path):  # type: ignore[no-untyped-def]
    """A real HTTP server on loopback serving a built site; returns (server, base URL)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _QuietHandler(__import__("http.server").server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    """Run git in cwd as a fixed test identity; `date` (YYYY-MM-DD) sets the commit's dates."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Compliance Team", "GIT_AUTHOR_EMAIL": "compliance@example.test",
           "GIT_COMMITTER_NAME": "Compliance Team", "GIT_COMMITTER_EMAIL": "compliance@example.test",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date}T12:00:00+00:00"
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def git_repo(project: Path, date: str | None = None) -> Path:
    """Make project a git repository on branch main with everything committed once."""
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Trust center", date=date)
    return project


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. A missing browser fails: browser tests are never skipped.

    Use it from module-scoped fixtures: a running sync Playwright keeps an event loop that
    another module's Playwright cannot share.
    """
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: run `make test` (it installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def started(command: list[str], port: int, log: Path, cwd: Path,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A server program (a gate, nginx) run as a real process, its output in `log`; yields it once something
    listens on loopback `port`, so a test can also end it itself (SIGKILL: a crash). At the end it is sent
    SIGTERM, then SIGKILL after 10 s, unless it has already exited."""
    import signal
    import socket
    import time

    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited with {process.returncode}: {log.read_text(errors='replace')}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port}: {log.read_text(errors='replace')}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def gate_database(tmp_path: Path, name: str = "gate.sqlite3") -> Any:
    """Where a test's gate keeps its state: the PostgreSQL database the `gate_store` fixture made (TRUSTCENTER_DB),
    else a SQLite file under tmp_path/state."""
    from generator.gate import db

    named = os.environ.get(db.DB_ENV, "").strip()
    return db.location(named) if named else tmp_path / "state" / name
