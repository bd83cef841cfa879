"""Rules across files: references, files on disk, and the compliance rules (stale reports...)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator import load, model, tsc, urls
from generator.diagnostics import ContentError, Diagnostic, Severity

ERROR, WARNING = Severity.ERROR, Severity.WARNING

# Link targets inside Markdown text: inline links/images, reference definitions, autolinks.
_MD_LINK_RE = re.compile(r"\]\(\s*<?([^)\s>]*)|^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>",
                         re.MULTILINE)


@dataclasses.dataclass
class Result:
    model: model.TrustCenter | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity is ERROR for d in self.diagnostics)


def validate(project_dir: Path, *, today: dt.date | None = None, strict: bool = False,
             gated_files: bool = True) -> Result:
    """Load trust/ and apply every rule. With strict, warnings count as errors. Without gated_files
    (a CI runner building the public site, where gated files are kept out of git), the gated files
    themselves are not looked for."""
    loaded = load.load(project_dir, today)
    diagnostics = list(loaded.diagnostics)
    for source in loaded.sources.values():
        # Link targets are checked on the raw strings of every file that parsed, valid or not,
        # so that one run reports every problem.
        diagnostics += _check_links(source.data, (), source)
    if loaded.model is not None:
        diagnostics += list(_check(loaded.model, loaded, project_dir.resolve(), gated_files))
    if strict:
        diagnostics = [dataclasses.replace(d, severity=ERROR) for d in diagnostics]
    diagnostics = sorted(set(diagnostics))
    ok = not any(d.severity is ERROR for d in diagnostics)
    return Result(loaded.model if ok else None, diagnostics)


def load_valid(project_dir: Path, *, today: dt.date | None = None, strict: bool = False,
               gated_files: bool = True) -> model.TrustCenter:
    """The model, or ContentError carrying every diagnostic."""
    result = validate(project_dir, today=today, strict=strict, gated_files=gated_files)
    if result.model is None:
        raise ContentError(result.diagnostics)
    return result.model


def _check(tc: model.TrustCenter, loaded: load.Loaded, project_dir: Path, gated_files: bool) -> Iterator[Diagnostic]:
    src = loaded.sources
    yield from _check_company(tc, src["company.yaml"], project_dir)
    yield from _check_documents(tc, src["documents.yaml"], project_dir, gated_files)
    yield from _check_certifications(tc, src["certifications.yaml"])
    for report, source in zip(tc.soc3, loaded.soc3_sources, strict=True):
        yield from _check_soc3(tc, report, source)
    yield from _duplicates([r.id for r in tc.soc3], [(s, ("id",)) for s in loaded.soc3_sources], "SOC 3 id")
    yield from _check_subprocessors(tc, src["subprocessors.yaml"])
    yield from _check_controls(tc, src["controls.yaml"])


def _check_links(value: Any, key: load.Key, source: load.Source) -> Iterator[Diagnostic]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _check_links(item, (*key, name), source)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _check_links(item, (*key, index), source)
    elif isinstance(value, str) and ("](" in value or "]:" in value or "<" in value):
        for match in _MD_LINK_RE.finditer(value):
            target = next(group for group in match.groups() if group is not None)
            if target and urls.safe_target(target) is None:
                yield source.diagnostic(key, f"the link target '{target[:60]}' is not allowed; links must be "
                                             "http(s)://, mailto: or relative")


def _duplicates(ids: list[str], places: list[tuple[load.Source, load.Key]], what: str) -> Iterator[Diagnostic]:
    seen: dict[str, int] = {}
    for index, value in enumerate(ids):
        if value in seen:
            source, key = places[index]
            first_source, first_key = places[seen[value]]
            line = first_source.where(first_key)[0]
            yield source.diagnostic(key, f"{what} '{value}' is used twice (first in {first_source.path} line "
                                         f"{line}); give each a unique {what}")
        else:
            seen[value] = index


def _check_company(tc: model.TrustCenter, source: load.Source, project_dir: Path) -> Iterator[Diagnostic]:
    company = tc.company
    if company.logo:
        logo = (tc.root / company.logo).resolve()
        if not logo.is_relative_to(project_dir):
            yield source.diagnostic(("logo",), "the logo path leads outside the project; keep it under trust/")
        elif not logo.is_file():
            yield source.diagnostic(("logo",), f"the logo file {company.logo} does not exist under trust/; "
                                               "add it or fix the path")
        elif logo.suffix.lower() not in (".svg", ".png", ".jpg", ".jpeg", ".webp"):
            yield source.diagnostic(("logo",), "the logo must be an .svg, .png, .jpg or .webp file")
    expires = company.security_txt.expires
    if expires <= tc.today:
        yield source.diagnostic(("security_txt", "expires"), f"security.txt expired on {expires}; set a new date "
                                                             "within the next year", WARNING)
    elif expires > tc.today + dt.timedelta(days=366):
        yield source.diagnostic(("security_txt", "expires"), "security.txt should expire within a year (RFC 9116 "
                                                             "section 2.5.5); choose an earlier date", WARNING)
    if tc.gated_documents and not company.gate_url and not company.contacts.sales:
        yield source.diagnostic(("contacts",), "there are gated documents but neither gate_url nor contacts.sales; "
                                               "add one so customers know how to get them", WARNING)


def _check_documents(tc: model.TrustCenter, source: load.Source, project_dir: Path,
                     gated_files: bool) -> Iterator[Diagnostic]:
    yield from _duplicates([d.id for d in tc.documents], [(source, ("documents", i, "id"))
                                                         for i in range(len(tc.documents))], "document id")
    site_src = (project_dir / "site_src").resolve()
    public_names: dict[str, int] = {}
    for index, document in enumerate(tc.documents):
        where = ("documents", index, "file")
        path = tc.document_path(document)
        if not path.is_relative_to(project_dir):
            yield source.diagnostic(where, f"'{document.file}' leads outside the project; keep document files "
                                           "inside the repository (gated ones outside site_src/)")
            continue
        if document.access is model.Access.GATED and path.is_relative_to(site_src):
            yield source.diagnostic(where, f"the gated file '{document.file}' is inside site_src/, which is "
                                           "published; move it, e.g. to trust/private/")
            continue
        if document.access is model.Access.GATED and not gated_files:
            continue
        if not path.is_file():
            yield source.diagnostic(where, f"the file '{document.file}' does not exist (looked in "
                                           f"{path.relative_to(project_dir)}); add it or fix the path")
            continue
        if document.access is model.Access.PUBLIC:
            if document.public_name in public_names:
                yield source.diagnostic(where, f"two public documents share the file name '{document.public_name}'; "
                                               "rename one (they are published side by side)")
            public_names[document.public_name] = index
        else:
            problem = _pdf_problem(path)
            if problem:
                yield source.diagnostic(where, f"the gated file '{document.file}' {problem}")


def _pdf_problem(path: Path) -> str | None:
    """Why the gate could not watermark this file, or None."""
    import pikepdf  # lazy: only gated documents need it

    try:
        with pikepdf.open(path) as pdf:
            if len(pdf.pages) == 0:
                return "has no pages; export the report again"
    except pikepdf.PasswordError:
        return "is password-protected, so it cannot be watermarked; give the gate an unprotected copy"
    except (pikepdf.PdfError, OSError) as exc:
        return f"is not a readable PDF ({str(exc).splitlines()[0][:80]}); the gate only serves PDFs"
    return None


def _check_certifications(tc: model.TrustCenter, source: load.Source) -> Iterator[Diagnostic]:
    known_documents = {d.id for d in tc.documents}
    certs = tc.certifications
    yield from _duplicates([c.id for c in certs], [(source, ("certifications", i, "id")) for i in range(len(certs))],
                           "certification id")
    for index, cert in enumerate(certs):
        at = ("certifications", index)
        if cert.framework is model.Framework.CUSTOM and not cert.name:
            yield source.diagnostic(at, "a Custom framework needs a 'name'; add one")
        if cert.framework.is_soc and cert.type is None:
            yield source.diagnostic(at, f"{cert.framework.value} needs 'type: Type I' or 'type: Type II'; add it")
        if cert.type is not None and not cert.framework.is_soc:
            yield source.diagnostic((*at, "type"), f"'type' applies to SOC 1 and SOC 2 only; remove it from "
                                                   f"{cert.framework.value}")
        if cert.type is model.ReportType.TYPE_I and cert.audit_period:
            yield source.diagnostic((*at, "audit_period"), "a Type I report covers a point in time, not a period; "
                                                           "use 'as_of' or change the type to Type II", WARNING)
        if cert.type is model.ReportType.TYPE_I and not cert.as_of and cert.report_date:
            yield source.diagnostic(at, "a Type I report needs its 'as_of' date (the day the design was assessed); "
                                        "add it", WARNING)
        if cert.type is model.ReportType.TYPE_II and not cert.audit_period and cert.report_date:
            yield source.diagnostic(at, "a Type II report needs its 'audit_period' (start and end); add it",
                                    WARNING)
        if cert.criteria and cert.framework not in (model.Framework.SOC2, model.Framework.SOC3):
            yield source.diagnostic((*at, "criteria"), "trust services criteria apply to SOC 2 and SOC 3 only; "
                                                       "remove them")
        if cert.framework is model.Framework.SOC2 and cert.report_date and not cert.criteria:
            yield source.diagnostic(at, "a SOC 2 report needs the trust services 'criteria' in scope "
                                        "(e.g. [security, availability]); add them")
        if cert.audit_period and cert.audit_period.start >= cert.audit_period.end:
            yield source.diagnostic((*at, "audit_period"), "the audit period starts after it ends; swap the dates")
        if cert.audit_period and cert.report_date and cert.report_date < cert.audit_period.end:
            yield source.diagnostic((*at, "report_date"), "the report is dated before its audit period ends; "
                                                          "check both dates")
        if cert.valid_from and cert.valid_until and cert.valid_from >= cert.valid_until:
            yield source.diagnostic((*at, "valid_until"), "the certificate ends before it starts; check both dates")
        status = cert.status_on(tc.today)
        if (cert.framework is model.Framework.SOC2 and cert.type is model.ReportType.TYPE_II
                and cert.audit_period and status is not model.Status.WITHDRAWN
                and (tc.today - cert.audit_period.end).days > model.REPORT_SHELF_LIFE_DAYS):
            yield source.diagnostic((*at, "audit_period", "end"),
                                    f"the SOC 2 Type II period ended {cert.audit_period.end}, more than 12 months "
                                    "ago; publish the new report or a bridge letter, or mark it withdrawn", WARNING)
        if status is model.Status.IN_PROGRESS and cert.expected and cert.expected < tc.today:
            yield source.diagnostic((*at, "expected"), f"expected {cert.expected}, which has passed; publish the "
                                                       "report or move the expected date", WARNING)
        if cert.status == "active" and status is model.Status.EXPIRED:
            yield source.diagnostic((*at, "status"), f"marked active but its validity ended {cert.current_until}; "
                                                     "renew it or remove 'status: active' (it shows as expired)",
                                    WARNING)
        for ref_index, document_id in enumerate(cert.documents):
            if document_id not in known_documents:
                yield _unknown(source, (*at, "documents", ref_index), "document", document_id, known_documents)


def _unknown(source: load.Source, key: load.Key, what: str, value: str, known: set[str]) -> Diagnostic:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"define it in the {what}s file"
    return source.diagnostic(key, f"the {what} '{value}' is not defined; {hint}")


def _check_soc3(tc: model.TrustCenter, report: model.Soc3Report, source: load.Source) -> Iterator[Diagnostic]:
    basis = tc.certification(report.based_on)
    if basis is None or basis.framework is not model.Framework.SOC2 or basis.type is not model.ReportType.TYPE_II:
        yield source.diagnostic(("based_on",), f"a SOC 3 summarizes a SOC 2 Type II report, but '{report.based_on}' "
                                               "is not a SOC 2 Type II certification; point based_on at one",
                                WARNING)
    elif basis.audit_period and basis.audit_period != report.period:
        yield source.diagnostic(("period",), f"the period differs from the SOC 2 Type II it summarizes "
                                             f"({basis.audit_period.start} to {basis.audit_period.end}); align them",
                                WARNING)
    if report.period.start >= report.period.end:
        yield source.diagnostic(("period",), "the period starts after it ends; swap the dates")
    if report.document is not None:
        document = tc.document(report.document)
        if document is None:
            yield _unknown(source, ("document",), "document", report.document, {d.id for d in tc.documents})
        elif document.access is not model.Access.PUBLIC:
            yield source.diagnostic(("document",), "a SOC 3 report is meant for the public, but this document is "
                                                   "gated; make it public or link another", WARNING)


def _check_subprocessors(tc: model.TrustCenter, source: load.Source) -> Iterator[Diagnostic]:
    subs = tc.subprocessors.subprocessors
    yield from _duplicates([s.name.casefold() for s in subs],
                           [(source, ("subprocessors", i, "name")) for i in range(len(subs))], "subprocessor name")
    for index, sub in enumerate(subs):
        if sub.removed and sub.removed < sub.added:
            yield source.diagnostic(("subprocessors", index, "removed"), "removed before it was added; check both "
                                                                         "dates")


def _check_controls(tc: model.TrustCenter, source: load.Source) -> Iterator[Diagnostic]:
    categories = tc.controls
    yield from _duplicates([c.id for c in categories],
                           [(source, ("categories", i, "id")) for i in range(len(categories))], "category id")
    ids: list[str] = []
    places: list[tuple[load.Source, load.Key]] = []
    for cat_index, category in enumerate(categories):
        for index, control in enumerate(category.controls):
            at = ("categories", cat_index, "controls", index)
            ids.append(control.id)
            places.append((source, (*at, "id")))
            for crit_index, criterion in enumerate(control.criteria):
                if criterion not in tsc.CRITERIA:
                    close = difflib.get_close_matches(criterion, list(tsc.CRITERIA), n=1)
                    hint = f"did you mean {close[0]}?" if close else "see docs/reference.md for the list"
                    yield source.diagnostic((*at, "criteria", crit_index),
                                            f"'{criterion}' is not an AICPA 2017 Trust Services Criterion; {hint}",
                                            WARNING)
            if control.last_tested and control.last_tested > tc.today:
                yield source.diagnostic((*at, "last_tested"), "last_tested is in the future; use the date of the "
                                                              "last test")
    yield from _duplicates(ids, places, "control id")
