"""Signed trust data at build time: detached JWS signatures any JOSE library verifies, the JWKS of every key in
trust/keys/ (links verify with it too), data keys the gate never accepts for a link, an honest unsigned build,
and no private key in the site, in any form."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from pathlib import Path

import jwt
import pytest
from conftest import GATED_ID, TRUST_CENTER_URL
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_public_key,
)
from loopback import Signer, add_signing_key, signed_demo
from support import copy_demo, edit, free_port, run_cli, started

from generator.content.project import Project
from generator.gate import keys, tokens
from generator.gate.refusals import InvalidLink
from generator.site import outputs, signing

DATA_KID = "data-ci"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_file(project: Path, kid: str) -> Ed25519PublicKey:
    key = load_pem_public_key((project / "trust/keys" / f"{kid}.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    return key


class Built:
    def __init__(self, project: Path, link: Signer, data_key: Path) -> None:
        self.project, self.link, self.data_key = project, link, data_key
        self.site = project / "site"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The demo project with two link keys (one retired: no longer used, still listed), a data key and a demo key
    in trust/keys/, built once with its data signed by the data key."""
    root = tmp_path_factory.mktemp("signed")
    project, (_, link), data_key = signed_demo(root, DATA_KID, ("retired-2025", "links-2026"), demo_key=True)
    return Built(project, link, data_key)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def new_data_key(project: Path, tmp_path: Path, kid: str = DATA_KID) -> Path:
    pair = signing.create_data_key_pair(Project.at(project), kid=kid, private_key_path=tmp_path / "secrets" / f"{kid}.pem")
    return pair.private_key_path


# ---------------------------------------------------------------- the signatures


def test_the_signed_files_are_those_the_build_writes() -> None:
    assert signing.SIGNED_FILES == (outputs.TRUST_JSON, outputs.SUBPROCESSORS_JSON)


@pytest.mark.parametrize("name", signing.SIGNED_FILES)
def test_each_signature_is_a_detached_compact_jws_that_any_jose_library_verifies(built: Built, name: str) -> None:
    """RFC 7515 appendix F: put BASE64URL(file) between the two dots and it is an ordinary compact JWS."""
    content = (built.site / name).read_bytes()
    detached = (built.site / f"{name}.jws").read_text(encoding="ascii")
    protected, empty, signature = detached.split(".")
    assert empty == ""
    assert json.loads(b64url_decode(protected)) == {"alg": "EdDSA", "kid": DATA_KID, "typ": "trustcenter-data+jws",
                                                    "file": name}
    # By hand, with nothing but Ed25519 (cryptography raises if it does not verify):
    public_key_file(built.project, DATA_KID).verify(b64url_decode(signature), f"{protected}.{b64url(content)}".encode())
    # And with PyJWT, the key taken from the published JWKS by PyJWT's own JWK reader:
    jwks = jwt.PyJWKSet.from_json((built.site / signing.JWKS_FILE).read_text(encoding="utf-8"))
    decoded = jwt.PyJWS().decode_complete(f"{protected}.{b64url(content)}.{signature}", jwks[DATA_KID].key,
                                          algorithms=["EdDSA"])
    assert decoded["payload"] == content


def test_a_signature_covers_every_byte(built: Built) -> None:
    content = bytearray((built.site / "trust.json").read_bytes())
    protected, _, signature = (built.site / "trust.json.jws").read_text(encoding="ascii").split(".")
    content[len(content) // 2] ^= 0x01
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.PyJWS().decode_complete(f"{protected}.{b64url(bytes(content))}.{signature}",
                                    public_key_file(built.project, DATA_KID), algorithms=["EdDSA"])


def test_the_same_content_and_key_sign_to_the_same_bytes(built: Built) -> None:
    """Ed25519 is deterministic: a rebuild of unchanged content publishes unchanged signatures (no churn)."""
    signer = signing.DataSigner(keys.load_private_key(built.data_key), DATA_KID, "test")
    content = (built.site / "subprocessors.json").read_bytes()
    assert signing.sign(content, "subprocessors.json", signer) == \
        (built.site / "subprocessors.json.jws").read_text(encoding="ascii")


# ---------------------------------------------------------------- the JWKS


def test_the_jwks_lists_every_key_of_trust_keys_but_the_demo_key_as_ed25519_public_keys(built: Built) -> None:
    document = json.loads((built.site / signing.JWKS_FILE).read_text(encoding="utf-8"))
    listed = {key["kid"]: key for key in document["keys"]}
    assert sorted(listed) == [DATA_KID, "links-2026", "retired-2025"]  # no demo-...: this site is not the demo
    for kid, key in listed.items():
        assert key == {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw(public_key_file(built.project, kid))),
                       "kid": kid, "use": "sig", "alg": "EdDSA"}


def test_a_link_minted_with_a_key_of_trust_keys_verifies_with_the_published_jwks(built: Built) -> None:
    token = built.link.token()
    jwks = jwt.PyJWKSet.from_json((built.site / signing.JWKS_FILE).read_text(encoding="utf-8"))
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, jwks[kid].key, algorithms=["EdDSA"], audience=tokens.AUDIENCE,
                        issuer=TRUST_CENTER_URL)
    assert claims["doc"] == GATED_ID and kid == "links-2026"


# ---------------------------------------------------------------- data keys and the gate


def test_keys_new_data_makes_a_data_key_the_gate_never_accepts_for_a_link(project: Path, tmp_path: Path) -> None:
    made = run_cli("keys", "new", "--data", "--private-key", str(tmp_path / "secrets/ci.pem"), cwd=project)
    assert made.returncode == 0, made.stderr
    [public] = [p for p in (project / "trust/keys").glob("*.pem")]
    assert public.stem.startswith("data-") and f"export {signing.DATA_KEY_ENV}=" in made.stdout
    assert oct((tmp_path / "secrets/ci.pem").stat().st_mode & 0o777) == "0o600"
    assert public.stem not in keys.load_trusted_keys(Project.at(project), include_demo=True)
    forged = Signer(keys.load_private_key(tmp_path / "secrets/ci.pem"), public.stem).token()
    with pytest.raises(InvalidLink, match="unknown key id"):
        tokens.verify(forged, keys={**keys.load_trusted_keys(Project.at(project), include_demo=True)},
                      issuer=TRUST_CENTER_URL, gated_documents={GATED_ID}, max_lifetime=dt.timedelta(days=90))


def test_a_data_key_id_must_say_data(project: Path, tmp_path: Path) -> None:
    refused = run_cli("keys", "new", "--data", "--kid", "ci-2026", "--private-key", str(tmp_path / "k.pem"), cwd=project)
    assert refused.returncode == 1
    assert refused.stderr == ("error: a data-signing key's id starts with 'data-' (that is how the gate knows never "
                              "to accept a link signed with it); use --kid data-ci-2026\n")
    assert not (tmp_path / "k.pem").exists()


# ---------------------------------------------------------------- the build: signed, unsigned, refused


def test_a_build_with_the_key_as_ci_secret_text_signs_and_says_with_which_key(project: Path, tmp_path: Path) -> None:
    secret = new_data_key(project, tmp_path).read_text(encoding="ascii")
    result = run_cli("build", cwd=project, env={signing.DATA_KEY_ENV: secret})
    assert result.returncode == 0, result.stderr
    assert f"signed trust.json and subprocessors.json with key {DATA_KID}" in result.stderr
    assert "note:" not in result.stderr
    for name in signing.SIGNED_FILES:
        assert json.loads(b64url_decode((project / "site" / f"{name}.jws").read_text().split(".")[0]))["kid"] == DATA_KID


def test_a_build_without_a_key_publishes_unsigned_data_and_says_so(project: Path) -> None:
    """A fork's pull request: the CI secret is empty. The build works; the JWKS is still there for the links."""
    result = run_cli("build", cwd=project, env={signing.DATA_KEY_ENV: ""})
    assert result.returncode == 0, result.stderr
    assert ("note: trust.json and subprocessors.json are unsigned: no data-signing key (set "
            "TRUSTCENTER_DATA_SIGNING_KEY or pass --signing-key; `trustcenter keys new --data` makes one)\n") \
        in result.stderr
    assert not list((project / "site").glob("*.jws"))
    assert json.loads((project / "site" / signing.JWKS_FILE).read_text()) == {"keys": []}


def test_a_link_key_may_sign_but_the_build_warns_that_it_also_mints_links(project: Path, tmp_path: Path) -> None:
    add_signing_key(project, tmp_path, kid="links-2026")
    result = run_cli("build", "--signing-key", str(tmp_path / "secrets/links-2026.pem"), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "note: key links-2026 also signs links to gated documents" in result.stderr


def test_a_key_whose_public_half_is_not_in_trust_keys_fails_before_building(project: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray.pem"
    stray.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    stray.chmod(0o600)
    result = run_cli("build", "--signing-key", str(stray), cwd=project)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the data-signing key ({stray}) has no public half in trust/")
    assert not (project / "site").exists()


@pytest.mark.parametrize("problem", ["missing", "readable by others", "not a key"])
def test_a_named_key_that_cannot_be_used_fails_the_build_never_an_unsigned_site(project: Path, tmp_path: Path,
                                                                                 problem: str) -> None:
    key = new_data_key(project, tmp_path)
    if problem == "missing":
        key.unlink()
    elif problem == "readable by others":
        key.chmod(0o644)
    else:
        key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    result = run_cli("build", cwd=project, env={signing.DATA_KEY_ENV: str(key)})
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and str(key) in result.stderr and "Traceback" not in result.stderr
    assert not (project / "site").exists()


def test_a_signing_key_inside_the_project_is_refused(project: Path) -> None:
    inside = project / "data.pem"
    inside.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    result = run_cli("build", "--signing-key", str(inside), cwd=project)
    assert result.returncode == 1 and "is inside the project" in result.stderr


# ---------------------------------------------------------------- no private key in the site


@pytest.fixture
def raw_html_project(project: Path) -> Path:
    """The pages folder may hold any file (the leak check is the last line, after every other)."""
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    return project


def test_a_private_jwk_in_the_pages_folder_is_caught(raw_html_project: Path) -> None:
    leaked = {"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(32)), "d": b64url(os.urandom(32)), "kid": "k"}
    (raw_html_project / "site_src/keys.json").write_text(json.dumps({"keys": [leaked]}), encoding="utf-8")
    result = run_cli("build", cwd=raw_html_project)
    assert result.returncode == 1
    assert 'keys.json holds a private key as a JWK (a "d" member)' in result.stderr
    assert not (raw_html_project / "site").exists()


@pytest.mark.parametrize("form", ["hex", "jwk d", "pem body"])
def test_the_data_signing_key_pasted_into_a_page_is_caught(raw_html_project: Path, tmp_path: Path, form: str) -> None:
    key_file = new_data_key(raw_html_project, tmp_path)
    key = keys.load_private_key(key_file)
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pasted = {"hex": seed.hex(), "jwk d": b64url(seed),
              "pem body": "".join(key_file.read_text().splitlines()[1:-1])}[form]
    (raw_html_project / "site_src/notes.md").write_text(f"# Notes\n\nbackup: `{pasted}`\n", encoding="utf-8")
    result = run_cli("build", cwd=raw_html_project, env={signing.DATA_KEY_ENV: str(key_file)})
    assert result.returncode == 1
    assert "notes/index.html holds the data-signing key (a private key)" in result.stderr
    assert not (raw_html_project / "site").exists()


def test_a_signed_site_holds_no_private_key(built: Built) -> None:
    seed = keys.load_private_key(built.data_key).private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    for file in (p for p in built.site.rglob("*") if p.is_file()):
        content = file.read_bytes()
        assert b"PRIVATE KEY" not in content and seed not in content and seed.hex().encode() not in content
        assert b64url(seed).encode() not in content, file


# ---------------------------------------------------------------- the demo


def test_the_demo_publishes_data_signed_with_its_key_that_verify_accepts_over_http(project: Path,
                                                                                  tmp_path: Path) -> None:
    """`make serve`, then `trustcenter verify http://127.0.0.1:8000` in another shell: verified out of the box."""
    port = free_port()
    with started([sys.executable, "-m", "generator", "demo", "--port", str(port)], port, tmp_path / "demo.log",
                 cwd=project, env={"PYTHONUNBUFFERED": "1"}):
        result = run_cli("verify", f"http://127.0.0.1:{port}", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    [demo_kid] = keys.demo_kids(Project.at(project))
    assert f"signed by key {demo_kid}" in result.stdout
    assert f"verify:    .venv/bin/trustcenter verify http://127.0.0.1:{port}" in (tmp_path / "demo.log").read_text()
    published = json.loads((project / "site" / signing.JWKS_FILE).read_text())
    assert [key["kid"] for key in published["keys"]] == [demo_kid]  # the demo's own site lists its key


def test_a_key_pasted_on_one_line_with_escaped_line_breaks_is_read(project: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a secret must be one line (a .env file, some CI variable forms), `\\n` stands for line breaks."""
    pem = new_data_key(project, tmp_path).read_text(encoding="ascii")
    monkeypatch.setenv(signing.DATA_KEY_ENV, pem.strip().replace("\n", "\\n"))
    signer = signing.configured_signer(project / "trust")
    assert signer is not None and signer.kid == DATA_KID and signer.source == f"${signing.DATA_KEY_ENV}"
