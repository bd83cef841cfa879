"""How the installed generator can be installed again: the requirement `init` writes into requirements.txt.

pip records how it installed a distribution in `direct_url.json` (PEP 610; absent when the package
came from an index). Each shape of that record becomes one requirement line that CI can install
from the new repository, or a version pin and a warning where nothing CI can reach would do.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.content import git
from generator.errors import GitError

DISTRIBUTION = "trustcenter"
# Where `init` copies a wheel or sdist that was installed from a file: CI cannot reach the file's path.
VENDOR_DIR = "vendor"
# What pip accepts in a URL's #<name>=<hex> fragment, strongest first.
_HASH_NAMES = ("sha512", "sha384", "sha256")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# git's scp-like form, user@host:path; a colon before any slash (a path like ./a:b has a slash first).
_SCP_LIKE = re.compile(r"^(?P<host>(?:[^@/:]+@)?[^@/:]+):(?P<path>.+)$")


@dataclass(frozen=True)
class Pin:
    """The requirement line for the generator, why it has that form, and what the user must know."""

    requirement: str
    reason: tuple[str, ...] = ()  # comment lines above the requirement, without the leading "# "
    vendored: Path | None = None  # a wheel or sdist to copy into vendor/ of the new repository
    warnings: tuple[str, ...] = ()

    def as_text(self) -> str:
        """The lines of requirements.txt that name the generator."""
        return "".join(f"# {line}\n" for line in self.reason) + self.requirement


def installed() -> Pin:
    """The pin for the generator running now, from the installer's record."""
    try:
        distribution = installed_distribution()
    except importlib.metadata.PackageNotFoundError:
        import generator

        return _unreachable(generator.__version__, "the generator is not installed as a package (is it run from "
                                                   "a source folder?)")
    return pin(read_direct_url(distribution), distribution.version)


def installed_distribution() -> importlib.metadata.Distribution:
    """The installed `trustcenter` distribution (PackageNotFoundError if there is none)."""
    found = list(importlib.metadata.distributions(name=DISTRIBUTION))
    if not found:
        raise importlib.metadata.PackageNotFoundError(DISTRIBUTION)
    # Python run from a source checkout finds the checkout's trustcenter.egg-info first, which setuptools
    # left there and which has no installer record; the copy an installer wrote says how it was installed.
    by_installer = [distribution for distribution in found if distribution.read_text("INSTALLER") is not None]
    return (by_installer or found)[0]


def read_direct_url(distribution: importlib.metadata.Distribution) -> Mapping[str, Any] | None:
    """The parsed direct_url.json, {} if it is unreadable, None if there is none (installed from an index)."""
    text = distribution.read_text("direct_url.json")
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def pin(direct_url: Mapping[str, Any] | None, version: str) -> Pin:
    """The requirement that installs again what `direct_url` (a parsed direct_url.json, or None) describes."""
    if direct_url is None:
        return Pin(f"{DISTRIBUTION}=={version}")
    url = direct_url.get("url")
    if not isinstance(url, str) or not url:
        return _unreachable(version, "pip's record of how the generator was installed has no URL")
    subdirectory = direct_url.get("subdirectory")
    subdirectory = subdirectory if isinstance(subdirectory, str) and subdirectory else None
    vcs_info, archive_info, dir_info = (direct_url.get(key) for key in ("vcs_info", "archive_info", "dir_info"))
    if isinstance(vcs_info, dict):
        return _from_vcs(url, vcs_info, subdirectory, version)
    if isinstance(archive_info, dict) and _is_file_url(url):
        return _from_local_archive(_path_of(url), archive_info, version)
    if isinstance(archive_info, dict):
        return _from_archive(url, archive_info, subdirectory)
    if isinstance(dir_info, dict) and _is_file_url(url):
        try:
            return _from_directory(_path_of(url), version)
        except GitError as exc:
            return _unreachable(version, f"git could not read {_path_of(url)}: {exc.message}")
    return _unreachable(version, f"pip's record of how the generator was installed ({url}) is not one this "
                                 "version understands")


def _from_vcs(url: str, vcs_info: Mapping[str, Any], subdirectory: str | None, version: str) -> Pin:
    vcs, commit = vcs_info.get("vcs"), vcs_info.get("commit_id")
    if not isinstance(vcs, str) or not isinstance(commit, str) or not commit:
        return _unreachable(version, f"pip recorded no commit for the generator it installed from {url}")
    requested = vcs_info.get("requested_revision")
    reason = f"Installed from {vcs} at the commit `init` ran from"
    reason += f" (asked for {requested})." if isinstance(requested, str) and requested else "."
    warnings: tuple[str, ...] = ()
    if _is_file_url(url):
        warnings = (f"requirements.txt pins the {vcs} repository {url} on this computer, which CI elsewhere "
                    "cannot clone; replace it with the repository's address",)
    return Pin(f"{DISTRIBUTION} @ {vcs}+{_with_host(url)}@{commit}{_fragment(subdirectory=subdirectory)}", (reason,),
               warnings=warnings)


def _from_archive(url: str, archive_info: Mapping[str, Any], subdirectory: str | None) -> Pin:
    name, digest = _recorded_hash(archive_info)
    # The hash goes in the URL's fragment, where pip checks it: a --hash option would switch the whole
    # install to --require-hashes, which refuses every dependency that has no hash of its own.
    hashed = {name: digest} if name and digest else {}
    reason = "The archive `init` was installed from" + ("; pip checks its hash." if hashed else ".")
    return Pin(f"{DISTRIBUTION} @ {url}{_fragment(**hashed, subdirectory=subdirectory)}", (reason,))


def _from_local_archive(path: Path, archive_info: Mapping[str, Any], version: str) -> Pin:
    if not path.is_file():
        return _unreachable(version, f"the generator was installed from {path}, which no longer exists")
    name, digest = _recorded_hash(archive_info)
    if name and digest and hashlib.new(name, path.read_bytes()).hexdigest() != digest:
        return _unreachable(version, f"{path} changed since the generator was installed from it")
    reason = (f"A copy of {path.name}, which `init` was installed from: CI cannot reach that file on the computer",
              "that ran `init`. pip reads this path from the folder it runs in: the repository's root.")
    return Pin(f"./{VENDOR_DIR}/{path.name}", reason, vendored=path)


def _from_directory(folder: Path, version: str) -> Pin:
    if not folder.is_dir() or not git.in_repository(folder) or not git.has_commits(folder):
        return _unreachable(version, f"the generator was installed from the folder {folder}, which is not a git "
                                     "checkout with a commit")
    remote = _remote_url(folder)
    if remote is None:
        return _unreachable(version, f"the generator was installed from {folder}, a git checkout with no `origin` "
                                     "remote that CI could clone")
    commit = git.resolve(folder, "HEAD")
    subdirectory = git.prefix(folder).rstrip("/") or None
    warnings: list[str] = []
    if git.run(folder, "status", "--porcelain"):
        warnings.append(f"{folder} has uncommitted changes, which the pinned commit {commit[:12]} lacks; "
                        "commit and push them, and put that commit in requirements.txt")
    if not git.run(folder, "for-each-ref", "--count=1", "--contains", commit, "refs/remotes/origin/"):
        warnings.append(f"commit {commit[:12]} is on no branch of origin ({remote}) that {folder} knows of; push "
                        "it, or CI cannot fetch it")
    if remote.startswith("ssh://"):
        warnings.append(f"CI needs an SSH key to clone {remote}; for a public repository, use its https address "
                        "in requirements.txt")
    reason = f"Installed from a git checkout of {remote}, pinned to its commit when `init` ran."
    return Pin(f"{DISTRIBUTION} @ git+{remote}@{commit}{_fragment(subdirectory=subdirectory)}", (reason,),
               warnings=tuple(warnings))


def _unreachable(version: str, why: str) -> Pin:
    """A version pin no index may have, for when nothing CI can reach says how the generator was installed."""
    return Pin(
        f"{DISTRIBUTION}=={version}",
        (f"{why[0].upper()}{why[1:]}.",
         "No package index may have this version yet: replace this line with the generator's git URL at a",
         f"commit (trustcenter @ git+https://...@<commit>) or a wheel in {VENDOR_DIR}/ (./{VENDOR_DIR}/<file>)."),
        warnings=(f"{why}; edit requirements.txt so that CI can install the generator (its comment says how)",),
    )


def _remote_url(folder: Path) -> str | None:
    """origin's URL as pip takes it after git+, or None if there is none or it is a path on this computer."""
    try:
        url = git.run(folder, "remote", "get-url", "origin").decode().strip()
    except GitError:
        return None
    if _SCHEME.match(url):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file":
            return None
        if parts.scheme in ("http", "https") and "@" in parts.netloc:
            # A token in a clone URL must not end up committed in requirements.txt.
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        return urllib.parse.urlunsplit(parts)
    scp = _SCP_LIKE.match(url)
    if scp and not Path(url).exists():
        return f"ssh://{scp['host']}/{scp['path'].lstrip('/')}"
    return None


def _recorded_hash(archive_info: Mapping[str, Any]) -> tuple[str | None, str | None]:
    hashes = archive_info.get("hashes")
    if isinstance(hashes, dict):
        for name in _HASH_NAMES:
            if isinstance(hashes.get(name), str):
                return name, hashes[name]
    legacy = archive_info.get("hash")  # "<name>=<hex>", the form before "hashes"
    if isinstance(legacy, str) and "=" in legacy:
        name, digest = legacy.split("=", 1)
        if name in _HASH_NAMES:
            return name, digest
    return None, None


def _fragment(**values: str | None) -> str:
    present = [f"{name}={value}" for name, value in values.items() if value]
    return "#" + "&".join(present) if present else ""


def _with_host(url: str) -> str:
    # pip before 24.1 (packaging 21) refuses a URL requirement without a host: file:///x is file://localhost/x.
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="localhost"))


def _is_file_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme == "file"


def _path_of(file_url: str) -> Path:
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(file_url).path))
