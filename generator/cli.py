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
                raise UserError("trust/ has errors (listed above); fix them and run the command again") from None
            raise UserError(_describe(exc)) from None

    return wrapper  # type: ignore[return-value]


def _describe(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return text


def gated_files_option(func: F) -> F:
    return click.option(
        "--without-gated-files", "without_gated_files", is_flag=True,
        help="The gated files are not on this machine (a CI runner building the public site, with gated "
             "files kept out of git): do not look for them.",
    )(func)


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
@gated_files_option
@project_option
@friendly
def check(strict: bool, without_gated_files: bool, project_dir: Path) -> None:
    """Validate trust/: prints path:line:col: error|warning: ...; exit 1 on errors."""
    from generator import diagnostics, rules

    result = rules.validate(project_dir, strict=strict, gated_files=not without_gated_files)
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic))
    errors = len(diagnostics.errors(result.diagnostics))
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
@gated_files_option
@project_option
@friendly
def build(site_dir: Path | None, strict: bool, without_gated_files: bool, project_dir: Path) -> None:
    """Check trust/, build the static site atomically, and verify no gated document leaked."""
    from generator import build as site_build

    try:
        report = site_build.build(project_dir, site_dir, strict=strict, gated_files=not without_gated_files)
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


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/reference.md"),
              show_default=True, help="Where to write the reference.")
@click.option("--schemas", "schema_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the JSON Schemas into this folder (the project keeps them in generator/schemas).")
@friendly
def reference(output: Path, schema_dir: Path | None) -> None:
    """Write the field and command reference (and optionally the JSON Schemas) from the code."""
    from generator import reference as ref
    from generator import schema

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(ref.render(main), encoding="utf-8")
    click.echo(f"wrote {output}")
    if schema_dir is not None:
        for path in schema.write(schema_dir):
            click.echo(f"wrote {path}")


# ---------------------------------------------------------------- keys, links, the gate, the audit log


def _db_option(func: F) -> F:
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="The gate's SQLite database (default: .trustcenter/gate.sqlite3 in the project).",
    )(func)


@main.group()
def keys() -> None:
    """Ed25519 keys that sign document links (public halves in trust/keys/)."""


@keys.command("new")
@click.option("--kid", default=None, help="Key id: 1-40 of a-z, 0-9 and '-' (default: today's date and a random suffix).")
@click.option("--private-key", "private_key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the private key, outside the repository "
                   "(default: ~/.config/trustcenter/keys/<kid>.pem).")
@project_option
@friendly
def keys_new(kid: str | None, private_key_path: Path | None, project_dir: Path) -> None:
    """Make a key pair: the private key (mode 0600) outside the repo, the public key into trust/keys/<kid>.pem."""
    from generator import keys as signing_keys

    pair = signing_keys.create_key_pair(project_dir, kid=kid, private_key_path=private_key_path)
    click.echo(f"private key: {pair.private_key_path} (mode 0600; keep it secret, never commit it)")
    click.echo(f"public key:  {pair.public_key_path} (commit it; the gate trusts links signed with this key)")
    click.echo(f"to sign links with it: export {signing_keys.SIGNING_KEY_ENV}={pair.private_key_path}")


@main.group()
def link() -> None:
    """Personal, expiring links to gated documents."""


@link.command("create")
@click.argument("document")
@click.option("--to", "recipient", required=True, help="The recipient's email address.")
@click.option("--company", default=None, help="The recipient's company (default: the email's domain).")
@click.option("--expires", default=None, help="14d, 12h, 2w, or a date YYYY-MM-DD (valid through that day, UTC); "
                                              "default 14d, at most link_max_days.")
@click.option("--max-downloads", type=click.IntRange(1, 100), default=5, show_default=True,
              help="How many times the document may be downloaded through this link.")
@click.option("--nda-on-file", is_flag=True, help="An NDA with the recipient is already signed: no NDA page.")
@click.option("--private-key", "private_key_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="TRUSTCENTER_SIGNING_KEY", default=None,
              help="The signing key (default: the file named by TRUSTCENTER_SIGNING_KEY).")
@click.option("--gate-url", default=None, help="The gate's address (default: gate_url in trust/company.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print an object with url, link_id, document, recipient, expires.")
@project_option
@friendly
def link_create(document: str, recipient: str, company: str | None, expires: str | None, max_downloads: int,
                nda_on_file: bool, private_key_path: Path | None, gate_url: str | None, as_json: bool,
                project_dir: Path) -> None:
    """Print a personal URL for DOCUMENT: <gate URL>/access/<token>."""
    from generator import links

    if private_key_path is None:
        raise UserError("no signing key: pass --private-key or set TRUSTCENTER_SIGNING_KEY to the file "
                        "`trustcenter keys new` wrote")
    request = links.LinkRequest(document, recipient, company, expires, max_downloads, nda_on_file)
    created = links.create(project_dir, request, private_key_path=private_key_path, gate_url=gate_url)
    if as_json:
        import json

        click.echo(json.dumps(created.as_json(), indent=2))
    else:
        click.echo(created.url)
        click.echo(f"link {created.link.link_id} for {created.link.recipient}: {created.link.document_id}, "
                   f"expires {created.as_json()['expires']}", err=True)


@link.command("revoke")
@click.argument("link_id")
@click.option("--reason", default="withdrawn by the sender", show_default=True, help="Kept in the audit log.")
@_db_option
@project_option
@friendly
def link_revoke(link_id: str, reason: str, db_path: Path | None, project_dir: Path) -> None:
    """Withdraw a link at once; holds across gate restarts."""
    from generator import audit, links

    if not links.LINK_ID_RE.fullmatch(link_id):
        raise UserError(f"'{link_id[:70]}' is not a link id; copy it from `link create --json` or `trustcenter audit`")
    path = db_path or project_dir / audit.DEFAULT_DB
    if not path.is_file():
        # Revoking before the gate first runs is allowed; a wrong --db or --project would go unnoticed.
        click.echo(f"note: created a new audit database at {path}; the gate must use this one (--db)", err=True)
    log = audit.AuditLog(path)
    if not log.revoke(link_id, " ".join(reason.split())[:500]):
        click.echo(f"link {link_id} was already revoked")
    elif log.seen(link_id):
        click.echo(f"revoked link {link_id}")
    else:
        click.echo(f"revoked link {link_id} (the gate has not seen it yet; check the id if that is unexpected)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@_db_option
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The built static site served at every other path (default: site/ in the project).")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Requests handled at once.")
@click.option("--trusted-proxy", default=None, metavar="ADDRESS",
              help="The reverse proxy in front (e.g. 127.0.0.1): its X-Forwarded-For/-Proto/-Host are believed.")
@click.option("--insecure-cookies", is_flag=True,
              help="Cookies without Secure, for plain http to a host other than localhost (testing only).")
@project_option
@friendly
def gate(host: str, port: int, db_path: Path | None, site_dir: Path | None, threads: int, trusted_proxy: str | None,
         insecure_cookies: bool, project_dir: Path) -> None:
    """Run the gate (and serve the built site beside it) with waitress."""
    from generator import gate as gate_app
    from generator import keys

    settings = gate_app.settings_for(project_dir, site_dir=site_dir, db_path=db_path,
                                     secure_cookies=not insecure_cookies)
    if skipped := keys.demo_kids(project_dir):
        click.echo(f"note: not trusting the demo key(s) {', '.join(skipped)} in trust/keys/; only "
                   "`trustcenter demo` honours demo links", err=True)
    if not settings.trusted_keys:
        raise UserError("there are no public keys in trust/keys/, so every link would be refused; "
                        "run `trustcenter keys new`")
    if not (settings.site_dir / "index.html").is_file():
        click.echo(f"warning: {settings.site_dir} holds no built site; run `trustcenter build` "
                   "(the gate still serves links)", err=True)
    click.echo(f"gate on http://{host}:{port}/  (site: {settings.site_dir}, audit: {settings.db_path})")
    gate_app.serve(settings, host=host, port=port, threads=threads, trusted_proxy=trusted_proxy)


@main.command("audit")
@_db_option
@click.option("--link", "link_id", default=None, help="Only this link's events.")
@click.option("--format", "style", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--verify", is_flag=True, help="Check the hash chain instead of listing events.")
@project_option
@friendly
def audit_log(db_path: Path | None, link_id: str | None, style: str, verify: bool, project_dir: Path) -> None:
    """Who opened, accepted and downloaded; every denied attempt."""
    from generator import audit

    path = db_path or project_dir / audit.DEFAULT_DB
    if not path.is_file():
        raise UserError(f"there is no audit database at {path}; the gate makes it when it starts (or pass --db)")
    log = audit.AuditLog(path)
    if verify:
        check = log.verify_chain()
        if not check.ok:
            raise UserError(f"the audit log has been tampered with: {check.problem}")
        click.echo(f"audit log intact: {check.events} events, head {check.head}")
        return
    click.echo(audit.format_rows(log.events(link_id), style))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve site and gate on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--to", "recipient", default="demo.reviewer@prospect.example", show_default=True,
              help="Recipient of the demo link.")
@click.option("--company", default="Prospect Ltd", show_default=True, help="The recipient's company.")
@project_option
@friendly
def demo(host: str, port: int, recipient: str, company: str, project_dir: Path) -> None:
    """Build the site, make a demo signing key on first run, print a link to the SOC 2 report, serve both."""
    import socket

    from generator import build as site_build
    from generator import gate as gate_app
    from generator import keys, links

    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            raise UserError(f"port {port} on {host} is in use (a previous demo still running?); stop it or "
                            f"pass --port")
    try:
        report = site_build.build(project_dir)
    except site_build.BuildError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"built {report.pages} pages into {report.site_dir} in {report.seconds:.1f} s")
    private_key = keys.ensure_demo_key(project_dir)
    base = f"http://{host}:{port}"
    document = next((d.id for d in report.trust_center.gated_documents), None)
    if document is None:
        raise UserError("trust/documents.yaml has no gated document to make a demo link for")
    link = links.create(project_dir, links.LinkRequest(document, recipient, company), private_key_path=private_key,
                        gate_url=base)
    click.echo(f"\nsite:  {base}/\n"
               f"demo link to '{document}' for {recipient} ({company}), valid until {link.link.expires_at:%Y-%m-%d %H:%M} UTC:\n"
               f"{link.url}\n\n"
               f"mint more: .venv/bin/trustcenter link create {document} --to you@example.com "
               f"--private-key {private_key} --gate-url {base}\n"
               f"audit:     .venv/bin/trustcenter audit\n"
               "stop with Ctrl+C\n")
    gate_app.serve(gate_app.settings_for(project_dir, include_demo_keys=True), host=host, port=port)


# ---------------------------------------------------------------- change notices and new trust centers


@main.command()
@click.option("--since", default=None, metavar="REV",
              help="Compare from this revision (default: the merge base with origin/main, else HEAD~1).")
@click.option("--until", default=None, metavar="REV", help="Compare up to this revision (default: the working tree).")
@click.option("--format", "style", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="markdown suits a pull-request comment or $GITHUB_STEP_SUMMARY.")
@project_option
@friendly
def changes(since: str | None, until: str | None, style: str, project_dir: Path) -> None:
    """Describe what changed in trust/ between two git revisions: subprocessors, certifications, controls..."""
    from generator import changes as content_changes
    from generator import history

    try:
        report = content_changes.changes(project_dir, since, until)
    except history.GitError as exc:
        raise UserError(str(exc)) from None
    click.echo(content_changes.render(report, style), nl=False)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--company", default="Example Co", show_default=True, help="The company's name, as customers know it.")
@friendly
def init(directory: Path, company: str) -> None:
    """Create a new trust center repository in DIRECTORY (which must be empty or not exist)."""
    from generator import scaffold

    created = scaffold.create(directory, company)
    click.echo(f"created a trust center for {company} in {directory} ({len(created)} files)")
    click.echo(f"next: cd {directory} && git init && git add . && git commit -m 'Trust center' ; "
               "then edit trust/ and run `trustcenter check` and `trustcenter serve`")
