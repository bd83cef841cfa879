"""Ids and names that must be unique: documents, certifications, SOC 3 reports, subprocessors, controls."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from generator.content import model
from generator.content.reader import Key
from generator.content.rules import ERROR, Context, Finding, rule


@rule("duplicate-id", ERROR, "Two entries share an id (or a subprocessor a name): references would be ambiguous.")
def duplicate_ids(ctx: Context) -> Iterator[Finding]:
    tc = ctx.tc
    yield from _duplicates("document id", [(d.id, "documents.yaml", ("documents", i, "id"))
                                           for i, d in enumerate(tc.documents)], ctx)
    yield from _duplicates("certification id", [(c.id, "certifications.yaml", ("certifications", i, "id"))
                                                for i, c in enumerate(tc.certifications)], ctx)
    yield from _duplicates("SOC 3 id", [(report.id, name, ("id",)) for name, report in ctx.loaded.values.items()
                                        if name.startswith(f"{model.SOC3_DIR}/")], ctx)
    yield from _duplicates("subprocessor (name and service)",
                           [(s.display_name, "subprocessors.yaml", ("subprocessors", i, "name"))
                            for i, s in enumerate(tc.subprocessors.subprocessors)], ctx, key=lambda value: value.casefold())
    yield from _duplicates("category id", [(c.id, "controls.yaml", ("categories", i, "id"))
                                           for i, c in enumerate(tc.controls)], ctx)
    yield from _duplicates("control id", [(c.id, "controls.yaml", ("categories", ci, "controls", i, "id"))
                                          for ci, cat in enumerate(tc.controls) for i, c in enumerate(cat.controls)],
                           ctx)


def _duplicates(what: str, entries: list[tuple[str, str, Key]], ctx: Context,
                key: Callable[[str], str] = str) -> Iterator[Finding]:
    seen: dict[str, tuple[str, Key]] = {}
    for value, file, place in entries:
        if key(value) in seen:
            first_file, first_key = seen[key(value)]
            first = ctx.loaded.file(first_file)
            yield Finding(file, place, f"{what} '{value}' is used twice (first in {first.path} line "
                                       f"{first.where(first_key)[0]}); give each a unique {what}", value)
        else:
            seen[key(value)] = (file, place)
