"""Rules that catch what is not really content yet: addresses at reserved example domains, the placeholder
NDA, the sample controls `trustcenter init` writes, and list items YAML split at a comma."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator.content import model
from generator.content.reader import Key
from generator.content.rules import WARNING, Context, Finding, rule

# RFC 2606 and RFC 6761: names reserved for examples and tests, which reach no real inbox or site.
_RESERVED_SECOND_LEVEL = ("example.com", "example.net", "example.org")
_RESERVED_TOP_LEVEL = ("example", "test", "invalid", "localhost")
# The line `trustcenter init` puts in nda.md, and the controls it starts a repository with.
NDA_PLACEHOLDER = "Replace this text with the agreement your legal team approved"
_SKELETON_CONTROLS = Path(__file__).resolve().parents[2] / "publish" / "skeleton" / "trust" / "controls.yaml"


def reserved_domain(address: str) -> str | None:
    """The reserved domain an email address or URL uses, or None."""
    host = address.rsplit("@", 1)[1] if "@" in address and "://" not in address else urlsplit(address).hostname or ""
    host = host.lower().rstrip(".")
    if host == "localhost" or any(host == d or host.endswith("." + d) for d in _RESERVED_SECOND_LEVEL):
        return host
    if host.rsplit(".", 1)[-1] in _RESERVED_TOP_LEVEL:
        return host
    return None


def _company_addresses(company: model.Company) -> Iterator[tuple[Key, str]]:
    yield ("website",), company.website
    yield ("trust_center_url",), company.trust_center_url
    if company.gate_url:
        yield ("gate_url",), company.gate_url
    for field in ("security", "privacy", "sales"):
        value = getattr(company.contacts, field)
        if value:
            yield ("contacts", field), value
    settings = company.security_txt
    for index, url in enumerate(settings.contact):
        yield ("security_txt", "contact", index), url
    for field in ("policy", "acknowledgments", "encryption", "hiring"):
        value = getattr(settings, field)
        if value:
            yield ("security_txt", field), value


@rule("placeholder-content", WARNING, "Content that is still a placeholder: addresses at reserved example domains "
                                      "(RFC 2606), the placeholder NDA, the sample controls of `trustcenter init`.")
def placeholder_content(ctx: Context) -> Iterator[Finding]:
    tc = ctx.tc
    for key, address in _company_addresses(tc.company):
        domain = reserved_domain(address)
        if domain:
            yield Finding("company.yaml", key, f"'{address}' uses {domain}, a domain reserved for examples that "
                                               "reaches nobody; write your real address", domain)
    for index, sub in enumerate(tc.subprocessors.subprocessors):
        domain = reserved_domain(sub.website) if sub.website else None
        if domain:
            yield Finding("subprocessors.yaml", ("subprocessors", index, "website"),
                          f"'{sub.website}' uses {domain}, a domain reserved for examples; write the subprocessor's "
                          "real website or leave it out", domain)
    for index, address in enumerate(tc.access.staff if tc.access is not None else []):
        domain = reserved_domain(address)
        if domain:
            yield Finding("access.yaml", ("staff", index), f"'{address}' uses {domain}, a domain reserved for "
                                                           "examples: its sign-in links and review notices reach "
                                                           "nobody; write a real staff address", domain)
    for number, line in enumerate(tc.nda_text.splitlines(), start=1):
        if NDA_PLACEHOLDER in line:
            yield Finding("", (), "the NDA is still the placeholder `trustcenter init` wrote; replace it with the "
                                  "agreement your legal team approved", display=f"{ctx.project.content_path(model.NDA_FILE)}",
                          line=number)
            break
    samples = _sample_controls()
    for cat_index, category in enumerate(tc.controls):
        for index, control in enumerate(category.controls):
            if control in samples:
                yield Finding("controls.yaml", ("categories", cat_index, "controls", index),
                              f"control {control.id} is still the sample `trustcenter init` wrote; make it a control "
                              "you operate (edit it) or remove it", control.id)


@functools.cache
def _sample_controls() -> tuple[model.Control, ...]:
    from generator.content.load import parse_file

    if not _SKELETON_CONTROLS.is_file():
        return ()
    value, _, _ = parse_file(_SKELETON_CONTROLS.read_bytes(), "skeleton", model.ControlsFile)
    return tuple(c for cat in value.categories for c in cat.controls) if value is not None else ()


@rule("list-item-split", WARNING, "A list item that YAML split at a comma inside parentheses or brackets "
                                  "([a (b, c), d] is three items).", needs_model=False)
def list_item_split(ctx: Context) -> Iterator[Finding]:
    for name, parsed in ctx.loaded.files.items():
        yield from _split_items(parsed.data, (), name)


def _split_items(value: Any, key: Key, file: str) -> Iterator[Finding]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _split_items(item, (*key, name), file)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _split_items(item, (*key, index), file)
        for index in range(len(value) - 1):
            first, second = value[index], value[index + 1]
            if isinstance(first, str) and isinstance(second, str) and _opens(first) and _closes(second):
                yield Finding(file, (*key, index), f"'{first}' and '{second}' look like one item split at the comma "
                                                   "inside the brackets; write the list one item per line ('- ...') "
                                                   "or put the item in quotes")


def _opens(text: str) -> bool:
    return text.count("(") > text.count(")") or text.count("[") > text.count("]")


def _closes(text: str) -> bool:
    return text.count(")") > text.count("(") or text.count("]") > text.count("[")
