"""What a gate runs with: the project, the site folder, the database and its audit key, the session secret
and the trusted keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content.project import Project
from generator.gate import audit, state

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SECRET_ENV = "TRUSTCENTER_GATE_SECRET"  # noqa: S105 - the name of a variable, not a secret
AUDIT_KEY_ENV = "TRUSTCENTER_AUDIT_KEY"
SESSION_SECRET_FILE = "gate-session.key"  # noqa: S105 - a file name
AUDIT_KEY_FILE = "audit.key"


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """Everything the gate needs; tests build one per test on tmp_path."""

    project: Project
    site_dir: Path
    db_path: Path
    audit_key: bytes  # keys the audit chain; kept outside the database
    secret_key: bytes  # signs the session cookie
    trusted_keys: Mapping[str, Ed25519PublicKey]  # by kid: the only keys a link may be signed with
    create_db: bool = False  # make the database if it does not exist (`gate --init`, the demo)
    serve_site: bool = True  # serve the built site at every other path (False: the gate on an origin of its own)
    secure_cookies: bool = True
    failure_limit: int = 20
    failure_window_seconds: float = 300.0
    session_hours: float = 12.0


def default_db(project: Project) -> Path:
    return project.state_dir / audit.DB_FILE


def audit_key(project: Project, *, create: bool = False) -> bytes:
    """The key of the audit chain: TRUSTCENTER_AUDIT_KEY, else audit.key in the state folder."""
    return state.secret(project.state_dir / AUDIT_KEY_FILE, AUDIT_KEY_ENV, create=create)


def open_log(project: Project, db_path: Path | None, *, create: bool = False) -> audit.AuditLog:
    """The project's audit store, for the CLI (`audit`, `link revoke`) as for the gate."""
    path = db_path or default_db(project)
    if not create and not path.is_file():
        raise audit.missing(path)  # before the key: the database is what was asked for
    return audit.AuditLog(path, audit_key(project, create=create), create=create)


def settings_for(project: Project, *, site_dir: Path | None = None, db_path: Path | None = None,
                 secure_cookies: bool = True, include_demo_keys: bool = False, create_db: bool = False,
                 serve_site: bool = True) -> GateSettings:
    """Settings for a project on disk: keys from the content's keys/ (the demo key only for `trustcenter demo`),
    the session secret and audit key in the state folder (or the environment)."""
    from generator.gate import keys

    folder = project.state_dir
    db_path = db_path or default_db(project)
    if not create_db and not db_path.is_file():
        raise audit.missing(db_path)  # before the key: the database is what is missing
    return GateSettings(
        project=project,
        site_dir=site_dir or project.site_dir,
        db_path=db_path,
        audit_key=audit_key(project, create=create_db),
        secret_key=state.secret(folder / SESSION_SECRET_FILE, SECRET_ENV, create=True),
        trusted_keys=keys.load_trusted_keys(project, include_demo=include_demo_keys),
        create_db=create_db,
        serve_site=serve_site,
        secure_cookies=secure_cookies,
    )
