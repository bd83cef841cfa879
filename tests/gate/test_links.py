"""`trustcenter link create / revoke` and the token: what it contains, what it refuses, how it verifies."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from conftest import GATE_URL, GATED_ID, OTHER_GATED_ID, PUBLIC_ID, TRUST_CENTER_URL, make_project
from loopback import add_signing_key
from support import gate_database

from generator.cli import main
from generator.content import model
from generator.content.project import Project
from generator.gate import keys, links, tokens
from generator.gate.settings import open_log

# On SQLite and on PostgreSQL (`gate_store`, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("gate_store")

NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def key_file(project: Path, tmp_path: Path) -> Path:
    return keys.create_key_pair(Project.at(project), kid="sales-1", private_key_path=tmp_path / "secrets" / "sales-1.pem").private_key_path


def create(project: Path, key_file: Path | None, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    options = ["--private-key", str(key_file)] if key_file else []
    result = CliRunner().invoke(main, ["link", "create", *args, *options, "--project", str(project)], env=env)
    return result.exit_code, result.output


def verify(project: Path, token: str) -> tokens.Link:
    return tokens.verify(token, keys=keys.load_trusted_keys(Project.at(project)), issuer=TRUST_CENTER_URL,
                        gated_documents={GATED_ID, OTHER_GATED_ID}, max_lifetime=dt.timedelta(days=30))


def test_link_create_prints_the_gate_url_with_a_token_the_gate_accepts(project: Path, key_file: Path) -> None:
    code, output = create(project, key_file, GATED_ID, "--to", "alice@customer.test", "--company", "Customer Inc")
    assert code == 0, output
    url = output.splitlines()[0]
    assert url.startswith(f"{GATE_URL}/access/")
    link = verify(project, url.rsplit("/", 1)[1])
    assert (link.document_id, link.recipient, link.company) == (GATED_ID, "alice@customer.test", "Customer Inc")
    assert (link.max_downloads, link.nda_on_file) == (5, False)
    assert link.expires_at - link.issued_at == dt.timedelta(days=14)


def test_link_create_json_names_url_link_id_document_recipient_and_expiry(project: Path, key_file: Path) -> None:
    code, output = create(project, key_file, GATED_ID, "--to", "bob@customer.test", "--expires", "3d",
                          "--max-downloads", "2", "--nda-on-file", "--json")
    assert code == 0, output
    created = json.loads(output)
    assert {"url", "link_id", "document", "recipient", "expires"} <= set(created)
    assert (created["document"], created["recipient"], created["max_downloads"]) == (GATED_ID, "bob@customer.test", 2)
    link = verify(project, created["url"].rsplit("/", 1)[1])
    assert link.link_id == created["link_id"] and link.nda_on_file
    assert created["expires"] == link.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_token_is_an_eddsa_jwt_with_a_kid_and_every_claim(project: Path, key_file: Path) -> None:
    token = create(project, key_file, GATED_ID, "--to", "alice@customer.test")[1].splitlines()[0].rsplit("/", 1)[1]
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "sales-1", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "doc", "company", "iat", "nbf", "exp", "jti", "max_downloads",
                           "nda_on_file"}
    assert (claims["iss"], claims["aud"], claims["sub"]) == (TRUST_CENTER_URL, tokens.AUDIENCE, "alice@customer.test")
    assert claims["company"] == "customer.test"  # the email's domain when --company is not given


def test_the_gate_url_option_overrides_company_yaml(project: Path, key_file: Path) -> None:
    code, output = create(project, key_file, GATED_ID, "--to", "a@b.test", "--gate-url", "http://127.0.0.1:8000/")
    assert code == 0, output
    assert output.startswith("http://127.0.0.1:8000/access/ey")


def test_the_signing_key_can_come_from_the_environment(project: Path, key_file: Path) -> None:
    code, output = create(project, None, GATED_ID, "--to", "a@b.test", env={"TRUSTCENTER_SIGNING_KEY": str(key_file)})
    assert code == 0, output
    assert output.startswith(f"{GATE_URL}/access/")


def test_without_a_signing_key_link_create_says_how_to_get_one(project: Path) -> None:
    code, output = create(project, None, GATED_ID, "--to", "a@b.test", env={"TRUSTCENTER_SIGNING_KEY": ""})
    assert code == 1
    assert "TRUSTCENTER_SIGNING_KEY" in output and "keys new" in output


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "--to", "a@b.test"], "no gated document 'nope'"),
    ([PUBLIC_ID, "--to", "a@b.test"], "is a public document"),
    (["../private/soc2", "--to", "a@b.test"], "no gated document"),
    ([GATED_ID, "--to", "not-an-email"], "is not an email address"),
    ([GATED_ID, "--to", "alice@localhost"], "is not an email address"),
    ([GATED_ID, "--to", "a@b.test\nBcc: c@d.test"], "is not an email address"),
    ([GATED_ID, "--to", "a@b.test", "--expires", "2020-01-01"], "not in the future"),
    ([GATED_ID, "--to", "a@b.test", "--expires", "0d"], "not in the future"),
    ([GATED_ID, "--to", "a@b.test", "--expires", "31d"], "at most 30 days"),
    ([GATED_ID, "--to", "a@b.test", "--expires", "soon"], "neither a duration"),
    ([GATED_ID, "--to", "a@b.test", "--max-downloads", "0"], "0 is not in the range"),
    ([GATED_ID, "--to", "a@b.test", "--company", "Evil\x00Corp"], "company name"),
])
def test_link_create_refuses(project: Path, key_file: Path, args: list[str], message: str) -> None:
    code, output = create(project, key_file, *args)
    assert code != 0
    assert message in output
    assert "/access/" not in output


def test_a_date_expiry_lasts_through_that_day_in_utc() -> None:
    assert links.parse_expiry("2026-12-01", now=NOW, max_days=30) == dt.datetime(2026, 12, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("12h", NOW + dt.timedelta(hours=12)),
    ("2w", NOW + dt.timedelta(days=14)),
    ("30d", NOW + dt.timedelta(days=30)),
    ("2026-11-30T17:00:00+01:00", dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)),
    ("2026-11-30T16:00:00Z", dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC)),
])
def test_expiry_forms(text: str, expected: dt.datetime) -> None:
    assert links.parse_expiry(text, now=NOW, max_days=30) == expected


def test_the_default_expiry_is_14_days_or_the_company_maximum_if_shorter() -> None:
    assert links.parse_expiry(None, now=NOW, max_days=30) == NOW + dt.timedelta(days=14)
    assert links.parse_expiry(None, now=NOW, max_days=7) == NOW + dt.timedelta(days=7)


def test_the_maximum_lifetime_comes_from_company_yaml(tmp_path: Path) -> None:
    project = make_project(tmp_path, link_max_days=3)
    key = keys.create_key_pair(Project.at(project), kid="k", private_key_path=tmp_path / "k.pem").private_key_path
    code, output = create(project, key, GATED_ID, "--to", "a@b.test", "--expires", "4d")
    assert code == 1 and "at most 3 days" in output


def test_without_a_gate_url_anywhere_link_create_asks_for_one(project: Path, key_file: Path) -> None:
    company = project / "trust" / "company.yaml"
    company.write_text(company.read_text().replace(f"gate_url: {GATE_URL}\n", ""))
    code, output = create(project, key_file, GATED_ID, "--to", "a@b.test")
    assert code == 1 and "gate_url" in output and "--gate-url" in output


def test_a_key_whose_public_half_is_not_listed_cannot_sign(project: Path, key_file: Path) -> None:
    (project / "trust" / "keys" / "sales-1.pem").unlink()
    code, output = create(project, key_file, GATED_ID, "--to", "a@b.test")
    assert code == 1 and "not in trust/keys/" in output


def test_a_data_signing_key_cannot_sign_a_link_and_is_named_as_what_it_is(project: Path, tmp_path: Path) -> None:
    from generator.site import signing

    data_key = signing.create_data_key_pair(Project.at(project), kid="data-ci",
                                            private_key_path=tmp_path / "secrets" / "data-ci.pem").private_key_path
    for given, env in ((data_key, None), (None, {keys.SIGNING_KEY_ENV: str(data_key)})):
        code, output = create(project, given, GATED_ID, "--to", "a@b.test", env=env)
        assert code == 1
        assert "is the data-signing key data-ci" in output and "`trustcenter keys new`" in output
        assert "not in trust/keys/" not in output  # its public half is: the old message sent users looking for it
        assert "/access/" not in output


def test_after_rotation_links_signed_with_a_still_listed_key_keep_working(project: Path, tmp_path: Path) -> None:
    old = add_signing_key(project, tmp_path, "2026-q3")
    old_token = old.token()
    new = add_signing_key(project, tmp_path, "2026-q4")
    assert verify(project, old_token).recipient == verify(project, new.token()).recipient
    (project / "trust" / "keys" / "2026-q3.pem").unlink()  # retired after the longest link lifetime
    with pytest.raises(tokens.InvalidLink, match="unknown key id"):
        verify(project, old_token)
    verify(project, new.token())


def test_an_expired_link_says_when_it_expired(project: Path, tmp_path: Path) -> None:
    signer = add_signing_key(project, tmp_path)
    expired_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    token = signer.token(issued_at=expired_at - dt.timedelta(days=1), expires_at=expired_at)
    with pytest.raises(tokens.ExpiredLink) as caught:
        verify(project, token)
    assert caught.value.expired_at == expired_at
    assert caught.value.link is not None and caught.value.link.recipient == "alice@customer.test"


def test_the_patterns_copied_for_speed_match_the_content_model() -> None:
    assert tokens.EMAIL_RE.pattern == model._EMAIL_RE.pattern
    assert tokens.DOCUMENT_ID_RE.pattern == model._ID_RE


def test_link_create_loads_neither_the_model_nor_flask_mkdocs_or_pikepdf(project: Path, key_file: Path) -> None:
    script = (
        "import sys\n"
        "from generator.cli import main\n"
        f"args = ['link', 'create', {GATED_ID!r}, '--to', 'a@b.test', '--private-key', {str(key_file)!r}, "
        f"'--project', {str(project)!r}]\n"
        "main(args, standalone_mode=False)\n"
        "heavy = {'flask', 'mkdocs', 'pikepdf', 'pydantic', 'reportlab', 'markdown', 'generator.content.model'}\n"
        "print(sorted(name for name in sys.modules if name in heavy or name.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                            env={**os.environ, "TRUSTCENTER_SIGNING_KEY": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_link_revoke_records_the_revocation_for_the_gate(project: Path, state_dir: Path, tmp_path: Path,
                                                         gate_store: str) -> None:
    result = CliRunner().invoke(main, ["link", "revoke", "AbCdEfGh12345678", "--reason", "sent to the wrong person",
                                       "--create", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert "not seen it yet" in result.output
    log = open_log(Project.at(project), None)
    assert log.path == (state_dir / "gate.sqlite3" if gate_store == "sqlite" else gate_database(tmp_path))  # default
    assert log.revocation("AbCdEfGh12345678") == "sent to the wrong person"
    again = CliRunner().invoke(main, ["link", "revoke", "AbCdEfGh12345678", "--project", str(project)])
    assert again.exit_code == 0 and "already revoked" in again.output


@pytest.mark.sqlite_only  # a file that is not there; on PostgreSQL, an empty database (test_postgres_store.py)
def test_link_revoke_without_a_database_fails_and_creates_none(project: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "typo" / "gate.sqlite3"
    result = CliRunner().invoke(main, ["link", "revoke", "AbCdEfGh12345678", "--db", str(wrong),
                                       "--project", str(project)])
    assert result.exit_code == 1 and f"there is no gate database at {wrong}" in result.output
    assert not wrong.exists() and not wrong.parent.exists()


def test_link_revoke_refuses_something_that_is_not_a_link_id(project: Path) -> None:
    result = CliRunner().invoke(main, ["link", "revoke", "x'; DROP TABLE events;--", "--project", str(project)])
    assert result.exit_code == 1 and "is not a link id" in result.output


def test_link_create_refuses_hostile_yaml_with_a_located_message(project: Path, key_file: Path) -> None:
    (project / "trust/documents.yaml").write_text("documents: " + "[" * 50_000 + "]" * 50_000 + "\n")
    code, output = create(project, key_file, GATED_ID, "--to", "jane@customer.example")
    assert code == 1 and "Traceback" not in output
    assert re.search(r"^error: trust/documents\.yaml:1:\d+: error: .+; run `trustcenter check`$", output, re.MULTILINE)
    assert "/access/" not in output


def test_link_create_says_which_host_the_link_opens(project: Path, key_file: Path) -> None:
    result = CliRunner().invoke(main, ["link", "create", GATED_ID, "--to", "jane@customer.test", "--private-key",
                                       str(key_file), "--project", str(project), "--json"])
    assert json.loads(result.output)["host"] == "trust.example.test"
    code, output = create(project, key_file, GATED_ID, "--to", "jane@customer.test")
    assert code == 0 and output.splitlines()[-1].endswith("; it opens the gate at trust.example.test")


@pytest.mark.parametrize(("gate_url", "problem"), [
    ("https://trust.example.test@evil.example", "hides the host it really goes to"),
    ("http://gate.example.test", "plain http is accepted for 127.0.0.1 and localhost only"),
])
def test_link_create_refuses_a_gate_address_that_misleads_or_leaks(project: Path, key_file: Path, gate_url: str,
                                                                   problem: str) -> None:
    code, output = create(project, key_file, GATED_ID, "--to", "jane@customer.test", "--gate-url", gate_url)
    assert code == 1 and problem in output and "/access/" not in output
