"""Where a trust center's parts live: the content folder, the hand-written pages, the site, the theme.

Read from mkdocs.yml without MkDocs, so that `check` and `link create` know the content folder
(the plugin's `trust_dir` option) in a few milliseconds. MkDocs reads the same file for the build;
the plugin's own typed options (`generator.site.config`) use the same names and defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import yaml

from generator.content.reader import too_deep
from generator.errors import ProjectError

CONFIG_FILE = "mkdocs.yml"
PLUGIN_NAME = "trustcenter"
DEFAULT_TRUST_DIR = "trust"
# MkDocs' own defaults, used when mkdocs.yml does not say.
MKDOCS_DEFAULT_DOCS_DIR = "docs"
MKDOCS_DEFAULT_SITE_DIR = "site"
# Without any mkdocs.yml (a bare content folder, e.g. in tests of `check`): this project's layout.
DEFAULT_DOCS_DIR = "site_src"
MAX_CONFIG_BYTES = 1024 * 1024
STATE_DIR_ENV = "TRUSTCENTER_STATE_DIR"


@dataclasses.dataclass(frozen=True)
class Project:
    """The folders of one trust center, all absolute."""

    root: Path  # the folder holding mkdocs.yml (or trust/)
    trust_dir: Path  # the content: YAML, nda.md, keys/, documents
    docs_dir: Path  # MkDocs docs_dir: hand-written pages
    site_dir: Path  # where `build` puts the site
    custom_dir: Path | None  # the owner's theme overrides (Material's custom_dir)
    config_file: Path | None  # mkdocs.yml, if there is one
    allow_raw_html: bool = False  # the plugin's opt-in to raw HTML and scripts in the pages folder

    def with_config(self, raw: bytes | None) -> Project:
        """This project as another version of its mkdocs.yml describes it (the content folder it names), e.g.
        at a base revision where the content folder had another name."""
        if raw is None:
            return dataclasses.replace(self, trust_dir=self.root / DEFAULT_TRUST_DIR)
        trust_dir = plugin_options(_parse_config(raw, CONFIG_FILE)).get("trust_dir") or DEFAULT_TRUST_DIR
        return dataclasses.replace(self, trust_dir=self.root / trust_dir)

    @classmethod
    def at(cls, root: Path) -> Project:
        """The project whose root is `root`, as its mkdocs.yml describes it."""
        root = root.resolve()
        config_file = root / CONFIG_FILE
        if not config_file.is_file():
            return cls(root, root / DEFAULT_TRUST_DIR, root / DEFAULT_DOCS_DIR, root / MKDOCS_DEFAULT_SITE_DIR,
                       None, None)
        config = _read_config(config_file)
        theme_config = config.get("theme")
        theme: dict[str, Any] = theme_config if isinstance(theme_config, dict) else {}
        custom_dir = _folder(theme.get("custom_dir"), "theme.custom_dir")
        return cls(
            root=root,
            trust_dir=root / (plugin_options(config).get("trust_dir") or DEFAULT_TRUST_DIR),
            docs_dir=root / (_folder(config.get("docs_dir"), "docs_dir") or MKDOCS_DEFAULT_DOCS_DIR),
            site_dir=root / (_folder(config.get("site_dir"), "site_dir") or MKDOCS_DEFAULT_SITE_DIR),
            custom_dir=root / custom_dir if custom_dir else None,
            config_file=config_file,
            allow_raw_html=plugin_options(config).get("allow_raw_html") is True,
        )

    @property
    def state_dir(self) -> Path:
        """The gate's own folder for this project (database, secrets, the demo's signing key): outside the
        project, so no content edit, build or `gate --site-dir` can publish it. $TRUSTCENTER_STATE_DIR,
        else $XDG_STATE_HOME/trustcenter/<project>-<hash> (~/.local/state/...)."""
        configured = os.environ.get(STATE_DIR_ENV)
        if configured:
            return Path(configured).expanduser().absolute()
        base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
        name = re.sub(r"[^a-z0-9]+", "-", self.root.name.lower()).strip("-") or "project"
        digest = hashlib.sha256(str(self.root).encode("utf-8", "surrogateescape")).hexdigest()[:10]
        return base / "trustcenter" / f"{name}-{digest}"

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the project root where it lies inside."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def content_path(self, name: str) -> str:
        """How messages name a file of the content folder, e.g. trust/company.yaml."""
        return f"{self.display(self.trust_dir)}/{name}"

    def require_content(self) -> None:
        if not self.trust_dir.is_dir():
            raise ProjectError(f"no {self.display(self.trust_dir)}/ folder in {self.root}; run the command from the "
                               "project root (or pass --project), or start one with `trustcenter init`")


def plugin_options(config: dict[str, Any]) -> dict[str, Any]:
    """The trustcenter plugin's options in a parsed mkdocs.yml ({} when it is listed without options)."""
    plugins = config.get("plugins")
    entries = plugins if isinstance(plugins, list) else [plugins] if isinstance(plugins, dict) else []
    for entry in entries:
        if isinstance(entry, dict) and PLUGIN_NAME in entry:
            options = entry[PLUGIN_NAME]
            if options is None:
                return {}
            if not isinstance(options, dict):
                raise ProjectError(f"{CONFIG_FILE}: the options of the {PLUGIN_NAME} plugin must be a mapping")
            trust_dir = options.get("trust_dir")
            if trust_dir is not None:
                _folder(trust_dir, "plugins.trustcenter.trust_dir")
            return options
    return {}


def _folder(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ProjectError(f"{CONFIG_FILE}: {name} must be a folder name")
    # Folders whose files are published (pages, theme) or hold the content stay inside the project; the site
    # itself may be written anywhere.
    inside = name.endswith(("trust_dir", "docs_dir", "custom_dir"))
    if inside and (value.startswith(("/", "~")) or ".." in value.replace("\\", "/").split("/")):
        raise ProjectError(f"{CONFIG_FILE}: {name} '{value}' must be a folder inside the project, relative to "
                           f"{CONFIG_FILE}")
    return value


# libyaml's parser where PyYAML has it: mkdocs.yml is read on every command.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ConfigLoader(_Base):  # type: ignore[valid-type,misc]
    """Reads mkdocs.yml as MkDocs does for the keys used here; MkDocs' own tags (!ENV, !relative,
    !!python/name:...) stand for values this module never needs, so they read as None."""


def _ignore_tag(loader: _ConfigLoader, suffix: str, node: yaml.Node) -> None:
    return None


_ConfigLoader.add_multi_constructor("!", _ignore_tag)
_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", _ignore_tag)


def _read_config(config_file: Path) -> dict[str, Any]:
    try:
        with config_file.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ProjectError(f"cannot read {config_file} ({exc.strerror})") from None
    return _parse_config(raw, config_file)


def _parse_config(raw: bytes, config_file: Path | str) -> dict[str, Any]:
    if len(raw) > MAX_CONFIG_BYTES:
        raise ProjectError(f"{config_file} is over {MAX_CONFIG_BYTES // 1024} KiB; it cannot be an MkDocs configuration")
    try:
        # Measured on the event stream first: libyaml's composer recurses in C (see reader.too_deep).
        if too_deep(raw.decode("utf-8", "replace")) is not None:
            raise ProjectError(f"{CONFIG_FILE} is nested too deeply to be an MkDocs configuration")
        data = yaml.load(raw, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise ProjectError(f"{CONFIG_FILE}{where}: not valid YAML; fix it (MkDocs reads it too)") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{CONFIG_FILE} must be a mapping of settings")
    return data
