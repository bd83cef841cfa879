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
    rule: str | None = None  # the catalogue rule that found it (None: the file's form itself)

    def __str__(self) -> str:
        suffix = f" [{self.rule}]" if self.rule else ""
        return f"{self.path}:{self.line}:{self.column}: {self.severity.value}: {self.message}{suffix}"


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity is Severity.ERROR]
