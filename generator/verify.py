"""`trustcenter verify`: check a published trust center's machine-readable data (signature, schema, freshness),
from its built folder or its address, the way a customer's procurement tooling would before relying on it.

For each signed file (trust.json, subprocessors.json) it checks that

- `<file>.jws` beside it is a detached JWS (see `generator.site.signing`) by a key the JWKS lists, over exactly
  the file's bytes: one byte changed and it fails;
- the file is JSON that the trust.json JSON Schema this package ships accepts (subprocessors.json: its
  `SubprocessorList` part);
- the file's `generated` day is at most `max_age_days` old (the sites are rebuilt daily, so an old file is an
  old copy, served again by a cache or by someone who wants an earlier state believed).

The keys come from the site's own /.well-known/jwks.json unless the user pins them (`--keys`): a JWKS fetched
from the same host shows that the files are the ones the site signed and were not changed since, not who runs
the site. Whoever controls the host can publish other keys and sign with them; a pinned key, obtained once by
another channel, stops that.

Everything read is hostile until checked: sizes are capped before parsing, JSON with duplicate keys or
NaN is refused, redirects to another host are refused, and only http(s) is fetched.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from generator.errors import UserError, VerifyError
from generator.site import signing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DEFAULT_MAX_AGE_DAYS = 3  # daily builds: two missed runs tolerated, a week-old copy not
MAX_DATA_BYTES = 32 * 1024 * 1024  # the demo's trust.json is 83 KB: room for 400 times its content, memory bounded
MAX_JWKS_BYTES = 256 * 1024
MAX_SIGNATURE_BYTES = 16 * 1024
MAX_REDIRECTS = 5
SCHEMA_FILE = Path(__file__).parent / "site" / "schemas" / "trust.schema.json"  # = generator.site.public's
_SCHEMA_PART = {"trust.json": None, "subprocessors.json": "SubprocessorList"}  # None: the whole schema
_DETACHED_RE = re.compile(r"([A-Za-z0-9_-]{2,})\.\.([A-Za-z0-9_-]{2,})")
_MAX_AGE_RE = re.compile(r"(\d{1,4})([dw]?)")
_KID_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")  # a JWKS from elsewhere may name keys more freely than ours


class _Unusable(Exception):
    """One file cannot be used: the message says why, for that file's line."""


def parse_max_age(value: str) -> int:
    """--max-age: whole days, as 3, 3d or 2w."""
    match = _MAX_AGE_RE.fullmatch(value.strip().lower())
    if not match:
        raise UserError(f"--max-age '{value[:40]}' is not a number of days; use e.g. 3d, 14d or 2w")
    return int(match.group(1)) * (7 if match.group(2) == "w" else 1)


# ---------------------------------------------------------------- where the files come from


class _Source(Protocol):
    where: str

    def read(self, name: str, limit: int) -> bytes | None:
        """The file's bytes; None if there is none; _Unusable if it cannot be used."""


class _Folder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)

    def read(self, name: str, limit: int) -> bytes | None:
        path = self.folder / name
        if not path.is_file():
            return None
        if path.stat().st_size > limit:
            raise _Unusable(f"{path.stat().st_size} bytes, over the {_size(limit)} a {Path(name).name} may be; "
                            "refused unread")
        return path.read_bytes()


class _RedirectedAway(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same host (and port, or http to https): a trust center's data is checked
    where its owner publishes it, never wherever a redirect points."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        before, after = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        same_port = (before.scheme, before.port) == (after.scheme, after.port)
        upgrade = (before.scheme, after.scheme) == ("http", "https") and after.port in (None, 443)
        if after.scheme not in ("http", "https") or after.hostname != before.hostname or not (same_port or upgrade):
            raise _RedirectedAway(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Web:
    def __init__(self, base: str, timeout: float) -> None:
        self.base = base
        self.where = base
        self.timeout = timeout
        # Only http(s): no file:, ftp: or data: handler, whatever a redirect says. Proxies from the environment
        # (procurement tooling often runs behind one) and the system's certificate checks, as usual.
        self.opener = urllib.request.OpenerDirector()
        for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                        _SameHostRedirects(), urllib.request.HTTPDefaultErrorHandler(),
                        urllib.request.HTTPErrorProcessor()):
            self.opener.add_handler(handler)

    def read(self, name: str, limit: int) -> bytes | None:
        url = urllib.parse.urljoin(self.base, name)
        request = urllib.request.Request(url, headers={"User-Agent": "trustcenter-verify",  # noqa: S310 - http(s)
                                                       "Accept-Encoding": "identity"})
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limit:
                    raise _Unusable(f"{url} is {declared} bytes, over the {_size(limit)} a {Path(name).name} may "
                                    "be; refused unread")
                data: bytes = response.read(limit + 1)
        except _RedirectedAway as away:
            raise _Unusable(f"{url} redirects to another host ({away.url[:200]}); a trust center is checked at its "
                            "own address: verify that address if it is really theirs") from None
        except urllib.error.HTTPError as error:
            if error.code in (404, 410):
                return None
            if 300 <= error.code < 400:
                raise _Unusable(f"{url} redirects more than {MAX_REDIRECTS} times, or in a loop") from None
            raise _Unusable(f"{url} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:  # refused, unknown host, TLS, timeout, reset
            reason = getattr(error, "reason", None) or error
            raise VerifyError(f"could not fetch {url} ({str(reason)[:200]}); check the address and that the site is "
                              "reachable from here") from None
        except http.client.HTTPException as error:
            raise VerifyError(f"{url} did not answer in HTTP ({type(error).__name__}); check the address") from None
        if len(data) > limit:
            raise _Unusable(f"{url} is over the {_size(limit)} a {Path(name).name} may be; refused")
        return data


def _source(target: str, timeout: float) -> _Source:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target):
        parts = urllib.parse.urlsplit(target)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise VerifyError(f"'{target[:100]}' is not an http(s) address; give the trust center's address "
                              "(https://trust.example.com/) or a built site's folder")
        path = parts.path
        if path.endswith(tuple(signing.SIGNED_FILES)):  # the address of trust.json itself: its folder
            path = path.rsplit("/", 1)[0]
        base = urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc, path.rstrip("/") + "/", "", ""))
        return _Web(base, timeout)
    folder = Path(target).expanduser()
    if not folder.is_dir():
        raise VerifyError(f"{target} is not a folder, nor an http(s) address; give a built site's folder (site/) "
                          "or the trust center's address")
    return _Folder(folder)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


# ---------------------------------------------------------------- JSON, keys, signatures


def _json(data: bytes) -> Any:
    """Strict JSON: UTF-8, no duplicate keys (two readers could each see another value), no NaN or Infinity."""
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in pairs:
            if key in found:
                raise _Unusable(f"not valid JSON: the key '{key[:40]}' appears twice in one object")
            found[key] = value
        return found

    def no_constant(name: str) -> Any:
        raise _Unusable(f"not valid JSON: {name} is not a JSON value")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except UnicodeDecodeError:
        raise _Unusable("not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise _Unusable(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise _Unusable("not valid JSON: nested too deeply") from None


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_jwks(data: bytes) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS (or of one JWK) by key id; _Unusable for anything else in it."""
    document = _json(data)
    if isinstance(document, dict) and "kty" in document:
        document = {"keys": [document]}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _Unusable('not a JWKS: expected an object with a "keys" list (RFC 7517)')
    found: dict[str, Ed25519PublicKey] = {}
    for number, entry in enumerate(document["keys"], 1):
        found.update([_ed25519(entry, number, found)])
    if not found:
        raise _Unusable("lists no key")
    return found


def _ed25519(entry: Any, number: int, seen: dict[str, Any]) -> tuple[str, Ed25519PublicKey]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(entry, dict):
        raise _Unusable(f"key {number} is not a JSON object")
    kid = entry.get("kid")
    name = f"key {number}" + (f" ('{kid[:40]}')" if isinstance(kid, str) else "")
    if "d" in entry:
        raise _Unusable(f"{name} is a private key (it has a \"d\" member): the site publishes its secret; tell "
                        "the trust center's owner, and trust nothing signed with it")
    if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        kind = f"key type {str(entry.get('kty'))[:20]!r}" + (f", curve {str(entry['crv'])[:20]!r}" if "crv" in entry
                                                            else "")
        raise _Unusable(f"{name} has {kind}; a trust center signs with Ed25519 keys only (kty OKP, crv "
                        "Ed25519), so this JWKS is not one it published")
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise _Unusable(f"{name} has no usable key id (kid)")
    if kid in seen:
        raise _Unusable(f"the key id '{kid}' is listed twice")
    if entry.get("use", "sig") != "sig" or entry.get("alg", signing.ALGORITHM) != signing.ALGORITHM:
        raise _Unusable(f"{name} is not for EdDSA signatures (use {entry.get('use')!r}, alg {entry.get('alg')!r})")
    x = entry.get("x")
    try:
        raw = _b64url(x) if isinstance(x, str) and re.fullmatch(r"[A-Za-z0-9_-]{43}", x) else b""
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise _Unusable(f"{name} has no 32-byte Ed25519 public key in \"x\"")
    return kid, Ed25519PublicKey.from_public_bytes(raw)


def _pinned(files: Sequence[Path]) -> dict[str | None, list[Ed25519PublicKey]]:
    """Keys the user pinned: JWKS or JWK files (by key id), or PEM public keys (good for any key id)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pinned: dict[str | None, list[Ed25519PublicKey]] = {}
    for file in files:
        try:
            if file.stat().st_size > MAX_JWKS_BYTES:
                raise _Unusable(f"over {_size(MAX_JWKS_BYTES)}")
            data = file.read_bytes()
            if data.lstrip().startswith(b"-----BEGIN"):
                if b"PRIVATE KEY" in data:
                    raise VerifyError(f"--keys {file} is a private key; pin the public key (the site's JWKS, or "
                                      "the .pem of trust/keys/), and keep the private key where it was")
                try:
                    key = load_pem_public_key(data)
                except ValueError:
                    raise _Unusable("is not a PEM public key") from None
                if not isinstance(key, Ed25519PublicKey):
                    raise _Unusable("is not an Ed25519 public key")
                pinned.setdefault(None, []).append(key)
            else:
                for kid, jwk_key in parse_jwks(data).items():
                    pinned.setdefault(kid, []).append(jwk_key)
        except _Unusable as problem:
            raise VerifyError(f"--keys {file}: {problem}; pass a JWKS saved from the trust center, or its PEM "
                              "public key") from None
        except OSError as error:
            raise VerifyError(f"--keys {file}: {error.strerror or error}") from None
    return pinned


def _check_signature(name: str, content: bytes, jws: bytes | None, trusted: dict[str | None, list[Ed25519PublicKey]],
                     keys_from: str) -> str:
    """The key id that signed `content`; _Unusable if the signature is missing, malformed or not by a trusted key."""
    import jwt

    if jws is None:
        raise _Unusable(f"not signed: there is no {name}{signing.SIGNATURE_SUFFIX} beside it (a build without a "
                        "data-signing key publishes unsigned data)")
    try:
        text = jws.decode("ascii").strip()
    except UnicodeDecodeError:
        text = ""
    match = _DETACHED_RE.fullmatch(text)
    if not match:
        raise _Unusable(f"{name}{signing.SIGNATURE_SUFFIX} is not a detached JWS (BASE64URL(header)..BASE64URL("
                        "signature))")
    try:
        header = json.loads(_b64url(match.group(1)))
    except (ValueError, binascii.Error, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise _Unusable(f"{name}{signing.SIGNATURE_SUFFIX} has an unreadable header")
    if set(header) - signing.HEADER_FIELDS:
        # crit, jku, x5u, jwk...: nothing in a header chooses how or with what key it is checked.
        raise _Unusable(f"the signature's header has fields this check does not accept: "
                        f"{sorted(str(k)[:20] for k in set(header) - signing.HEADER_FIELDS)}")
    if header.get("alg") != signing.ALGORITHM or header.get("typ") != signing.TYP:
        raise _Unusable(f"the signature is not a trust data signature (alg {str(header.get('alg'))[:20]!r}, typ "
                        f"{str(header.get('typ'))[:40]!r}; expected {signing.ALGORITHM}, {signing.TYP})")
    if header.get("file") != name:
        raise _Unusable(f"the signature is for another file ({str(header.get('file'))[:60]!r}), not {name}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise _Unusable("the signature names no usable key id (kid)")
    candidates = trusted.get(kid, []) + trusted.get(None, [])
    if not trusted:
        raise _Unusable(f"signed with key id '{kid}', but there is no key to check it with: {keys_from} are not "
                        f"usable (the line of {signing.JWKS_FILE} says why)")
    if not candidates:
        listed = ", ".join(sorted(k for k in trusted if k is not None))
        raise _Unusable(f"signed with key id '{kid}', which is not among {keys_from} ({listed})")
    token = f"{match.group(1)}.{signing.b64url(content)}.{match.group(2)}"
    for key in candidates:
        try:
            jwt.PyJWS().decode_complete(token, key, algorithms=[signing.ALGORITHM])
        except jwt.PyJWTError:
            continue
        return kid
    raise _Unusable(f"the signature by key '{kid}' does not match the file: it was changed after it was signed")


# ---------------------------------------------------------------- schema and freshness


def _schema_problem(name: str, document: Any) -> str | None:
    import jsonschema  # type: ignore[import-untyped]  # no stubs; used in this function only

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    part = _SCHEMA_PART[name]
    if part is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{part}"}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".") or "top"
    version = document.get("schema_version") if isinstance(document, dict) else None
    from generator.content.model import SCHEMA_VERSION  # only now: the model takes a while to load

    hint = (f"; it says schema_version {str(version)[:20]!r}, this trustcenter knows {SCHEMA_VERSION}: another "
            "version of trustcenter may know it" if version != SCHEMA_VERSION else "")
    return f"does not match the trust.json schema at {where}: {error.message[:200]}{hint}"


def _age_problem(document: Any, today: dt.date, max_age_days: int) -> tuple[dt.date | None, str | None]:
    generated = document.get("generated") if isinstance(document, dict) else None
    try:
        day = dt.date.fromisoformat(generated) if isinstance(generated, str) else None
    except ValueError:
        day = None
    if day is None:
        return None, "has no generated date, so its age cannot be told"
    age = (today - day).days
    if age < -1:  # a day's grace: the build's day is its own time zone's
        return day, f"generated {day.isoformat()}, in the future: the site's clock or this machine's is wrong"
    if age > max_age_days:
        return day, (f"stale: generated {day.isoformat()}, {age} days ago, older than --max-age {max_age_days}d (a "
                     "trust center is rebuilt daily; this may be an old copy served again)")
    return day, None


# ---------------------------------------------------------------- the check


@dataclasses.dataclass
class FileCheck:
    """What was found about one file: its problems (none: it passed) and what it said."""

    file: str
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    kid: str | None = None
    generated: dt.date | None = None
    schema_version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.file}: {'; '.join(self.problems or self.notes)}"

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "ok": self.ok, "problems": self.problems, "kid": self.kid,
                "generated": self.generated.isoformat() if self.generated else None,
                "schema_version": self.schema_version}


@dataclasses.dataclass
class Verdict:
    target: str
    keys_from: str  # "published" or "pinned"
    max_age_days: int
    checks: list[FileCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def lines(self) -> list[str]:
        lines = [check.line() for check in self.checks]
        failed = sum(1 for check in self.checks if not check.ok)
        if failed:
            lines.append(f"NOT verified: {failed} of {len(self.checks)} checks failed for {self.target}")
        elif self.keys_from == "pinned":
            lines.append(f"verified: {self.target} publishes its trust data signed by a key you pinned, valid "
                         f"against the schema, at most {self.max_age_days} days old")
        else:
            lines.append(f"verified: {self.target} publishes its trust data signed by a key of its own JWKS, valid "
                         f"against the schema, at most {self.max_age_days} days old. The JWKS comes from the same "
                         "host: this shows the files are as the site signed them, not who runs the site; pin the "
                         "key (--keys) to know that")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "verified": self.ok, "keys": self.keys_from, "max_age_days": self.max_age_days,
                "files": [check.as_json() for check in self.checks]}


def verify(target: str, *, pinned_keys: Sequence[Path] = (), max_age_days: int = DEFAULT_MAX_AGE_DAYS,
           timeout: float = 20.0, today: dt.date | None = None) -> Verdict:
    """Check the JWKS and every signed file of the trust center at `target` (a folder or an http(s) address)."""
    source = _source(target, timeout)
    today = today or dt.datetime.now(dt.UTC).date()
    pinned = _pinned(pinned_keys) if pinned_keys else None
    jwks_check = FileCheck(signing.JWKS_FILE)
    published: dict[str, Ed25519PublicKey] = {}
    try:
        data = source.read(signing.JWKS_FILE, MAX_JWKS_BYTES)
        if data is None:
            raise _Unusable("missing: the site publishes no keys, so neither its data nor its links can be verified")
        published = parse_jwks(data)
        jwks_check.notes.append(f"{len(published)} Ed25519 key(s): {', '.join(sorted(published))}")
    except _Unusable as problem:
        jwks_check.problems.append(str(problem))
    trusted: dict[str | None, list[Ed25519PublicKey]] = pinned if pinned is not None else {
        kid: [key] for kid, key in published.items()}
    keys_from = "the pinned keys" if pinned is not None else "the keys of the site's JWKS"
    checks = [jwks_check]
    for name in signing.SIGNED_FILES:
        checks.append(_check_file(source, name, trusted, keys_from, today, max_age_days))
    return Verdict(source.where, "pinned" if pinned is not None else "published", max_age_days, checks)


def _check_file(source: _Source, name: str, trusted: dict[str | None, list[Ed25519PublicKey]], keys_from: str,
                today: dt.date, max_age_days: int) -> FileCheck:
    check = FileCheck(name)
    try:
        content = source.read(name, MAX_DATA_BYTES)
        if content is None:
            raise _Unusable("missing: the site publishes no such file")
    except _Unusable as problem:
        check.problems.append(str(problem))
        return check
    try:  # over the bytes as published, before anything reads them as JSON
        jws = source.read(name + signing.SIGNATURE_SUFFIX, MAX_SIGNATURE_BYTES)
        check.kid = _check_signature(name, content, jws, trusted, keys_from)
        check.notes.append(f"signed by key {check.kid}")
    except _Unusable as problem:
        check.problems.append(str(problem))
    try:
        document = _json(content)
    except _Unusable as problem:
        check.problems.append(str(problem))
        return check
    version = document.get("schema_version") if isinstance(document, dict) else None
    check.schema_version = version if isinstance(version, str) else None
    mismatch = _schema_problem(name, document)
    if mismatch:
        check.problems.append(mismatch)
    else:
        check.notes.append(f"schema {check.schema_version} valid")
    check.generated, stale = _age_problem(document, today, max_age_days)
    if stale:
        check.problems.append(stale)
    elif check.generated is not None:
        age = (today - check.generated).days
        check.notes.append(f"generated {check.generated.isoformat()} ({'today' if age <= 0 else f'{age} day(s) ago'})")
    return check


