"""The staff page (/staff): sign-in by a one-time link mailed to a staff address, requests, grants, links.

No passwords: an address on access.yaml's staff list asks for a link, the gate mails one (a token kept only as
its SHA-256, good once, for SIGN_IN_MINUTES), and the page behind it asks for one more click, because mail
scanners open links and a GET must change nothing. That POST spends the token and opens a staff session: a row
in `staff_sessions` (the session id kept only as its hash) and a cookie of its own, apart from Flask's session,
`SameSite=Strict` (nothing on the staff page needs to survive a cross-site navigation). A session ends after
SESSION_HOURS, after IDLE_MINUTES without a request, at sign-out, and as soon as its address leaves the staff
list: membership is checked against the access.yaml of the request's own state on every request. The address
typed and the staff list are compared as `forms.normalize_address` gives them (lower case, the domain in ASCII),
the form the request form and subscriptions keep addresses in.

Every action is a POST with the session's CSRF token and the same-origin check, goes through the desk (so the
page, the CLI and the rules record the same events and send the same mail), and is audited with the staff
member's address as its actor. The answer to "send me a link" is the same for every address, on the list or
not; asking is limited per address and per client, so the form cannot be used to bomb a mailbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import flask
from flask.typing import ResponseReturnValue

from generator.errors import AccessError
from generator.gate import access, forms, links
from generator.gate.app import Gate, answer_no_sooner, client_key, current, see_other
from generator.gate.audit import Event, Kind, Row, now_stamp, stamp
from generator.gate.db import Database, Tx
from generator.gate.grants import AccessRequest, Grant, RequestStatus, parse_stamp, token_hash
from generator.gate.mail import when
from generator.gate.refusals import (
    InvalidSignIn,
    NotSignedIn,
    SpentSignIn,
    StaffFormExpired,
    TooManySignIns,
)
from generator.gate.throttle import FailureCounter

logger = logging.getLogger(__name__)

blueprint = flask.Blueprint("staff", __name__)

SIGN_IN_MINUTES = 15
SESSION_HOURS = 8  # absolute: a session ends this long after sign-in, however busy
IDLE_MINUTES = 30
# Sign-in links one address may be sent, and one client may ask for, in a window: enough for a person who
# lost a message or two, too few to fill a mailbox. Counted for every address asked for, on the list or not,
# so that being refused says nothing about the list.
LINKS_PER_ADDRESS = 3
ADDRESS_WINDOW_SECONDS = 15 * 60.0
LINKS_PER_CLIENT = 10
CLIENT_WINDOW_SECONDS = 60 * 60.0
RECENT_EVENTS = 50
MAX_REASON_CHARS = 500
COOKIE = "__Host-trustcenter-staff"  # without Secure (plain http, tests), "trustcenter-staff"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # request, grant and link ids in paths: nothing else reaches the desk
_EXTENSION = "trustcenter.gate.staff"
_ENDED = "trustcenter_staff_ended"  # on flask.g: the request's staff cookie named no live session: clear it
# How far back the staff page looks for sales links, beyond the longest lifetime a link may have (link_max_days):
# the gate refuses a token that claims more, so a link minted or first seen before that cannot be open any more.
LINK_LEEWAY = dt.timedelta(days=1)


# ---------------------------------------------------------------- sessions and sign-in links


@dataclasses.dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member, as the `staff_sessions` table keeps them."""

    token_hash: str
    email: str
    created: str
    seen: str
    expires: str
    csrf: str  # the token every form of this session carries
    ended: str | None


_SESSION_COLUMNS = "token_hash, email, created, seen, expires, csrf, ended"


class SignInState:
    """What a sign-in token is, for the page behind the mailed link (which changes nothing)."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"


class StaffSessions:
    """Sign-in links and staff sessions in the gate's database. Tokens and session ids are kept only as their
    SHA-256: someone who reads the database cannot sign in with what it holds."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue_sign_in(self, tx: Tx, email: str) -> str:
        """A new sign-in token for `email`, valid once for SIGN_IN_MINUTES. Old rows go at the same time."""
        now = dt.datetime.now(dt.UTC)
        tx.execute("DELETE FROM sign_ins WHERE expires < ?", (stamp(now - dt.timedelta(days=1)),))
        token = secrets.token_urlsafe(32)
        tx.execute("INSERT INTO sign_ins (token_hash, email, created, expires, used) VALUES (?, ?, ?, ?, NULL)",
                   (token_hash(token), email, stamp(now), stamp(now + dt.timedelta(minutes=SIGN_IN_MINUTES))))
        return token

    def sign_in_state(self, token: str) -> tuple[str, str] | None:
        """(state, email) of a sign-in token, or None if there is no such token."""
        row = self.db.read().one("SELECT email, expires, used FROM sign_ins WHERE token_hash = ?",
                                 (token_hash(token),))
        if row is None:
            return None
        return _sign_in_state(row), str(row[0])

    def spend_sign_in(self, tx: Tx, token: str) -> str:
        """Mark a sign-in token used and return its address; refuses one unknown, used or expired."""
        row = tx.one("SELECT email, expires, used FROM sign_ins WHERE token_hash = ?", (token_hash(token),))
        if row is None:
            raise InvalidSignIn("unknown sign-in token")
        state = _sign_in_state(row)
        if state != SignInState.VALID:
            raise SpentSignIn(f"sign-in token {state}")
        tx.execute("UPDATE sign_ins SET used = ? WHERE token_hash = ? AND used IS NULL",
                   (now_stamp(), token_hash(token)))
        return str(row[0])

    def open(self, tx: Tx, email: str) -> tuple[str, StaffSession]:
        """A new session for `email`: returns the session id (the cookie's value) and the session."""
        now = dt.datetime.now(dt.UTC)
        tx.execute("DELETE FROM staff_sessions WHERE expires < ?", (stamp(now - dt.timedelta(days=7)),))
        session_id = secrets.token_urlsafe(32)
        session = StaffSession(token_hash(session_id), email, stamp(now), stamp(now),
                               stamp(now + dt.timedelta(hours=SESSION_HOURS)), secrets.token_urlsafe(32), None)
        tx.execute(f"INSERT INTO staff_sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                   dataclasses.astuple(session))
        return session_id, session

    def find(self, session_id: str) -> StaffSession | None:
        row = self.db.read().one(f"SELECT {_SESSION_COLUMNS} FROM staff_sessions WHERE token_hash = ?",  # noqa: S608
                                 (token_hash(session_id),))
        return None if row is None else StaffSession(*row)

    def touch(self, session: StaffSession) -> None:
        with self.db.write() as tx:
            tx.execute("UPDATE staff_sessions SET seen = ? WHERE token_hash = ? AND ended IS NULL",
                       (now_stamp(), session.token_hash))

    def end(self, tx: Tx, session: StaffSession) -> bool:
        """End a session; False if it had already ended (two requests ending it at once record it once)."""
        cursor = tx.execute("UPDATE staff_sessions SET ended = ? WHERE token_hash = ? AND ended IS NULL",
                            (now_stamp(), session.token_hash))
        return cursor.rowcount == 1


def _sign_in_state(row: Sequence[Any]) -> str:
    if row[2] is not None:
        return SignInState.USED
    if parse_stamp(str(row[1])) <= dt.datetime.now(dt.UTC):
        return SignInState.EXPIRED
    return SignInState.VALID


def session_ending(session: StaffSession, staff: frozenset[str], now: dt.datetime) -> str | None:
    """Why a session must end now (the reason the audit records), or None while it may go on."""
    if session.ended is not None:
        return "signed out"
    if parse_stamp(session.expires) <= now:
        return f"the session reached its {SESSION_HOURS} hours"
    if parse_stamp(session.seen) + dt.timedelta(minutes=IDLE_MINUTES) <= now:
        return f"no activity for {IDLE_MINUTES} minutes"
    if session.email not in staff:  # kept as normalized when the link was asked for
        return "no longer on the staff list in access.yaml"
    return None


# ---------------------------------------------------------------- per-app state: the sign-in link limits


@dataclasses.dataclass
class _Limits:
    """Counted in the database, so every gate instance shares them (`throttle.py`)."""

    per_address: FailureCounter
    per_client: FailureCounter


def _limits() -> _Limits:
    db = current().store.db
    return _Limits(FailureCounter(db, "staff.sign_in.address", LINKS_PER_ADDRESS, ADDRESS_WINDOW_SECONDS),
                   FailureCounter(db, "staff.sign_in.client", LINKS_PER_CLIENT, CLIENT_WINDOW_SECONDS))


# ---------------------------------------------------------------- signed out: ask for a link, use it


@blueprint.get("/staff")
def page() -> ResponseReturnValue:
    """The sign-in form, or for a signed-in staff member the requests, grants, links and recent activity."""
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    session = signed_in(gate)
    if session is None:
        return _sign_in_form(gate, email="", error=None, status=200)
    return gate.render("gate/staff.html", 200, staff=session.email, csrf=session.csrf,
                       messages=flask.get_flashed_messages(with_categories=True), **_dashboard(gate))


@blueprint.post("/staff/sign-in")
def ask_for_link() -> ResponseReturnValue:
    """Mail a sign-in link if the address is on the staff list; the same answer either way, after the same time."""
    started = time.monotonic()
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    access.check_form()
    typed = flask.request.form.get("email", "")
    try:
        email = forms.normalize_address(typed)  # as the request form and subscriptions keep addresses
    except forms.AddressError as error:
        # Shown back as typed, but on one line and bounded: the page never carries what it refused whole.
        return _sign_in_form(gate, email=forms.CONTROL.sub(" ", typed).strip()[:forms.MAX_EMAIL_CHARS],
                             error=str(error), status=400)
    client = client_key(flask.request.remote_addr or "unknown")
    limits = _limits()
    waits = [wait for wait in (limits.per_client.retry_after(client), limits.per_address.retry_after(email))
             if wait is not None]
    if waits:
        raise TooManySignIns(max(waits), f"sign-in links asked for too often from {client} or for one address")
    limits.per_client.record_failure(client)
    limits.per_address.record_failure(email)
    if email in staff_list(gate):
        desk = gate.desk
        sessions = StaffSessions(gate.store.db)
        # Taken before the link is made, so never after its expiry: the message is not sent once the link is dead.
        dies = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=SIGN_IN_MINUTES)
        with gate.store.db.write() as tx:
            token = sessions.issue_sign_in(tx, email)
            desk.send_mail(tx, email, f"Sign in to {gate.content.company.display_name}'s trust center staff page",
                           "sign_in", url=f"{desk.base_url}/staff/sign-in/{token}", minutes=SIGN_IN_MINUTES,
                           expires=dies)
            gate.log.append(tx, _event(Kind.SIGN_IN_SENT, email))
    else:
        # No mail, no row: only the gate's log says someone asked (not for which address: it is not staff's).
        logger.info("staff sign-in asked for an address not on the staff list, from %s", client)
    answer_no_sooner(started)  # mailing a link takes longer than not: the time must not tell who is staff
    return gate.render("gate/staff_sent.html", 200, minutes=SIGN_IN_MINUTES)


@blueprint.get("/staff/sign-in/<token>")
def sign_in_page(token: str) -> ResponseReturnValue:
    """The page behind the mailed link: one button. Changes nothing (mail scanners open links)."""
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    found = StaffSessions(gate.store.db).sign_in_state(token)
    if found is None:
        raise InvalidSignIn("unknown sign-in token")
    state, email = found
    if state != SignInState.VALID:
        raise SpentSignIn(f"sign-in token {state}")
    return gate.render("gate/staff_sign_in.html", 200, email=email, csrf=access.browser_session())


@blueprint.post("/staff/sign-in/<token>")
def sign_in(token: str) -> ResponseReturnValue:
    """Spend the sign-in token and open a staff session (its cookie), then on to the staff page."""
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    access.check_form()
    sessions = StaffSessions(gate.store.db)
    previous = _cookie_session(sessions)
    with gate.store.db.write() as tx:
        email = sessions.spend_sign_in(tx, token)
        if email not in staff_list(gate):
            raise InvalidSignIn("sign-in token of an address no longer on the staff list")
        if previous is not None and sessions.end(tx, previous):
            gate.log.append(tx, _event(Kind.SIGNED_OUT, previous.email, detail="signed in again"))
        session_id, _ = sessions.open(tx, email)
        gate.log.append(tx, _event(Kind.SIGNED_IN, email))
    flask.g.pop(_ENDED, None)  # the old cookie is replaced, not cleared after the new one is set
    response = see_other(flask.url_for("staff.page"))
    response.set_cookie(cookie_name(gate), session_id, secure=gate.settings.secure_cookies, httponly=True,
                        samesite="Strict", path="/")
    return response


# ---------------------------------------------------------------- signed in: sign out, decide, revoke


@blueprint.post("/staff/sign-out")
def sign_out() -> ResponseReturnValue:
    gate = current()
    session = _staff_form(gate)
    with gate.store.db.write() as tx:
        if StaffSessions(gate.store.db).end(tx, session):
            gate.log.append(tx, _event(Kind.SIGNED_OUT, session.email, detail="signed out"))
    flask.g.setdefault(_ENDED, True)
    flask.flash("You are signed out.", "ok")
    return see_other(flask.url_for("staff.page"))


@blueprint.post("/staff/requests/<request_id>/approve")
def approve(request_id: str) -> ResponseReturnValue:
    gate = current()
    session = _staff_form(gate)
    form = flask.request.form
    documents = list(dict.fromkeys(form.getlist("documents")))[:50]
    days_text = form.get("days", "").strip()
    max_days = gate.desk.access.max_days
    if not days_text.isascii() or not days_text.isdigit() or len(days_text) > 3:
        return _done(f"Enter the number of days as a whole number from 1 to {max_days}.", error=True)

    def act() -> str:
        grant = gate.desk.approve(_checked_id(request_id), session.email, documents=documents, days=int(days_text),
                                  nda_on_file=form.get("nda_on_file") == "yes")
        return (f"Approved: {grant.email} has access to {_titles(gate, grant.documents)} until "
                f"{_day(grant.expires)}; the link is on its way.")

    return _act(act)


@blueprint.post("/staff/requests/<request_id>/deny")
def deny(request_id: str) -> ResponseReturnValue:
    gate = current()
    session = _staff_form(gate)
    reason = forms.one_line(flask.request.form.get("reason", ""))
    problem = forms.line_error(reason, "the reason for the denial", MAX_REASON_CHARS)
    if problem is not None:
        return _done(problem, error=True)

    def act() -> str:
        request = gate.desk.deny(_checked_id(request_id), session.email, reason)
        return f"Denied the request of {request.email}; they have been told."

    return _act(act)


@blueprint.post("/staff/grants/<grant_id>/revoke")
def revoke_grant(grant_id: str) -> ResponseReturnValue:
    gate = current()
    session = _staff_form(gate)
    reason, problem = _revoke_reason(session)
    if problem is not None:
        return _done(problem, error=True)

    def act() -> str:
        grant = _checked_id(grant_id)
        if not gate.desk.revoke_grant(grant, session.email, reason):
            return f"Grant {grant} was already revoked."
        return f"Revoked grant {grant}: its link no longer opens."

    return _act(act)


@blueprint.post("/staff/links/<link_id>/revoke")
def revoke_link(link_id: str) -> ResponseReturnValue:
    gate = current()
    session = _staff_form(gate)
    reason, problem = _revoke_reason(session)
    if problem is not None:
        return _done(problem, error=True)

    def act() -> str:
        link = _checked_id(link_id)
        if not gate.desk.revoke_link(link, session.email, reason):
            return f"Link {link} was already revoked."
        return f"Revoked link {link}: it no longer opens."

    return _act(act)


@blueprint.after_request
def _clear_ended_cookie(response: flask.Response) -> flask.Response:
    """A cookie that names no live session is cleared (signed out, expired, removed from the staff list)."""
    if flask.g.get(_ENDED):
        gate = current()
        response.delete_cookie(cookie_name(gate), path="/", secure=gate.settings.secure_cookies, httponly=True,
                               samesite="Strict")
    return response


# ---------------------------------------------------------------- who is signed in


def cookie_name(gate: Gate) -> str:
    """`__Host-` binds the cookie to this host, path / and Secure; browsers refuse the prefix without Secure."""
    return COOKIE if gate.settings.secure_cookies else COOKIE.removeprefix("__Host-")


def staff_list(gate: Gate) -> frozenset[str]:
    """The staff addresses of the access.yaml this request reads, in the form `forms.normalize_address` gives the
    address typed into the sign-in form (lower case, the domain in ASCII), so the two compare equal."""
    access_file = gate.content.access
    return frozenset(_normalized(address) for address in access_file.staff) if access_file else frozenset()


def _normalized(address: str) -> str:
    try:
        return forms.normalize_address(address)
    except forms.AddressError:  # access.yaml's check lets it through, the form's does not: nobody can type it
        return address.strip().lower()


def signed_in(gate: Gate) -> StaffSession | None:
    """The live staff session of this request's cookie, if any. A session that has to end (expired, idle, its
    address no longer on the list) ends here, audited with its reason, and its cookie is cleared."""
    sessions = StaffSessions(gate.store.db)
    session = _cookie_session(sessions)
    if session is None:
        return None
    reason = session_ending(session, staff_list(gate), dt.datetime.now(dt.UTC))
    if reason is not None:
        if session.ended is None:
            with gate.store.db.write() as tx:
                if sessions.end(tx, session):
                    gate.log.append(tx, _event(Kind.SIGNED_OUT, session.email, detail=reason))
        flask.g.setdefault(_ENDED, True)
        return None
    sessions.touch(session)
    return session


def _cookie_session(sessions: StaffSessions) -> StaffSession | None:
    value = flask.request.cookies.get(cookie_name(current()), "")
    if not value:
        return None
    session = sessions.find(value) if len(value) <= 100 else None
    if session is None:
        flask.g.setdefault(_ENDED, True)
    return session


def _staff_form(gate: Gate) -> StaffSession:
    """The session a staff POST acts for: same origin, signed in, and carrying that session's CSRF token."""
    access.check_same_origin(None)
    session = signed_in(gate)
    if session is None:
        raise NotSignedIn("staff action without a live staff session")
    access.check_form(session.csrf, refusal=StaffFormExpired,
                      detail=f"staff form without this session's CSRF token ({session.email})")
    return session


def _closed(gate: Gate) -> ResponseReturnValue | None:
    """The answer while nobody can sign in here: no access.yaml (so no staff list), or no e-mail to send links."""
    if gate.content.access is None:
        return gate.render("gate/error.html", 404, heading="No staff page here",
                           message="This trust center takes no access requests, so it has no staff page.")
    if gate.sender is None:
        logger.error("the staff page is closed: no e-mail is configured (TRUSTCENTER_SMTP_URL)")
        return gate.render("gate/error.html", 503, heading="Staff sign-in is unavailable",
                           message="The gate cannot send e-mail, so it cannot send sign-in links. Staff can act "
                                   "with the trustcenter command instead (trustcenter requests list).")
    return None


def _sign_in_form(gate: Gate, *, email: str, error: str | None, status: int) -> ResponseReturnValue:
    return gate.render("gate/staff_sign_in_form.html", status, email=email, error=error, minutes=SIGN_IN_MINUTES,
                       csrf=access.browser_session(), messages=flask.get_flashed_messages(with_categories=True))


def _event(kind: Kind, actor: str, *, detail: str | None = None) -> Event:
    visitor = forms.visitor()
    return Event(kind, actor=actor, detail=detail, ip=visitor.ip, browser=visitor.browser,
                 user_agent=visitor.user_agent)


# ---------------------------------------------------------------- actions: one line back to the page


def _act(action: Callable[[], str]) -> ResponseReturnValue:
    """Run a desk action; its result, or why the desk refused it, is the one line the page shows next."""
    try:
        message = action()
    except AccessError as refused:
        return _done(refused.message, error=True)
    return _done(message)


def _done(message: str, *, error: bool = False) -> ResponseReturnValue:
    """Back to the staff page (303), which shows `message` once: a reload neither repeats the action nor the line."""
    flask.flash(message[:1].upper() + message[1:], "error" if error else "ok")
    return see_other(flask.url_for("staff.page"))


def _checked_id(value: str) -> str:
    if not _ID.match(value):
        raise AccessError("there is no such request, grant or link; reload the staff page")
    return value


def _revoke_reason(session: StaffSession) -> tuple[str, str | None]:
    """The reason a revocation records (optional: the staff member's address stands in), or what is wrong with it."""
    reason = forms.one_line(flask.request.form.get("reason", ""))
    if not reason:
        return f"revoked by {session.email}", None
    return reason, forms.line_error(reason, "the reason for revoking", MAX_REASON_CHARS)


# ---------------------------------------------------------------- what the signed-in page shows


@dataclasses.dataclass(frozen=True)
class Choice:
    id: str
    title: str
    checked: bool


@dataclasses.dataclass(frozen=True)
class PendingRequest:
    request: AccessRequest
    asked: str  # the titles of the documents asked for
    when: str
    choices: list[Choice]  # every gated document; those asked for checked


@dataclasses.dataclass(frozen=True)
class ActiveGrant:
    grant: Grant
    documents: str
    expires: str


@dataclasses.dataclass(frozen=True)
class SalesLink:
    link: links.MintedLink
    document: str
    expires: str
    status: str  # in words


@dataclasses.dataclass(frozen=True)
class Activity:
    row: Row
    when: str


def _dashboard(gate: Gate) -> dict[str, Any]:
    """What the signed-in page lists. Each part is one query (or a few), bounded by what is open now rather than by
    everything ever recorded: every pending request, every grant in force, the sales links that may still be open
    (those of the longest lifetime a link may have, with their counts), the last RECENT_EVENTS events."""
    store = gate.store
    access_file = gate.desk.access
    gated = gate.documents
    pending = [PendingRequest(request, _titles(gate, request.documents), _when(request.created),
                              [Choice(doc.id, doc.title, doc.id in request.documents) for doc in gated.values()])
               for request in reversed(store.access.requests(RequestStatus.PENDING))]
    grants = [ActiveGrant(grant, _titles(gate, grant.documents), _day(grant.expires))
              for grant in store.access.active_grants()]
    since = dt.datetime.now(dt.UTC) - gate.state.max_lifetime - LINK_LEEWAY
    minted = [SalesLink(link, _titles(gate, [link.document]), _link_expiry(link), _link_status(link))
              for link in links.minted_links(gate.log, since=since)]
    activity = [Activity(row, _when(row.at)) for row in gate.log.recent(RECENT_EVENTS)]
    return {"pending": pending, "grants": grants, "links": minted, "activity": activity,
            "link_days": gate.state.max_lifetime.days, "default_days": access_file.default_days,
            "max_days": access_file.max_days, "max_reason": MAX_REASON_CHARS}


def _link_expiry(link: links.MintedLink) -> str:
    if link.expires is not None:
        return _when(link.expires)
    return "unknown (minted elsewhere)" if link.elsewhere else "unknown"


def _link_status(link: links.MintedLink) -> str:
    status = link.status
    if status is links.LinkStatus.REVOKED:
        return f"revoked: {link.revoked}" if link.revoked else "revoked"
    if status is links.LinkStatus.UNKNOWN:
        return "open, as far as the gate knows"
    return status.value.replace("_", " ")


def _titles(gate: Gate, documents: Sequence[str]) -> str:
    found = {d.id: d.title for d in gate.content.documents}
    return ", ".join(found.get(doc, doc) for doc in documents)


def _when(value: str) -> str:
    return f"{parse_stamp(value):%Y-%m-%d %H:%M} UTC"


def _day(value: str) -> str:
    return when(parse_stamp(value).date())
