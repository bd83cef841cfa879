"""Rules on access.yaml: every rule matches someone, grants only gated documents, within the longest grant allowed,
and every rule can be reached."""

from __future__ import annotations

from collections.abc import Iterator

from generator.content import model
from generator.content.rules import ERROR, WARNING, Context, Finding, rule, unknown

_FILE = "access.yaml"
# Fields that only mean something for one decision.
_APPROVE_ONLY = ("documents", "days")


def _rules(ctx: Context) -> Iterator[tuple[int, model.AccessRule]]:
    access = ctx.tc.access
    if access is not None:
        yield from enumerate(access.rules)


def _label(index: int, access_rule: model.AccessRule) -> str:
    return access_rule.name or f"rule {index + 1}"


@rule("access-rule-matches-nothing", ERROR, "An access rule names no one to match: it needs domains, free_mail, "
                                            "disposable or everyone.")
def access_rule_matches_nothing(ctx: Context) -> Iterator[Finding]:
    for index, access_rule in _rules(ctx):
        if not access_rule.matchers():
            yield Finding(_FILE, ("rules", index), f"{_label(index, access_rule)} matches no one; add domains: [...], "
                                                   "free_mail: true, disposable: true or everyone: true",
                          _label(index, access_rule))


@rule("access-rule-fields", ERROR, "An access rule sets what only another decision uses (documents and days are "
                                   "for approve, message for deny).")
def access_rule_fields(ctx: Context) -> Iterator[Finding]:
    for index, access_rule in _rules(ctx):
        label = _label(index, access_rule)
        if access_rule.decision is not model.Decision.APPROVE:
            for field in _APPROVE_ONLY:
                if getattr(access_rule, field) is not None:
                    yield Finding(_FILE, ("rules", index, field), f"{label} decides {access_rule.decision.value}, so "
                                                                  f"'{field}' does nothing; remove it", label,
                                  at_key=True)
            if access_rule.nda is not model.NdaNeed.REQUIRED:
                yield Finding(_FILE, ("rules", index, "nda"), f"{label} decides {access_rule.decision.value}, so "
                                                              "'nda' does nothing; remove it", label, at_key=True)
        if access_rule.decision is not model.Decision.DENY and access_rule.message is not None:
            yield Finding(_FILE, ("rules", index, "message"), f"{label} decides {access_rule.decision.value}; "
                                                              "'message' is told to denied requesters only; remove it",
                          label, at_key=True)


@rule("access-rule-unknown-document", ERROR, "An access rule grants a document that is not a gated document of "
                                             "documents.yaml.")
def access_rule_unknown_document(ctx: Context) -> Iterator[Finding]:
    gated = {document.id for document in ctx.tc.gated_documents}
    public = {document.id for document in ctx.tc.public_documents}
    for index, access_rule in _rules(ctx):
        for doc_index, document in enumerate(access_rule.documents or []):
            if document in public:
                yield Finding(_FILE, ("rules", index, "documents", doc_index),
                              f"'{document}' is public: anyone can download it from the site; list gated documents "
                              "only", _label(index, access_rule))
            elif document not in gated:
                yield unknown(_FILE, ("rules", index, "documents", doc_index), "gated document", document, gated,
                              _label(index, access_rule))


@rule("access-days-over-max", ERROR, "A grant would last longer than max_days of access.yaml.")
def access_days_over_max(ctx: Context) -> Iterator[Finding]:
    access = ctx.tc.access
    if access is None:
        return
    if access.default_days > access.max_days:
        yield Finding(_FILE, ("default_days",), f"default_days ({access.default_days}) is longer than max_days "
                                                f"({access.max_days}); shorten it or raise max_days")
    for index, access_rule in _rules(ctx):
        if access_rule.days is not None and access_rule.days > access.max_days:
            yield Finding(_FILE, ("rules", index, "days"), f"{_label(index, access_rule)} grants {access_rule.days} "
                                                           f"days, longer than max_days ({access.max_days})",
                          _label(index, access_rule))


@rule("access-rule-unreachable", WARNING, "An access rule that never decides anything: an earlier rule matches "
                                          "everyone it would.")
def access_rule_unreachable(ctx: Context) -> Iterator[Finding]:
    domains: set[str] = set()
    covered: set[str] = set()  # free_mail, disposable, everyone
    for index, access_rule in _rules(ctx):
        label = _label(index, access_rule)
        if "everyone" in covered:
            yield Finding(_FILE, ("rules", index), f"{label} comes after a rule that matches everyone, so it never "
                                                   "decides; move it up or remove it", label)
            continue
        own = set(access_rule.domains)
        shadowed = {domain for domain in own if any(domain == d or domain.endswith("." + d) for d in domains)}
        flags = {name for name in ("free_mail", "disposable") if getattr(access_rule, name)}
        if access_rule.matchers() and shadowed == own and flags <= covered and not access_rule.everyone:
            yield Finding(_FILE, ("rules", index), f"{label} only matches addresses an earlier rule already decides; "
                                                   "move it up or remove it", label)
        domains |= own
        covered |= flags | ({"everyone"} if access_rule.everyone else set())


@rule("access-without-gated-documents", WARNING, "access.yaml opens the request form, but documents.yaml lists no "
                                                 "gated document to ask for.")
def access_without_gated_documents(ctx: Context) -> Iterator[Finding]:
    if ctx.tc.access is not None and not ctx.tc.gated_documents:
        yield Finding(_FILE, ("staff",), "the request form is open, but there is no gated document to ask for; add "
                                         "one to documents.yaml or remove access.yaml", at_key=True)
