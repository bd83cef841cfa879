"""Rules on soc3/*.yaml: a SOC 3 summarizes a SOC 2 Type II, over the same period, and is public."""

from __future__ import annotations

from collections.abc import Iterator

from generator.content import model
from generator.content.rules import WARNING, Context, Finding, rule


def _reports(ctx: Context) -> Iterator[tuple[str, model.Soc3Report]]:
    for name, value in ctx.loaded.values.items():
        if name.startswith(f"{model.SOC3_DIR}/"):
            yield name, value


@rule("soc3-without-soc2-type2", WARNING, "A SOC 3 whose based_on is not a SOC 2 Type II certification.")
def soc3_without_soc2_type2(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        basis = ctx.tc.certification(report.based_on)
        if basis is None or basis.framework is not model.Framework.SOC2 or basis.type is not model.ReportType.TYPE_II:
            yield Finding(name, ("based_on",), f"a SOC 3 summarizes a SOC 2 Type II report, but '{report.based_on}' "
                                               "is not a SOC 2 Type II certification; point based_on at one", report.id)


@rule("soc3-period-mismatch", WARNING, "A SOC 3 whose period differs from the SOC 2 Type II it summarizes.")
def soc3_period_mismatch(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        basis = ctx.tc.certification(report.based_on)
        if basis is not None and basis.audit_period and basis.audit_period != report.period:
            yield Finding(name, ("period",), f"the period differs from the SOC 2 Type II it summarizes "
                                             f"({basis.audit_period.start} to {basis.audit_period.end}); align them",
                          report.id)


@rule("soc3-document-gated", WARNING, "A SOC 3 report's document is gated, though a SOC 3 is meant for the public.")
def soc3_document_gated(ctx: Context) -> Iterator[Finding]:
    for name, report in _reports(ctx):
        document = ctx.tc.document(report.document) if report.document else None
        if document is not None and document.access is not model.Access.PUBLIC:
            yield Finding(name, ("document",), "a SOC 3 report is meant for the public, but this document is gated; "
                                               "make it public or link another", report.id)
