"""`trustcenter verify`: a published trust center's signed data checked from its folder and over real HTTP on
loopback, as a customer's procurement tooling would; every way it can be wrong is one clear line and exit 1."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import functools
import http.server
import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from loopback import running_gate, settings, signed_demo

from generator import verify as checking
from generator.cli import main
from generator.site import signing

DATA_KID = "data-test"


@dataclasses.dataclass(frozen=True)
class Published:
    project: Path
    site: Path
    signer: signing.DataSigner


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """The demo project with a link key and a data key in trust/keys/, built once, its data signed by the data key."""
    root = tmp_path_factory.mktemp("published")
    project, _, data_key = signed_demo(root, DATA_KID)  # the gate starts only with a link key
    with pytest.MonkeyPatch.context() as env:
        env.delenv(signing.DATA_KEY_ENV, raising=False)
        with signing.signing_key(data_key):
            signer = signing.configured_signer(project / "trust")
    assert signer is not None and signer.kid == DATA_KID
    return Published(project, project / "site", signer)


@pytest.fixture
def site(published: Published, tmp_path: Path) -> Path:
    """A copy of the published site that a test may change."""
    return Path(shutil.copytree(published.site, tmp_path / "site"))


def run_verify(*args: str) -> Result:
    return CliRunner().invoke(main, ["verify", *args])


def lines(result: Result) -> list[str]:
    return result.output.splitlines()


def line_for(result: Result, file: str) -> str:
    [found] = [line for line in lines(result) if line.split()[1:2] == [f"{file}:"]]
    return found


def resign(site: Path, name: str, signer: signing.DataSigner, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a signed file and sign it again with the site's own key: what a later or earlier build could hold."""
    document = json.loads((site / name).read_text(encoding="utf-8"))
    change(document)
    text = json.dumps(document, indent=2) + "\n"
    (site / name).write_text(text, encoding="utf-8")
    (site / f"{name}.jws").write_text(signing.sign(text.encode(), name, signer), encoding="ascii")


def jwks(site: Path) -> dict[str, Any]:
    return json.loads((site / ".well-known/jwks.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def write_jwks(site: Path, document: dict[str, Any]) -> None:
    (site / ".well-known/jwks.json").write_text(json.dumps(document), encoding="utf-8")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- a real HTTP server on loopback


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Handler(http.server.SimpleHTTPRequestHandler):
    routes: dict[str, Route] = {}  # noqa: RUF012 - set per server by `serving`

    def do_GET(self) -> None:
        route = self.routes.get(self.path)
        if route is not None:
            route(self)
        else:
            super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(site: Path, routes: dict[str, Route] | None = None) -> Iterator[str]:
    """The site folder over HTTP on 127.0.0.1, with some paths answered by `routes` instead."""
    handler = type("Handler", (_Handler,), {"routes": routes or {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None, *,
           length: bool = True) -> Route:
    def route(request: http.server.BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        if length:
            request.send_header("Content-Length", str(len(body)))
        else:
            request.close_connection = True  # HTTP/1.0 style: the body ends when the connection does
        request.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for start in range(0, len(body), 1 << 20):
                request.wfile.write(body[start:start + (1 << 20)])
    return route


# ---------------------------------------------------------------- a published trust center verifies


def test_a_signed_site_folder_verifies_one_line_per_file_then_the_verdict(published: Published) -> None:
    result = run_verify(str(published.site))
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in lines(result)[:3]] == [
        ["ok", ".well-known/jwks.json:"], ["ok", "trust.json:"], ["ok", "subprocessors.json:"]]
    today = dt.date.today().isoformat()
    for name in signing.SIGNED_FILES:
        assert f"signed by key {DATA_KID}" in line_for(result, name) and f"generated {today}" in line_for(result, name)
    [verdict] = lines(result)[3:]
    assert verdict.startswith("verified: ") and "own JWKS" in verdict and "--keys" in verdict


def test_a_site_served_by_the_gate_verifies_over_http_and_fails_once_one_byte_of_trust_json_changes(
        published: Published, site: Path, tmp_path: Path) -> None:
    with running_gate(settings(published.project, tmp_path, site_dir=site)) as gate:
        verified = run_verify(gate.base_url)
        assert verified.exit_code == 0, verified.output
        assert lines(verified)[-1].startswith(f"verified: {gate.base_url}/")
        data = bytearray((site / "trust.json").read_bytes())
        data[data.index(b'"name"') + 1] ^= 0x20  # "name" -> "Name": still JSON, one byte changed
        (site / "trust.json").write_bytes(bytes(data))
        changed = run_verify(gate.base_url)
    assert changed.exit_code == 1
    assert line_for(changed, "trust.json").startswith("FAIL") and "was changed after it was signed" in \
        line_for(changed, "trust.json")
    assert line_for(changed, "subprocessors.json").startswith("ok")
    assert lines(changed)[-1].startswith("NOT verified: 1 of 3 checks failed")


def test_the_gate_serves_each_signature_as_application_jose_and_the_keys_as_json(published: Published,
                                                                                  tmp_path: Path) -> None:
    with running_gate(settings(published.project, tmp_path, site_dir=published.site)) as gate:
        browser = gate.browser()
        for name in signing.SIGNED_FILES:
            reply = browser.get(f"/{name}{signing.SIGNATURE_SUFFIX}")
            assert reply.status == 200 and reply.header("Content-Type") == "application/jose"
            assert reply.body == (published.site / f"{name}{signing.SIGNATURE_SUFFIX}").read_bytes()
            assert browser.get(f"/{name}").header("Content-Type") == "application/json"
        reply = browser.get(f"/{signing.JWKS_FILE}")
        assert reply.status == 200 and reply.header("Content-Type") == "application/json"


def test_one_byte_changed_in_a_folder_fails_the_signature(site: Path) -> None:
    data = bytearray((site / "subprocessors.json").read_bytes())
    data[-2] ^= 0x01  # inside the closing bracket's line: the JSON may even break; the signature fails first
    (site / "subprocessors.json").write_bytes(bytes(data))
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert "was changed after it was signed" in line_for(result, "subprocessors.json")


def test_the_address_of_trust_json_itself_checks_its_site(published: Published) -> None:
    with serving(published.site) as base:
        result = run_verify(base + "trust.json")
    assert result.exit_code == 0, result.output


def test_json_output_carries_each_file_and_the_verdict(published: Published) -> None:
    result = CliRunner().invoke(main, ["verify", str(published.site), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verified"] is True and report["keys"] == "published"
    assert [(f["file"], f["ok"], f["kid"]) for f in report["files"]] == [
        (".well-known/jwks.json", True, None), ("trust.json", True, DATA_KID), ("subprocessors.json", True, DATA_KID)]
    assert report["files"][1]["generated"] == dt.date.today().isoformat()


# ---------------------------------------------------------------- each way it fails: one clear line, exit 1


def test_a_missing_signature_fails(site: Path) -> None:
    (site / "trust.json.jws").unlink()
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert line_for(result, "trust.json").startswith("FAIL  trust.json: not signed: there is no trust.json.jws")


def test_an_unsigned_site_over_http_fails(published: Published, site: Path) -> None:
    for name in signing.SIGNED_FILES:
        (site / f"{name}.jws").unlink()
    with serving(site) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    assert all("not signed" in line_for(result, name) for name in signing.SIGNED_FILES)


def test_a_key_id_the_jwks_does_not_list_fails(site: Path) -> None:
    document = jwks(site)
    document["keys"] = [dict(key, kid="other-key") if key["kid"] == DATA_KID else key for key in document["keys"]]
    write_jwks(site, document)
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert f"signed with key id '{DATA_KID}', which is not among the keys of the site's JWKS" in line_for(result, "trust.json")


def test_a_signature_by_another_key_under_the_same_id_fails(site: Path) -> None:
    document = jwks(site)
    stranger = b64url(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    document["keys"] = [dict(key, x=stranger) if key["kid"] == DATA_KID else key for key in document["keys"]]
    write_jwks(site, document)
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert "does not match the file" in line_for(result, "trust.json")


def test_a_signature_moved_onto_another_file_fails(site: Path) -> None:
    shutil.copy(site / "subprocessors.json", site / "trust.json")
    shutil.copy(site / "subprocessors.json.jws", site / "trust.json.jws")
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert "the signature is for another file ('subprocessors.json'), not trust.json" in line_for(result, "trust.json")


def test_a_stale_file_fails_and_a_larger_max_age_accepts_it(site: Path, published: Published) -> None:
    ten_days_ago = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    resign(site, "trust.json", published.signer, lambda d: d.update(generated=ten_days_ago))
    stale = run_verify(str(site))
    assert stale.exit_code == 1
    assert line_for(stale, "trust.json").startswith(f"FAIL  trust.json: stale: generated {ten_days_ago}, 10 days ago")
    assert line_for(stale, "subprocessors.json").startswith("ok")
    accepted = run_verify(str(site), "--max-age", "2w")
    assert accepted.exit_code == 0, accepted.output


def test_a_file_generated_in_the_future_fails(site: Path, published: Published) -> None:
    later = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    resign(site, "subprocessors.json", published.signer, lambda d: d.update(generated=later))
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert f"generated {later}, in the future" in line_for(result, "subprocessors.json")


def test_signed_data_that_breaks_the_schema_fails(site: Path, published: Published) -> None:
    resign(site, "trust.json", published.signer, lambda d: d["company"].update(website=42))
    result = run_verify(str(site))
    assert result.exit_code == 1
    line = line_for(result, "trust.json")
    assert line.startswith("FAIL  trust.json: does not match the trust.json schema at company.website")
    assert "signature" not in line  # the signature itself is good: only the schema fails


@pytest.mark.parametrize("kind", ["RSA", "EC", "X25519", "private"])
def test_a_jwks_with_an_unexpected_key_fails(site: Path, kind: str) -> None:
    if kind == "RSA":
        numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
        extra = {"kty": "RSA", "kid": "rsa-1", "n": b64url(numbers.n.to_bytes(256, "big")), "e": "AQAB"}
    elif kind == "EC":
        point = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
        extra = {"kty": "EC", "crv": "P-256", "kid": "ec-1", "x": b64url(point.x.to_bytes(32, "big")),
                 "y": b64url(point.y.to_bytes(32, "big"))}
    elif kind == "X25519":
        extra = {"kty": "OKP", "crv": "X25519", "kid": "x-1", "x": b64url(bytes(32))}
    else:
        extra = dict(jwks(site)["keys"][0], kid="leaked", d=b64url(bytes(32)))
    document = jwks(site)
    document["keys"].append(extra)
    write_jwks(site, document)
    result = run_verify(str(site))
    assert result.exit_code == 1
    line = line_for(result, ".well-known/jwks.json")
    assert line.startswith("FAIL")
    if kind == "private":
        assert "is a private key" in line
    else:
        assert "Ed25519 keys only" in line and "this JWKS is not one it published" in line


def test_a_missing_jwks_fails_every_file(site: Path) -> None:
    (site / ".well-known/jwks.json").unlink()
    result = run_verify(str(site))
    assert result.exit_code == 1
    assert line_for(result, ".well-known/jwks.json").startswith("FAIL  .well-known/jwks.json: missing")
    assert "there is no key to check it with: the keys of the site's JWKS are not usable" in \
        line_for(result, "trust.json")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_an_oversized_file_from_the_address_is_refused(published: Published, declared: bool) -> None:
    huge = b" " * (checking.MAX_DATA_BYTES + 1)
    with serving(published.site, {"/trust.json": answer(200, huge, {"Content-Type": "application/json"},
                                                         length=declared)}) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    line = line_for(result, "trust.json")
    assert line.startswith("FAIL") and "over the 32 MiB a trust.json may be" in line
    assert line_for(result, "subprocessors.json").startswith("ok")


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"schema_version": "2.0", ', "not valid JSON:"),
    (b'{"generated": "2026-01-01", "generated": "2099-01-01"}', "not valid JSON: the key 'generated' appears twice"),
    (b'{"schema_version": NaN}', "not valid JSON: NaN is not a JSON value"),
    (b"\xff\xfe{}", "not valid JSON: not UTF-8 text"),
    (b"[" * 100_000, "not valid JSON:"),
])
def test_malformed_json_from_the_address_fails(published: Published, body: bytes, expected: str) -> None:
    with serving(published.site, {"/trust.json": answer(200, body)}) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    line = line_for(result, "trust.json")
    assert line.startswith("FAIL") and expected in line


def test_a_malformed_jwks_from_the_address_fails(published: Published) -> None:
    with serving(published.site, {"/.well-known/jwks.json": answer(200, b'{"keys": {"kty": "OKP"}}')}) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    assert 'not a JWKS: expected an object with a "keys" list' in line_for(result, ".well-known/jwks.json")


def test_a_redirect_to_another_host_is_refused(published: Published) -> None:
    with serving(published.site) as elsewhere:
        moved = elsewhere.replace("127.0.0.1", "localhost") + "trust.json"  # the same server, another host name
        with serving(published.site, {"/trust.json": answer(302, headers={"Location": moved})}) as base:
            result = run_verify(base)
    assert result.exit_code == 1
    line = line_for(result, "trust.json")
    assert line.startswith("FAIL") and f"redirects to another host ({moved})" in line


def test_a_redirect_within_the_host_is_followed(published: Published) -> None:
    moved = {"/trust.json": answer(301, headers={"Location": "/moved/trust.json"}),
             "/moved/trust.json": answer(200, (published.site / "trust.json").read_bytes())}
    with serving(published.site, moved) as base:
        result = run_verify(base)
    assert result.exit_code == 0, result.output


def test_an_http_error_is_named(published: Published) -> None:
    with serving(published.site, {"/subprocessors.json.jws": answer(500, b"oops")}) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    assert line_for(result, "subprocessors.json").startswith(
        f"FAIL  subprocessors.json: {base}subprocessors.json.jws answered HTTP 500")


@pytest.mark.parametrize(("target", "expected"), [
    ("ftp://trust.example.test/", "is not an http(s) address"),
    ("file:///etc/", "is not an http(s) address"),
    ("no-such-folder", "is not a folder, nor an http(s) address"),
])
def test_a_target_that_is_neither_a_folder_nor_an_address_is_one_error(target: str, expected: str) -> None:
    result = run_verify(target)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and expected in result.output and "Traceback" not in result.output


def test_a_host_that_does_not_answer_is_one_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # held, never listening: a connection is refused
        base = f"http://127.0.0.1:{taken.getsockname()[1]}/"
        result = run_verify(base)
    assert result.exit_code == 1
    [line] = lines(result)
    assert line.startswith(f"error: could not fetch {base}.well-known/jwks.json")


def test_max_age_must_be_days() -> None:
    result = run_verify(".", "--max-age", "3 months")
    assert result.exit_code == 1 and "is not a number of days" in result.output


# ---------------------------------------------------------------- pinned keys


def test_a_pinned_jwks_verifies_and_says_so(published: Published, tmp_path: Path) -> None:
    saved = tmp_path / "acme-jwks.json"
    shutil.copy(published.site / ".well-known/jwks.json", saved)
    result = run_verify(str(published.site), "--keys", str(saved))
    assert result.exit_code == 0, result.output
    assert lines(result)[-1].startswith("verified:") and "a key you pinned" in lines(result)[-1]


def test_a_pinned_pem_public_key_verifies(published: Published) -> None:
    result = run_verify(str(published.site), "--keys", str(published.project / "trust/keys" / f"{DATA_KID}.pem"))
    assert result.exit_code == 0, result.output


def test_a_host_that_signs_with_a_key_of_its_own_fails_against_the_pinned_key(site: Path, published: Published,
                                                                              tmp_path: Path) -> None:
    """Whoever controls the host can publish a JWKS and sign with it: the published keys verify, the pinned fail."""
    saved = tmp_path / "pinned.json"
    shutil.copy(site / ".well-known/jwks.json", saved)
    impostor = signing.DataSigner(Ed25519PrivateKey.generate(), "data-impostor", "test")
    write_jwks(site, {"keys": [signing.jwk(impostor.kid, impostor.private_key.public_key())]})
    for name in signing.SIGNED_FILES:
        resign(site, name, impostor, lambda document: None)
    assert run_verify(str(site)).exit_code == 0  # integrity only: the host's own keys
    result = run_verify(str(site), "--keys", str(saved))
    assert result.exit_code == 1
    assert "signed with key id 'data-impostor', which is not among the pinned keys" in line_for(result, "trust.json")


def test_a_private_key_given_as_a_pinned_key_is_refused(tmp_path: Path, published: Published) -> None:
    private = tmp_path / "private.pem"
    private.write_bytes(b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n")
    result = run_verify(str(published.site), "--keys", str(private))
    assert result.exit_code == 1
    assert result.output.startswith(f"error: --keys {private} is a private key; pin the public key")


def test_a_redirect_loop_fails_that_file(published: Published) -> None:
    with serving(published.site, {"/trust.json": answer(302, headers={"Location": "/trust.json"})}) as base:
        result = run_verify(base)
    assert result.exit_code == 1
    assert f"{base}trust.json redirects more than {checking.MAX_REDIRECTS} times, or in a loop" in \
        line_for(result, "trust.json")


def test_the_commands_default_max_age_is_the_modules() -> None:
    [option] = [p for p in main.commands["verify"].params if p.name == "max_age"]
    assert checking.parse_max_age(str(option.default)) == checking.DEFAULT_MAX_AGE_DAYS
