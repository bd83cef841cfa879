"""The built site in a real headless Chromium: what a prospect sees, light and dark, with and without JS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect
from support import chromium, copy_demo, run_cli, serve_directory

from generator.content.project import Project
from generator.content.validate import load_valid

pytestmark = pytest.mark.browser

PAGES = ["", "compliance/", "controls/", "subprocessors/", "subprocessors/history/", "documents/", "soc3/soc3-2026/",
         "faq/", "contact/"]


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
    # The first click into the box is also the visitor's first interaction: Material's bundle starts then.
    for query, expected in ((sub.name, sub.name), (control.name, control.name)):
        page.locator("input.md-search__input").click()
        page.locator("input.md-search__input").fill("")
        page.keyboard.type(query, delay=20)  # Material searches on key events, as a person types
        # The results of the whole query (those of its first letters, or of the last query, come first).
        expect(page.locator(".md-search-result__list")).to_contain_text(expected, timeout=15_000)
        page.keyboard.press("Escape")
    context.close()


def test_pages_read_without_javascript(browser: Any, site: tuple[str, Path]) -> None:
    url, project = site
    tc = load_valid(Project.at(project))
    current = [s for s in tc.subprocessors.subprocessors if s.is_current(tc.today)]
    for width in (1280, 390):
        context = browser.new_context(java_script_enabled=False, viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(url + "subprocessors/", wait_until="networkidle")
        table = page.locator("table.tc-rows[aria-labelledby=current]")
        assert table.locator("tbody tr").count() == len(current)
        first = table.locator("tbody tr").first
        first.scroll_into_view_if_needed()  # rows off screen are drawn when the reader gets to them (content-visibility)
        assert first.is_visible()
        # Drawn at the next frame after the scroll: its rendered text (innerText), not only the DOM's, has the name.
        # A page without JavaScript asks for no frames, and headless Chromium may draw none until asked: a
        # screenshot is a frame drawn. Then polled by time, not by animation frame.
        page.screenshot()
        page.wait_for_function("([row, name]) => row.innerText.includes(name)",
                               arg=[first.element_handle(), current[0].name], polling=100, timeout=10_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.locator("html.no-js").count() == 1  # Material's own no-JavaScript look: no search box
        context.close()


def _requested(page: Any) -> list[str]:
    found: list[str] = []
    page.on("request", lambda request: found.append(urlparse(request.url).path))
    return found


def _started(page: Any) -> None:
    page.wait_for_selector("html:not(.tc-lazy)", state="attached", timeout=15_000)


def test_material_starts_at_the_first_interaction_not_with_the_page(browser: Any, site: tuple[str, Path]) -> None:
    """The page arrives whole and drawn as Material draws it (search box, sidebars); its bundle, search worker and
    index load only when the visitor first moves, and then everything Material does works."""
    url, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested = _requested(page)
    page.goto(url + "controls/", wait_until="networkidle")
    page.wait_for_timeout(500)  # nothing is scheduled for later either
    assert not [path for path in requested if "bundle." in path or "search" in path], requested
    assert page.locator("html.js.tc-lazy").count() == 1
    assert page.locator("input.md-search__input").is_visible()
    assert page.locator(".md-sidebar--secondary .md-nav__link").first.is_visible()
    page.mouse.move(200, 200)
    _started(page)
    page.wait_for_load_state("networkidle")
    assert [path for path in requested if "/bundle." in path] and "/search/search_index.json" in requested
    assert page.locator(".md-sidebar--secondary .md-nav__link").first.is_visible()
    context.close()


def test_a_row_in_a_group_off_screen_is_reached_by_its_anchor_and_by_find_in_page(
        browser: Any, site: tuple[str, Path]) -> None:
    """Rows come in groups the browser does not draw while they are off screen (content-visibility): a link to
    the last subprocessor still lands on its row, and the browser's find in page still finds it."""
    url, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(url + "subprocessors/", wait_until="networkidle")
    groups = page.locator("table.tc-rows--subprocessors tbody")
    assert groups.count() >= 2
    last = groups.last.locator("tr").last
    row_id, name = last.get_attribute("id"), (last.locator("th a").text_content() or "").strip()
    assert page.evaluate("row => row.getBoundingClientRect().top", last.element_handle()) > 844  # far below
    page.goto(url + f"subprocessors/#{row_id}", wait_until="networkidle")
    box = last.bounding_box()
    assert box is not None and 0 <= box["y"] < 844 and box["height"] > 0
    page.goto(url + "subprocessors/", wait_until="networkidle")
    assert name and page.evaluate("name => window.find(name)", name)
    box = last.bounding_box()
    assert box is not None and 0 <= box["y"] < 844
    context.close()


def test_a_shortcut_pressed_before_material_has_started_is_not_lost(browser: Any, site: tuple[str, Path]) -> None:
    """The first key is also what starts Material's bundle: "/" still opens search, as it does once Material runs."""
    url, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url + "subprocessors/", wait_until="networkidle")
    assert page.locator("html.tc-lazy").count() == 1
    page.keyboard.press("/")
    _started(page)
    expect(page.locator("input.md-search__input")).to_be_focused()
    page.keyboard.type("Atlassian", delay=20)
    expect(page.locator(".md-search-result__list")).to_contain_text("Atlassian", timeout=15_000)
    context.close()


@pytest.mark.parametrize(("scheme", "drawn", "other"), [("light", "default", "slate"), ("dark", "slate", "default")])
def test_the_palette_follows_the_system_and_its_switch_works_as_the_first_tap(
        browser: Any, site: tuple[str, Path], scheme: str, drawn: str, other: str) -> None:
    """The system's light or dark palette is there before Material's bundle; a switch before the bundle has
    started is applied at once and kept by it (the first tap is not lost), and the next switches back."""
    url, _ = site
    context = browser.new_context(color_scheme=scheme, viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    assert page.locator("body").get_attribute("data-md-color-scheme") == drawn
    switch = page.locator("form[data-md-component=palette] label:not([hidden])")
    assert switch.count() == 1
    switch.tap()
    assert page.locator("body").get_attribute("data-md-color-scheme") == other
    _started(page)  # Material applies the palette it finds as it starts, before this returns
    assert page.locator("body").get_attribute("data-md-color-scheme") == other
    assert page.locator("form[data-md-component=palette] label:not([hidden])").count() == 1
    page.reload(wait_until="networkidle")  # the choice is remembered, as Material remembers it
    assert page.locator("body").get_attribute("data-md-color-scheme") == other
    page.locator("form[data-md-component=palette] label:not([hidden])").tap()
    _started(page)
    expect(page.locator("body")).to_have_attribute("data-md-color-scheme", drawn)
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
        overflow = page.evaluate("() => [...document.querySelectorAll('table.tc-rows')]"
                                 ".map(table => table.scrollWidth - table.parentElement.clientWidth)")
        assert overflow and max(overflow) <= 0, overflow
    finally:
        context.close()
