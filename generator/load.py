"""Read trust/ into the typed model, keeping the line and column of every value for messages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from generator import model
from generator.diagnostics import Diagnostic, Severity
from generator.yamlfile import MAX_FILE_BYTES, Key, Source, read_yaml

__all__ = ["Key", "Loaded", "Source", "load", "read_yaml", "validate_file"]

def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _allowed_fields(model_class: type[BaseModel], loc: Key) -> list[str]:
    """The field names valid at `loc` inside `model_class` (for 'did you mean')."""
    current: Any = model_class
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: Any, model_class: type[BaseModel]) -> tuple[str, bool]:
    """A sentence for one pydantic error, and whether it points at a key rather than a value."""
    kind = error["type"]
    loc = tuple(error["loc"])
    field = str(loc[-1]) if loc else "value"
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"missing required field '{field}'; add it (see docs/reference.md)", True
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model_class, loc[:-1])
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed fields: {', '.join(allowed)}"
        return f"unknown field '{field}'; remove it or fix its spelling ({hint})", True
    if kind in ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return f"'{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30", False
    if kind in ("enum", "literal_error"):
        expected = ctx.get("expected", "")
        shown = value if isinstance(value, str) else _describe(value)
        return f"'{shown}' is not allowed here; use one of {expected}", False
    if kind == "value_error":
        reason = str(ctx.get("error", error["msg"]))
        shown = value if isinstance(value, str) and len(value) < 80 else _describe(value)
        return f"'{shown}' {reason}", False
    if kind == "string_pattern_mismatch":
        return (f"'{value}' has the wrong form for '{field}'; ids use lower-case letters, digits and dashes, "
                f"criteria look like CC6.1, colours like #1a2b3c (pattern {ctx.get('pattern')})"), False
    if kind == "string_too_short":
        return f"'{field}' is empty; write a value or remove the field if it is optional", False
    if kind == "string_too_long":
        return f"'{field}' is longer than {ctx.get('max_length')} characters; shorten it", False
    if kind == "too_short":
        return f"'{field}' needs at least {ctx.get('min_length')} item(s); add them", False
    if kind == "string_type":
        hint = "; put it in quotes" if isinstance(value, (int, float, bool)) else ""
        return f"'{field}' must be text, not {_describe(value)}{hint}", False
    if kind == "list_type":
        return f"'{field}' must be a list (lines starting with '- '), not {_describe(value)}", False
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"'{field}' must be a mapping of fields, not {_describe(value)}", False
    if kind in ("bool_type", "bool_parsing"):
        return f"'{field}' must be true or false, not {_describe(value)}", False
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"'{field}' must be a whole number, not {_describe(value)}", False
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"'{field}' {error['msg'].lower()}; change it", False
    return f"'{field}': {error['msg']}", False


def validate_file(data: Any, source: Source, model_class: type[model.Strict]) -> tuple[Any, list[Diagnostic]]:
    """Turn parsed YAML into a model object, or return every problem with its place."""
    if not isinstance(data, dict):
        return None, [source.diagnostic((), f"the file must be a mapping of fields, not {_describe(data)}")]
    try:
        return model_class.model_validate(data), []
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if not isinstance(part, str) or not part.startswith("function-"))
            message, at_key = _message({**error, "loc": loc}, model_class)
            found.append(source.diagnostic(loc, message, prefer_key=at_key))
        return None, found


@dataclasses.dataclass
class Loaded:
    """What `load` read: the model if every file was valid, the sources, and the problems."""

    model: model.TrustCenter | None
    sources: dict[str, Source]  # every file read, by its path under trust/
    soc3_sources: list[Source]  # the sources of model.soc3, in the same order
    diagnostics: list[Diagnostic]
    project_dir: Path


def load(project_dir: Path, today: dt.date | None = None) -> Loaded:
    """Read and validate every file under trust/ (no cross-file rules: see rules.py)."""
    trust = project_dir / "trust"
    today = today or dt.date.today()
    diagnostics: list[Diagnostic] = []
    parsed: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    if not trust.is_dir():
        diagnostics.append(Diagnostic("trust", 1, 1, Severity.ERROR,
                                      f"no trust/ directory in {project_dir}; run the command from the project "
                                      "root or create trust/ (see README.md)"))
        return Loaded(None, {}, [], diagnostics, project_dir)
    for name, (model_class, required) in model.FILES.items():
        display = f"trust/{name}"
        file = trust / name
        if not file.exists():
            if required:
                diagnostics.append(Diagnostic(display, 1, 1, Severity.ERROR,
                                              f"{display} is missing; create it (see docs/reference.md)"))
            sources[name] = Source(display)
            continue
        data, source, found = read_yaml(file, display)
        sources[name] = source
        diagnostics += found
        if not found:
            value, found = validate_file(data, source, model_class)
            diagnostics += found
            parsed[name] = value
    soc3: list[model.Soc3Report] = []
    soc3_sources: list[Source] = []
    for file in sorted((trust / model.SOC3_DIR).glob("*.yaml")) if (trust / model.SOC3_DIR).is_dir() else []:
        display = f"trust/{model.SOC3_DIR}/{file.name}"
        data, source, found = read_yaml(file, display)
        sources[f"{model.SOC3_DIR}/{file.name}"] = source
        diagnostics += found
        if not found:
            value, found = validate_file(data, source, model.Soc3Report)
            diagnostics += found
            if value is not None:
                soc3.append(value)
                soc3_sources.append(source)
    nda_text = ""
    nda = trust / model.NDA_FILE
    if not nda.is_file():
        diagnostics.append(Diagnostic(f"trust/{model.NDA_FILE}", 1, 1, Severity.ERROR,
                                      "trust/nda.md is missing; write the NDA text the gate shows"))
    elif nda.stat().st_size > MAX_FILE_BYTES:
        diagnostics.append(Diagnostic(f"trust/{model.NDA_FILE}", 1, 1, Severity.ERROR,
                                      f"trust/nda.md is over {MAX_FILE_BYTES // 2**20} MiB; an NDA is a few pages"))
    else:
        try:
            nda_text = nda.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            diagnostics.append(Diagnostic(f"trust/{model.NDA_FILE}", 1, 1, Severity.ERROR,
                                          "trust/nda.md is not UTF-8 text; save it as UTF-8"))
        else:
            if not nda_text.strip():
                diagnostics.append(Diagnostic(f"trust/{model.NDA_FILE}", 1, 1, Severity.ERROR,
                                              "trust/nda.md is empty; write the NDA text the gate shows"))
    if any(d.severity is Severity.ERROR for d in diagnostics):
        return Loaded(None, sources, soc3_sources, diagnostics, project_dir)
    trust_center = model.TrustCenter(
        root=trust.resolve(),
        company=parsed["company.yaml"],
        certifications=parsed["certifications.yaml"].certifications,
        soc3=soc3,
        subprocessors=parsed["subprocessors.yaml"],
        controls=parsed["controls.yaml"].categories,
        documents=parsed["documents.yaml"].documents,
        faq=parsed["faq.yaml"].faq if "faq.yaml" in parsed else [],
        updates=parsed["updates.yaml"].updates if "updates.yaml" in parsed else [],
        nda_text=nda_text,
        today=today,
    )
    return Loaded(trust_center, sources, soc3_sources, diagnostics, project_dir)
