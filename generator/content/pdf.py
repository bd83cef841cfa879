"""What a gated PDF carries that the gate must not pass on: scripts, launch actions, attachments, automatic actions.

`pdf_problems` is what `trustcenter check` says of a gated file; `remove_active_content` is what the
gate does to every copy it serves, so a file that skipped `check` still reaches nobody with a script in
it. Both walk the same places, the ones a PDF reader acts on by itself or on a click: the document's
open action and additional actions, its JavaScript and attachment name trees, its form fields and
outline, each page's additional actions and annotations, and the /Next chain of every action found
there. Links to web pages (/URI) and within the document are fine.

Importing this module imports pikepdf (about 65 ms): import it where a PDF is opened, not at the top
of a module that `link create` loads.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from pathlib import Path

import pikepdf

_AGAIN = "export the report again"


class Active(enum.Enum):
    """A kind of content the gate does not pass on; its value is what `check` says of a file that has it."""

    JAVASCRIPT = f"contains JavaScript (an /OpenAction, /JS or /JavaScript action, or an XFA form); {_AGAIN} without scripts"
    LAUNCH = f"contains a /Launch action, which can start programs on the reader's computer; {_AGAIN} without it"
    EMBEDDED_FILES = (f"carries embedded files (an /EmbeddedFiles list, or /FileAttachment, /RichMedia or /3D "
                      f"annotations); {_AGAIN} without attachments")
    ADDITIONAL_ACTIONS = (f"has additional actions (/AA) that run when the document or a page is opened, closed or "
                          f"shown; {_AGAIN} without them")
    OUTSIDE_ACCESS = (f"has actions that open other files, play media or send form data out (/GoToR, /GoToE, "
                      f"/Thread, /Movie, /Sound, /Rendition, /SubmitForm, /ImportData, or a link to a file: or UNC "
                      f"address); {_AGAIN} without them")


NOT_A_PDF = f"is not a readable PDF: it is damaged or another kind of file; {_AGAIN} as a PDF, the only kind the gate serves"
PROTECTED = ("is password-protected, so it cannot be watermarked: it needs a password to open; give the gate a copy "
             "that opens without one (restrictions on printing or copying are fine, the gate keeps them)")
NO_PAGES = f"has no pages; {_AGAIN}"

_ACTION_KINDS = {
    "/JavaScript": Active.JAVASCRIPT,
    "/Launch": Active.LAUNCH,
    "/GoToR": Active.OUTSIDE_ACCESS,
    "/GoToE": Active.OUTSIDE_ACCESS,
    "/SubmitForm": Active.OUTSIDE_ACCESS,
    "/ImportData": Active.OUTSIDE_ACCESS,
    "/Thread": Active.OUTSIDE_ACCESS,
    "/Movie": Active.OUTSIDE_ACCESS,
    "/Sound": Active.OUTSIDE_ACCESS,
    "/Rendition": Active.OUTSIDE_ACCESS,
}
# An action may, rarely, be a stream's dictionary; readers act on it all the same.
_DICTIONARIES = (pikepdf.Dictionary, pikepdf.Stream)
# Annotations whose point is a file or a player of their own (Flash, 3D scripts), not a mark on the page.
_CARRIER_ANNOTATIONS = {"/FileAttachment": "/FS", "/RichMedia": "/RichMediaContent", "/3D": "/3DD"}


def pdf_problems(path: Path) -> list[str]:
    """Why the gate must not serve this file, each a phrase completing "the gated file 'x' ..." and ending in
    what to do; empty when it can be watermarked and carries nothing active."""
    try:
        with pikepdf.open(path) as pdf:
            problems = [NO_PAGES] if len(pdf.pages) == 0 else []
            return problems + [kind.value for kind in Active if kind in _Walk(pdf, remove=False).run()]
    except pikepdf.PasswordError:
        return [PROTECTED]
    except pikepdf.PdfError:
        return [NOT_A_PDF]
    except OSError as exc:
        reason = f" ({exc.strerror.lower()})" if exc.strerror else ""
        return [f"cannot be read{reason}; check that the file is readable by whoever runs the command"]


def remove_active_content(pdf: pikepdf.Pdf) -> set[Active]:
    """Remove, in place, everything `pdf_problems` would report as active content; returns the kinds removed."""
    return _Walk(pdf, remove=True).run()


class _Walk:
    """One pass over the places a reader acts on: notes each kind of active content and, if asked, deletes it."""

    def __init__(self, pdf: pikepdf.Pdf, *, remove: bool) -> None:
        self.pdf = pdf
        self.remove = remove
        self.found: set[Active] = set()

    def run(self) -> set[Active]:
        root = self.pdf.Root
        self._action_in(root, "/OpenAction")
        self._additional_actions(root)
        names = root.get("/Names")
        if isinstance(names, _DICTIONARIES):
            self._entry(names, "/JavaScript", Active.JAVASCRIPT, when=_tree_has_names)
            self._entry(names, "/EmbeddedFiles", Active.EMBEDDED_FILES, when=_tree_has_names)
        # A portfolio shows its attachments instead of its pages; /AF lists associated files (PDF 2.0).
        self._entry(root, "/Collection", Active.EMBEDDED_FILES)
        self._entry(root, "/AF", Active.EMBEDDED_FILES)
        form = root.get("/AcroForm")
        if isinstance(form, _DICTIONARIES):
            self._entry(form, "/XFA", Active.JAVASCRIPT)  # XFA forms carry their own scripts
            for field in _linked(form.get("/Fields"), "/Kids"):
                self._action_in(field, "/A")
                self._additional_actions(field)
        outline = root.get("/Outlines")
        if isinstance(outline, _DICTIONARIES):
            for item in _linked(outline.get("/First"), "/First", "/Next"):
                self._action_in(item, "/A")
        for page in self.pdf.pages:
            self._additional_actions(page.obj)
            self._entry(page.obj, "/AF", Active.EMBEDDED_FILES)
            self._annotations(page.obj)
        return self.found

    def _annotations(self, page: pikepdf.Object) -> None:
        annotations = page.get("/Annots")
        if not isinstance(annotations, pikepdf.Array):
            return
        kept = []
        for annotation in annotations:
            if isinstance(annotation, _DICTIONARIES):
                carried = _CARRIER_ANNOTATIONS.get(str(annotation.get("/Subtype")))
                if carried is not None:
                    self.found.add(Active.EMBEDDED_FILES)
                    if self.remove and carried in annotation:
                        # A popup or reply may still point at the annotation; without this key
                        # the file itself is no longer part of the copy.
                        del annotation[carried]
                    continue
                self._action_in(annotation, "/A")
                self._additional_actions(annotation)
                self._entry(annotation, "/AF", Active.EMBEDDED_FILES)
            kept.append(annotation)
        if self.remove and len(kept) < len(annotations):
            page.Annots = pikepdf.Array(kept)

    def _action_in(self, holder: pikepdf.Object, key: str) -> None:
        """The action under `key` (an /A, an /OpenAction), dropped whole if anything in its chain is active."""
        if key not in holder:
            return
        kinds = _action_kinds(holder[key])
        if kinds:
            self.found |= kinds
            if self.remove:
                del holder[key]

    def _additional_actions(self, holder: pikepdf.Object) -> None:
        additional = holder.get("/AA")
        if additional is None:
            return
        self.found.add(Active.ADDITIONAL_ACTIONS)
        if isinstance(additional, _DICTIONARIES):
            for action in additional.values():
                self.found |= _action_kinds(action)
        if self.remove:
            del holder["/AA"]

    def _entry(self, holder: pikepdf.Object, key: str, kind: Active,
               when: Callable[[pikepdf.Object], bool] | None = None) -> None:
        """An entry that is active content as a whole; `when` tells an empty one from a used one."""
        if key not in holder:
            return
        if when is None or when(holder[key]):
            self.found.add(kind)
        if self.remove:
            del holder[key]


def _action_kinds(action: pikepdf.Object) -> set[Active]:
    """What is active in an action and the actions chained after it (/Next); a destination has nothing."""
    kinds: set[Active] = set()
    if not isinstance(action, _DICTIONARIES):
        return kinds
    for item in _linked(action, "/Next"):
        kind = _ACTION_KINDS.get(str(item.get("/S")))
        if kind is not None:
            kinds.add(kind)
        if "/JS" in item:  # a /Rendition action, or any other, may carry a script of its own
            kinds.add(Active.JAVASCRIPT)
        target = item.get("/URI")
        if isinstance(target, pikepdf.String):
            address = str(target).strip().lower()
            if address.startswith("javascript:"):
                kinds.add(Active.JAVASCRIPT)
            elif address.startswith(("file:", "\\\\", "smb:")):
                kinds.add(Active.OUTSIDE_ACCESS)
    return kinds


def _linked(start: pikepdf.Object | None, *links: str) -> Iterator[pikepdf.Object]:
    """Every dictionary reached from `start` through the `links` keys (arrays followed), each once.

    Iterative, and remembering indirect objects seen, because a crafted file may link in a circle
    or nest deeper than Python's recursion limit.
    """
    seen: set[tuple[int, int]] = set()
    pending = [start]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Array):
            pending.extend(reversed(list(item)))
            continue
        if not isinstance(item, _DICTIONARIES):
            continue
        if item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        yield item
        pending.extend(item.get(link) for link in reversed(links))


def _tree_has_names(tree: pikepdf.Object) -> bool:
    """Whether a name tree lists anything (some tools leave an empty one behind)."""
    return isinstance(tree, _DICTIONARIES) and any(
        isinstance(tree.get(key), pikepdf.Array) and len(tree[key]) > 0 for key in ("/Names", "/Kids"))


def page_fingerprints(path: Path) -> set[str]:
    """SHA-256 of each page's decoded content: the same pages re-saved, recompressed or renamed give the same
    prints, so the leak check finds a gated report in the site under any name. Empty if it is not a PDF."""
    import hashlib

    prints: set[str] = set()
    try:
        with pikepdf.open(path) as pdf:
            for page in pdf.pages:
                contents = page.obj.get("/Contents")
                parts = list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents else []
                data = b"".join(part.read_bytes() for part in parts if isinstance(part, pikepdf.Stream))
                if len(data) >= 64:  # a near-empty page (a blank back) proves nothing
                    prints.add(hashlib.sha256(data).hexdigest())
    except (pikepdf.PdfError, OSError, ValueError):
        return set()
    return prints
