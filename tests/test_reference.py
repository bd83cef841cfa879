"""docs/reference.md: generated from the code (fields, checks, commands), and the committed copy current."""

from __future__ import annotations

from support import REPO

from generator import reference
from generator.cli import main
from generator.content import rules


def test_reference_doc_is_current() -> None:
    assert (REPO / "docs/reference.md").read_text(encoding="utf-8") == reference.render(main), (
        "docs/reference.md is stale: run `trustcenter reference`")


def test_every_check_is_listed_with_its_id_and_severity() -> None:
    text = reference.render(main)
    for entry in rules.catalogue():
        assert f"| `{entry.id}` | {entry.severity.value} |" in text
