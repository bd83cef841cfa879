"""The request form (/request) and the address confirmation (/request/confirm/<token>).

A prospect asks for gated documents; nothing is decided until the address is shown to be theirs: the request
waits, unconfirmed, for a click on the link mailed to it. The page behind that link asks for the click again
(a POST), because mail scanners open links. Then access.yaml's rules decide, or staff do (`desk.py`).

Against bots: a honeypot field (a person never sees it; a bot that fills it gets the same answer as everyone and
nothing happens), at most REQUESTS_PER_HOUR forms sent from one client network (an IPv4 address or an IPv6 /64),
each one counted, whether it made a request or added to one: in memory, and in the database by the requests
made, so a restart does not reset it. The same address asking again within a day joins its open request, and a
stranger's address gets at most a few confirmation mails a day however often it is typed in (`desk.submit`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import flask
from flask.typing import ResponseReturnValue

from generator.gate import access, forms
from generator.gate.app import Gate, client_key, current, see_other
from generator.gate.desk import RequestForm
from generator.gate.grants import AccessRequest, RequestStatus
from generator.gate.refusals import InvalidConfirmation, TooManyRequests
from generator.gate.throttle import FailureCounter

logger = logging.getLogger(__name__)

blueprint = flask.Blueprint("request_form", __name__)

REQUESTS_PER_HOUR = 5  # from one client address (an IPv4 address or an IPv6 /64)
MAX_REASON_CHARS = 1000
_SENT = "request_sent_to"  # in the session: the address the last confirmation went to, for the next page
_EXTENSION = "trustcenter.gate.request_form"


@dataclasses.dataclass
class _Limits:
    """Counted in the database, so every gate instance shares them (`throttle.py`)."""

    per_client: FailureCounter  # every form sent, by client network


def _limits() -> _Limits:
    return _Limits(FailureCounter(current().store.db, "request_form.client", REQUESTS_PER_HOUR, 3600.0))


@blueprint.get("/request")
def form() -> ResponseReturnValue:
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    chosen = [doc for doc in flask.request.args.getlist("document") if doc in gate.documents]
    return _form_page(gate, {"documents": chosen}, {}, 200)


@blueprint.post("/request")
def submit() -> ResponseReturnValue:
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    access.check_form()
    if forms.bot_filled_trap():
        # A bot: the same answer as a person gets, and nothing recorded or mailed.
        logger.info("request form: honeypot filled by %s; ignored", flask.request.remote_addr)
        flask.session[_SENT] = ""
        return see_other(flask.url_for("request_form.sent"))
    values, errors = _read(gate)
    if errors:
        return _form_page(gate, values, errors, 400)
    client = client_key(flask.request.remote_addr or "unknown")
    per_client = _limits().per_client
    # Both counts: the memory sees every form (one address asked for again and again makes no new row), the
    # database the requests made before a restart. Rows keep the client's network, as counted here.
    wait = per_client.retry_after(client)
    if wait is not None or gate.store.access.recent_requests_from(client) >= REQUESTS_PER_HOUR:
        raise TooManyRequests(f"more than {REQUESTS_PER_HOUR} requests in an hour from {client}",
                              *(() if wait is None else (wait,)))
    per_client.record_failure(client)
    request_form = RequestForm(email=values["email"], name=values["name"], company=values["company"],
                               documents=tuple(values["documents"]), reason=values["reason"] or None,
                               nda_on_file=values["nda_on_file"] == "yes")
    gate.desk.submit(request_form, forms.visitor(client))
    flask.session[_SENT] = request_form.email
    return see_other(flask.url_for("request_form.sent"))


@blueprint.get("/request/sent")
def sent() -> ResponseReturnValue:
    gate = current()
    return gate.render("gate/request_sent.html", 200, email=flask.session.get(_SENT) or None)


@blueprint.get("/request/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    """What is being confirmed, and the button that confirms it. Changes nothing (mail scanners open links)."""
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    request = _unconfirmed(gate, token)
    csrf = access.browser_session()
    titles = [document.title for doc in request.documents if (document := gate.documents.get(doc)) is not None]
    return gate.render("gate/request_confirm.html", 200, request=request, titles=titles, csrf=csrf)


@blueprint.post("/request/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    access.check_form()
    _unconfirmed(gate, token)
    result = gate.desk.confirm(token, forms.visitor(client_key(flask.request.remote_addr or "unknown")))
    if result is None:  # confirmed by another click in the meantime
        raise InvalidConfirmation("confirmation token used meanwhile", expired=True)
    decision = result.verdict.decision.value if result.verdict is not None else "review"
    return gate.render("gate/request_done.html", 200, request=result.request, decision=decision, grant=result.grant,
                       message=result.verdict.message if result.verdict is not None else None)


def _unconfirmed(gate: Gate, token: str) -> AccessRequest:
    """The request a confirmation token belongs to, if it still waits for it. An unknown token looks like guessing
    (403, counted); the requester's own link once used or expired is not (410, with what to do)."""
    request = gate.desk.pending_confirmation(token)
    if request is None:
        raise InvalidConfirmation("unknown confirmation token")
    if request.status is not RequestStatus.UNCONFIRMED:
        raise InvalidConfirmation(f"confirmation of request {request.id}, which is {request.status.value}",
                                  expired=True)
    return request


# ------------------------------------------------------------------ helpers


def _closed(gate: Gate) -> ResponseReturnValue | None:
    """The page that says requests are not taken here, when they are not (no access.yaml, or no e-mail)."""
    if gate.content.access is None or not gate.documents:
        return gate.render("gate/request_closed.html", 404, reason="closed")
    if gate.sender is None:
        logger.error("the request form is closed: no e-mail is configured (TRUSTCENTER_SMTP_URL)")
        return gate.render("gate/request_closed.html", 503, reason="mail")
    return None


def _form_page(gate: Gate, values: dict[str, Any], errors: dict[str, str], status: int) -> ResponseReturnValue:
    csrf = access.browser_session()
    return gate.render("gate/request.html", status, values=values, errors=errors, csrf=csrf,
                       gated=list(gate.documents.values()), trap=forms.TRAP_FIELD, max_reason=MAX_REASON_CHARS)


def _read(gate: Gate) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values, normalized, and an error per field that is wrong (in the order the form shows them)."""
    form = flask.request.form
    values: dict[str, Any] = {
        "name": forms.one_line(form.get("name", "")), "email": form.get("email", "").strip(),
        "company": forms.one_line(form.get("company", "")), "reason": form.get("reason", "").strip(),
        "documents": list(dict.fromkeys(form.getlist("documents"))), "nda_on_file": form.get("nda_on_file", ""),
    }
    errors: dict[str, str] = {}
    for field, label in (("name", "your full name"), ("company", "your company")):
        problem = forms.line_error(values[field], label)
        if problem:
            errors[field] = problem
    try:
        values["email"] = forms.normalize_address(values["email"])
    except forms.AddressError as error:
        errors["email"] = str(error)
    chosen = [str(doc) for doc in values["documents"]]
    if not chosen:
        errors["documents"] = "Choose at least one document."
    elif any(doc not in gate.documents for doc in chosen) or len(chosen) > len(gate.documents):
        errors["documents"] = "Choose documents from the list."
    problem = forms.text_error(values["reason"], MAX_REASON_CHARS)
    if problem:
        errors["reason"] = problem.replace("Keep it", "Keep the reason")
    if values["nda_on_file"] not in ("", "yes"):
        errors["nda_on_file"] = "Tick the box, or leave it empty."
    order = ["name", "email", "company", "documents", "reason", "nda_on_file"]
    return values, {field: errors[field] for field in order if field in errors}
