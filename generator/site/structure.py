"""The site's data, computed once per build from the model and git history; pages and files render from it.

Like the structure Material's tags plugin builds once and renders both pages and `tags.json`
from: the subprocessor groups and their one merged history, each certification's status,
the control counts and "last updated" are decided here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence

from generator.content import model, tsc
from generator.publish.history import SubprocessorEvent


@dataclasses.dataclass(frozen=True)
class CertificationView:
    cert: model.Certification
    status: model.Status  # derived from the dates, on the build's day
    documents: list[model.Document]  # the documents it names, in its order


@dataclasses.dataclass(frozen=True)
class SubprocessorChange:
    date: dt.date
    kind: str  # "announced" (a new one, with its start date), "added", "removed" or "changed"
    subprocessor: model.Subprocessor
    details: str = ""  # for "changed": what changed, in words

    @property
    def label(self) -> str:
        return self.kind.capitalize()


@dataclasses.dataclass(frozen=True)
class Subprocessors:
    """Every subprocessor in its group on the build's day, and one history of changes, newest first."""

    current: list[model.Subprocessor]  # by name
    upcoming: list[model.Subprocessor]  # by start date: the notice period
    former: list[model.Subprocessor]  # by name
    history: list[SubprocessorChange]  # since history_since, newest first
    notice: str | None
    since: dt.date | None  # history_since: what happened before is not shown

    @property
    def locations(self) -> list[str]:
        """The countries and regions where current subprocessors process data, sorted."""
        return sorted({code for sub in self.current for code in sub.locations})

    def status(self, sub: model.Subprocessor) -> str:
        return "current" if sub in self.current else ("upcoming" if sub in self.upcoming else "former")


@dataclasses.dataclass(frozen=True)
class SiteData:
    """What every page and machine-readable file of one build shows."""

    tc: model.TrustCenter
    certifications: list[CertificationView]
    subprocessors: Subprocessors
    controls: list[model.Control]  # every control, in category order
    control_counts: Counter[model.ControlStatus]
    criteria: list[str]  # the criteria the controls cite, each once, in the AICPA's order (unknown ones last)
    updates: list[model.Update]  # newest first
    latest_soc2_report: model.Certification | None  # the newest current SOC 2 report

    @property
    def today(self) -> dt.date:
        return self.tc.today

    @property
    def last_updated(self) -> dt.date:
        return self.tc.last_updated

    @property
    def published_updates(self) -> list[model.Update]:
        return [u for u in self.updates if u.date <= self.today]


def build(tc: model.TrustCenter, events: Sequence[SubprocessorEvent] = ()) -> SiteData:
    """The site's data. `events` are the subprocessor changes only git knows (publish.history)."""
    today = tc.today
    documents = {d.id: d for d in tc.documents}
    certifications = [CertificationView(c, c.status_on(today), [documents[i] for i in c.documents if i in documents])
                      for c in tc.certifications]
    controls = [control for category in tc.controls for control in category.controls]
    reports = [view.cert for view in certifications if view.cert.report_date and view.status is model.Status.ACTIVE
               and view.cert.framework is model.Framework.SOC2]
    return SiteData(
        tc=tc,
        certifications=certifications,
        subprocessors=_subprocessors(tc.subprocessors, today, events, tc.settings.history_since),
        controls=controls,
        control_counts=Counter(control.status for control in controls),
        criteria=_cited_criteria(controls),
        updates=sorted(tc.updates, key=lambda u: u.date, reverse=True),
        latest_soc2_report=max(reports, key=lambda c: c.report_date or dt.date.min) if reports else None,
    )


def _cited_criteria(controls: list[model.Control]) -> list[str]:
    order = {criterion: index for index, criterion in enumerate(tsc.CRITERIA)}
    cited = {criterion for control in controls for criterion in control.criteria}
    return sorted(cited, key=lambda criterion: (order.get(criterion, len(order)), criterion))


def _subprocessors(listed: model.SubprocessorsFile, today: dt.date, events: Sequence[SubprocessorEvent],
                   since: dt.date | None) -> Subprocessors:
    subs = listed.subprocessors
    by_name = sorted(subs, key=lambda s: (s.name.casefold(), (s.service or "").casefold()))
    return Subprocessors(
        current=[s for s in by_name if s.is_current(today)],
        upcoming=sorted((s for s in subs if s.added is not None and s.added > today),
                        key=lambda s: s.added or today),
        former=[s for s in by_name if s.removed is not None and s.removed <= today],
        history=_history(subs, today, events, since),
        notice=listed.notice,
        since=since,
    )


def _history(subs: list[model.Subprocessor], today: dt.date, events: Sequence[SubprocessorEvent],
             since: dt.date | None) -> list[SubprocessorChange]:
    # The YAML's dates come first; git adds what the YAML no longer says: entries deleted without a
    # `removed:` date (dated by the commit that deleted them), edits to an entry, and the day a future
    # subprocessor was first listed (its announcement, which starts the notice period).
    announced = {e.subprocessor.key: e.date for e in events if e.kind == "announced"}
    changes: list[SubprocessorChange] = []
    for sub in subs:
        if sub.added is not None:
            changes.append(SubprocessorChange(sub.added, "added", sub))
            told = sub.announced or announced.get(sub.key) or (today if sub.added > today else None)
            if told is not None and told < sub.added:
                changes.append(SubprocessorChange(told, "announced", sub, f"Starts {_nice(sub.added)}"))
        if sub.removed is not None:
            changes.append(SubprocessorChange(sub.removed, "removed", sub))
    listed = {s.key: s for s in subs}
    for event in events:
        sub = event.subprocessor
        if event.kind == "removed":
            again = listed.get(sub.key)
            if again is not None and (again.added is None or again.added <= event.date):
                continue  # still listed (or listed again): the YAML tells its story
            if sub.added is not None:
                changes.append(SubprocessorChange(sub.added, "added", sub))
            changes.append(SubprocessorChange(event.date, "removed", sub))
        elif event.kind == "changed" and sub.key in listed:
            changes.append(SubprocessorChange(event.date, "changed", sub, event.details[:1].upper() + event.details[1:]))
    unique = {(c.date, c.kind, c.subprocessor.key, c.details): c for c in changes}
    return sorted((c for c in unique.values() if c.date <= today and (since is None or c.date >= since)),
                  key=lambda c: (c.date, c.subprocessor.display_name, c.kind), reverse=True)


def _nice(value: dt.date) -> str:
    return f"{value:%b} {value.day}, {value.year}"
