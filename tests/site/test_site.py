"""`trustcenter build`: real MkDocs builds of the demo and of hostile or broken content."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as etree
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support import copy_demo, edit, run_cli

from generator.content import tsc
from generator.content.project import Project
from generator.content.validate import load_valid
from generator.gate.app import GATE_PATHS

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, built once for the read-only tests of this module."""
    project = copy_demo(tmp_path_factory.mktemp("built") / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "no gated document in it" in result.stdout
    return project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def read(site: Path, path: str) -> str:
    return (site / path).read_text(encoding="utf-8")


_LOADING_RELS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "prefetch", "preconnect",
                 "dns-prefetch", "apple-touch-icon"}


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str, bool]] = []  # (tag, attribute, value, whether the browser loads it)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        rels = set((dict(attrs).get("rel") or "").split())
        for name, value in attrs:
            if name in ("href", "src", "action", "srcset", "poster", "data") and value:
                self.refs.append((tag, name, value, tag != "link" or bool(rels & _LOADING_RELS)))


def refs(html: str) -> list[tuple[str, str, str, bool]]:
    parser = _Refs()
    parser.feed(html)
    return parser.refs


def test_every_page_is_generated_and_nothing_is_written_to_site_src(built: Path) -> None:
    site = built / "site"
    for page in ("index.html", "compliance/index.html", "controls/index.html", "subprocessors/index.html",
                 "subprocessors/history/index.html", "documents/index.html", "faq/index.html", "updates/index.html", "contact/index.html",
                 "soc3/soc3-2026/index.html", "about-this-site/index.html"):
        assert (site / page).is_file(), page
    assert sorted(p.name for p in (built / "site_src").iterdir()) == ["about-this-site.md"]


def test_overview_shows_certifications_with_derived_status_in_words(built: Path) -> None:
    html = read(built / "site", "index.html")
    tc = load_valid(Project.at(built))
    for cert in tc.certifications:
        assert cert.display_name in html
    soc2 = next(c for c in tc.certifications if c.id == "soc2-type2")
    assert re.search(r"SOC 2 Type II</span> <span class=\"tc-status tc-status--active\">Active</span>", html)
    assert "Oct 1, 2025 – Sep 30, 2026" in html
    assert soc2.auditor and soc2.auditor not in html  # the auditor is on the compliance page
    assert "In progress" in html  # the SOC 1 Type I audit under way
    assert f"{tc.company.display_name} Trust Center" in html and tc.company.display_name == "Halyard"


def test_compliance_page_gives_period_auditor_and_documents(built: Path) -> None:
    html = read(built / "site", "compliance/index.html")
    tc = load_valid(Project.at(built))
    soc2 = next(c for c in tc.certifications if c.id == "soc2-type2")
    assert soc2.auditor in html.replace("&amp;", "&")
    assert "Security, Availability, Confidentiality" in html
    assert "(under NDA)" in html  # the gated SOC 2 report is listed, not linked to a file
    assert 'href="../documents/soc3-2026.pdf"' in html


def test_search_index_finds_subprocessors_and_controls(built: Path) -> None:
    index = json.loads(read(built / "site", "search/search_index.json"))
    text = " ".join(doc["text"] + " " + doc["title"] for doc in index["docs"])
    tc = load_valid(Project.at(built))
    for sub in tc.subprocessors.subprocessors:
        if sub.is_current(tc.today):
            assert sub.name.replace("&", "&amp;") in text or sub.name in text, sub.name
    for category in tc.controls:
        for control in category.controls:
            assert control.id in text, control.id


def test_long_lists_are_rows_material_leaves_alone_with_the_history_on_its_own_page(built: Path) -> None:
    """Controls and subprocessors are tables of class tc-rows (Material wraps and styles only tables without a
    class), with no title attribute for Material to turn into a tooltip each; the criteria are named once, below
    the controls; the subprocessors page shows the newest changes and the history page every one."""
    from generator.site import pages, structure

    site = built / "site"
    tc = load_valid(Project.at(built))
    data = structure.build(tc)
    controls = read(site, "controls/index.html")
    content = controls[controls.index('<article'):controls.index('</article>')]
    assert content.count('<table class="tc-rows tc-rows--controls"') == len(tc.controls)
    assert "<table>" not in content and " title=" not in content.replace('title="Link to this section"', "")
    cited = sorted({criterion for control in data.controls for criterion in control.criteria})
    assert sorted(data.criteria) == cited
    assert data.criteria.index("CC6.1") < data.criteria.index("CC7.1") < data.criteria.index("A1.2")
    for criterion in cited:
        assert f"<dt>{criterion}</dt><dd>{tsc.CRITERIA[criterion]}</dd>" in controls, criterion
    for control in data.controls:
        assert f'id="control-{control.id.lower()}"' in controls

    subprocessors = read(site, "subprocessors/index.html")
    history = read(site, "subprocessors/history/index.html")
    changes = data.subprocessors.history
    assert len(changes) > pages.RECENT_CHANGES
    recent = subprocessors[subprocessors.index('id="history"'):]
    assert recent.count("<tr><td><time") == pages.RECENT_CHANGES
    assert history.count("<tr><td><time") == len(changes)
    assert 'href="history/"' in subprocessors and 'href="../"' in history
    feed = etree.fromstring(read(site, "feed.xml"))
    removed = [e for e in feed.iter(f"{ATOM}entry") if (e.findtext(f"{ATOM}title") or "").startswith("Subprocessor removed")]
    assert removed and all(e.find(f"{ATOM}link").get("href").endswith("/subprocessors/history/") for e in removed)
    assert all(e.findtext(f"{ATOM}id").split("#")[0].endswith("/subprocessors/") for e in removed)  # ids unchanged


def test_material_starts_from_a_loader_unless_the_site_has_scripts_of_its_own(built: Path, project: Path) -> None:
    """Every page names Material's bundle to trust-load.js, which starts it at the first interaction; a site with
    extra_javascript gets Material's own <script> (its scripts may expect the bundle to run with the page)."""
    for page in ("index.html", "controls/index.html", "subprocessors/history/index.html"):
        loader = re.findall(r'<script src="([^"]*)trust-load\.js" data-bundle="([^"]+)"></script>', read(built / "site", page))
        assert len(loader) == 1, page
        bundle = (built / "site" / page).parent / loader[0][1]
        assert bundle.is_file() and bundle.name.startswith("bundle."), bundle
        assert 'trust-base.js" data-lazy>' in read(built / "site", page)  # the sidebars wait for the bundle
    (project / "site_src/owner.js").write_text("console.log('the owner');\n", encoding="utf-8")
    edit(project / "mkdocs.yml", "theme:", "extra_javascript:\n  - owner.js\n\ntheme:")
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")  # a script is raw
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    html = read(project / "site", "controls/index.html")
    assert "trust-load.js" not in html and "data-lazy" not in html
    assert re.search(r'<script src="\.\./assets/javascripts/bundle\.[0-9a-f]+\.min\.js"></script>\s*'
                     r'<script src="\.\./owner\.js"></script>', html)


def test_long_lists_come_in_groups_of_rows(built: Path) -> None:
    """A long list's rows come in groups of ROWS_PER_GROUP (a <tbody> each), which the browser lays out only near
    the screen, so that Material's start-up measures a few groups rather than every row (trust.css)."""
    from generator.site import pages, structure

    tc = load_valid(Project.at(built))
    category = tc.controls[0]
    rows = [*category.controls] * 5
    long = tc.model_copy(update={"controls": [category.model_copy(update={"controls": rows})]})
    html = pages.render_pages(structure.build(long))[pages.CONTROLS]
    groups = re.findall(r"<tbody>(.*?)</tbody>", html, flags=re.S)
    full, rest = divmod(len(rows), pages.ROWS_PER_GROUP)
    assert full >= 2 and rest
    assert [group.count("<tr") for group in groups] == [pages.ROWS_PER_GROUP] * full + [rest]


def test_machine_readable_outputs(built: Path) -> None:
    site = built / "site"
    tc = load_valid(Project.at(built))
    trust = json.loads(read(site, "trust.json"))
    assert trust["schema_version"] == "2.0"
    assert {c["id"] for c in trust["certifications"]} == {c.id for c in tc.certifications}
    rows = list(csv.DictReader(io.StringIO(read(site, "subprocessors.csv"))))
    assert len(rows) == len(tc.subprocessors.subprocessors)
    assert {r["status"] for r in rows} == {"current", "former", "upcoming"}
    subs = json.loads(read(site, "subprocessors.json"))
    assert len(subs["current"]) + len(subs["former"]) + len(subs["upcoming"]) == len(rows)
    feed = etree.fromstring(read(site, "feed.xml"))
    titles = [e.findtext(f"{ATOM}title") for e in feed.iter(f"{ATOM}entry")]
    assert any(t and t.startswith("Subprocessor removed: ") for t in titles)
    assert any(t == tc.updates[0].title for t in titles)
    security_txt = read(site, ".well-known/security.txt")
    assert f"Contact: mailto:{tc.company.contacts.security}" in security_txt
    assert re.search(r"^Expires: \d{4}-\d\d-\d\dT00:00:00Z$", security_txt, re.MULTILINE)
    assert "Canonical: https://trust.halyard.example/.well-known/security.txt" in security_txt
    schema = json.loads(read(site, "schemas/subprocessors.schema.json"))
    assert schema["additionalProperties"] is False


def test_no_gated_document_bytes_or_name_in_the_site(built: Path) -> None:
    tc = load_valid(Project.at(built))
    site_files = [p for p in (built / "site").rglob("*") if p.is_file()]
    for document in tc.gated_documents:
        data = tc.document_path(document).read_bytes()
        name = tc.document_path(document).name.encode()
        for file in site_files:
            content = file.read_bytes()
            assert data[1000:1600] not in content, file
            assert name not in content, file
    assert (built / "site/documents/soc3-2026.pdf").read_bytes() == (built / "trust/documents/soc3-2026.pdf").read_bytes()


def test_pages_load_nothing_from_other_hosts(built: Path) -> None:
    for page in (built / "site").rglob("*.html"):
        for tag, attribute, value, loads in refs(page.read_text(encoding="utf-8")):
            if tag == "a" or (tag == "link" and attribute == "href" and not loads):
                continue  # links a reader may follow (and rel=canonical) are fine; loads are not
            assert not re.match(r"^(https?:)?//", value), f"{page}: <{tag} {attribute}={value}>"
    css = (built / "site/assets/stylesheets/trust.css").read_text()
    assert "@import" not in css and "url(http" not in css


def test_hostile_text_is_escaped_not_executed(project: Path) -> None:
    edit(project / "trust/company.yaml", "name: Halyard Systems, Inc.", 'name: "Halyard <b>&</b> \\"Sons\\""')
    edit(project / "trust/company.yaml", "tagline:",
         'tagline: "<script>alert(1)</script> & <b>bold</b> \\" onmouseover=\\"alert(3)"\nx_old_tagline:')
    text = (project / "trust/company.yaml").read_text()
    (project / "trust/company.yaml").write_text(re.sub(r"\nx_old_tagline:.*", "", text))
    subs = project / "trust/subprocessors.yaml"
    edit(subs, "purpose: ", 'purpose: "<img src=x onerror=alert(2)>" # ')
    faq = project / "trust/faq.yaml"
    faq.write_text(faq.read_text() + "  - question: Hostile?\n    answer: \"<iframe src='https://evil.example'></iframe> "
                   "[ok](https://ok.example)\"\n")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    site = project / "site"
    everything = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert "<script>alert(1)</script>" not in everything
    assert '" onmouseover="alert(3)' not in everything
    assert "&amp;amp;" not in everything and "&amp;lt;" not in everything and "&amp;quot;" not in everything
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in read(site, "index.html")
    assert "<img src=x" not in everything and "&lt;img src=x onerror=alert(2)&gt;" in read(site, "subprocessors/index.html")
    assert "<iframe" not in everything and "&lt;iframe" in read(site, "faq/index.html")
    assert 'href="https://ok.example"' in read(site, "faq/index.html")


def test_failed_build_leaves_the_previous_site_untouched(project: Path) -> None:
    assert run_cli("build", cwd=project).returncode == 0
    before = {p.relative_to(project): p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    edit(project / "trust/company.yaml", "website:", "websit:")
    result = run_cli("build", cwd=project)
    assert result.returncode == 1
    assert "trust/company.yaml:" in result.stderr and "Traceback" not in result.stderr
    assert "error: trust/ has 2 error(s) (listed above); fix them and run the command again" in result.stderr
    after = {p.relative_to(project): p.read_bytes() for p in (project / "site").rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in project.iterdir() if p.name.startswith(".site")] == []


def test_a_gated_file_smuggled_into_site_src_stops_the_build(project: Path) -> None:
    # With the opt-in to any file in the pages folder (else `check` refuses the PDF first): the leak check holds.
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    assert run_cli("build", cwd=project).returncode == 0
    index_before = (project / "site/index.html").read_bytes()
    gated = (project / "trust/private/soc2-type2-2026.pdf").read_bytes()
    (project / "site_src/assets").mkdir()
    (project / "site_src/assets/brochure.pdf").write_bytes(gated)
    result = run_cli("build", cwd=project)
    assert result.returncode == 1
    assert "gated content found in the built site" in result.stderr
    assert "assets/brochure.pdf contains the content of gated document 'soc2-type2-report'" in result.stderr
    assert (project / "site/index.html").read_bytes() == index_before
    assert not (project / "site/assets/brochure.pdf").exists()


@pytest.mark.parametrize("site_dir", [".", "..", "site_src", "overrides", "trust/keys", "notes"])
def test_build_refuses_to_replace_sources_or_a_folder_that_is_not_a_site(project: Path, site_dir: str) -> None:
    (project / "notes").mkdir()
    (project / "notes/todo.txt").write_text("keep me")
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    result = run_cli("build", "--site-dir", site_dir, cwd=project)
    assert result.returncode == 1
    assert "refusing to build into" in result.stderr
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before


def test_pages_and_outputs_render_on_a_leap_day(project: Path) -> None:
    import datetime as dt

    from generator.site import outputs, pages, structure

    tc = load_valid(Project.at(project), today=dt.date(2028, 2, 29))
    assert tc.last_updated <= tc.today
    data = structure.build(tc)
    assert "Trust Center" in pages.render_pages(data)["index.md"]
    assert "<feed" in outputs.render_outputs(data)["feed.xml"]


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


def test_every_internal_link_and_anchor_resolves(built: Path) -> None:
    assert check_internal_links(built / "site") > 500


def check_internal_links(site: Path) -> int:
    """Asserts that every href and src inside the built site leads to a file (and anchor); returns how many."""
    from urllib.parse import unquote, urldefrag, urljoin, urlparse

    anchors: dict[Path, set[str]] = {}

    def ids(file: Path) -> set[str]:
        if file not in anchors:
            parser = _Anchors()
            parser.feed(file.read_text(encoding="utf-8"))
            anchors[file] = parser.ids
        return anchors[file]

    checked = 0
    for page in site.rglob("*.html"):
        page_url = "http://site/" + page.relative_to(site).as_posix()
        for tag, attribute, value, _ in refs(page.read_text(encoding="utf-8")):
            if attribute not in ("href", "src") or (re.match(r"^[a-z]+:", value) and not value.startswith("http://site")):
                continue
            target, fragment = urldefrag(urljoin(page_url, value))
            path = unquote(urlparse(target).path).lstrip("/")
            if ("/" + path).startswith(GATE_PATHS):
                continue  # the gate's own pages (request form, subscriptions): the gate serves them beside the site
            file = site / path
            if file.is_dir() or path == "" or path.endswith("/"):
                file = file / "index.html"
            assert file.is_file(), f"{page.relative_to(site)}: <{tag} {attribute}={value}> leads nowhere"
            if fragment and file.suffix == ".html":
                assert fragment in ids(file), f"{page.relative_to(site)}: {value} has no anchor #{fragment}"
            checked += 1
    return checked


def test_plain_mkdocs_build_uses_the_plugin_entry_point(project: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", "out"], cwd=project,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Halyard Trust Center" in (project / "out/index.html").read_text()
    assert (project / "out/.well-known/security.txt").is_file()


def test_pages_have_no_inline_script_so_a_strict_csp_holds(built: Path) -> None:
    script = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL)
    for page in (built / "site").rglob("*.html"):
        for attributes, body in script.findall(page.read_text(encoding="utf-8")):
            if 'type="application/json"' in attributes:
                continue  # data, not code: CSP does not apply
            assert "src=" in attributes and not body.strip(), f"{page}: inline <script{attributes}>"


def test_readers_never_see_the_site_missing_during_a_rebuild(project: Path) -> None:
    import threading

    from generator.site import build

    build.build(Project.at(project))
    index = project / "site/index.html"
    missing: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if not index.is_file():
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(3):
            build.build(Project.at(project))
    finally:
        done.set()
        watcher.join()
    assert missing == []
    assert [p.name for p in project.iterdir() if p.name.startswith(".site")] == []


def test_links_in_content_markdown_are_relative_to_the_site_root(project: Path) -> None:
    faq = project / "trust/faq.yaml"
    faq.write_text(faq.read_text() + '  - question: Where are the controls?\n'
                   '    answer: "See [our controls](controls/), the [feed](feed.xml) and [SOC 3](soc3/soc3-2026/)."\n')
    edit(project / "trust/subprocessors.yaml", "notice: |\n", "notice: |\n  Subscribe to the [feed](feed.xml).\n")
    assert run_cli("build", cwd=project).returncode == 0
    site = project / "site"
    assert 'href="../controls/"' in read(site, "faq/index.html")
    assert 'href="../feed.xml"' in read(site, "subprocessors/index.html")
    check_internal_links(site)
