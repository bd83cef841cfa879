"""Read trust/ as it was at git revisions: snapshots for `changes`, subprocessor history for the site."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from generator import load, model, yamlfile

# The site's subprocessor history walks at most this many commits that touched the file: enough for years of
# monthly changes, and a bound on build time however long the repository's history grows.
MAX_COMMITS = 200
SUBPROCESSORS_FILE = "trust/subprocessors.yaml"
_TIMEOUT = 30


class GitError(Exception):
    """git could not answer: not a repository, an unknown revision, or git itself is missing."""


class NotARepository(GitError):
    pass


class UnknownRevision(GitError):
    pass


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The comparable content of trust/ at one revision (or the working tree).

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
    unreadable: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SubprocessorEvent:
    """A change to the subprocessor list seen only in git: an entry deleted from the YAML, or edited."""

    date: dt.date
    kind: str  # "removed" (the entry was deleted from the YAML) or "changed"
    subprocessor: model.Subprocessor  # the entry as it was before a removal, after a change
    details: str = ""


# ---------------------------------------------------------------- git


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise GitError("git is not installed; install it to compare revisions") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {_TIMEOUT} s; try again") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def in_repository(project_dir: Path) -> bool:
    """Whether project_dir is inside a git work tree; a look at the disk first, so a plain folder costs no git."""
    start = project_dir.resolve()
    if not any((folder / ".git").exists() for folder in (start, *start.parents)):
        return False
    try:
        return _git(start, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def _prefix(project_dir: Path) -> str:
    """The project's folder inside the repository ('' at its root, else 'sub/dir/')."""
    return _git(project_dir, "rev-parse", "--show-prefix").decode().strip()


def resolve(project_dir: Path, revision: str) -> str:
    """The full commit id of `revision`, or UnknownRevision."""
    if revision.startswith("-"):
        raise UnknownRevision(f"'{revision}' is not a revision; name a commit, branch or tag")
    try:
        return _git(project_dir, "rev-parse", "--verify", "--quiet", "--end-of-options",
                    f"{revision}^{{commit}}").decode().strip()
    except GitError:
        raise UnknownRevision(f"unknown revision '{revision}'; check it with `git log --oneline`") from None


def require_repository(project_dir: Path) -> None:
    if not project_dir.is_dir() or not in_repository(project_dir):
        raise NotARepository(f"{project_dir.resolve()} is not inside a git repository; run the command in your "
                             "trust center's clone (or `git init` one)")


def is_shallow(project_dir: Path) -> bool:
    return _git(project_dir, "rev-parse", "--is-shallow-repository").strip() == b"true"


def has_commits(project_dir: Path) -> bool:
    try:
        resolve(project_dir, "HEAD")
    except UnknownRevision:
        return False
    return True


def parents(project_dir: Path, commit: str) -> list[str]:
    return _git(project_dir, "rev-list", "--parents", "-n", "1", commit).decode().split()[1:]


def default_since(project_dir: Path) -> str | None:
    """The merge base with origin/main when there is one (what a pull request changes), else HEAD~1.

    None means there is nothing earlier to compare with (the first commit, or a shallow clone's edge).
    """
    head = resolve(project_dir, "HEAD")
    for base_branch in ("origin/main", "origin/master"):
        try:
            upstream = resolve(project_dir, base_branch)
        except UnknownRevision:
            continue
        try:
            base = _git(project_dir, "merge-base", upstream, head).decode().strip()
        except GitError:
            continue
        if base != head:
            return base
        break
    found = parents(project_dir, head)
    return found[0] if found else None


def commit_date(project_dir: Path, commit: str) -> dt.date:
    return dt.date.fromisoformat(_git(project_dir, "show", "-s", "--format=%cs", commit).decode().strip())


def _blobs(project_dir: Path, specs: list[str]) -> list[bytes | None]:
    """The contents of `rev:path` specs in one `git cat-file --batch` (None where a path does not exist)."""
    if not specs:
        return []
    out = _git(project_dir, "cat-file", "--batch", stdin="".join(f"{spec}\n" for spec in specs).encode())
    results: list[bytes | None] = []
    position = 0
    for _ in specs:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3:
            results.append(None)  # "<spec> missing"
            continue
        size = int(header[2])
        results.append(out[position:position + size] if header[1] == b"blob" else None)
        position += size + 1  # the content is followed by a newline
    return results


# ---------------------------------------------------------------- snapshots


def _parse(raw: bytes | None, display: str, model_class: type[model.Strict]) -> Any:
    if raw is None:
        return None
    data, source, problems = yamlfile.parse_yaml(raw, display)
    if problems:
        return None
    value, problems = load.validate_file(data, source, model_class)
    return None if problems else value


def snapshot(project_dir: Path, revision: str | None, label: str, today: dt.date) -> Snapshot:
    """trust/ at a commit (revision, already resolved) or, with None, in the working tree."""
    names = [name for name in model.FILES if name not in ("company.yaml", "faq.yaml")]
    if revision is None:
        trust = project_dir / "trust"
        soc3_names = sorted(p.name for p in (trust / model.SOC3_DIR).glob("*.yaml"))
        paths = [*names, *(f"{model.SOC3_DIR}/{n}" for n in soc3_names)]
        contents = [(trust / p).read_bytes() if (trust / p).is_file() else None for p in paths]
        date = today
    else:
        prefix = _prefix(project_dir)
        listing = _git(project_dir, "ls-tree", "--name-only", "--full-tree", revision, "--",
                       f"{prefix}trust/{model.SOC3_DIR}/").decode().splitlines()
        soc3_names = sorted(Path(line).name for line in listing if line.endswith(".yaml"))
        paths = [*names, *(f"{model.SOC3_DIR}/{n}" for n in soc3_names)]
        contents = _blobs(project_dir, [f"{revision}:{prefix}trust/{p}" for p in paths])
        date = commit_date(project_dir, revision)
    parsed: dict[str, Any] = {}
    unreadable: list[str] = []
    soc3: dict[str, model.Soc3Report] = {}
    for path, raw in zip(paths, contents, strict=True):
        if path.startswith(f"{model.SOC3_DIR}/"):
            report = _parse(raw, f"trust/{path}", model.Soc3Report)
            if report is None:
                unreadable.append(f"trust/{path}")
            else:
                soc3[report.id] = report
            continue
        model_class, required = model.FILES[path]
        value = _parse(raw, f"trust/{path}", model_class)
        if value is None and (raw is not None or required):
            unreadable.append(f"trust/{path}")
        parsed[path] = value
    certs = parsed.get("certifications.yaml")
    subs = parsed.get("subprocessors.yaml")
    controls = parsed.get("controls.yaml")
    documents = parsed.get("documents.yaml")
    updates = parsed.get("updates.yaml")
    return Snapshot(
        label=label, date=date,
        certifications={c.id: c for c in certs.certifications} if certs else {},
        soc3=soc3,
        subprocessors={s.name: s for s in subs.subprocessors} if subs else {},
        controls={c.id: c for cat in controls.categories for c in cat.controls} if controls else {},
        documents={d.id: d for d in documents.documents} if documents else {},
        updates={u.slug: u for u in updates.updates} if updates else {},
        unreadable=tuple(unreadable),
    )


def empty_snapshot(label: str, date: dt.date) -> Snapshot:
    return Snapshot(label=label, date=date)


# ---------------------------------------------------------------- subprocessor history for the site


def describe_subprocessor_change(before: model.Subprocessor, after: model.Subprocessor) -> list[str]:
    """What changed about one subprocessor, in words (empty when nothing customers care about changed)."""
    from generator import countries

    def names(codes: Iterable[str]) -> str:
        return ", ".join(countries.NAMES.get(c, c) for c in codes) or "none"

    found: list[str] = []
    if before.purpose != after.purpose:
        found.append(f"purpose changed from “{before.purpose}” to “{after.purpose}”")
    if before.locations != after.locations:
        found.append(f"locations changed from {names(before.locations)} to {names(after.locations)}")
    if before.data_categories != after.data_categories:
        added = [c for c in after.data_categories if c not in before.data_categories]
        dropped = [c for c in before.data_categories if c not in after.data_categories]
        parts = ([f"now also {', '.join(added)}"] if added else []) + \
                ([f"no longer {', '.join(dropped)}"] if dropped else [])
        found.append("data categories: " + ("; ".join(parts) or "reordered"))
    if before.transfer_mechanism != after.transfer_mechanism:
        found.append(f"transfer mechanism now {after.transfer_mechanism or 'none'}")
    if before.dpa != after.dpa:
        found.append("DPA signed" if after.dpa else "no DPA any more")
    if before.certifications != after.certifications:
        found.append(f"their certifications now {', '.join(after.certifications) or 'none listed'}")
    if before.website != after.website:
        found.append(f"website now {after.website}")
    return found


def subprocessor_events(project_dir: Path, today: dt.date, *, max_commits: int = MAX_COMMITS) -> list[SubprocessorEvent]:
    """Removals and changes of subprocessors that only git knows, oldest first; [] outside a git repository.

    Walks the last `max_commits` commits that touched trust/subprocessors.yaml (first parent only, so a
    merged pull request counts once, on the day it was merged) and reads each version in one git process.
    """
    start = project_dir.resolve()
    if not any((folder / ".git").exists() for folder in (start, *start.parents)):
        return []  # not a git repository: no git process at all
    try:
        # One git call answers both "inside a work tree?" and "where in it?".
        inside, _, prefix = _git(start, "rev-parse", "--is-inside-work-tree", "--show-prefix").decode().partition("\n")
        if inside.strip() != "true":
            return []
        path = f"{prefix.strip()}{SUBPROCESSORS_FILE}"
        log = _git(project_dir, "log", "--first-parent", f"-n{max_commits}", "--format=%H %cs", "HEAD", "--",
                   f":(top){path}").decode().split("\n")
        commits = [line.split() for line in log if line.strip()]
        commits.reverse()  # oldest first
        if len(commits) < 2:
            return []  # one version has nothing to compare with
        contents = _blobs(project_dir, [f"{commit}:{path}" for commit, _ in commits])
    except GitError:
        return []  # no commit yet, or git unusable: the site shows what the YAML says, as without git
    versions: dict[bytes, dict[str, model.Subprocessor] | None] = {}
    events: list[SubprocessorEvent] = []
    previous: dict[str, model.Subprocessor] | None = None
    for (_, day), raw in zip(commits, contents, strict=True):
        date = dt.date.fromisoformat(day)
        if raw is None:
            current: dict[str, model.Subprocessor] | None = {}
        else:
            if raw not in versions:
                parsed = _parse(raw, SUBPROCESSORS_FILE, model.SubprocessorsFile)
                versions[raw] = {s.name: s for s in parsed.subprocessors} if parsed else None
            current = versions[raw]
        if current is None:
            continue  # this version did not validate: compare the next good one with the last good one
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
