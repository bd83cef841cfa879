"""The OSCAL export: the controls as an OSCAL 1.1.3 component definition, read by compliance-trestle's models.

compliance-trestle (OSCAL Compass) is the Python OSCAL library GRC tooling builds on; its 3.x models are
generated from NIST's OSCAL 1.1.3 JSON schema (by datamodel-code-generator, on pydantic's version 1 API).
Reading the file with `trestle.oscal.component.Model` checks what the schema checks for: no field OSCAL lacks
(extra fields are forbidden at every level), every required field, objects, arrays and strings where OSCAL
has them, UUIDs of version 4 or 5, OSCAL's closed lists of values (a party's `type`), e-mail addresses, and
the patterns of OSCAL's string and token types, with the differences below.

The models are not the schema. This module adds three checks where they fall short of it, and claims
nothing else:

- pydantic 1 converts where the schema refuses: a number to a string, `null` to an absent field, a number of
  seconds to a date-time. So the document must come back from the model as written (`_changed`): anything
  converted on the way is an error. A date-time may come back in trestle's spelling (`.000+00:00` for `Z`)
  if it was written with its time zone and is the same instant.
- Every array of the schema has at least one item; the models take an empty one.
- `implementation-status` is a property, whose value no schema constrains: it must be one of the states
  OSCAL allows an implementation status (trestle's `State`: implemented, partial, planned, alternative,
  not-applicable).

Not checked, where the schema is stricter than the models: patterns run by Python's `re`, not as ECMAScript
(`$` also matches before a final newline, `.` also matches U+2028); tokens as XML name characters, not the
schema's Unicode letters and digits (\\p{L}, \\p{N}), so a token may start with a non-ASCII digit and may
not contain a letter beyond U+FFFF; `href` and `source` as any string, not checked as URI references; a
date-time's exact spelling (a space for `T` and a year before 1900 pass). The export keeps these by
construction: text on one line (runs of white space joined), ASCII ids (controls.yaml's pattern and the
AICPA's), absolute https links and dates of the content's own. Where the models are stricter than the
schema, the file follows them: a property namespace must be a URL with a host (a URN passes the schema, not
trestle), so ours is one. OSCAL's Metaschema constraints beyond the schema (references between ids) are in
neither; the file keeps them by construction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trestle.oscal
from pydantic.v1 import ValidationError
from support import copy_demo, edit, run_cli
from trestle.oscal.common import State
from trestle.oscal.component import Model

from generator.content import model
from generator.content.project import Project
from generator.content.validate import load_valid
from generator.site import oscal, outputs, structure

SITE = "https://trust.halyard.example/"  # the demo's trust center
OSCAL_NS = "http://csrc.nist.gov/ns/oscal"  # a property without `ns` is in OSCAL's own namespace
STATES = {state.value for state in State}


def oscal_errors(document: Any) -> list[str]:
    """Every way the document fails OSCAL 1.1.3 as checked here, as `/path: message`."""
    if not isinstance(document, dict):
        return ["/: an OSCAL document is an object"]
    try:
        # Model(**document), not Model.parse_obj: trestle's parse_obj turns an error in `oscal-version` into an
        # exception without its place in the document.
        parsed = Model(**document)
    except ValidationError as error:
        return [f"/{'/'.join(str(part) for part in e['loc'] if part != '__root__')}: {e['msg']}"
                for e in error.errors()]

    def encode(value: Any) -> Any:
        # trestle's own encoding, except where it raises: for a date-time without a time zone, with no place in
        # the document. Written out marked instead, `_changed` reports it where it is.
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return f"{value.isoformat()} (no time zone)"
        return Model.__json_encoder__(value)

    read = json.loads(parsed.json(by_alias=True, exclude_none=True, encoder=encode))
    return [*_changed(document, read, ""), *_beyond_the_models(document)]


class _Absent:
    def __repr__(self) -> str:
        return "nothing"


_ABSENT = _Absent()


def _changed(written: Any, read: Any, path: str) -> Iterator[str]:
    """Where the model read something other than what is written: what pydantic 1 converted on the way."""
    if isinstance(written, dict) and isinstance(read, dict):
        for key in sorted(written.keys() | read.keys()):
            yield from _changed(written.get(key, _ABSENT), read.get(key, _ABSENT), f"{path}/{key}")
    elif isinstance(written, list) and isinstance(read, list) and len(written) == len(read):
        for index, (one, other) in enumerate(zip(written, read, strict=True)):
            yield from _changed(one, other, f"{path}/{index}")
    elif (type(written) is not type(read) or written != read) and not _same_instant(written, read):
        yield f"{path}: written {written!r}, read as {read!r}"


def _same_instant(written: Any, read: Any) -> bool:
    """A date-time written with its time zone and read back as the same instant, in trestle's spelling."""
    if not (isinstance(written, str) and isinstance(read, str)):
        return False
    try:
        when, back = dt.datetime.fromisoformat(written), dt.datetime.fromisoformat(read)
    except ValueError:
        return False
    return when.tzinfo is not None and when == back


def _beyond_the_models(document: Any) -> Iterator[str]:
    """What NIST's schema or OSCAL asks and trestle's models leave out: no empty array (every array of the
    schema has `minItems: 1`), and an `implementation-status` property (OSCAL's namespace) with one of the
    states OSCAL allows."""
    for path, node in _nodes(document, ""):
        if isinstance(node, list) and not node:
            yield f"{path}: an empty array"
        if (isinstance(node, dict) and node.get("name") == oscal.STATUS_PROP and node.get("ns", OSCAL_NS) == OSCAL_NS
                and node.get("value") not in STATES):
            yield f"{path}/value: {node.get('value')!r} is not one of OSCAL's implementation states"


def _nodes(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, f"{path}/{index}")


def _walk(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from _walk(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, key)


def test_the_models_are_of_the_oscal_version_the_export_declares() -> None:
    assert trestle.oscal.OSCAL_VERSION == oscal.OSCAL_VERSION


# ---------------------------------------------------------------- the published file

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, built once by `trustcenter build` for the read-only tests of this module."""
    project = copy_demo(tmp_path_factory.mktemp("oscal") / "project")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    return project


def _published(built: Path) -> dict[str, Any]:
    return dict(json.loads((built / "site" / oscal.PATH).read_text(encoding="utf-8")))


def _requirements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    component = document["component-definition"]["components"][0]
    implementations = component.get("control-implementations", [])
    return {r["control-id"]: r for i in implementations for r in i["implemented-requirements"]}


def _props(requirement: dict[str, Any], name: str, ns: str | None = oscal.property_ns(SITE)) -> list[dict[str, Any]]:
    return [p for p in requirement["props"] if p["name"] == name and p.get("ns") == ns]


def test_the_published_file_is_valid_oscal(built: Path) -> None:
    document = _published(built)
    assert oscal_errors(document) == []
    assert document["component-definition"]["metadata"]["oscal-version"] == "1.1.3"
    assert set(_walk(document, "ns")) == {f"{SITE}ns/oscal"}  # our namespace: a URL under the trust center's


_REQUIREMENT = "/component-definition/components/0/control-implementations/0/implemented-requirements/0"
_METADATA = "/component-definition/metadata"
_REMOVE = object()


def _at(document: dict[str, Any], pointer: str) -> tuple[Any, Any]:
    """The object or array holding what the JSON pointer names, and its key or index there."""
    *parents, key = pointer.split("/")[1:]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, int(key) if isinstance(node, list) else key


@pytest.mark.parametrize(("case", "pointer", "value"), [
    ("a field OSCAL lacks", f"{_METADATA}/colour", "blue"),
    ("a UUID of no RFC 4122 version", "/component-definition/uuid", "00000000-0000-0000-0000-000000000000"),
    ("a required field missing", f"{_METADATA}/title", _REMOVE),
    ("the OSCAL version as a number", f"{_METADATA}/oscal-version", 1.1),
    ("a string as a number", f"{_METADATA}/version", 2),
    ("null for an optional string", f"{_METADATA}/remarks", None),
    ("a date-time without its time zone", f"{_METADATA}/last-modified", "2026-09-25T00:00:00"),
    ("a date-time as a number", f"{_METADATA}/last-modified", 0),
    ("a party type outside OSCAL's values", f"{_METADATA}/parties/0/type", "company"),
    ("an e-mail address that is none", f"{_METADATA}/parties/0/email-addresses/0", "security"),
    ("a criterion id that is no token", f"{_REQUIREMENT}/control-id", "6.1"),
    ("an implementation status OSCAL lacks", f"{_REQUIREMENT}/props/0/value", "done"),
    ("an empty array", f"{_REQUIREMENT}/links", []),
])
def test_the_validator_finds_each_break_where_it_is(built: Path, case: str, pointer: str, value: object) -> None:
    # The check is not vacuous: each break of the published file is found at its place, and nothing else is.
    document = _published(built)
    holder, key = _at(document, f"{_REQUIREMENT}/props/0/name")
    assert holder[key] == oscal.STATUS_PROP  # the premise of the last case
    holder, key = _at(document, pointer)
    if value is _REMOVE:
        del holder[key]
    else:
        holder[key] = value
    assert [error.split(": ")[0] for error in oscal_errors(document)] == [pointer], case


def test_every_control_is_under_each_criterion_it_cites_with_its_status(built: Path) -> None:
    tc = load_valid(Project.at(built))
    requirements = _requirements(_published(built))
    controls = [c for category in tc.controls for c in category.controls]
    cited = [c for c in controls if c.criteria]
    assert cited, "the demo maps controls to criteria"
    for control in cited:
        for criterion in control.criteria:
            requirement = requirements[criterion]
            group = [p for p in requirement["props"] if p.get("group") == f"control-{control.id}"]
            values = {p["name"]: p["value"] for p in group}
            assert values[oscal.CONTROL_PROP] == control.id
            assert values[oscal.CONTROL_STATUS_PROP] == control.status.value
            assert values.get(oscal.LAST_TESTED_PROP) == (control.last_tested.isoformat() if control.last_tested
                                                          else None)
            assert f"#control-{control.id.lower()}" in " ".join(link["href"] for link in requirement["links"])
    assert set(requirements) == {criterion for c in controls for criterion in c.criteria}


def test_each_criterion_gets_its_status_from_its_controls(built: Path) -> None:
    tc = load_valid(Project.at(built))
    controls = {c.id: c for category in tc.controls for c in category.controls}
    for criterion, requirement in _requirements(_published(built)).items():
        mapped = [controls[p["value"]] for p in _props(requirement, oscal.CONTROL_PROP)]
        (status,) = _props(requirement, oscal.STATUS_PROP, ns=None)
        assert status["value"] == oscal.criterion_status(mapped), criterion


def _control(status: str) -> model.Control:
    return model.Control(id="X-1", name="X", description="X", status=model.ControlStatus(status))


@pytest.mark.parametrize(("statuses", "expected"), [
    (["implemented"], "implemented"),
    (["implemented", "not_applicable"], "implemented"),
    (["implemented", "in_progress"], "partial"),
    (["implemented", "planned"], "partial"),
    (["in_progress"], "partial"),
    (["planned", "in_progress"], "partial"),
    (["planned", "planned"], "planned"),
    (["planned", "not_applicable"], "planned"),
    (["not_applicable"], "not-applicable"),
])
def test_a_criterions_status_follows_the_controls_that_apply(statuses: list[str], expected: str) -> None:
    assert oscal.criterion_status([_control(s) for s in statuses]) == expected


def test_trust_json_names_the_file_and_the_pages_link_to_it(built: Path) -> None:
    site = built / "site"
    trust = json.loads((site / "trust.json").read_text(encoding="utf-8"))
    assert trust["oscal_component_definition"] == "https://trust.halyard.example/oscal/component-definition.json"
    assert trust["oscal_component_definition"] == _published(built)["component-definition"]["metadata"]["links"][0][
        "href"]
    for page, href in (("controls/index.html", "../oscal/component-definition.json"),
                       ("contact/index.html", "../oscal/component-definition.json")):
        assert f'href="{href}"' in (site / page).read_text(encoding="utf-8"), page


# ---------------------------------------------------------------- stable, and safe with any content

@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "project")


def _document(project: Path, today: dt.date | None = None) -> dict[str, Any]:
    data = structure.build(load_valid(Project.at(project), today=today))
    return dict(json.loads(outputs.render_outputs(data)[oscal.PATH]))


def test_the_same_content_makes_the_same_bytes_on_another_day(project: Path) -> None:
    def text(today: dt.date) -> str:
        return oscal.render(structure.build(load_valid(Project.at(project), today=today)))

    # From the newest date in the content to today, nothing in the content changes: nor may the file.
    today = dt.date.today()
    newest = load_valid(Project.at(project), today=today).last_updated
    assert newest < today, "two different days, or the test proves nothing"
    assert text(newest) == text(today)


def test_a_content_change_is_a_new_version_while_the_subjects_keep_their_uuids(project: Path) -> None:
    before = _document(project)
    edit(project / "trust" / "controls.yaml", "status: implemented", "status: in_progress")
    after = _document(project)
    old, new = before["component-definition"], after["component-definition"]
    assert old["uuid"] != new["uuid"]  # OSCAL: a revised document is a new document instance
    assert old["metadata"]["version"] != new["metadata"]["version"]
    assert old["components"][0]["uuid"] == new["components"][0]["uuid"]
    assert ({r["control-id"]: r["uuid"] for r in _requirements(before).values()}
            == {r["control-id"]: r["uuid"] for r in _requirements(after).values()})
    assert oscal_errors(after) == []


def test_every_uuid_is_a_version_5_uuid_and_unique(built: Path) -> None:
    document = _published(built)
    found = [value for key in ("uuid",) for value in _walk(document, key)]
    assert len(found) == len(set(found)) > 2
    assert all(uuid.UUID(value).version == 5 for value in found)


def test_no_controls_publishes_a_valid_file_with_the_service_and_no_implementation(project: Path) -> None:
    (project / "trust" / "controls.yaml").write_text("categories: []\n", encoding="utf-8")
    document = _document(project)
    assert oscal_errors(document) == []
    component = document["component-definition"]["components"][0]
    assert component["type"] == "service"
    assert "control-implementations" not in component


@pytest.mark.parametrize("last_tested", [None, dt.date(1899, 12, 31)])
def test_content_with_no_date_oscal_can_hold_is_last_modified_on_the_build_day(project: Path,
                                                                                last_tested: dt.date | None) -> None:
    tc = load_valid(Project.at(project))
    control = model.Control(id="ZZ-3", name="Undated", description="No date.", status=model.ControlStatus.PLANNED,
                            criteria=["CC1.1"], last_tested=last_tested)
    undated = tc.model_copy(update={
        "certifications": [], "documents": [], "updates": [], "soc3": [],
        "subprocessors": model.SubprocessorsFile(subprocessors=[]),
        "controls": [model.ControlCategory(id="only", name="Only", controls=[control])]})
    assert undated.last_updated == (last_tested or dt.date.min)  # the premise: no date after 1899 in the content
    document = json.loads(oscal.render(structure.build(undated)))
    assert oscal_errors(document) == []
    assert document["component-definition"]["metadata"]["last-modified"] == f"{tc.today.isoformat()}T00:00:00Z"


def _with_control(project: Path, control: model.Control) -> dict[str, Any]:
    """The document for the project's content with one more control, put past the checks: what the export
    does with it must not depend on `trustcenter check` having refused it first."""
    tc = load_valid(Project.at(project))
    extra = model.ControlCategory(id="extra", name="Extra", controls=[control])
    data = structure.build(tc.model_copy(update={"controls": [extra, *tc.controls]}))
    return dict(json.loads(oscal.render(data)))


def test_content_markup_is_published_inert(project: Path) -> None:
    control = model.Control(
        id="ZZ-1", name="Bold *claim* <img src=x onerror=alert(1)> [x](javascript:alert(2))",
        description=("<script>alert(3)</script> and [a link](javascript:alert(4)) and [also](JaVa&#115;cript:alert(5))\n"
                     "and ![tracker](https://evil.example/pixel.png) and [our feed](feed.xml) and [above](#top)\n"
                     "and <https://example.test/autolink> and [ref][r] and \\](javascript:alert(6)).\n\n"
                     "[r]: javascript:alert(7)\n"),
        status=model.ControlStatus.IN_PROGRESS, criteria=["CC6.1"])
    document = _with_control(project, control)
    assert oscal_errors(document) == []
    requirement = _requirements(document)["CC6.1"]
    description = requirement["description"]
    hostile = description[description.index("**ZZ-1"):]
    assert "<" not in hostile  # no tag, comment or autolink: every < is &lt;
    assert "&lt;script>alert(3)&lt;/script>" in hostile
    assert "&lt;https://example.test/autolink>" in hostile
    # A javascript: target follows an escaped bracket, so no link forms, however it is spelt.
    assert "[a link\\](javascript:alert(4))" in hostile
    assert "[also\\](JaVa&#115;cript:alert(5))" in hostile
    assert "[r\\]: javascript:alert(7)" in hostile
    assert " \\](javascript:alert(6))" in hostile  # literal as written: not escaped twice into a live bracket
    assert "\\![tracker](https://evil.example/pixel.png)" in hostile  # a link to the image, nothing loads
    # Links within the site are absolute: the file is read far from the pages.
    assert "[our feed](https://trust.halyard.example/feed.xml)" in hostile
    assert "[above](https://trust.halyard.example/controls/#top)" in hostile
    # The name is markup-line text: escaped and on one line, in the description and in the link text.
    name = "Bold \\*claim\\* &lt;img src=x onerror=alert(1)> \\[x\\](javascript:alert(2))"
    assert f"**ZZ-1 {name}**: in progress." in hostile
    (link,) = [link for link in requirement["links"] if link["href"].endswith("#control-zz-1")]
    assert link["text"] == f"ZZ-1 {name}"


def test_text_on_several_lines_stays_valid_where_oscal_wants_one_line(project: Path) -> None:
    control = model.Control(id="ZZ-2", name="Two\nlines", description="One.\n\nTwo.",
                            status=model.ControlStatus.PLANNED, criteria=["A1.2"])
    document = _with_control(project, control)
    assert oscal_errors(document) == []
    (link,) = [link for link in _requirements(document)["A1.2"]["links"] if link["href"].endswith("#control-zz-2")]
    assert link["text"] == "ZZ-2 Two lines"
