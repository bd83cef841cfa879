"""`trustcenter gate --check`: what the gate needs before it serves, checked without serving, one line each.

Each check reads what the gate would read at start (the same loader, key rule, site folder rule and audit
chain verification) and changes nothing: a missing database or session secret is reported, not made.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from generator.content import diagnostics, model
from generator.content.project import Project
from generator.errors import ContentError, DeliveryError, UserError
from generator.gate import audit, db, keys, reload, state
from generator.gate.mail import SMTP_URL_ENV, MailSettings, sender_address
from generator.gate.settings import AUDIT_KEY_ENV, SECRET_ENV, SESSION_SECRET_FILE, audit_key, default_db


@dataclasses.dataclass(frozen=True)
class Check:
    ok: bool
    summary: str  # one line: what was checked and what was found, or what is wrong and how to fix it
    details: tuple[str, ...] = ()  # e.g. the content's located errors

    def lines(self) -> list[str]:
        return [f"{'ok' if self.ok else 'error'}: {self.summary}", *(f"  {detail}" for detail in self.details)]


def run(project: Project, *, db_path: db.Location | None = None, create_db: bool = False, site_dir: Path | None = None,
        serve_site: bool = True, mail: MailSettings | None = None, webhooks_file: Path | None = None) -> list[Check]:
    """Every check, in the order the gate meets them at start. A mail line when mail is configured or needed
    (trust/access.yaml), a webhooks line when a webhooks file is configured."""
    db_path = db_path or default_db(project)
    content, content_check = _content(project)
    checks = [content_check, _keys(project), _database(project, db_path, create_db),
              _site(project, content, site_dir or project.site_dir, db_path, serve_site), _session_secret(project)]
    mail_check = _mail(project, content, mail)
    if mail_check is not None:
        checks.append(mail_check)
    if webhooks_file is not None:
        checks.append(_webhooks(webhooks_file))
    return checks


def _content(project: Project) -> tuple[model.TrustCenter | None, Check]:
    from generator.content.validate import load_valid

    folder = project.display(project.trust_dir)
    try:
        content = load_valid(project)
    except ContentError as error:
        errors = diagnostics.errors(error.diagnostics)
        return None, Check(False, f"content: {folder}/ has {len(errors)} error(s); fix them (`trustcenter check` "
                                  "lists them too)", tuple(str(problem) for problem in errors))
    except UserError as error:
        return None, Check(False, f"content: {error.message}")
    gated = [document.id for document in content.gated_documents]
    found = f"{len(gated)} gated document(s) present and watermarkable: {', '.join(gated)}" if gated else \
        "no gated documents, so the gate has nothing to serve"
    return content, Check(True, f"content: {folder}/ is valid; {found}")


def _keys(project: Project) -> Check:
    folder = project.display(keys.keys_dir(project))
    try:
        trusted = keys.load_trusted_keys(project)
    except UserError as error:
        return Check(False, f"keys: {error.message}")
    skipped = keys.demo_kids(project)
    note = (f"; not trusting the demo key(s) {', '.join(skipped)} (only `trustcenter demo` honours demo links)"
            if skipped else "")
    if not trusted:
        return Check(False, f"keys: there are no public keys in {folder}/, so every link would be refused; run "
                            f"`trustcenter keys new`{note}")
    return Check(True, f"keys: {len(trusted)} trusted in {folder}/: {', '.join(sorted(trusted))}{note}")


def _database(project: Project, path: db.Location, create_db: bool) -> Check:
    if not db.exists(path):
        if create_db:
            return Check(True, f"database: none at {path} yet; --init creates it (and its audit key) when the gate "
                               "starts")
        return Check(False, f"database: {db.missing(path).message}")
    try:
        log = audit.AuditLog(path, audit_key(project), create=False)
    except UserError as error:
        return Check(False, f"database: {error.message}")
    try:
        chain = log.verify_chain()
    finally:
        log.close()
    if not chain.ok:
        return Check(False, f"database: the audit log in {path} does not verify ({chain.problem}); the gate does not "
                            "start on it: keep the file for investigation and restore the last backup that verifies")
    key = f"${AUDIT_KEY_ENV}" if AUDIT_KEY_ENV in os.environ else "the audit key"
    return Check(True, f"database: {path}: {chain.events} event(s), the chain verifies with {key}")


def _site(project: Project, content: model.TrustCenter | None, site_dir: Path, db_path: db.Location,
          serve_site: bool) -> Check:
    if not serve_site:
        return Check(True, "site: not served (--no-site); / sends visitors to trust_center_url")
    gated = [content.document_path(document) for document in content.gated_documents] if content else []
    try:
        reload.refuse_unsafe_site_dir(project, site_dir, db_path, project.trust_dir, gated)
    except UserError as error:
        return Check(False, f"site: {error.message}")
    if not (site_dir / "index.html").is_file():
        return Check(False, f"site: {site_dir} holds no built site; run `trustcenter build` (or pass --no-site when "
                            "the site is served elsewhere)")
    return Check(True, f"site: {site_dir} holds a built site and nothing that must stay private")


def _session_secret(project: Project) -> Check:
    file = project.state_dir / SESSION_SECRET_FILE
    if SECRET_ENV not in os.environ and not file.exists():
        return Check(True, f"session secret: none yet; the gate makes {file} (0600) when it starts")
    try:
        state.secret(file, SECRET_ENV, create=False)
    except UserError as error:
        return Check(False, f"session secret: {error.message}")
    return Check(True, f"session secret: from ${SECRET_ENV}" if SECRET_ENV in os.environ else
                 f"session secret: {file}, private to this user")


def _mail(project: Project, content: model.TrustCenter | None, mail: MailSettings | None) -> Check | None:
    """The SMTP server answers as a delivery needs (connection, EHLO, STARTTLS, sign-in), and nothing is sent."""
    from generator.gate import delivery

    needed = content.access is not None if content is not None else (project.trust_dir / "access.yaml").is_file()
    if mail is None or not (mail.smtp_url or mail.console_dir):
        if not needed:
            return None
        return Check(False, f"mail: none configured, and {project.content_path('access.yaml')} opens the request "
                            f"form: the request form and staff sign-in need e-mail: set {SMTP_URL_ENV}")
    if mail.console_dir is not None:
        return Check(True, f"mail: printed to the console and kept in {mail.console_dir} (the demo); nothing is sent")
    try:
        transport = delivery.SmtpTransport(mail)
        answered = transport.probe()
    except UserError as error:
        return Check(False, f"mail: {error.message}")
    except DeliveryError as error:
        return Check(False, f"mail: {error.message}; e-mail would wait in the outbox (check {SMTP_URL_ENV})")
    sender = sender_address(mail, content.company.trust_center_url) if content is not None else mail.sender
    sent_as = f"; messages come from {sender}" if sender else ""
    return Check(True, f"mail: {answered} answers; nothing was sent{sent_as}")


def _webhooks(file: Path) -> Check:
    from generator.gate import webhooks

    try:
        endpoints = webhooks.load_endpoints(file)
    except UserError as error:
        return Check(False, f"webhooks: {error.message}")
    names = ", ".join(endpoint.name for endpoint in endpoints)
    return Check(True, f"webhooks: {file}: {len(endpoints)} endpoint(s){': ' + names if names else ''}")
