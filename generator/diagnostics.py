"""Problems found in the content, each with its place: what `trustcenter check` prints."""

from __future__ import annotations

import dataclasses
import enum


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclasses.dataclass(frozen=True, order=True)
class Diagnostic:
    path: str  # relative to the project root, e.g. trust/company.yaml
    line: int  # 1-based
    column: int  # 1-based
    severity: Severity
    message: str  # "what is wrong; how to fix it"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity.value}: {self.message}"


class ContentError(Exception):
    """The content under trust/ has errors; carries every diagnostic found (errors and warnings)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        super().__init__(f"{len(errors)} error(s) in trust/; run `trustcenter check` to see them")


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]
