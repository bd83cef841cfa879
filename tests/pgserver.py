"""A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster made with `initdb` in a
temporary folder, started with `pg_ctl` on a free loopback port, stopped and deleted at the end.

PostgreSQL refuses to run as root, so when the tests run as root (CI, a container) the cluster belongs to an
unprivileged user (`postgres`, which Debian's package creates, else `nobody`). Each test gets a database of its
own (`database()`), so tests run side by side, as they do on SQLite files in their own folders.

`make test` installs the `postgresql` package when it is missing; a missing server is then a failure in CI (no
skip), and a clear skip on a developer's machine that lacks it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "trustcenter"


def binaries() -> Path | None:
    """The folder of the newest installed PostgreSQL's server programs (initdb, pg_ctl), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One cluster on loopback. `durable=False` (the tests) turns fsync off: a test never survives a power cut,
    and each commit need not wait for the disk; the fault benchmark keeps it on."""

    def __init__(self, *, durable: bool = False) -> None:
        bindir = binaries()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
                                    "apt-get install postgresql")
        self.bindir = bindir
        self.durable = durable
        self.port = _free_port()
        self._folder = Path(tempfile.mkdtemp(prefix="trustcenter-pg-"))
        self.data = self._folder / "data"
        self.sockets = self._folder / "sockets"
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres" if _user_exists("postgres") else "nobody"
            os.chmod(self._folder, 0o755)  # noqa: S103 - the server user must reach its data folder inside
        self.sockets.mkdir()
        if self._user is not None:
            owner = pwd.getpwnam(self._user)
            for path in (self._folder, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._names = itertools.count(1)
        self._started = False

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, check=True, capture_output=True, text=True, user=self._user,
                              cwd=self._folder, env={**os.environ, "LC_ALL": "C"})

    def start(self) -> PostgresServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        # In the cluster's own configuration (not `pg_ctl -o`), so a stop and start keep them.
        settings = {"port": str(self.port), "listen_addresses": "'127.0.0.1'", "unix_socket_directories":
                    f"'{self.sockets}'", "max_connections": "300", "shared_buffers": "'32MB'"}
        if not self.durable:
            settings.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self._folder / "server.log"),
                  "-w", "-t", "60", "start")
        self._started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement with psql (as the superuser), outside any transaction."""
        psql = self.bindir / "psql" if (self.bindir / "psql").exists() else Path(shutil.which("psql") or "psql")
        subprocess.run([str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(database), "-c", statement],
                       check=True, capture_output=True, text=True)

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """Stop (fast: connections are cut) and start again on the same port and data."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self._folder / "server.log"),
                  "-m", "fast", "-w", "-t", "60", "restart")

    def stop_server(self) -> None:
        """Stop the server (fast: connections are cut), keeping its data, as an outage would."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        """Start it again after `stop_server`, on the same port and data."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self._folder / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self._folder, ignore_errors=True)

    def log(self) -> str:
        path = self._folder / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running(*, durable: bool = False) -> Iterator[PostgresServer]:
    server = PostgresServer(durable=durable)
    try:
        yield server.start()
    finally:
        server.stop()
