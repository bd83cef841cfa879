"""The public JSON: its schema is generated from the one declaration of its shape, and the copy is current."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from support import REPO, copy_demo, run_cli

from generator.site import public


def test_committed_trust_schema_matches_the_public_model() -> None:
    assert public.SCHEMA_FILE.read_text(encoding="utf-8") == public.schema_text(), (
        f"{public.SCHEMA_FILE.relative_to(REPO)} is stale: run `trustcenter reference --schemas`")


def test_the_built_trust_json_is_valid_against_the_published_schema(tmp_path: Path) -> None:
    project = copy_demo(tmp_path / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    site = project / "site"
    published = json.loads((site / "schemas/trust.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.validate(json.loads((site / "trust.json").read_text(encoding="utf-8")), published)
    subprocessors = json.loads((site / "subprocessors.json").read_text(encoding="utf-8"))
    jsonschema.validate(subprocessors, {"$defs": published["$defs"], "$ref": "#/$defs/SubprocessorList"})
