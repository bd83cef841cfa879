"""`trustcenter keys new` and the key files: where they go, who may read them, which ones the gate trusts."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from generator.cli import main
from generator.content.project import Project
from generator.gate import keys


def run(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project", str(project)])
    return result.exit_code, result.output


def test_keys_new_writes_a_0600_private_key_outside_the_project_and_the_public_key_under_its_kid(
        project: Path, tmp_path: Path) -> None:
    private = tmp_path / "secrets" / "sales.pem"
    code, output = run(project, "keys", "new", "--kid", "2026-q4", "--private-key", str(private))
    assert code == 0, output
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert isinstance(keys.load_private_key(private), Ed25519PrivateKey)
    public = project / "trust" / "keys" / "2026-q4.pem"
    assert b"PRIVATE" not in public.read_bytes()
    assert isinstance(serialization.load_pem_public_key(public.read_bytes()), Ed25519PublicKey)
    assert f"TRUSTCENTER_SIGNING_KEY={private}" in output


def test_keys_new_refuses_a_private_key_inside_the_project(project: Path) -> None:
    code, output = run(project, "keys", "new", "--private-key", str(project / "trust" / "signing.pem"))
    assert code == 1
    assert "inside the project" in output
    assert not (project / "trust" / "signing.pem").exists()
    assert not list((project / "trust").glob("keys/*.pem"))


def test_keys_new_refuses_even_a_gitignored_folder_inside_the_project(project: Path) -> None:
    code, output = run(project, "keys", "new", "--kid", "local", "--private-key",
                       str(project / ".trustcenter" / "local.pem"))
    assert code == 1 and "is inside the project" in output
    assert not (project / ".trustcenter").exists()


@pytest.mark.parametrize("kid", ["UPPER", "../escape", "a" * 41, "with space", "semi;colon", ""])
def test_keys_new_refuses_a_malformed_kid(project: Path, tmp_path: Path, kid: str) -> None:
    code, output = run(project, "keys", "new", "--kid", kid, "--private-key", str(tmp_path / "k.pem"))
    assert code == 1
    assert "key id" in output
    assert not (tmp_path / "k.pem").exists()


def test_keys_new_never_overwrites_a_key(project: Path, tmp_path: Path) -> None:
    private = tmp_path / "k.pem"
    assert run(project, "keys", "new", "--kid", "one", "--private-key", str(private))[0] == 0
    before = private.read_bytes()
    code, output = run(project, "keys", "new", "--kid", "two", "--private-key", str(private))
    assert code == 1 and "already exists" in output
    assert private.read_bytes() == before
    code, output = run(project, "keys", "new", "--kid", "one", "--private-key", str(tmp_path / "other.pem"))
    assert code == 1 and "already exists" in output


def test_the_default_kid_is_the_date_and_a_random_suffix() -> None:
    first, second = keys.new_kid(), keys.new_kid()
    assert re.fullmatch(r"\d{8}-[0-9a-f]{6}", first)
    assert first != second


def test_the_default_private_key_path_is_the_users_configuration_folder(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert keys.default_private_key_path("k1") == tmp_path / "config" / "trustcenter" / "keys" / "k1.pem"


def test_a_private_key_readable_by_others_is_refused(project: Path, tmp_path: Path) -> None:
    pair = keys.create_key_pair(Project.at(project), kid="k1", private_key_path=tmp_path / "k1.pem")
    pair.private_key_path.chmod(0o644)
    with pytest.raises(keys.KeyFileError, match="chmod 600"):
        keys.load_private_key(pair.private_key_path)


def test_the_gate_trusts_exactly_the_ed25519_keys_in_trust_keys(project: Path, tmp_path: Path) -> None:
    keys.create_key_pair(Project.at(project), kid="old", private_key_path=tmp_path / "old.pem")
    keys.create_key_pair(Project.at(project), kid="new", private_key_path=tmp_path / "new.pem")
    assert sorted(keys.load_trusted_keys(Project.at(project))) == ["new", "old"]


def test_a_non_ed25519_public_key_in_trust_keys_is_an_error(project: Path) -> None:
    folder = project / "trust" / "keys"
    folder.mkdir(parents=True)
    rsa_like = ec.generate_private_key(ec.SECP256R1()).public_key()
    (folder / "ec.pem").write_bytes(rsa_like.public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(keys.KeyFileError, match="not an Ed25519 key"):
        keys.load_trusted_keys(Project.at(project))


def test_a_key_file_whose_name_is_not_a_kid_is_an_error(project: Path, tmp_path: Path) -> None:
    pair = keys.create_key_pair(Project.at(project), kid="fine", private_key_path=tmp_path / "fine.pem")
    pair.public_key_path.rename(pair.public_key_path.with_name("Not A Kid.pem"))
    with pytest.raises(keys.KeyFileError, match="file name is the key id"):
        keys.load_trusted_keys(Project.at(project))


def test_the_demo_key_is_made_once_in_the_state_folder_and_listed_in_trust_keys(project: Path,
                                                                              state_dir: Path) -> None:
    private = keys.ensure_demo_key(Project.at(project))
    assert private == state_dir / "demo-signing-key.pem" and not private.is_relative_to(project)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    listed = list((project / "trust" / "keys").glob("demo-*.pem"))
    assert len(listed) == 1
    assert keys.ensure_demo_key(Project.at(project)) == private
    assert list((project / "trust" / "keys").glob("demo-*.pem")) == listed
    trusted = keys.load_trusted_keys(Project.at(project), include_demo=True)
    assert keys.kid_of(keys.load_private_key(private), trusted) == listed[0].stem


def test_the_demo_key_relists_its_public_key_if_it_was_removed(project: Path) -> None:
    keys.ensure_demo_key(Project.at(project))
    (public,) = (project / "trust" / "keys").glob("demo-*.pem")
    public.unlink()
    keys.ensure_demo_key(Project.at(project))
    assert public.is_file()


def test_the_demo_key_is_trusted_only_when_asked_for(project: Path, tmp_path: Path) -> None:
    keys.create_key_pair(Project.at(project), kid="prod", private_key_path=tmp_path / "prod.pem")
    keys.ensure_demo_key(Project.at(project))
    (demo,) = keys.demo_kids(Project.at(project))
    assert sorted(keys.load_trusted_keys(Project.at(project))) == ["prod"]
    assert sorted(keys.load_trusted_keys(Project.at(project), include_demo=True)) == sorted(["prod", demo])
