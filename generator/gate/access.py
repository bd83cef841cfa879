"""The /access blueprint: a sales link opened, its NDA accepted, its document downloaded watermarked.

Each request reads one state of the repository (`gate.state`: keys, documents, NDA), even when the gate
reloads in the middle of it. An acceptance records the NDA version the browser was shown: if the NDA changed
in between, the new text is shown to be accepted instead.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from urllib.parse import urlsplit

import flask
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed

from generator.gate import audit, forms, watermark
from generator.gate.app import current, see_other
from generator.gate.grants import Grant
from generator.gate.refusals import BadCsrfToken, CrossSiteRequest, NotAccepted, Refusal, RevokedLink, UsedUpLink
from generator.gate.tokens import Link

_NDA_SHOWN = "nda_shown"  # in the session: the sha256 of the NDA text this browser was last shown

blueprint = flask.Blueprint("access", __name__)


@blueprint.get("/access/<token>")
def open_link(token: str) -> ResponseReturnValue:
    """The NDA, or the download offer once accepted here. Changes nothing but the audit."""
    gate = current()
    link, standing = gate.link_standing(token, opening=True)
    csrf = browser_session()
    offered = accepted(link)
    if not standing.opened_recently:  # else this address's open of the link is on record (OPEN_DEDUP_MINUTES)
        gate.log.record_open(gate.event(audit.Kind.OPENED, 200, link,
                                        detail="download offered" if offered else "NDA shown"), recent=False)
    if offered:
        return gate.render("gate/offer.html", 200, link=link, csrf=csrf,
                           downloads_left=link.max_downloads - standing.downloads)
    flask.session[_NDA_SHOWN] = gate.state.nda_sha256
    return gate.render("gate/nda.html", 200, link=link, csrf=csrf, form={}, errors={})


@blueprint.post("/access/<token>")
def accept(token: str) -> ResponseReturnValue:
    """Record the acceptance (or pass on to the download) and redirect, 303."""
    gate = current()
    link = gate.link(token)
    check_form(link=link)
    csrf = browser_session()
    here = f"{flask.request.script_root}/access/{token}"
    if flask.request.form.get("step") == "download":
        if not accepted(link):
            raise NotAccepted("download asked for before accepting", link)
        return see_other(f"{here}/download")
    nda_sha256 = gate.state.nda_sha256
    form = {field: forms.one_line(flask.request.form.get(field, "")) for field in ("name", "company")}
    errors = form_errors(form, agreed=flask.request.form.get("accept") == "yes")
    if flask.session.get(_NDA_SHOWN) != nda_sha256:
        # The gate reloaded a new NDA since this browser was shown one: what is recorded must be what was read.
        errors["accept"] = "The agreement has changed since this page was shown. Read it again, then accept it."
    if errors:
        flask.session[_NDA_SHOWN] = nda_sha256
        return gate.render("gate/nda.html", 400, link=link, csrf=csrf, form=form, errors=errors)
    gate.log.record(gate.event(audit.Kind.ACCEPTED, 303, link, name=form["name"], company=form["company"],
                               nda_sha256=nda_sha256))
    kept = [item for item in flask.session.get("accepted", []) if item != link.link_id]
    flask.session["accepted"] = [*kept, link.link_id][-20:]
    return see_other(here)


@blueprint.route("/access/<token>/download", methods=["GET", "HEAD"])
def download(token: str) -> ResponseReturnValue:
    """The document stamped for this recipient; only after acceptance in this browser."""
    if flask.request.method != "GET":  # a HEAD must not count as a download
        raise MethodNotAllowed(["GET"])
    gate = current()
    link = gate.link(token)
    if not accepted(link):
        raise NotAccepted("download without accepting the NDA in this browser", link)
    state = gate.state
    document = state.documents[link.document_id]
    today = dt.datetime.now(dt.UTC).date()
    # This download's own mark, woven into the copy and recorded (keyed) with the download: `trustcenter trace`.
    mark = watermark.Mark.new(gate.settings.audit_key)
    stamped = watermark.watermark(state.content.document_path(document),
                                  watermark.Stamp(link.recipient, link.company, today, link.link_id, mark))
    # Counted atomically with the checks, so parallel downloads cannot exceed the limit, nor one
    # revoked while the document was being stamped go out.
    desk = gate.desk
    outcome = gate.log.record_download(
        gate.event(audit.Kind.DOWNLOADED, 200, link, company=link.company, detail=mark.record), link.max_downloads,
        also=lambda tx: desk.downloaded(tx, document=link.document_id, email=link.recipient, company=link.company,
                                        link_id=link.link_id))
    if outcome.revoked_reason is not None:
        raise RevokedLink(link, outcome.revoked_reason)
    if not outcome.counted:
        raise UsedUpLink(link)
    response = flask.Response(stamped, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{document.id}-{link.link_id}.pdf"'
    return response


def accepted(link: Link) -> bool:
    return link.nda_on_file or link.link_id in flask.session.get("accepted", [])


def browser_session() -> str:
    """This browser's id and CSRF token, made on first visit. Returns the CSRF token."""
    session = flask.session
    session.permanent = True
    if "browser" not in session:
        session["browser"] = secrets.token_hex(8)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_form(expected: str | None = None, *, link: Link | None = None, grant: Grant | None = None,
               refusal: type[BadCsrfToken] = BadCsrfToken, detail: str = "CSRF token missing or not this browser's"
               ) -> None:
    """What every POST of the gate's forms must show: the browser says it comes from this site (Origin,
    Sec-Fetch-Site), and it carries the CSRF token — this browser's (Flask's session), or `expected` (a staff
    session's). Refusals name the link or grant the form was about, for the audit."""
    try:
        check_same_origin(link)
        token = browser_session() if expected is None else expected
        sent = flask.request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
            raise refusal(detail, link)
    except Refusal as refused:
        refused.grant = grant
        raise


def check_same_origin(link: Link | None) -> None:
    """Refuse POSTs that the browser says come from elsewhere (on top of the CSRF token).

    Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even for the gate's own
    form, so "null" proves nothing either way; Sec-Fetch-Site, where sent, is the browser's word.
    """
    headers = flask.request.headers
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise CrossSiteRequest(f"Sec-Fetch-Site: {fetch_site[:40]}", link)
    origin = headers.get("Origin")
    if origin is not None and origin != "null" and urlsplit(origin).netloc != flask.request.host:
        raise CrossSiteRequest(f"Origin: {origin[:80]}", link)


def form_errors(form: dict[str, str], *, agreed: bool) -> dict[str, str]:
    """What is wrong with an NDA acceptance form (name, company, the box ticked), by field."""
    errors = {}
    for field, label in (("name", "your full name"), ("company", "your company")):
        problem = forms.line_error(form[field], label)
        if problem:
            errors[field] = problem
    if not agreed:
        errors["accept"] = "Tick the box to accept the agreement."
    return errors
