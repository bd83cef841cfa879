"""`trustcenter changes` and the git-derived history: real repositories on tmp_path, the real CLI."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import xml.etree.ElementTree as etree
from pathlib import Path

from support import REPO, edit, git, git_repo, run_cli

from generator.content.project import Project
from generator.publish import history

TODAY = dt.date.today()
ATOM = "{http://www.w3.org/2005/Atom}"

NEW_SUBPROCESSOR = """\
  - name: Example Mail
    purpose: Transactional email
    data_categories: [email addresses]
    locations: [IE]
    website: https://mail.example.test
    added: 2025-06-01
"""


def changes(project: Path, *args: str) -> str:
    result = run_cli("changes", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit(project: Path, message: str, date: str | None = None) -> None:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message, date=date)


def test_changes_names_added_changed_and_removed_subprocessors(project: Path) -> None:
    git_repo(project)
    subs = project / "trust/subprocessors.yaml"
    subs.write_text(subs.read_text() + NEW_SUBPROCESSOR)
    edit(subs, "locations: [US]", "locations: [US, DE]")
    commit(project, "Add Example Mail, process in Germany too")

    text = changes(project)
    assert "Subprocessors" in text
    assert "Example Mail added as a subprocessor (since 2025-06-01): Transactional email; data: email addresses; " \
           "locations: Ireland." in text
    assert "Example Cloud changed: locations changed from United States to United States, Germany." in text

    edit(subs, NEW_SUBPROCESSOR, "")  # deleted in the working tree, not yet committed
    text = changes(project, "--since", "HEAD")
    assert "to the working tree" in text
    assert "Example Mail removed as a subprocessor (deleted from the list)." in text
    assert "Example Cloud" not in text


def test_changes_names_renewed_expired_withdrawn_certifications_and_a_published_soc3(project: Path) -> None:
    certs = project / "trust/certifications.yaml"
    certs.write_text(certs.read_text() + f"""\
  - id: iso27001
    framework: ISO 27001
    valid_from: {TODAY - dt.timedelta(days=1000)}
    valid_until: {TODAY - dt.timedelta(days=30)}
    report_date: {TODAY - dt.timedelta(days=1000)}
    auditor: Example Certification Body
  - id: pci
    framework: PCI DSS
    status: active
""")
    git_repo(project, date=str(TODAY - dt.timedelta(days=400)))  # when the ISO certificate was still valid
    period_start, period_end, reported = (TODAY - dt.timedelta(days=d) for d in (200, 20, 5))
    edit(certs, "report_date: " + str(TODAY - dt.timedelta(days=30)), f"report_date: {reported}")
    edit(certs, "audit_period: {start: " + str(TODAY - dt.timedelta(days=300)),
         f"audit_period: {{start: {period_start}")
    edit(certs, "end: " + str(TODAY - dt.timedelta(days=60)), f"end: {period_end}")
    edit(certs, "status: active", "status: withdrawn")
    shutil.copytree(REPO / "trust/soc3", project / "trust/soc3")
    edit(project / "trust/soc3/2026.yaml", "based_on: soc2-type2", "based_on: soc2")
    soc3 = (project / "trust/soc3/2026.yaml").read_text()
    if "document:" in soc3:
        (project / "trust/soc3/2026.yaml").write_text(
            "\n".join(line for line in soc3.splitlines() if not line.startswith("document:")) + "\n")

    text = changes(project, "--since", "HEAD")
    assert f"SOC 2 Type II renewed for {period_start} to {period_end}; current until " \
           f"{period_end + dt.timedelta(days=365)}." in text
    assert f"ISO 27001 expired (current until {TODAY - dt.timedelta(days=30)})." in text
    assert "PCI DSS withdrawn." in text
    assert "SOC 3 reports" in text and "published: period" in text


def test_changes_names_control_status_and_document_changes(project: Path) -> None:
    git_repo(project)
    controls = project / "trust/controls.yaml"
    edit(controls, "status: implemented", "status: in_progress")
    controls.write_text(controls.read_text() + """\
      - id: AC-2
        name: Access reviews
        description: Quarterly.
        status: planned
""")
    documents = project / "trust/documents.yaml"
    edit(documents, "title: Security overview", "title: Security overview 2026")
    edit(documents, "  - id: pentest-summary", "  - id: pentest-summary-old")
    commit(project, "Controls and documents")

    text = changes(project)
    assert "AC-1 Single sign-on: status changed from implemented to in progress." in text
    assert "AC-2 Access reviews added (planned)." in text
    assert "Security overview 2026 updated" in text
    assert "Penetration test summary (under NDA) added." in text  # a new id is a new document
    assert "Penetration test summary removed." in text


def test_markdown_format_reads_as_a_pull_request_comment_and_escapes_content(project: Path) -> None:
    git_repo(project)
    subs = project / "trust/subprocessors.yaml"
    subs.write_text(subs.read_text() + NEW_SUBPROCESSOR.replace("Example Mail", "Mail <img src=x> **Co**"))
    commit(project, "Add a subprocessor")

    text = changes(project, "--format", "markdown")
    lines = text.splitlines()
    assert lines[0] == "## Trust center changes"
    assert "### Subprocessors" in lines
    bullet = next(line for line in lines if line.startswith("- **Added**: "))
    assert r"Mail \<img src=x\> \*\*Co\*\*" in bullet
    assert "<img" not in text.replace(r"\<img", "")


def test_json_format_lists_every_change_with_section_and_kind(project: Path) -> None:
    git_repo(project)
    edit(project / "trust/controls.yaml", "status: implemented", "status: planned")
    data = json.loads(changes(project, "--since", "HEAD", "--format", "json"))
    assert data["until"] == "the working tree"
    assert [(c["section"], c["kind"], c["subject"]) for c in data["changes"]] == [
        ("Controls", "status", "AC-1 Single sign-on")]


def test_default_since_is_the_merge_base_with_origin_main(project: Path) -> None:
    git_repo(project)
    git(project, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(project, "checkout", "-q", "-b", "feature")
    edit(project / "trust/controls.yaml", "status: implemented", "status: planned")
    commit(project, "first commit of the pull request")
    subs = project / "trust/subprocessors.yaml"
    subs.write_text(subs.read_text() + NEW_SUBPROCESSOR)
    commit(project, "second commit of the pull request")

    text = changes(project)  # both commits of the branch, not only the last one
    assert "status changed from implemented to planned" in text
    assert "Example Mail added" in text


def test_a_shallow_clone_says_what_it_cannot_see_and_exits_0(project: Path, tmp_path: Path) -> None:
    git_repo(project)
    edit(project / "trust/controls.yaml", "status: implemented", "status: planned")
    commit(project, "second")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{project}", str(clone))

    result = run_cli("changes", cwd=clone)
    assert result.returncode == 0, result.stderr
    assert "is not available in this shallow clone" in result.stdout
    assert "git fetch --unshallow" in result.stdout


def test_outside_a_repository_or_with_an_unknown_revision_it_says_so_in_one_sentence(project: Path) -> None:
    result = run_cli("changes", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {project.resolve()} is not inside a git repository; run the command in your trust center's "
        "clone (or `git init` one)"]
    git_repo(project)
    result = run_cli("changes", "--since", "no-such-branch", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: unknown revision 'no-such-branch'; check it with `git log --oneline`"
    assert "Traceback" not in result.stderr


def test_site_history_and_feed_show_removals_and_changes_only_git_knows(project: Path) -> None:
    for part in ("site_src", "overrides", "mkdocs.yml"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy2)(REPO / part, project / part)
    subs = project / "trust/subprocessors.yaml"
    subs.write_text(subs.read_text() + NEW_SUBPROCESSOR + NEW_SUBPROCESSOR.replace("Example Mail", "Old Analytics")
                    .replace("added: 2025-06-01", "added: 2024-02-01\n    removed: 2025-02-01"))
    git_repo(project, date="2025-01-10")
    edit(subs, NEW_SUBPROCESSOR, "")  # deleted without a removed: date
    edit(subs, NEW_SUBPROCESSOR.replace("Example Mail", "Old Analytics").replace(
        "added: 2025-06-01", "added: 2024-02-01\n    removed: 2025-02-01"), "")  # deleted, had a removed: date
    edit(subs, "locations: [US]", "locations: [US, DE]")
    commit(project, "Tidy the subprocessor list", date="2025-09-05")

    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    page = (project / "site/subprocessors/index.html").read_text()
    history_table = page[page.index('id="history"'):]
    assert ('<td><time datetime="2025-09-05">Sep 5, 2025</time></td><td>Removed</td><td>Example Mail</td>'
            in history_table)
    assert '<td><time datetime="2025-02-01">Feb 1, 2025</time></td><td>Removed</td><td>Old Analytics</td>' \
        in history_table
    assert ('<td><time datetime="2025-09-05">Sep 5, 2025</time></td><td>Changed</td><td>Example Cloud</td>'
            '<td>Locations changed from United States to United States, Germany</td>') in history_table
    assert '<td><time datetime="2025-06-01">Jun 1, 2025</time></td><td>Added</td><td>Example Mail</td>' \
        in history_table

    feed = etree.parse(project / "site/feed.xml").getroot()
    entries = {entry.findtext(f"{ATOM}title"): entry for entry in feed.iter(f"{ATOM}entry")}
    assert entries["Subprocessor removed: Example Mail"].findtext(f"{ATOM}updated") == "2025-09-05T00:00:00Z"
    assert entries["Subprocessor removed: Old Analytics"].findtext(f"{ATOM}updated") == "2025-02-01T00:00:00Z"
    changed = entries["Subprocessor changed: Example Cloud"]
    assert "Locations changed from United States to United States, Germany" in (
        changed.findtext(f"{ATOM}content") or "")


def test_history_walk_is_bounded_and_empty_outside_git(project: Path) -> None:
    assert history.subprocessor_events(Project.at(project), TODAY) == []
    git_repo(project, date="2025-01-01")
    subs = project / "trust/subprocessors.yaml"
    for index, country in enumerate(["DE", "FR", "IE"]):
        edit(subs, "locations: [US" + "".join(f", {c}" for c in ["DE", "FR", "IE"][:index]) + "]",
             "locations: [US" + "".join(f", {c}" for c in ["DE", "FR", "IE"][:index + 1]) + "]")
        commit(project, f"add {country}", date=f"2025-0{index + 2}-01")
    events = history.subprocessor_events(Project.at(project), TODAY)
    assert [e.date for e in events] == [dt.date(2025, 2, 1), dt.date(2025, 3, 1), dt.date(2025, 4, 1)]
    assert [e.date for e in history.subprocessor_events(Project.at(project), TODAY, max_commits=2)] == [dt.date(2025, 4, 1)]


def test_a_data_signing_key_is_named_for_what_it_signs_not_as_a_link_key(project: Path, tmp_path: Path) -> None:
    from generator.gate import keys
    from generator.site import signing

    git_repo(project)
    signing.create_data_key_pair(Project.at(project), kid="data-ci", private_key_path=tmp_path / "data-ci.pem")
    keys.create_key_pair(Project.at(project), kid="demo-abc", private_key_path=tmp_path / "demo-abc.pem")
    review = changes(project, "--since", "HEAD").split("Needs review\n", 1)[1].split("\n\n", 1)[0]
    assert ("  - Data signing key data-ci added: whoever holds its private half (meant for the deploy job's secret "
            "TRUSTCENTER_DATA_SIGNING_KEY) can sign trust.json and subprocessors.json so that `trustcenter verify` "
            "accepts them as this trust center's; the gate never accepts a link signed with it. Check who holds "
            "it.") in review
    assert "  - Demo key demo-abc added: only `trustcenter demo` honours links signed with it" in review
    assert "Link signing key" not in review and "the gate will honour" not in review

    commit(project, "Add a data key")
    (project / "trust/keys/data-ci.pem").unlink()
    signing.create_data_key_pair(Project.at(project), kid="data-ci", private_key_path=tmp_path / "data-ci-2.pem")
    assert ("  - Data signing key data-ci replaced by a different key: trust data signed with the old one stops "
            "verifying, data signed with the new one verifies.") in changes(project, "--since", "HEAD")
    (project / "trust/keys/data-ci.pem").unlink()
    assert "  - Data signing key data-ci removed: trust data signed with it stops verifying." in changes(
        project, "--since", "HEAD")


def test_what_exposes_something_comes_first_under_needs_review(project: Path, tmp_path: Path) -> None:
    from loopback import add_signing_key

    add_signing_key(project, tmp_path, "2026-q3")
    git_repo(project)
    documents = project / "trust/documents.yaml"
    edit(documents, "    access: gated\n    file: private/pentest.pdf", "    access: public\n    file: private/pentest.pdf")
    edit(project / "trust/company.yaml", "gate_url: https://trust.example.test",
         "gate_url: https://gate.elsewhere.example.test")
    (project / "trust/keys/2026-q3.pem").unlink()
    add_signing_key(project, tmp_path, "2026-q4")
    (project / "trust/config.yaml").write_text(
        "checks:\n  suppress:\n    - {rule: soc2-report-stale, reason: Bridge letter sent.}\n")
    subs = project / "trust/subprocessors.yaml"
    subs.write_text(subs.read_text() + NEW_SUBPROCESSOR)
    text = changes(project, "--since", "HEAD")
    sections = [line for line in text.splitlines() if line and not line.startswith(("  ", "Trust center"))]
    assert sections[0] == "Needs review"
    review = text.split("Needs review\n", 1)[1].split("\n\n", 1)[0]
    assert ("  - Penetration test summary made PUBLIC: its file private/pentest.pdf will be published on the "
            "trust center for anyone to download. No declassification is recorded.") in review
    assert ("  - Gate address changed from https://trust.example.test to https://gate.elsewhere.example.test: links "
            "and pages point there from now on.") in review
    assert "  - Link signing key 2026-q4 added: the gate will honour links signed with it." in review
    assert "  - Link signing key 2026-q3 removed: links signed with it stop working." in review
    assert "  - Check soc2-report-stale suppressed: Bridge letter sent." in review
    markdown = changes(project, "--since", "HEAD", "--format", "markdown")
    assert markdown.index("### Needs review") < markdown.index("### Subprocessors")
    assert "- **Made PUBLIC**: Penetration test summary made PUBLIC" in markdown
