"""The MkDocs plugin: adds the trust pages and files as virtual files; holds no logic of its own."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from markupsafe import Markup
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page
from mkdocs.utils.templates import TemplateContext

from generator import history, hosting, leaks, model, outputs, pages, rules, schema, theme
from generator.diagnostics import Severity

log = logging.getLogger("mkdocs.plugins.trustcenter")


class TrustCenterConfig(Config):
    trust_dir = config_options.Type(str, default="trust")


class TrustCenterPlugin(BasePlugin[TrustCenterConfig]):
    """Reads trust/ once per build and contributes pages, machine-readable files and public documents."""

    def __init__(self) -> None:
        self.preloaded: model.TrustCenter | None = None  # set by `trustcenter build`, which validated already
        self.trust_center: model.TrustCenter | None = None

    @property
    def model(self) -> model.TrustCenter:
        if self.trust_center is None:
            raise PluginError("trustcenter: content not loaded")
        return self.trust_center

    def _project_dir(self, config: MkDocsConfig) -> Path:
        return (Path(config.config_file_path).parent / self.config.trust_dir).resolve().parent

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        if self.preloaded is not None:
            self.trust_center = self.preloaded
        else:
            result = rules.validate(self._project_dir(config))
            for diagnostic in result.diagnostics:
                (log.warning if diagnostic.severity is Severity.WARNING else log.error)(str(diagnostic))
            if result.model is None:
                raise PluginError("trust/ has errors (listed above); fix them and build again")
            self.trust_center = result.model
        company = self.model.company
        # MkDocs themes render config and page values without autoescape, and Material escapes some
        # uses itself: escaped text marked safe (Markup) is right in both kinds of place.
        config.site_name = Markup(html.escape(company.name + " Trust Center"))  # noqa: S704 - escaped
        config.site_description = config.site_description or Markup(html.escape(company.tagline or ""))  # noqa: S704
        config.site_url = config.site_url or company.trust_center_url.rstrip("/") + "/"
        if company.logo:
            config.theme["logo"] = config.theme["favicon"] = self._logo_uri()
        if config.nav is None:
            config.nav = pages.nav(self.model)
        return config

    def _logo_uri(self) -> str:
        return "assets/" + Path(self.model.company.logo or "logo.svg").name

    def on_files(self, files: Files, /, *, config: MkDocsConfig) -> Files:
        tc = self.model
        linker = pages.Linker(config.use_directory_urls)
        generated: dict[str, str | bytes] = {}
        # Subprocessor changes only git knows (deleted entries, edits); [] when the project is not a git repository.
        events = history.subprocessor_events(self._project_dir(config), tc.today)
        generated.update(pages.render_pages(tc, linker, events))
        generated.update(outputs.render_outputs(tc, events))
        generated[hosting.HEADERS_FILE] = hosting.headers_file()
        for src_uri, content in generated.items():
            self._add(files, File.generated(config, src_uri, content=content, inclusion=InclusionLevel.INCLUDED))
        # The committed schemas (a test keeps them equal to the model): generating them costs ~90 ms a build.
        for path in sorted(schema.SCHEMA_DIR.glob("*.schema.json")):
            self._add(files, File.generated(config, f"schemas/{path.name}", abs_src_path=str(path),
                                            inclusion=InclusionLevel.INCLUDED))
        for document in tc.public_documents:
            src_uri = f"{pages.PUBLIC_DOCUMENTS_DIR}/{document.public_name}"
            self._add(files, File.generated(config, src_uri, abs_src_path=str(tc.document_path(document)),
                                            inclusion=InclusionLevel.INCLUDED))
        if tc.company.logo:
            self._add(files, File.generated(config, self._logo_uri(), abs_src_path=str(tc.root / tc.company.logo),
                                            inclusion=InclusionLevel.INCLUDED))
        return files

    @staticmethod
    def _add(files: Files, file: File) -> None:
        if files.get_file_from_path(file.src_uri) is not None:
            raise PluginError(f"site_src/{file.src_uri} clashes with a page the trust center generates; "
                              "rename or remove it")
        files.append(file)

    def on_page_markdown(self, markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        if page.file.generated_by is not None:
            # Generated front matter holds escaped text (pages.py): mark it safe, as above.
            for key in ("title", "description"):
                if isinstance(page.meta.get(key), str):
                    page.meta[key] = Markup(page.meta[key])  # noqa: S704 - escaped by pages.py
        return markdown

    def on_page_context(self, context: TemplateContext, /, *, page: Page, config: MkDocsConfig,
                        nav: Navigation) -> TemplateContext:
        # Extra keys for overrides/main.html; TemplateContext lists only MkDocs' own.
        context["trust_center"] = self.model  # type: ignore[typeddict-unknown-key]
        context["last_updated"] = pages.nice_date(self.model.last_updated)  # type: ignore[typeddict-unknown-key]
        return context

    def on_post_page(self, output: str, /, *, page: Page, config: MkDocsConfig) -> str:
        return theme.valid_html(output)

    def on_post_template(self, output_content: str, /, *, template_name: str, config: MkDocsConfig) -> str:
        # 404.html is rendered as a theme template, not as a page.
        return theme.valid_html(output_content) if template_name.endswith(".html") else output_content

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        # A gated document must never reach the site, whatever site_src/ or a theme did.
        found = leaks.find(Path(config.site_dir), self.model)
        if found:
            raise PluginError("gated content found in the built site: " + "; ".join(found)
                              + ". Remove it from site_src/ or the theme; nothing was published")

    def on_serve(self, server: LiveReloadServer, /, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        server.watch(str(self._project_dir(config) / "trust"))
        return server
