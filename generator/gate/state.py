"""The gate's secrets (session secret, audit key): from the environment, or a 0600 file in the project's
state folder (`Project.state_dir`, outside the project)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from generator.errors import GateConfigError

MIN_SECRET_BYTES = 32


def secret(file: Path, env: str, *, create: bool) -> bytes:
    """A secret from the environment variable `env`, else from `file` (made, random and 0600, when
    `create` is set), so restarts and other commands see the same one."""
    if env in os.environ:
        value = os.environ[env].encode()
        if len(value) < MIN_SECRET_BYTES:
            raise GateConfigError(f"{env} must be at least {MIN_SECRET_BYTES} bytes; set it to the output "
                                  "of `python -c 'import secrets; print(secrets.token_urlsafe(48))'` or unset it")
        return value
    if not file.exists():
        if not create:
            raise GateConfigError(f"{file} does not exist; set {env}, or start the gate once with --init to make it")
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_secret(file, env)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return _read_secret(file, env)


def _read_secret(file: Path, env: str) -> bytes:
    """The secret file, only if this user owns it, no one else can read or write it, and it is long enough:
    anyone who can read it can forge what it protects; anyone who can write it can choose the secret."""
    with file.open("rb") as handle:
        info = os.fstat(handle.fileno())
        value = handle.read(4096)
    if os.name == "posix" and info.st_uid != os.getuid():
        raise GateConfigError(f"the secret {file} belongs to another user; remove it (the gate makes a new one) "
                              f"or set {env}")
    if os.name == "posix" and info.st_mode & 0o077:
        raise GateConfigError(f"the secret {file} can be read or changed by other users; remove it "
                              f"(the gate makes a new one) or run `chmod 600 {file}`")
    if len(value) < MIN_SECRET_BYTES:
        raise GateConfigError(f"the secret {file} is shorter than {MIN_SECRET_BYTES} bytes; remove it and the gate "
                              "makes a new one")
    return value
