"""`trustcenter changes`: what changed in trust/ between two revisions, in words fit for a change notice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from generator.content import git, model
from generator.content.load import parse_file
from generator.content.project import Project
from generator.content.source import ContentSource, WorkTree, at_revision
from generator.gate import keys
from generator.publish import history
from generator.site.signing import DATA_KEY_ENV

# "Needs review" comes first: what a change publishes or exposes (a gated document made public, the gate's
# address, the keys the gate trusts or the site's data is signed with, who gets gated documents without asking
# and who approves the rest, checks switched off), which a reviewer must see before anything else.
REVIEW = "Needs review"
SECTIONS = (REVIEW, "Certifications", "SOC 3 reports", "Subprocessors", "Controls", "Documents", "Updates")


@dataclasses.dataclass(frozen=True)
class Change:
    section: str  # one of SECTIONS
    kind: str  # added, removed, changed, renewed, expired, withdrawn, published, status
    subject: str  # the name a reader knows it by
    summary: str  # one sentence
    details: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Report:
    since: str  # a label: short commit id, or "the empty repository"
    until: str  # a label: short commit id, or "the working tree"
    changes: list[Change]
    notes: list[str]  # what could not be seen (shallow clone, files that do not validate)

    def as_json(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "notes": self.notes,
                "changes": [dataclasses.asdict(c) | {"details": list(c.details)} for c in self.changes]}


# ---------------------------------------------------------------- comparing


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else "none"


def _places(sub: model.Subprocessor) -> str:
    names = ", ".join(model.location_name(c) for c in sub.locations)
    return f"the customer's choice of {names}" if sub.customer_selects_location else names


def _certifications(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    found: list[Change] = []
    for cert_id, cert in new.certifications.items():
        name = cert.display_name
        before = old.certifications.get(cert_id)
        status = cert.status_on(new.date)
        if before is None:
            found.append(Change("Certifications", "added", name, f"{name} added ({status.label.lower()})."))
            continue
        was = before.status_on(old.date)
        renewed = [f"{label} {_date(b)} → {_date(a)}" for label, b, a in (
            ("report date", before.report_date, cert.report_date),
            ("audit period end", before.audit_period.end if before.audit_period else None,
             cert.audit_period.end if cert.audit_period else None),
            ("as of", before.as_of, cert.as_of),
            ("valid until", before.valid_until, cert.valid_until),
        ) if b != a]
        if status is model.Status.WITHDRAWN and was is not model.Status.WITHDRAWN:
            found.append(Change("Certifications", "withdrawn", name, f"{name} withdrawn."))
        elif renewed and status is model.Status.ACTIVE:
            period = f" for {cert.audit_period.start} to {cert.audit_period.end}" if cert.audit_period else ""
            found.append(Change("Certifications", "renewed", name,
                                f"{name} renewed{period}; current until {_date(cert.current_until)}.",
                                tuple(renewed)))
        elif status is model.Status.EXPIRED and was is not model.Status.EXPIRED:
            found.append(Change("Certifications", "expired", name,
                                f"{name} expired (current until {_date(cert.current_until)})."))
        elif status != was:
            found.append(Change("Certifications", "status", name,
                                f"{name} is now {status.label.lower()} (was {was.label.lower()}).", tuple(renewed)))
        elif renewed or cert != before:
            found.append(Change("Certifications", "changed", name, f"{name} details updated.", tuple(renewed)))
    for cert_id, before in old.certifications.items():
        if cert_id not in new.certifications:
            found.append(Change("Certifications", "removed", before.display_name,
                                f"{before.display_name} removed from the trust center."))
    return found


def _soc3(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    found: list[Change] = []
    for report_id, report in new.soc3.items():
        before = old.soc3.get(report_id)
        if before is None:
            facts = [f"period {report.period.start} to {report.period.end}" if report.period else "",
                     f"{report.opinion.label.lower()} from {report.auditor}" if report.opinion and report.auditor else ""]
            said = ", ".join(fact for fact in facts if fact)
            found.append(Change("SOC 3 reports", "published", report.title,
                                f"{report.title} published" + (f": {said}." if said else ".")))
        elif before != report:
            found.append(Change("SOC 3 reports", "changed", report.title, f"{report.title} updated."))
    for report_id, before in old.soc3.items():
        if report_id not in new.soc3:
            found.append(Change("SOC 3 reports", "removed", before.title, f"{before.title} removed."))
    return found


def _subprocessors(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    found: list[Change] = []
    for key, sub in new.subprocessors.items():
        name = sub.display_name
        before = old.subprocessors.get(key)
        if before is None:
            when = ("" if sub.added is None else f" (from {sub.added})" if sub.added > new.date
                    else f" (since {sub.added})")
            data = f"; data: {', '.join(sub.data_categories)}" if sub.data_categories else ""
            found.append(Change("Subprocessors", "added", name,
                                f"{name} added as a subprocessor{when}: {sub.purpose.rstrip('.')}{data}; locations: "
                                f"{_places(sub)}."))
            continue
        if sub.removed and not before.removed:
            found.append(Change("Subprocessors", "removed", name,
                                f"{name} removed as a subprocessor (from {sub.removed})."))
            continue
        details = history.describe_subprocessor_change(before, sub)
        if details:
            found.append(Change("Subprocessors", "changed", name, f"{name} changed: {'; '.join(details)}.",
                                tuple(details)))
    for key, before in old.subprocessors.items():
        if key not in new.subprocessors:
            found.append(Change("Subprocessors", "removed", before.display_name,
                                f"{before.display_name} removed as a subprocessor (deleted from the list)."))
    return found


def _controls(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    found: list[Change] = []
    for control_id, control in new.controls.items():
        subject = f"{control_id} {control.name}"
        before = old.controls.get(control_id)
        if before is None:
            found.append(Change("Controls", "added", subject, f"{subject} added ({control.status.label.lower()})."))
        elif before.status != control.status:
            found.append(Change("Controls", "status", subject,
                                f"{subject}: status changed from {before.status.label.lower()} to "
                                f"{control.status.label.lower()}."))
        elif before != control:
            what = [field for field in ("name", "description", "criteria", "last_tested")
                    if getattr(before, field) != getattr(control, field)]
            found.append(Change("Controls", "changed", subject,
                                f"{subject} updated ({', '.join(f.replace('_', ' ') for f in what)}).", tuple(what)))
    for control_id, before in old.controls.items():
        if control_id not in new.controls:
            found.append(Change("Controls", "removed", f"{control_id} {before.name}",
                                f"{control_id} {before.name} removed."))
    return found


def _documents(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    found: list[Change] = []
    for document_id, document in new.documents.items():
        access = " (under NDA)" if document.access is model.Access.GATED else ""
        before = old.documents.get(document_id)
        if before is None:
            found.append(Change("Documents", "added", document.title, f"{document.title}{access} added."))
        elif before != document:
            found.append(Change("Documents", "changed", document.title,
                                f"{document.title}{access} updated ({document.updated})."))
    for document_id, before in old.documents.items():
        if document_id not in new.documents:
            found.append(Change("Documents", "removed", before.title, f"{before.title} removed."))
    return found


def _exposure(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    """What publishes or exposes something: every such change, said loudly."""
    found: list[Change] = []
    for document_id, document in new.documents.items():
        before = old.documents.get(document_id)
        if before is None and document.access is model.Access.PUBLIC:
            # Every newly published file is an exposure: a gated report under a new id or name looks just so.
            found.append(Change(REVIEW, "new public", document.title,
                                f"New public document {document.title}: its file {document.file} will be published "
                                "on the trust center for anyone to download."))
            continue
        if before is None or before.access is document.access:
            continue
        if document.access is model.Access.PUBLIC:
            decision = (f" Declassified on {document.declassified.on}: {document.declassified.reason}"
                        if document.declassified else " No declassification is recorded.")
            found.append(Change(REVIEW, "made public", document.title,
                                f"{document.title} made PUBLIC: its file {document.file} will be published on the "
                                f"trust center for anyone to download.{decision}"))
        else:
            found.append(Change(REVIEW, "made gated", document.title,
                                f"{document.title} is now gated: only recipients of a link get it."))
    before_company, company = old.company, new.company
    if before_company is not None and company is not None:
        for label, was, now in (("Gate address", before_company.gate_url, company.gate_url),
                                ("Trust center address", before_company.trust_center_url, company.trust_center_url)):
            if was != now:
                found.append(Change(REVIEW, "address", label,
                                    f"{label} changed from {was or 'none'} to {now or 'none'}: links and pages "
                                    "point there from now on."))
    for kid, digest in new.keys.items():
        if kid not in old.keys:
            found.append(Change(REVIEW, "key added", kid, _key_added(kid)))
        elif old.keys[kid] != digest:
            found.append(Change(REVIEW, "key replaced", kid, _key_replaced(kid)))
    for kid in old.keys:
        if kid not in new.keys:
            found.append(Change(REVIEW, "key removed", kid, _key_removed(kid)))
    if old.config is not None and new.config is not None and old.config != new.config:
        found.append(Change(REVIEW, "configuration", "mkdocs.yml",
                            "The site's configuration (mkdocs.yml) changed: its plugins, folders and options decide "
                            "what is published; read the change."))
    for suppression in new.suppressions:
        if suppression not in old.suppressions:
            scope = f" for {suppression.subject}" if suppression.subject else ""
            found.append(Change(REVIEW, "check suppressed", suppression.rule,
                                f"Check {suppression.rule} suppressed{scope}: {suppression.reason}"))
    return found


# What a key in trust/keys/ can do follows from its id (generator.gate.keys): a data key signs the site's data and
# never a link, a demo key signs links only `trustcenter demo` honours, any other key signs links the gate honours.
# The sentence says which, since "the gate will honour links signed with it" is false for the first two.

def _key_added(kid: str) -> str:
    if kid.startswith(keys.DATA_KID_PREFIX):
        return (f"Data signing key {kid} added: whoever holds its private half (meant for the deploy job's secret "
                f"{DATA_KEY_ENV}) can sign trust.json and subprocessors.json so that `trustcenter verify` accepts "
                "them as this trust center's; the gate never accepts a link signed with it. Check who holds it.")
    if kid.startswith(keys.DEMO_KID_PREFIX):
        return (f"Demo key {kid} added: only `trustcenter demo` honours links signed with it, never a production "
                "gate.")
    return f"Link signing key {kid} added: the gate will honour links signed with it."


def _key_replaced(kid: str) -> str:
    if kid.startswith(keys.DATA_KID_PREFIX):
        return (f"Data signing key {kid} replaced by a different key: trust data signed with the old one stops "
                "verifying, data signed with the new one verifies.")
    noun = "Demo key" if kid.startswith(keys.DEMO_KID_PREFIX) else "Link signing key"
    return (f"{noun} {kid} replaced by a different key: links signed with the old one stop working, links signed "
            "with the new one are honoured.")


def _key_removed(kid: str) -> str:
    if kid.startswith(keys.DATA_KID_PREFIX):
        return f"Data signing key {kid} removed: trust data signed with it stops verifying."
    noun = "Demo key" if kid.startswith(keys.DEMO_KID_PREFIX) else "Link signing key"
    return f"{noun} {kid} removed: links signed with it stop working."


ACCESS_FILE = "access.yaml"


@dataclasses.dataclass(frozen=True)
class AccessSide:
    """access.yaml at one side of a comparison: the file (None when there is none), or unreadable (it does not
    validate there, and the notes say so)."""

    file: model.AccessFile | None = None
    readable: bool = True


def access_side(source: ContentSource) -> AccessSide:
    """access.yaml as `source` has it (the snapshot does not keep it: only `changes` compares it)."""
    raw = source.read(ACCESS_FILE)
    if raw is None:
        return AccessSide()
    value, _, problems = parse_file(raw, source.display(ACCESS_FILE), model.AccessFile)
    return AccessSide(value, value is not None and not problems)


def _who(rule: model.AccessRule) -> str:
    if rule.everyone:
        return "EVERY address (anyone who confirms an e-mail address)"
    parts = []
    if rule.domains:
        parts.append(f"addresses at {', '.join(rule.domains)} and their subdomains")
    if rule.free_mail:
        parts.append("ANY free mail address (gmail.com, outlook.com, ...: anyone)")
    if rule.disposable:
        parts.append("ANY throwaway address (anyone)")
    return " or ".join(parts) or "no one"


def _rule_sentence(index: int, rule: model.AccessRule, access: model.AccessFile) -> str:
    """What one rule of access.yaml does, in words a reviewer can check."""
    label = rule.name or f"rule {index + 1}"
    who = _who(rule)
    if rule.decision is model.Decision.APPROVE:
        what = ("every gated document they ask for" if rule.documents is None
                else f"the gated documents {', '.join(rule.documents)} (of those they ask for)")
        nda = ("WITHOUT the NDA (on file)" if rule.nda is model.NdaNeed.ON_FILE
               else "after accepting the NDA")
        return (f"rule {label} APPROVES {who} at once, without staff review: {what} for "
                f"{rule.days or access.default_days} days, {nda}")
    if rule.decision is model.Decision.DENY:
        return f"rule {label} denies {who}"
    return f"rule {label} sends {who} to staff review"


def _access(old: AccessSide, new: AccessSide) -> list[Change]:
    """Who gets gated documents without asking sales, and who decides the rest: every change to access.yaml that
    widens or narrows that, said loudly (a pull request that approves everyone must not pass as a small edit)."""
    if not old.readable or not new.readable or old.file == new.file:
        return []
    subject = "access.yaml"
    if new.file is None:
        return [Change(REVIEW, "access", subject, "access.yaml removed: the request form and the staff page close "
                                                  "(grants already made stay until they end or are revoked).")]
    found: list[Change] = []
    before = old.file
    if before is None:
        found.append(Change(REVIEW, "access", subject,
                            "access.yaml added: the gate's request form opens, and anyone may ask for the gated "
                            f"documents; staff: {', '.join(new.file.staff)}; grants last up to "
                            f"{new.file.max_days} days."))
    else:
        old_staff = {address.lower() for address in before.staff}
        for address in new.file.staff:
            if address.lower() not in old_staff:
                found.append(Change(REVIEW, "staff added", address,
                                    f"Staff member {address} added to access.yaml: they can sign in at /staff, "
                                    "approve requests (any gated document) and revoke grants."))
        new_staff = {address.lower() for address in new.file.staff}
        for address in before.staff:
            if address.lower() not in new_staff:
                found.append(Change(REVIEW, "staff removed", address,
                                    f"Staff member {address} removed from access.yaml: their staff sessions end."))
        for label, was, now in (("default_days", before.default_days, new.file.default_days),
                                ("max_days", before.max_days, new.file.max_days)):
            if was != now:
                found.append(Change(REVIEW, "access", f"access.yaml {label}",
                                    f"access.yaml {label} changed from {was} to {now}: how long grants last."))
    rules_before = [] if before is None else [_rule_sentence(i, r, before) for i, r in enumerate(before.rules)]
    rules_now = [_rule_sentence(i, r, new.file) for i, r in enumerate(new.file.rules)]
    if rules_before != rules_now:
        details = tuple(f"{number}. {sentence}" for number, sentence in enumerate(rules_now, start=1))
        added = [sentence for sentence in rules_now if sentence not in rules_before]
        removed = [sentence for sentence in rules_before if sentence not in rules_now]
        said = ([f"now {sentence}" for sentence in added] + [f"no longer: {sentence}" for sentence in removed]
                or ["the same rules in another order (the first that matches decides)"])
        found.append(Change(REVIEW, "access rules", subject,
                            f"Access rules changed: {'; '.join(said)}.", details))
    return found


def _updates(old: history.Snapshot, new: history.Snapshot) -> list[Change]:
    return [Change("Updates", "published", update.title, f"Announcement “{update.title}” ({update.date}).")
            for slug, update in new.updates.items() if slug not in old.updates]


def compare(old: history.Snapshot, new: history.Snapshot,
            access: tuple[AccessSide, AccessSide] = (AccessSide(), AccessSide())) -> list[Change]:
    """Every change a customer would want to hear about, grouped by section in SECTIONS order; before them, what a
    reviewer must see (access: access.yaml at each side, which snapshots do not keep)."""
    return [*_exposure(old, new), *_access(*access), *_certifications(old, new), *_soc3(old, new),
            *_subprocessors(old, new), *_controls(old, new), *_documents(old, new), *_updates(old, new)]


def changes(project: Project, since: str | None = None, until: str | None = None,
            today: dt.date | None = None) -> Report:
    """Compare the content at `since` (default: see git.default_since) with `until` (default: the working tree).

    Raises GitError (NotARepository, UnknownRevision) with a sentence for the user.
    """
    today = today or dt.date.today()
    root = project.root
    git.require_repository(root)
    notes: list[str] = []
    new_source: ContentSource = (WorkTree(project, today) if until is None
                                 else at_revision(project, git.resolve(root, until)))
    new = history.snapshot(new_source)
    if since is not None:
        since_commit: str | None = git.resolve(root, since)
    elif git.has_commits(root):
        since_commit = git.default_since(root)
        if since_commit is None and git.is_shallow(root):
            head = git.resolve(root, "HEAD")[:12]
            notes.append(f"history before {head} is not available in this shallow clone; fetch it with "
                         "`git fetch --unshallow` (or check out with fetch-depth: 0) to see what changed")
            return Report(head, new.label, [], notes)
    else:
        since_commit = None
    old_access = AccessSide()
    if since_commit is None:
        old = history.empty_snapshot("the empty repository", today)
    else:
        old_source = at_revision(project, since_commit)
        old = history.snapshot(old_source)
        old_access = access_side(old_source)
    for snap in (old, new):
        for path in snap.unreadable:
            notes.append(f"{path} is missing or does not validate at {snap.label}; its changes are not shown "
                         "(run `trustcenter check`)")
    return Report(old.label, new.label, compare(old, new, (old_access, access_side(new_source))), notes)


# ---------------------------------------------------------------- rendering


def _grouped(report: Report) -> list[tuple[str, list[Change]]]:
    return [(section, [c for c in report.changes if c.section == section]) for section in SECTIONS
            if any(c.section == section for c in report.changes)]


def render_text(report: Report) -> str:
    lines = [f"Trust center changes from {report.since} to {report.until}:"]
    if not report.changes:
        lines.append("  no changes to certifications, SOC 3 reports, subprocessors, controls, documents or updates")
    for section, found in _grouped(report):
        lines.append(f"\n{section}")
        lines += [f"  - {change.summary}" for change in found]
    lines += [f"\nnote: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # Content text goes into a pull-request comment: keep it from becoming markup or HTML there.
    for char in "\\`*_[]<>|#":
        text = text.replace(char, "\\" + char)
    return text


_KIND_LABELS = {"status": "Status changed", "made public": "Made PUBLIC"}


def _ref(label: str) -> str:
    return f"`{label}`" if all(c in "0123456789abcdef" for c in label) else label


def render_markdown(report: Report) -> str:
    lines = ["## Trust center changes", "", f"From {_ref(report.since)} to {_ref(report.until)}."]
    if not report.changes:
        lines += ["", "No changes to certifications, SOC 3 reports, subprocessors, controls, documents or updates."]
    for section, found in _grouped(report):
        lines += ["", f"### {section}", ""]
        lines += [f"- **{_KIND_LABELS.get(change.kind, change.kind.capitalize())}**: {_md(change.summary)}"
                  for change in found]
    if report.notes:
        lines += [""] + [f"> **Note:** {_md(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render(report: Report, style: str) -> str:
    if style == "json":
        return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"
    return render_markdown(report) if style == "markdown" else render_text(report)
