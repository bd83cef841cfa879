"""Real companies' content fits: shaped after published subprocessor lists and audit reports (a SaaS with an
affiliate, a vendor in several regions and services, a bridge letter, an ISO surveillance cycle)."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as etree
from pathlib import Path

import pytest
from support import copy_demo, edit, git, git_repo, run_cli

from generator.content.project import Project
from generator.content.validate import validate

TODAY = dt.date.today()
ATOM = "{http://www.w3.org/2005/Atom}"

# Shaped after the list of a Czech SaaS: an affiliate with its address, a vendor with two services in two
# regions, entries older than the records (no `added`), no website, no data categories, DPA not stated.
SUBPROCESSORS = f"""\
subprocessors:
  - name: Acme Cloud s.r.o.
    affiliate: true
    entity: Acme Cloud s.r.o.
    address: Vinohradská 2828/151, 130 00 Praha 3, Czech Republic
    category: Affiliate
    purpose: Customer support and engineering on call.
    data_categories: [Account data, Support tickets]
    locations: [CZ]
    dpa: true
  - name: Big Cloud
    service: Hosting
    category: Infrastructure
    purpose: Hosting of the production service.
    data_categories:
      - Customer content (rules, input/output data)
      - Account data
    locations: [US, EU]
    customer_selects_location: true
    website: https://cloud.big.test.invalid
    added: 2023-02-01
    transfer_mechanism: EU SCCs
  - name: Big Cloud
    service: Email delivery
    category: Communication
    purpose: Transactional email.
    locations: [IE]
  - name: Quiet Analytics
    purpose: Product analytics (pseudonymised).
    locations: [WORLDWIDE]
    added: {(TODAY + dt.timedelta(days=30)).isoformat()}
"""

BRIDGED_SOC2 = """\
certifications:
  - id: soc2
    framework: SOC 2
    type: Type II
    criteria: [security]
    audit_period: {{start: {start}, end: {end}}}
    report_date: {reported}
    auditor: Example Audit LLP
    opinion: qualified
    exceptions: For 2 of 40 changes sampled, approval was recorded after deployment.
    bridge_letter: {{covers_to: {covers_to}, document: bridge-letter}}
    documents: [soc2-report]
  - id: iso
    framework: ISO 27001
    standard_version: "2022"
    valid_from: {iso_from}
    valid_until: {iso_until}
    certificate_number: CZ-ISMS-0815
    auditor: Example Registrar
    audits:
      - {{kind: stage 1, date: {stage1}}}
      - {{kind: stage 2, date: {stage2}, nonconformities: 2}}
      - {{kind: surveillance, date: {surveillance}, nonconformities: 0}}
"""


def check(project: Path, *args: str) -> tuple[int, str]:
    result = run_cli("check", *args, cwd=project)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout + result.stderr


def with_bridge(project: Path, *, period_end: dt.date, covers_to: dt.date, last_audit: dt.date) -> None:
    (project / "trust/certifications.yaml").write_text(BRIDGED_SOC2.format(
        start=period_end - dt.timedelta(days=364), end=period_end, reported=period_end + dt.timedelta(days=40),
        covers_to=covers_to, iso_from=TODAY - dt.timedelta(days=800), iso_until=TODAY + dt.timedelta(days=300),
        stage1=TODAY - dt.timedelta(days=830), stage2=TODAY - dt.timedelta(days=805), surveillance=last_audit))
    documents = project / "trust/documents.yaml"
    documents.write_text(documents.read_text() + "  - id: bridge-letter\n    title: Bridge letter\n    access: gated\n"
                         f"    file: private/bridge.pdf\n    updated: {TODAY}\n")
    (project / "trust/private/bridge.pdf").write_bytes((project / "trust/private/soc2.pdf").read_bytes())


def site_ready(project: Path) -> Path:
    """The small test project made buildable: this repository's mkdocs.yml, an empty pages and theme folder."""
    (project / "mkdocs.yml").write_text((Path(__file__).resolve().parents[2] / "mkdocs.yml").read_text())
    (project / "site_src").mkdir(exist_ok=True)
    (project / "overrides").mkdir(exist_ok=True)
    return project


def test_an_affiliate_a_vendor_in_two_regions_and_services_and_sparse_entries_are_valid(project: Path) -> None:
    (project / "trust/subprocessors.yaml").write_text(SUBPROCESSORS)
    (project / "trust/config.yaml").write_text("history_since: 2022-06-01\n")
    result = validate(Project.at(project))
    assert result.ok, [str(d) for d in result.diagnostics]
    subs = result.model.subprocessors.subprocessors if result.model else []
    assert [s.display_name for s in subs] == ["Acme Cloud s.r.o.", "Big Cloud (Hosting)", "Big Cloud (Email delivery)",
                                              "Quiet Analytics"]
    assert subs[2].dpa is None and subs[2].website is None and subs[2].data_categories == []
    assert subs[1].data_categories == ["Customer content (rules, input/output data)", "Account data"]


def test_the_subprocessor_page_and_files_say_it_as_published_lists_do(project: Path, tmp_path: Path) -> None:
    (project / "trust/subprocessors.yaml").write_text(SUBPROCESSORS)
    (project / "trust/config.yaml").write_text("history_since: 2022-06-01\n")
    result = run_cli("build", cwd=site_ready(project))
    assert result.returncode == 0, result.stderr
    page = (project / "site/subprocessors/index.html").read_text()
    assert "Customer&#39;s choice of United States, European Union" in page
    assert "<small>Affiliate · " in page  # entity = name and category = Affiliate: said once, before the date
    assert 'Big Cloud <span class="tc-service">Email delivery</span>' in page
    assert "Before <time datetime=\"2022-06-01\">Jun 1, 2022</time>" in page  # entries older than the records
    assert page.count("DPA signed") == 1  # only where it is said; not stated is not shown
    listed = json.loads((project / "site/subprocessors.json").read_text())
    cloud = next(s for s in listed["current"] if s["service"] == "Email delivery")
    assert cloud["dpa"] is None and cloud["website"] is None and cloud["added"] is None
    assert [s["name"] for s in listed["upcoming"]] == ["Quiet Analytics"]
    assert listed["upcoming"][0]["location_names"] == ["Worldwide"]


def test_a_bridge_letter_keeps_a_soc2_report_current_past_twelve_months(project: Path) -> None:
    period_end = TODAY - dt.timedelta(days=395)  # thirteen months ago
    with_bridge(project, period_end=period_end, covers_to=TODAY + dt.timedelta(days=30),
                last_audit=TODAY - dt.timedelta(days=100))
    result = validate(Project.at(project))
    assert result.ok, [str(d) for d in result.diagnostics]
    assert {d.rule for d in result.diagnostics} <= {"placeholder-content"}  # the test's own .test addresses
    soc2 = result.model.certification("soc2") if result.model else None
    assert soc2 is not None and soc2.status_on(TODAY).value == "active"
    assert soc2.current_until == TODAY + dt.timedelta(days=30)


def test_once_the_bridge_letter_ends_the_report_is_stale_and_the_warning_says_why(project: Path) -> None:
    with_bridge(project, period_end=TODAY - dt.timedelta(days=500), covers_to=TODAY - dt.timedelta(days=10),
                last_audit=TODAY - dt.timedelta(days=100))
    code, output = check(project)
    assert code == 0
    assert re.search(r"warning: the bridge letter covers to \S+, which has passed; publish the new report or a new "
                     r"bridge letter.*\[soc2-report-stale\]", output)


def test_the_compliance_page_shows_opinion_exceptions_bridge_letter_and_the_audit_cycle(project: Path) -> None:
    with_bridge(project, period_end=TODAY - dt.timedelta(days=395), covers_to=TODAY + dt.timedelta(days=30),
                last_audit=TODAY - dt.timedelta(days=100))
    result = run_cli("build", cwd=site_ready(project))
    assert result.returncode == 0, result.stderr
    page = (project / "site/compliance/index.html").read_text()
    assert "Qualified opinion, with exceptions noted" in page
    assert "For 2 of 40 changes sampled" in page
    assert "Bridge letter</dt><dd>Covers to" in page
    assert "ISO 27001:2022" in page
    assert "Stage 2 audit, 2 nonconformities" in page and "Surveillance audit, no nonconformities" in page


def test_an_iso_certificate_without_a_surveillance_audit_for_a_year_is_warned(project: Path) -> None:
    with_bridge(project, period_end=TODAY - dt.timedelta(days=100), covers_to=TODAY + dt.timedelta(days=30),
                last_audit=TODAY - dt.timedelta(days=400))
    code, output = check(project)
    assert code == 0 and "[surveillance-audit-overdue]" in output


def test_soc3_facts_come_from_the_soc2_and_repeating_them_is_an_error(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    assert check(demo, "--strict")[0] == 0
    result = run_cli("build", cwd=demo)
    assert result.returncode == 0, result.stderr
    soc3 = (demo / "site/soc3/soc3-2026/index.html").read_text()
    assert "Unqualified (clean) opinion" in soc3 and "Oct 1, 2025 – Sep 30, 2026" in soc3
    assert "Carraway &amp; Finch LLP" in soc3
    edit(demo / "trust/soc3/2026.yaml", "based_on: soc2-type2\n", "based_on: soc2-type2\nauditor: Somebody Else LLP\n")
    code, output = check(demo)
    assert code == 1 and re.search(r"trust/soc3/2026\.yaml:5:1: error: 'auditor' is shown from the SOC 2 Type II "
                                   r"'soc2-type2'.*\[soc3-fact-repeated\]", output)


def test_a_soc3_based_on_an_unknown_report_is_an_error(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    edit(demo / "trust/soc3/2026.yaml", "based_on: soc2-type2", "based_on: soc2-typo")
    code, output = check(demo)
    assert code == 1 and "'soc2-typo' is not a SOC 2 Type II certification" in output


def test_an_upcoming_subprocessor_is_in_the_feed_on_the_day_it_is_announced(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    git_repo(demo, date=(TODAY - dt.timedelta(days=5)).isoformat())
    subs = demo / "trust/subprocessors.yaml"
    starts = TODAY + dt.timedelta(days=30)
    subs.write_text(subs.read_text() + f"\n  - name: Northwind Mail\n    purpose: Newsletter delivery.\n"
                                       f"    locations: [EU]\n    added: {starts}\n")
    git(demo, "commit", "-qam", "Announce Northwind Mail", date=(TODAY - dt.timedelta(days=2)).isoformat())
    assert run_cli("build", cwd=demo).returncode == 0
    feed = etree.parse(demo / "site/feed.xml").getroot()
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.iter(f"{ATOM}entry")}
    announced = entries[f"Subprocessor announced: Northwind Mail, from {starts}"]
    assert announced.findtext(f"{ATOM}updated") == f"{TODAY - dt.timedelta(days=2)}T00:00:00Z"  # the commit's day
    # Named by the day it starts, which the YAML says: the same id on every build, with or without git history.
    assert announced.findtext(f"{ATOM}id", "").endswith(f"#announced-northwind-mail-{starts}")
    assert f"will start processing customer data on {starts}" in (announced.findtext(f"{ATOM}content") or "")
    assert not any(t.startswith("Subprocessor added: Northwind") for t in entries)  # not before the day it starts


def test_history_since_hides_what_was_edited_before_go_live(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    (demo / "trust/config.yaml").write_text((demo / "trust/config.yaml").read_text() + "history_since: 2024-01-01\n")
    assert run_cli("build", cwd=demo).returncode == 0
    history = (demo / "site/subprocessors/index.html").read_text().split('id="history"', 1)[1]
    dates = re.findall(r'<td><time datetime="(\d{4}-\d{2}-\d{2})">', history)
    assert dates and min(dates) >= "2024-01-01"


def test_a_flow_list_item_split_at_a_comma_is_warned_with_the_fix(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    edit(demo / "trust/subprocessors.yaml", "data_categories: [Customer pipeline data, Logs]",
         "data_categories: [Customer content (rules, input/output data), Logs]")
    code, output = check(demo)
    assert code == 0
    assert re.search(r"warning: 'Customer content \(rules' and 'input/output data\)' look like one item split at the "
                     r"comma inside the brackets; write the list one item per line.*\[list-item-split\]", output)


@pytest.mark.parametrize("field", ["website: https://acme.test", "website: https://www.example.com"])
def test_reserved_example_domains_are_placeholders(project: Path, field: str) -> None:
    edit(project / "trust/company.yaml", "website: https://example.test", field)
    code, output = check(project)
    assert code == 0 and "a domain reserved for examples" in output and "[placeholder-content]" in output
    assert check(project, "--strict")[0] == 1


def test_an_nda_that_is_not_utf8_is_reported_at_its_line(project: Path) -> None:
    (project / "trust/nda.md").write_bytes(b"# NDA\n\nfine line\nPr\xfcfbericht\n")
    code, output = check(project)
    assert code == 1 and "trust/nda.md:4:1: error: trust/nda.md is not UTF-8 text" in output
