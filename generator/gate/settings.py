"""What a gate runs with: the project, the site folder, the database and its audit key, the session secret,
which keys it may trust and how often it looks for changed files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content.project import Project
from generator.gate import audit, db, state
from generator.gate.mail import MailSettings
from generator.gate.store import Store

if TYPE_CHECKING:
    from generator.gate.desk import Desk

SECRET_ENV = "TRUSTCENTER_GATE_SECRET"  # noqa: S105 - the name of a variable, not a secret
AUDIT_KEY_ENV = "TRUSTCENTER_AUDIT_KEY"
SESSION_SECRET_FILE = "gate-session.key"  # noqa: S105 - a file name
AUDIT_KEY_FILE = "audit.key"
# How often a running gate looks for changed keys, content and NDA: a stat of each file of the content folder.
RELOAD_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """Everything the gate needs; tests build one per test on tmp_path. The keys, the content and the NDA are
    not here: the gate reads them from the project, and again when they change (`generator.gate.reload`)."""

    project: Project
    site_dir: Path
    db_path: db.Location  # a SQLite file, or a PostgreSQL URL (several instances)
    audit_key: bytes  # keys the audit chain; kept outside the database
    secret_key: bytes  # signs the session cookie
    include_demo_keys: bool = False  # trust demo-... keys in trust/keys/ (only `trustcenter demo`)
    reload_seconds: float = RELOAD_SECONDS  # how often to look for changed files (SIGHUP: at once)
    checkpoints: Path | None = None  # a file of `audit --checkpoint` lines the log must agree with at start
    create_db: bool = False  # make the database if it does not exist (`gate --init`, the demo)
    serve_site: bool = True  # serve the built site at every other path (False: the gate on an origin of its own)
    secure_cookies: bool = True
    failure_limit: int = 20
    failure_window_seconds: float = 300.0
    session_hours: float = 12.0
    public_url: str | None = None  # where links in e-mails point (default: gate_url, else trust_center_url)
    mail: MailSettings | None = None  # None: no e-mail, so the request form and staff sign-in are closed
    webhooks_file: Path | None = None  # endpoints and secrets of webhooks (`gate --webhooks`, TRUSTCENTER_WEBHOOKS)


def default_db(project: Project) -> db.Location:
    """The database the gate and the CLI use unless --db names one: TRUSTCENTER_DB (a path or a PostgreSQL URL),
    else gate.sqlite3 in the project's state folder."""
    return db.default_location(project.state_dir)


def audit_key(project: Project, *, create: bool = False) -> bytes:
    """The key of the audit chain: TRUSTCENTER_AUDIT_KEY, else audit.key in the state folder."""
    return state.secret(project.state_dir / AUDIT_KEY_FILE, AUDIT_KEY_ENV, create=create)


def open_log(project: Project, db_path: db.Location | None, *, create: bool = False) -> audit.AuditLog:
    """The project's audit store, for the CLI (`audit`, `link revoke`) as for the gate."""
    path = db_path or default_db(project)
    if not create and not db.exists(path):
        raise db.missing(path)  # before the key: the database is what was asked for
    return audit.AuditLog(path, audit_key(project, create=create), create=create)


def open_store(project: Project, db_path: db.Location | None, *, create: bool = False) -> Store:
    """The project's whole store (requests, grants, outbox, audit), for the CLI as for the gate."""
    path = db_path or default_db(project)
    if not create and not db.exists(path):
        raise db.missing(path)
    return Store(path, audit_key(project, create=create), create=create)


def settings_for(project: Project, *, site_dir: Path | None = None, db_path: db.Location | None = None,
                 secure_cookies: bool = True, include_demo_keys: bool = False, create_db: bool = False,
                 serve_site: bool = True, reload_seconds: float = RELOAD_SECONDS,
                 checkpoints: Path | None = None, public_url: str | None = None, mail: MailSettings | None = None,
                 webhooks_file: Path | None = None) -> GateSettings:
    """Settings for a project on disk: the session secret and audit key in the state folder (or the environment);
    demo keys in the content's keys/ trusted only when asked for (`trustcenter demo`)."""
    folder = project.state_dir
    db_path = db_path or default_db(project)
    if not create_db and not db.exists(db_path):
        raise db.missing(db_path)  # before the key: the database is what is missing
    return GateSettings(
        project=project,
        site_dir=site_dir or project.site_dir,
        db_path=db_path,
        audit_key=audit_key(project, create=create_db),
        secret_key=state.secret(folder / SESSION_SECRET_FILE, SECRET_ENV, create=True),
        include_demo_keys=include_demo_keys,
        reload_seconds=reload_seconds,
        checkpoints=checkpoints,
        create_db=create_db,
        serve_site=serve_site,
        secure_cookies=secure_cookies,
        public_url=public_url,
        mail=mail if mail is not None else MailSettings.from_env(),
        webhooks_file=webhooks_file,
    )


def desk_for(project: Project, db_path: db.Location | None, *, public_url: str | None = None) -> Desk:
    """The access desk for a CLI command: the project's store and content, links to the gate's address, mail
    from the environment (TRUSTCENTER_SMTP_URL). Webhook events it queues go to every endpoint the gate has:
    the desk needs no webhooks file (`webhooks.emit`)."""
    from generator.content.validate import load_valid
    from generator.gate.desk import Desk
    from generator.gate.mail import sender_for

    content = load_valid(project)
    company = content.company
    return Desk(open_store(project, db_path), content,
                base_url=public_url or company.gate_url or company.trust_center_url,
                sender=sender_for(MailSettings.from_env(), company.display_name, company.trust_center_url))
