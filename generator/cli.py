"""The `trustcenter` command: one short function per command; the work lives in the modules."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from generator.content.project import Project
    from generator.gate.db import Location
    from generator.gate.desk import Desk

F = TypeVar("F", bound=Callable[..., Any])


class TrustCenterGroup(click.Group):
    """The command group that answers every error a user can fix in one place: one sentence, its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from generator.errors import ContentError, UserError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            if isinstance(exc, ContentError):
                for diagnostic in exc.diagnostics:
                    click.echo(str(diagnostic), err=True)
            if isinstance(exc, UserError):
                click.echo(f"error: {exc.message}", err=True)
                ctx.exit(exc.exit_code)
            if isinstance(exc, OSError):
                click.echo(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), err=True)
                ctx.exit(1)
            click.echo(f"error: unexpected failure ({type(exc).__name__}: {exc}); run the command again with "
                       "--debug to see where, and report it", err=True)
            ctx.exit(1)


def gated_files_option(func: F) -> F:
    return click.option(
        "--without-gated-files", "without_gated_files", is_flag=True,
        help="The gated files are not on this machine (a CI runner building the public site, with gated "
             "files kept out of git): do not look for them.",
    )(func)


def _project(ctx: click.Context, param: click.Parameter, value: Path) -> Any:
    from generator.content.project import Project

    return Project.at(value)


def base_option(func: F) -> F:
    return click.option(
        "--base", default=None, metavar="REV",
        help="The revision the change starts from: what was gated there cannot become public without a "
             "`declassified` decision (default: the merge base with origin/main, else HEAD~1, in a git "
             "repository).",
    )(func)


def project_option(func: F) -> F:
    return click.option(
        "--project", "project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
        show_default=True, callback=_project,
        help="The project root (the folder that holds mkdocs.yml and the content folder, trust/ by default).",
    )(func)


@click.group(cls=TrustCenterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(package_name="trustcenter")
def main(debug: bool) -> None:
    """Trust center generator: YAML in trust/ to a static site, and a gate for NDA-only reports."""


@main.command()
@click.option("--strict", is_flag=True, help="Treat warnings (stale reports, expired certificates...) as errors.")
@gated_files_option
@base_option
@project_option
def check(strict: bool, without_gated_files: bool, base: str | None, project: Project) -> None:
    """Validate trust/: prints path:line:col: error|warning: ... [rule]; exit 1 on errors."""
    from generator.content import diagnostics
    from generator.content.validate import base_revision, validate

    compared = base_revision(project, base)
    if compared.note:
        click.echo(f"note: {compared.note}", err=True)
    result = validate(project, strict=strict, gated_files=not without_gated_files, base=compared.source)
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic))
    errors = len(diagnostics.errors(result.diagnostics))
    warnings = len(result.diagnostics) - errors
    summary = f"{errors} error(s), {warnings} warning(s)"
    if result.suppressed:
        summary += f", {result.suppressed} suppressed in {project.content_path('config.yaml')}"
    if not result.ok:
        click.echo(f"check failed: {summary}", err=True)
        sys.exit(1)
    click.echo(f"{project.display(project.trust_dir)}/ is valid: {summary}")


@main.command()
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to put the site (default: site_dir of mkdocs.yml, i.e. site/).")
@click.option("--strict", is_flag=True, help="Treat content warnings as errors.")
@click.option("--signing-key", "signing_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sign trust.json and subprocessors.json with this private key (its public half in trust/keys/) "
                   "(default: $TRUSTCENTER_DATA_SIGNING_KEY, a PEM file or the PEM text itself, as a CI secret "
                   "holds it; with neither, the data is published unsigned).")
@gated_files_option
@base_option
@project_option
def build(site_dir: Path | None, strict: bool, signing_key: Path | None, without_gated_files: bool,
          base: str | None, project: Project) -> None:
    """Check trust/, build the static site atomically, sign its data, and verify no gated document or key leaked."""
    import contextlib

    from generator.content.validate import base_revision
    from generator.gate import keys
    from generator.site import build as site_build
    from generator.site import signing

    compared = base_revision(project, base)
    if compared.note:
        click.echo(f"note: {compared.note}", err=True)
    if signing_key is not None:
        keys.check_private_key_location(project, signing_key.expanduser().absolute())
    with signing.signing_key(signing_key) if signing_key is not None else contextlib.nullcontext():
        signer = signing.configured_signer(project.trust_dir)  # a bad key stops here, before a long build
        report = site_build.build(project, site_dir, strict=strict, gated_files=not without_gated_files,
                                  base=compared.source)
    for diagnostic in report.diagnostics:
        click.echo(str(diagnostic), err=True)
    click.echo(f"built {report.pages} pages ({report.files} files) into {report.site_dir} in {report.seconds:.2f} s; "
               "no gated document in it")
    signed = " and ".join(signing.SIGNED_FILES)
    if signer is None:
        click.echo(f"note: {signed} are unsigned: no data-signing key (set {signing.DATA_KEY_ENV} or pass "
                   "--signing-key; `trustcenter keys new --data` makes one)", err=True)
        return
    click.echo(f"signed {signed} with key {signer.kid}; keys in {signing.JWKS_FILE}", err=True)
    if signer.signs_links:
        click.echo(f"note: key {signer.kid} also signs links to gated documents; wherever the build runs (CI) it "
                   "could mint them. A data-only key cannot: `trustcenter keys new --data`", err=True)


@main.command()
@click.option("--dev-addr", default="127.0.0.1:8000", show_default=True, help="Address to serve the preview on.")
@project_option
def serve(dev_addr: str, project: Project) -> None:
    """Live preview: edits in trust/, site_src/ or overrides/ rebuild the page."""
    import logging

    from mkdocs.commands import serve as mkdocs_serve

    from generator.content.validate import load_valid
    from generator.errors import ProjectError

    load_valid(project)  # a clear, located message before MkDocs starts
    if project.config_file is None:
        raise ProjectError(f"no mkdocs.yml in {project.root}; run from the project root or pass --project")
    # MkDocs says where it serves, when it rebuilds and what went wrong through its logger: to the console.
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)-7s %(message)s"))
    for name in ("mkdocs", "trustcenter.preview"):
        logging.getLogger(name).addHandler(console)
        logging.getLogger(name).setLevel(logging.INFO)
    click.echo(f"preview of {project.display(project.trust_dir)}/ on http://{dev_addr}/ ; edits in "
               f"{project.display(project.trust_dir)}/, {project.display(project.docs_dir)}/ and the theme rebuild it; "
               "stop with Ctrl+C")
    mkdocs_serve.serve(config_file=str(project.config_file), dev_addr=dev_addr, watch_theme=True)


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=Path("docs/reference.md"), show_default=True,
              help="Where to write the reference; - prints it (for the generator installed here).")
@click.option("--schemas", "write_schemas", is_flag=True,
              help="Also rewrite the JSON Schemas the package ships (content files and trust.json) from the code.")
def reference(output: Path, write_schemas: bool) -> None:
    """Write the field, check and command reference (and the package's JSON Schemas) from the code."""
    from generator import reference as ref
    from generator.content import schema
    from generator.site import public

    if str(output) == "-":
        click.echo(ref.render(main), nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(ref.render(main), encoding="utf-8")
        click.echo(f"wrote {output}")
    if write_schemas:
        for path in schema.write():
            click.echo(f"wrote {path}")
        public.SCHEMA_FILE.write_text(public.schema_text(), encoding="utf-8")
        click.echo(f"wrote {public.SCHEMA_FILE}")


# ---------------------------------------------------------------- keys, links, the gate, the audit log


class _DatabaseType(click.ParamType["Location"]):
    """--db: the path of a SQLite file, or a postgresql:// URL (several gate instances share one database)."""

    name = "FILE|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Location:
        from generator.errors import UserError
        from generator.gate import db

        if isinstance(value, (Path, db.PostgresUrl)):
            return value
        try:
            return db.location(str(value))
        except UserError as error:
            self.fail(error.message, param, ctx)


DATABASE = _DatabaseType()


def _db_option(func: F) -> F:
    return click.option(
        "--db", "db_path", type=DATABASE, default=None,
        help="The gate's database: a SQLite file, or a postgresql://user@host/name URL that several gates share "
             "(default: $TRUSTCENTER_DB, else gate.sqlite3 in the project's state folder, "
             "$TRUSTCENTER_STATE_DIR or ~/.local/state/trustcenter/<project>-<hash>/).",
    )(func)


def _as_option(func: F) -> F:
    return click.option(
        "--as", "actor", default=None, metavar="EMAIL",
        help="Who acts: recorded as cli:<your user name> as EMAIL (default: cli:<your user name>).",
    )(func)


def _cli_actor(given: str | None = None) -> str:
    """Who a command acts as, for the audit: `cli:<OS user>`, and with --as `cli:<OS user> as <EMAIL>`. Never the
    bare address: --as is a claim anyone with a shell can make, and the audit must not show it as the staff member
    who signed in on /staff (whose actor is the address alone)."""
    import getpass

    from generator.errors import UserError

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment (a container without one)
        user = "unknown"
    shell = f"cli:{' '.join(user.split())[:64] or 'unknown'}"
    if given is None:
        return shell
    actor = " ".join(given.split())
    if not actor or len(actor) > 254 or not actor.isprintable():
        raise UserError("--as must name who acts in at most 254 printable characters, e.g. alice@example.com")
    return f"{shell} as {actor}"


def _print_json(value: object) -> None:
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _when(stamp: str | None) -> str:
    """A stored time for a table: to the minute, UTC."""
    return "" if not stamp else stamp[:16].replace("T", " ")


def _deliver(desk: Desk) -> None:
    """One delivery pass for what a command queued (the gate's worker retries whatever cannot go now, and fans
    webhook events out to its endpoints when this shell has no TRUSTCENTER_WEBHOOKS)."""
    from generator.errors import UserError
    from generator.gate import delivery, webhooks
    from generator.gate.mail import MailSettings

    try:
        worker = delivery.worker_for(desk.store.outbox, MailSettings.from_env(), webhooks.configured_endpoints())
        worker.deliver_due()
    except UserError as error:
        click.echo(f"warning: nothing was sent now ({error.message}); the messages wait in the outbox for the "
                   "gate", err=True)
        return
    from generator.gate.outbox import Kind

    waiting = [item.kind for item in desk.store.outbox.items(pending_only=True)]
    counts = [f"{count} {noun}" for count, noun in ((waiting.count(Kind.MAIL), "e-mail(s)"),
                                                   (waiting.count(Kind.WEBHOOK), "webhook event(s)")) if count]
    if counts:
        click.echo(f"note: {' and '.join(counts)} wait in the outbox; the running gate delivers them and retries "
                   "what fails", err=True)


@main.group()
def keys() -> None:
    """Ed25519 keys that sign document links and the site's data (public halves in trust/keys/)."""


@keys.command("new")
@click.option("--kid", default=None, help="Key id: 1-40 of a-z, 0-9 and '-' (default: today's date and a random suffix).")
@click.option("--private-key", "private_key_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the private key, outside the repository "
                   "(default: ~/.config/trustcenter/keys/<kid>.pem).")
@click.option("--data", "for_data", is_flag=True,
              help="A key that signs trust.json in CI (key id data-...): listed in /.well-known/jwks.json, never "
                   "accepted by the gate for a link.")
@project_option
def keys_new(kid: str | None, private_key_path: Path | None, for_data: bool, project: Project) -> None:
    """Make a key pair: the private key (mode 0600) outside the repo, the public key into trust/keys/<kid>.pem."""
    from generator.gate import keys as signing_keys

    if for_data or (kid or "").startswith(signing_keys.DATA_KID_PREFIX):
        from generator.site import signing

        pair = signing.create_data_key_pair(project, kid=kid, private_key_path=private_key_path)
        click.echo(f"private key: {pair.private_key_path} (mode 0600; keep it secret, never commit it)")
        click.echo(f"public key:  {pair.public_key_path} (commit it; published in {signing.JWKS_FILE}; the gate "
                   "never accepts a link signed with it)")
        click.echo(f"to sign the site's data in CI: store the private key file's content as the secret "
                   f"{signing.DATA_KEY_ENV} of the deploy job; here: export {signing.DATA_KEY_ENV}="
                   f"{pair.private_key_path}")
        return
    pair = signing_keys.create_key_pair(project, kid=kid, private_key_path=private_key_path)
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
@click.option("--db", "db_path", type=DATABASE, default=None,
              help="The gate's database to record the link in, so `link list` and the staff page show it (default: "
                   "$TRUSTCENTER_DB, else the gate's database in the project's state folder, if there is one; never "
                   "created).")
@project_option
def link_create(document: str, recipient: str, company: str | None, expires: str | None, max_downloads: int,
                nda_on_file: bool, private_key_path: Path | None, gate_url: str | None, as_json: bool,
                db_path: Location | None, project: Project) -> None:
    """Print a personal URL for DOCUMENT: <gate URL>/access/<token>."""
    from generator.errors import UserError
    from generator.gate import links

    if private_key_path is None:
        raise UserError("no signing key: pass --private-key or set TRUSTCENTER_SIGNING_KEY to the file "
                        "`trustcenter keys new` wrote")
    request = links.LinkRequest(document, recipient, company, expires, max_downloads, nda_on_file)
    record = links.Record(db_path, actor=_cli_actor())
    created = links.create(project, request, private_key_path=private_key_path, gate_url=gate_url, record=record)
    if as_json:
        import json

        # "recorded_in": null says what the note below says to people; stdout stays one JSON object.
        click.echo(json.dumps(created.as_json(), indent=2))
        return
    click.echo(created.url)
    if created.recorded_in is None:
        click.echo(f"note: the link is not recorded: there is no gate database at {record.path(project)}; "
                   "`trustcenter link list` and the staff page show it only once the gate has seen it, and without its "
                   "expiry (run this on the gate's host, or pass --db, to have it listed from now)", err=True)
    click.echo(f"link {created.link.link_id} for {created.link.recipient}: {created.link.document_id}, "
               f"expires {created.as_json()['expires']}; it opens the gate at {created.host}", err=True)


@link.command("revoke")
@click.argument("link_id")
@click.option("--reason", default="withdrawn by the sender", show_default=True, help="Kept in the audit log.")
@click.option("--create", is_flag=True, help="Create the gate database if there is none yet (revoking before the "
                                             "gate first runs); without it a missing database is an error.")
@_as_option
@_db_option
@project_option
def link_revoke(link_id: str, reason: str, create: bool, actor: str | None, db_path: Location | None,
                project: Project) -> None:
    """Withdraw a link at once (webhooks are told: grant.revoked); holds across gate restarts."""
    from generator.errors import UserError
    from generator.gate import settings, tokens

    if not tokens.LINK_ID_RE.fullmatch(link_id):
        raise UserError(f"'{link_id[:70]}' is not a link id; copy it from `link create --json` or `trustcenter audit`")
    store = settings.open_store(project, db_path, create=create)
    try:
        if not store.revoke_link(link_id, " ".join(reason.split())[:500], actor=_cli_actor(actor)):
            click.echo(f"link {link_id} was already revoked")
        elif store.log.seen(link_id):
            click.echo(f"revoked link {link_id}")
        else:
            click.echo(f"revoked link {link_id} (the gate has not seen it yet; check the id if that is unexpected)")
    finally:
        store.close()


@link.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print a list of objects with link_id, recipient, document, expires, status, the counts and "
                   "minted_elsewhere.")
@_db_option
@project_option
def link_list(as_json: bool, db_path: Location | None, project: Project) -> None:
    """The links recorded as minted in the gate's database, and those minted elsewhere that the gate has seen
    (expiry unknown: status unknown until it is refused as expired); whether each was opened, accepted, downloaded."""
    from generator.gate import audit, links, settings

    log = settings.open_log(project, db_path)
    try:
        minted = links.minted_links(log)
    finally:
        log.close()
    if as_json:
        _print_json([link.as_json() for link in minted])
        return
    click.echo(audit.table(
        ("link_id", "status", "recipient", "company", "document", "expires", "opened", "accepted", "downloads",
         "minted_by"),
        [(link.link_id, link.status.value, link.recipient, link.company, link.document,
          _when(link.expires) or "unknown", link.opened, link.accepted,
          f"{link.downloads}/{link.max_downloads}" if link.max_downloads else link.downloads,
          "elsewhere" if link.elsewhere else link.minted_by) for link in minted]))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@_db_option
@click.option("--init", "create_db", is_flag=True,
              help="Create the gate database (and its audit key) if there is none; without it a missing "
                   "database is an error, so a wrong --db never starts an empty log.")
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The built static site served at every other path (default: site/ in the project).")
@click.option("--no-site", is_flag=True,
              help="Serve no page of the site: the gate on a host name of its own, behind a proxy that serves the "
                   "site elsewhere (deploy/nginx.conf); / sends visitors to trust_center_url.")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Requests handled at once.")
@click.option("--trusted-proxy", default=None, metavar="ADDRESS",
              help="The reverse proxy in front (e.g. 127.0.0.1): its X-Forwarded-For/-Proto/-Host are believed.")
@click.option("--insecure-cookies", is_flag=True,
              help="Cookies without Secure, for plain http to a host other than localhost (testing only).")
@click.option("--reload-seconds", type=click.FloatRange(0.1, 86400), default=2.0, show_default=True,
              metavar="SECONDS", help="How often the running gate looks for changed keys, content and NDA, and "
                                      "reloads them (SIGHUP reloads at once).")
@click.option("--checkpoint", "checkpoints", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A file of `audit --checkpoint` lines (kept off this host): the gate starts only on a log that "
                   "agrees with every one, so an older copy of the database put back is refused.")
@click.option("--check", "check_only", is_flag=True,
              help="Check the deployment and serve nothing: content, gated files, trusted keys, database and audit "
                   "chain, site folder, session secret, mail server (connects, sends nothing), webhooks file; one "
                   "line each, exit 1 if any fails.")
@click.option("--webhooks", "webhooks_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The webhooks file: endpoints, their secrets and the events each receives (kept out of trust/; "
                   "default: $TRUSTCENTER_WEBHOOKS).")
@project_option
def gate(host: str, port: int, db_path: Location | None, create_db: bool, site_dir: Path | None, no_site: bool,
         threads: int, trusted_proxy: str | None, insecure_cookies: bool, reload_seconds: float, checkpoints: Path | None,
         check_only: bool, webhooks_file: Path | None,
         project: Project) -> None:
    """Run the gate (and serve the built site beside it) with waitress; it follows changes to trust/."""
    from generator.errors import GateConfigError
    from generator.gate import app as gate_app
    from generator.gate import keys, webhooks
    from generator.gate.settings import settings_for

    webhooks_file = webhooks_file or webhooks.configured_file()
    if check_only:
        from generator.gate import preflight
        from generator.gate.mail import MailSettings

        checks = preflight.run(project, db_path=db_path, create_db=create_db, site_dir=site_dir,
                               serve_site=not no_site, mail=MailSettings.from_env(), webhooks_file=webhooks_file)
        for line in (line for check in checks for line in check.lines()):
            click.echo(line)
        sys.exit(0 if all(check.ok for check in checks) else 1)
    settings = settings_for(project, site_dir=site_dir, db_path=db_path, secure_cookies=not insecure_cookies,
                            create_db=create_db, serve_site=not no_site, reload_seconds=reload_seconds,
                            checkpoints=checkpoints, webhooks_file=webhooks_file)
    if skipped := keys.demo_kids(project):
        click.echo(f"note: not trusting the demo key(s) {', '.join(skipped)} in "
                   f"{project.display(keys.keys_dir(project))}/; only `trustcenter demo` honours demo links", err=True)
    if not keys.load_trusted_keys(project):
        raise GateConfigError(f"there are no public keys in {project.display(keys.keys_dir(project))}/, so every "
                              "link would be refused; run `trustcenter keys new`")
    if settings.serve_site and not (settings.site_dir / "index.html").is_file():
        click.echo(f"warning: {settings.site_dir} holds no built site; run `trustcenter build` "
                   "(the gate still serves links)", err=True)
    app = gate_app.create_app(settings)
    site = settings.site_dir if settings.serve_site else "none, the gate's own origin"
    click.echo(f"gate on http://{host}:{port}/  (site: {site}, audit: {settings.db_path})")
    gate_app.log_to_console()  # refusals and why, reloads and their errors: stderr, timestamped
    gate_app.serve(app, host=host, port=port, threads=threads, trusted_proxy=trusted_proxy)


@main.command("outbox")
@click.option("--retry", is_flag=True, help="Make failed and waiting messages due again, then deliver once (with "
                                            "the mail server of $TRUSTCENTER_SMTP_URL, webhooks of "
                                            "$TRUSTCENTER_WEBHOOKS).")
@click.option("--purge", is_flag=True, help="Delete now what the gate keeps no longer (its worker does it hourly): "
                                            "messages sent or failed over 30 days ago, requests and subscriptions "
                                            "never confirmed, finished staff sign-ins; never the audit log.")
@click.option("--id", "item_id", type=click.IntRange(1), default=None, help="Only this message.")
@click.option("--json", "as_json", is_flag=True, help="Print a list of objects (never the bodies).")
@_db_option
@project_option
def outbox(retry: bool, purge: bool, item_id: int | None, as_json: bool, db_path: Location | None,
           project: Project) -> None:
    """The e-mails and webhook events the gate sent or is trying to send: status, attempts, last error."""
    from generator.errors import UserError
    from generator.gate import delivery, settings

    store = settings.open_store(project, db_path)
    try:
        if item_id is not None and store.outbox.item(item_id) is None:
            raise UserError(f"there is no message {item_id} in the outbox; `trustcenter outbox` lists them")
        if purge:
            click.echo(store.purge().summary(), err=True)
        if retry:
            for line in delivery.retry_and_deliver(store.outbox, item_id):
                click.echo(line, err=True)
        items = [store.outbox.item(item_id)] if item_id is not None else store.outbox.items(limit=50)
        click.echo(delivery.format_items([item for item in items if item is not None],
                                         "json" if as_json else "table"))
    finally:
        store.close()


@main.command("audit")
@_db_option
@click.option("--link", "link_id", default=None, help="Only this link's events.")
@click.option("--request", "request_id", default=None, help="Only this access request's events.")
@click.option("--grant", "grant_id", default=None, help="Only this grant's events.")
@click.option("--staff", "actor", default=None, metavar="EMAIL",
              help="Only the events of what this staff member did (on /staff, or by a command run --as them), or "
                   "`cli:<user>`, `rule:<name>`.")
@click.option("--format", "style", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--verify", is_flag=True, help="Check the keyed chain (and the checkpoints, if given) instead of "
                                             "listing events.")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --verify: also check the chain against the checkpoints in this file. Alone: verify the "
                   "chain and append a checkpoint of its head to this file (keep it off the gate's host).")
@project_option
def audit_log(db_path: Location | None, link_id: str | None, request_id: str | None, grant_id: str | None,
              actor: str | None, style: str, verify: bool, checkpoint_file: Path | None, project: Project) -> None:
    """Who opened, accepted and downloaded; every denied attempt; the chain's integrity."""
    from generator.errors import StoreError
    from generator.gate import audit, settings

    log = settings.open_log(project, db_path)
    if verify:
        pins = audit.Checkpoint.read_file(checkpoint_file) if checkpoint_file else []
        check = log.verify_chain(pins)
        if not check.ok:
            raise StoreError(f"the audit log has been tampered with: {check.problem}")
        against = f", consistent with {len(pins)} checkpoint(s)" if pins else ""
        click.echo(f"audit log intact: {check.events} events{against}, head {check.head}")
        return
    if checkpoint_file is not None:
        point = log.checkpoint()
        with checkpoint_file.open("a", encoding="utf-8") as handle:
            handle.write(point.line() + "\n")
        click.echo(f"checkpoint appended to {checkpoint_file}: {point.events} events, head {point.head}; copy it "
                   "somewhere the gate's host cannot write")
        return
    click.echo(audit.format_rows(log.events(link_id, request_id=request_id, grant_id=grant_id, actor=actor), style))


@main.command()
@click.argument("pdf", metavar="FILE.pdf", type=click.Path(path_type=Path))
@_db_option
@project_option
def trace(pdf: Path, db_path: Location | None, project: Project) -> None:
    """Name the link or grant, recipient, company and download time of a leaked copy from the marks the gate wove into it and the audit log; say which marks were found and how sure each is (exit 0 traced, 1 not)."""
    from generator.gate import settings
    from generator.gate import trace as tracing

    store = settings.open_store(project, db_path)
    try:
        found = tracing.trace(pdf, store, settings.audit_key(project))
    finally:
        store.close()
    for line in found.lines():
        click.echo(line)
    sys.exit(0 if found.traced else 1)


# ---------------------------------------------------------------- access requests and grants (staff review)


# RequestStatus's values, spelled out so that `--help` needs no import (tests/test_cli_access.py compares them).
REQUEST_STATUSES = ("unconfirmed", "pending", "approved", "denied", "expired")


@main.group("requests")
def requests_group() -> None:
    """Access requests from the gate's request form: list them, approve or deny the pending ones."""


@requests_group.command("list")
@click.option("--status", type=click.Choice(REQUEST_STATUSES), default=None, help="Only requests in this state.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a list of objects with id, email, company, documents, status, created.")
@_db_option
@project_option
def requests_list(status: str | None, as_json: bool, db_path: Location | None, project: Project) -> None:
    """The requests, newest first."""
    from generator.gate import audit, settings
    from generator.gate.grants import RequestStatus

    found = settings.open_store(project, db_path).access.requests(RequestStatus(status) if status else None)
    if as_json:
        _print_json([request.as_json() for request in found])
        return
    click.echo(audit.table(("id", "created", "status", "email", "name", "company", "documents"),
                           [(r.id, _when(r.created), r.status.value, r.email, r.name, r.company, ",".join(r.documents))
                            for r in found]))


@requests_group.command("approve")
@click.argument("request_id")
@click.option("--days", type=int, default=None, help="How long the grant lasts (default: default_days of "
                                                     "access.yaml; at most its max_days).")
@click.option("--documents", default=None, metavar="A,B",
              help="The gated documents to grant, by id, comma-separated (default: those asked for).")
@click.option("--nda-on-file", is_flag=True,
              help="An NDA with them is on file: their link shows no NDA (the requester's own claim is not enough).")
@_as_option
@_db_option
@project_option
def requests_approve(request_id: str, days: int | None, documents: str | None, nda_on_file: bool, actor: str | None,
                     db_path: Location | None, project: Project) -> None:
    """Approve a pending request: a grant, and its personal link mailed to the requester."""
    from generator.gate import settings

    by = _cli_actor(actor)
    chosen = None if documents is None else [doc.strip() for doc in documents.split(",") if doc.strip()]
    desk = settings.desk_for(project, db_path)
    grant = desk.approve(request_id, by, documents=chosen, days=days, nda_on_file=nda_on_file)
    click.echo(f"approved request {request_id}: grant {grant.id} gives {grant.email} {', '.join(grant.documents)} "
               f"until {grant.expires[:10]}; the link is mailed to them")
    _deliver(desk)


@requests_group.command("deny")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why, for the audit log (the requester is told it was not approved).")
@_as_option
@_db_option
@project_option
def requests_deny(request_id: str, reason: str, actor: str | None, db_path: Location | None, project: Project) -> None:
    """Deny a pending request; the requester is told."""
    from generator.errors import UserError
    from generator.gate import settings

    by = _cli_actor(actor)
    text = " ".join(reason.split())
    if not text or len(text) > 500 or not text.isprintable():
        raise UserError("--reason must say why in at most 500 printable characters")
    desk = settings.desk_for(project, db_path)
    request = desk.deny(request_id, by, text)
    click.echo(f"denied request {request.id} of {request.email}; they are told")
    _deliver(desk)


@main.group("grants")
def grants_group() -> None:
    """Grants made from approved requests: list them, revoke one."""


@grants_group.command("list")
@click.option("--json", "as_json", is_flag=True,
              help="Print a list of objects with id, email, documents, expires, status.")
@_db_option
@project_option
def grants_list(as_json: bool, db_path: Location | None, project: Project) -> None:
    """The grants, newest first, active or not."""
    from generator.gate import audit, settings

    found = settings.open_store(project, db_path).access.grants()
    if as_json:
        _print_json([grant.as_json() for grant in found])
        return
    click.echo(audit.table(("id", "status", "email", "company", "documents", "expires", "approved_by"),
                           [(g.id, g.status.value, g.email, g.company, ",".join(g.documents), _when(g.expires),
                             g.approved_by) for g in found]))


@grants_group.command("revoke")
@click.argument("grant_id")
@click.option("--reason", default=None, help="Kept in the audit log (default: revoked by whoever acts).")
@_as_option
@_db_option
@project_option
def grants_revoke(grant_id: str, reason: str | None, actor: str | None, db_path: Location | None,
                  project: Project) -> None:
    """Withdraw a grant at once: its link answers 410 from now on."""
    from generator.errors import UserError
    from generator.gate import settings

    by = _cli_actor(actor)
    text = " ".join((reason if reason is not None else f"revoked by {by}").split())
    if not text or len(text) > 500 or not text.isprintable():
        raise UserError("--reason must say why in at most 500 printable characters")
    desk = settings.desk_for(project, db_path)
    if not desk.revoke_grant(grant_id, by, text):
        click.echo(f"grant {grant_id} was already revoked")
        return
    click.echo(f"revoked grant {grant_id}: its link answers 410 from now on")
    _deliver(desk)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve site and gate on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--to", "recipient", default="demo.reviewer@prospect.example", show_default=True,
              help="Recipient of the demo link.")
@click.option("--company", default="Prospect Ltd", show_default=True, help="The recipient's company.")
@project_option
def demo(host: str, port: int, recipient: str, company: str, project: Project) -> None:
    """Build the site, make a demo signing key on first run, print a link to the SOC 2 report, serve both."""
    from generator.demo import run

    run.run(project, run.DemoOptions(host, port, recipient, company), click.echo)


# ---------------------------------------------------------------- change notices and new trust centers


@main.command()
@click.option("--since", default=None, metavar="REV",
              help="Compare from this revision (default: the merge base with origin/main, else HEAD~1).")
@click.option("--until", default=None, metavar="REV", help="Compare up to this revision (default: the working tree).")
@click.option("--format", "style", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="markdown suits a pull-request comment or $GITHUB_STEP_SUMMARY.")
@project_option
def changes(since: str | None, until: str | None, style: str, project: Project) -> None:
    """Describe what changed in trust/ between two git revisions: subprocessors, certifications, controls..."""
    from generator.publish import changes as content_changes

    report = content_changes.changes(project, since, until)
    click.echo(content_changes.render(report, style), nl=False)


@main.command()
@_db_option
@click.option("--dry-run", is_flag=True, help="Print what would be sent; record, queue and send nothing.")
@click.option("--base-url", default=None, metavar="URL",
              help="The gate's address for the unsubscribe links (default: gate_url in trust/company.yaml).")
@project_option
def notify(db_path: Location | None, dry_run: bool, base_url: str | None, project: Project) -> None:
    """Mail each new change notice (the Atom feed's entries) to confirmed subscribers, never one twice; run it after each deploy, where the gate's database is."""
    from generator.publish import notify as notices

    for line in notices.notify(project, db_path, base_url=base_url, dry_run=dry_run).lines():
        click.echo(line)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--company", default="Example Co", show_default=True, help="The company's name, as customers know it.")
def init(directory: Path, company: str) -> None:
    """Create a new trust center repository in DIRECTORY (which must be empty or not exist)."""
    from generator.publish import install, scaffold

    pin = install.installed()
    created = scaffold.create(directory, company, pin=pin)
    click.echo(f"created a trust center for {company} in {directory} ({len(created)} files)")
    click.echo(f"requirements.txt installs the generator as: {pin.requirement}")
    for warning in pin.warnings:
        click.echo(f"warning: {warning}", err=True)
    quoted = shlex.quote(str(directory))
    click.echo(f"next: cd {quoted} && git init -b main && git add . && git commit -m 'Trust center'\n"
               "then edit trust/, run `trustcenter check` and `trustcenter serve`, and push to publish")


# ---------------------------------------------------------------- checking a published trust center


@main.command()
@click.argument("target", metavar="SITE_DIR_OR_URL")
@click.option("--keys", "pinned_keys", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="FILE",
              help="Verify with these keys instead of the site's own JWKS: a jwks.json saved earlier, or a PEM "
                   "public key; repeatable. The site's JWKS comes from the same host as the data, so it shows "
                   "integrity, not who signed: a pinned key shows that.")
@click.option("--max-age", default="3d", show_default=True, metavar="DAYS",
              help="The oldest `generated` day accepted, as 3d or 2w (the sites are rebuilt daily).")
@click.option("--timeout", type=click.FloatRange(1, 300), default=20.0, show_default=True, metavar="SECONDS",
              help="For each request, with an address.")
@click.option("--json", "as_json", is_flag=True,
              help="Print an object with target, verified, keys and files (each: file, ok, problems, kid, "
                   "generated, schema_version).")
def verify(target: str, pinned_keys: tuple[Path, ...], max_age: str, timeout: float, as_json: bool) -> None:
    """Check a published trust center's data (a built site's folder or its address): trust.json and subprocessors.json signed by a key of /.well-known/jwks.json (or a pinned one), valid against the schema, and fresh; one line per file, then the verdict (exit 0 verified, 1 not)."""
    from generator import verify as checking

    verdict = checking.verify(target, pinned_keys=pinned_keys, max_age_days=checking.parse_max_age(max_age),
                              timeout=timeout)
    if as_json:
        _print_json(verdict.as_json())
    else:
        for line in verdict.lines():
            click.echo(line)
    sys.exit(0 if verdict.ok else 1)
