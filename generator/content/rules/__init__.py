"""The rules catalogue: every check beyond a file's own form, each a small function with a stable id.

A rule yields findings (a place in one file, a sentence, the subject it is about); its severity
is the catalogue's. A repository can accept a warning with a reason in `trust/config.yaml`
(`checks.suppress`); errors cannot be suppressed, since each stops something wrong from being
published. `trustcenter check` prints the rule id after each finding; `docs/reference.md` lists
the catalogue (`generator.reference`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Callable, Iterator

from generator.content import model
from generator.content.diagnostics import Diagnostic, Severity
from generator.content.load import Loaded
from generator.content.project import Project
from generator.content.reader import Key, ParsedFile
from generator.content.source import WorkTree

ERROR, WARNING = Severity.ERROR, Severity.WARNING


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem a rule found: where (file in the content folder + key path), what, and about whom."""

    file: str  # e.g. "certifications.yaml", "soc3/2026.yaml"
    key: Key
    message: str  # "what is wrong; how to fix it"
    subject: str | None = None  # the id or name it is about, for targeted suppressions
    at_key: bool = False  # point at the key rather than its value
    display: str | None = None  # a file outside the content's YAML (a page, a symlink, nda.md): its path
    line: int = 1  # with `display`: the line in that file


@dataclasses.dataclass(frozen=True)
class Context:
    """What rules read: the model, each file's parse (for places), the project's folders, the options."""

    loaded: Loaded
    project: Project
    gated_files: bool  # False on a CI runner that builds the public site without the gated files
    base: Loaded | None = None  # the content at the base revision (what a pull request starts from), if known

    @property
    def tc(self) -> model.TrustCenter:
        # Rules that read the model run only once it loaded (Rule.needs_model).
        assert self.loaded.model is not None
        return self.loaded.model

    @property
    def today(self) -> dt.date:
        return self.loaded.source.date

    @property
    def on_disk(self) -> bool:
        """Whether the content is the work tree (rules about files on disk apply), not a git revision."""
        return isinstance(self.loaded.source, WorkTree)

    @property
    def base_documents(self) -> dict[str, model.Document]:
        documents = self.base.values.get("documents.yaml") if self.base is not None else None
        return {d.id: d for d in documents.documents} if documents is not None else {}

    @property
    def base_label(self) -> str:
        return self.base.source.label if self.base is not None else "the base revision"


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str  # one line, for the reference
    check: Callable[[Context], Iterator[Finding]]
    needs_model: bool = True  # False: runs on every file that parsed, even when the model did not load


CATALOGUE: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, summary: str, *,
         needs_model: bool = True) -> Callable[[Callable[[Context], Iterator[Finding]]],
                                               Callable[[Context], Iterator[Finding]]]:
    """Register a rule function in the catalogue under a stable id."""
    def register(function: Callable[[Context], Iterator[Finding]]) -> Callable[[Context], Iterator[Finding]]:
        assert rule_id not in CATALOGUE, f"rule id {rule_id} registered twice"
        CATALOGUE[rule_id] = Rule(rule_id, severity, summary, function, needs_model)
        return function
    return register


def unknown(file: str, key: Key, what: str, value: str, known: set[str], subject: str | None = None) -> Finding:
    """A reference to something not defined, with the closest known name."""
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"define it in the {what}s file"
    return Finding(file, key, f"the {what} '{value}' is not defined; {hint}", subject)


def run(loaded: Loaded, project: Project, *, gated_files: bool = True,
        base: Loaded | None = None) -> tuple[list[Diagnostic], int]:
    """Every rule's findings as diagnostics, after this repository's suppressions; and how many were suppressed."""
    _import_rules()
    found: list[tuple[Rule, Finding]] = []
    context = Context(loaded, project, gated_files, base)
    for entry in CATALOGUE.values():
        # Rules that do not need the model run on the files that parsed, valid or not, so one run reports all.
        if loaded.model is not None or not entry.needs_model:
            found += [(entry, finding) for finding in entry.check(context)]
    settings = loaded.values.get("config.yaml") or model.ConfigFile()
    config_file = loaded.file("config.yaml")
    diagnostics, suppressed = _apply_suppressions(found, settings, config_file, loaded, loaded.source.date)
    return diagnostics, suppressed


def _apply_suppressions(found: list[tuple[Rule, Finding]], settings: model.ConfigFile, config_file: ParsedFile,
                        loaded: Loaded, today: dt.date) -> tuple[list[Diagnostic], int]:
    diagnostics: list[Diagnostic] = []
    suppressions = settings.checks.suppress
    for index, suppression in enumerate(suppressions):
        at = ("checks", "suppress", index)
        entry = CATALOGUE.get(suppression.rule)
        if entry is None:
            close = difflib.get_close_matches(suppression.rule, list(CATALOGUE), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "`trustcenter reference --output -` lists the checks"
            diagnostics.append(config_file.diagnostic((*at, "rule"), f"there is no check '{suppression.rule}'; "
                                                                     f"{hint}"))
        elif entry.severity is ERROR:
            diagnostics.append(config_file.diagnostic(
                (*at, "rule"), f"'{suppression.rule}' is an error, which cannot be suppressed: it stops something "
                               "wrong from being published; fix the content instead"))
        elif suppression.until is not None and suppression.until < today:
            diagnostics.append(config_file.diagnostic(
                (*at, "until"), f"this suppression of '{suppression.rule}' lapsed on {suppression.until}; fix the "
                                "finding, or extend 'until' with a reason", WARNING))
    active = [s for s in suppressions if (s.until is None or s.until >= today)
              and s.rule in CATALOGUE and CATALOGUE[s.rule].severity is WARNING]
    suppressed = 0
    for entry, finding in found:
        if entry.severity is WARNING and any(s.rule == entry.id and s.subject in (None, finding.subject)
                                             for s in active):
            suppressed += 1
            continue
        if finding.display is not None:
            diagnostics.append(Diagnostic(finding.display, finding.line, 1, entry.severity, finding.message, entry.id))
            continue
        parsed = loaded.file(finding.file)
        diagnostic = parsed.diagnostic(finding.key, finding.message, entry.severity, prefer_key=finding.at_key)
        diagnostics.append(dataclasses.replace(diagnostic, rule=entry.id))
    return diagnostics, suppressed


def _import_rules() -> None:
    # The rule modules register themselves on import; imported here so the catalogue is whole when used.
    from generator.content.rules import (  # noqa: F401
        access,
        certifications,
        company,
        controls,
        documents,
        files,
        identifiers,
        links,
        placeholders,
        soc3,
    )


def catalogue() -> list[Rule]:
    """Every rule, in id order (for the reference)."""
    _import_rules()
    return sorted(CATALOGUE.values(), key=lambda r: r.id)
