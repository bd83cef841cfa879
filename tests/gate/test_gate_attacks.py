"""Attacks on a real gate over loopback HTTP: each one is refused, audited, and never echoes the token."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import GATED_ID, OTHER_GATED_ID, PUBLIC_ID
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from loopback import (
    Browser,
    Reply,
    RunningGate,
    Signer,
    add_signing_key,
    assert_gate_headers,
    running_gate,
    settings,
)
from support import gate_database

from generator.content.project import Project
from generator.gate import audit, keys, watermark
from generator.gate import settings as gate
from generator.gate import tokens as links

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")


@dataclasses.dataclass
class Target:
    """The gate under attack, and the checks every answer must pass."""

    gate: RunningGate
    signer: Signer
    project: Path

    def attempt(self, token: str, suffix: str = "", *, browser: Browser | None = None, method: str = "GET",
                form: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Reply:
        client = browser or self.gate.browser()
        reply = client.request(method, f"/access/{token}{suffix}", form=form, headers=headers)
        assert_gate_headers(reply)
        assert token.encode() not in reply.body, "the page echoes the token"
        if len(token) > 20:
            assert token[-20:].encode() not in reply.body
        return reply

    def events(self) -> list[audit.Row]:
        return self.gate.app.extensions["trustcenter.gate"].log.events()  # type: ignore[no-any-return]

    def assert_refused(self, reply: Reply, status: int, token: str) -> audit.Row:
        assert reply.status == status, reply.text
        assert b"%PDF" not in reply.body
        last = self.events()[-1]
        assert (last.kind, last.status) == ("denied", status)
        assert last.detail and links.fingerprint(token) in last.detail
        for row in self.events():  # the audit never stores the token either
            assert token not in json.dumps(row.as_dict())
        return last


@pytest.fixture
def target(project: Path, tmp_path: Path) -> Iterator[Target]:
    signer = add_signing_key(project, tmp_path)
    with running_gate(settings(project, tmp_path, failure_limit=1000)) as started:
        yield Target(started, signer, project)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def claims(target: Target, **changes: Any) -> dict[str, Any]:
    values = target.signer.link().claims(target.signer.issuer)
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


# ---------------------------------------------------------------- forged and malformed tokens: 403


def test_a_tampered_payload_is_refused(target: Target) -> None:
    header, payload, signature = target.signer.token().split(".")
    body = json.loads(unb64(payload))
    body["sub"] = "mallory@evil.test"
    forged = ".".join((header, b64(json.dumps(body).encode()), signature))
    target.assert_refused(target.attempt(forged), 403, forged)


def test_a_flipped_signature_is_refused(target: Target) -> None:
    header, payload, signature = target.signer.token().split(".")
    raw = bytearray(unb64(signature))
    raw[10] ^= 0x01
    forged = ".".join((header, payload, b64(bytes(raw))))
    target.assert_refused(target.attempt(forged), 403, forged)


def test_alg_none_is_refused(target: Target) -> None:
    unsigned = jwt.encode(claims(target), key=None, algorithm="none", headers={"kid": target.signer.kid})
    target.assert_refused(target.attempt(unsigned), 403, unsigned)
    with_junk_signature = unsigned + "AAAA"
    target.assert_refused(target.attempt(with_junk_signature), 403, with_junk_signature)


def test_hs256_signed_with_the_public_key_bytes_is_refused(target: Target) -> None:
    public_pem = (target.project / "trust" / "keys" / f"{target.signer.kid}.pem").read_bytes()
    header = b64(json.dumps({"alg": "HS256", "kid": target.signer.kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(target)).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    forged = f"{header}.{payload}.{signature}"
    target.assert_refused(target.attempt(forged), 403, forged)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "PS256"])
def test_other_asymmetric_algorithms_are_refused(target: Target, algorithm: str) -> None:
    key: Any = (ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256"
                else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    forged = target.signer.raw(claims(target), key=key, algorithm=algorithm)
    target.assert_refused(target.attempt(forged), 403, forged)


def test_an_unknown_kid_is_refused(target: Target) -> None:
    forged = target.signer.raw(claims(target), headers={"kid": "someone-else"})
    target.assert_refused(target.attempt(forged), 403, forged)


@pytest.mark.parametrize("kid", [
    "../../trust/keys/test-key", "/dev/null", "test-key.pem", "test-key' OR '1'='1", "test-key; DROP TABLE events",
    "TEST-KEY", "", "test-key\x00",
])
def test_a_kid_with_path_or_sql_characters_is_refused(target: Target, kid: str) -> None:
    forged = target.signer.raw(claims(target), headers={"kid": kid})
    target.assert_refused(target.attempt(forged), 403, forged)
    assert [row.kind for row in target.events()] == ["denied"]  # the events table is intact


@pytest.mark.parametrize("kid", [["test-key"], {"$ne": ""}, 1, None])
def test_a_kid_that_is_not_text_is_refused(target: Target, kid: Any) -> None:
    header = b64(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims(target)).encode())
    signature = b64(target.signer.private_key.sign(f"{header}.{payload}".encode()))
    forged = f"{header}.{payload}.{signature}"
    target.assert_refused(target.attempt(forged), 403, forged)


@pytest.mark.parametrize("field", ["jku", "x5u", "jwk", "x5c", "crit"])
def test_key_location_headers_are_refused_even_with_a_good_signature(target: Target, field: str) -> None:
    attacker = Ed25519PrivateKey.generate()
    value: Any = {"jku": "https://evil.example/jwks.json", "x5u": "https://evil.example/cert.pem",
                  "jwk": json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(attacker.public_key())),
                  "x5c": ["MIIB..."], "crit": ["exp"]}[field]
    forged = target.signer.raw(claims(target), headers={field: value})
    target.assert_refused(target.attempt(forged), 403, forged)
    self_signed = target.signer.raw(claims(target), headers={field: value}, key=attacker)
    target.assert_refused(target.attempt(self_signed), 403, self_signed)


# ---------------------------------------------------------------- time, audience, issuer, claims


def test_a_link_expired_beyond_the_leeway_answers_410(target: Target) -> None:
    expired = target.signer.raw(claims(target, iat=int((now() - dt.timedelta(days=1)).timestamp()),
                                       nbf=int((now() - dt.timedelta(days=1)).timestamp()),
                                       exp=int((now() - dt.timedelta(seconds=60)).timestamp())))
    reply = target.attempt(expired)
    target.assert_refused(reply, 410, expired)
    assert "This link has expired" in reply.text


def test_a_link_expired_within_the_leeway_still_opens(target: Target) -> None:
    token = target.signer.raw(claims(target, exp=int((now() - dt.timedelta(seconds=10)).timestamp())))
    assert target.attempt(token).status == 200


def test_a_link_not_yet_valid_is_refused(target: Target) -> None:
    later = int((now() + dt.timedelta(minutes=5)).timestamp())
    for changes in ({"nbf": later}, {"iat": later, "nbf": later}):
        forged = target.signer.raw(claims(target, **changes))
        target.assert_refused(target.attempt(forged), 403, forged)


def test_a_lifetime_over_the_maximum_is_refused(target: Target) -> None:
    issued = now()
    token = target.signer.raw(claims(target, iat=int(issued.timestamp()), nbf=int(issued.timestamp()),
                                     exp=int((issued + dt.timedelta(days=31)).timestamp())))
    target.assert_refused(target.attempt(token), 403, token)


@pytest.mark.parametrize("changes", [
    {"aud": "some-other-service"}, {"aud": ["trustcenter-gate", "other"]}, {"iss": "https://evil.example"},
    {"iss": "https://trust.example.test.evil.example"}, {"iss": "https://trust.example"},
])
def test_a_wrong_audience_or_issuer_is_refused(target: Target, changes: dict[str, Any]) -> None:
    token = target.signer.raw(claims(target, **changes))
    target.assert_refused(target.attempt(token), 403, token)


@pytest.mark.parametrize("missing", ["iss", "aud", "sub", "doc", "company", "iat", "nbf", "exp", "jti",
                                     "max_downloads", "nda_on_file"])
def test_a_token_missing_a_required_claim_is_refused(target: Target, missing: str) -> None:
    body = claims(target)
    del body[missing]
    token = target.signer.raw(body)
    target.assert_refused(target.attempt(token), 403, token)


@pytest.mark.parametrize("changes", [
    {"sub": "not an email"}, {"sub": 42}, {"jti": "x"}, {"jti": "../../etc"}, {"max_downloads": 0},
    {"max_downloads": True}, {"max_downloads": 10**9}, {"nda_on_file": "yes"}, {"exp": "tomorrow"},
    {"company": "x" * 500},
])
def test_a_claim_of_the_wrong_form_is_refused(target: Target, changes: dict[str, Any]) -> None:
    token = target.signer.raw(claims(target, **changes))
    target.assert_refused(target.attempt(token), 403, token)


# ---------------------------------------------------------------- documents


def test_a_token_for_one_document_cannot_be_turned_into_another(target: Target) -> None:
    header, payload, signature = target.signer.token(document_id=GATED_ID).split(".")
    body = json.loads(unb64(payload))
    body["doc"] = OTHER_GATED_ID
    swapped = ".".join((header, b64(json.dumps(body).encode()), signature))
    target.assert_refused(target.attempt(swapped), 403, swapped)


def test_the_download_is_always_the_links_own_document(target: Target) -> None:
    token = target.signer.token(document_id=GATED_ID, nda_on_file=True)
    for suffix in ("/download?doc=pentest-summary", "/download?document=pentest-summary&file=private/pentest.pdf"):
        reply = target.attempt(token, suffix)
        assert reply.status == 200
        assert b"penetration" not in reply.body.lower() and reply.header("Content-Disposition", ).startswith(
            'attachment; filename="soc2-report-')
    for path in (f"{token}/download/../../{OTHER_GATED_ID}", f"{token}/{OTHER_GATED_ID}/download"):
        reply = target.gate.browser().get(f"/access/{path}")
        assert reply.status == 404 and b"%PDF" not in reply.body


@pytest.mark.parametrize("document", [PUBLIC_ID, "no-such-report", "../private/soc2", "private/soc2.pdf"])
def test_a_public_unknown_or_path_document_id_is_refused(target: Target, document: str) -> None:
    token = target.signer.raw(claims(target, doc=document))
    target.assert_refused(target.attempt(token), 403, token)


# ---------------------------------------------------------------- state: revocation and limits, across restarts


def test_a_revoked_link_is_refused_and_stays_refused_after_a_restart(project: Path, tmp_path: Path) -> None:
    signer = add_signing_key(project, tmp_path)
    link = signer.link()
    token = signer.token(link)
    with running_gate(settings(project, tmp_path)) as first:
        assert first.browser().get(f"/access/{token}").status == 200
        first.app.extensions["trustcenter.gate"].log.revoke(link.link_id, "contract ended")
        assert first.browser().get(f"/access/{token}").status == 410
    with running_gate(settings(project, tmp_path)) as second:
        target = Target(second, signer, project)
        reply = target.attempt(token)
        row = target.assert_refused(reply, 410, token)
        assert "withdrawn" in reply.text and row.link_id == link.link_id and "contract ended" in (row.detail or "")


def test_the_download_limit_holds_and_holds_after_a_restart(project: Path, tmp_path: Path) -> None:
    signer = add_signing_key(project, tmp_path)
    token = signer.token(max_downloads=2, nda_on_file=True)
    with running_gate(settings(project, tmp_path)) as first:
        browser = first.browser()
        assert [browser.get(f"/access/{token}/download").status for _ in range(3)] == [200, 200, 410]
    with running_gate(settings(project, tmp_path)) as second:
        target = Target(second, signer, project)
        reply = target.attempt(token, "/download")
        target.assert_refused(reply, 410, token)
        assert "download limit is reached" in reply.text
        target.assert_refused(target.attempt(token), 410, token)


def test_parallel_downloads_cannot_exceed_the_limit(target: Target) -> None:
    import concurrent.futures

    token = target.signer.token(max_downloads=3, nda_on_file=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: target.gate.browser().get(f"/access/{token}/download").status, range(12)))
    assert sorted(statuses) == [200] * 3 + [410] * 9


# ---------------------------------------------------------------- size and junk


def test_a_10_kb_token_is_refused_before_parsing(target: Target) -> None:
    header, _, signature = target.signer.token().split(".")
    huge = f"{header}.{'A' * 10_240}.{signature}"
    target.assert_refused(target.attempt(huge), 403, huge)
    assert "limit" in (target.events()[-1].detail or "")


@pytest.mark.parametrize("junk", ["x", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9", "eyJ.eyJ.sig", "%00", "%ff%fe.x.y",
                                  "%3Cimg%20src=x%20onerror=alert(1)%3E", "'%20OR%201=1--"])
def test_junk_is_refused(target: Target, junk: str) -> None:
    reply = target.gate.browser().get(f"/access/{junk}")
    assert_gate_headers(reply)
    assert reply.status == 403
    assert b"onerror" not in reply.body and b"OR 1=1" not in reply.body
    assert target.events()[-1].kind == "denied"


# ---------------------------------------------------------------- the NDA form and the download


def test_a_download_without_accepting_is_refused(target: Target) -> None:
    token = target.signer.token()
    reply = target.attempt(token, "/download")
    row = target.assert_refused(reply, 403, token)
    assert "accept the agreement first" in reply.text.lower() and row.link_id


def open_form(target: Target, token: str, browser: Browser) -> str:
    return browser.csrf_from(target.attempt(token, browser=browser))


def acceptance(csrf: str | None) -> dict[str, str]:
    form = {"step": "accept", "name": "Mallory", "company": "Evil Inc", "accept": "yes"}
    return form if csrf is None else {**form, "csrf": csrf}


def test_an_nda_post_without_the_csrf_token_is_refused(target: Target) -> None:
    token, browser = target.signer.token(), target.gate.browser()
    open_form(target, token, browser)
    reply = target.attempt(token, browser=browser, method="POST", form=acceptance(None))
    target.assert_refused(reply, 403, token)
    assert "accepted" not in [row.kind for row in target.events()]


def test_an_nda_post_with_another_sessions_csrf_token_is_refused(target: Target) -> None:
    token = target.signer.token()
    victim, attacker = target.gate.browser(), target.gate.browser()
    attackers_csrf = open_form(target, token, attacker)
    open_form(target, token, victim)
    reply = target.attempt(token, browser=victim, method="POST", form=acceptance(attackers_csrf))
    target.assert_refused(reply, 403, token)
    reply = target.attempt(token, browser=target.gate.browser(), method="POST", form=acceptance(attackers_csrf))
    target.assert_refused(reply, 403, token)  # no session at all


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"}, {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1.evil.example"},
])
def test_a_cross_site_nda_post_is_refused_even_with_the_right_csrf_token(target: Target,
                                                                         headers: dict[str, str]) -> None:
    token, browser = target.signer.token(), target.gate.browser()
    csrf = open_form(target, token, browser)
    reply = target.attempt(token, browser=browser, method="POST", form=acceptance(csrf), headers=headers)
    target.assert_refused(reply, 403, token)
    assert "accepted" not in [row.kind for row in target.events()]


@pytest.mark.parametrize("origin", ["own", "null"])  # "null": what browsers send under Referrer-Policy: no-referrer
def test_a_same_origin_nda_post_is_accepted(target: Target, origin: str) -> None:
    token, browser = target.signer.token(), target.gate.browser()
    csrf = open_form(target, token, browser)
    headers = {"Origin": target.gate.base_url if origin == "own" else "null", "Sec-Fetch-Site": "same-origin"}
    assert target.attempt(token, browser=browser, method="POST", form=acceptance(csrf), headers=headers).status == 303


def test_asking_for_the_download_step_before_accepting_is_refused(target: Target) -> None:
    token, browser = target.signer.token(), target.gate.browser()
    csrf = open_form(target, token, browser)
    reply = target.attempt(token, browser=browser, method="POST", form={"csrf": csrf, "step": "download"})
    target.assert_refused(reply, 403, token)


def test_a_forwarded_link_opened_in_another_browser_asks_for_the_nda_again(target: Target) -> None:
    token = target.signer.token()
    recipient, colleague = target.gate.browser(), target.gate.browser()
    recipient.accept(token)
    assert target.attempt(token, "/download", browser=recipient).status == 200
    page = target.attempt(token, browser=colleague)
    assert page.status == 200 and 'name="accept"' in page.text
    target.assert_refused(target.attempt(token, "/download", browser=colleague), 403, token)
    colleague.accept(token, name="Bob Colleague", company="Customer Inc")
    accepted = [row for row in target.events() if row.kind == "accepted"]
    assert [row.name for row in accepted] == ["Alice Example", "Bob Colleague"]
    assert accepted[0].browser != accepted[1].browser


def test_a_stolen_session_cookie_does_not_open_another_link(target: Target) -> None:
    first, second = target.signer.token(), target.signer.token()
    browser = target.gate.browser()
    browser.accept(first)
    reply = target.attempt(second, "/download", browser=browser)
    target.assert_refused(reply, 403, second)


def test_a_forged_session_cookie_is_ignored(target: Target) -> None:
    link = target.signer.link()
    token = target.signer.token(link)
    browser = target.gate.browser()
    target.attempt(token, browser=browser)
    (name,) = browser.cookies
    payload = b64(json.dumps({"accepted": [link.link_id], "browser": "x", "csrf": "y"}).encode())
    browser.cookies[name] = f"{payload}.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA"
    target.assert_refused(target.attempt(token, "/download", browser=browser), 403, token)


# ---------------------------------------------------------------- found in review


def expired_claims(target: Target, **changes: Any) -> dict[str, Any]:
    day_ago = int((now() - dt.timedelta(days=1)).timestamp())
    return claims(target, iat=day_ago, nbf=day_ago, exp=int((now() - dt.timedelta(minutes=5)).timestamp()), **changes)


def test_an_expired_link_with_a_wrong_audience_is_refused_as_invalid_and_audited(target: Target) -> None:
    token = target.signer.raw(expired_claims(target, aud="some-other-service"))
    target.assert_refused(target.attempt(token), 403, token)


def test_an_expired_link_with_a_wrong_issuer_is_refused_as_invalid_and_audited(target: Target) -> None:
    token = target.signer.raw(expired_claims(target, iss="https://evil.example"))
    target.assert_refused(target.attempt(token), 403, token)


def test_an_expired_link_for_an_unknown_document_is_refused_as_invalid(target: Target) -> None:
    token = target.signer.raw(expired_claims(target, doc="no-such-report"))
    reply = target.attempt(token)
    target.assert_refused(reply, 403, token)
    assert "expired" not in reply.text


def test_a_token_with_a_trailing_newline_is_refused(target: Target) -> None:
    token = target.signer.token(nda_on_file=True)
    for suffix in ("%0A", "%0A/download"):
        reply = target.attempt(token, suffix)
        assert reply.status == 403 and b"%PDF" not in reply.body
        last = target.events()[-1]
        assert (last.kind, last.status) == ("denied", 403)
        assert last.detail and links.fingerprint(token + "\n") in last.detail
        assert last.detail.startswith("not a JWT")  # refused by the pattern, before any parsing


def test_head_requests_on_the_download_do_not_use_up_the_link(target: Target) -> None:
    token = target.signer.token(max_downloads=1, nda_on_file=True)
    browser = target.gate.browser()
    assert [browser.request("HEAD", f"/access/{token}/download").status for _ in range(2)] == [405, 405]
    assert browser.get(f"/access/{token}/download").status == 200
    assert [row.kind for row in target.events()].count("downloaded") == 1


def test_a_link_revoked_while_its_download_is_being_stamped_is_refused(target: Target,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    link = target.signer.link(nda_on_file=True)
    token = target.signer.token(link)
    stamp = watermark.watermark

    def revoke_then_stamp(*args: Any) -> bytes:
        target.gate.app.extensions["trustcenter.gate"].log.revoke(link.link_id, "contract ended")
        return stamp(*args)

    monkeypatch.setattr(watermark, "watermark", revoke_then_stamp)
    reply = target.attempt(token, "/download")
    target.assert_refused(reply, 410, token)
    assert "withdrawn" in reply.text
    assert "downloaded" not in [row.kind for row in target.events()]


def test_a_gate_with_default_settings_refuses_links_signed_with_the_demo_key(project: Path, tmp_path: Path) -> None:
    private = keys.load_private_key(keys.ensure_demo_key(Project.at(project)))
    (public,) = (project / "trust" / "keys").glob("demo-*.pem")
    add_signing_key(project, tmp_path)  # a production key is listed too
    token = Signer(private, public.stem).token(nda_on_file=True)
    with running_gate(gate.settings_for(Project.at(project), db_path=gate_database(tmp_path),
                                        create_db=True)) as started:
        target = Target(started, Signer(private, public.stem), project)
        target.assert_refused(target.attempt(token), 403, token)
    demo = gate.settings_for(Project.at(project), db_path=gate_database(tmp_path, "demo.sqlite3"),
                             include_demo_keys=True, create_db=True)
    with running_gate(demo) as started:
        assert started.browser().get(f"/access/{token}").status == 200
