"""The content files' JSON Schemas: generated from the model, and the committed copies current."""

from __future__ import annotations

from support import REPO

from generator.content import schema


def test_committed_schemas_match_the_model() -> None:
    for name, text in schema.schema_files().items():
        assert (schema.SCHEMA_DIR / name).read_text(encoding="utf-8") == text, (
            f"{schema.SCHEMA_DIR.relative_to(REPO)}/{name} is stale: run `trustcenter reference --schemas`")


def test_every_content_file_has_a_schema() -> None:
    from generator.content import model

    names = set(schema.schema_files())
    assert {f"{name.removesuffix('.yaml')}.schema.json" for name in model.FILES} | {"soc3.schema.json"} == names
