"""The rules catalogue: stable ids printed with each finding, and suppressions with a reason in config.yaml."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from support import copy_demo, edit, run_cli

from generator.content import rules
from generator.content.diagnostics import Severity
from generator.content.project import Project
from generator.content.validate import validate

STALE_DAY = dt.date(2027, 12, 1)  # the demo's SOC 2 period ended 2026-09-30: stale after 2027-09-30


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def findings(project: Path, today: dt.date | None = None) -> list[tuple[str, str, Severity]]:
    result = validate(Project.at(project), today=today)
    return [(d.path, d.rule or "", d.severity) for d in result.diagnostics]


def test_every_rule_has_a_stable_kebab_case_id_a_severity_and_a_summary() -> None:
    catalogue = rules.catalogue()
    assert len(catalogue) >= 25
    for entry in catalogue:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", entry.id), entry.id
        assert entry.severity in (Severity.ERROR, Severity.WARNING)
        assert entry.summary.endswith(".") and len(entry.summary) < 160


def test_check_prints_the_rule_id_after_each_finding(project: Path) -> None:
    edit(project / "trust/certifications.yaml", "expected: 2027-03-31", "expected: 2026-01-31")
    result = run_cli("check", cwd=project)
    assert re.search(r"^trust/certifications\.yaml:\d+:\d+: warning: expected 2026-01-31, which has passed; publish "
                     r"the report or move the expected date \[expected-date-passed\]$", result.stdout, re.MULTILINE)


def test_a_warning_suppressed_with_a_reason_is_not_reported_and_is_counted(project: Path) -> None:
    assert ("trust/certifications.yaml", "soc2-report-stale", Severity.WARNING) in findings(project, STALE_DAY)
    (project / "trust/config.yaml").write_text(
        "checks:\n"
        "  suppress:\n"
        "    - rule: soc2-report-stale\n"
        "      reason: The bridge letter went to every customer; the 2027 report is due in January.\n")
    result = validate(Project.at(project), today=STALE_DAY)
    assert "soc2-report-stale" not in {d.rule for d in result.diagnostics}
    assert result.suppressed == 1


def test_a_suppression_for_one_subject_leaves_the_others_reported(project: Path) -> None:
    (project / "trust/config.yaml").unlink()  # the demo accepts every placeholder finding; this test, one host
    found = [d for d in validate(Project.at(project)).diagnostics if d.rule == "placeholder-content"]
    assert len(found) >= 3
    (project / "trust/config.yaml").write_text(
        "checks:\n  suppress:\n"
        "    - {rule: placeholder-content, subject: trust.halyard.example, reason: Staging host until launch.}\n")
    result = validate(Project.at(project))
    left = [d for d in result.diagnostics if d.rule == "placeholder-content"]
    assert result.suppressed == 2  # trust_center_url and gate_url
    assert len(left) == len(found) - 2 and not any("trust.halyard.example" in d.message for d in left)


def test_a_lapsed_suppression_reports_the_finding_again_and_says_so(project: Path) -> None:
    (project / "trust/config.yaml").write_text(
        "checks:\n  suppress:\n"
        "    - rule: soc2-report-stale\n      reason: Report due soon.\n      until: 2027-11-01\n")
    found = findings(project, STALE_DAY)
    assert ("trust/certifications.yaml", "soc2-report-stale", Severity.WARNING) in found
    lapsed = [d for d in validate(Project.at(project), today=STALE_DAY).diagnostics if d.path == "trust/config.yaml"]
    assert [(d.line, d.severity) for d in lapsed] == [(5, Severity.WARNING)]
    assert "lapsed on 2027-11-01" in lapsed[0].message


def test_errors_cannot_be_suppressed_and_unknown_rule_ids_get_a_suggestion(project: Path) -> None:
    (project / "trust/config.yaml").write_text(
        "checks:\n  suppress:\n"
        "    - {rule: gated-file-in-site-source, reason: We know.}\n"
        "    - {rule: soc2-report-stal, reason: Typo.}\n")
    code = run_cli("check", cwd=project)
    assert code.returncode == 1
    assert re.search(r"^trust/config\.yaml:3:\d+: error: 'gated-file-in-site-source' is an error, which cannot be "
                     r"suppressed", code.stdout, re.MULTILINE)
    assert re.search(r"^trust/config\.yaml:4:\d+: error: there is no check 'soc2-report-stal'; did you mean "
                     r"'soc2-report-stale'\?", code.stdout, re.MULTILINE)


def test_a_suppression_without_a_reason_is_refused_with_its_place(project: Path) -> None:
    (project / "trust/config.yaml").write_text("checks:\n  suppress:\n    - rule: soc2-report-stale\n")
    result = run_cli("check", cwd=project)
    assert result.returncode == 1
    assert "trust/config.yaml:3:7: error: missing required field 'reason'" in result.stdout
