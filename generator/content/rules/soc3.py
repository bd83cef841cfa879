"""Rules on SOC 3 reports: each summarizes a SOC 2 Type II, whose facts it shows rather than repeats, and is
public."""

from __future__ import annotations

from collections.abc import Iterator

from generator.content import model
from generator.content.rules import ERROR, WARNING, Context, Finding, rule


def _reports(ctx: Context) -> Iterator[tuple[str, model.Soc3Report]]:
    for name, value in ctx.loaded.values.items():
        if name.startswith(f"{model.SOC3_DIR}/"):
            yield name, value


# What a SOC 3 takes from the SOC 2 Type II it summarizes: entered there, once.
_FROM_BASIS = ("period", "report_date", "auditor", "opinion", "criteria")
_CERT_FROM_BASIS = ("audit_period", "report_date", "auditor", "opinion", "criteria", "bridge_letter", "as_of")


def _basis_problem(ctx: Context, based_on: str) -> str | None:
    basis = ctx.tc.certification(based_on)
    if basis is None or basis.framework is not model.Framework.SOC2 or basis.type is not model.ReportType.TYPE_II:
        known = [c.id for c in ctx.tc.certifications if c.framework is model.Framework.SOC2 and c.type is
                 model.ReportType.TYPE_II]
        return (f"a SOC 3 summarizes a SOC 2 Type II report, but '{based_on}' is not a SOC 2 Type II certification "
                f"in certifications.yaml; point based_on at one ({', '.join(known) or 'none is listed'})")
    return None


@rule("soc3-without-soc2-type2", ERROR, "A SOC 3 (report page or certification) whose based_on is not a SOC 2 "
                                        "Type II certification.")
def soc3_without_soc2_type2(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        problem = _basis_problem(ctx, report.based_on)
        if problem:
            yield Finding(name, ("based_on",), problem, report.id)
    for index, cert in enumerate(ctx.tc.certifications):
        if cert.framework is model.Framework.SOC3 and cert.based_on is not None:
            problem = _basis_problem(ctx, cert.based_on)
            if problem:
                yield Finding("certifications.yaml", ("certifications", index, "based_on"), problem, cert.id)
        elif cert.based_on is not None:
            yield Finding("certifications.yaml", ("certifications", index, "based_on"),
                          "based_on applies to SOC 3 entries only; remove it", cert.id)


@rule("soc3-fact-repeated", ERROR, "A SOC 3 repeats a fact (period, dates, auditor, opinion, criteria) that it "
                                   "takes from the SOC 2 Type II it is based on.")
def soc3_fact_repeated(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        for field in _FROM_BASIS:
            if getattr(report, field):
                yield Finding(name, (field,), f"'{field}' is shown from the SOC 2 Type II '{report.based_on}' "
                                              "(certifications.yaml), where it is entered once; remove it here",
                              report.id, at_key=True)
    for index, cert in enumerate(ctx.loaded.values["certifications.yaml"].certifications):
        if cert.based_on is None:
            continue
        for field in _CERT_FROM_BASIS:
            if getattr(cert, field):
                yield Finding("certifications.yaml", ("certifications", index, field),
                              f"'{field}' is shown from the SOC 2 Type II '{cert.based_on}', where it is entered "
                              "once; remove it here", cert.id, at_key=True)


@rule("soc3-document-gated", WARNING, "A SOC 3 report's document is gated, though a SOC 3 is meant for the public.")
def soc3_document_gated(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        document = ctx.tc.document(report.document) if report.document else None
        if document is not None and document.access is not model.Access.PUBLIC:
            yield Finding(name, ("document",), "a SOC 3 report is meant for the public, but this document is gated; "
                                               "make it public or link another", report.id)
