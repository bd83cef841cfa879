"""`trustcenter init`: a new trust center repository from the skeleton in skeleton/."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

from generator.content import schema
from generator.errors import InitError
from generator.publish import install

TEMPLATE_DIR = Path(__file__).resolve().parent / "skeleton"
# Where the new repository keeps the JSON Schemas its YAML files name on their first line: committed
# beside the content, so editors find them offline and they match the generator version that made them.
SCHEMAS_DIR = "schemas"
_TEXT_SUFFIXES = {".yaml", ".yml", ".md", ".txt", ""}


def _target_name(relative: Path) -> Path:
    # Package data leaves out dotfiles, so the template spells them dot-gitignore, dot-github/...
    return Path(*(("." + part[4:]) if part.startswith("dot-") else part for part in relative.parts))


def create(directory: Path, company: str, today: dt.date | None = None, pin: install.Pin | None = None) -> list[Path]:
    """Write the template into `directory` with the company's name filled in and requirements.txt naming
    `pin` (default: the generator running now); returns the files written."""
    today = today or dt.date.today()
    company = " ".join(company.split())
    if not company or len(company) > 200:
        raise InitError("--company must be a name of 1 to 200 characters")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InitError(f"{directory} is not empty; choose a new or empty folder so nothing is overwritten")
    values = {
        # A JSON string is a valid double-quoted YAML scalar: any name is safe in the YAML files.
        "__COMPANY__": json.dumps(company, ensure_ascii=False),
        "__COMPANY_TEXT__": company,
        # "Acme s.r.o." ends the sentence with its own full stop.
        "__TAGLINE__": json.dumps(f"Security, privacy and compliance at {company.rstrip('.')}.", ensure_ascii=False),
        "__EXPIRES__": (today + dt.timedelta(days=330)).isoformat(),  # RFC 9116: under a year ahead
        "__TODAY__": today.isoformat(),
    }
    pin = pin or install.installed()
    values["__GENERATOR_REQUIREMENT__"] = pin.as_text()
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sources = sorted(Path(folder) / name for folder, _, names in os.walk(TEMPLATE_DIR) for name in names)
    for source in sources:
        if "__pycache__" in source.parts:
            continue
        target = directory / _target_name(source.relative_to(TEMPLATE_DIR))
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix in _TEXT_SUFFIXES:
            text = source.read_text(encoding="utf-8")
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(source, target)
        written.append(target)
    schemas = directory / SCHEMAS_DIR
    schemas.mkdir(exist_ok=True)
    for path in sorted(schema.SCHEMA_DIR.glob("*.schema.json")):
        shutil.copyfile(path, schemas / path.name)
        written.append(schemas / path.name)
    (directory / "trust" / "documents").mkdir(exist_ok=True)
    if pin.vendored is not None:
        vendored = directory / install.VENDOR_DIR / pin.vendored.name
        vendored.parent.mkdir(exist_ok=True)
        shutil.copyfile(pin.vendored, vendored)
        written.append(vendored)
    return written
