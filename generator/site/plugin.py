"""The MkDocs plugin: adds the trust pages and files as virtual files and the theme behind the owner's own.

It holds no logic: it loads the content (or takes what `trustcenter build` validated), builds
the site data once (`structure`), and hands the pages (`pages`) and files (`outputs`) to MkDocs.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from markupsafe import Markup
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from generator.content import model, schema
from generator.content.diagnostics import Severity
from generator.content.project import Project
from generator.content.validate import validate
from generator.publish import history
from generator.site import fixes, handwritten, headers, leaks, outputs, pages, public, structure
from generator.site.config import TrustCenterConfig

log = logging.getLogger("mkdocs.plugins.trustcenter")
# In the live preview, content problems are told on a logger of our own: on MkDocs' logger they would count
# against `strict: true` and abort the rebuild, leaving the browser waiting.
preview_log = logging.getLogger("trustcenter.preview")

# The trust pages' templates and assets, shipped in the package: behind the owner's custom_dir, in front of
# Material, so an upgrade brings theme fixes and any block can still be overridden.
THEME_DIR = Path(__file__).parent / "theme"


class TrustCenterPlugin(BasePlugin[TrustCenterConfig]):
    """Reads the content once per build and contributes pages, machine-readable files and public documents."""

    def __init__(self) -> None:
        self.preloaded: model.TrustCenter | None = None  # set by `trustcenter build`, which validated already
        self.data: structure.SiteData | None = None
        self.project: Project | None = None
        # Live preview: MkDocs keeps a plugin with on_startup across rebuilds. A rebuild with errors shows the
        # last good content with the errors on every page, instead of failing and leaving the browser waiting.
        self.serving = False
        self.last_good: model.TrustCenter | None = None
        self.errors: list[str] = []

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"

    @property
    def site(self) -> structure.SiteData:
        if self.data is None:
            raise PluginError("trustcenter: content not loaded")
        return self.data

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path).parent.resolve()
        custom_dir = config.theme.custom_dir
        self.project = project = Project(root=root, trust_dir=root / self.config.trust_dir,
                                         docs_dir=Path(config.docs_dir), site_dir=Path(config.site_dir),
                                         custom_dir=Path(custom_dir) if custom_dir else None,
                                         config_file=Path(config.config_file_path),
                                         allow_raw_html=self.config.allow_raw_html)
        tc = self.preloaded if self.preloaded is not None else self._load(project)
        self.last_good = tc
        events = history.subprocessor_events(project, tc.today, max_commits=self.config.git_history_commits) \
            if self.config.git_history else []
        self.data = structure.build(tc, events)
        dirs = config.theme.dirs
        if str(THEME_DIR) not in dirs:
            dirs.insert(1 if custom_dir else 0, str(THEME_DIR))
        company = tc.company
        # MkDocs themes render config and page values without autoescape, and Material escapes some
        # uses itself: escaped text marked safe (Markup) is right in both kinds of place.
        config.site_name = Markup(html.escape(company.display_name + " Trust Center"))  # noqa: S704 - escaped
        config.site_description = config.site_description or Markup(html.escape(company.tagline or ""))  # noqa: S704
        config.site_url = config.site_url or company.trust_center_url.rstrip("/") + "/"
        if company.logo:
            config.theme["logo"] = config.theme["favicon"] = self._logo_uri(company)
        if config.nav is None:
            config.nav = pages.nav(tc)
        return config

    def _load(self, project: Project) -> model.TrustCenter:
        result = validate(project)
        tell = preview_log if self.serving else log
        for diagnostic in result.diagnostics:
            (tell.warning if diagnostic.severity is Severity.WARNING else tell.error)(str(diagnostic))
        self.errors = [str(d) for d in result.diagnostics if d.severity is Severity.ERROR]
        if result.model is not None:
            return result.model
        if self.serving and self.last_good is not None:
            preview_log.error("the preview keeps the last content that was valid until these are fixed")
            return self.last_good
        raise PluginError(f"{project.display(project.trust_dir)}/ has errors (listed above); fix them and build again")

    @staticmethod
    def _logo_uri(company: model.Company) -> str:
        return "assets/" + Path(company.logo or "logo.svg").name

    def on_files(self, files: Files, /, *, config: MkDocsConfig) -> Files:
        data = self.site
        tc = data.tc
        generated: dict[str, str | bytes] = {}
        generated.update(pages.render_pages(data, pages.Linker(config.use_directory_urls)))
        generated.update(outputs.render_outputs(data, feed_entries=self.config.feed_entries))
        generated[headers.HEADERS_FILE] = headers.headers_file()
        for src_uri, content in generated.items():
            self._add(files, File.generated(config, src_uri, content=content, inclusion=InclusionLevel.INCLUDED))
        # The committed schemas (a test keeps them equal to the model): generating them costs ~90 ms a build.
        for path in [*sorted(schema.SCHEMA_DIR.glob("*.schema.json")), public.SCHEMA_FILE]:
            self._add(files, File.generated(config, f"schemas/{path.name}", abs_src_path=str(path),
                                            inclusion=InclusionLevel.INCLUDED))
        for document in tc.public_documents:
            src_uri = f"{pages.PUBLIC_DOCUMENTS_DIR}/{document.public_name}"
            self._add(files, File.generated(config, src_uri, abs_src_path=str(tc.document_path(document)),
                                            inclusion=InclusionLevel.INCLUDED))
        if tc.company.logo:
            self._add(files, File.generated(config, self._logo_uri(tc.company),
                                            abs_src_path=str(tc.root / tc.company.logo),
                                            inclusion=InclusionLevel.INCLUDED))
        return files

    @staticmethod
    def _add(files: Files, file: File) -> None:
        if files.get_file_from_path(file.src_uri) is not None:
            raise PluginError(f"{file.src_uri} in the pages folder clashes with a page the trust center generates; "
                              "rename or remove it")
        files.append(file)

    def on_page_markdown(self, markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        if page.file.generated_by is not None:
            # Generated front matter holds escaped text (pages.py): mark it safe, as above.
            for key in ("title", "description"):
                if isinstance(page.meta.get(key), str):
                    page.meta[key] = Markup(page.meta[key])  # noqa: S704 - escaped by pages.py
        return markdown

    def on_page_content(self, html: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        # A hand-written page is checked as rendered: whatever Markdown syntax produced it, no script runs there
        # unless the owner opted in (a script in the site's origin runs in the gate's too, if they share one).
        if page.file.generated_by is None and not self.config.allow_raw_html:
            found = handwritten.problems(html)
            if found:
                raise PluginError(f"{page.file.src_uri} in the pages folder contains {'; '.join(found)}; write it in "
                                  "Markdown, or opt in with `allow_raw_html: true` under the trustcenter plugin in "
                                  "mkdocs.yml. Nothing was published")
        return html

    def on_page_context(self, context: TemplateContext, /, *, page: Page, config: MkDocsConfig,
                        nav: Navigation) -> TemplateContext:
        # Extra keys for the theme's main.html; TemplateContext lists only MkDocs' own.
        context["trust_center"] = self.site.tc  # type: ignore[typeddict-unknown-key]
        context["last_updated"] = pages.nice_date(self.site.last_updated)  # type: ignore[typeddict-unknown-key]
        context["built"] = pages.nice_date(self.site.today)  # type: ignore[typeddict-unknown-key]
        context["trustcenter_errors"] = self.errors  # type: ignore[typeddict-unknown-key]
        context["content_security_policy"] = headers.META_CONTENT_SECURITY_POLICY  # type: ignore[typeddict-unknown-key]
        return context

    def on_template_context(self, context: TemplateContext, /, *, template_name: str,
                            config: MkDocsConfig) -> TemplateContext:
        # 404.html and other theme templates rendered outside any page carry the policy too.
        context["content_security_policy"] = headers.META_CONTENT_SECURITY_POLICY  # type: ignore[typeddict-unknown-key]
        return context

    def on_post_page(self, output: str, /, *, page: Page, config: MkDocsConfig) -> str:
        return fixes.valid_html(output)

    def on_post_template(self, output_content: str, /, *, template_name: str, config: MkDocsConfig) -> str:
        # 404.html is rendered as a theme template, not as a page.
        return fixes.valid_html(output_content) if template_name.endswith(".html") else output_content

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        # A gated document must never reach the site, whatever the pages folder or a theme did.
        assert self.project is not None
        found = leaks.find(Path(config.site_dir), self.site.tc, self.project)
        if found:
            raise PluginError("gated content found in the built site: " + "; ".join(found)
                              + ". Remove it from the pages folder or the theme; nothing was published")

    def on_serve(self, server: LiveReloadServer, /, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        if self.project is not None:
            server.watch(str(self.project.trust_dir))
        return server
