"""The one loader: the content folder, from the work tree or a git revision, into the typed model.

Every file is parsed by the YAML reader (positions kept) and validated against its model class;
every problem becomes a located diagnostic. Cross-file rules are the catalogue's (`rules/`).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from generator.content import model
from generator.content.diagnostics import Diagnostic, Severity
from generator.content.reader import MAX_FILE_BYTES, Key, ParsedFile, parse_yaml
from generator.content.source import ContentSource

__all__ = ["Loaded", "load", "parse_file"]


@dataclasses.dataclass
class Loaded:
    """What `load` read: the model if every file was valid, each file's parse and value, and the problems."""

    source: ContentSource
    model: model.TrustCenter | None
    files: dict[str, ParsedFile]  # every file read, by its path in the content folder ('soc3/2026.yaml')
    values: dict[str, Any]  # each file's validated object, where it validated
    diagnostics: list[Diagnostic]

    def file(self, name: str) -> ParsedFile:
        return self.files.get(name) or ParsedFile(self.source.display(name))

    @property
    def soc3_files(self) -> list[ParsedFile]:
        """The files behind model.soc3, in the same order."""
        return [self.files[name] for name in self.values if name.startswith(f"{model.SOC3_DIR}/")]


def load(source: ContentSource) -> Loaded:
    """Read and validate every content file (no cross-file rules: see rules/)."""
    loaded = Loaded(source, None, {}, {}, [])
    if not source.exists():
        folder = source.display("").rstrip("/")
        loaded.diagnostics.append(Diagnostic(folder, 1, 1, Severity.ERROR,
                                             f"no {folder}/ folder in {source.project.root} ({source.label}); run the "
                                             "command from the project root, or start one with `trustcenter init`"))
        return loaded
    for name, (model_class, required) in model.FILES.items():
        _load_file(loaded, name, model_class, required)
    for name in source.names(model.SOC3_DIR):
        if name.endswith(".yaml"):
            _load_file(loaded, name, model.Soc3Report, True)
    nda_text = _nda_text(loaded)
    if any(d.severity is Severity.ERROR for d in loaded.diagnostics):
        return loaded
    values = loaded.values
    # SOC 3 facts are entered once, on the SOC 2 Type II they summarize: filled in here (what the files say
    # stays in `values`, for the rule that refuses them written twice).
    written = {c.id: c for c in values["certifications.yaml"].certifications}
    loaded.model = model.TrustCenter(
        root=source.project.trust_dir,
        company=values["company.yaml"],
        certifications=[model.certification_with_basis(c, written)
                        for c in values["certifications.yaml"].certifications],
        soc3=[model.soc3_with_basis(value, written) for name, value in values.items()
              if name.startswith(f"{model.SOC3_DIR}/")],
        subprocessors=values["subprocessors.yaml"],
        controls=values["controls.yaml"].categories,
        documents=values["documents.yaml"].documents,
        faq=values["faq.yaml"].faq if "faq.yaml" in values else [],
        updates=values["updates.yaml"].updates if "updates.yaml" in values else [],
        settings=values["config.yaml"] if "config.yaml" in values else model.ConfigFile(),
        access=values.get("access.yaml"),
        nda_text=nda_text,
        today=source.date,
    )
    return loaded


def _load_file(loaded: Loaded, name: str, model_class: type[model.Strict], required: bool) -> None:
    display = loaded.source.display(name)
    raw = loaded.source.read(name)
    if raw is None:
        if required:
            loaded.diagnostics.append(Diagnostic(display, 1, 1, Severity.ERROR,
                                                 f"{display} is missing; create it (see the reference)"))
        return
    value, parsed, problems = parse_file(raw, display, model_class)
    loaded.files[name] = parsed
    loaded.diagnostics += problems
    if value is not None:
        loaded.values[name] = value


def _nda_text(loaded: Loaded) -> str:
    display = loaded.source.display(model.NDA_FILE)
    raw = loaded.source.read(model.NDA_FILE)
    problem = None
    text = ""
    if raw is None:
        problem = (1, f"{display} is missing; write the NDA text the gate shows")
    elif len(raw) > MAX_FILE_BYTES:
        problem = (1, f"{display} is over {MAX_FILE_BYTES // 2**20} MiB; an NDA is a few pages")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = (raw[: exc.start].count(b"\n") + 1, f"{display} is not UTF-8 text; save it as UTF-8")
        else:
            if not text.strip():
                problem = (1, f"{display} is empty; write the NDA text the gate shows")
    if problem is not None:
        loaded.diagnostics.append(Diagnostic(display, problem[0], 1, Severity.ERROR, problem[1]))
    return text


def parse_file(raw: bytes, display: str, model_class: type[model.Strict]) -> tuple[Any, ParsedFile, list[Diagnostic]]:
    """One file's bytes to its model object (None on any problem), its parse, and its problems."""
    data, parsed, problems = parse_yaml(raw, display)
    if problems:
        return None, parsed, problems
    value, problems = validate(data, parsed, model_class)
    return value, parsed, problems


def validate(data: Any, parsed: ParsedFile, model_class: type[model.Strict]) -> tuple[Any, list[Diagnostic]]:
    """Turn parsed YAML into a model object, or return every problem with its place."""
    if not isinstance(data, dict):
        return None, [parsed.diagnostic((), f"the file must be a mapping of fields, not {_describe(data)}")]
    try:
        return model_class.model_validate(data), []
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            loc = tuple(part for part in error["loc"] if not isinstance(part, str) or not part.startswith("function-"))
            message, at_key = _message({**error, "loc": loc}, model_class)
            found.append(parsed.diagnostic(loc, message, prefer_key=at_key))
        return None, found


# ---------------------------------------------------------------- pydantic's errors, in words


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
        return f"missing required field '{field}'; add it (see the reference)", True
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
