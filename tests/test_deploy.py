"""Running several gates (deploy/, docs/deploy-several-gates.md): the systemd unit checked by systemd, the nginx
upstream configuration checked by nginx and run for real in front of two `trustcenter gate` processes on one
database (confined as the unit confines them, tests/confined.py), and the container files checked for what they
promise, their entrypoint and health check run for real. No container engine runs here: the image is not built.

The Compose specification's JSON schema (tests/deploy/compose-spec.json) is a copy of schema/compose-spec.json
from github.com/compose-spec/compose-spec at 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (Apache-2.0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import make_project
from loopback import Browser, Reply, add_signing_key
from publish.test_publishing import (  # the one-gate nginx example's own helpers
    GATE_HOST,
    NGINX,
    SITE_HOST,
    _self_signed,
)
from support import REPO, free_port, started

from generator.content.project import STATE_DIR_ENV, Project
from generator.gate import settings as gate_settings

DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "trustcenter-gate@.service"
UPSTREAM = DEPLOY / "nginx-upstream.conf"
SNIPPETS = {path.name: path for path in sorted((DEPLOY / "nginx").glob("*.conf"))}
SNIPPETS_INSTALLED_AT = "/etc/nginx/snippets/"
CONTAINERFILE = DEPLOY / "Containerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENTRYPOINT = DEPLOY / "gate-entrypoint.sh"
COMPOSE_SCHEMA = Path(__file__).parent / "deploy" / "compose-spec.json"
CONFINED = Path(__file__).parent / "confined.py"

SYSTEMD_ANALYZE = Path(os.environ.get("SYSTEMD_ANALYZE", "/usr/bin/systemd-analyze"))
TRUSTCENTER = Path(sys.executable).with_name("trustcenter")  # this checkout's, installed in the environment
INSTALLED_PROGRAM = "/opt/trustcenter/bin/trustcenter"  # where the unit expects it
IN_CI = bool(os.environ.get("CI"))
MAX_FAILS = 2  # nginx-upstream.conf: max_fails=2 on every server


def secret() -> str:
    import secrets

    return secrets.token_urlsafe(48)


# ---------------------------------------------------------------- the systemd unit


def unit_settings(section: str = "Service") -> dict[str, list[str]]:
    """The unit's settings in `section`, every value of each key in order (continuation lines joined)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in UNIT.read_text().replace("\\\n", " ").splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def exec_start(port: int, db: str, project: Path) -> list[str]:
    """The unit's command for instance `port` (%i), with TRUSTCENTER_DB and the project filled in and this
    checkout's `trustcenter` in place of the installed one."""
    [line] = unit_settings()["ExecStart"]
    words = [word.replace("%i", str(port)).replace("${TRUSTCENTER_DB}", db) for word in shlex.split(line)]
    assert words[0] == INSTALLED_PROGRAM
    words[0] = str(TRUSTCENTER)
    words[words.index("--project") + 1] = str(project)
    return words


def systemd_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE.is_file(), "systemd-analyze is not installed: run `make system-deps` (Debian's systemd)"
    return subprocess.run([str(SYSTEMD_ANALYZE), *args], capture_output=True, text=True, timeout=120, check=False)


def unit_for_systemd(folder: Path, text: str | None = None) -> Path:
    """The unit where systemd-analyze can load it, its program this checkout's (systemd checks that it exists);
    returns the path of instance 8001."""
    text = text if text is not None else UNIT.read_text()
    assert INSTALLED_PROGRAM in text
    folder.mkdir(parents=True, exist_ok=True)
    (folder / UNIT.name).write_text(text.replace(INSTALLED_PROGRAM, str(TRUSTCENTER)))
    return folder / "trustcenter-gate@8001.service"


def test_systemd_verifies_the_unit_without_a_complaint(tmp_path: Path) -> None:
    assert TRUSTCENTER.is_file()
    verified = systemd_analyze("verify", "--man=no", str(unit_for_systemd(tmp_path / "units")))
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == "" and verified.stdout == ""
    # A misspelt setting is reported (and would not confine anything), so the check is not vacuous.
    misspelt = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict")
    complained = systemd_analyze("verify", "--man=no", str(unit_for_systemd(tmp_path / "misspelt", misspelt)))
    assert "ProtectSystm" in complained.stderr


# What the unit leaves open, each for a reason (docs/deploy-several-gates.md); anything else systemd rates
# must be closed.
OPEN_ON_PURPOSE = {
    "RootDirectoryOrRootImage": "the gate runs from the host's file system, read-only",
    "PrivateNetwork": "it talks to nginx, PostgreSQL, the mail server and webhook endpoints",
    "RestrictAddressFamilies_AF_INET_INET6": "the same, over TCP",
    "RestrictAddressFamilies_AF_UNIX": "PostgreSQL's local socket and the journal",
    "IPAddressDeny": "mail servers and webhook endpoints can be anywhere",
    "PrivateUsers": "its files belong to its own user, whom it checks (generator/gate/state.py)",
    "DeviceAllow": "ProtectClock's own read access to the clock device",
}


def test_systemd_rates_the_units_confinement_and_only_deliberate_openings_remain(tmp_path: Path) -> None:
    instance = unit_for_systemd(tmp_path / "units")
    rated = systemd_analyze("security", "--offline=true", "--json=short", str(instance))
    assert rated.returncode == 0, rated.stderr
    checks = json.loads(rated.stdout)
    open_settings = {check["json_field"] for check in checks if not check["set"]}
    assert open_settings == set(OPEN_ON_PURPOSE)
    # systemd's overall exposure, in tenths: 2.0 and below is its best band ("OK").
    assert systemd_analyze("security", "--offline=true", "--threshold=20", str(instance)).returncode == 0


def test_the_units_settings_are_the_gates_own_names_and_paths() -> None:
    service = unit_settings()
    text = UNIT.read_text()
    assert service["EnvironmentFile"] == ["/etc/trustcenter/gate.env"]
    assert service["Environment"][0] == f"{STATE_DIR_ENV}=/var/lib/trustcenter"
    assert service["ReadWritePaths"] == ["/var/lib/trustcenter"]  # the state folder, and nothing else
    assert service["StateDirectory"] == ["trustcenter"]
    assert service["User"] == ["trustcenter"] and service["Restart"] == ["on-failure"]
    # The variables the comments tell an operator to set are the ones the gate reads.
    for name in (gate_settings.AUDIT_KEY_ENV, gate_settings.SECRET_ENV, "TRUSTCENTER_DB"):
        assert f"\n#   {name}='" in text, name
    for file in (gate_settings.AUDIT_KEY_FILE, gate_settings.SESSION_SECRET_FILE):
        assert file in text, file
    command = exec_start(8001, "gate.sqlite3", Path("/srv/trustcenter/project"))
    assert command[1:10] == ["gate", "--host", "127.0.0.1", "--port", "8001", "--trusted-proxy", "127.0.0.1",
                             "--no-site", "--db"]


def test_the_units_command_is_one_the_gate_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path)
    add_signing_key(project, tmp_path)
    environment = {STATE_DIR_ENV: str(tmp_path / "state"), gate_settings.AUDIT_KEY_ENV: secret(),
                   gate_settings.SECRET_ENV: secret()}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "state" / "gate.sqlite3"
    gate_settings.open_store(Project.at(project), db, create=True).close()  # what `gate --init` does first
    checked = subprocess.run([*exec_start(8001, str(db), project), "--check"], capture_output=True, text=True,
                             timeout=120, check=False, cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert lines and all(line.startswith(("ok: ", "  ")) for line in lines), checked.stdout
    assert f"session secret: from ${gate_settings.SECRET_ENV}" in checked.stdout
    assert f"the chain verifies with ${gate_settings.AUDIT_KEY_ENV}" in checked.stdout


# ---------------------------------------------------------------- nginx: the configuration


def snippet_body(path: Path) -> str:
    """A snippet without its opening comment (which says where it goes)."""
    header, separator, body = path.read_text().partition("\n\n")
    assert separator and all(line.startswith("#") for line in header.splitlines()), path
    return body


def test_the_snippets_are_the_one_file_examples_own_parts() -> None:
    # deploy/nginx.conf stays one file (tests/publish/test_publishing.py runs it alone); the several-gates
    # configuration includes the same text from deploy/nginx/, so the two never drift apart.
    example = (DEPLOY / "nginx.conf").read_text()
    assert set(SNIPPETS) == {"trustcenter-http.conf", "trustcenter-site.conf", "trustcenter-gate.conf"}
    for name, path in SNIPPETS.items():
        assert snippet_body(path) in example, name
    upstream = UPSTREAM.read_text()
    for name in SNIPPETS:
        assert f"include {SNIPPETS_INSTALLED_AT}{name};" in upstream, name
    assert "map $request_uri" not in upstream  # the redaction map is included, not copied


def upstream_servers(text: str) -> list[str]:
    return re.findall(r"^\s+server (127\.0\.0\.1:\d+) max_fails=(\d+) fail_timeout=\d+s;$", text, re.MULTILINE)


def test_the_upstream_retries_only_requests_no_gate_answered_and_logs_no_token() -> None:
    text = re.sub(r"#.*", "", UPSTREAM.read_text())  # the directives, not what the comments explain
    upstream = re.search(r"^upstream trustcenter_gates \{(.*?)^\}", text, re.MULTILINE | re.DOTALL)
    assert upstream is not None
    assert upstream_servers(upstream.group(1)) == [(f"127.0.0.1:{port}", str(MAX_FAILS))
                                                   for port in (8001, 8002, 8003)]
    assert re.search(r"^\s+keepalive \d+;$", upstream.group(1), re.MULTILINE)
    directives = re.findall(r"^\s*(proxy_next_upstream\w*|proxy_pass|proxy_http_version) ([^;]+);", text,
                            re.MULTILINE)
    # Errors and timeouts only: never non_idempotent (a POST a gate received is not sent again), never a status
    # the gate itself answers with.
    assert ("proxy_next_upstream", "error timeout") in directives
    assert "non_idempotent" not in text and "http_5" not in text
    assert {value for name, value in directives if name == "proxy_pass"} == {"http://trustcenter_gates"}
    assert ("proxy_http_version", "1.1") in directives and 'proxy_set_header Connection "";' in text
    log_format = re.search(r"^log_format trustcenter_gates(.*?);$", text, re.MULTILINE | re.DOTALL)
    assert log_format is not None
    for raw in ("$request ", "$request\"", "$request'", "$request_uri", "$uri", "$args", "$query_string",
                "$http_referer"):
        assert raw not in log_format.group(1), raw
    assert "$trustcenter_logged_uri" in log_format.group(1) and "$upstream_addr" in log_format.group(1)
    for access_log in re.findall(r"^\s+access_log (.*);$", text, re.MULTILINE):
        assert access_log == "off" or access_log.endswith((" trustcenter_redacted", " trustcenter_gates")), access_log
    assert re.search(r"^\s+error_log \S+ crit;$", text, re.MULTILINE)


@dataclasses.dataclass
class NginxFiles:
    """A test's nginx: its folder (configuration, certificate, temporary files), its logs, its https port."""

    prefix: Path
    logs: Path
    https_port: int

    def command(self) -> list[str]:
        assert NGINX.is_file(), "nginx is not installed: run `make system-deps` (Debian's nginx-light)"
        return [str(NGINX), "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e",
                str(self.logs / "error.log")]

    def request(self, method: str, path: str, client: str, form: str | None = None, host: str = GATE_HOST,
                timeout: float = 30) -> Reply:
        """A request over https to `host` (the gate's host name), from loopback address `client` (its log lines
        say it)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=timeout, context=context,
                                                 source_address=(client, 0))
        headers = {"Host": host, "User-Agent": "test-browser/1.0"}
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=form, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()


def write_nginx(folder: Path, gates: list[int] | None = None, *, ports: tuple[int, int] | None = None,
                user: str | None = None, site: Path | None = None) -> NginxFiles:
    """deploy/nginx-upstream.conf and its snippets with this machine's paths, loopback `ports` (http, https; free
    ones by default) and `gates` in place of 8001-8003 (as written when None), inside a main configuration as
    Debian's includes it. Workers run as `user`, by default the test's own (pytest's folders are private)."""
    prefix, logs, temp, snippets = (folder / "nginx", folder / "nginx/logs", folder / "nginx/temp",
                                    folder / "nginx/snippets")
    for made in (logs, temp, snippets):
        made.mkdir(parents=True)
    if site is None:
        site = folder / "site"
        site.mkdir()
        (site / "index.html").write_text("<!doctype html><title>site</title>\n")
    cert, key = _self_signed(prefix)
    http_port, https_port = ports or (free_port(), free_port())
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen 443 ssl http2;": f"    listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/trust.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/trust.example.com/privkey.pem": str(key),
        "/srv/trustcenter/site": str(site),
        "/var/log/nginx/": f"{logs}/",
        SNIPPETS_INSTALLED_AT: f"{snippets}/",
    }

    def rendered(text: str) -> str:
        for old, new in replacements.items():
            text = text.replace(old, new)
        return "\n".join(line for line in text.splitlines() if "listen [::]" not in line) + "\n"

    for name, path in SNIPPETS.items():
        (snippets / name).write_text(rendered(path.read_text()))
    upstream = rendered(UPSTREAM.read_text())
    if gates is not None:
        lines = [line for line in upstream.splitlines(keepends=True) if re.match(r"\s+server 127\.0\.0\.1:800\d ", line)]
        assert len(lines) == 3
        upstream = upstream.replace("".join(lines), "".join(lines[0].replace(":8001 ", f":{port} ") for port in gates))
    (prefix / "trustcenter.conf").write_text(upstream)
    user = user or ("root" if os.geteuid() == 0 else None)
    (prefix / "nginx.conf").write_text(f"""\
{f"user {user};" if user else ""}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {logs}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {logs}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/trustcenter.conf;
}}
""")
    return NginxFiles(prefix, logs, https_port)


def test_nginx_accepts_the_upstream_configuration(tmp_path: Path) -> None:
    files = write_nginx(tmp_path)
    tested = subprocess.run([*files.command(), "-t"], capture_output=True, text=True, timeout=60, check=False)
    assert tested.returncode == 0, tested.stderr
    assert "upstream trustcenter_gates" in (files.prefix / "trustcenter.conf").read_text()


# ---------------------------------------------------------------- the unit's confinement, without systemd


def system_calls(group: str = "@system-service", minus: tuple[str, ...] = ("@privileged", "@resources")) -> set[str]:
    """The unit's SystemCallFilter= as systemd expands it (`systemd-analyze syscall-filter`)."""
    listing = systemd_analyze("syscall-filter")
    assert listing.returncode == 0, listing.stderr
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif not line.strip():
            current = None
        elif current is not None and line.startswith("    ") and not line.strip().startswith("#"):
            current.append(line.strip())

    def expand(name: str) -> set[str]:
        return set().union(*(expand(entry) if entry.startswith("@") else {entry} for entry in groups[name]))

    return expand(group) - set().union(*(expand(name) for name in minus))


def test_the_units_system_call_filter_is_the_one_the_gates_run_under() -> None:
    service = unit_settings()
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert service["SystemCallErrorNumber"] == ["EPERM"]
    assert service["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    allowed = system_calls()
    assert {"read", "openat", "accept4", "execve", "mmap", "socket"} <= allowed
    assert not {"setrlimit", "setuid", "chown", "mount", "reboot"} & allowed


def confinement(state: Path, temp: Path) -> list[str]:
    """The unit's confinement without systemd (tests/confined.py): needs root, for a mount namespace of its own."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is missing"
    return [unshare, "--mount", "--propagation", "private", sys.executable, str(CONFINED),
            "--writable", str(state), "--writable", str(temp), "--allow", ",".join(sorted(system_calls())), "--"]


CAN_CONFINE = os.geteuid() == 0


# ---------------------------------------------------------------- nginx in front of two real gates


@dataclasses.dataclass
class Cluster:
    """nginx with deploy/nginx-upstream.conf in front of gates started with the unit's command, on one database."""

    project: Path
    token: str
    nginx: NginxFiles
    gates: dict[int, subprocess.Popen[bytes]]

    def request(self, method: str, path: str, client: str, form: str | None = None) -> Reply:
        return self.nginx.request(method, path, client, form)

    def answered_by(self, client: str, count: int) -> list[tuple[str, list[str], list[str]]]:
        """(method, upstreams tried, their statuses) of `client`'s requests, once `count` are logged (10 s at most:
        nginx writes a line once the response is sent)."""
        log = self.nginx.logs / "trustcenter-gate.access.log"
        pattern = re.compile(rf'^{re.escape(client)} \[[^]]*\] \S+ "(\w+) .*upstream=(.*) upstream_status=(.*) '
                             r'upstream_time=', re.MULTILINE)
        deadline = time.monotonic() + 10
        while True:
            found = pattern.findall(log.read_text()) if log.exists() else []
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(found) == count, found
        return [(method, tried.split(", "), statuses.split(", ")) for method, tried, statuses in found]

    def address(self, port: int) -> str:
        return f"127.0.0.1:{port}"


@contextlib.contextmanager
def cluster(tmp_path: Path, gates: int = 2, others: tuple[int, ...] = ()) -> Iterator[Cluster]:
    """`gates` gates, started as the unit starts them (confined too, when the test runs as root) on one SQLite file
    and one set of secrets, behind nginx; `others` are more upstream ports, listened on by the test."""
    project = make_project(tmp_path)
    token = add_signing_key(project, tmp_path).token()
    state, temp = tmp_path / "state", tmp_path / "private-tmp"
    temp.mkdir()
    environment = {STATE_DIR_ENV: str(state), gate_settings.AUDIT_KEY_ENV: secret(),
                   gate_settings.SECRET_ENV: secret(), "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(temp)}
    db = state / "gate.sqlite3"
    ports = [free_port() for _ in range(gates)]
    files = write_nginx(tmp_path, [*ports, *others])
    with contextlib.ExitStack() as stack:
        running: dict[int, subprocess.Popen[bytes]] = {}
        for number, port in enumerate(ports):
            # The first instance makes the database (`--init`, as an operator does once); the others open it.
            command = [*exec_start(port, str(db), project), *(["--init"] if number == 0 else [])]
            if number == 0:
                state.mkdir(mode=0o700)
            confined = confinement(state, temp) if CAN_CONFINE else []
            running[port] = stack.enter_context(started([*confined, *command], port, tmp_path / f"gate-{port}.log",
                                                        project, environment))
        stack.enter_context(started(files.command(), files.https_port, files.logs / "error.log", files.prefix))
        yield Cluster(project, token, files, running)


def test_nginx_spreads_requests_over_the_gates(tmp_path: Path) -> None:
    with cluster(tmp_path) as gates:
        for _ in range(6):
            page = gates.request("GET", f"/access/{gates.token}", "127.0.0.2")
            assert page.status == 200, page.text
            assert "non-disclosure" in page.text.lower()
        answers = gates.answered_by("127.0.0.2", 6)
        assert {tried[-1] for _, tried, _ in answers} == {gates.address(port) for port in gates.gates}
        assert all(statuses == ["200"] for _, _, statuses in answers)
        assert gates.request("GET", "/healthz", "127.0.0.2").text == "ok"


def test_nginx_routes_requests_around_a_gate_that_was_killed(tmp_path: Path) -> None:
    with cluster(tmp_path) as gates:
        killed, survivor = list(gates.gates)
        gates.gates[killed].send_signal(signal.SIGKILL)  # a crash: no goodbye to anyone
        gates.gates[killed].wait(timeout=10)
        for _ in range(8):
            page = gates.request("GET", f"/access/{gates.token}", "127.0.0.3")
            assert page.status == 200, page.text
        answers = gates.answered_by("127.0.0.3", 8)
        assert all(tried[-1] == gates.address(survivor) and statuses[-1] == "200" for _, tried, statuses in answers)
        # The dead gate is tried until it failed max_fails times, then left alone for fail_timeout.
        tried_dead = [tried for _, tried, _ in answers if gates.address(killed) in tried]
        assert 1 <= len(tried_dead) <= MAX_FAILS, answers
        assert all(tried == [gates.address(killed), gates.address(survivor)] for tried in tried_dead)
        assert gates.request("GET", "/healthz", "127.0.0.3").text == "ok"


class Dropper:
    """An upstream that reads each request whole and closes the connection without answering: a gate that
    received a request, may have acted on it, and died before it replied."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.received: list[str] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                while length and len(body) < int(length.group(1)) and (chunk := connection.recv(65536)):
                    body += chunk
                if head:
                    self.received.append(head.split(b" ", 1)[0].decode())

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=10)


def test_nginx_never_sends_a_post_again_once_a_gate_received_it(tmp_path: Path) -> None:
    dropper = Dropper()
    try:
        with cluster(tmp_path, gates=1, others=(dropper.port,)) as gates:
            [gate] = gates.gates
            sent: list[Reply] = []
            while "POST" not in dropper.received and len(sent) < 6:  # nginx takes the upstreams in turn
                sent.append(gates.request("POST", f"/access/{gates.token}", "127.0.0.4",
                                          form="step=accept&name=Alice&company=Customer&accept=yes"))
            answers = gates.answered_by("127.0.0.4", len(sent))
            assert dropper.received.count("POST") == 1
            for reply, (_, tried, statuses) in zip(sent, answers, strict=True):
                if gates.address(dropper.port) in tried:
                    # Received, never answered: the visitor is told, and no other gate gets it a second time.
                    assert tried == [gates.address(dropper.port)] and reply.status == 502, (tried, statuses)
                else:
                    assert tried == [gates.address(gate)] and reply.status != 502, (tried, statuses)
            # A GET that met the same fate is sent on to the other gate and answered.
            got: list[Reply] = []
            while "GET" not in dropper.received and len(got) < 6:
                got.append(gates.request("GET", f"/access/{gates.token}", "127.0.0.5"))
            assert all(reply.status == 200 for reply in got)
            assert [gates.address(dropper.port), gates.address(gate)] in [
                tried for _, tried, _ in gates.answered_by("127.0.0.5", len(got))]
    finally:
        dropper.close()


def test_a_gate_accepts_an_nda_that_another_gate_showed_and_a_third_request_downloads(tmp_path: Path) -> None:
    # Instances share the database and the session secret: which one answers a step does not matter.
    with cluster(tmp_path) as gates:
        first, second = list(gates.gates)
        browser = Browser("127.0.0.1", first)
        page = browser.get(f"/access/{gates.token}")
        assert page.status == 200
        on_second = Browser("127.0.0.1", second)
        on_second.cookies = dict(browser.cookies)
        accepted = on_second.post(f"/access/{gates.token}", {"csrf": browser.csrf_from(page), "step": "accept",
                                                             "name": "Alice Example", "company": "Customer Inc",
                                                             "accept": "yes"})
        assert accepted.status == 303, accepted.text
        browser.cookies = dict(on_second.cookies)
        download = browser.get(f"/access/{gates.token}/download")
        assert download.status == 200, download.text
        assert download.header("Content-Type") == "application/pdf" and download.body.startswith(b"%PDF-")


def test_the_gates_ran_confined_as_the_unit_confines_them(tmp_path: Path) -> None:
    if not CAN_CONFINE:
        if IN_CI:
            pytest.fail("CI runs as root, which the confinement needs (a mount namespace)")
        pytest.skip("the unit's confinement needs root (a mount namespace); CI runs it")
    with cluster(tmp_path, gates=1) as gates:
        [(port, process)] = gates.gates.items()
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{process.pid}/status").read_text().splitlines())
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"  # filter mode
        mounts = Path(f"/proc/{process.pid}/mountinfo").read_text().splitlines()
        root = next(line.split() for line in mounts if line.split()[4] == "/")
        assert root[5].split(",")[0] == "ro"
        # Under it, the whole of a recipient's visit: the NDA page, the acceptance, the watermarked PDF.
        browser = Browser("127.0.0.1", port)
        assert browser.accept(gates.token).status == 303
        download = browser.get(f"/access/{gates.token}/download")
        assert download.status == 200 and download.body.startswith(b"%PDF-"), download.text
        assert gates.request("GET", "/healthz", "127.0.0.6").text == "ok"  # it writes to its database
    log = (tmp_path / f"gate-{port}.log").read_text()
    assert "Traceback" not in log and "Operation not permitted" not in log, log


# ---------------------------------------------------------------- the container image and compose


def instructions(text: str) -> list[tuple[str, str]]:
    """The Containerfile's instructions (keyword, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(arguments.split())))
    return found


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, arguments in instructions(CONTAINERFILE.read_text()):
        if keyword == "FROM":
            current = found.setdefault(arguments.split(" AS ")[-1], [])
        current.append((keyword, arguments))
    return found


def test_the_image_installs_the_lock_with_hashes_and_runs_the_gate_as_a_user_of_its_own() -> None:
    built = stages()
    assert list(built) == ["build", "proxy", "gate"]  # the gate last: what `docker build` makes by default
    runs = " ".join(arguments for keyword, arguments in built["build"] if keyword == "RUN")
    assert "pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock" in runs
    assert "pip install --no-deps --no-build-isolation ." in runs
    gate = dict(built["gate"])
    assert gate["USER"] == "10001:10001"
    assert ("COPY", "--from=build /opt/trustcenter /opt/trustcenter") in built["gate"]
    assert gate["EXPOSE"] == "8000" and gate["VOLUME"] == '["/var/lib/trustcenter"]'
    assert f"{STATE_DIR_ENV}=/var/lib/trustcenter" in gate["ENV"]
    assert "http://127.0.0.1:8000/healthz" in gate["HEALTHCHECK"]
    # Everything copied into the image is in the repository and let through by the ignore file.
    allowed = [line[1:].rstrip("/") for line in (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
               if line.startswith("!")]
    for keyword, arguments in instructions(CONTAINERFILE.read_text()):
        if keyword == "COPY" and "--from=" not in arguments:
            for source in arguments.split()[:-1]:
                if not source.startswith("--"):
                    assert (REPO / source).exists() and source.rstrip("/") in allowed, source


def health_check_command(text: str, port: int) -> list[str]:
    found = re.search(r"\[\"python\", \"-c\", \"(.*?)\"\]", text)
    assert found is not None
    return [sys.executable, "-c", found.group(1).replace("127.0.0.1:8000", f"127.0.0.1:{port}")]


def test_the_images_health_check_passes_on_a_running_gate_and_fails_without_one(tmp_path: Path) -> None:
    gate = dict(stages()["gate"])
    command = ["trustcenter", *json.loads(gate["CMD"])[1:]]
    assert command[:2] == ["trustcenter", "gate"] and "--no-site" in command
    project = make_project(tmp_path)
    add_signing_key(project, tmp_path)
    port = free_port()
    # The image's own command, on a free port of this machine and on the test's project.
    command = [str(TRUSTCENTER), *command[1:]]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--project") + 1] = str(project)
    environment = {STATE_DIR_ENV: str(tmp_path / "state"), gate_settings.AUDIT_KEY_ENV: secret(),
                   gate_settings.SECRET_ENV: secret()}
    with started([*command, "--init"], port, tmp_path / "gate.log", project, environment):
        healthy = subprocess.run(health_check_command(gate["HEALTHCHECK"], port), capture_output=True, timeout=30,
                                 check=False)
        assert healthy.returncode == 0, healthy.stderr
    stopped = subprocess.run(health_check_command(gate["HEALTHCHECK"], port), capture_output=True, timeout=30,
                             check=False)
    assert stopped.returncode != 0


def test_the_entrypoint_turns_secret_files_into_the_gates_variables(tmp_path: Path) -> None:
    key, password = tmp_path / "audit_key", tmp_path / "postgres_password"
    key.write_text("a-key-of-more-than-thirty-two-bytes-0123456789\n")
    password.write_text("pg secret\n")
    names = (gate_settings.AUDIT_KEY_ENV, "PGPASSWORD")
    base = {name: value for name, value in os.environ.items() if name not in names}

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(ENTRYPOINT), sys.executable, "-c",
                               "import json, os; print(json.dumps(dict(os.environ)))"],
                              capture_output=True, text=True, timeout=30, check=False, env={**base, **env})

    done = run(TRUSTCENTER_AUDIT_KEY_FILE=str(key), PGPASSWORD_FILE=str(password))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen[gate_settings.AUDIT_KEY_ENV] == "a-key-of-more-than-thirty-two-bytes-0123456789"
    assert seen["PGPASSWORD"] == "pg secret"
    assert "TRUSTCENTER_AUDIT_KEY_FILE" not in seen and "PGPASSWORD_FILE" not in seen
    # Two sources for one secret, or a file it cannot read: it stops, and runs nothing.
    for env in ({"TRUSTCENTER_AUDIT_KEY_FILE": str(key), gate_settings.AUDIT_KEY_ENV: "x" * 40},
                {"PGPASSWORD_FILE": str(tmp_path / "missing")}):
        refused = run(**env)
        assert refused.returncode != 0 and refused.stdout == "", env
        assert next(iter(env)) in refused.stderr


def test_compose_follows_the_compose_specification_and_confines_every_service() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text())).validate(compose)
    services = compose["services"]
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert "no-new-privileges:true" in service["security_opt"], name
    assert re.fullmatch(r"postgres:\d+\.\d+-bookworm", services["postgres"]["image"])
    gates = {name: service for name, service in services.items() if name.startswith("gate-")}
    assert len(gates) >= 2
    ports = []
    for name, gate in gates.items():
        command = gate["command"]
        port = command[command.index("--port") + 1]
        ports.append(f"127.0.0.1:{port}")
        assert command[:2] == ["trustcenter", "gate"] and "--no-site" in command, name
        assert command[command.index("--trusted-proxy") + 1] == "127.0.0.1", name
        assert gate["network_mode"] == "service:proxy", name  # so 127.0.0.1 is nginx, as in the upstream file
        assert f"http://127.0.0.1:{port}/healthz" in " ".join(gate["healthcheck"]["test"]), name
        assert gate["environment"]["TRUSTCENTER_DB"].startswith("postgresql://"), name
        for variable, secret_name in ((f"{gate_settings.AUDIT_KEY_ENV}_FILE", "audit_key"),
                                      (f"{gate_settings.SECRET_ENV}_FILE", "gate_secret"),
                                      ("PGPASSWORD_FILE", "postgres_password")):
            assert gate["environment"][variable] == f"/run/secrets/{secret_name}", name
            assert secret_name in gate["secrets"] and "file" in compose["secrets"][secret_name], name
        assert gate["cap_drop"] == ["ALL"] and "user" not in gate, name  # the image's own user, 10001
    assert ports == [address for address, _ in upstream_servers(UPSTREAM.read_text())]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in services["proxy"]["volumes"]}
    assert mounted["/etc/nginx/conf.d/trustcenter.conf"] == "./nginx-upstream.conf"
    for name in SNIPPETS:
        assert mounted[f"{SNIPPETS_INSTALLED_AT}{name}"] == f"./nginx/{name}", name
        assert (COMPOSE.parent / mounted[f"{SNIPPETS_INSTALLED_AT}{name}"]).is_file()


def privileged_ports(count: int) -> tuple[int, ...]:
    """Free loopback ports below 1024, which only a process with CAP_NET_BIND_SERVICE may listen on."""
    found = []
    for port in range(990, 600, -1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                found.append(port)
        if len(found) == count:
            return tuple(found)
    raise AssertionError("no free port below 1024")


def children(parent: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            if int(fields["PPid"]) == parent:
                found.append(int(status.parent.name))
    return found


def owner(pid: int) -> str:
    import pwd

    return pwd.getpwuid(Path(f"/proc/{pid}").stat().st_uid).pw_name


def serves(command: list[str], files: NginxFiles, https_port: int) -> bool:
    """Whether nginx started with `command` answers the site's host name: it may stop at once (it cannot listen or
    make its folders) or keep listening without a worker (workers that cannot switch user exit)."""
    with (files.logs / "error.log").open("wb") as output:
        process = subprocess.Popen(command, cwd=files.prefix, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", https_port)) == 0:
                    break
            time.sleep(0.05)
        if process.poll() is not None:
            return False
        try:
            reply = files.request("GET", "/", "127.0.0.1", host=SITE_HOST, timeout=3)
        except (OSError, http.client.HTTPException):
            return False
        return reply.status == 200
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_the_proxy_container_needs_exactly_the_capabilities_compose_gives_it(tmp_path: Path) -> None:
    # Debian's nginx (the proxy image's) as compose runs it: root without any capability but cap_add's,
    # workers as www-data, temporary folders made afresh (a tmpfs). Each capability is needed: without it nginx
    # does not start.
    if not CAN_CONFINE:
        if IN_CI:
            pytest.fail("CI runs as root, which limiting the capabilities needs")
        pytest.skip("limiting nginx's capabilities needs root; CI runs it")
    proxy = yaml.safe_load(COMPOSE.read_text())["services"]["proxy"]
    assert proxy["cap_drop"] == ["ALL"]
    capabilities = [name.lower() for name in proxy["cap_add"]]
    site = Path(tempfile.mkdtemp(prefix="trustcenter-proxy-site-"))  # readable by www-data, unlike tmp_path
    try:
        site.chmod(0o755)
        (site / "index.html").write_text("<!doctype html><title>site</title>\n")
        (site / "index.html").chmod(0o644)
        for missing in (None, *capabilities):
            folder = tmp_path / (missing or "all")
            http_port, https_port = privileged_ports(2)
            files = write_nginx(folder, [free_port()], ports=(http_port, https_port), user="www-data", site=site)
            limited = ["setpriv", "--bounding-set", "-all," + ",".join(f"+{name}" for name in capabilities
                                                                       if name != missing),
                       "--inh-caps=-all", "--no-new-privs", *files.command()]
            if missing is not None:
                assert not serves(limited, files, https_port), f"nginx served without {missing}"
                continue
            with started(limited, https_port, files.logs / "error.log", files.prefix) as nginx:
                assert [owner(pid) for pid in children(nginx.pid)] == ["www-data"]
                assert files.request("GET", "/", "127.0.0.1", host=SITE_HOST).status == 200
                assert files.request("GET", "/healthz", "127.0.0.1").status == 502  # proxied: no gate runs here
    finally:
        shutil.rmtree(site)
