"""What a pull request can publish or expose, and what stops it: gated documents made public, files from
anywhere, symlinks, raw HTML, scripted logos, addresses that hide their host."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from support import copy_demo, edit, git, git_repo, run_cli

DOCUMENTS = "trust/documents.yaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def check(project: Path, *args: str) -> tuple[int, str]:
    result = run_cli("check", *args, cwd=project)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout + result.stderr


def make_soc2_public(project: Path) -> None:
    edit(project / DOCUMENTS, "    access: gated\n    file: private/soc2-type2-2026.pdf",
         "    access: public\n    file: private/soc2-type2-2026.pdf")


# ---------------------------------------------------------------- gated to public


def test_a_public_entry_whose_file_is_in_the_gated_folder_is_refused(project: Path) -> None:
    make_soc2_public(project)
    code, output = check(project, "--strict")
    assert code == 1
    assert re.search(r"^trust/documents\.yaml:\d+:\d+: error: 'soc2-type2-report' would be published, but its file "
                     r"is in private/.*\[made-public-without-review\]$", output, re.MULTILINE)
    built = run_cli("build", cwd=project)
    assert built.returncode == 1 and not (project / "site").exists()


def test_a_document_gated_at_the_base_revision_cannot_become_public_even_from_documents(project: Path) -> None:
    git_repo(project)
    (project / "trust/private/soc2-type2-2026.pdf").rename(project / "trust/documents/soc2-type2-2026.pdf")
    edit(project / DOCUMENTS, "    access: gated\n    file: private/soc2-type2-2026.pdf",
         "    access: public\n    file: documents/soc2-type2-2026.pdf")
    code, output = check(project)  # the base: the merge base with origin/main, else HEAD~1, else HEAD's parent
    assert code == 0, output  # one commit: nothing earlier to compare with
    git(project, "add", "-A")
    git(project, "commit", "-qm", "Publish the SOC 2 report")
    code, output = check(project, "--base", "HEAD~1")
    assert code == 1
    assert re.search(r"'soc2-type2-report' would be published, but it was gated at [0-9a-f]{12}", output)


def test_a_declassification_with_a_reason_lets_it_through_and_changes_says_so_first(project: Path) -> None:
    git_repo(project)
    make_soc2_public(project)
    edit(project / DOCUMENTS, "    file: private/soc2-type2-2026.pdf",
         "    file: private/soc2-type2-2026.pdf\n    declassified: {on: 2026-11-20, reason: Approved by the CISO}")
    (project / "trust/private/soc2-type2-2026.pdf").rename(project / "trust/documents/soc2-type2-2026.pdf")
    edit(project / DOCUMENTS, "file: private/soc2-type2-2026.pdf", "file: documents/soc2-type2-2026.pdf")
    code, output = check(project, "--strict", "--base", "HEAD")
    assert code == 0, output
    changes = run_cli("changes", "--since", "HEAD", cwd=project).stdout
    assert changes.splitlines()[1:4] == [
        "", "Needs review",
        "  - SOC 2 Type II report (October 2025 – September 2026) made PUBLIC: its file "
        "documents/soc2-type2-2026.pdf will be published on the trust center for anyone to download. "
        "Declassified on 2026-11-20: Approved by the CISO"]


# ---------------------------------------------------------------- files from anywhere


@pytest.mark.parametrize("target", ["../.git/config", "../mkdocs.yml", "keys/../documents/../nda.md",
                                    "documents/.hidden.pdf"])
def test_a_public_file_outside_the_public_documents_folder_is_refused(project: Path, target: str) -> None:
    (project / ".git").mkdir(exist_ok=True)
    (project / ".git" / "config").write_text("[core]\n")
    (project / "trust/documents/.hidden.pdf").write_bytes(b"%PDF-1.4\n")
    edit(project / DOCUMENTS, "file: documents/dpa.pdf", f"file: {target}")
    code, output = check(project)
    assert code == 1 and "[public-file-location]" in output, output


def test_a_symlinked_public_file_leading_out_of_the_folder_is_refused(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.pdf"
    secret.write_bytes(b"%PDF-1.4 not for publication\n")
    (project / "trust/documents/dpa.pdf").unlink()
    (project / "trust/documents/dpa.pdf").symlink_to(secret)
    code, output = check(project)
    assert code == 1 and "[document-path]" in output and "[symlink-leaves-folder]" in output


def test_a_public_file_symlinked_to_a_gated_report_is_refused(project: Path) -> None:
    (project / "trust/documents/dpa.pdf").unlink()
    (project / "trust/documents/dpa.pdf").symlink_to("../private/soc2-type2-2026.pdf")
    code, output = check(project)
    assert code == 1 and "[public-file-location]" in output and "[made-public-without-review]" in output


def test_a_symlink_in_the_pages_folder_to_a_system_file_is_refused_and_nothing_is_built(project: Path) -> None:
    (project / "site_src/passwd.md").symlink_to("/etc/passwd")
    code, output = check(project)
    assert code == 1
    assert re.search(r"^site_src/passwd\.md:1:1: error: this symlink points outside site_src/ \(to /etc/passwd\)",
                     output, re.MULTILINE)
    assert run_cli("build", cwd=project).returncode == 1 and not (project / "site").exists()


def test_a_symlink_inside_its_own_folder_is_fine(project: Path) -> None:
    os.symlink("about-this-site.md", project / "site_src/about.md")
    assert check(project)[0] == 0


# ---------------------------------------------------------------- raw HTML and scripts


def test_raw_html_in_a_hand_written_page_needs_the_opt_in(project: Path) -> None:
    page = project / "site_src/about-this-site.md"
    page.write_text(page.read_text() + '\n<img src="x" onerror="alert(1)">\n')
    code, output = check(project)
    assert code == 1 and "site_src/about-this-site.md:1:1: error: the page contains raw HTML or attributes (<img...)" \
        in output
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    assert check(project)[0] == 0


@pytest.mark.parametrize("name", ["sw.js", "index.html", "badge.svg"])
def test_a_script_or_markup_file_among_the_pages_needs_the_opt_in(project: Path, name: str) -> None:
    (project / "site_src" / name).write_text("navigator.serviceWorker.register('/sw.js')")
    code, output = check(project)
    assert code == 1 and f"site_src/{name}:1:1: error: {name} is not Markdown or a passive image" in output


def test_markdown_autolinks_and_code_are_not_raw_html(project: Path) -> None:
    page = project / "site_src/about-this-site.md"
    page.write_text(page.read_text() + "\nWrite to <security@halyard.example> or see <https://halyard.example>.\n"
                    "Use `<script>` in code, and:\n\n```html\n<div>fenced</div>\n```\n")
    assert check(project)[0] == 0


def test_an_svg_logo_with_a_script_is_refused(project: Path) -> None:
    logo = project / "trust/assets/logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(\'//evil.example\')"><rect/></svg>')
    code, output = check(project)
    assert code == 1 and re.search(r"trust/company\.yaml:\d+:\d+: error: the logo .*event handler.*\[logo-file\]",
                                   output)


# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize("url", ["https://trust.halyard.example@evil.example", "https://user:pw@trust.example"])
def test_an_address_with_user_info_is_refused(project: Path, url: str) -> None:
    edit(project / "trust/company.yaml", "website: https://halyard.example", f"website: {url}")
    code, output = check(project)
    assert code == 1 and "which hides the host it really goes to" in output


def test_a_plain_http_gate_is_refused_except_on_loopback(project: Path) -> None:
    company = project / "trust/company.yaml"
    text = company.read_text()
    gate = re.search(r"^gate_url: (\S+)$", text, re.MULTILINE)
    assert gate
    company.write_text(text.replace(gate[0], "gate_url: http://gate.halyard.example"))
    code, output = check(project)
    assert code == 1 and "plain http is accepted for 127.0.0.1 and localhost only" in output
    company.write_text(text.replace(gate[0], "gate_url: http://127.0.0.1:8000"))
    assert check(project)[0] == 0


def test_a_gated_report_with_javascript_is_refused_by_check(project: Path) -> None:
    import pikepdf

    report = project / "trust/private/soc2-type2-2026.pdf"
    with pikepdf.open(report, allow_overwriting_input=True) as pdf:
        pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                                   JS=pikepdf.String("app.alert(1)")))
        pdf.save(report)
    code, output = check(project)
    assert code == 1
    assert re.search(r"trust/documents\.yaml:\d+:\d+: error: the gated file 'private/soc2-type2-2026\.pdf' contains "
                     r"JavaScript.*\[gated-file-unusable\]", output), output


# ---------------------------------------------------------------- found by the second attack review


def test_a_gated_report_renamed_and_made_public_is_caught_and_listed_for_review(project: Path) -> None:
    git_repo(project)
    (project / "trust/private/soc2-type2-2026.pdf").rename(project / "trust/documents/soc2-report.pdf")
    edit(project / DOCUMENTS, "  - id: soc2-type2-report\n", "  - id: soc2-report\n")
    edit(project / DOCUMENTS, "    access: gated\n    file: private/soc2-type2-2026.pdf",
         "    access: public\n    file: documents/soc2-report.pdf")
    edit(project / "trust/certifications.yaml", "documents: [soc2-type2-report]", "documents: [soc2-report]")
    code, output = check(project, "--without-gated-files", "--base", "HEAD")
    assert code == 1
    assert "'soc2-report' would be published, but it looks like the gated 'soc2-type2-report'" in output
    changes = run_cli("changes", "--since", "HEAD", cwd=project).stdout
    review = changes.split("Needs review\n", 1)[1].split("\n\n", 1)[0]
    assert "New public document SOC 2 Type II report" in review


def test_a_gated_file_kept_outside_the_gated_folder_is_refused(project: Path) -> None:
    (project / "trust/private/soc2-type2-2026.pdf").rename(project / "trust/soc2.pdf")
    edit(project / DOCUMENTS, "file: private/soc2-type2-2026.pdf", "file: soc2.pdf")
    code, output = check(project)
    assert code == 1 and "[gated-file-location]" in output


def test_a_pages_folder_that_is_a_link_out_of_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "env.md").write_text("# Runner\n\nSECRET=hunter2\n")
    (project / "site_src/about-this-site.md").unlink()
    (project / "site_src").rmdir()
    (project / "site_src").symlink_to(outside)
    code, output = check(project)
    assert code == 1 and re.search(r"^site_src:1:1: error: site_src/ is \(or lies under\) a symlink", output,
                                   re.MULTILINE)
    edit(project / "mkdocs.yml", "docs_dir: site_src", "docs_dir: ../outside")
    code, output = check(project)
    assert code == 1 and "docs_dir '../outside' must be a folder inside the project" in output


@pytest.mark.parametrize("markdown", [
    "\\`<img src=x onerror=alert(1)>\\`",
    "<x:y onmouseover=alert(1)>hover</x:y>",
    "Click me\n{: onclick=\"alert(1)\" }",
])
def test_raw_html_tricks_in_a_hand_written_page_are_refused(project: Path, markdown: str) -> None:
    page = project / "site_src/about-this-site.md"
    page.write_text(page.read_text() + "\n" + markdown + "\n")
    code, output = check(project)
    assert code == 1 and "[raw-html-in-pages]" in output


def test_a_script_link_in_a_hand_written_page_stops_the_build(project: Path) -> None:
    page = project / "site_src/about-this-site.md"
    page.write_text(page.read_text() + "\n[Read more](javascript:alert(document.cookie))\n")
    result = run_cli("build", cwd=project)
    assert result.returncode == 1 and "about-this-site.md in the pages folder contains a link to 'javascript:" in \
        result.stderr
    assert not (project / "site").exists()


def test_with_the_opt_in_a_renamed_resaved_copy_of_a_gated_report_is_still_caught(project: Path) -> None:
    import pikepdf

    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    (project / "site_src/files").mkdir()
    with pikepdf.open(project / "trust/private/soc2-type2-2026.pdf") as pdf:
        pdf.save(project / "site_src/files/brochure.pdf", compress_streams=True, recompress_flate=True)
    result = run_cli("build", cwd=project)
    assert result.returncode == 1
    assert "files/brochure.pdf has the pages of gated document 'soc2-type2-report'" in result.stderr


def test_a_change_to_mkdocs_yml_is_listed_for_review(project: Path) -> None:
    git_repo(project)
    edit(project / "mkdocs.yml", "  - trustcenter\n", "  - trustcenter:\n      allow_raw_html: true\n")
    changes = run_cli("changes", "--since", "HEAD", cwd=project).stdout
    assert "The site's configuration (mkdocs.yml) changed" in changes.split("Needs review\n", 1)[1]


def test_without_a_base_to_compare_with_check_says_so(project: Path) -> None:
    git_repo(project)  # one commit: nothing earlier
    result = run_cli("check", cwd=project)
    assert result.returncode == 0
    assert "note: there is no earlier revision here to compare with" in result.stderr


def test_the_remotes_default_branch_is_the_base_whatever_its_name(project: Path, tmp_path: Path) -> None:
    git_repo(project)
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(project), str(remote))
    git(project, "remote", "add", "origin", str(remote))
    git(project, "branch", "-m", "main", "trunk")
    git(project, "push", "-q", "origin", "trunk")
    git(remote, "symbolic-ref", "HEAD", "refs/heads/trunk")
    git(project, "fetch", "-q", "origin")
    git(project, "remote", "set-head", "origin", "--auto")
    git(project, "checkout", "-q", "-b", "publish-soc2")
    make_soc2_public(project)
    edit(project / DOCUMENTS, "file: private/soc2-type2-2026.pdf", "file: documents/soc2-type2-2026.pdf")
    (project / "trust/private/soc2-type2-2026.pdf").rename(project / "trust/documents/soc2-type2-2026.pdf")
    git(project, "commit", "-qam", "step 1")
    edit(project / "trust/company.yaml", "tagline:", "tagline: (new)")  # a second commit on the branch
    git(project, "commit", "-qam", "step 2")
    code, output = check(project)  # base: origin/HEAD -> trunk, not HEAD~1
    assert code == 1 and "'soc2-type2-report' would be published, but it was gated at" in output
