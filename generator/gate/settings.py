"""What a gate runs with: the project, the site folder, the database, the session secret and the trusted keys."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content.project import Project
from generator.errors import GateConfigError
from generator.gate import audit

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SECRET_ENV = "TRUSTCENTER_GATE_SECRET"  # noqa: S105 - the name of a variable, not a secret
MIN_SECRET_BYTES = 32
SESSION_SECRET_FILE = "gate-session.key"  # noqa: S105 - a file name


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """Everything the gate needs; tests build one per test on tmp_path."""

    project: Project
    site_dir: Path
    db_path: Path
    secret_key: bytes  # signs the session cookie
    trusted_keys: Mapping[str, Ed25519PublicKey]  # by kid: the only keys a link may be signed with
    secure_cookies: bool = True
    failure_limit: int = 20
    failure_window_seconds: float = 300.0
    session_hours: float = 12.0


def settings_for(project: Project, *, site_dir: Path | None = None, db_path: Path | None = None,
                 secure_cookies: bool = True, include_demo_keys: bool = False) -> GateSettings:
    """Settings for a project on disk: keys from the content's keys/ (the demo key only for `trustcenter demo`),
    a session secret kept beside the database."""
    from generator.gate import keys

    db_path = db_path or project.root / audit.DEFAULT_DB
    return GateSettings(
        project=project,
        site_dir=site_dir or project.site_dir,
        db_path=db_path,
        secret_key=session_secret(db_path.parent / SESSION_SECRET_FILE),
        trusted_keys=keys.load_trusted_keys(project, include_demo=include_demo_keys),
        secure_cookies=secure_cookies,
    )


def session_secret(file: Path) -> bytes:
    """From the environment, else a random secret kept in a 0600 file, so restarts keep sessions."""
    if SECRET_ENV in os.environ:
        secret = os.environ[SECRET_ENV].encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise GateConfigError(f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} bytes; set it to the output "
                                  "of `python -c 'import secrets; print(secrets.token_urlsafe(48))'` or unset it")
        return secret
    if not file.exists():
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_session_secret(file)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return _read_session_secret(file)


def _read_session_secret(file: Path) -> bytes:
    """The secret file, only if this user owns it, no one else can read or write it, and it is long enough:
    anyone who can read it can forge acceptances; anyone who can write it can choose the secret."""
    with file.open("rb") as handle:
        info = os.fstat(handle.fileno())
        secret = handle.read(4096)
    if os.name == "posix" and info.st_uid != os.getuid():
        raise GateConfigError(f"the session secret {file} belongs to another user; remove it (the gate makes "
                              "a new one) or set " + SECRET_ENV)
    if os.name == "posix" and info.st_mode & 0o077:
        raise GateConfigError(f"the session secret {file} can be read or changed by other users; remove it "
                              f"(the gate makes a new one) or run `chmod 600 {file}`")
    if len(secret) < MIN_SECRET_BYTES:
        raise GateConfigError(f"the session secret {file} is shorter than {MIN_SECRET_BYTES} bytes; remove it "
                              "and the gate makes a new one")
    return secret
