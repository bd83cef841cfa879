"""`trustcenter build`: validate, build into a temporary folder, check for leaks, swap into place."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from generator.content import model
from generator.content.diagnostics import Diagnostic
from generator.content.project import Project
from generator.content.source import ContentSource
from generator.content.validate import validate
from generator.errors import BuildError, ContentError, ProjectError


@dataclasses.dataclass(frozen=True)
class BuildReport:
    site_dir: Path
    pages: int
    files: int
    seconds: float
    diagnostics: list[Diagnostic]
    trust_center: model.TrustCenter  # what was built, for callers that go on (trustcenter demo)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _mkdocs_log() -> Iterator[_Collect]:
    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def build(project: Project, site_dir: Path | None = None, *, strict: bool = False, gated_files: bool = True,
          trust_center: model.TrustCenter | None = None, base: ContentSource | None = None) -> BuildReport:
    """Build the site into site_dir (default: the site_dir of mkdocs.yml) atomically.

    Raises ContentError when trust/ has errors and BuildError when MkDocs fails or a gated
    document would leak; in both cases nothing is written to site_dir.
    """
    from mkdocs.commands import build as mkdocs_build  # lazy: check and link commands do not need MkDocs
    from mkdocs.config import load_config
    from mkdocs.exceptions import Abort, MkDocsException

    started = time.perf_counter()
    config_file = project.config_file
    if config_file is None:
        raise ProjectError(f"no mkdocs.yml in {project.root}; run from the project root or pass --project")
    diagnostics: list[Diagnostic] = []
    if trust_center is None:
        result = validate(project, strict=strict, gated_files=gated_files, base=base)
        if result.model is None:
            raise ContentError(result.diagnostics, project.display(project.trust_dir))
        trust_center, diagnostics = result.model, result.diagnostics

    with _mkdocs_log() as log:
        try:
            config = load_config(config_file=str(config_file))
        except (MkDocsException, Abort) as exc:
            details = "; ".join(log.messages[-3:])
            raise BuildError(f"mkdocs.yml is not valid: {exc}" + (f" ({details})" if details else "")) from None
    target = (Path(site_dir) if site_dir else Path(config.site_dir)).resolve()
    _refuse_unsafe_target(target, project, [Path(config.docs_dir), Path(config.theme.custom_dir or project.root)])
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        config.site_dir = str(staging)
        plugin = config.plugins.get("trustcenter")
        if plugin is None:
            raise BuildError("mkdocs.yml does not enable the trustcenter plugin; add '- trustcenter' under plugins")
        plugin.preloaded = trust_center
        with _mkdocs_log() as log:
            try:
                mkdocs_build.build(config)
            except (MkDocsException, Abort) as exc:
                details = "; ".join(log.messages[-5:])
                raise BuildError(f"the site build failed: {exc}" + (f" ({details})" if details else "")) from None
        pages = sum(1 for _ in staging.rglob("index.html"))
        files = sum(1 for p in staging.rglob("*") if p.is_file())
        _swap(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return BuildReport(target, pages, files, time.perf_counter() - started, diagnostics, trust_center)


def _refuse_unsafe_target(target: Path, project: Project, sources: list[Path]) -> None:
    """The site folder is replaced whole: it must not be, hold or sit inside the project's sources."""
    protected = [project.trust_dir, *sources]
    for source in (p.resolve() for p in protected):
        if target.is_relative_to(source) or source.is_relative_to(target):
            raise BuildError(f"refusing to build into {target}: it would replace {source}; choose another --site-dir")
    if target.is_dir() and any(target.iterdir()) and not (target / "index.html").is_file():
        raise BuildError(f"refusing to build into {target}: it holds files but no built site (no index.html), "
                         "and would be replaced whole; choose an empty or new --site-dir")


def _swap(staging: Path, target: Path) -> None:
    """Put the new site in place: readers see the old site or the new, never half of one nor none."""
    os.chmod(staging, 0o755)  # noqa: S103 - a published site is world-readable, like the one it replaces
    if target.exists() and _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous site
        return
    # Without an atomic exchange (not Linux, or a filesystem without it): two renames, with a
    # moment in between where the folder is missing.
    previous = None
    if target.exists():
        previous = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rmdir(previous)
        os.rename(target, previous)
    try:
        os.rename(staging, target)
    except OSError:
        if previous is not None:
            os.rename(previous, target)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE). False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return int(renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)) == 0
