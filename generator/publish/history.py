"""The content through git history: snapshots at revisions (for `changes`) and the subprocessor changes
only git knows (for the site's change history and feed).

Both read through the one loader (`generator.content.load`): a snapshot loads a `GitRevision`
source; the history walk parses each version of subprocessors.yaml with the same file parser.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

from generator.content import git, model
from generator.content.diagnostics import Severity
from generator.content.load import load, parse_file
from generator.content.project import Project
from generator.content.source import ContentSource
from generator.errors import GitError

# The site's subprocessor history walks at most this many commits that touched the file: enough for years of
# monthly changes, and a bound on build time however long the repository's history grows.
MAX_COMMITS = 200
SUBPROCESSORS_FILE = "subprocessors.yaml"


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The comparable content at one revision (or the working tree).

    A file that is missing or does not validate at that revision leaves its part empty and is named
    in `unreadable`, so a comparison can say what it could not see instead of inventing changes.
    """

    label: str
    date: dt.date
    certifications: dict[str, model.Certification] = dataclasses.field(default_factory=dict)
    soc3: dict[str, model.Soc3Report] = dataclasses.field(default_factory=dict)
    subprocessors: dict[str, model.Subprocessor] = dataclasses.field(default_factory=dict)
    controls: dict[str, model.Control] = dataclasses.field(default_factory=dict)
    documents: dict[str, model.Document] = dataclasses.field(default_factory=dict)
    updates: dict[str, model.Update] = dataclasses.field(default_factory=dict)
    company: model.Company | None = None
    keys: dict[str, str] = dataclasses.field(default_factory=dict)  # key id -> sha256 of its file
    suppressions: tuple[model.Suppression, ...] = ()
    config: str | None = None  # sha256 of mkdocs.yml: plugins and folders decide what is published
    unreadable: tuple[str, ...] = ()


def snapshot(source: ContentSource) -> Snapshot:
    """The content read from `source` (the work tree, or a git revision) as comparable parts."""
    loaded = load(source)
    values = loaded.values
    certs = values.get("certifications.yaml")
    subs = values.get("subprocessors.yaml")
    controls = values.get("controls.yaml")
    documents = values.get("documents.yaml")
    updates = values.get("updates.yaml")
    config = values.get("config.yaml")
    keys = {Path(name).stem: hashlib.sha256(raw).hexdigest() for name in source.names("keys")
            if name.endswith(".pem") and (raw := source.read(name)) is not None}
    unreadable = sorted({d.path for d in loaded.diagnostics
                         if d.severity is Severity.ERROR and d.path.endswith(".yaml")})
    return Snapshot(
        label=source.label, date=source.date,
        certifications={c.id: c for c in certs.certifications} if certs else {},
        soc3={v.id: model.soc3_with_basis(v, {c.id: c for c in certs.certifications} if certs else {})
              for name, v in values.items() if name.startswith(f"{model.SOC3_DIR}/")},
        subprocessors={s.key: s for s in subs.subprocessors} if subs else {},
        controls={c.id: c for cat in controls.categories for c in cat.controls} if controls else {},
        documents={d.id: d for d in documents.documents} if documents else {},
        updates={u.slug: u for u in updates.updates} if updates else {},
        company=values.get("company.yaml"),
        keys=keys,
        suppressions=tuple(config.checks.suppress) if config else (),
        config=hashlib.sha256(raw_config).hexdigest() if (raw_config := source.config()) is not None else None,
        unreadable=tuple(unreadable),
    )


def empty_snapshot(label: str, date: dt.date) -> Snapshot:
    return Snapshot(label=label, date=date)


# ---------------------------------------------------------------- subprocessor history for the site


@dataclasses.dataclass(frozen=True)
class SubprocessorEvent:
    """A change to the subprocessor list seen only in git: an entry deleted from the YAML, or edited."""

    date: dt.date
    kind: str  # "announced" (first listed, starting later), "removed" (deleted from the YAML) or "changed"
    subprocessor: model.Subprocessor  # the entry as it was before a removal, after a change
    details: str = ""


def describe_subprocessor_change(before: model.Subprocessor, after: model.Subprocessor) -> list[str]:
    """What changed about one subprocessor, in words (empty when nothing customers care about changed)."""

    def names(codes: Iterable[str]) -> str:
        return ", ".join(model.location_name(c) for c in codes) or "none"

    def items(values: Iterable[str]) -> str:
        # Quoted: a data category may itself contain a comma ("Customer content (rules, data)").
        return ", ".join(f"“{value}”" for value in values)

    found: list[str] = []
    if before.purpose != after.purpose:
        found.append(f"purpose changed from “{before.purpose}” to “{after.purpose}”")
    if before.locations != after.locations:
        found.append(f"locations changed from {names(before.locations)} to {names(after.locations)}")
    if before.data_categories != after.data_categories:
        added = [c for c in after.data_categories if c not in before.data_categories]
        dropped = [c for c in before.data_categories if c not in after.data_categories]
        parts = ([f"now also {items(added)}"] if added else []) + \
                ([f"no longer {items(dropped)}"] if dropped else [])
        found.append("data categories: " + ("; ".join(parts) or "reordered"))
    if before.transfer_mechanism != after.transfer_mechanism:
        found.append(f"transfer mechanism now {after.transfer_mechanism or 'none'}")
    if before.dpa != after.dpa:
        found.append({True: "DPA signed", False: "no DPA any more", None: "DPA status not stated any more"}[after.dpa])
    if before.certifications != after.certifications:
        found.append(f"their certifications now {', '.join(after.certifications) or 'none listed'}")
    if before.website != after.website:
        found.append(f"website now {after.website or 'not given'}")
    if before.entity != after.entity or before.address != after.address:
        found.append(f"contracting entity now {after.entity or after.name}"
                     + (f", {after.address}" if after.address else ""))
    return found


def subprocessor_events(project: Project, today: dt.date, *, max_commits: int = MAX_COMMITS) -> list[SubprocessorEvent]:
    """Removals and changes of subprocessors that only git knows, oldest first; [] outside a git repository.

    Walks the last `max_commits` commits that touched subprocessors.yaml (first parent only, so a merged
    pull request counts once, on the day it was merged) and reads each version in one git process.
    """
    if not git.might_be_repository(project.root):
        return []  # not a git repository: no git process at all
    try:
        # One git call answers both "inside a work tree?" and "where in it?".
        inside, _, prefix = git.run(project.root, "rev-parse", "--is-inside-work-tree",
                                    "--show-prefix").decode().partition("\n")
        if inside.strip() != "true":
            return []
        relative = project.trust_dir.relative_to(project.root).as_posix()
        path = f"{prefix.strip()}{relative}/{SUBPROCESSORS_FILE}"
        log = git.run(project.root, "log", "--first-parent", f"-n{max_commits}", "--format=%H %cs", "HEAD", "--",
                      f":(top){path}").decode().split("\n")
        commits = [line.split() for line in log if line.strip()]
        commits.reverse()  # oldest first
        if not commits:
            return []
        contents = git.blobs(project.root, [f"{commit}:{path}" for commit, _ in commits])
    except (GitError, ValueError):
        return []  # no commit yet, or git unusable: the site shows what the YAML says, as without git
    display = project.content_path(SUBPROCESSORS_FILE)
    versions: dict[bytes, dict[str, model.Subprocessor] | None] = {}
    events: list[SubprocessorEvent] = []
    previous: dict[str, model.Subprocessor] | None = None
    for (_, day), raw in zip(commits, contents, strict=True):
        date = dt.date.fromisoformat(day)
        if raw is None:
            current: dict[str, model.Subprocessor] | None = {}
        else:
            if raw not in versions:
                parsed, _, _ = parse_file(raw, display, model.SubprocessorsFile)
                versions[raw] = {s.key: s for s in parsed.subprocessors} if parsed else None
            current = versions[raw]
        if current is None:
            continue  # this version did not validate: compare the next good one with the last good one
        if date <= today:
            # A future subprocessor listed for the first time: the day customers were told.
            events += [SubprocessorEvent(date, "announced", sub) for key, sub in current.items()
                       if sub.added is not None and sub.added > date and key not in (previous or {})]
        if previous is not None and date <= today:
            for name, before in previous.items():
                after = current.get(name)
                if after is None:
                    events.append(SubprocessorEvent(before.removed or date, "removed", before))
                else:
                    details = describe_subprocessor_change(before, after)
                    if details:
                        events.append(SubprocessorEvent(date, "changed", after, "; ".join(details)))
        previous = current
    return events
