"""Several gates on one PostgreSQL under load and faults: three `trustcenter gate` processes behind Debian nginx
(deploy/nginx-upstream.conf, as tests/test_deploy.py renders it), mixed traffic for a minute, one gate killed and
PostgreSQL restarted midway; then what was answered is compared with what the audit chain holds. Prints figures;
exits 1 when an invariant fails, never on a time.

    .venv/bin/python bench/bench_cluster.py [--seconds 60] [--processes 2] [--threads 8]

The parts are the real ones: a durable PostgreSQL cluster (fsync on; tests/pgserver.py), the gates started with
the systemd unit's command (`--trusted-proxy 127.0.0.1 --no-site`, one audit key and one session secret in the
environment), nginx with the upstream configuration and its snippets over TLS on loopback. The load comes from
client processes, each running visitors in threads; each visitor is one browser (cookies, CSRF token, one keep-alive connection) on a
loopback address of its own, so nginx's per-address limits and the gate's audit see many visitors, as in
production, and each audit row can be matched to the visitor that caused it (the gate records the address nginx
forwards).

Traffic, chosen at random per visit: a visitor who opens a link and leaves; a visitor who opens, accepts the NDA
and downloads once or twice (a pool of links with max_downloads 3, shared by all clients, so some are used up
and answer 410); a rush: a new link with max_downloads 1 that several visitors accept, then download at the same
moment, through whichever gates nginx picks.

Faults, at fractions of the run: at 1/3 one gate gets SIGKILL (a crash: requests in flight die with it); at 1/2 it
is started again, as systemd's Restart=on-failure would; at 2/3 PostgreSQL is restarted (`pg_ctl restart -m
fast`: every connection is cut, the server is down until it has started again).

Checked afterwards, per visitor (link id and address, which the audit rows carry):
- every download answered 200 has a DOWNLOADED row, and no visitor has more DOWNLOADED rows than its 200s plus
  the downloads whose answer never reached it (nginx 502, a 503, a dropped connection, or a request nginx passed
  on to another gate after the first failed): those rows are "counted, not delivered", reported apart, not
  lost and not duplicated;
- no link has more DOWNLOADED rows than its max_downloads;
- every acceptance answered 303 has its ACCEPTED row, with the same allowance for unanswered ones;
- every page answered 200 has its OPENED row, and no visitor has two (the gate records one per link and address
  every ten minutes);
- the chain is one line (ids 1..n) and `trustcenter audit --verify --db URL` verifies it;
- no 500, no 5xx outside the fault windows, no traceback in a gate's log, every gate healthy at the end.

Throughput is printed by phase against the first third (three gates, no fault) of the same run, with the CPU
seconds each part used: on a machine shared with other work, the figures move with what else runs.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import pgserver  # noqa: E402
from conftest import make_project  # noqa: E402
from loopback import Reply, Signer, add_signing_key  # noqa: E402
from support import free_port, started  # noqa: E402
from test_deploy import GATE_HOST, TRUSTCENTER, exec_start, write_nginx  # noqa: E402

from generator.content.project import STATE_DIR_ENV  # noqa: E402
from generator.gate import settings as gate_settings  # noqa: E402

GATES = 3
NORMAL_MAX_DOWNLOADS = 3
RUSH_SIZE = 4  # visitors downloading one max_downloads 1 link at the same moment
# The mix of visits (weights): open and leave, open-accept-download, a rush on a max_downloads 1 link.
MIX = {"open": 2, "visit": 6, "rush": 2}
KILL_AT, GATE_BACK_AT, PG_RESTART_AT = 1 / 3, 1 / 2, 2 / 3
# After a fault, how long its errors may go on: requests in flight when the gate died (502), and requests that
# met the database down or reconnecting (503). Any 5xx outside these windows is reported as unexpected.
KILL_WINDOW_S, PG_WINDOW_S = 5.0, 10.0
UNANSWERED = {0, 500, 502, 503, 504}  # 0: no answer at all (connection reset, timeout)


# ---------------------------------------------------------------- the client side (in client processes)


class Visitor:
    """One person's browser: its own loopback address, cookies, and one keep-alive TLS connection to nginx."""

    def __init__(self, port: int, address: str, context: ssl.SSLContext) -> None:
        self.port, self.address, self.context = port, address, context
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        if self.connection is None:
            self.connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.context,
                                                          source_address=(self.address, 0))
        headers = {"Host": GATE_HOST, "User-Agent": "bench-cluster/1.0"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        for set_cookie in reply.headers.get_all("Set-Cookie") or []:
            name, _, value = set_cookie.partition(";")[0].strip().partition("=")
            self.cookies[name] = value
        return reply

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Client:
    """One client process: its threads share a record list and a counter of loopback addresses."""

    number: int
    port: int
    links: list[dict[str, Any]]
    signer: Signer
    deadline: float
    records: list[list[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE  # nginx's self-signed certificate (test_deploy's)
        self.addresses = itertools.count(1)

    def visitor(self) -> Visitor:
        n = next(self.addresses)  # 127.<client>.x.y: one address per visitor, never reused in a run
        return Visitor(self.port, f"127.{10 + self.number}.{n // 250 % 250}.{n % 250 + 1}", self.context)

    def send(self, visitor: Visitor, kind: str, link_id: str, method: str, path: str,
             form: dict[str, str] | None = None) -> Reply | None:
        started_at = time.time()
        try:
            reply: Reply | None = visitor.request(method, path, form)
        except (OSError, http.client.HTTPException) as error:
            reply, status, note = None, 0, type(error).__name__
        else:
            assert reply is not None
            status, note = reply.status, ""
            if kind == "download" and status == 200 and not reply.body.startswith(b"%PDF-"):
                note = "not a PDF"
        self.records.append([started_at, time.time(), kind, link_id, visitor.address, status, note])
        return reply

    def open_and_accept(self, visitor: Visitor, link: dict[str, Any], *, accept: bool = True) -> bool:
        page = self.send(visitor, "open", link["id"], "GET", f"/access/{link['token']}")
        if page is None or page.status != 200 or not accept:
            return False
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        if csrf is None:
            return False
        accepted = self.send(visitor, "accept", link["id"], "POST", f"/access/{link['token']}",
                             {"csrf": csrf[1], "step": "accept", "name": "Alice Example",
                              "company": "Customer Inc", "accept": "yes"})
        return accepted is not None and accepted.status == 303

    def download(self, visitor: Visitor, link: dict[str, Any]) -> Reply | None:
        return self.send(visitor, "download", link["id"], "GET", f"/access/{link['token']}/download")

    def one_visit(self, randomness: random.Random) -> None:
        kind = randomness.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "rush":
            self.rush()
            return
        visitor = self.visitor()
        link = randomness.choice(self.links)
        try:
            if self.open_and_accept(visitor, link, accept=kind == "visit"):
                for _ in range(randomness.choice((1, 1, 2))):
                    got = self.download(visitor, link)
                    if got is None or got.status != 200:
                        break
        finally:
            visitor.close()

    def rush(self) -> None:
        made = self.signer.link(max_downloads=1)
        link = {"id": made.link_id, "token": self.signer.token(made), "max": 1}
        visitors = [self.visitor() for _ in range(RUSH_SIZE)]
        ready = [visitor for visitor in visitors if self.open_and_accept(visitor, link)]
        if ready:
            start = threading.Barrier(len(ready))

            def go(visitor: Visitor) -> None:
                with contextlib.suppress(threading.BrokenBarrierError):
                    start.wait(timeout=30)
                self.download(visitor, link)

            threads = [threading.Thread(target=go, args=(visitor,)) for visitor in ready]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        for visitor in visitors:
            visitor.close()
        self.records.append([time.time(), time.time(), "link", link["id"], "", 0, "max 1"])

    def run(self, threads: int, output: Path) -> None:
        def loop(seed: int) -> None:
            randomness = random.Random(seed)
            while time.time() < self.deadline:
                self.one_visit(randomness)

        workers = [threading.Thread(target=loop, args=(self.number * 1000 + index,)) for index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        output.write_text(json.dumps(self.records))


def client_process(client: Client, threads: int, output: Path) -> None:
    client.run(threads, output)


# ---------------------------------------------------------------- the cluster (in this process)


@dataclass
class Faults:
    times: dict[str, float] = field(default_factory=dict)  # what happened when (seconds since the start)
    notes: list[str] = field(default_factory=list)


class Cluster:
    """PostgreSQL, the gates and nginx; the gates in an ExitStack so a restarted one is stopped at the end too."""

    def __init__(self, stack: contextlib.ExitStack, folder: Path, project: Path, database: str) -> None:
        self.stack, self.folder, self.project, self.database = stack, folder, project, database
        self.environment = {STATE_DIR_ENV: str(folder / "state"), "PYTHONDONTWRITEBYTECODE": "1",
                            gate_settings.AUDIT_KEY_ENV: secrets.token_hex(32),
                            gate_settings.SECRET_ENV: secrets.token_urlsafe(48)}
        self.ports = [free_port() for _ in range(GATES)]
        self.gates: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []

    def start_gate(self, port: int, *, init: bool = False, label: str = "") -> float:
        """Start one gate as the unit does; seconds until it listens."""
        began = time.monotonic()
        log = self.folder / f"gate-{port}{label}.log"
        self.logs.append(log)
        command = [*exec_start(port, self.database, self.project), *(["--init"] if init else [])]
        self.gates[port] = self.stack.enter_context(started(command, port, log, self.project, self.environment))
        return time.monotonic() - began

    def start(self) -> None:
        (self.folder / "state").mkdir(mode=0o700)
        self.start_gate(self.ports[0], init=True)  # the first makes the schema (`gate --init`), as an operator does
        for port in self.ports[1:]:
            self.start_gate(port)
        self.nginx = write_nginx(self.folder, self.ports)
        config = self.nginx.prefix / "nginx.conf"  # the tests' main file, sized for a load
        config.write_text(config.read_text().replace("worker_processes 1;", "worker_processes auto;")
                          .replace("worker_connections 64;", "worker_connections 4096;"))
        self.stack.enter_context(started(self.nginx.command(), self.nginx.https_port, self.nginx.logs / "error.log",
                                         self.nginx.prefix))

    def healthy(self, port: int) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/healthz")
            return connection.getresponse().read() == b"ok"
        except OSError:
            return False

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TRUSTCENTER), *arguments, "--db", self.database, "--project", str(self.project)],
                              capture_output=True, text=True, timeout=300, check=False, cwd=self.project,
                              env={**os.environ, **self.environment})


def inject_faults(cluster: Cluster, server: pgserver.PostgresServer, start: float, seconds: float,
                  faults: Faults) -> None:
    victim = cluster.ports[1]

    def at(fraction: float) -> None:
        time.sleep(max(0.0, start + seconds * fraction - time.time()))

    at(KILL_AT)
    faults.times["gate killed"] = time.time() - start
    cluster.gates[victim].send_signal(signal.SIGKILL)
    cluster.gates[victim].wait(timeout=10)
    at(GATE_BACK_AT)
    faults.times["gate restarted"] = time.time() - start

    def restart_gate() -> None:  # in a thread: starting Python on a loaded machine takes seconds
        took = cluster.start_gate(victim, label="-restarted")
        faults.notes.append(f"the killed gate listened again {took:.1f} s after its restart")

    restarting = threading.Thread(target=restart_gate)
    restarting.start()
    at(PG_RESTART_AT)
    faults.times["PostgreSQL restart"] = time.time() - start
    began = time.monotonic()
    server.restart()
    faults.times["PostgreSQL up"] = time.time() - start
    faults.notes.append(f"`pg_ctl restart -m fast` took {time.monotonic() - began:.1f} s")
    restarting.join()


# ---------------------------------------------------------------- what happened, what the audit holds


@dataclass
class Record:
    began: float
    ended: float
    kind: str
    link: str
    address: str
    status: int
    note: str


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


class CpuShares:
    """CPU seconds per part (gates, nginx, PostgreSQL, clients), from each process's /proc/<pid>/stat, read every
    half second while the load runs (a process that ends between two reads loses at most its last half second)."""

    def __init__(self, clients: list[int]) -> None:
        self.clients = set(clients)
        self.seen: dict[int, tuple[str, int]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def part(self, pid: int) -> str | None:
        if pid in self.clients:
            return "clients"
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if command[0].startswith(b"postgres"):
            return "PostgreSQL"
        if b"nginx" in command[0]:
            return "nginx"
        # `trustcenter gate ...` runs as <python> <venv>/bin/trustcenter gate ... (the script's #! line).
        if any(word.endswith(b"/trustcenter") and after == b"gate" for word, after in itertools.pairwise(command)):
            return "gates"
        return None

    def sample(self) -> None:
        while not self.done.wait(0.5):
            for entry in Path("/proc").glob("[0-9]*"):
                pid = int(entry.name)
                with contextlib.suppress(OSError, IndexError, ValueError):
                    part = self.seen[pid][0] if pid in self.seen else self.part(pid)
                    if part is not None:
                        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                        self.seen[pid] = (part, int(fields[11]) + int(fields[12]))  # utime + stime

    def seconds(self) -> dict[str, float]:
        self.done.set()
        self.thread.join()
        totals: collections.Counter[str] = collections.Counter()
        for part, ticks in self.seen.values():
            totals[part] += ticks / os.sysconf("SC_CLK_TCK")
        return dict(totals)


def passed_on(access_log: Path) -> tuple[int, collections.Counter[str]]:
    """Requests that nginx passed on to another gate after the first one failed, and per visitor address the
    downloads among them (the first gate may have counted the download before it died: a row, no copy sent)."""
    downloads: collections.Counter[str] = collections.Counter()
    pattern = re.compile(r'^(\S+) \[[^]]*\] \S+ "(\w+) (\S+) [^"]*" .* upstream=(.*) upstream_status=', re.MULTILINE)
    retried = 0
    for address, method, path, tried in pattern.findall(access_log.read_text() if access_log.exists() else ""):
        if "," in tried:
            retried += 1
            if method == "GET" and path == "/access/<redacted>/download":
                downloads[address] += 1
    return retried, downloads


def audit_rows(database: str) -> tuple[dict[tuple[str, str, str], int], list[int]]:
    """(kind, link id, address) -> rows, and every event id."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as connection:
        counted = connection.execute(
            "SELECT kind, link_id, ip, count(*) FROM events WHERE kind IN ('opened', 'accepted', 'downloaded') "
            "GROUP BY kind, link_id, ip").fetchall()
        ids = [row[0] for row in connection.execute("SELECT id FROM events ORDER BY id")]
    return {(str(kind), str(link), str(ip)): int(count) for kind, link, ip, count in counted}, ids


@dataclass
class Check:
    name: str
    value: str
    ok: bool


def matched(kind: str, acknowledged: int, audit_kind: str, records: list[Record], rows: dict[tuple[str, str, str], int],
            retried: collections.Counter[str] | None = None) -> tuple[list[Check], int]:
    """Acknowledged answers of `kind` against the audit's `audit_kind` rows, per visitor (link, address)."""
    ok: collections.Counter[tuple[str, str]] = collections.Counter()
    unanswered: collections.Counter[tuple[str, str]] = collections.Counter()
    for record in records:
        if record.kind == kind:
            if record.status == acknowledged:
                ok[(record.link, record.address)] += 1
            elif record.status in UNANSWERED:
                unanswered[(record.link, record.address)] += 1
    audited = {(link, ip): count for (row_kind, link, ip), count in rows.items() if row_kind == audit_kind}
    lost = duplicated = audit_only = 0
    for visitor in ok.keys() | unanswered.keys() | audited.keys():
        have, answered = audited.get(visitor, 0), ok[visitor]
        allowed = unanswered[visitor] + (retried[visitor[1]] if retried else 0)
        lost += max(0, answered - have)
        audit_only += min(max(0, have - answered), allowed)
        duplicated += max(0, have - answered - allowed)
    label = f"{kind}s answered {acknowledged}"
    return [Check(f"{label}: in the audit", f"{sum(ok.values())} answered, {lost} missing from the audit", lost == 0),
            Check(f"{label}: no duplicate row", f"{duplicated} rows beyond answers and unanswered tries",
                  duplicated == 0)], audit_only


def report(records: list[Record], links: dict[str, int], rows: dict[tuple[str, str, str], int], ids: list[int],
           verified: subprocess.CompletedProcess[str], passed: tuple[int, collections.Counter[str]], faults: Faults,
           start: float, seconds: float, cluster_notes: list[Check]) -> bool:
    requests = [record for record in records if record.kind != "link"]
    statuses = sorted({record.status for record in requests})
    print(f"\nrequests by kind and status (0: no answer), {len(requests):,} in all")
    print(f"  {'kind':10}" + "".join(f"{status or 'none':>8}" for status in statuses) + f"{'total':>9}")
    for kind in ("open", "accept", "download"):
        row = collections.Counter(record.status for record in requests if record.kind == kind)
        print(f"  {kind:10}" + "".join(f"{row[status]:>8,}" for status in statuses) + f"{sum(row.values()):>9,}")

    phases = [("three gates (baseline)", 0.0, faults.times["gate killed"]),
              ("one gate killed", faults.times["gate killed"], faults.times["gate restarted"]),
              ("three gates again", faults.times["gate restarted"], faults.times["PostgreSQL restart"]),
              ("PostgreSQL restarted, after", faults.times["PostgreSQL restart"], seconds)]
    print("\nthroughput by phase (answered requests per second, any status but none/5xx)")
    baseline = None
    for name, begin, end in phases:
        inside = [record for record in requests if begin <= record.ended - start < end]
        good = sum(1 for record in inside if record.status not in UNANSWERED)
        errors = collections.Counter(record.status for record in inside if record.status in UNANSWERED)
        rate = good / max(end - begin, 1e-9)
        baseline = baseline or rate
        shown = ", ".join(f"{status or 'none'}: {count}" for status, count in sorted(errors.items())) or "none"
        print(f"  {name:30} {begin:5.1f}-{end:5.1f} s  {rate:8.1f} req/s  ({rate / baseline:4.0%} of baseline)  "
              f"errors: {shown}")
    answered = sum(1 for record in requests if record.status not in UNANSWERED and record.ended - start < seconds)
    print(f"  whole run: {answered / seconds:.1f} answered req/s; "
          f"downloads served: {sum(1 for r in requests if r.kind == 'download' and r.status == 200):,}")
    print("\nfaults: " + "; ".join(f"{name} at {when:.1f} s" for name, when in faults.times.items()))
    for note in faults.notes:
        print(f"  {note}")

    retried_all, retried = passed
    checks: list[Check] = []
    found, download_audit_only = matched("download", 200, "downloaded", records, rows, retried)
    checks += found
    found, accept_audit_only = matched("accept", 303, "accepted", records, rows)
    checks += found
    opened = {(link, ip) for (kind, link, ip), count in rows.items() if kind == "opened"}
    open_ok = {(record.link, record.address) for record in requests if record.kind == "open" and record.status == 200}
    twice = sum(1 for (kind, _, _), count in rows.items() if kind == "opened" and count > 1)
    checks.append(Check("opens answered 200: in the audit", f"{len(open_ok - opened)} of {len(open_ok)} missing",
                        open_ok <= opened))
    checks.append(Check("one OPENED row per visitor", f"{twice} visitors with more", twice == 0))
    per_link: collections.Counter[str] = collections.Counter()
    for (kind, link, _), count in rows.items():
        if kind == "downloaded":
            per_link[link] += count
    over = [link for link, count in per_link.items() if link in links and count > links[link]]
    rushes = [link for link, limit in links.items() if limit == 1]
    served_once = sum(1 for link in rushes if per_link[link] == 1)
    checks.append(Check("no link over max_downloads", f"{len(over)} over; {len(per_link)} links downloaded; "
                        f"{served_once} of {len(rushes)} max-1 rushes served exactly once", not over))
    not_pdf = sum(1 for record in requests if record.note == "not a PDF")
    checks.append(Check("every 200 download is a PDF", f"{not_pdf} not", not_pdf == 0))
    checks.append(Check("chain is one line (ids 1..n)", f"{len(ids):,} events",
                        ids == list(range(1, len(ids) + 1))))
    checks.append(Check("`trustcenter audit --verify`", (verified.stdout or verified.stderr).strip()[:90],
                        verified.returncode == 0))
    checks += cluster_notes
    print("\ninvariants")
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"  {'ok  ' if check.ok else 'FAIL'}  {check.name:{width}}  {check.value}")
    print(f"  info  counted, not delivered (response lost in a fault): {download_audit_only} downloads, "
          f"{accept_audit_only} acceptances; requests nginx passed on to another gate after one failed: "
          f"{retried_all} ({sum(retried.values())} downloads)")
    return all(check.ok for check in checks)


def unexpected_errors(records: list[Record], faults: Faults, start: float) -> Check:
    """5xx or no answer outside the windows where a fault explains it; a 500 anywhere."""
    kill = faults.times["gate killed"]
    pg_from, pg_up = faults.times["PostgreSQL restart"], faults.times["PostgreSQL up"]
    odd = collections.Counter()
    for record in records:
        if record.kind == "link" or record.status not in UNANSWERED:
            continue
        began, ended = record.began - start, record.ended - start
        in_kill = record.status in (0, 502) and began <= kill + KILL_WINDOW_S and ended >= kill
        in_pg = record.status in (0, 502, 503) and began <= pg_up + PG_WINDOW_S and ended >= pg_from
        if record.status == 500 or not (in_kill or in_pg):
            odd[f"{record.kind} {record.status or 'none'} at {began:.1f} s"] += 1
    shown = ", ".join(f"{what}" + (f" x{count}" if count > 1 else "") for what, count in sorted(odd.items())[:6])
    return Check("no 500; 502/503 only in fault windows", shown or "none", not odd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="visitors at once per client process")
    parser.add_argument("--links", type=int, default=400, help="links with max_downloads 3 shared by the clients")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs, nginx access log) and say where")
    options = parser.parse_args()
    if pgserver.binaries() is None:
        sys.exit("PostgreSQL's server programs are missing: apt-get install postgresql (or `make test` does)")
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    ok = False
    try:
        with pgserver.running(durable=True) as server, contextlib.ExitStack() as stack:
            project = make_project(folder)
            signer = add_signing_key(project, folder)
            cluster = Cluster(stack, folder, project, server.database())
            cluster.start()
            made = [signer.link(max_downloads=NORMAL_MAX_DOWNLOADS) for _ in range(options.links)]
            pool = [{"id": link.link_id, "token": signer.token(link), "max": link.max_downloads} for link in made]
            print(f"{GATES} gates (8 threads each) behind nginx on PostgreSQL {pgserver.binaries().parts[-2]} "
                  f"(fsync on); {options.processes} client processes x {options.threads} visitors at once; "
                  f"{options.seconds:.0f} s; {os.cpu_count()} CPUs")
            start = time.time() + 0.5
            faults = Faults()
            outputs = [folder / f"client-{number}.json" for number in range(options.processes)]
            context = multiprocessing.get_context("fork")
            clients = [context.Process(target=client_process, args=(
                Client(number, cluster.nginx.https_port, pool, signer, start + options.seconds), options.threads,
                outputs[number])) for number in range(options.processes)]
            cpu_before = cpu_times()
            for client in clients:
                client.start()
            shares = CpuShares([client.pid for client in clients if client.pid is not None])
            shares.thread.start()
            inject_faults(cluster, server, start, options.seconds, faults)
            for client in clients:
                client.join()
            busy, total = (after - before for after, before in zip(cpu_times(), cpu_before, strict=True))
            faults.notes.append(f"CPU busy during the run: {busy / total:.0%} of {os.cpu_count()} CPUs "
                                "(gates, nginx, PostgreSQL and the clients share them)")
            measured = shares.seconds()
            spent = {part: measured.get(part, 0.0) for part in ("gates", "clients", "PostgreSQL", "nginx")}
            ticks = os.sysconf("SC_CLK_TCK")
            spent["anything else on the machine"] = max(0.0, busy / ticks - sum(spent.values()))
            faults.notes.append("CPU seconds: " + ", ".join(f"{part} {seconds:.0f}" for part, seconds in spent.items())
                                + f" (of {total / ticks:.0f} available)")
            records = [Record(*row) for output in outputs for row in json.loads(output.read_text())]
            links = {link["id"]: link["max"] for link in pool}
            links.update({record.link: 1 for record in records if record.kind == "link"})
            healthy = {port: cluster.healthy(port) for port in cluster.ports}
            died = [port for port, process in cluster.gates.items() if process.poll() is not None]
            rows, ids = audit_rows(cluster.database)
            verified = cluster.cli("audit", "--verify")
            logs = {log.name: log.read_text(errors="replace") for log in cluster.logs}
            tracebacks = [name for name, text in logs.items() if "Traceback" in text or "unexpected error" in text]
            unavailable = sum(text.count("database is unavailable") for text in logs.values())
            notes = [unexpected_errors(records, faults, start),
                     Check("every gate healthy at the end, none died", f"healthz {healthy}; died: {died or 'none'}",
                           all(healthy.values()) and not died),
                     Check("no traceback in the gates' logs", ", ".join(tracebacks) or "none", not tracebacks)]
            faults.notes.append(f"the gates logged 'database unavailable' {unavailable} times")
            ok = report(records, links, rows, ids, verified, passed_on(
                cluster.nginx.logs / "trustcenter-gate.access.log"), faults, start, options.seconds, notes)
    finally:
        if options.keep or not ok:
            print(f"\nlogs kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
