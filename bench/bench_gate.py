"""Benchmark the gate: NDA-page requests per second against nginx serving a static file of the same
size, both on loopback, measured with the same load tool. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_gate.py [--seconds 10] [--connections 16]

Uses `wrk` when installed (Debian: apt-get install wrk), else a small threaded Python load generator.
The gate runs as `trustcenter gate` in its own process (so the load tool does not share its GIL);
nginx (Debian's, started with a temporary config as the current user) uses `worker_processes auto`.
Every gate request verifies the token, reads the revocation and download count, writes one audit
row (SQLite, WAL) and renders the page: that is the work being compared with sendfile().
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import GATED_ID, TRUST_CENTER_URL, make_project  # noqa: E402

from generator.content.project import Project  # noqa: E402
from generator.gate import keys, tokens  # noqa: E402

GOAL_RATIO = 0.25
# Measured on the reference machine (2 vCPU AMD EPYC, shared; wrk -t2 -c16 -d10s), 2026-11-23.
# The gate reaches ~1% of nginx: a Python process doing an Ed25519 verification, three SQLite
# statements and a template per request, against sendfile() from C. The gate's own figure is what
# to watch; ~400 NDA pages per second is far above what a trust center sees.
BASELINE = {"gate_rps": 400.0, "nginx_rps": 30_000.0}

NGINX_CONFIG = """
{user}
worker_processes auto;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
daemon on;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    types {{ text/html html; }}
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header Cache-Control no-store;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, path: str) -> None:
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def load(url: str, seconds: int, connections: int) -> float:
    """Requests per second that answered 200."""
    if shutil.which("wrk"):
        output = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", url],
                                capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in output:
            raise RuntimeError(f"non-200 answers under load:\n{output}")
        match = re.search(r"Requests/sec:\s+([\d.]+)", output)
        assert match, output
        return float(match[1])
    return python_load(url, seconds, connections)


def python_load(url: str, seconds: int, connections: int) -> float:
    """A threaded keep-alive load generator, for machines without wrk (it saturates sooner)."""
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match
    host, port, path = match[1], int(match[2]), match[3]
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        while time.perf_counter() < deadline:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                counts[index] += 1

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "python threads (install wrk for a stronger load)"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project = make_project(root)
        pair = keys.create_key_pair(Project.at(project), kid="bench", private_key_path=root / "secrets" / "bench.pem")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        link = tokens.Link(tokens.new_link_id(), GATED_ID, "alice@customer.test", "Customer Inc", now,
                          now + dt.timedelta(days=14), 5, False)
        token = tokens.mint(link, private_key=keys.load_private_key(pair.private_key_path), kid="bench",
                           issuer=TRUST_CENTER_URL)
        gate_port, nginx_port = free_port(), free_port()
        gate = subprocess.Popen([str(REPO / ".venv" / "bin" / "trustcenter"), "gate", "--port", str(gate_port),
                                 "--project", str(project)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        state = root / "nginx"
        static = root / "static"
        state.mkdir()
        static.mkdir()
        try:
            wait_for(gate_port, "/healthz")
            connection = http.client.HTTPConnection("127.0.0.1", gate_port)
            connection.request("GET", f"/access/{token}")
            page = connection.getresponse().read()
            (static / "nda.html").write_bytes(page)  # the same bytes, so the same size
            # As the current user: when that is root, nginx would otherwise drop its workers to nobody.
            user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
            (state / "nginx.conf").write_text(NGINX_CONFIG.format(user=user, state=state, port=nginx_port, root=static))
            subprocess.run(["nginx", "-c", str(state / "nginx.conf"), "-p", str(state), "-e", str(state / "error.log")],
                           check=True)
            try:
                wait_for(nginx_port, "/nda.html")
            except RuntimeError:
                print((state / "error.log").read_text(), file=sys.stderr)
                raise
            print(f"load tool: {tool}; {options.connections} connections, {options.seconds} s each; "
                  f"page {len(page):,} bytes; {os.cpu_count()} CPUs")
            gate_rps = load(f"http://127.0.0.1:{gate_port}/access/{token}", options.seconds, options.connections)
            nginx_rps = load(f"http://127.0.0.1:{nginx_port}/nda.html", options.seconds, options.connections)
        finally:
            gate.terminate()
            gate.wait(timeout=10)
            pid_file = state / "nginx.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), 15)
                time.sleep(0.3)
    ratio = gate_rps / nginx_rps
    print(f"gate   NDA page   {gate_rps:10,.0f} req/s   baseline {BASELINE['gate_rps']:8,.0f}  "
          f"({gate_rps / BASELINE['gate_rps']:.0%} of baseline)")
    print(f"nginx  static     {nginx_rps:10,.0f} req/s   baseline {BASELINE['nginx_rps']:8,.0f}  "
          f"({nginx_rps / BASELINE['nginx_rps']:.0%} of baseline)")
    print(f"gate / nginx      {ratio:10.1%}            goal >= {GOAL_RATIO:.0%}: {'met' if ratio >= GOAL_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
