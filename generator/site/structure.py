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

from generator.content import model
from generator.publish.history import SubprocessorEvent


@dataclasses.dataclass(frozen=True)
class CertificationView:
    cert: model.Certification
    status: model.Status  # derived from the dates, on the build's day
    documents: list[model.Document]  # the documents it names, in its order


@dataclasses.dataclass(frozen=True)
class SubprocessorChange:
    date: dt.date
    kind: str  # "added", "removed" or "changed"
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
    history: list[SubprocessorChange]
    notice: str | None

    @property
    def countries(self) -> list[str]:
        """The countries where current subprocessors process data, sorted."""
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
        subprocessors=_subprocessors(tc.subprocessors, today, events),
        controls=controls,
        control_counts=Counter(control.status for control in controls),
        updates=sorted(tc.updates, key=lambda u: u.date, reverse=True),
        latest_soc2_report=max(reports, key=lambda c: c.report_date or dt.date.min) if reports else None,
    )


def _subprocessors(listed: model.SubprocessorsFile, today: dt.date,
                   events: Sequence[SubprocessorEvent]) -> Subprocessors:
    subs = listed.subprocessors
    by_name = sorted(subs, key=lambda s: s.name.casefold())
    return Subprocessors(
        current=[s for s in by_name if s.is_current(today)],
        upcoming=sorted((s for s in subs if s.added > today), key=lambda s: s.added),
        former=[s for s in by_name if s.removed is not None and s.removed <= today],
        history=_history(subs, today, events),
        notice=listed.notice,
    )


def _history(subs: list[model.Subprocessor], today: dt.date,
             events: Sequence[SubprocessorEvent]) -> list[SubprocessorChange]:
    # The YAML's added/removed dates come first; git adds what the YAML no longer says: entries deleted
    # without a `removed:` date (dated by the commit that deleted them) and edits to an entry.
    changes = [SubprocessorChange(s.added, "added", s) for s in subs]
    changes += [SubprocessorChange(s.removed, "removed", s) for s in subs if s.removed]
    listed = {s.name: s for s in subs}
    for event in events:
        sub = event.subprocessor
        if event.kind == "removed":
            again = listed.get(sub.name)
            if again is not None and again.added <= event.date:
                continue  # still listed (or listed again): the YAML tells its story
            changes += [SubprocessorChange(sub.added, "added", sub), SubprocessorChange(event.date, "removed", sub)]
        elif sub.name in listed:
            changes.append(SubprocessorChange(event.date, "changed", sub, event.details[:1].upper() + event.details[1:]))
    unique = {(c.date, c.kind, c.subprocessor.name, c.details): c for c in changes}
    return sorted((c for c in unique.values() if c.date <= today),
                  key=lambda c: (c.date, c.subprocessor.name, c.kind), reverse=True)
