"""Run git for the content: resolve revisions, list and read files at a commit in one process.

The only module that starts git. Every call has a timeout and turns git's failure into a
`GitError` with a sentence for the user.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from generator.errors import GitError, NotARepository, UnknownRevision

TIMEOUT_SECONDS = 30


def run(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, timeout=TIMEOUT_SECONDS,
                              check=False)
    except FileNotFoundError:
        raise GitError("git is not installed; install it to compare revisions") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {TIMEOUT_SECONDS} s; try again") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def might_be_repository(folder: Path) -> bool:
    """A look at the disk only: is there a .git up the tree? (so a plain folder costs no git process)"""
    start = folder.resolve()
    return any((parent / ".git").exists() for parent in (start, *start.parents))


def in_repository(folder: Path) -> bool:
    """Whether folder is inside a git work tree."""
    if not might_be_repository(folder):
        return False
    try:
        return run(folder.resolve(), "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except GitError:
        return False


def require_repository(folder: Path) -> None:
    if not folder.is_dir() or not in_repository(folder):
        raise NotARepository(f"{folder.resolve()} is not inside a git repository; run the command in your "
                             "trust center's clone (or `git init` one)")


def prefix(folder: Path) -> str:
    """The folder's place inside the repository ('' at its root, else 'sub/dir/')."""
    return run(folder, "rev-parse", "--show-prefix").decode().strip()


def resolve(folder: Path, revision: str) -> str:
    """The full commit id of `revision`, or UnknownRevision."""
    if revision.startswith("-"):
        raise UnknownRevision(f"'{revision}' is not a revision; name a commit, branch or tag")
    try:
        return run(folder, "rev-parse", "--verify", "--quiet", "--end-of-options",
                   f"{revision}^{{commit}}").decode().strip()
    except GitError:
        raise UnknownRevision(f"unknown revision '{revision}'; check it with `git log --oneline`") from None


def has_commits(folder: Path) -> bool:
    try:
        resolve(folder, "HEAD")
    except UnknownRevision:
        return False
    return True


def is_shallow(folder: Path) -> bool:
    return run(folder, "rev-parse", "--is-shallow-repository").strip() == b"true"


def parents(folder: Path, commit: str) -> list[str]:
    return run(folder, "rev-list", "--parents", "-n", "1", commit).decode().split()[1:]


def commit_date(folder: Path, commit: str) -> dt.date:
    return dt.date.fromisoformat(run(folder, "show", "-s", "--format=%cs", commit).decode().strip())


def default_since(folder: Path) -> str | None:
    """The merge base with origin/main when there is one (what a pull request changes), else HEAD~1.

    None means there is nothing earlier to compare with (the first commit, or a shallow clone's edge).
    """
    head = resolve(folder, "HEAD")
    # origin/HEAD names the remote's default branch, whatever it is called (main, master, trunk...).
    for base_branch in ("origin/HEAD", "origin/main", "origin/master"):
        try:
            upstream = resolve(folder, base_branch)
        except UnknownRevision:
            continue
        try:
            base = run(folder, "merge-base", upstream, head).decode().strip()
        except GitError:
            continue
        if base != head:
            return base
        break
    found = parents(folder, head)
    return found[0] if found else None


def list_files(folder: Path, commit: str, path: str) -> list[str]:
    """Every file under `path` (repository-relative, ending in '/') at `commit`, repository-relative."""
    listing = run(folder, "ls-tree", "-r", "--name-only", "--full-tree", "-z", commit, "--", path)
    return [name for name in listing.decode("utf-8", "surrogateescape").split("\0") if name]


def blobs(folder: Path, specs: list[str]) -> list[bytes | None]:
    """The contents of `rev:path` specs in one `git cat-file --batch` (None where a path does not exist)."""
    if not specs:
        return []
    out = run(folder, "cat-file", "--batch", stdin="".join(f"{spec}\n" for spec in specs).encode())
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
