"""Every page flawless on two content sets (the demo, and 500 subprocessors with 300 controls): valid HTML,
no axe-core violation in light and dark, Lighthouse accessibility, best practices and SEO 100, links and
anchors that resolve, no request to another host, and machine-readable files that their readers accept."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import quality
from conftest import make_project
from loopback import add_signing_key, running_gate, settings
from support import CHROMIUM, CHROMIUM_ARGS, REPO, chromium, copy_demo, run_cli
from test_site import check_internal_links

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONTENT_SETS = ["demo", "large"]
LIGHTHOUSE_PAGES = {"overview": "", "subprocessors": "subprocessors/", "controls": "controls/"}
SCHEMES = ["light", "dark"]
RESULTS = REPO / "bench/results/lighthouse.md"


def _scale() -> Any:
    spec = importlib.util.spec_from_file_location("scale", REPO / "bench/scale.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Built:
    name: str
    project: Path
    url: str

    @property
    def site(self) -> Path:
        return self.project / "site"

    def page_paths(self) -> list[str]:
        """Every page of the site as a URL path ('' for the home page, 'faq/' for faq/index.html)."""
        paths = []
        for file in sorted(self.site.rglob("*.html")):
            relative = file.relative_to(self.site).as_posix()
            paths.append(relative.removesuffix("index.html"))
        return paths


@pytest.fixture(scope="session")
def tools() -> None:
    quality.require_tools()


@pytest.fixture(scope="session", params=CONTENT_SETS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The content set, built once per session by the real CLI and served on loopback."""
    root = tmp_path_factory.mktemp(f"quality-{request.param}") / "project"
    if request.param == "demo":
        copy_demo(root)
    else:
        _scale().sized_project(root, subprocessors=500, controls=300)
    result = run_cli("build", cwd=root, timeout=300)
    assert result.returncode == 0, result.stderr
    server, url = quality.serve_compressed(root / "site")
    yield Built(request.param, root, url)
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@dataclasses.dataclass
class Visit:
    path: str
    scheme: str
    violations: list[str]
    foreign: list[str]


@pytest.fixture(scope="module")
def visits(built: Built, browser: Any, tools: None) -> list[Visit]:
    """Every page of the content set opened in Chromium, light and dark: axe-core's findings and the requests."""
    host = urlparse(built.url).netloc
    found = []
    foreign: list[str] = []
    for scheme in SCHEMES:
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.on("request", lambda request: foreign.append(request.url)
                if urlparse(request.url).netloc not in (host, "") and not request.url.startswith("data:") else None)
        for path in built.page_paths():
            foreign.clear()
            page.goto(built.url + path, wait_until="networkidle")
            found.append(Visit(path, scheme, quality.axe_violations(page), list(foreign)))
        context.close()
    return found


# ---------------------------------------------------------------- HTML validity


def test_every_page_is_valid_html(built: Built, tools: None) -> None:
    errors = quality.vnu_errors(built.site)
    assert errors == [], "\n".join(errors)


@dataclasses.dataclass
class GatePages:
    folder: Path
    url: str
    paths: dict[str, str]  # name -> path on the gate, e.g. "nda" -> "/access/<token>"


@pytest.fixture(scope="session")
def gate_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatePages]:
    """A real gate on loopback; its NDA, offer, denial (403, 410 expired and withdrawn) and 404 pages as files."""
    tmp_path = tmp_path_factory.mktemp("quality-gate")
    project = make_project(tmp_path)
    signer = add_signing_key(project, tmp_path)
    folder = tmp_path / "pages"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with running_gate(settings(project, tmp_path)) as gate:
        accepted, revoked = signer.link(), signer.link()
        gate.app.extensions["trustcenter.gate"].log.revoke(revoked.link_id, "sent to the wrong person")
        paths = {
            "nda": f"/access/{signer.token()}",
            "offer": f"/access/{signer.token(accepted)}",
            "denied-403": "/access/not-a-token",
            "expired-410": f"/access/{signer.token(issued_at=now - dt.timedelta(days=2), expires_at=now - dt.timedelta(minutes=5))}",
            "withdrawn-410": f"/access/{signer.token(revoked)}",
            "not-found-404": "/no-such-page/",
        }
        client = gate.browser()
        assert client.accept(signer.token(accepted)).status == 303
        expected = {"nda": 200, "offer": 200, "denied-403": 403, "expired-410": 410, "withdrawn-410": 410,
                    "not-found-404": 404}
        for name, path in paths.items():
            reply = client.get(path)
            assert reply.status == expected[name], (name, reply.status)
            (folder / f"{name}.html").write_bytes(reply.body)
        yield GatePages(folder, gate.base_url, paths)


def test_every_gate_page_is_valid_html(gate_pages: GatePages, tools: None) -> None:
    errors = quality.vnu_errors(gate_pages.folder)
    assert errors == [], "\n".join(errors)


# ---------------------------------------------------------------- accessibility


def test_no_page_has_an_axe_violation_in_light_or_dark(visits: list[Visit]) -> None:
    failures = [f"{visit.path or '/'} ({visit.scheme}): {violation}" for visit in visits for violation in visit.violations]
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_gate_page_has_an_axe_violation(gate_pages: GatePages, browser: Any, tools: None, scheme: str) -> None:
    # The gate's CSP forbids inline scripts, axe-core's injection included: bypassed for the check only.
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    failures = []
    for name in ("nda", "denied-403", "expired-410", "withdrawn-410", "not-found-404"):
        page.goto(gate_pages.url + gate_pages.paths[name], wait_until="networkidle")
        failures += [f"{name}: {violation}" for violation in quality.axe_violations(page)]
    context.close()
    assert failures == [], "\n".join(failures)


# ---------------------------------------------------------------- Lighthouse


@pytest.fixture(scope="session")
def lighthouse_table() -> Iterator[dict[tuple[str, str, str], dict[str, Any]]]:
    """Scores gathered by the Lighthouse tests, written to bench/results/lighthouse.md at the end of the session."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    yield rows
    if rows:
        write_lighthouse_results(rows)


@pytest.fixture(scope="session")
def bare_material(tmp_path_factory: pytest.TempPathFactory, tools: None) -> dict[str, Any]:
    """The home page of a one-page plain Material site with the same theme settings, through Lighthouse (mobile)."""
    import subprocess
    import sys

    project = quality.bare_material_project(tmp_path_factory.mktemp("bare-material"), REPO / "mkdocs.yml")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet"], cwd=project, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    server, url = quality.serve_compressed(project / "site")
    try:
        return quality.lighthouse(url, desktop=False, report=project / "lighthouse.json", chromium=CHROMIUM,
                                  chromium_args=CHROMIUM_ARGS)
    finally:
        server.shutdown()


@pytest.mark.parametrize("form_factor", ["desktop", "mobile"])
def test_lighthouse_accessibility_best_practices_and_seo_are_100(
        built: Built, tools: None, form_factor: str, lighthouse_table: dict[tuple[str, str, str], dict[str, Any]],
        tmp_path: Path) -> None:
    failures = []
    for page_name, path in LIGHTHOUSE_PAGES.items():
        report = quality.lighthouse(built.url + path, desktop=form_factor == "desktop",
                                    report=tmp_path / f"{page_name}.json", chromium=CHROMIUM,
                                    chromium_args=CHROMIUM_ARGS)
        lighthouse_table[(built.name, page_name, form_factor)] = {**quality.scores(report),
                                                                  "bytes": quality.total_bytes(report)}
        for category in ("accessibility", "best-practices", "seo"):
            failures += [f"{page_name} {category}: {audit}" for audit in quality.failed_audits(report, category)]
    assert failures == [], "\n".join(failures)


def test_home_page_weight_is_recorded_against_bare_material(
        bare_material: dict[str, Any], lighthouse_table: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    lighthouse_table[("bare Material", "overview", "mobile")] = {**quality.scores(bare_material),
                                                                 "bytes": quality.total_bytes(bare_material)}
    assert quality.total_bytes(bare_material) > 0


def write_lighthouse_results(rows: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    lines = [
        "# Lighthouse",
        "",
        f"Written by `tests/test_quality.py` on {dt.date.today().isoformat()} (Lighthouse "
        f"{json.loads((quality.NODE_MODULES / 'lighthouse/package.json').read_text())['version']}, "
        "Debian Chromium, headless, served from a loopback HTTP server). Accessibility, best practices and SEO "
        "are asserted to be 100; performance is recorded only. The server gzips text as static hosts do. \"bare Material\" is a one-page site on plain "
        "Material for MkDocs with the same theme settings, for page weight (bytes transferred for the page "
        "and everything it loads).",
        "",
        "| content set | page | form factor | performance | accessibility | best practices | SEO | bytes |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (content_set, page, form_factor), row in sorted(rows.items(), key=lambda item: item[0]):
        lines.append(f"| {content_set} | {page} | {form_factor} | {row['performance']} | {row['accessibility']} | "
                     f"{row['best-practices']} | {row['seo']} | {row['bytes']:,} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- links and requests


def test_every_internal_link_and_anchor_resolves(built: Built) -> None:
    assert check_internal_links(built.site) > 500


def test_no_page_requests_another_host(visits: list[Visit]) -> None:
    failures = [f"{visit.path or '/'}: {url}" for visit in visits for url in visit.foreign]
    assert failures == [], "\n".join(failures)
    assert len(visits) >= 2 * 10


# ---------------------------------------------------------------- machine-readable files


def test_security_txt_validates(built: Built) -> None:
    from sectxt import SecurityTXT

    # Parsed from the built file (is_local): the checker would otherwise fetch it over https.
    checked = SecurityTXT(str(built.site / ".well-known/security.txt"), is_local=True)
    assert checked.is_valid(), checked.errors
    assert checked.errors == []


def test_atom_feed_parses_with_entries(built: Built) -> None:
    import feedparser

    feed = feedparser.parse((built.site / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.entries and all(entry.get("title") and entry.get("link") for entry in feed.entries)


def test_trust_json_validates_against_its_published_schema(built: Built) -> None:
    import jsonschema

    schema = json.loads((built.site / "schemas/trust.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads((built.site / "trust.json").read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
              .iter_errors(document)]
    assert errors == [], "\n".join(errors[:20])
