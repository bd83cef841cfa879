"""Where content is read from: the work tree, or the repository at a git revision.

One loader (`generator.content.load`) reads through either, so `check`, `build` and `changes`
see a file the same way whether it is on disk now or in a commit (compare MkDocs'
`File.content_bytes`, backed by disk or memory).
"""

from __future__ import annotations

import abc
import datetime as dt
from pathlib import PurePosixPath

from generator.content import git
from generator.content.project import Project

# Larger files are cut here; the reader then reports them as too large without holding them whole.
READ_LIMIT_BYTES = 8 * 1024 * 1024 + 1


class ContentSource(abc.ABC):
    """The files of one project's content folder, by their path inside it ('company.yaml', 'soc3/2026.yaml')."""

    def __init__(self, project: Project, label: str, date: dt.date) -> None:
        self.project = project
        self.label = label  # for messages: "the working tree", or a short commit id
        self.date = date  # the day this content is judged at: today, or the commit's date

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the content folder exists here at all."""

    @abc.abstractmethod
    def read(self, name: str) -> bytes | None:
        """The file's bytes (at most READ_LIMIT_BYTES), or None when it does not exist."""

    @abc.abstractmethod
    def config(self) -> bytes | None:
        """The project's mkdocs.yml as this source has it (None if there is none)."""

    @abc.abstractmethod
    def names(self, folder: str) -> list[str]:
        """The files directly inside `folder` of the content folder, sorted, as paths like 'soc3/2026.yaml'."""

    def display(self, name: str) -> str:
        """How messages name a file, e.g. trust/company.yaml."""
        return self.project.content_path(name)


class WorkTree(ContentSource):
    """The content folder on disk, as it is now."""

    def __init__(self, project: Project, today: dt.date | None = None) -> None:
        super().__init__(project, "the working tree", today or dt.date.today())

    def exists(self) -> bool:
        return self.project.trust_dir.is_dir()

    def read(self, name: str) -> bytes | None:
        path = self.project.trust_dir / name
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return handle.read(READ_LIMIT_BYTES)

    def config(self) -> bytes | None:
        file = self.project.config_file
        return file.read_bytes()[:READ_LIMIT_BYTES] if file is not None and file.is_file() else None

    def names(self, folder: str) -> list[str]:
        directory = self.project.trust_dir / folder
        if not directory.is_dir():
            return []
        return sorted(f"{folder}/{entry.name}" for entry in directory.iterdir() if entry.is_file())


class GitRevision(ContentSource):
    """The content folder as committed at one revision; every file read in one git process, on first use."""

    def __init__(self, project: Project, commit: str, label: str | None = None, config: bytes | None = None) -> None:
        super().__init__(project, label or commit[:12], git.commit_date(project.root, commit))
        self.commit = commit
        self._config = config
        relative = project.trust_dir.relative_to(project.root).as_posix()
        self._prefix = f"{git.prefix(project.root)}{relative}/"
        self._files = [path[len(self._prefix):] for path in git.list_files(project.root, commit, self._prefix)]
        self._contents: dict[str, bytes | None] | None = None

    def _load(self) -> dict[str, bytes | None]:
        if self._contents is None:
            # Only the text files the loader reads; documents (PDFs) are never needed from history.
            wanted = [name for name in self._files if PurePosixPath(name).suffix in (".yaml", ".md", ".pem")]
            found = git.blobs(self.project.root, [f"{self.commit}:{self._prefix}{name}" for name in wanted])
            self._contents = dict(zip(wanted, found, strict=True))
        return self._contents

    def exists(self) -> bool:
        return bool(self._files)

    def read(self, name: str) -> bytes | None:
        raw = self._load().get(name)
        return raw[:READ_LIMIT_BYTES] if raw is not None else None

    def config(self) -> bytes | None:
        return self._config

    def names(self, folder: str) -> list[str]:
        start = f"{folder}/"
        return sorted(name for name in self._files if name.startswith(start) and "/" not in name[len(start):])


def at_revision(project: Project, commit: str, label: str | None = None) -> GitRevision:
    """The content at `commit`, found with that commit's own mkdocs.yml (the content folder may have moved)."""
    [config] = git.blobs(project.root, [f"{commit}:{git.prefix(project.root)}mkdocs.yml"])
    return GitRevision(project.with_config(config), commit, label, config)
