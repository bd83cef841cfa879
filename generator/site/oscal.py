"""The controls as an OSCAL 1.1 component definition: each Trust Services Criterion they cite, with its status.

A customer's GRC tool reads OSCAL (NIST's Open Security Controls Assessment Language), not our trust.json.
The file describes one component, the company's service, and one control implementation against the AICPA
2017 Trust Services Criteria: for each criterion the controls cite, the controls that address it, their
status, and a status for the criterion derived from theirs. The mapping is the company's own account, as on
the controls page; it is not an auditor's opinion, and the file says so.

Nothing here depends on the build's day: the same content makes the same bytes, so a published file only
changes when the content does, and its UUIDs stay put (uuid5, named from the trust center's address).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from typing import Any

from generator.content import model, urls
from generator.site import pages
from generator.site.structure import SiteData

PATH = "oscal/component-definition.json"
OSCAL_VERSION = "1.1.3"  # the last 1.1 release; the tests read the file with compliance-trestle's 1.1.3 models

# Ours, fixed once: the namespace every uuid5 below is named in.
NAMESPACE = uuid.UUID("2a4b3715-99fa-417c-b2a7-6920c8e341f2")

# The namespace of our own properties is an address under the trust center's own, the way NIST's and
# FedRAMP's are under theirs (`http://csrc.nist.gov/ns/oscal`, `https://fedramp.gov/ns/oscal`). OSCAL takes any
# URI, and a URN such as `urn:uuid:...` passes NIST's schema, but compliance-trestle 3.x, the Python OSCAL
# library GRC tooling builds on, refuses a namespace without a host, and the file is written for other
# people's tools. The company's domain, because the project has none and an address under someone else's could
# change hands. An identifier: no tool fetches it, and nothing is published there.
PROPERTY_NS_PATH = "ns/oscal"


def property_ns(site: str) -> str:
    """The namespace of our properties for the trust center at `site` (its address, ending in `/`)."""
    return site + PROPERTY_NS_PATH


# The AICPA publishes the criteria as a document, not as an OSCAL catalog, and neither it nor NIST publishes
# an OSCAL catalog of them: `source` names the publication the ids come from (its page at the AICPA, the
# address commonly cited for it), and `control-id` is the AICPA's id as written there (CC6.1).
TSC_SOURCE = ("https://www.aicpa-cima.com/resources/download/"
              "2017-trust-services-criteria-with-revised-points-of-focus-2022")
TSC_TITLE = "2017 Trust Services Criteria (with revised points of focus, 2022)"

# A control's status in controls.yaml -> OSCAL's implementation-status values (implemented, partial, planned,
# alternative, not-applicable). "In progress" is under way, so partly there: `partial`.
IMPLEMENTATION_STATUS: dict[model.ControlStatus, str] = {
    model.ControlStatus.IMPLEMENTED: "implemented",
    model.ControlStatus.IN_PROGRESS: "partial",
    model.ControlStatus.PLANNED: "planned",
    model.ControlStatus.NOT_APPLICABLE: "not-applicable",
}

# Property names: `implementation-status` without a namespace (OSCAL's), as compliance-trestle reads and
# writes it on implemented requirements; the rest in ours.
STATUS_PROP = "implementation-status"
CONTROL_PROP = "control-id"
CONTROL_STATUS_PROP = "control-status"
LAST_TESTED_PROP = "last-tested"


def criterion_status(controls: list[model.Control]) -> str:
    """A criterion's implementation-status from the controls mapped to it: those that do not apply are left
    out; all of the rest implemented is `implemented`, all planned is `planned`, any other mix `partial`;
    none that applies is `not-applicable`."""
    applicable = {IMPLEMENTATION_STATUS[c.status] for c in controls} - {"not-applicable"}
    if not applicable:
        return "not-applicable"
    if len(applicable) == 1 and applicable <= {"implemented", "planned"}:
        return applicable.pop()
    return "partial"


def render(data: SiteData) -> str:
    """The published file's text."""
    return json.dumps(component_definition(data), indent=2, ensure_ascii=False) + "\n"


def component_definition(data: SiteData) -> dict[str, Any]:
    """The document, as JSON-ready values in OSCAL's own key order."""
    tc = data.tc
    company = tc.company
    site = company.trust_center_url.rstrip("/") + "/"
    linker = pages.Linker()
    controls_page = site + linker.page_url(pages.CONTROLS)
    party = _uuid(site, "party", "company")
    component: dict[str, Any] = {
        "uuid": _uuid(site, "component", "service"),
        "type": "service",
        "title": _line(company.display_name),
        "description": (_markdown(company.description, site=site, page=site) if company.description
                        else _line(f"The service {company.display_name} provides to its customers.")),
        **({"purpose": _line(company.tagline)} if company.tagline else {}),
        "links": [{"href": site, "rel": "reference", "text": _line(f"{company.display_name} Trust Center")}],
        "responsible-roles": [{"role-id": "provider", "party-uuids": [party]}],
    }
    requirements = [_requirement(criterion, [c for c in data.controls if criterion in c.criteria], site=site,
                                 controls_page=controls_page) for criterion in data.criteria]
    if requirements:  # OSCAL needs at least one: with no criterion cited, the service carries no implementation
        component["control-implementations"] = [{
            "uuid": _uuid(site, "control-implementation", "aicpa-tsc-2017"),
            "source": TSC_SOURCE,
            "description": (
                f"How the controls of {_line(company.display_name)} address the AICPA {TSC_TITLE}: for each "
                "criterion, the controls mapped to it, as its trust center publishes them. The status is the "
                "company's own account, not an auditor's opinion. There is no official OSCAL catalog of the "
                "Trust Services Criteria: `source` is the AICPA's publication, and each `control-id` is the "
                "criterion's id as the AICPA writes it."),
            "implemented-requirements": requirements,
        }]
    # The "last updated" the site shows (the newest date in the content), not the build's day; content with no
    # date OSCAL can hold has only the build's day: OSCAL's date-time takes the years 1900 to 2999, and content
    # with no date at all has date.min, year 1.
    modified = data.last_updated if data.last_updated.year >= 1900 else data.today
    metadata: dict[str, Any] = {
        "title": _line(f"{company.display_name}: security controls mapped to the Trust Services Criteria"),
        "last-modified": f"{modified.isoformat()}T00:00:00Z",
        "version": "",  # set below from the content
        "oscal-version": OSCAL_VERSION,
        "links": [{"href": site + PATH, "rel": "canonical"},
                  {"href": controls_page, "rel": "alternate", "media-type": "text/html",
                   "text": "Security controls"}],
        "roles": [{"id": "creator", "title": "Creator"}, {"id": "provider", "title": "Provider"}],
        "parties": [{"uuid": party, "type": "organization", "name": _plain(company.name),
                     **({"short-name": _plain(company.short_name)} if company.short_name else {}),
                     "links": [{"href": company.website, "rel": "website"}],
                     "email-addresses": [company.contacts.security]}],
        "responsible-parties": [{"role-id": "creator", "party-uuids": [party]}],
        "remarks": ("Generated by trustcenter from the trust center's controls. Properties in the namespace "
                    f"`{property_ns(site)}` are trustcenter's: `{CONTROL_PROP}`, `{CONTROL_STATUS_PROP}` (as in "
                    f"controls.yaml) and `{LAST_TESTED_PROP}`, grouped per control by `group`."),
    }
    body = {"metadata": metadata, "components": [component]}
    # Same content, same digest: the version and the document's UUID change exactly when the content does
    # (OSCAL asks for a new document UUID on each revision, and per-subject UUIDs that never change).
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    metadata["version"] = f"{modified.isoformat()}+{digest[:8]}"
    return {"component-definition": {"uuid": _uuid(site, "component-definition", digest), **body}}


def _requirement(criterion: str, controls: list[model.Control], *, site: str, controls_page: str) -> dict[str, Any]:
    counts = Counter(c.status for c in controls)
    tally = ", ".join(f"{counts[s]} {s.label.lower()}" for s in model.ControlStatus if counts[s])
    ns = property_ns(site)
    props: list[dict[str, str]] = [{
        "name": STATUS_PROP, "value": criterion_status(controls),
        "remarks": f"Derived from the controls mapped to {criterion}: {tally}.",
    }]
    paragraphs: list[str] = []
    for control in controls:
        group = f"control-{control.id}"  # a valid OSCAL token whatever the id (letters, digits, . _ -)
        props += [{"name": CONTROL_PROP, "ns": ns, "value": control.id, "group": group},
                  {"name": CONTROL_STATUS_PROP, "ns": ns, "value": control.status.value, "group": group}]
        tested = ""
        if control.last_tested is not None:
            props.append({"name": LAST_TESTED_PROP, "ns": ns, "value": control.last_tested.isoformat(),
                          "group": group})
            tested = f", last tested {control.last_tested.isoformat()}"
        paragraphs += [f"**{_line(control.id)} {_line(control.name)}**: {control.status.label.lower()}{tested}.",
                       _markdown(control.description, site=site, page=controls_page)]
    return {
        "uuid": _uuid(site, "implemented-requirement", "aicpa-tsc-2017", criterion),
        "control-id": criterion,
        "description": "\n\n".join(paragraphs),
        "props": props,
        "links": [{"href": f"{controls_page}#control-{c.id.lower()}", "rel": "reference",
                   "text": _line(f"{c.id} {c.name}")} for c in controls],
    }


def _uuid(site: str, *names: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join((site, *names))))


def _plain(text: str) -> str:
    """Plain text on one line (names in OSCAL's `string` fields)."""
    return " ".join(text.split())


_MARKUP = re.compile(r"[\\`*_\[\]~]|&(?=#?[A-Za-z0-9]+;)")


def _line(text: str) -> str:
    """Text for a markup-line field: on one line, every character Markdown would act on escaped, and `<` as
    `&lt;` (no tag or autolink can start), as in the multi-line fields."""
    return _MARKUP.sub(lambda m: "\\" + m[0], _plain(text)).replace("<", "&lt;")


# A link's destination, or a reference definition's: `](dest` or `]: dest`, the destination maybe in <...>.
_TARGET = re.compile(r"\]([(:])([ \t]*\n?[ \t]*)(<[^>\n]*>|[^\s)]*)")
_IMAGE = re.compile(r"!\[")


def _markdown(text: str, *, site: str, page: str) -> str:
    """Content Markdown for a markup-multiline field, as safe as the site makes it: no raw HTML (every `<`
    becomes `&lt;`, so no tag, comment or autolink survives; inside code it then shows as `&lt;`), no link to a
    scheme other than http(s) or mailto, no image loaded from anywhere (an image becomes a link to it), and
    links within the site made absolute (the file is read far from its pages). A bad link stays as the literal
    text it was written as."""

    def escaped(match: re.Match[str]) -> bool:  # after an odd run of backslashes, a character is literal
        before = match.string[:match.start()]
        return (len(before) - len(before.rstrip("\\"))) % 2 == 1

    def image(match: re.Match[str]) -> str:
        return match[0] if escaped(match) else "\\" + match[0]

    def target(match: re.Match[str]) -> str:
        if escaped(match):
            return match[0]
        kind, space, dest = match.groups()
        written = dest[1:-1] if dest.startswith("<") else dest
        allowed = urls.safe_target(written)
        if allowed is None:
            return "\\" + match[0]  # `\]` closes no link text: the link or definition is plain text
        if kind == ":" or not written:
            return match[0]
        if urls.is_local(allowed):
            written = (page if allowed.startswith("#") else site) + allowed.lstrip("/")
        return f"]({space}{written.replace(' ', '%20')}"  # no <...>: its `<` would be escaped below

    text = _TARGET.sub(target, text)
    return _IMAGE.sub(image, text).replace("<", "&lt;").strip()


def reference() -> str:
    """The section of docs/reference.md about the file, written from the constants above so it cannot drift."""
    statuses = "\n".join(f"| `{status.value}` | `{value}` |" for status, value in IMPLEMENTATION_STATUS.items())
    return f"""\
# OSCAL export

`trustcenter build` publishes the controls as an OSCAL {OSCAL_VERSION} component definition (JSON)
at `/{PATH}`, beside `trust.json`, whose field `oscal_component_definition`
gives its address; the controls page and the contact page link to it. The tests read it with
compliance-trestle's OSCAL {OSCAL_VERSION} models, generated from NIST's JSON Schema (what they check is in
[decisions.md](decisions.md#oscal-export)). What it says comes from `trust/controls.yaml` and
`trust/company.yaml`, its date from the whole content; the same content makes the same bytes: it
changes when the content does, not with the build's day (unless nothing in the content is dated).

| OSCAL | from |
| --- | --- |
| `metadata.title`, `parties[0]` | the company (`name`, `short_name`, `website`, the security contact); it is the document's `creator` |
| `metadata.last-modified` | the newest date in the content (the site's "last updated"), at 00:00 UTC; the build's day if nothing in the content is dated after 1899 (OSCAL's date-time starts in 1900) |
| `metadata.version` | that date and the first 8 hex digits of the SHA-256 of the content, e.g. `2026-09-25+1a2b3c4d` |
| `components[0]` | the company's service: `type` `service`, `title` the short name, `description` the company's description, `purpose` its tagline |
| `control-implementations[0].source` | the AICPA's publication of the {TSC_TITLE}: `{TSC_SOURCE}`. There is no official OSCAL catalog of the Trust Services Criteria |
| `implemented-requirements` | one per criterion the controls cite, in the AICPA's order; `control-id` is the criterion's id (`CC6.1`) |
| its `description` | each control mapped to the criterion: id, name, status, last tested, and its description |
| its `links` | each control's row on the controls page |
| prop `{STATUS_PROP}` (OSCAL's namespace) | the criterion's status, from its controls (below), with a remark counting them |
| props `{CONTROL_PROP}`, `{CONTROL_STATUS_PROP}`, `{LAST_TESTED_PROP}`, in namespace `<trust center address>{PROPERTY_NS_PATH}` (e.g. `{property_ns("https://trust.example.com/")}`) | each control mapped to the criterion: its id, its status as written in controls.yaml, its last_tested date; the props of one control share the `group` `control-<id>` |

A control's status and the OSCAL value it counts as:

| controls.yaml | OSCAL `{STATUS_PROP}` |
| --- | --- |
{statuses}

A criterion is `implemented` when every control mapped to it that applies is implemented, `planned`
when every one is planned, `partial` for any other mix, and `not-applicable` when none applies.

With no control mapped to any criterion (or no controls at all) the file is still published and valid:
it describes the service, with no `control-implementations`. Markdown from the content is published as
safely as the site shows it: every `<` as `&lt;` (no raw HTML), links only to http(s), mailto or the site
(made absolute), and images as links to them.
"""
