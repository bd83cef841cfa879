"""`trustcenter check`: the demo is clean, and every kind of bad input gets a located, clear error."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from support import copy_demo, edit, run_cli

from generator.content.diagnostics import Severity
from generator.content.project import Project
from generator.content.validate import load_valid, validate

# path:line:col: severity: message [rule-id]; the rule id, when there is one, is not part of the message.
LOCATED = re.compile(r"^(trust/[\w./-]+):(\d+):(\d+): (error|warning): (.+?)(?: \[[a-z0-9-]+\])?$", re.MULTILINE)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def check(project: Path, *args: str) -> tuple[int, str]:
    result = run_cli("check", *args, cwd=project)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


def located(output: str) -> list[tuple[str, int, int, str, str]]:
    return [(m[1], int(m[2]), int(m[3]), m[4], m[5]) for m in LOCATED.finditer(output)]


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def test_demo_content_is_valid_without_warnings(project: Path) -> None:
    code, output = check(project, "--strict")
    assert code == 0, output
    assert "0 error(s), 0 warning(s)" in output


def test_yaml_syntax_error_is_located(project: Path) -> None:
    company = project / "trust/company.yaml"
    company.write_text(company.read_text() + "broken: [unclosed\n")
    code, output = check(project)
    assert code == 1
    [(path, line, _, severity, message)] = located(output)
    assert (path, severity) == ("trust/company.yaml", "error")
    assert line >= line_of(company, "broken: [unclosed")
    assert "YAML syntax error" in message


def test_unknown_key_suggests_the_right_spelling(project: Path) -> None:
    company = project / "trust/company.yaml"
    edit(company, "tagline:", "tagLine:")
    code, output = check(project)
    assert code == 1
    [(path, line, column, _, message)] = located(output)
    assert (path, line, column) == ("trust/company.yaml", line_of(company, "tagLine:"), 1)
    assert "unknown field 'tagLine'" in message and "did you mean 'tagline'" in message


def test_duplicate_key_points_at_the_second_and_names_the_first(project: Path) -> None:
    company = project / "trust/company.yaml"
    first = line_of(company, "tagline:")
    edit(company, "tagline:", "tagline: Again\ntagline:")
    code, output = check(project)
    assert code == 1
    [(_, line, _, _, message)] = located(output)
    assert line == first + 1
    assert f"duplicate key 'tagline' (first at line {first})" in message


def test_wrong_type_missing_field_and_bad_date_are_all_reported_at_once(project: Path) -> None:
    subs = project / "trust/subprocessors.yaml"
    text = subs.read_text()
    first_added = re.search(r"added: (\S+)", text)
    assert first_added
    text = text.replace(f"added: {first_added[1]}", "added: 2026-13-45\n    affiliate: maybe", 1)
    subs.write_text(text)
    edit(project / "trust/company.yaml", "website:", "# website:")
    code, output = check(project)
    assert code == 1
    found = located(output)
    messages = " | ".join(f[4] for f in found)
    assert "'2026-13-45' is not a date; write it as YYYY-MM-DD" in messages
    assert "'affiliate' must be true or false" in messages
    assert "missing required field 'website'" in messages
    bad_date = next(f for f in found if "2026-13-45" in f[4])
    assert bad_date[1] == line_of(subs, "added: 2026-13-45")


def test_javascript_urls_are_rejected_in_fields_and_in_markdown(project: Path) -> None:
    company = project / "trust/company.yaml"
    edit(company, "website: https://halyard.example", "website: javascript:alert(1)")
    faq = project / "trust/faq.yaml"
    text = faq.read_text()
    text = re.sub(r"(answer: \|\n\s+)", r"\1See [here](javascript:alert(document.cookie)). ", text, count=1)
    faq.write_text(text)
    code, output = check(project)
    assert code == 1
    messages = [f for f in located(output)]
    assert any(f[0] == "trust/company.yaml" and "http(s)://" in f[4] for f in messages)
    assert any(f[0] == "trust/faq.yaml" and "link target 'javascript:alert(document.cookie" in f[4]
               for f in messages)


def test_undefined_document_reference_is_an_error_with_a_suggestion(project: Path) -> None:
    certs = project / "trust/certifications.yaml"
    edit(certs, "[soc2-type2-report]", "[soc2-type2-reprot]")
    code, output = check(project)
    assert code == 1
    [(path, line, _, _, message)] = located(output)
    assert (path, line) == ("trust/certifications.yaml", line_of(certs, "soc2-type2-reprot"))
    assert "document 'soc2-type2-reprot' is not defined; did you mean 'soc2-type2-report'?" in message


def test_missing_document_file_is_an_error(project: Path) -> None:
    (project / "trust/documents/security-whitepaper.pdf").unlink()
    code, output = check(project)
    assert code == 1
    assert "the file 'documents/security-whitepaper.pdf' does not exist" in output


def test_gated_file_inside_site_src_is_an_error(project: Path) -> None:
    docs = project / "trust/documents.yaml"
    (project / "site_src/secret.pdf").write_bytes((project / "trust/private/soc2-type2-2026.pdf").read_bytes())
    edit(docs, "file: private/soc2-type2-2026.pdf", "file: ../site_src/secret.pdf")
    code, output = check(project)
    assert code == 1
    found = [(path, line, message) for path, line, _, _, message in located(output) if path == "trust/documents.yaml"]
    assert {(path, line) for path, line, _ in found} == {("trust/documents.yaml", line_of(docs, "../site_src/secret.pdf"))}
    assert any("inside site_src/, which is published" in message for _, _, message in found)


def test_document_path_outside_the_project_is_refused(project: Path) -> None:
    edit(project / "trust/documents.yaml", "file: private/soc2-type2-2026.pdf", "file: ../../../../etc/passwd")
    code, output = check(project)
    assert code == 1
    assert "leads outside the project" in output


def test_alias_bomb_is_refused_quickly(project: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    (project / "trust/faq.yaml").write_text("\n".join(lines) + "\n")
    code, output = check(project)  # run_cli has a timeout: a hang fails the test
    assert code == 1
    assert "expands to more than" in output


def test_huge_file_is_refused_without_parsing(project: Path) -> None:
    (project / "trust/updates.yaml").write_text("updates:\n" + "# padding\n" * 2_100_000)
    code, output = check(project)
    assert code == 1
    assert re.search(r"trust/updates.yaml:1:1: error: the file is \d+\.\d MB, over the 8 MiB limit", output)


def test_country_code_no_is_norway_not_false(project: Path) -> None:
    subs = project / "trust/subprocessors.yaml"
    text = subs.read_text()
    text = re.sub(r"locations: \[([A-Z]{2})", r"locations: [NO", text, count=1)
    subs.write_text(text)
    assert check(project)[0] == 0
    tc = load_valid(Project.at(project))
    assert any("NO" in s.locations for s in tc.subprocessors.subprocessors)


def test_an_unknown_criterion_is_an_error_so_a_plain_build_does_not_publish_it(project: Path) -> None:
    controls = project / "trust/controls.yaml"
    match = re.search(r"CC6\.1\b", controls.read_text())
    assert match
    edit(controls, "CC6.1", "CC6.10")
    code, output = check(project)
    assert code == 1
    assert "error: 'CC6.10' is not an AICPA 2017 Trust Services Criterion; did you mean CC6.1?" in output
    assert run_cli("build", cwd=project).returncode == 1 and not (project / "site").exists()


def test_status_is_derived_from_dates_not_trusted(project: Path) -> None:
    later = dt.date(2028, 6, 1)  # after the ISO certificate's validity and the SOC 2 shelf life
    result = validate(Project.at(project), today=later)
    assert result.model is not None
    statuses = {c.id: c.status_on(later).value for c in result.model.certifications}
    assert statuses["iso27001"] == "expired"
    assert statuses["soc2-type2"] == "expired"
    stale = [d for d in result.diagnostics if "more than 12 months ago" in d.message]
    assert stale and stale[0].severity is Severity.WARNING


def test_certificate_marked_active_after_its_validity_is_warned(project: Path) -> None:
    certs = project / "trust/certifications.yaml"
    edit(certs, "valid_until: 2028-04-13", "valid_until: 2026-01-31\n    status: active")
    result = validate(Project.at(project))
    iso = next(c for c in result.model.certifications if c.id == "iso27001") if result.model else None
    assert iso is not None and iso.status_on(result.model.today).value == "expired"  # type: ignore[union-attr]
    assert any("marked active but its validity ended 2026-01-31" in d.message for d in result.diagnostics)


def test_gated_pdf_that_is_not_a_pdf_or_is_encrypted_is_flagged(project: Path) -> None:
    import pikepdf

    gated = project / "trust/private/soc2-type2-2026.pdf"
    with pikepdf.open(gated) as pdf:
        pdf.save(gated.with_suffix(".tmp"), encryption=pikepdf.Encryption(owner="o", user="secret"))
    gated.with_suffix(".tmp").replace(gated)
    code, output = check(project)
    assert code == 1 and "is password-protected, so it cannot be watermarked" in output
    gated.write_bytes(b"not a pdf at all")
    code, output = check(project)
    assert code == 1 and "is not a readable PDF" in output


def test_deeply_nested_yaml_is_refused_with_its_place_and_nothing_built(project: Path) -> None:
    (project / "trust/faq.yaml").write_text("faq: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, output = check(project)
    assert code == 1
    [(path, line, _, severity, _)] = located(output)
    assert (path, line, severity) == ("trust/faq.yaml", 1, "error")
    built = run_cli("build", cwd=project)
    assert built.returncode == 1 and "Traceback" not in built.stderr
    assert "trust/faq.yaml:1:" in built.stderr
    assert not (project / "site").exists()


@pytest.mark.parametrize("target", ["&#106;avascript:alert(1)", "javascript&colon;alert(2)", "JaVaScRiPt:alert(3)",
                                    "//evil.example/x", "data:text/html,x"])
def test_disguised_link_targets_are_refused(project: Path, target: str) -> None:
    faq = project / "trust/faq.yaml"
    faq.write_text(faq.read_text() + f'  - question: Disguised?\n    answer: "[more]({target})"\n')
    code, output = check(project)
    assert code == 1
    assert "is not allowed; links must be http(s)://, mailto: or relative" in output


def test_nda_that_is_not_utf8_gets_one_clear_error(project: Path) -> None:
    (project / "trust/nda.md").write_bytes("Vertraulichkeitsvereinbarung für Prüfberichte".encode("latin-1"))
    code, output = check(project)
    assert code == 1
    assert [f[4] for f in located(output)] == ["trust/nda.md is not UTF-8 text; save it as UTF-8"]


def test_a_ci_runner_without_the_gated_files_can_check_and_build_the_public_site(project: Path) -> None:
    gated = project / "trust/private/soc2-type2-2026.pdf"
    gated.unlink()
    code, output = check(project, "--strict")
    assert code == 1 and "the file 'private/soc2-type2-2026.pdf' does not exist" in output
    code, output = check(project, "--strict", "--without-gated-files")
    assert code == 0, output
    result = run_cli("build", "--without-gated-files", cwd=project)
    assert result.returncode == 0, result.stderr
    assert not any(b"soc2-type2-2026.pdf" in p.read_bytes() for p in (project / "site").rglob("*") if p.is_file())


def test_without_gated_files_still_refuses_a_gated_file_inside_site_src(project: Path) -> None:
    edit(project / "trust/documents.yaml", "file: private/soc2-type2-2026.pdf", "file: ../site_src/report.pdf")
    code, output = check(project, "--without-gated-files")
    assert code == 1 and "inside site_src/, which is published" in output
