"""The built site under its own _headers (strict CSP) in headless Chromium: no violation, and search still works."""

from __future__ import annotations

import concurrent.futures
import functools
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support import chromium, copy_demo, run_cli

from generator.site import headers as hosting

pytestmark = pytest.mark.browser

PAGES = ["", "compliance/", "controls/", "subprocessors/", "subprocessors/history/", "documents/", "faq/", "contact/",
         "no-such-page/"]
# Records what the browser blocked; init scripts are injected by the driver, so the CSP does not stop them.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


class _HeadersHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site with the headers its _headers file asks for, as Netlify or Cloudflare Pages would."""

    headers_to_send: ClassVar[dict[str, str]] = {}

    def end_headers(self) -> None:
        for name, value in self.headers_to_send.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _headers_of(site: Path) -> dict[str, str]:
    lines = (site / hosting.HEADERS_FILE).read_text().splitlines()
    return dict(line.strip().split(": ", 1) for line in lines if line.startswith("  "))


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = copy_demo(tmp_path_factory.mktemp("csp") / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    site = project / "site"
    handler = type("Handler", (_HeadersHandler,), {"headers_to_send": _headers_of(site)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def in_browser(action: Callable[[Any], None]) -> None:
    """Run `action(browser)` in headless Chromium on a thread of its own: Playwright's sync API refuses to
    start where another module's browser (a session fixture) already runs an event loop."""

    def run() -> None:
        with chromium() as browser:
            action(browser)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=300)


def test_pages_raise_no_csp_violation_under_the_sites_own_headers(site_url: str) -> None:
    def visit(browser: Any) -> None:
        context = browser.new_context()
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        for path in PAGES:
            response = page.goto(site_url + path, wait_until="networkidle")
            assert response is not None
            assert response.headers["content-security-policy"] == hosting.CONTENT_SECURITY_POLICY
            page.mouse.move(5, 5)  # Material's bundle starts at the first interaction (trust-load.js)
            page.wait_for_selector("html:not(.tc-lazy)", state="attached", timeout=15_000)
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__violations") == [], path
        assert not [text for text in console if "Content Security Policy" in text], console

    in_browser(visit)


def test_search_works_under_the_csp(site_url: str) -> None:
    def search(browser: Any) -> None:
        context = browser.new_context()
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()
        page.goto(site_url, wait_until="networkidle")
        box = page.locator("input.md-search__input")
        box.click()
        box.press_sequentially("encrypt", delay=50)  # Material searches on key events
        results = page.locator(".md-search-result__item")
        results.first.wait_for(state="visible", timeout=15_000)
        assert results.count() > 0
        assert page.evaluate("window.__violations") == []

    in_browser(search)
