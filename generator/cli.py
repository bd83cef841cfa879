"""The `trustcenter` command: one short function per command; the work lives in the modules."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """A problem the user can fix: printed as one sentence, exit 1, no traceback."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def friendly(func: F) -> F:
    """Turn expected failures into one clear sentence unless --debug is given."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.find_root().params.get("debug"):
                raise
            from generator.diagnostics import ContentError

            if isinstance(exc, ContentError):
                for diagnostic in exc.diagnostics:
                    click.echo(str(diagnostic), err=True)
            raise UserError(_describe(exc)) from None

    return wrapper  # type: ignore[return-value]


def _describe(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return text


def project_option(func: F) -> F:
    return click.option(
        "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
        show_default=True, help="The project root (the folder that holds trust/ and mkdocs.yml).",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(package_name="trustcenter")
def main(debug: bool) -> None:
    """Trust center generator: YAML in trust/ to a static site, and a gate for NDA-only reports."""


@main.command()
@click.option("--strict", is_flag=True, help="Treat warnings (stale reports, expired certificates...) as errors.")
@project_option
@friendly
def check(strict: bool, project_dir: Path) -> None:
    """Validate trust/: prints path:line:col: error|warning: ...; exit 1 on errors."""
    from generator import rules

    result = rules.validate(project_dir, strict=strict)
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=not result.ok)
    errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
    warnings = len(result.diagnostics) - errors
    summary = f"{errors} error(s), {warnings} warning(s)"
    if not result.ok:
        click.echo(f"check failed: {summary}", err=True)
        sys.exit(1)
    click.echo(f"trust/ is valid: {summary}")


@main.command()
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the site (default: site_dir of mkdocs.yml, i.e. site/).")
@click.option("--strict", is_flag=True, help="Treat content warnings as errors.")
@project_option
@friendly
def build(site_dir: Path | None, strict: bool, project_dir: Path) -> None:
    """Check trust/, build the static site atomically, and verify no gated document leaked."""
    from generator import build as site_build

    try:
        report = site_build.build(project_dir, site_dir, strict=strict)
    except site_build.BuildError as exc:
        raise UserError(f"{exc}. The previous site was left untouched.") from None
    for diagnostic in report.diagnostics:
        click.echo(str(diagnostic), err=True)
    click.echo(f"built {report.pages} pages ({report.files} files) into {report.site_dir} in {report.seconds:.2f} s; "
               "no gated document in it")


@main.command()
@click.option("--dev-addr", default="127.0.0.1:8000", show_default=True, help="Address to serve the preview on.")
@project_option
@friendly
def serve(dev_addr: str, project_dir: Path) -> None:
    """Live preview: edits in trust/, site_src/ or overrides/ rebuild the page."""
    from mkdocs.commands import serve as mkdocs_serve

    from generator import rules

    result = rules.validate(project_dir)
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=True)
    if not result.ok:
        raise UserError("trust/ has errors (listed above); fix them and run serve again")
    mkdocs_serve.serve(config_file=str(project_dir / "mkdocs.yml"), dev_addr=dev_addr, watch_theme=True)
