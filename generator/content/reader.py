"""The YAML reader: one file parsed safely (size, depth, aliases, duplicate keys), keeping every value's position."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from generator.content.diagnostics import Diagnostic, Severity

MAX_FILE_BYTES = 8 * 1024 * 1024  # far above any real trust center file; stops a 20 MB paste early
MAX_NODES = 200_000  # expanded values per file: stops alias bombs ("billion laughs")
MAX_DEPTH = 64

Key = tuple[str | int, ...]


@dataclasses.dataclass
class ParsedFile:
    """One parsed file: its path for messages, its data, and where each value (and each mapping key) stands."""

    path: str
    values: dict[Key, tuple[int, int]] = dataclasses.field(default_factory=dict)
    keys: dict[Key, tuple[int, int]] = dataclasses.field(default_factory=dict)
    data: Any = None  # the parsed YAML, for rules that read raw text (link targets)

    def where(self, key: Key, *, prefer_key: bool = False) -> tuple[int, int]:
        """The place of the value at `key`, or of its nearest enclosing value that exists."""
        for end in range(len(key), -1, -1):
            part = key[:end]
            if prefer_key and part in self.keys:
                return self.keys[part]
            if part in self.values:
                return self.values[part]
        return (1, 1)

    def diagnostic(self, key: Key, message: str, severity: Severity = Severity.ERROR, *,
                   prefer_key: bool = False) -> Diagnostic:
        line, column = self.where(key, prefer_key=prefer_key)
        return Diagnostic(self.path, line, column, severity, message)


# libyaml's parser when PyYAML has it (about 10x faster); the resolvers below apply to both.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that leaves dates to the model and reads only true/false as booleans.

    YAML 1.1 reads `NO` (Norway) and `off` as false and `2026-13-45` crashes the date
    constructor; content files need neither, so those resolvers are dropped.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(
        ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")))


_SCALARS = yaml.constructor.SafeConstructor()


class _Invalid(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


def _position(mark: Any) -> tuple[int, int]:
    # PyYAML's Mark or libyaml's; events from the C parser always carry one.
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _build(node: yaml.Node, key: Key, source: ParsedFile, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _Invalid(node, f"the file expands to more than {MAX_NODES} values (too many aliases?); "
                             "write the values out instead of nesting aliases")
    if len(key) > MAX_DEPTH:
        raise _Invalid(node, f"values are nested more than {MAX_DEPTH} levels deep; flatten the structure")
    source.values.setdefault(key, _position(node.start_mark))
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Invalid(key_node, "merge keys (<<) are not supported; write the fields out")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise _Invalid(key_node, "a key must be plain text; quote it or rename it")
            name = key_node.value
            if name in result:
                first = source.keys[(*key, name)]
                raise _Invalid(key_node, f"duplicate key '{name}' (first at line {first[0]}); "
                                         "keep one of them")
            source.keys[(*key, name)] = _position(key_node.start_mark)
            result[name] = _build(value_node, (*key, name), source, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*key, index), source, budget) for index, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    tag, text = node.tag, node.value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return text.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        try:
            return int(_SCALARS.construct_yaml_int(node))
        except ValueError:
            return text
    if tag == "tag:yaml.org,2002:float":
        return float(_SCALARS.construct_yaml_float(node))
    if tag == "tag:yaml.org,2002:str":
        return text
    raise _Invalid(node, f"the tag {tag} is not supported; remove it")


def too_deep(text: str) -> tuple[int, int] | None:
    """Where nesting first exceeds MAX_DEPTH, from the event stream.

    libyaml's composer recurses in C: a file nested tens of thousands deep overflows the
    stack and kills the process. The event parser is a flat state machine, so the depth
    is measured here first.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return _position(event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def parse_yaml(raw: bytes, display: str) -> tuple[Any, ParsedFile, list[Diagnostic]]:
    """Parse YAML bytes read from anywhere (a file, or a git revision) named `display` in messages."""
    source = ParsedFile(display)
    if len(raw) > MAX_FILE_BYTES:
        return None, source, [Diagnostic(display, 1, 1, Severity.ERROR,
                                         f"the file is {len(raw) / 1e6:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MiB "
                                         "limit; split it or remove what does not belong")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, source, [Diagnostic(display, line, 1, Severity.ERROR, "the file is not UTF-8 text; save it as UTF-8")]
    try:
        deep = too_deep(text)
        if deep is not None:
            return None, source, [Diagnostic(display, *deep, Severity.ERROR,
                                             f"values are nested more than {MAX_DEPTH} levels deep; flatten the "
                                             "structure")]
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = _position(mark) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        return None, source, [Diagnostic(display, line, column, Severity.ERROR,
                                         f"YAML syntax error: {problem}{context}; check indentation and quoting")]
    except yaml.YAMLError as exc:
        return None, source, [Diagnostic(display, 1, 1, Severity.ERROR, f"YAML error: {exc}")]
    if len(documents) != 1 or documents[0] is None:
        count = "no document" if not documents or documents[0] is None else f"{len(documents)} documents"
        return None, source, [Diagnostic(display, 1, 1, Severity.ERROR,
                                         f"expected one YAML document, found {count}; see docs/reference.md")]
    try:
        data = _build(documents[0], (), source, [MAX_NODES])
    except _Invalid as exc:
        line, column = _position(exc.node.start_mark)
        return None, source, [Diagnostic(display, line, column, Severity.ERROR, str(exc))]
    source.data = data
    return data, source, []


