"""Ed25519 signing keys: make a pair, list the public keys the gate trusts, load a private key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from generator.content.project import Project
from generator.errors import KeyFileError

if TYPE_CHECKING:  # cryptography is imported where a key is made or read, not when this module loads
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KID_RE = re.compile(r"[a-z0-9-]{1,40}")  # used with fullmatch
KEYS_DIR = "keys"  # in the content folder, committed: the public keys the gate trusts, one <kid>.pem each
SIGNING_KEY_ENV = "TRUSTCENTER_SIGNING_KEY"
DEMO_KEY_FILE = "demo-signing-key.pem"  # in the gate's state folder, outside the project
DEMO_KID_PREFIX = "demo-"  # trusted only by `trustcenter demo`
# Signs trust.json in CI (`keys new --data`): listed in the JWKS, never trusted for links, so a leaked CI secret
# cannot mint a link to a gated document.
DATA_KID_PREFIX = "data-"
MAX_KEY_FILE_BYTES = 16 * 1024


@dataclasses.dataclass(frozen=True)
class KeyPair:
    kid: str
    private_key_path: Path
    public_key_path: Path


def new_kid(today: dt.date | None = None) -> str:
    """A fresh key id: the date (so rotation order is visible) and a random suffix."""
    return f"{(today or dt.date.today()):%Y%m%d}-{secrets.token_hex(3)}"


def default_private_key_path(kid: str) -> Path:
    """Outside any repository: the user's configuration folder."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "trustcenter" / "keys" / f"{kid}.pem"


def check_kid(kid: str) -> str:
    if not KID_RE.fullmatch(kid):
        raise KeyFileError(f"'{kid}' is not a valid key id; use 1 to 40 lower-case letters, digits and dashes")
    return kid


def keys_dir(project: Project) -> Path:
    return project.trust_dir / KEYS_DIR


def create_key_pair(project: Project, *, kid: str | None = None, private_key_path: Path | None = None) -> KeyPair:
    """Make an Ed25519 pair: the private key (PEM, mode 0600) at a path outside the repository,
    the public key into trust/keys/<kid>.pem."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    kid = check_kid(new_kid() if kid is None else kid)
    public_path = keys_dir(project) / f"{kid}.pem"
    project.require_content()
    if public_path.exists():
        raise KeyFileError(f"{project.display(public_path)} already exists; choose another --kid")
    private_path = (private_key_path or default_private_key_path(kid)).expanduser().absolute()
    check_private_key_location(project, private_path)
    if private_path.exists():
        raise KeyFileError(f"{private_path} already exists; choose another --private-key path "
                           "(an existing key is never overwritten)")
    private_key = Ed25519PrivateKey.generate()
    _write_private_key(private_path, private_key)
    try:
        _write_public_key(public_path, private_key.public_key())
    except OSError:
        private_path.unlink()
        raise
    return KeyPair(kid, private_path, public_path)


def check_private_key_location(project: Project, private_path: Path) -> None:
    """Refuse a private key inside the project, where it could be committed or published."""
    target = private_path.resolve()
    if target.is_relative_to(project.root):
        raise KeyFileError(f"{private_path} is inside the project, where it could be committed or published; "
                           "keep the private key outside the repository (the default is "
                           f"{default_private_key_path('<kid>')})")


def load_trusted_keys(project: Project, *, include_demo: bool = False) -> dict[str, Ed25519PublicKey]:
    """The public keys in trust/keys/, by key id (the file name). The gate verifies links with these only
    (never a data-signing key, data-...).

    The demo key (kid demo-...) is skipped unless asked for: its private half sits in the checkout, so a
    production gate on the same checkout must not honour links it signed."""
    return {kid: key for kid, key in load_listed_keys(project).items()
            if not kid.startswith(DATA_KID_PREFIX) and (include_demo or not kid.startswith(DEMO_KID_PREFIX))}


def load_listed_keys(project: Project) -> dict[str, Ed25519PublicKey]:
    """Every public key in trust/keys/ by key id: links', data keys and demo keys; a malformed file is an error."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    folder = keys_dir(project)
    listed: dict[str, Ed25519PublicKey] = {}
    for file in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        kid = file.stem
        if not KID_RE.fullmatch(kid):
            raise KeyFileError(f"trust/keys/{file.name}: the file name is the key id and must be 1 to 40 "
                               "lower-case letters, digits and dashes; rename it")
        try:
            key = load_pem_public_key(_read_small(file))
        except ValueError:
            raise KeyFileError(f"trust/keys/{file.name} is not a PEM public key; replace it with the file "
                               "`trustcenter keys new` wrote") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"trust/keys/{file.name} is not an Ed25519 key; links are signed with Ed25519 only")
        listed[kid] = key
    return listed


def demo_kids(project: Project) -> list[str]:
    """The demo keys listed in trust/keys/ (which load_trusted_keys skips unless asked)."""
    folder = keys_dir(project)
    return sorted(file.stem for file in folder.glob(f"{DEMO_KID_PREFIX}*.pem")) if folder.is_dir() else []


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a private key written by `keys new`; refuse one that others can read."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"the signing key {path} does not exist; pass --private-key or set "
                           f"{SIGNING_KEY_ENV} to the file `trustcenter keys new` wrote") from None
    if os.name == "posix" and mode & 0o077:
        raise KeyFileError(f"the signing key {path} can be read by other users; run `chmod 600 {path}`")
    try:
        key = load_pem_private_key(_read_small(path), password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not an unencrypted PEM private key; use the file `trustcenter keys new` "
                           "wrote") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key; make one with `trustcenter keys new`")
    return key


def kid_of(private_key: Ed25519PrivateKey, trusted: dict[str, Ed25519PublicKey]) -> str:
    """The key id under which the gate lists this key's public half."""
    wanted = _raw(private_key.public_key())
    for kid, public_key in trusted.items():
        if secrets.compare_digest(_raw(public_key), wanted):
            return kid
    raise KeyFileError("the signing key's public half is not in trust/keys/, so the gate would refuse the link; "
                       "use a current key, or add it with `trustcenter keys new`")


def ensure_demo_key(project: Project) -> Path:
    """The demo's signing key under .trustcenter/ (made on first run), its public key listed in
    trust/keys/demo-<fingerprint>.pem. Returns the private key path."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = project.state_dir / DEMO_KEY_FILE
    if private_path.exists():
        private_key = load_private_key(private_path)
    else:
        private_key = Ed25519PrivateKey.generate()
        _write_private_key(private_path, private_key)
    public_key = private_key.public_key()
    kid = DEMO_KID_PREFIX + hashlib.sha256(_raw(public_key)).hexdigest()[:12]
    public_path = keys_dir(project) / f"{kid}.pem"
    if not public_path.exists():
        _write_public_key(public_path, public_key)
    return private_path


def _raw(public_key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _write_private_key(path: Path, private_key: Ed25519PrivateKey) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key; 0600 from the first byte, not chmod after writing.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def _write_public_key(path: Path, public_key: Ed25519PublicKey) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "wb") as file:
        file.write(public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))


def _read_small(path: Path) -> bytes:
    if path.stat().st_size > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path} is too large to be a key file")
    return path.read_bytes()
