"""JSON Schemas of the content files, generated from the model so editors and docs cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

from generator.content import model

SCHEMA_DIR = Path(__file__).parent / "schemas"


def _schemas() -> dict[str, type[model.Strict]]:
    named = {name.removesuffix(".yaml"): cls for name, (cls, _) in model.FILES.items()}
    named["soc3"] = model.Soc3Report
    return named


def schema_files() -> dict[str, str]:
    """File name -> JSON Schema text, e.g. company.schema.json."""
    files = {}
    for name, cls in _schemas().items():
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{name}.schema.json",
            **cls.model_json_schema(),
        }
        document["title"] = f"trust/{name}{'/*' if name == 'soc3' else ''}.yaml"
        files[f"{name}.schema.json"] = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return files


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
