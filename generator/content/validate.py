"""Check a project's content: load it, run the rules catalogue, apply --strict. What `check` and `build` call."""

from __future__ import annotations

import dataclasses
import datetime as dt

from generator.content import git, model, rules
from generator.content.diagnostics import Diagnostic, Severity
from generator.content.load import load
from generator.content.project import Project
from generator.content.source import ContentSource, WorkTree, at_revision
from generator.errors import ContentError


@dataclasses.dataclass(frozen=True)
class Result:
    model: model.TrustCenter | None  # None when there are errors
    diagnostics: list[Diagnostic]  # sorted by place
    suppressed: int  # warnings this repository accepted in config.yaml

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def validate(project: Project, *, today: dt.date | None = None, strict: bool = False, gated_files: bool = True,
             source: ContentSource | None = None, base: ContentSource | None = None) -> Result:
    """Load the content (the work tree unless `source` says otherwise) and apply every rule. With strict,
    warnings count as errors. Without gated_files (a CI runner building the public site, where gated files
    are kept out of git), the gated files themselves are not looked for. `base` is the content a change
    starts from (a pull request's base): what was gated there cannot silently become public."""
    loaded = load(source or WorkTree(project, today))
    found, suppressed = rules.run(loaded, project, gated_files=gated_files,
                                  base=load(base) if base is not None else None)
    diagnostics = loaded.diagnostics + found
    if strict:
        diagnostics = [dataclasses.replace(d, severity=Severity.ERROR) for d in diagnostics]
    diagnostics = sorted(set(diagnostics))
    ok = not any(d.severity is Severity.ERROR for d in diagnostics)
    return Result(loaded.model if ok else None, diagnostics, suppressed)


@dataclasses.dataclass(frozen=True)
class Base:
    """What a change is compared with: the content at a revision, or nothing, and why, for a note."""

    source: ContentSource | None
    note: str | None = None


def base_revision(project: Project, revision: str | None) -> Base:
    """The content at `revision`; without one, at the merge base with the remote's default branch (else HEAD~1)
    when the project is in a git repository with history. The base is read with its own mkdocs.yml, so a content
    folder renamed in the change is still found."""
    if revision is None:
        if not git.in_repository(project.root):
            return Base(None)
        if not git.has_commits(project.root):
            return Base(None, "the repository has no commit yet, so there is no base revision to compare with")
        commit = git.default_since(project.root)
        if commit is None:
            return Base(None, "there is no earlier revision here to compare with (a first commit, or a shallow "
                              "clone's edge); a document gated before this change is not recognised: pass --base")
    else:
        commit = git.resolve(project.root, revision)
    source = at_revision(project, commit)
    if not source.exists():
        return Base(None, f"{project.display(source.project.trust_dir)}/ did not exist at {commit[:12]}; nothing "
                          "there to compare with")
    return Base(source)


def load_valid(project: Project, *, today: dt.date | None = None, strict: bool = False,
               gated_files: bool = True) -> model.TrustCenter:
    """The model, or ContentError carrying every diagnostic."""
    result = validate(project, today=today, strict=strict, gated_files=gated_files)
    if result.model is None:
        raise ContentError(result.diagnostics, project.display(project.trust_dir))
    return result.model
