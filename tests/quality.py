"""The page checkers of tests/test_quality.py: Nu HTML Checker, axe-core and Lighthouse, installed by `npm ci`."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar/build/dist/vnu.jar"
AXE_JS = NODE_MODULES / "axe-core/axe.min.js"
LIGHTHOUSE = NODE_MODULES / ".bin/lighthouse"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def require_tools() -> None:
    """The checkers are part of the suite: a missing one fails, never skips (`make test` installs them)."""
    for tool in (VNU_JAR, AXE_JS, LIGHTHOUSE, LIGHTHOUSE_RUNNER):
        assert tool.exists(), f"{tool.relative_to(REPO)} is missing: run `make test` (it runs `npm ci`)"
    assert shutil.which("java"), "java is missing: the Nu HTML Checker needs a Java runtime (Debian: default-jre-headless)"
    assert shutil.which("node"), "node is missing: Lighthouse needs Node.js 18 or later"


def vnu_errors(*folders: Path) -> list[str]:
    """Every error the Nu HTML Checker reports for the HTML files under the folders, one run for all."""
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--skip-non-html", *map(str, folders)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    messages = json.loads(result.stderr or result.stdout)["messages"]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return [
        f"{message.get('url', '?').removeprefix('file:')}:{message.get('lastLine', '?')}: {message['message']}"
        f" [{message.get('extract', '').strip()[:120]}]"
        for message in messages if message.get("type") in ("error", "non-document-error")
    ]


def axe_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.x A/AA and best-practice violations on a loaded Playwright page."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: a <script> tag would
    # need the CSP switched off, and the pages are checked with the policy they ship.
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(node["target"]) + " " + node.get("failureSummary", "").replace("\n", " ")[:200]
                    for node in violation["nodes"][:3])
        for violation in result["violations"]
    ]


LIGHTHOUSE_RUNNER = REPO / "tests/site/lighthouse_runs.mjs"


@dataclasses.dataclass(frozen=True)
class LighthouseRun:
    """One Lighthouse run: its page, form factor, categories and where its JSON report goes."""

    url: str
    desktop: bool
    report: Path
    categories: tuple[str, ...] = LIGHTHOUSE_CATEGORIES


def lighthouse_runs(runs: list[LighthouseRun], *, chromium: str, chromium_args: list[str]) -> list[dict[str, Any]]:
    """The runs, in their order, by one Node process driving one Chromium (tests/site/lighthouse_runs.mjs); the
    reports, in the same order. Lighthouse clears the origin's cache and storage before each run."""
    jobs = runs[0].report.parent / "lighthouse-jobs.json"
    jobs.write_text(json.dumps({
        "chromium": chromium, "flags": ["--headless=new", *chromium_args],
        "runs": [{"url": run.url, "desktop": run.desktop, "categories": list(run.categories),
                  "report": str(run.report)} for run in runs],
    }), encoding="utf-8")
    result = subprocess.run(["node", str(LIGHTHOUSE_RUNNER), str(jobs)], capture_output=True, text=True,
                            timeout=120 * len(runs) + 60, check=False)
    assert result.returncode == 0, f"lighthouse failed: {result.stderr[-3000:]}"
    reports = []
    for run in runs:
        data: dict[str, Any] = json.loads(run.report.read_text(encoding="utf-8"))
        assert not data.get("runtimeError"), (run.url, data.get("runtimeError"))
        reports.append(data)
    return reports


def median_run(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Of an odd number of runs of one page, the one whose performance score is the median."""
    ranked = sorted(reports, key=lambda report: report["categories"]["performance"]["score"] or 0)
    return ranked[len(ranked) // 2]


def timings(report: dict[str, Any]) -> str:
    """The metrics behind a performance score, for a failure message and the results table."""
    audits = report["audits"]
    shown = [f"{name} {audits[audit]['numericValue']:,.0f} ms" for name, audit in (
        ("FCP", "first-contentful-paint"), ("LCP", "largest-contentful-paint"), ("TBT", "total-blocking-time"),
        ("SI", "speed-index"))]
    return ", ".join([*shown, f"CLS {audits['cumulative-layout-shift']['numericValue']:.3f}"])


def scores(report: dict[str, Any]) -> dict[str, int]:
    return {name: round(100 * (category["score"] or 0)) for name, category in report["categories"].items()}


def failed_audits(report: dict[str, Any], category: str) -> list[str]:
    """The audits that cost points in a category, with the elements they name (for a useful failure)."""
    failed = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
            items = (audit.get("details") or {}).get("items") or []
            where = "; ".join(str((item.get("node") or {}).get("snippet", item.get("url", "")))[:120] for item in items[:3])
            failed.append(f"{ref['id']}: {audit['title']} {where}")
    return failed


def total_bytes(report: dict[str, Any]) -> int:
    return int(report["audits"]["total-byte-weight"]["numericValue"])


def bare_material_project(dest: Path, mkdocs_yml: Path) -> Path:
    """A one-page MkDocs project on plain Material with the site's theme settings: the weight to compare with."""
    import yaml

    config = yaml.safe_load(mkdocs_yml.read_text(encoding="utf-8"))
    theme = {key: value for key, value in config["theme"].items() if key != "custom_dir"}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "docs").mkdir(exist_ok=True)
    (dest / "docs/index.md").write_text("# Trust Center\n\nA bare Material for MkDocs page.\n", encoding="utf-8")
    (dest / "mkdocs.yml").write_text(yaml.safe_dump({
        "site_name": "Bare Material", "docs_dir": "docs", "site_dir": "site", "theme": theme, "plugins": ["search"],
        "markdown_extensions": config.get("markdown_extensions", []),
    }, sort_keys=False), encoding="utf-8")
    return dest


def serve_compressed(directory: Path):  # type: ignore[no-untyped-def]
    """Like support.serve_directory, but text is sent gzip-compressed, as any real static host sends it:
    Lighthouse's performance and page weight are then measured on what a visitor downloads."""
    import functools
    import http.server
    import threading

    handler = functools.partial(_GzipHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")


class _GzipHandler(__import__("http.server").server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        import gzip

        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        content_type = self.guess_type(str(path))
        if (not path.is_file() or "gzip" not in self.headers.get("Accept-Encoding", "")
                or not content_type.startswith(_COMPRESSIBLE)):
            super().do_GET()
            return
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
