"""The built site in a real headless Chromium: what a prospect sees, light and dark, with and without JS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from support import chromium, copy_demo, run_cli, serve_directory

from generator.content.project import Project
from generator.content.validate import load_valid

pytestmark = pytest.mark.browser

PAGES = ["", "compliance/", "controls/", "subprocessors/", "documents/", "soc3/soc3-2026/", "faq/", "contact/"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    project = copy_demo(tmp_path_factory.mktemp("browser") / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    server, url = serve_directory(project / "site")
    yield url, project
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


def open_page(browser: Any, url: str, scheme: str = "light", javascript: bool = True) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(color_scheme=scheme, java_script_enabled=javascript)
    page = context.new_page()
    foreign: list[str] = []
    host = urlparse(url).netloc
    page.on("request", lambda request: foreign.append(request.url)
            if urlparse(request.url).netloc not in (host, "") and not request.url.startswith("data:") else None)
    page.goto(url, wait_until="networkidle")
    return context, page, foreign


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_renders_and_requests_no_other_host(browser: Any, site: tuple[str, Path], scheme: str) -> None:
    url, _ = site
    for path in PAGES:
        context, page, foreign = open_page(browser, url + path, scheme)
        assert page.locator("h1").first.is_visible(), path
        assert foreign == [], f"{path} requested {foreign}"
        expected = "slate" if scheme == "dark" else "default"
        assert page.locator("body").get_attribute("data-md-color-scheme") == expected
        context.close()


def test_overview_shows_status_in_words_and_links_to_compliance(browser: Any, site: tuple[str, Path]) -> None:
    url, _ = site
    context, page, _ = open_page(browser, url)
    badge = page.locator(".tc-badge", has_text="SOC 2 Type II").first
    assert badge.locator(".tc-status").inner_text() == "Active"
    assert page.locator(".tc-badge", has_text="SOC 1 Type I").locator(".tc-status").inner_text() == "In progress"
    badge.locator("a").click()
    page.wait_for_url("**/compliance/#soc2-type2")
    assert page.locator("#soc2-type2").is_visible()
    context.close()


def test_search_finds_a_subprocessor_and_a_control(browser: Any, site: tuple[str, Path]) -> None:
    url, project = site
    tc = load_valid(Project.at(project))
    sub = next(s for s in tc.subprocessors.subprocessors if s.is_current(tc.today))
    control = tc.controls[1].controls[0]
    context, page, _ = open_page(browser, url)
    for query, expected in ((sub.name, sub.name), (control.name, control.name)):
        page.locator("input.md-search__input").click()
        page.locator("input.md-search__input").fill("")
        page.keyboard.type(query, delay=20)  # Material searches on key events, as a person types
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=15_000)
        assert expected in page.locator(".md-search-result").inner_text()
        page.keyboard.press("Escape")
    context.close()


def test_pages_read_without_javascript(browser: Any, site: tuple[str, Path]) -> None:
    url, project = site
    tc = load_valid(Project.at(project))
    context, page, _ = open_page(browser, url + "subprocessors/", javascript=False)
    rows = page.locator("#current + div table tbody tr, .tc-table-wrap").first
    assert rows.is_visible()
    current = [s for s in tc.subprocessors.subprocessors if s.is_current(tc.today)]
    assert page.locator("table").first.locator("tbody tr").count() == len(current)
    context.close()


def test_print_layout_hides_navigation(browser: Any, site: tuple[str, Path]) -> None:
    url, _ = site
    context, page, _ = open_page(browser, url + "controls/")
    page.emulate_media(media="print")
    assert not page.locator(".md-header").is_visible()
    assert page.locator("table").first.is_visible()
    context.close()


def test_the_soc3_subservice_table_fits_a_1280_pixel_screen(browser: Any, site: tuple[str, Path]) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(base + "soc3/soc3-2026/")
        overflow = page.evaluate("() => [...document.querySelectorAll('.tc-table-wrap')]"
                                 ".map(wrap => wrap.scrollWidth - wrap.clientWidth)")
        assert overflow and max(overflow) <= 0, overflow
    finally:
        context.close()
