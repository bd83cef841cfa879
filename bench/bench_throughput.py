"""Benchmark the gate against its framework's floor: the NDA page served by gate processes vs a bare Flask app on
waitress returning a page of the same bytes, with the same number of processes, threads and connections, measured
in the same run by the same load tool (wrk). On SQLite and on PostgreSQL. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_throughput.py [--seconds 10] [--processes 1,2,3] [--stores sqlite,postgresql]

Two workloads for the gate:

- "NDA page": one link opened again and again from one address, as the issue measures it. Every request is fully
  checked (token signature and claims, revocation, download count, throttle) and its open goes through the audit's
  de-duplication (`AuditLog.record_open`): after the first, it is the same open within the window, so no row.
- "new links": every request opens a link not opened before, so every request appends a row to the audit chain
  (under the write lock every instance shares). The worst case for the database.

Several processes listen on ports of their own (as behind a load balancer's upstream) and get one wrk each, run at
the same time; their figures are added. The bare app gets the same. On PostgreSQL the processes share one database
of a throwaway server (tests/pgserver.py; fsync on, as in production, unless --pg-fast); on SQLite, one file.

`--profile SECONDS` instead runs one gate under py-spy (if installed in the venv; it is not a dependency of the
project: `.venv/bin/pip install py-spy`) for that long while wrk loads it, and prints where the time goes.

Needs Debian's `wrk` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import http.client
import itertools
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import GATED_ID, TRUST_CENTER_URL, make_project  # noqa: E402

from generator.content.project import Project  # noqa: E402
from generator.gate import keys, tokens  # noqa: E402

GOAL_RATIO = 0.50
TRUSTCENTER = str(REPO / ".venv" / "bin" / "trustcenter")
PYTHON = str(REPO / ".venv" / "bin" / "python")
NEW_LINKS_PER_SECOND = 3_000  # tokens minted per second of the "new links" workload: more than it opens

# One request per token, in order, so that no open is a repeat; wrk's Lua reads the tokens from a file.
ROTATE_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = "/access/" .. line end
local next_one = 0
request = function()
    next_one = next_one %% #paths + 1
    return wrk.format("GET", paths[next_one])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, path: str, process: subprocess.Popen[bytes] | None = None) -> None:
    for _ in range(600):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def fetch(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"GET {path[:40]}... answered {response.status}")
    return body


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


@dataclasses.dataclass(frozen=True)
class Measure:
    rps: float  # requests answered 2xx per second, all processes together
    cpu_ms: float  # CPU time the server processes spent per request (unlike rps, hardly moved by other load)
    requests: int


def wrk(urls: Sequence[str], seconds: int, connections: int, pids: Sequence[int],
        scripts: Sequence[Path] = ()) -> Measure:
    """One wrk per URL (one per server process) at the same time; their figures added."""
    runs = []
    used = cpu_seconds(pids)
    for index, url in enumerate(urls):
        script = ["-s", str(scripts[index])] if scripts else []
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *script, url]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    rps, requests = 0.0, 0
    for run in runs:
        output, errors = run.communicate(timeout=seconds + 60)
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed: {errors}")
        if "Non-2xx" in output:
            raise RuntimeError(f"errors under load:\n{output}")
        if "Socket errors" in output:
            print(f"  wrk: {output[output.index('Socket errors'):].splitlines()[0].strip()}")
        rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
        count = re.search(r"(\d+) requests in", output)
        assert rate and count, output
        rps += float(rate[1])
        requests += int(count[1])
    used = cpu_seconds(pids) - used
    return Measure(rps, 1000 * used / max(1, requests), requests)


# ---------------------------------------------------------------- the floor: a bare Flask app on waitress


def bare_server(page_file: Path, port: int, threads: int) -> None:
    """The framework's floor: Flask routing a GET to a view that returns the page's bytes, served by waitress with
    the gate's own server settings."""
    import flask
    import waitress  # type: ignore[import-untyped]

    from generator.gate.app import SERVER_LIMITS

    page = page_file.read_bytes()
    app = flask.Flask(__name__)

    @app.get("/access/<token>")
    def page_view(token: str) -> flask.Response:
        return flask.Response(page, 200, mimetype="text/html")

    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, ident="", **SERVER_LIMITS)


# ---------------------------------------------------------------- gates


class Setup:
    """A project with a trusted key, the link the NDA-page workload opens, and links for the new-links one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = make_project(root)
        pair = keys.create_key_pair(Project.at(self.project), kid="bench",
                                    private_key_path=root / "secrets" / "bench.pem")
        self._key = keys.load_private_key(pair.private_key_path)
        self.token = self.mint()
        self._scripts: dict[tuple[int, int], list[Path]] = {}

    def mint(self) -> str:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        link = tokens.Link(tokens.new_link_id(), GATED_ID, "alice@customer.test", "Customer Inc", now,
                           now + dt.timedelta(days=14), 5, False)
        return tokens.mint(link, private_key=self._key, kid="bench", issuer=TRUST_CENTER_URL)

    def new_links(self, round_number: int, processes: int, per_process: int) -> list[Path]:
        """wrk scripts, one per process, each opening links of its own that this round has not opened. A database
        serves one process count, so rounds need new links, process counts and stores need not."""
        made = self._scripts.get((round_number, processes))
        if made is None:
            made = []
            for number in range(processes):
                path = self.root / f"links-{round_number}-{processes}-{number}.txt"
                path.write_text("\n".join(self.mint() for _ in range(per_process)) + "\n")
                script = path.with_suffix(".lua")
                script.write_text(ROTATE_LUA % path)
                made.append(script)
            self._scripts[round_number, processes] = made
        return made


@dataclasses.dataclass
class Servers:
    ports: list[int]
    pids: list[int]

    def urls(self, path: str) -> list[str]:
        return [f"http://127.0.0.1:{port}{path}" for port in self.ports]


@contextlib.contextmanager
def servers(commands: Sequence[list[str]], health: str, log: Path, code: Path | None = None) -> Iterator[Servers]:
    """Processes started one after the other (the first may create what the others share), each healthy; `code`:
    the folder whose `generator` package they run (default: this checkout's)."""
    started = Servers([], [])
    processes: list[subprocess.Popen[bytes]] = []
    environment = {**os.environ, **({"PYTHONPATH": str(code)} if code else {})}
    output = open(log, "ab")  # closed below
    try:
        for command in commands:
            port = free_port()
            process = subprocess.Popen([*command, "--port", str(port)], stdout=output, stderr=output, env=environment)
            processes.append(process)
            wait_for(port, health, process)
            started.ports.append(port)
            started.pids.append(process.pid)
        yield started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        output.close()


def gates(setup: Setup, db: str, count: int, threads: int,
          code: Path | None = None) -> contextlib.AbstractContextManager[Servers]:
    """`count` gate processes on one database (the first creates it, and the session secret)."""
    command = [TRUSTCENTER, "gate", "--project", str(setup.project), "--db", db, "--threads", str(threads)]
    return servers([[*command, *(["--init"] if number == 0 else [])] for number in range(count)], "/healthz",
                   setup.root / "gates.log", code)


def bares(setup: Setup, page_file: Path, count: int, threads: int) -> contextlib.AbstractContextManager[Servers]:
    command = [PYTHON, __file__, "--bare-server", str(page_file), str(threads)]
    return servers([command] * count, "/access/x", setup.root / "bare.log")


@contextlib.contextmanager
def databases(stores: Sequence[str], root: Path, durable: bool) -> Iterator[dict[str, Iterator[str]]]:
    """For each store, an endless supply of new, empty databases (one per process count)."""
    def files() -> Iterator[str]:
        for number in itertools.count(1):
            yield str(root / f"gate-{number}.sqlite3")

    supplies: dict[str, Iterator[str]] = {}
    with contextlib.ExitStack() as stack:
        for store in stores:
            if store == "sqlite":
                supplies[store] = files()
            else:
                import pgserver

                server = stack.enter_context(pgserver.running(durable=durable))
                supplies[store] = (server.database() for _ in itertools.count())
        yield supplies


# ---------------------------------------------------------------- profile


def profile(server: Servers, path: str, seconds: int, connections: int, out: Path) -> None:
    """py-spy on one server process while wrk loads it: where the time holding the GIL goes."""
    spy = REPO / ".venv" / "bin" / "py-spy"
    if not spy.exists():
        raise SystemExit("py-spy is not in the venv: .venv/bin/pip install py-spy (it is not a project dependency)")
    fetch(server.ports[0], path)
    wrk(server.urls(path), 2, connections, server.pids)  # warm
    spy_run = subprocess.Popen([str(spy), "record", "--pid", str(server.pids[0]), "--duration", str(seconds),
                                "--rate", "200", "--gil", "--format", "raw", "--output", str(out), "--threads"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    measure = wrk(server.urls(path), seconds - 2, connections, server.pids)
    spy_run.wait(timeout=60)
    print(f"{measure.rps:,.0f} req/s under the profiler, {measure.cpu_ms:.2f} ms CPU per request")
    summarise(out)


# What a request's time is spent on, by the first of these frames found from the top of its stack (py-spy's
# "function (file:line)" names); the rest is Flask, werkzeug and waitress handling the request.
CATEGORIES = (
    ("token: PyJWT + Ed25519 verify", ("verify (generator/gate/tokens.py",)),
    ("throttle read (hits)", ("FailureCounter.retry_after",)),
    ("link standing read (revoked, downloads, opened)", ("AuditLog.standing",)),
    ("open recorded (audit write)", ("AuditLog.record_unless_recent", "AuditLog.record_open")),
    ("page render (Jinja)", ("Gate.render",)),
    ("session cookie (itsdangerous)", ("save_session", "open_session")),
    ("security headers", ("_security_headers",)),
    ("delivery worker woken", ("_wake_delivery",)),
    ("audit event built", ("Gate.event",)),
    ("browser id, CSRF token", ("browser_session",)),
    ("reload check", ("Reloader.check",)),
)


def summarise(raw: Path) -> None:
    """Where the samples went: by category, then inclusive and self share per function (request threads)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    categories: dict[str, int] = {}
    total = 0
    elsewhere: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        count = int(count_text)
        if not any("service (waitress" in frame for frame in frames):
            # The server's own loop (reading requests, writing answers), the reloader, the delivery worker.
            where = next((name for name in ("delivery.py", "reload.py", "wasyncore.py") if name in stack), "other")
            elsewhere[where] = elsewhere.get(where, 0) + count
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        category = next((name for name, marks in CATEGORIES if any(mark in stack for mark in marks)),
                        "Flask, werkzeug, waitress (the request itself)")
        categories[category] = categories.get(category, 0) + count
    everything = total + sum(elsewhere.values())
    print(f"{everything} samples holding the GIL: request threads {total}; elsewhere {elsewhere}")
    print("request threads by category (share of all samples):")
    for name, count in sorted(categories.items(), key=lambda item: -item[1]):
        print(f"  {count / max(1, everything):6.1%}  {name}")
    for name, count in sorted(elsewhere.items(), key=lambda item: -item[1]):
        label = {"wasyncore.py": "waitress main loop (sockets)", "delivery.py": "delivery worker"}.get(name, name)
        print(f"  {count / max(1, everything):6.1%}  {label}")
    for title, table in (("inclusive", inclusive), ("self", own)):
        print(f"{title} (share of request-thread samples):")
        for frame, count in sorted(table.items(), key=lambda item: -item[1])[:70 if title == "inclusive" else 30]:
            print(f"  {count / max(1, total):6.1%}  {frame}")


# ---------------------------------------------------------------- the run


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--bare-server":
        bare_server(Path(sys.argv[2]), int(sys.argv[5]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, interleaved; medians shown")
    parser.add_argument("--connections", type=int, default=16, help="per process")
    parser.add_argument("--threads", type=int, default=8, help="waitress threads per process, gate and bare alike")
    parser.add_argument("--processes", default="1,2,3")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--no-new-links", action="store_true", help="skip the workload that writes every request")
    parser.add_argument("--pg-fast", action="store_true", help="PostgreSQL without fsync (as the tests run it)")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                        help="instead, py-spy on the bare app and one gate per store under wrk")
    parser.add_argument("--before", type=Path, default=None, metavar="DIR",
                        help="also measure, interleaved, the gate whose `generator` package is in DIR (another "
                             "checkout, e.g. `git worktree add DIR HEAD~1`), on databases of its own")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    counts = [int(part) for part in options.processes.split(",")]
    stores = options.stores.split(",")
    with tempfile.TemporaryDirectory() as folder, databases(stores, Path(folder), not options.pg_fast) as supply:
        setup = Setup(Path(folder))
        page_file = setup.root / "nda.html"
        with gates(setup, str(setup.root / "page.sqlite3"), 1, options.threads) as gate:
            page_file.write_bytes(fetch(gate.ports[0], f"/access/{setup.token}"))
        if options.profile:
            with bares(setup, page_file, 1, options.threads) as bare:
                print("--- profile, bare Flask/waitress")
                profile(bare, "/access/x", options.profile, options.connections, setup.root / "bare.prof")
            for store in stores:
                with gates(setup, next(supply[store]), 1, options.threads) as gate:
                    print(f"--- profile, gate on {store}")
                    profile(gate, f"/access/{setup.token}", options.profile, options.connections,
                            setup.root / f"{store}.prof")
            return
        print(f"wrk, {options.connections} connections per process, {options.seconds} s each, {options.rounds} rounds "
              f"interleaved (medians); {options.threads} waitress threads per process; page "
              f"{page_file.stat().st_size:,} bytes; {os.cpu_count()} CPUs; PostgreSQL "
              f"{'without fsync' if options.pg_fast else 'durable (fsync on)'}", flush=True)
        versions: dict[str, Path | None] = {"": None, **({"before": options.before} if options.before else {})}
        warm = max(2, options.seconds // 5)
        per_process = NEW_LINKS_PER_SECOND * options.seconds
        for count in counts:
            with contextlib.ExitStack() as stack:
                bare = stack.enter_context(bares(setup, page_file, count, options.threads))
                gate_of = {f"{store} {version}".strip(): stack.enter_context(
                    gates(setup, next(supply[store]), count, options.threads, code))
                    for store in stores for version, code in versions.items()}
                results: dict[str, list[Measure]] = {}

                def measure(name: str, urls: list[str], pids: list[int], scripts: Sequence[Path] = ()) -> None:
                    results.setdefault(name, []).append(  # noqa: B023 - used in this iteration only
                        wrk(urls, options.seconds, options.connections, pids, scripts))

                wrk(bare.urls("/access/x"), warm, options.connections, bare.pids)
                for gate in gate_of.values():
                    wrk(gate.urls(f"/access/{setup.token}"), warm, options.connections, gate.pids)
                for round_number in range(options.rounds):
                    measure("bare", bare.urls("/access/x"), bare.pids)
                    for name, gate in gate_of.items():
                        measure(f"{name}|NDA page", gate.urls(f"/access/{setup.token}"), gate.pids)
                    if options.no_new_links:
                        continue
                    for name, gate in gate_of.items():
                        scripts = setup.new_links(round_number, count, per_process // count)
                        measure(f"{name}|new links", gate.urls("/"), gate.pids, scripts)
                        if results[f"{name}|new links"][-1].requests > per_process:
                            print("  (the new-links workload ran out of new links: raise NEW_LINKS_PER_SECOND)")
                report(count, results)


def report(count: int, results: dict[str, list[Measure]]) -> None:
    """Medians of each; a gate's share of the floor is the median of its rounds' shares (each round measures the
    bare app just before), which moves less with the machine's other load than a ratio of medians."""
    floor = results["bare"]
    spread = ", ".join(f"{each.rps:,.0f}" for each in floor)
    print(f"{count} process(es): bare Flask/waitress {statistics.median(each.rps for each in floor):8,.0f} req/s, "
          f"{statistics.median(each.cpu_ms for each in floor):.2f} ms CPU/request (runs: {spread})")
    for name, runs in results.items():
        if name == "bare":
            continue
        gate, _, workload = name.partition("|")
        ratio = statistics.median(run.rps / bare.rps for run, bare in zip(runs, floor, strict=True))
        cpu = statistics.median(run.cpu_ms for run in runs)
        goal = f"  goal >= {GOAL_RATIO:.0%}: {'met' if ratio >= GOAL_RATIO else 'NOT met'}" if workload == "NDA page" else ""
        spread = ", ".join(f"{each.rps:,.0f}" for each in runs)
        print(f"  gate {gate:<17} {workload:<9} {statistics.median(run.rps for run in runs):8,.0f} req/s  {ratio:6.1%} "
              f"of bare; {cpu:.2f} ms CPU/request{goal}  (runs: {spread})", flush=True)


if __name__ == "__main__":
    main()
