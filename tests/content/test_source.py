"""One loader over two sources: the work tree and a git revision give the same content."""

from __future__ import annotations

from pathlib import Path

from support import copy_demo, edit, git, git_repo

from generator.content import git as content_git
from generator.content.load import load
from generator.content.project import Project
from generator.content.source import GitRevision, WorkTree


def test_a_committed_tree_loads_the_same_from_disk_and_from_git(tmp_path: Path) -> None:
    project = Project.at(git_repo(copy_demo(tmp_path / "project"), date="2026-11-02"))
    head = content_git.resolve(project.root, "HEAD")
    from_disk = load(WorkTree(project))
    from_git = load(GitRevision(project, head))
    assert from_disk.model is not None and from_git.model is not None
    assert from_git.source.label == head[:12]
    assert from_git.model.model_dump(exclude={"today"}) == from_disk.model.model_dump(exclude={"today"})
    assert sorted(from_git.files) == sorted(from_disk.files)


def test_a_revision_is_read_as_committed_not_as_the_disk_is_now(tmp_path: Path) -> None:
    project = Project.at(git_repo(copy_demo(tmp_path / "project"), date="2026-11-02"))
    head = content_git.resolve(project.root, "HEAD")
    edit(project.trust_dir / "company.yaml", "name: Halyard Systems, Inc.", "name: Renamed Inc.")
    assert load(WorkTree(project)).values["company.yaml"].name == "Renamed Inc."
    assert load(GitRevision(project, head)).values["company.yaml"].name == "Halyard Systems, Inc."


def test_errors_from_a_revision_name_the_file_as_the_work_tree_does(tmp_path: Path) -> None:
    project = Project.at(git_repo(copy_demo(tmp_path / "project")))
    edit(project.trust_dir / "faq.yaml", "faq:", "faq: [unclosed\nmore:")
    git(project.root, "commit", "-qam", "Break the FAQ")
    loaded = load(GitRevision(project, content_git.resolve(project.root, "HEAD")))
    assert loaded.model is None
    assert {d.path for d in loaded.diagnostics} == {"trust/faq.yaml"}
