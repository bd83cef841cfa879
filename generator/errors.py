"""Every error the package raises on purpose: one root, a branch for problems a user can fix.

Like itsdangerous' `exc.py` and click's `exceptions.py`, the whole hierarchy is in one place:

    TrustCenterError
    ├── UserError                   one sentence for a person, an exit code; the CLI prints it
    │   ├── ContentError            trust/ has errors (carries every diagnostic)
    │   ├── ProjectError            no project here, or mkdocs.yml / the site folder is unusable
    │   ├── BuildError              MkDocs failed, or the built site failed a check
    │   ├── GitError                git could not answer
    │   │   ├── NotARepository
    │   │   └── UnknownRevision
    │   ├── KeyFileError            a signing or public key is missing, malformed or unsafe
    │   ├── CannotCreateLink        `link create` must refuse
    │   ├── GateConfigError         the gate cannot start safely as configured
    │   ├── StoreError              the gate's database is missing, replaced or tampered with
    │   ├── VerifyError             `verify` cannot check its target at all (a failed check is a verdict)
    │   └── InitError               `init` cannot write the new repository there
    └── generator.gate.refusals.Refusal   a request the gate refuses (HTTP status + page)

The CLI catches `UserError` in one place (`generator.cli`); anything else is a bug and keeps
its traceback under `--debug`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.content.diagnostics import Diagnostic


class TrustCenterError(Exception):
    """Root of every error this package raises on purpose."""


class UserError(TrustCenterError):
    """A problem the user can fix: `message` says what is wrong and what to do; `exit_code` is non-zero."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class ContentError(UserError):
    """The content under trust/ has errors; carries every diagnostic found (errors and warnings)."""

    def __init__(self, diagnostics: list[Diagnostic], folder: str = "trust") -> None:
        from generator.content.diagnostics import Severity

        self.diagnostics = sorted(diagnostics)
        errors = sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)
        super().__init__(f"{folder}/ has {errors} error(s) (listed above); fix them and run the command again")


class ProjectError(UserError):
    """No trust center project where the command looked, or its mkdocs.yml cannot be used."""


class BuildError(UserError):
    """MkDocs could not build the site, or the result failed a check; the previous site is untouched."""


class GitError(UserError):
    """git could not answer: not a repository, an unknown revision, or git itself is missing."""


class NotARepository(GitError):
    pass


class UnknownRevision(GitError):
    pass


class KeyFileError(UserError):
    """A key is missing, malformed, in an unsafe place or readable by others."""


class CannotCreateLink(UserError):
    """`link create` was asked for something it must refuse."""


class GateConfigError(UserError):
    """The gate cannot start safely as configured (session secret, keys, site folder)."""


class StoreError(UserError):
    """The gate's database is missing, was replaced, or its audit chain does not verify."""


class VerifyError(UserError):
    """`trustcenter verify` cannot check the target at all: not a folder or an http(s) address, the host does not
    answer, or a pinned key is unusable. (A file that fails a check is part of the verdict, not an error.)"""


class AccessError(UserError):
    """A request or grant action that cannot be done as asked (not pending, not a gated document, mail off)."""


class DeliveryError(TrustCenterError):
    """One delivery failed. `permanent`: retrying cannot help (the row fails at once). `configuration`: the
    gate's settings are wrong (logged at ERROR; still retried, so the messages go out once they are fixed)."""

    def __init__(self, message: str, permanent: bool, *, configuration: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.configuration = configuration


class InitError(UserError):
    """The target cannot hold a new trust center (it exists and is not empty, or is a file)."""
