"""A recipient's granted documents (/grant/<token>): one NDA for the whole grant, then each document watermarked.

The token in the address is the grant's only credential (the database keeps its SHA-256). The pages never show
it again, and the gate's logs redact it. As with a sales link, the NDA is accepted per browser: a forwarded grant
link asks for the agreement again, and the audit shows both acceptances. A grant revoked or past its expiry
answers 410 at once, downloads included (the revocation is checked in the download's own transaction).
"""

from __future__ import annotations

import datetime as dt

import flask
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed

from generator.content import model
from generator.gate import access, audit, forms, watermark
from generator.gate.app import Gate, current, see_other
from generator.gate.grants import Grant, GrantStatus
from generator.gate.mail import when
from generator.gate.refusals import (
    DocumentNoLongerOffered,
    ExpiredGrant,
    GrantNotAccepted,
    InvalidGrant,
    Refusal,
    RevokedGrant,
)

blueprint = flask.Blueprint("grant_pages", __name__)

_ACCEPTED = "grants_accepted"  # in the session: the grants whose NDA this browser accepted
_NDA_SHOWN = "nda_shown"  # the same key as access.py: the NDA version this browser was last shown


def _grant(gate: Gate, token: str) -> Grant:
    """The grant a token opens, if it may be used now."""
    grant = gate.store.access.grant_by_token(token)
    if grant is None:
        raise InvalidGrant("unknown grant token")
    if grant.status is GrantStatus.REVOKED:
        refusal: RevokedGrant | ExpiredGrant = RevokedGrant(grant, grant.revoked or "")
    elif grant.status is GrantStatus.EXPIRED:
        refusal = ExpiredGrant(grant)
    else:
        return grant
    refusal.grant = grant
    raise refusal


def _accepted(grant: Grant) -> bool:
    return grant.nda_on_file or grant.id in flask.session.get(_ACCEPTED, [])


def _documents(gate: Gate, grant: Grant) -> list[model.Document]:
    """The granted documents that are still gated documents of the content (one removed since is not offered)."""
    return [gate.documents[doc] for doc in grant.documents if doc in gate.documents]


@blueprint.get("/grant/<token>")
def open_grant(token: str) -> ResponseReturnValue:
    """The NDA, or once accepted in this browser, the documents. Changes nothing but the audit."""
    gate = current()
    grant = _grant(gate, token)
    csrf = access.browser_session()
    offered = _accepted(grant)
    gate.log.record_open(gate.event(audit.Kind.OPENED, 200, None, grant=grant,
                                    detail="documents offered" if offered else "NDA shown"))
    expires = when(grant.expires_at)
    if offered:
        # The page never carries the token: each download is a form posted to this address (as /access does).
        return gate.render("gate/grant.html", 200, grant=grant, documents=_documents(gate, grant), csrf=csrf,
                           expires=expires)
    flask.session[_NDA_SHOWN] = gate.state.nda_sha256
    return gate.render("gate/grant_nda.html", 200, grant=grant, documents=_documents(gate, grant), csrf=csrf,
                       form={"name": grant.name, "company": grant.company}, errors={}, expires=expires)


@blueprint.post("/grant/<token>")
def accept(token: str) -> ResponseReturnValue:
    """Record the acceptance of the NDA for the whole grant in this browser (303 back to the grant), or pass on to a
    document's download (303 to it)."""
    gate = current()
    grant = _grant(gate, token)
    access.check_form(grant=grant)
    csrf = access.browser_session()
    here = flask.url_for("grant_pages.open_grant", token=token)
    if flask.request.form.get("step") == "download":
        if not _accepted(grant):
            raise GrantNotAccepted("download asked for before accepting", grant)
        document_id = flask.request.form.get("document", "")
        if document_id not in grant.documents:
            not_granted = InvalidGrant(f"document '{document_id[:80]}' is not in grant {grant.id}")
            not_granted.grant = grant
            raise not_granted
        return see_other(flask.url_for("grant_pages.download", token=token, document_id=document_id))
    if _accepted(grant):
        return see_other(here)
    nda_sha256 = gate.state.nda_sha256
    form = {field: forms.one_line(flask.request.form.get(field, "")) for field in ("name", "company")}
    errors = access.form_errors(form, agreed=flask.request.form.get("accept") == "yes")
    if flask.session.get(_NDA_SHOWN) != nda_sha256:
        errors["accept"] = "The agreement has changed since this page was shown. Read it again, then accept it."
    if errors:
        flask.session[_NDA_SHOWN] = nda_sha256
        return gate.render("gate/grant_nda.html", 400, grant=grant, documents=_documents(gate, grant), csrf=csrf,
                           form=form, errors=errors, expires=when(grant.expires_at))
    gate.log.record(gate.event(audit.Kind.ACCEPTED, 303, None, grant=grant, name=form["name"],
                               company=form["company"], nda_sha256=nda_sha256,
                               document=",".join(grant.documents)))
    kept = [item for item in flask.session.get(_ACCEPTED, []) if item != grant.id]
    flask.session[_ACCEPTED] = [*kept, grant.id][-20:]
    return see_other(here)


@blueprint.route("/grant/<token>/documents/<document_id>", methods=["GET", "HEAD"])
def download(token: str, document_id: str) -> ResponseReturnValue:
    """One granted document stamped for the recipient; only after acceptance in this browser."""
    if flask.request.method != "GET":  # a HEAD must not count as a download
        raise MethodNotAllowed(["GET"])
    gate = current()
    grant = _grant(gate, token)
    if not _accepted(grant):
        raise GrantNotAccepted("download without accepting the NDA in this browser", grant)
    state = gate.state
    document = state.documents.get(document_id)
    if document_id not in grant.documents:
        refusal: Refusal = InvalidGrant(f"document '{document_id[:80]}' is not in grant {grant.id}")
        refusal.grant = grant
        raise refusal
    if document is None:  # granted, but removed from the content (or made public) since: the recipient's own link
        refusal = DocumentNoLongerOffered(f"document '{document_id}' of grant {grant.id} is no longer gated")
        refusal.grant = grant
        raise refusal
    today = dt.datetime.now(dt.UTC).date()
    # This download's own mark, woven into the copy and recorded (keyed) with the download: `trustcenter trace`.
    mark = watermark.Mark.new(gate.settings.audit_key)
    stamped = watermark.watermark(state.content.document_path(document),
                                  watermark.Stamp(grant.email, grant.company, today, grant.id, mark))
    desk = gate.desk
    outcome = gate.log.record_download(
        gate.event(audit.Kind.DOWNLOADED, 200, None, grant=grant, document=document.id, company=grant.company,
                   detail=mark.record), None,
        also=lambda tx: desk.downloaded(tx, document=document.id, email=grant.email, company=grant.company,
                                        grant_id=grant.id))
    if outcome.revoked_reason is not None:
        revoked = RevokedGrant(grant, outcome.revoked_reason)
        revoked.grant = grant
        raise revoked
    response = flask.Response(stamped, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.id}-{grant.id}.pdf"'
    return response
