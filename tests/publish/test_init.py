"""`trustcenter init`, tried as a new user would: init, commit, edit, commit, changes, build."""

from __future__ import annotations

import json
import xml.etree.ElementTree as etree
from pathlib import Path

from support import edit, git, git_repo, run_cli

ATOM = "{http://www.w3.org/2005/Atom}"
COMPANY = 'Acme "Rockets" & Co'


def init(tmp_path: Path) -> Path:
    target = tmp_path / "acme-trust"
    result = run_cli("init", str(target), "--company", COMPANY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return target


def test_a_new_trust_center_checks_with_its_placeholders_named_and_its_edits_reach_changes_feed_and_history(
        tmp_path: Path) -> None:
    repo = init(tmp_path)
    result = run_cli("check", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    placeholders = [line for line in result.stdout.splitlines() if line.endswith("[placeholder-content]")]
    assert any("security@example.com" in line for line in placeholders)  # not published as a contact unnoticed
    assert any(line.startswith("trust/nda.md:") for line in placeholders)
    assert any("control AC-01 is still the sample" in line for line in placeholders)
    assert "0 error(s)" in result.stdout
    assert run_cli("check", "--strict", cwd=repo).returncode == 1  # the pipeline does not publish placeholders
    git_repo(repo, date="2026-01-05")
    assert git(repo, "status", "--porcelain") == ""

    edit(repo / "trust/subprocessors.yaml", "subprocessors: []", """subprocessors:
  - name: Example Cloud
    purpose: Hosting of the production service
    data_categories: [Customer data]
    locations: [US, DE]
    website: https://cloud.example
    added: 2026-02-01
""")
    edit(repo / "trust/controls.yaml", "        status: planned", "        status: implemented")
    git(repo, "commit", "-q", "-am", "Add our hosting provider; SSO is in place", date="2026-02-01")

    result = run_cli("changes", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert ("Example Cloud added as a subprocessor (since 2026-02-01): Hosting of the production service; "
            "data: Customer data; locations: United States, Germany.") in result.stdout
    assert ("AC-01 Single sign-on with multi-factor authentication: status changed from planned to implemented."
            in result.stdout)

    result = run_cli("build", cwd=repo)
    assert result.returncode == 0, result.stderr
    site = repo / "site"
    feed = etree.parse(site / "feed.xml").getroot()
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.iter(f"{ATOM}entry")]
    assert "Subprocessor added: Example Cloud" in titles
    assert "Trust center launched" in titles
    history = (site / "subprocessors/index.html").read_text()
    assert '<td>Added</td><td>Example Cloud</td>' in history
    controls = (site / "controls/index.html").read_text()
    assert "Single sign-on with multi-factor authentication" in controls
    assert json.loads((site / "trust.json").read_text())["company"]["name"] == COMPANY
    assert (site / "_headers").is_file()
    assert git(repo, "status", "--porcelain") == "", "the build left files git would commit"


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = run_cli("init", str(target), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: {target} is not empty; choose a new or empty folder so nothing is "
                                     "overwritten")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_every_yaml_file_names_a_schema_inside_the_new_repository(tmp_path: Path) -> None:
    repo = init(tmp_path)
    for path in sorted((repo / "trust").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=../schemas/"), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target.is_relative_to(repo) and target.is_file(), f"{path} points to {target}"
        assert json.loads(target.read_text())["$id"] == target.name


def test_the_new_repository_keeps_secrets_site_and_gated_files_out_of_git(tmp_path: Path) -> None:
    repo = init(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    for path in ("signing.pem", "trust/private/soc2.pdf", "site/index.html", ".trustcenter/gate.sqlite3",
                 "public/index.html"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("x")
        assert git(repo, "check-ignore", path).strip() == path
    (repo / "trust/keys/k1.pem").write_text("public")
    git(repo, "add", "-A")
    tracked = git(repo, "ls-files").split()
    assert "trust/keys/k1.pem" in tracked
    assert ".github/workflows/trust-center.yml" in tracked and ".gitlab-ci.yml" in tracked
    assert "overrides/README.md" in tracked and "mkdocs.yml" in tracked
    assert not any(name.startswith(("site/", "trust/private/", ".trustcenter/")) for name in tracked)


def test_the_theme_comes_from_the_generator_and_any_block_can_still_be_overridden(tmp_path: Path) -> None:
    repo = init(tmp_path)
    assert not (repo / "overrides" / "main.html").exists()  # the theme is the installed generator's
    result = run_cli("build", cwd=repo)
    assert result.returncode == 0, result.stderr
    page = (repo / "site/index.html").read_text()
    assert "assets/stylesheets/trust.css" in page and "assets/javascripts/trust-base.js" in page
    assert (repo / "site/assets/stylesheets/trust.css").is_file()
    assert not (repo / "site/README.md").exists()  # the overrides folder's README is not published
    (repo / "overrides/main.html").write_text(
        '{% extends "trustcenter.html" %}\n{% block announce %}Our own announcement{% endblock %}\n')
    result = run_cli("build", cwd=repo)
    assert result.returncode == 0, result.stderr
    page = (repo / "site/index.html").read_text()
    assert "Our own announcement" in page
    assert "assets/stylesheets/trust.css" in page  # the trust center's blocks are kept


def test_the_new_repository_pins_the_generator_that_made_it(tmp_path: Path) -> None:
    from generator.publish import install

    # How pip installed the generator these tests run; each way's line is specified in test_install.py.
    expected = install.installed()
    target = tmp_path / "acme-trust"
    result = run_cli("init", str(target), "--company", COMPANY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pins = [line for line in (target / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins == [expected.requirement]
    assert f"requirements.txt installs the generator as: {expected.requirement}\n" in result.stdout
    assert [line for line in result.stderr.splitlines() if line.startswith("warning: ")] == [
        f"warning: {warning}" for warning in expected.warnings]


def test_the_new_repository_names_owners_for_what_publishes_or_exposes(tmp_path: Path) -> None:
    repo = init(tmp_path)
    owners = {line.split()[0] for line in (repo / "CODEOWNERS").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert {"/trust/keys/", "/trust/company.yaml", "/trust/documents.yaml", "/trust/config.yaml"} <= owners


def test_any_company_name_makes_valid_yaml_and_one_full_stop(tmp_path: Path) -> None:
    company = "Acme: s.r.o. # Praha."
    target = tmp_path / "acme trust"
    result = run_cli("init", str(target), "--company", company, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"next: cd '{target}' && git init -b main && git add ." in result.stdout  # the path quoted for the shell
    assert run_cli("check", cwd=target).returncode == 0
    result = run_cli("build", cwd=target)
    assert result.returncode == 0, result.stderr
    published = json.loads((target / "site/trust.json").read_text())["company"]
    assert published["name"] == company
    assert published["tagline"] == "Security, privacy and compliance at Acme: s.r.o. # Praha."


def test_the_reference_the_new_files_point_to_prints_for_the_installed_generator(tmp_path: Path) -> None:
    repo = init(tmp_path)
    assert "`trustcenter reference --output -`" in (repo / "trust/company.yaml").read_text()
    result = run_cli("reference", "--output", "-", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "security_txt" in result.stdout and "placeholder-content" in result.stdout
    assert sorted(path.name for path in repo.iterdir() if path.name.endswith(".md")) == ["README.md"]  # nothing written
