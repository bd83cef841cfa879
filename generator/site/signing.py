"""Signed trust data: a detached JWS beside trust.json and subprocessors.json, and the JWKS that verifies them.

A customer's procurement tooling reads trust.json instead of the pages; a signature lets it tell the file the
company built from one changed on the host, on a CDN or on the way (`trustcenter verify` is that check).

The format is plain JOSE, so any JWS library can check it without this package:

- `trust.json.jws` beside `trust.json` holds a compact JWS with its payload left out (RFC 7515, appendix F):
  `BASE64URL(header)..BASE64URL(signature)`. Put BASE64URL(the file's bytes) back between the two dots and it is
  an ordinary compact JWS. The payload keeps the standard base64url encoding: not RFC 7797's `b64: false`,
  which only libraries that understand `crit` can check.
- The protected header: `alg` EdDSA (Ed25519), `kid` (a key of the JWKS), `typ` trustcenter-data+jws (explicit
  typing, RFC 8725 3.11: never mistaken for a link's JWT, which the gate would refuse anyway), and `file`, the
  name of the file signed, so a signature cannot be moved onto another file.
- `/.well-known/jwks.json` (RFC 7517): every public key in trust/keys/, as OKP/Ed25519 with `kid`, `use` sig and
  `alg` EdDSA. The same keys and key ids as the links, so links verify with it too; a retired key stays listed
  while its file stays in trust/keys/, as the gate keeps trusting it. Demo keys (demo-...) are listed only in the
  demo's own site, which they sign.

Which key signs: the one named by `trustcenter build --signing-key` (or `trustcenter demo`'s key), else by
$TRUSTCENTER_DATA_SIGNING_KEY (a PEM file, or the PEM text itself, as a CI secret holds it); without either the
build is unsigned and says so. Its public half must be in trust/keys/. The key meant for CI is a data key
(`keys new --data`, key id data-...), which the gate never accepts for a link. The private key only ever signs:
nothing derived from it but signatures reaches the site, and the leak check looks for it in every file.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.content.project import Project
from generator.errors import KeyFileError
from generator.gate import keys

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DATA_KEY_ENV = "TRUSTCENTER_DATA_SIGNING_KEY"
SIGNED_FILES = ("trust.json", "subprocessors.json")  # each published with <name>.jws beside it
SIGNATURE_SUFFIX = ".jws"
JWKS_FILE = ".well-known/jwks.json"
ALGORITHM = "EdDSA"
TYP = "trustcenter-data+jws"
HEADER_FIELDS = frozenset({"alg", "kid", "typ", "file"})  # what a signature's header holds, no more

_chosen_key: contextvars.ContextVar[Path | None] = contextvars.ContextVar("trustcenter_data_key", default=None)


@contextlib.contextmanager
def signing_key(path: Path) -> Iterator[None]:
    """Builds run inside sign with the key at `path` (`build --signing-key`, the demo's key) instead of
    $TRUSTCENTER_DATA_SIGNING_KEY. (The MkDocs plugin renders the files; this reaches it without a setting in
    mkdocs.yml, where a key's path does not belong.)"""
    token = _chosen_key.set(path)
    try:
        yield
    finally:
        _chosen_key.reset(token)


@dataclasses.dataclass(frozen=True)
class DataSigner:
    """The private key a build signs with, and the key id its public half has in trust/keys/."""

    private_key: Ed25519PrivateKey
    kid: str
    source: str  # where the key came from, for messages

    @property
    def signs_links(self) -> bool:
        """Whether the gate also accepts links signed with this key (not a data-... or demo-... key)."""
        return not self.kid.startswith((keys.DATA_KID_PREFIX, keys.DEMO_KID_PREFIX))


def configured_signer(trust_dir: Path) -> DataSigner | None:
    """The key this build signs with; None: unsigned. A key that is named but unusable is an error, never a
    silently unsigned site."""
    configured = configured_private_key()
    if configured is None:
        return None
    private_key, source = configured
    wanted = raw_public(private_key.public_key())
    for kid, public_key in public_keys(trust_dir).items():
        if raw_public(public_key) == wanted:
            return DataSigner(private_key, kid, source)
    raise KeyFileError(f"the data-signing key ({source}) has no public half in {_shown(trust_dir)}/, so nobody "
                       "could verify what it signs; commit its public key there (`trustcenter keys new --data` "
                       f"makes a pair), or unset {DATA_KEY_ENV} to build unsigned")


def configured_private_key() -> tuple[Ed25519PrivateKey, str] | None:
    """The data-signing key named for this build, and where it was named; None: none is."""
    chosen = _chosen_key.get()
    if chosen is not None:
        return _read_key_file(chosen, "--signing-key"), str(chosen)
    value = os.environ.get(DATA_KEY_ENV, "").strip()
    if not value:  # unset, or empty: a CI secret that this run (a fork's pull request) is not given
        return None
    if value.startswith("-----BEGIN"):
        # One line with literal \n: how .env files and some CI variable forms hold a multi-line secret.
        return _read_key_text(value if "\n" in value else value.replace("\\n", "\n")), f"${DATA_KEY_ENV}"
    return _read_key_file(Path(value).expanduser(), f"${DATA_KEY_ENV}"), value


def _read_key_file(path: Path, named_by: str) -> Ed25519PrivateKey:
    if not path.is_file():
        raise KeyFileError(f"the data-signing key {path} (named by {named_by}) does not exist; pass the file "
                           f"`trustcenter keys new --data` wrote, or unset {DATA_KEY_ENV} to build unsigned")
    return keys.load_private_key(path)


def _read_key_text(text: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(text.encode("ascii", "replace"), password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"${DATA_KEY_ENV} holds neither a file name nor an unencrypted PEM private key; set "
                           "it to the content of the file `trustcenter keys new --data` wrote") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"${DATA_KEY_ENV} is not an Ed25519 private key; make one with "
                           "`trustcenter keys new --data`")
    return key


def public_keys(trust_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Every public key in trust/keys/ by key id: links', data keys and demo keys (the gate's own list,
    `keys.load_trusted_keys`, leaves out the data and demo keys). A malformed file is an error here as at the gate."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    folder = trust_dir / keys.KEYS_DIR
    found: dict[str, Ed25519PublicKey] = {}
    for file in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        shown = f"{_shown(trust_dir)}/{keys.KEYS_DIR}/{file.name}"
        if not keys.KID_RE.fullmatch(file.stem):
            raise KeyFileError(f"{shown}: the file name is the key id and must be 1 to 40 lower-case letters, "
                               "digits and dashes; rename it")
        if file.stat().st_size > keys.MAX_KEY_FILE_BYTES:
            raise KeyFileError(f"{shown} is too large to be a key file")
        try:
            key = load_pem_public_key(file.read_bytes())
        except ValueError:
            raise KeyFileError(f"{shown} is not a PEM public key; replace it with the file `trustcenter keys "
                               "new` wrote") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(f"{shown} is not an Ed25519 key; links and trust data are signed with Ed25519 only")
        found[file.stem] = key
    return found


def _shown(trust_dir: Path) -> str:
    return trust_dir.name or str(trust_dir)


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# ---------------------------------------------------------------- what the build publishes


def jwk(kid: str, public_key: Ed25519PublicKey) -> dict[str, str]:
    """One public key as a JWK (RFC 7517; OKP and Ed25519 from RFC 8037). Never a private member ("d")."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public(public_key)), "kid": kid, "use": "sig",
            "alg": ALGORITHM}


def jwks_text(published: Mapping[str, Ed25519PublicKey], signer: DataSigner | None) -> str:
    """/.well-known/jwks.json: every key of trust/keys/ by key id; demo keys only where a demo key signs."""
    demo = signer is not None and signer.kid.startswith(keys.DEMO_KID_PREFIX)
    listed = [jwk(kid, key) for kid, key in sorted(published.items())
              if demo or not kid.startswith(keys.DEMO_KID_PREFIX)]
    return json.dumps({"keys": listed}, indent=2) + "\n"


def sign(content: bytes, file: str, signer: DataSigner) -> str:
    """The detached JWS of `content`, published as <file>.jws: `header..signature` (RFC 7515 appendix F)."""
    import jwt

    header: dict[str, Any] = {"kid": signer.kid, "typ": TYP, "file": file}
    token = jwt.PyJWS().encode(content, signer.private_key, algorithm=ALGORITHM, headers=header)
    protected, _, rest = token.partition(".")
    return f"{protected}..{rest.rpartition('.')[2]}"


def signed_outputs(outputs: Mapping[str, str], trust_dir: Path) -> dict[str, str]:
    """The JWKS, and with a data-signing key configured a signature for each of SIGNED_FILES in `outputs`."""
    signer = configured_signer(trust_dir)
    added = {JWKS_FILE: jwks_text(public_keys(trust_dir), signer)}
    if signer is not None:
        for name in SIGNED_FILES:
            if name in outputs:
                added[name + SIGNATURE_SUFFIX] = sign(outputs[name].encode("utf-8"), name, signer)
    return added


# ---------------------------------------------------------------- keys for CI, and what the leak check looks for


def create_data_key_pair(project: Project, *, kid: str | None = None,
                         private_key_path: Path | None = None) -> keys.KeyPair:
    """A data-signing pair (key id data-...): the private key for a CI secret, the public key into trust/keys/."""
    if kid is None:
        kid = keys.DATA_KID_PREFIX + keys.new_kid()
    elif not kid.startswith(keys.DATA_KID_PREFIX):
        raise KeyFileError(f"a data-signing key's id starts with '{keys.DATA_KID_PREFIX}' (that is how the gate "
                           f"knows never to accept a link signed with it); use --kid {keys.DATA_KID_PREFIX}{kid}")
    return keys.create_key_pair(project, kid=kid, private_key_path=private_key_path)


def private_key_forms(private_key: Ed25519PrivateKey) -> list[bytes]:
    """The ways a private key could be written into a file: its 32-byte seed raw, in hex, in base64 (the JWK "d"),
    and the base64 body of its PEM (PKCS#8), without the BEGIN line the leak check also looks for."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return [seed, seed.hex().encode(), seed.hex().upper().encode(), base64.b64encode(seed)[:43],
            base64.urlsafe_b64encode(seed)[:43], base64.b64encode(der)]
