"""The public JSON (trust.json, subprocessors.json), its shape declared once; its schema is generated from it.

`trust.schema.json` (published at /schemas/) is `TrustData`'s JSON Schema; a test keeps the
committed copy equal to it. Gated documents appear by title only: never their file or its name.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from generator.content import model
from generator.site import oscal
from generator.site.structure import SiteData

SCHEMA_FILE = Path(__file__).parent / "schemas" / "trust.schema.json"


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublicCompany(_Public):
    name: str
    short_name: str | None
    tagline: str | None
    description: str | None = Field(description="Markdown.")
    website: str
    trust_center_url: str
    contacts: model.Contacts


class PublicCertification(_Public):
    id: str
    name: str = Field(description="Display name.")
    framework: model.Framework
    type: model.ReportType | None
    status: model.Status = Field(description="Derived from the dates on the day the site was built.")
    criteria: list[model.Category]
    audit_period: model.Period | None
    as_of: dt.date | None
    report_date: dt.date | None
    expected: dt.date | None
    auditor: str | None
    opinion: model.Opinion | None
    exceptions: str | None = Field(description="Markdown. Exceptions the auditor noted.")
    bridge_letter: model.BridgeLetter | None
    based_on: str | None = Field(description="SOC 3: the id of the SOC 2 Type II it summarizes.")
    standard_version: str | None
    audits: list[model.Audit]
    valid_from: dt.date | None
    valid_until: dt.date | None
    current_until: dt.date | None = Field(description="The last day the report or certificate counts as current.")
    certificate_number: str | None
    scope: str | None = Field(description="Markdown.")
    summary: str | None = Field(description="Markdown.")
    documents: list[str] = Field(description="Ids of entries in `documents`.")


class PublicControlCategory(_Public):
    id: str
    name: str
    description: str | None = Field(description="Markdown.")
    controls: list[model.Control]


class PublicSubprocessor(_Public):
    name: str
    service: str | None
    entity: str | None
    address: str | None
    affiliate: bool
    category: str | None
    purpose: str
    data_categories: list[str]
    locations: list[str] = Field(description="ISO 3166-1 alpha-2 codes, or EU, EEA, WORLDWIDE.")
    location_names: list[str] = Field(description="The locations' English names, in the same order.")
    customer_selects_location: bool = Field(description="The customer chooses one of the locations.")
    website: str | None
    added: dt.date | None = Field(description="Absent for entries older than the records.")
    announced: dt.date | None
    removed: dt.date | None
    dpa: bool | None = Field(description="Absent: not stated.")
    transfer_mechanism: str | None
    certifications: list[str]


class SubprocessorList(_Public):
    """subprocessors.json: every subprocessor in its group on the day the site was built."""

    schema_version: str = Field(pattern=r"^[0-9]+\.[0-9]+$")
    company: str
    generated: dt.date
    current: list[PublicSubprocessor]
    former: list[PublicSubprocessor]
    upcoming: list[PublicSubprocessor] = Field(description="Announced, starting on their `added` date.")


class PublicDocument(_Public):
    id: str
    title: str
    description: str | None
    access: model.Access
    updated: dt.date
    url: str | None = Field(description="Public documents only; gated ones are requested through the gate.")


class TrustData(_Public):
    """The public, machine-readable trust center published at /trust.json."""

    schema_version: str = Field(pattern=r"^[0-9]+\.[0-9]+$")
    generated: dt.date = Field(description="The day the site was built; statuses are as of this day.")
    last_updated: dt.date = Field(description="The newest date in the content.")
    company: PublicCompany
    certifications: list[PublicCertification]
    soc3: list[model.Soc3Report]
    controls: list[PublicControlCategory]
    oscal_component_definition: str = Field(
        description="Address of the controls as an OSCAL 1.1 component definition (JSON): each Trust Services "
                    "Criterion they cite, with its implementation status.")
    subprocessors: SubprocessorList
    documents: list[PublicDocument]
    faq: list[model.FaqEntry]
    updates: list[model.Update] = Field(description="Newest first.")


def subprocessor_list(data: SiteData) -> SubprocessorList:
    groups = data.subprocessors
    return SubprocessorList(
        schema_version=model.SCHEMA_VERSION, company=data.tc.company.name, generated=data.today,
        current=[_subprocessor(s) for s in groups.current],
        former=[_subprocessor(s) for s in groups.former],
        upcoming=[_subprocessor(s) for s in groups.upcoming],
    )


def trust_data(data: SiteData, document_url: dict[str, str]) -> TrustData:
    """The public model; `document_url` maps each public document's id to its address."""
    tc = data.tc
    company = tc.company
    return TrustData(
        schema_version=model.SCHEMA_VERSION,
        generated=data.today,
        last_updated=data.last_updated,
        company=PublicCompany(name=company.name, short_name=company.short_name, tagline=company.tagline,
                              description=company.description,
                              website=company.website, trust_center_url=company.trust_center_url,
                              contacts=company.contacts),
        certifications=[_certification(view.cert, view.status) for view in data.certifications],
        soc3=tc.soc3,
        controls=[PublicControlCategory(id=c.id, name=c.name, description=c.description, controls=c.controls)
                  for c in tc.controls],
        oscal_component_definition=company.trust_center_url.rstrip("/") + "/" + oscal.PATH,
        subprocessors=subprocessor_list(data),
        documents=[PublicDocument(id=d.id, title=d.title, description=d.description, access=d.access,
                                  updated=d.updated, url=document_url.get(d.id)) for d in tc.documents],
        faq=tc.faq,
        updates=data.updates,
    )


def _certification(cert: model.Certification, status: model.Status) -> PublicCertification:
    return PublicCertification(
        id=cert.id, name=cert.display_name, framework=cert.framework, type=cert.type, status=status,
        criteria=cert.criteria, audit_period=cert.audit_period, as_of=cert.as_of, report_date=cert.report_date,
        expected=cert.expected, auditor=cert.auditor, opinion=cert.opinion, exceptions=cert.exceptions,
        bridge_letter=cert.bridge_letter, based_on=cert.based_on, standard_version=cert.standard_version,
        audits=cert.audits, valid_from=cert.valid_from, valid_until=cert.valid_until,
        current_until=cert.current_until, certificate_number=cert.certificate_number, scope=cert.scope,
        summary=cert.summary, documents=cert.documents,
    )


def _subprocessor(sub: model.Subprocessor) -> PublicSubprocessor:
    return PublicSubprocessor(
        name=sub.name, service=sub.service, entity=sub.entity, address=sub.address, affiliate=sub.affiliate,
        category=sub.category, purpose=sub.purpose, data_categories=sub.data_categories, locations=sub.locations,
        location_names=[model.location_name(c) for c in sub.locations],
        customer_selects_location=sub.customer_selects_location, website=sub.website, added=sub.added,
        announced=sub.announced, removed=sub.removed, dpa=sub.dpa, transfer_mechanism=sub.transfer_mechanism,
        certifications=sub.certifications,
    )


def to_json(value: BaseModel) -> str:
    return json.dumps(value.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def schema_text() -> str:
    """trust.schema.json as generated from TrustData (the committed file must equal it)."""
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "trust.schema.json",
        **TrustData.model_json_schema(mode="serialization"),
    }
    document["title"] = "trust.json"
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
