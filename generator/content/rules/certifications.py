"""Rules on certifications.yaml: each framework's required facts, dates that agree, reports still current."""

from __future__ import annotations

from collections.abc import Iterator

from generator.content import model
from generator.content.rules import ERROR, WARNING, Context, Finding, rule, unknown

_FILE = "certifications.yaml"
Framework, ReportType, Status = model.Framework, model.ReportType, model.Status


def _each(ctx: Context) -> Iterator[tuple[tuple[str, int], model.Certification]]:
    for index, cert in enumerate(ctx.tc.certifications):
        yield ("certifications", index), cert


@rule("custom-framework-needs-name", ERROR, "A certification of framework Custom needs a name.")
def custom_framework_needs_name(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.framework is Framework.CUSTOM and not cert.name:
            yield Finding(_FILE, at, "a Custom framework needs a 'name'; add one", cert.id)


@rule("soc-type-missing", ERROR, "A SOC 1 or SOC 2 report must say whether it is Type I or Type II.")
def soc_type_missing(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.framework.is_soc and cert.type is None:
            yield Finding(_FILE, at, f"{cert.framework.value} needs 'type: Type I' or 'type: Type II'; add it", cert.id)


@rule("type-outside-soc", ERROR, "Only SOC 1 and SOC 2 reports have a type.")
def type_outside_soc(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.type is not None and not cert.framework.is_soc:
            yield Finding(_FILE, (*at, "type"), f"'type' applies to SOC 1 and SOC 2 only; remove it from "
                                                f"{cert.framework.value}", cert.id)


@rule("type1-dates", WARNING, "A Type I report has an as-of date, not an audit period.")
def type1_dates(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.type is not ReportType.TYPE_I:
            continue
        if cert.audit_period:
            yield Finding(_FILE, (*at, "audit_period"), "a Type I report covers a point in time, not a period; use "
                                                        "'as_of' or change the type to Type II", cert.id)
        if not cert.as_of and cert.report_date:
            yield Finding(_FILE, at, "a Type I report needs its 'as_of' date (the day the design was assessed); "
                                     "add it", cert.id)


@rule("type2-period-missing", WARNING, "A Type II report needs the audit period it covers.")
def type2_period_missing(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.type is ReportType.TYPE_II and not cert.audit_period and cert.report_date:
            yield Finding(_FILE, at, "a Type II report needs its 'audit_period' (start and end); add it", cert.id)


@rule("criteria-outside-soc", ERROR, "Trust services criteria apply to SOC 2 and SOC 3 only.")
def criteria_outside_soc(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.criteria and cert.framework not in (Framework.SOC2, Framework.SOC3):
            yield Finding(_FILE, (*at, "criteria"), "trust services criteria apply to SOC 2 and SOC 3 only; remove "
                                                    "them", cert.id)


@rule("soc2-criteria-missing", ERROR, "A SOC 2 report must list the trust services categories in scope.")
def soc2_criteria_missing(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.framework is Framework.SOC2 and cert.report_date and not cert.criteria:
            yield Finding(_FILE, at, "a SOC 2 report needs the trust services 'criteria' in scope "
                                     "(e.g. [security, availability]); add them", cert.id)


@rule("dates-out-of-order", ERROR, "A period that ends before it starts, a report dated before its period ends, "
                                   "a certificate or subprocessor that ends before it begins.")
def dates_out_of_order(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.audit_period and cert.audit_period.start >= cert.audit_period.end:
            yield Finding(_FILE, (*at, "audit_period"), "the audit period starts after it ends; swap the dates", cert.id)
        if cert.audit_period and cert.report_date and cert.report_date < cert.audit_period.end:
            yield Finding(_FILE, (*at, "report_date"), "the report is dated before its audit period ends; check both "
                                                       "dates", cert.id)
        if cert.valid_from and cert.valid_until and cert.valid_from >= cert.valid_until:
            yield Finding(_FILE, (*at, "valid_until"), "the certificate ends before it starts; check both dates",
                          cert.id)
    for index, sub in enumerate(ctx.tc.subprocessors.subprocessors):
        if sub.removed and sub.added and sub.removed < sub.added:
            yield Finding("subprocessors.yaml", ("subprocessors", index, "removed"),
                          "removed before it was added; check both dates", sub.name)


@rule("soc2-report-stale", WARNING, "A SOC 2 Type II report whose period ended more than 12 months ago, with no "
                                   "bridge letter covering today.")
def soc2_report_stale(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if (cert.framework is Framework.SOC2 and cert.type is ReportType.TYPE_II and cert.audit_period
                and cert.based_on is None and cert.status_on(ctx.today) is Status.EXPIRED):
            bridge = cert.bridge_letter
            if bridge is not None:
                yield Finding(_FILE, (*at, "bridge_letter", "covers_to"),
                              f"the bridge letter covers to {bridge.covers_to}, which has passed; publish the new "
                              "report or a new bridge letter, or mark it withdrawn", cert.id)
            else:
                yield Finding(_FILE, (*at, "audit_period", "end"),
                              f"the SOC 2 Type II period ended {cert.audit_period.end}, more than 12 months ago; "
                              "publish the new report, or record a bridge letter (bridge_letter: {covers_to: ...}), "
                              "or mark it withdrawn", cert.id)


@rule("soc-fields-outside-soc", ERROR, "An opinion, exceptions or a bridge letter on something that is not a SOC "
                                       "report.")
def soc_fields_outside_soc(ctx: Context) -> Iterator[Finding]:
    soc = (Framework.SOC1, Framework.SOC2, Framework.SOC3)
    for at, cert in _each(ctx):
        for field in ("opinion", "exceptions", "bridge_letter"):
            if getattr(cert, field) and cert.framework not in soc:
                yield Finding(_FILE, (*at, field), f"'{field}' applies to SOC reports only; remove it from "
                                                   f"{cert.framework.value}", cert.id, at_key=True)


@rule("bridge-letter-dates", ERROR, "A bridge letter must cover time after the report's period (or as-of date).")
def bridge_letter_dates(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        bridge, covered = cert.bridge_letter, cert.audit_period.end if cert.audit_period else cert.as_of
        if bridge is not None and cert.based_on is None and covered is not None and bridge.covers_to <= covered:
            yield Finding(_FILE, (*at, "bridge_letter", "covers_to"),
                          f"the bridge letter must cover time after {covered}, the end of what the report covers; "
                          "check covers_to", cert.id)


@rule("standard-version-outside-iso", ERROR, "standard_version applies to ISO standards only.")
def standard_version_outside_iso(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.standard_version and not cert.framework.value.startswith("ISO "):
            yield Finding(_FILE, (*at, "standard_version"), f"standard_version applies to ISO standards only; remove "
                                                            f"it from {cert.framework.value}", cert.id)


@rule("surveillance-audit-overdue", WARNING, "An active certificate whose last recorded audit is more than 12 "
                                             "months old (ISO requires yearly surveillance audits).")
def surveillance_audit_overdue(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        past = cert.past_audits(ctx.today)
        if (past and cert.status_on(ctx.today) is Status.ACTIVE
                and (ctx.today - past[-1].date).days > model.REPORT_SHELF_LIFE_DAYS):
            last = past[-1]
            yield Finding(_FILE, (*at, "audits"), f"the last audit recorded is the {last.kind.value} audit of "
                                                  f"{last.date}, more than 12 months ago; record the surveillance "
                                                  "audit that followed it", cert.id)


@rule("expected-date-passed", WARNING, "A report or certificate in progress whose expected date has passed.")
def expected_date_passed(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        if cert.status_on(ctx.today) is Status.IN_PROGRESS and cert.expected and cert.expected < ctx.today:
            yield Finding(_FILE, (*at, "expected"), f"expected {cert.expected}, which has passed; publish the report "
                                                    "or move the expected date", cert.id)


@rule("active-but-expired", WARNING, "A listed certification whose validity has ended (it shows as Expired): "
                                    "renew it or mark it withdrawn.")
def active_but_expired(ctx: Context) -> Iterator[Finding]:
    for at, cert in _each(ctx):
        # A SOC 2 Type II has its own rule (soc2-report-stale); a SOC 3 follows the report it is based on.
        if (cert.status_on(ctx.today) is not Status.EXPIRED or cert.based_on is not None
                or (cert.framework is Framework.SOC2 and cert.type is ReportType.TYPE_II)):
            continue
        if cert.status == "active":
            yield Finding(_FILE, (*at, "status"), f"marked active but its validity ended {cert.current_until}; renew "
                                                  "it or remove 'status: active' (it shows as expired)", cert.id)
        else:
            yield Finding(_FILE, at, f"{cert.display_name} expired on {cert.current_until} and shows as Expired; "
                                     "record its renewal, or mark it withdrawn", cert.id)


@rule("unknown-document", ERROR, "A certification or SOC 3 report refers to a document that is not defined.")
def unknown_document(ctx: Context) -> Iterator[Finding]:
    known = {d.id for d in ctx.tc.documents}
    for at, cert in _each(ctx):
        for index, document_id in enumerate(cert.documents):
            if document_id not in known:
                yield unknown(_FILE, (*at, "documents", index), "document", document_id, known, cert.id)
        bridge = cert.bridge_letter
        if bridge is not None and bridge.document is not None and bridge.document not in known:
            yield unknown(_FILE, (*at, "bridge_letter", "document"), "document", bridge.document, known, cert.id)
    for name, report in ctx.loaded.values.items():
        if name.startswith(f"{model.SOC3_DIR}/") and report.document is not None and report.document not in known:
            yield unknown(name, ("document",), "document", report.document, known, report.id)
