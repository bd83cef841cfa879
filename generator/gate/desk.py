"""The access desk: what happens to a request from the form to a grant, and to a grant until it ends. The request
form, the staff page and the CLI all act through it, so each step records the same audit event, sends the same
e-mails and webhook events, and commits them together with the change (one transaction).

    submit ──> unconfirmed ──confirm (the address is the requester's)──> rules of access.yaml
                                  ├─ approve: a grant, its link mailed ───────────────> approved
                                  ├─ deny: the requester told ────────────────────────> denied
                                  └─ review: staff told ─> pending ─approve/deny by staff─┘
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from generator.content import model
from generator.errors import AccessError, StoreError
from generator.gate import audit, mail, policy, webhooks
from generator.gate.audit import Event, Kind
from generator.gate.db import Tx
from generator.gate.grants import CONFIRM_HOURS, AccessRequest, Grant, RequestStatus, parse_stamp
from generator.gate.store import Store

# Confirmation links mailed for one request at most (the first and two more as the address asks again): whoever
# types a stranger's address into the form reaches their mailbox this often a day, however many networks they use.
MAX_CONFIRMATION_MAILS = 3
# The audit details of a request that mailed a confirmation link (counted against MAX_CONFIRMATION_MAILS).
MAILED_NEW = "request received; confirmation mailed"
MAILED_AGAIN = "asked again: added to the open request; a new confirmation mailed"


@dataclasses.dataclass(frozen=True)
class RequestForm:
    """What a requester sent, already checked and normalized by the form."""

    email: str
    name: str
    company: str
    documents: tuple[str, ...]
    reason: str | None
    nda_on_file: bool


@dataclasses.dataclass(frozen=True)
class Visitor:
    """Where an action came from, for the audit."""

    ip: str | None = None
    user_agent: str | None = None
    browser: str | None = None
    client: str | None = None  # the network the form's limits count (an IPv4 address or an IPv6 /64)


@dataclasses.dataclass(frozen=True)
class Confirmed:
    request: AccessRequest
    verdict: policy.Verdict | None  # None: the request was confirmed before (the same link followed again)
    grant: Grant | None = None


class Desk:
    """One gate's (or one CLI command's) view: the store, the content as now, where links point, who sends."""

    def __init__(self, store: Store, content: model.TrustCenter, *, base_url: str, sender: mail.Sender | None) -> None:
        self.store = store
        self.content = content
        self.base_url = base_url.rstrip("/")
        self.sender = sender

    # ------------------------------------------------ addresses

    def confirm_url(self, token: str) -> str:
        return f"{self.base_url}/request/confirm/{token}"

    def grant_url(self, token: str) -> str:
        return f"{self.base_url}/grant/{token}"

    def staff_url(self) -> str:
        return f"{self.base_url}/staff"

    @property
    def access(self) -> model.AccessFile:
        if self.content.access is None:
            raise AccessError(f"there is no {self.content.root.name}/access.yaml: access requests are closed")
        return self.content.access

    def _titles(self, documents: Sequence[str]) -> list[str]:
        found = {d.id: d.title for d in self.content.documents}
        return [found.get(doc, doc) for doc in documents]

    def send_mail(self, tx: Tx, to: str, subject: str, template: str, unsubscribe: str | None = None, *,
                  expires: dt.datetime | str | None = None, **context: object) -> None:
        """Queue one e-mail from templates/mail/<template>.txt (and .html), in the caller's transaction; the
        templates also get company, contact, trust_center_url and `expires`. `expires` (a time, or a stamp as
        stored): when the link in the message stops working; the worker fails the message after that rather
        than mail a dead link."""
        if self.sender is None:
            raise AccessError("e-mail is not configured (TRUSTCENTER_SMTP_URL); the gate cannot send this message")
        until = parse_stamp(expires) if isinstance(expires, str) else expires
        company = self.content.company
        mail.queue(self.store.outbox, tx, mail.Mail(to, subject, template, {
            "company": company.display_name, "contact": company.contacts.sales or company.contacts.security,
            "trust_center_url": company.trust_center_url, "expires": until, **context}, unsubscribe), self.sender,
            expires=until)

    def webhook(self, tx: Tx, event_type: str, **data: object) -> None:
        """Queue a webhook event in the caller's transaction, for every endpoint that wants it: the gate's worker
        knows which do (`webhooks.emit`), so a CLI command without the webhooks file loses none."""
        webhooks.emit(self.store.outbox, tx, event_type, data)

    # ------------------------------------------------ the requester

    def submit(self, form: RequestForm, visitor: Visitor) -> AccessRequest:
        """Record a request (or add to the same address's open one) and mail the confirmation link.

        Anyone can type anyone's address, so the form must not become a way to fill a stranger's mailbox or to
        rewrite their request: an unconfirmed request takes additions (with a new link, the old one dies) until
        MAX_CONFIRMATION_MAILS links were mailed for it, then nothing changes and nothing is sent; a confirmed
        request (pending review) is never changed by the form: asking again starts a new request, which has to
        be confirmed on its own."""
        _ = self.access  # closed without access.yaml
        store = self.store
        with store.db.write() as tx:
            existing = store.access.open_request_of(tx, form.email)
            token: str | None
            if existing is None or existing.status is not RequestStatus.UNCONFIRMED:
                request, token = store.access.create_request(
                    tx, email=form.email, name=form.name, company=form.company, documents=form.documents,
                    reason=form.reason, nda_on_file=form.nda_on_file, ip=visitor.client or visitor.ip)
                detail = MAILED_NEW
            elif _confirmations_mailed(tx, existing.id) >= MAX_CONFIRMATION_MAILS:
                request, token = existing, None
                detail = f"asked again: {MAX_CONFIRMATION_MAILS} confirmations were mailed already; nothing changed"
            else:
                request, token = store.access.add_to_request(
                    tx, existing, name=form.name, company=form.company, documents=form.documents,
                    reason=form.reason, nda_on_file=form.nda_on_file)
                detail = MAILED_AGAIN
            store.log.append(tx, Event(Kind.REQUESTED, request_id=request.id, recipient=form.email, name=form.name,
                                       company=form.company, document=",".join(request.documents), ip=visitor.ip,
                                       user_agent=visitor.user_agent, browser=visitor.browser, detail=detail))
            if token is not None:
                # No text from the form in it: the address is not confirmed yet, so whoever typed the name could
                # otherwise put their words (a link, a phone number) into a message from the company to anyone.
                self.send_mail(tx, form.email, f"Confirm your request for {self.content.company.display_name}'s documents",
                           "confirm", url=self.confirm_url(token), documents=self._titles(request.documents),
                           hours=CONFIRM_HOURS, expires=request.confirm_expires)
        return request

    def pending_confirmation(self, token: str) -> AccessRequest | None:
        """The unconfirmed request a confirmation token belongs to (for the page that asks for the click)."""
        return self.store.access.request_by_confirm_token(self.store.db.read(), token)

    def confirm(self, token: str, visitor: Visitor) -> Confirmed | None:
        """The requester clicked the confirmation: the address is theirs. The rules decide, or staff are told.
        None if the token is unknown or expired."""
        store = self.store
        with store.db.write() as tx:
            request = store.access.request_by_confirm_token(tx, token)
            if request is None or request.status is not RequestStatus.UNCONFIRMED:
                return None
            if not store.access.confirm(tx, request):
                return None
            store.log.append(tx, Event(Kind.CONFIRMED, request_id=request.id, recipient=request.email,
                                       ip=visitor.ip, user_agent=visitor.user_agent, browser=visitor.browser))
            self.webhook(tx, "access_request.received", **_request_data(request))
            request = store.access.request(tx, request.id)
            verdict = policy.decide(self.access, request.email, self._still_gated(request.documents))
            if verdict.decision is model.Decision.APPROVE:
                grant = self._approve(tx, request, verdict.by, verdict.documents, verdict.days, verdict.nda_on_file)
                return Confirmed(store.access.request(tx, request.id), verdict, grant)
            if verdict.decision is model.Decision.DENY:
                self._deny(tx, request, verdict.by, f"{verdict.rule}: {verdict.message or 'denied by rule'}",
                           verdict.message)
                return Confirmed(store.access.request(tx, request.id), verdict)
            self.send_mail(tx, request.email, f"Your request to {self.content.company.display_name} is being reviewed",
                       "received", name=request.name, documents=self._titles(request.documents))
            if self.access.notify_staff:
                for address in self.access.staff:
                    self.send_mail(tx, address, f"Access request to review: {mail.one_line(request.company, 80)}",
                               "review", request=request, documents=self._titles(request.documents),
                               url=self.staff_url())
            return Confirmed(request, verdict)

    def _still_gated(self, documents: Sequence[str]) -> list[str]:
        gated = {d.id for d in self.content.gated_documents}
        return [doc for doc in documents if doc in gated]

    # ------------------------------------------------ staff and rules

    def approve(self, request_id: str, by: str, *, documents: Sequence[str] | None = None, days: int | None = None,
                nda_on_file: bool = False) -> Grant:
        """Approve a pending request (staff, or the CLI): a grant, its link mailed to the requester. Without
        `documents`, those asked for that are still gated; the NDA is required unless the approver says one is on
        file (the requester's own claim is only shown to them)."""
        access = self.access
        days = access.default_days if days is None else days
        with self.store.db.write() as tx:
            request = self._pending(tx, request_id)
            chosen = list(self._still_gated(request.documents) if documents is None else documents)
            gated = {d.id for d in self.content.gated_documents}
            unknown = [doc for doc in chosen if doc not in gated]
            if unknown:
                raise AccessError(f"not a gated document: {', '.join(unknown)}; choose from {', '.join(sorted(gated))}")
            if not chosen:
                raise AccessError("choose at least one document to grant, or deny the request")
            return self._approve(tx, request, by, tuple(chosen), days, nda_on_file)

    def deny(self, request_id: str, by: str, reason: str) -> AccessRequest:
        with self.store.db.write() as tx:
            request = self._pending(tx, request_id)
            self._deny(tx, request, by, reason, None)
            return self.store.access.request(tx, request.id)

    def revoke_grant(self, grant_id: str, by: str, reason: str) -> bool:
        """Withdraw a grant at once; False if it already was. Its link then answers 410."""
        store = self.store
        grant = store.access.grant(grant_id)
        if grant is None:
            raise AccessError(f"there is no grant {grant_id}; `trustcenter grants list` shows them")
        with store.db.write() as tx:
            if audit.revocation_in(tx, grant_id=grant_id) is not None:
                return False
            store.log.append(tx, Event(Kind.REVOKED, grant_id=grant_id, request_id=grant.request_id,
                                       recipient=grant.email, actor=by, detail=reason))
            self.webhook(tx, "grant.revoked", grant_id=grant_id, email=grant.email, company=grant.company,
                          by=by, reason=reason)
        return True

    def revoke_link(self, link_id: str, by: str, reason: str) -> bool:
        """Withdraw a sales link at once, and tell webhooks (`Store.revoke_link`); False if it already was."""
        return self.store.revoke_link(link_id, reason, actor=by)

    def downloaded(self, tx: Tx, *, document: str, email: str, company: str | None, link_id: str | None = None,
                   grant_id: str | None = None) -> None:
        """Tell webhooks of a download (in the download's own transaction)."""
        self.webhook(tx, "document.downloaded", document=document, email=email, company=company, link_id=link_id,
                      grant_id=grant_id)

    def _pending(self, tx: Tx, request_id: str) -> AccessRequest:
        try:
            request = self.store.access.request(tx, request_id)
        except StoreError:
            raise AccessError(f"there is no request {request_id}; `trustcenter requests list` shows them") from None
        if request.status is not RequestStatus.PENDING:
            raise AccessError(f"request {request_id} is {request.status.value}, not pending; only a pending request "
                            "can be approved or denied")
        return request

    def _approve(self, tx: Tx, request: AccessRequest, by: str, documents: Sequence[str], days: int,
                 nda_on_file: bool) -> Grant:
        # Every approval, by a rule or a person, within max_days (the rules' checks ensure it for rules; this holds
        # whatever calls it).
        if not 1 <= days <= self.access.max_days:
            raise AccessError(f"a grant lasts 1 to {self.access.max_days} days (max_days in access.yaml), not {days}")
        store = self.store
        grant, token = store.access.create_grant(tx, email=request.email, name=request.name, company=request.company,
                                                 documents=documents, days=days, nda_on_file=nda_on_file,
                                                 approved_by=by, request_id=request.id)
        store.access.decide(tx, request, RequestStatus.APPROVED, by, None, grant.id)
        store.log.append(tx, Event(Kind.APPROVED, request_id=request.id, grant_id=grant.id, recipient=request.email,
                                   company=request.company, document=",".join(documents), actor=by,
                                   detail=f"{days} days{', NDA on file' if nda_on_file else ''}"))
        self.send_mail(tx, request.email, f"Your access to {self.content.company.display_name}'s documents",
                   "grant", name=request.name, url=self.grant_url(token), documents=self._titles(documents),
                   expires=grant.expires_at, nda_on_file=nda_on_file)
        self.webhook(tx, "access_request.approved", **_request_data(request), grant_id=grant.id,
                      granted=list(documents), expires=grant.expires, by=by)
        return grant

    def _deny(self, tx: Tx, request: AccessRequest, by: str, reason: str, message: str | None) -> None:
        store = self.store
        store.access.decide(tx, request, RequestStatus.DENIED, by, reason)
        store.log.append(tx, Event(Kind.REJECTED, request_id=request.id, recipient=request.email,
                                   company=request.company, actor=by, detail=reason))
        self.send_mail(tx, request.email, f"Your request to {self.content.company.display_name}", "denied",
                   name=request.name, message=message)
        self.webhook(tx, "access_request.denied", **_request_data(request), by=by, reason=reason)


def _confirmations_mailed(tx: Tx, request_id: str) -> int:
    """How many confirmation links were mailed for a request: its REQUESTED events that say so (the chain is the
    count, so it holds across restarts and several gates)."""
    return int(tx.scalar("SELECT COUNT(*) FROM events WHERE request_id = ? AND kind = ? AND detail IN (?, ?)",
                         (request_id, Kind.REQUESTED.value, MAILED_NEW, MAILED_AGAIN)) or 0)


def _request_data(request: AccessRequest) -> dict[str, object]:
    return {"request_id": request.id, "email": request.email, "name": request.name, "company": request.company,
            "documents": list(request.documents)}

