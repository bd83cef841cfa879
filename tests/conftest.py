"""Shared fixtures: a small, valid project on tmp_path (independent of the demo content in trust/)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest

GATED_ID = "soc2-report"
OTHER_GATED_ID = "pentest-summary"
PUBLIC_ID = "overview"
GATE_URL = "https://trust.example.test"
TRUST_CENTER_URL = "https://trust.example.test"
SALES = "sales@example.test"
NDA_TEXT = textwrap.dedent("""\
    # Mutual non-disclosure agreement

    The **recipient** keeps the report confidential and uses it only to evaluate Example Co.

    <script>alert("raw HTML is shown as text")</script>
    """)


def write_pdf(path: Path, pages: int = 3, label: str = "Example Co SOC 2 Type II report") -> Path:
    """A real PDF drawn with reportlab: one line of text per page."""
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    path.parent.mkdir(parents=True, exist_ok=True)
    drawing = canvas.Canvas(str(path), pagesize=A4)
    for number in range(1, pages + 1):
        drawing.setFont("Helvetica", 12)
        drawing.drawString(72, 760, f"{label}, page {number} of {pages}")
        drawing.showPage()
    drawing.save()
    return path


def make_project(tmp_path: Path, *, link_max_days: int = 30) -> Path:
    """A minimal valid project (trust/ only; no site) under tmp_path/project: two gated PDFs, one public."""
    root = tmp_path / "project"
    trust = root / "trust"
    today = dt.date.today()
    period_start, period_end, reported = (today - dt.timedelta(days=days) for days in (300, 60, 30))
    files = {
        "company.yaml": f"""\
            name: Example Co
            website: https://example.test
            contacts:
              security: security@example.test
              sales: {SALES}
            trust_center_url: {TRUST_CENTER_URL}
            gate_url: {GATE_URL}
            security_txt:
              expires: {today + dt.timedelta(days=180)}
            link_max_days: {link_max_days}
            """,
        "certifications.yaml": f"""\
            certifications:
              - id: soc2
                framework: SOC 2
                type: Type II
                criteria: [security]
                audit_period: {{start: {period_start}, end: {period_end}}}
                report_date: {reported}
                auditor: Example Audit LLP
                documents: [soc2-report]
            """,
        "subprocessors.yaml": """\
            subprocessors:
              - name: Example Cloud
                purpose: Hosting
                data_categories: [customer data]
                locations: [US]
                website: https://cloud.example.test
                added: 2024-01-01
            """,
        "controls.yaml": """\
            categories:
              - id: access
                name: Access control
                controls:
                  - id: AC-1
                    name: Single sign-on
                    description: Staff sign in with SSO and hardware keys.
                    status: implemented
                    criteria: [CC6.1]
            """,
        "documents.yaml": f"""\
            documents:
              - id: {GATED_ID}
                title: SOC 2 Type II report
                access: gated
                file: private/soc2.pdf
                updated: {today - dt.timedelta(days=30)}
              - id: {OTHER_GATED_ID}
                title: Penetration test summary
                access: gated
                file: private/pentest.pdf
                updated: {today - dt.timedelta(days=30)}
              - id: {PUBLIC_ID}
                title: Security overview
                access: public
                file: documents/overview.pdf
                updated: {today - dt.timedelta(days=30)}
            """,
    }
    trust.mkdir(parents=True)
    for name, text in files.items():
        (trust / name).write_text(textwrap.dedent(text), encoding="utf-8")
    (trust / "nda.md").write_text(NDA_TEXT, encoding="utf-8")
    write_pdf(trust / "private" / "soc2.pdf")
    write_pdf(trust / "private" / "pentest.pdf", pages=2, label="Example Co penetration test summary")
    write_pdf(trust / "documents" / "overview.pdf", pages=1, label="Example Co security overview")
    return root


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The gate's state folder (database, secrets, the demo key) for this test alone, never ~/.local/state."""
    folder = tmp_path / "gate-state"
    monkeypatch.setenv("TRUSTCENTER_STATE_DIR", str(folder))
    # Keys and secrets set in the developer's shell must not sign (or break) what the tests build and mint.
    for variable in ("TRUSTCENTER_AUDIT_KEY", "TRUSTCENTER_GATE_SECRET", "TRUSTCENTER_SIGNING_KEY",
                     "TRUSTCENTER_DATA_SIGNING_KEY"):
        monkeypatch.delenv(variable, raising=False)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def signer(project: Path, tmp_path: Path) -> Any:
    """A signing key listed in the project's trust/keys/, and a way to mint tokens with it."""
    from loopback import add_signing_key  # the gate's test harness; imported only by tests that sign

    return add_signing_key(project, tmp_path)


@pytest.fixture
def smtp_server() -> Any:
    """A plain SMTP server on loopback that keeps what it receives (tests/smtp.py: SmtpServer)."""
    from smtp import SmtpServer

    with SmtpServer() as server:
        yield server


# ---------------------------------------------------------------- the gate's two stores
# Every test of the gate's suites (tests/gate/, the access CLI, notify) runs on SQLite and on PostgreSQL: the
# `gate_store` fixture is parametrised, and on PostgreSQL it points TRUSTCENTER_DB (which the CLI and
# `support.gate_database` read) at a new database of a throwaway server (tests/pgserver.py). A test about SQLite's
# file itself (its mode, a copy of its bytes, a replaced file) is marked `sqlite_only` and runs once.

STORES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "gate_store" in metafunc.fixturenames:
        kinds = STORES[:1] if metafunc.definition.get_closest_marker("sqlite_only") else STORES
        metafunc.parametrize("gate_store", kinds, indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """One PostgreSQL server per test process. Missing binaries fail the run in CI, skip elsewhere."""
    import os

    import pgserver

    if pgserver.binaries() is None:
        message = "PostgreSQL's server (initdb, pg_ctl) is not installed: `make test` installs Debian's postgresql"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with pgserver.running() as server:
        yield server


@pytest.fixture
def gate_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store this test's gate uses: "sqlite" (a file under tmp_path) or "postgresql" (a new database)."""
    kind = str(request.param)
    if kind == "postgresql":
        monkeypatch.setenv("TRUSTCENTER_DB", request.getfixturevalue("postgres_server").database())
    else:
        monkeypatch.delenv("TRUSTCENTER_DB", raising=False)
    return kind
