"""The gate's view of the repository (trusted keys, content, gated documents, NDA) as one immutable state,
reloaded when the files behind it change.

How a change is noticed: a fingerprint of the content folder (path, device, inode, size, mtime and ctime of
every file under it, keys/ and the gated files in private/ included, plus the gated files the content names
elsewhere) taken at most every `reload_seconds` (2 s by default): on a request, and by a background thread
while `serve` runs. A stat per file costs microseconds for the few dozen files of a trust center, needs no
dependency (inotify is Linux-only and misses network filesystems and bind mounts, where a checkout is often
updated) and sees every way a file changes: edited in place, replaced by rename (git checkout, rsync), copied
with its old times kept (the ctime still moves). SIGHUP under `trustcenter gate` reloads at once, whatever
the fingerprint says.

Atomic: a reload builds a whole new `GateState` (content validated with the same `load_valid` as at start,
keys by the same demo rule, the site folder checked again) and swaps one reference; a request keeps the state
it began with (`Gate.state`), so it never sees keys of one version and documents of another. A change that
does not validate keeps the previous state and is logged at ERROR with its located problems, once per version
of the files; the next change is tried again. A change younger than a second is left for the next look, so
an editor's half-written file or a git checkout half done is not what gets read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from markupsafe import Markup

from generator.content import diagnostics, markup, model
from generator.content.project import Project
from generator.errors import ContentError, GateConfigError, UserError
from generator.gate import keys
from generator.gate.db import Location
from generator.gate.settings import GateSettings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

logger = logging.getLogger(__name__)

# A file changed this recently may still be being written (an editor's save, a checkout in progress).
SETTLE_SECONDS = 1.0

# One entry per file: its path and (device, inode, size, mtime_ns, ctime_ns), or None where there is none.
Fingerprint = tuple[tuple[str, tuple[int, int, int, int, int] | None], ...]


@dataclasses.dataclass(frozen=True)
class GateState:
    """Everything the gate serves from the repository, as of one version of its files. Never changed: a
    reload makes a new one."""

    content: model.TrustCenter
    trusted_keys: Mapping[str, Ed25519PublicKey]  # by kid: the only keys a link may be signed with
    documents: Mapping[str, model.Document]  # the gated documents, by id
    nda_html: Markup
    nda_sha256: str  # the NDA's version, recorded with each acceptance
    fingerprint: Fingerprint  # the files as they were when this state was read
    watched_elsewhere: tuple[Path, ...]  # gated files outside the content folder, watched with it

    @property
    def issuer(self) -> str:
        return self.content.company.trust_center_url

    @property
    def max_lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.content.company.link_max_days)

    @property
    def contact(self) -> str:
        contacts = self.content.company.contacts
        return contacts.sales or contacts.security

    def summary(self) -> str:
        return (f"{_count(len(self.trusted_keys), 'key')}, {_count(len(self.documents), 'gated document')}, "
                f"NDA {self.nda_sha256[:12]}")


def fingerprint(project: Project, elsewhere: Iterable[Path] = ()) -> Fingerprint:
    """Every file under the content folder, then the files in `elsewhere`, as the file system describes them."""
    paths: list[Path] = []
    for current, folders, names in os.walk(project.trust_dir):
        folders.sort()
        paths.extend(Path(current, name) for name in sorted(names))
    return tuple((str(path), _identity(path)) for path in [*paths, *elsewhere])


def load_state(settings: GateSettings) -> GateState:
    """The state for the files as they are now; ContentError, KeyFileError or GateConfigError if they would not
    make a gate that may serve."""
    from generator.content.validate import load_valid

    project = settings.project
    seen = fingerprint(project)  # before reading: a change made while reading is seen at the next look
    content = load_valid(project)
    trusted = keys.load_trusted_keys(project, include_demo=settings.include_demo_keys)
    gated = [content.document_path(document) for document in content.gated_documents]
    if settings.serve_site:
        refuse_unsafe_site_dir(project, settings.site_dir, settings.db_path, content.root, gated)
    elsewhere = tuple(path for path in gated if not path.is_relative_to(project.trust_dir.resolve()))
    return GateState(
        content=content,
        trusted_keys=MappingProxyType(trusted),
        documents=MappingProxyType({document.id: document for document in content.gated_documents}),
        nda_html=markup.render(content.nda_text, heading_offset=1),
        nda_sha256=content.nda_sha256,
        fingerprint=seen + tuple((str(path), _identity(path)) for path in elsewhere),
        watched_elsewhere=elsewhere,
    )


def refuse_unsafe_site_dir(project: Project, site_dir: Path, db_path: Location, content_root: Path,
                           gated_files: Iterable[Path]) -> None:
    """The site folder is served whole: it must hold neither the content (gated files, keys), nor the gate's
    state (database, secrets), nor any gated file."""
    site = site_dir.resolve()
    database = [db_path.parent.resolve()] if isinstance(db_path, Path) else []  # a server's files are not here
    private = [content_root, *database, project.state_dir.resolve(), *gated_files]
    for path in private:
        if path.is_relative_to(site):
            raise GateConfigError(f"refusing to serve {site} as the site: it contains {path}, which must never be "
                                  "served; point --site-dir at the built site (trustcenter build)")


class Reloader:
    """Holds the current state and replaces it when the files change (`check`), or when told (`reload`)."""

    def __init__(self, settings: GateSettings) -> None:
        self.settings = settings
        self.state = load_state(settings)  # at start an invalid state is an error: there is nothing to keep
        self._lock = threading.Lock()  # one reload at a time
        self._next_look = time.monotonic() + settings.reload_seconds
        self._rejected: Fingerprint | None = None  # files found invalid (logged once, tried again once changed)
        self._forced = threading.Event()
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Reload if the last look is `reload_seconds` old and the files changed since. Never waits: while
        another thread looks or reloads, the current state serves on."""
        if time.monotonic() < self._next_look or not self._lock.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            if now < self._next_look:  # another thread has just looked
                return
            self._next_look = now + self.settings.reload_seconds
            seen = self._look()
            if seen not in (self.state.fingerprint, self._rejected) and not _settling(seen):
                self._reload(seen)
        finally:
            self._lock.release()

    def reload(self) -> bool:
        """Read the files now, changed or not (SIGHUP). Returns whether their state is now the one served."""
        with self._lock:
            self._rejected = None  # asked for: say again what is wrong, even if it was said before
            return self._reload(self._look())

    def _look(self) -> Fingerprint:
        return fingerprint(self.settings.project, self.state.watched_elsewhere)

    def _reload(self, seen: Fingerprint) -> bool:
        """Load the files, last seen as `seen`; serve them if they make a valid state."""
        try:
            state = load_state(self.settings)
        except ContentError as error:
            located = "\n".join(f"  {diagnostic}" for diagnostic in diagnostics.errors(error.diagnostics))
            self._reject(seen, f"the content has errors; fix them and the gate reloads:\n{located}")
            return False
        except (UserError, OSError) as error:
            self._reject(seen, error.message if isinstance(error, UserError) else str(error))
            return False
        except Exception:  # a bug while reloading must not stop the gate serving what it has
            logger.exception("reload failed, still serving the previous state")
            self._rejected = seen
            return False
        self.state, self._rejected = state, None
        logger.info("reloaded: %s", state.summary())
        if not state.trusted_keys:
            project = self.settings.project
            logger.warning("there are no trusted keys in %s/: every link is refused until one is added",
                           project.display(keys.keys_dir(project)))
        return True

    def _reject(self, seen: Fingerprint, problem: str) -> None:
        # `seen` as looked at before reading: a file changed while it was read is tried again at the next look.
        if seen != self._rejected:  # once per version of the files, not at every look
            logger.error("reload failed, still serving the previous state: %s", problem)
        self._rejected = seen

    # ------------------------------------------------ while serving

    def watch(self) -> None:
        """Look for changes in a background thread every `reload_seconds`, and reload at once when
        `request_reload` is called, until `stop`."""
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._watch, name="trustcenter-gate-reload", daemon=True)
            self._thread.start()

    def request_reload(self) -> None:
        """Ask the watching thread to reload now. Only sets events, so a signal handler may call it."""
        self._forced.set()
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _watch(self) -> None:
        while True:
            self._wake.wait(self.settings.reload_seconds)
            self._wake.clear()
            if self._stopped.is_set():
                return
            if self._forced.is_set():
                self._forced.clear()
                self.reload()
            else:
                self.check()


def _identity(path: Path) -> tuple[int, int, int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def _settling(seen: Fingerprint) -> bool:
    """Whether a file changed less than SETTLE_SECONDS ago (and may still be being written)."""
    newest = max((max(identity[3], identity[4]) for _, identity in seen if identity is not None), default=0)
    age = time.time() - newest / 1e9
    return 0 <= age < SETTLE_SECONDS  # a time in the future (a skewed clock) must not hold reloads off for ever


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
