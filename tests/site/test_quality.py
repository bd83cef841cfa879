"""Every page flawless on two content sets (the demo, and 500 subprocessors with 300 controls): valid HTML,
no axe-core violation in light and dark, Lighthouse accessibility, best practices and SEO 100, links and
anchors that resolve, no request to another host, and machine-readable files that their readers accept. And
every page of the gate (links, requests, grants, subscriptions, staff), as real gates answer them: valid HTML, no
axe-core violation in light and dark, on a desktop and a 390 px phone, nothing sideways, nothing the CSP blocks."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib.util
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import quality
from conftest import GATED_ID, OTHER_GATED_ID, make_project
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
    pages: dict[str, GatePage]  # name -> the page as the gate answered it


@dataclasses.dataclass(frozen=True)
class GatePage:
    path: str  # where the gate served it, e.g. "/access/<token>"
    status: int
    headers: dict[str, str]
    body: bytes


GATE_STAFF = "staff@company.example"
GATE_ACCESS_YAML = f"""\
staff: [{GATE_STAFF}]
default_days: 30
max_days: 90
rules:
  - name: Customers
    domains: [customer.example]
    decision: approve
  - name: Partners
    domains: [partner.example]
    decision: approve
    nda: on_file
  - name: Competitors
    domains: [rival.example]
    decision: deny
    message: Please ask your account manager.
"""


class PageCollector:
    """Fetches the gate's pages as a visitor does (a browser-like client, real mail) and keeps each answer."""

    def __init__(self, running: Any, smtp: Any, folder: Path) -> None:
        self.running, self.smtp, self.folder = running, smtp, folder
        self.pages: dict[str, GatePage] = {}

    def keep(self, name: str, path: str, reply: Any, status: int) -> Any:
        assert reply.status == status, (name, reply.status, reply.text[:2000])
        headers = {key: value for key, value in reply.headers.items()
                   if key.lower() not in ("content-length", "transfer-encoding", "set-cookie", "connection")}
        self.pages[name] = GatePage(path, reply.status, headers, reply.body)
        (self.folder / f"{name}.html").write_bytes(reply.body)
        return reply

    def get(self, browser: Any, name: str, path: str, status: int = 200) -> Any:
        return self.keep(name, path, browser.get(path), status)

    def post(self, browser: Any, name: str, path: str, form: Any, status: int = 200) -> Any:
        """A form sent; the page it answers with is kept as shown at the form's address."""
        return self.keep(name, path, browser.post(path, form), status)

    def link_mailed_to(self, address: str, prefix: str, timeout: float = 10) -> str:
        """The path of the newest link starting with `prefix` in the mail to `address` (delivered now)."""
        from smtp import SmtpServer

        from generator.gate import app as gate_app

        deadline = time.monotonic() + timeout
        while True:
            gate_app.current_of(self.running.app).delivery.deliver_due()
            found = [urlparse(url).path for message in self.smtp.messages if address in message.rcpt_tos
                     for url in SmtpServer.links(message) if urlparse(url).path.startswith(prefix)]
            if found:
                return found[-1]
            assert time.monotonic() < deadline, f"no mail to {address} with a link to {prefix}"
            time.sleep(0.05)


def _request(browser: Any, email: str, documents: tuple[str, ...] = (GATED_ID,), **fields: str) -> Any:
    form = browser.get(f"/request?document={documents[0]}")
    return browser.post("/request", [("csrf", browser.csrf_from(form)), ("name", "Jane Doe"), ("email", email),
                                     ("company", "Customer Ltd"), *(("documents", doc) for doc in documents),
                                     *fields.items()])


def _collect_request_and_grant_pages(pages: PageCollector) -> None:
    browser = pages.running.browser()
    pages.get(browser, "request-form", f"/request?document={GATED_ID}")
    pages.keep("request-form-errors", "/request",
               _request(browser, "not an address\r\nBcc: x@y.example", documents=("no-such-document",),
                        reason="r" * 1001), 400)
    for who, decision in (("jane@customer.example", "approved"), ("pat@partner.example", "approved-nda-on-file"),
                          ("sam@elsewhere.example", "review"), ("rob@rival.example", "denied")):
        assert _request(browser, who, documents=(GATED_ID, OTHER_GATED_ID)).status == 303
        if decision == "approved":
            pages.get(browser, "request-sent", "/request/sent")
        confirm = pages.link_mailed_to(who, "/request/confirm/")
        page = pages.get(browser, f"request-confirm-{decision}", confirm)
        pages.post(browser, f"request-done-{decision}", confirm, {"csrf": browser.csrf_from(page)})
        if decision == "approved":
            pages.get(browser, "request-confirm-used-410", confirm, 410)
    grant = pages.link_mailed_to("jane@customer.example", "/grant/")
    page = pages.get(browser, "grant-nda", grant)
    accepted = browser.post(grant, {"csrf": browser.csrf_from(page), "step": "accept", "name": "Jane Doe",
                                    "company": "Customer Ltd", "accept": "yes"})
    assert accepted.status == 303, accepted.text
    pages.get(browser, "grant-documents", grant)
    pages.get(browser, "grant-documents-nda-on-file", pages.link_mailed_to("pat@partner.example", "/grant/"))
    pages.get(pages.running.browser(), "grant-not-accepted-403", f"{grant}/documents/{GATED_ID}", 403)


def _collect_subscription_pages(pages: PageCollector) -> None:
    from generator.gate import app as gate_app

    browser = pages.running.browser()
    reader = "reader@customer.example"
    form = pages.get(browser, "subscribe-form", "/subscribe")
    pages.post(browser, "subscribe-form-error", "/subscribe", {"csrf": browser.csrf_from(form), "email": "no"}, 400)
    assert browser.post("/subscribe", {"csrf": browser.csrf_from(form), "email": reader}).status == 303
    pages.get(browser, "subscribe-sent", "/subscribe/sent")
    confirm = pages.link_mailed_to(reader, "/subscribe/confirm/")
    page = pages.get(browser, "subscribe-confirm", confirm)
    pages.post(browser, "subscribe-done", confirm, {"csrf": browser.csrf_from(page)})
    store = gate_app.current_of(pages.running.app).store
    subscriber = store.subscribers.by_email(store.db.read(), reader)
    assert subscriber is not None
    unsubscribe = f"/subscribe/unsubscribe/{store.subscribers.unsubscribe_token(subscriber.id)}"
    pages.get(browser, "subscribe-unsubscribe", unsubscribe)
    pages.post(browser, "subscribe-unsubscribed", unsubscribe, {"List-Unsubscribe": "One-Click"})
    pages.get(browser, "subscribe-unsubscribed-again", unsubscribe)
    pages.get(browser, "subscribe-refused-403", "/subscribe/confirm/not-a-token", 403)


def _collect_staff_pages(pages: PageCollector, tmp_path: Path) -> None:
    from generator.gate import app as gate_app
    from generator.gate import links

    gate = gate_app.current_of(pages.running.app)
    links.create(gate.settings.project, links.LinkRequest(GATED_ID, "bob@customer.test", "Customer Inc"),
                 private_key_path=tmp_path / "secrets" / "test-key.pem",
                 record=links.Record(gate.settings.db_path, actor="cli:sales"))
    browser = pages.running.browser()
    form = pages.get(browser, "staff-sign-in-form", "/staff")
    pages.post(browser, "staff-sign-in-form-error", "/staff/sign-in",
               {"csrf": browser.csrf_from(form), "email": "not an address"}, 400)
    pages.post(browser, "staff-sent", "/staff/sign-in", {"csrf": browser.csrf_from(form), "email": GATE_STAFF})
    sign_in = pages.link_mailed_to(GATE_STAFF, "/staff/sign-in/")
    page = pages.get(browser, "staff-sign-in", sign_in)
    assert browser.post(sign_in, {"csrf": browser.csrf_from(page)}).status == 303
    pages.get(pages.running.browser(), "staff-sign-in-used-410", sign_in, 410)
    # The staff page with a request waiting, grants, sales links (recorded, minted elsewhere, revoked) and the
    # line an action leaves.
    staff = browser.get("/staff")
    [minted] = [link for link in links.minted_links(gate.log) if link.minted_by == "cli:sales"]
    assert browser.post(f"/staff/links/{minted.link_id}/revoke",
                        {"csrf": browser.csrf_from(staff), "reason": "sent to the wrong Bob"}).status == 303
    page = pages.get(browser, "staff-page", "/staff")
    for shown in ("Jane Doe", "sam@elsewhere.example", "bob@customer.test", "alice@customer.test", "Revoked link",
                  "open, as far as the gate knows", "revoked: sent to the wrong Bob"):
        assert shown in page.text, shown
    pages.post(pages.running.browser(), "staff-not-signed-in-403", f"/staff/links/{minted.link_id}/revoke",
               {"csrf": "x"}, 403)


@pytest.fixture(scope="session")
def gate_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatePages]:
    """Real gates on loopback, with mail to a real SMTP server, and every page a visitor or staff member can see,
    as files: the sales link's NDA and offer; denials (403, 410 expired and withdrawn) and 404; the request form
    (empty, with errors), sent, confirmation, the answers (approved, approved with an NDA on file, review,
    denied), closed (paused, and without rules); a grant's NDA, documents and refusals; each subscription page; the
    staff pages (sign-in form, with an error, sent, the sign-in link, the staff page, refusals)."""
    from smtp import SmtpServer

    from generator.gate import app as gate_app
    from generator.gate.mail import MailSettings

    tmp_path = tmp_path_factory.mktemp("quality-gate")
    project = make_project(tmp_path)
    (project / "trust" / "access.yaml").write_text(GATE_ACCESS_YAML, encoding="utf-8")
    folder = tmp_path / "pages"
    folder.mkdir()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with contextlib.ExitStack() as running:
        with pytest.MonkeyPatch.context() as env:  # the gates' keys in this session's folder, not ~/.local/state
            env.setenv("TRUSTCENTER_STATE_DIR", str(tmp_path / "gate-state"))
            signer = add_signing_key(project, tmp_path)
            smtp = running.enter_context(SmtpServer())
            gate = running.enter_context(running_gate(settings(project, tmp_path,
                                                               mail=MailSettings(smtp_url=smtp.url))))
            pages = PageCollector(gate, smtp, folder)
            accepted, revoked = signer.link(), signer.link()
            gate_app.current_of(gate.app).log.revoke(revoked.link_id, "sent to the wrong person")
            client = gate.browser()
            pages.get(client, "nda", f"/access/{signer.token()}")
            assert client.accept(signer.token(accepted)).status == 303
            pages.get(client, "offer", f"/access/{signer.token(accepted)}")
            pages.get(client, "denied-403", "/access/not-a-token", 403)
            expired = signer.token(issued_at=now - dt.timedelta(days=2), expires_at=now - dt.timedelta(minutes=5))
            pages.get(client, "expired-410", f"/access/{expired}", 410)
            pages.get(client, "withdrawn-410", f"/access/{signer.token(revoked)}", 410)
            pages.get(client, "not-found-404", "/no-such-page/", 404)
            _collect_request_and_grant_pages(pages)
            _collect_subscription_pages(pages)
            _collect_staff_pages(pages, tmp_path)
            # Last, as it ends the grant whose pages were kept above.
            [request] = [item for item in gate_app.current_of(gate.app).store.access.requests()
                         if item.email == "jane@customer.example"]
            gate_app.current_of(gate.app).desk.revoke_grant(str(request.grant_id), GATE_STAFF, "deal lost")
            pages.get(gate.browser(), "grant-revoked-410", pages.pages["grant-nda"].path, 410)
            closed = _collect_closed_pages(tmp_path / "closed", folder)
        yield GatePages(folder, gate.base_url, {**pages.pages, **closed})


def _collect_closed_pages(tmp_path: Path, folder: Path) -> dict[str, GatePage]:
    """A gate of its own project that cannot send e-mail: the request and subscription forms say they are closed;
    then without access.yaml, the request form says how else to ask."""
    from generator.gate import app as gate_app

    project = make_project(tmp_path)
    (project / "trust" / "access.yaml").write_text(GATE_ACCESS_YAML, encoding="utf-8")
    with running_gate(settings(project, tmp_path, mail=None)) as gate:
        pages = PageCollector(gate, None, folder)
        browser = gate.browser()
        pages.get(browser, "request-paused-503", "/request", 503)
        pages.get(browser, "subscribe-closed-503", "/subscribe", 503)
        (project / "trust" / "access.yaml").unlink()
        assert gate_app.current_of(gate.app).reloader.reload()
        pages.get(browser, "request-closed-404", "/request", 404)
        return pages.pages


def test_every_gate_page_is_valid_html(gate_pages: GatePages, tools: None) -> None:
    errors = quality.vnu_errors(gate_pages.folder)
    assert errors == [], "\n".join(errors)


def test_no_gate_page_has_inline_script_or_style(gate_pages: GatePages) -> None:
    """The gate's CSP allows neither (script-src 'self', style-src 'self'): what is there would be blocked."""
    failures = [name for name, page in gate_pages.pages.items()
                if re.search(rb"<script|<style|\sstyle=|\son[a-z]+=", page.body, re.IGNORECASE)]
    assert failures == []


# ---------------------------------------------------------------- accessibility


def test_no_page_has_an_axe_violation_in_light_or_dark(visits: list[Visit]) -> None:
    failures = [f"{visit.path or '/'} ({visit.scheme}): {violation}" for visit in visits for violation in visit.violations]
    assert failures == [], "\n".join(failures)


def _replaying(context: Any) -> dict[str, GatePage]:
    """Open gate pages in Chromium as the gate answered them to the visitor, whatever it took to get there (a
    POST, a session, a mailed link): the document is the kept answer (status, headers, body), everything it loads
    (stylesheets) comes from the running gate."""
    shown: dict[str, GatePage] = {}

    def route(route: Any) -> None:
        request = route.request
        if request.is_navigation_request() and "page" in shown:
            kept = shown["page"]
            route.fulfill(status=kept.status, headers=kept.headers, body=kept.body)
        else:
            route.continue_()

    context.route("**/*", route)
    return shown


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 1280), ("light", 390), ("dark", 390)])
def test_no_gate_page_has_an_axe_violation_or_scrolls_sideways(gate_pages: GatePages, browser: Any, tools: None,
                                                               scheme: str, width: int) -> None:
    context = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 900})
    shown = _replaying(context)
    # What the CSP kept with each page blocks (an inline style or script), as the page itself is told of it.
    context.add_init_script("window.blocked = []; document.addEventListener('securitypolicyviolation', "
                            "event => window.blocked.push(event.violatedDirective + ' ' + event.blockedURI));")
    page = context.new_page()
    failures = []
    for name, kept in gate_pages.pages.items():
        shown["page"] = kept
        page.goto(gate_pages.url + kept.path, wait_until="networkidle")
        # The kept page, styled by the gate's stylesheets (the contrast axe checks depends on them).
        assert page.locator("h1").inner_text().encode() in kept.body, name
        assert page.evaluate("[...document.styleSheets].filter(sheet => sheet.cssRules.length > 0).length") == 2
        failures += [f"{name}: {violation}" for violation in quality.axe_violations(page)]
        if page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"):
            failures.append(f"{name}: scrolls sideways at {width} px")
        failures += [f"{name}: the CSP blocked {what}" for what in page.evaluate("window.blocked")]
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
