"""Subscriptions to the trust center's change notices (/subscribe): double opt-in, one-click unsubscribe.

A reader leaves an address; a link mailed to it confirms that it is theirs (the page behind the link asks for a
click, a POST, because mail scanners open links); from then on `trustcenter notify` mails each change notice
the Atom feed carries. Every notice carries a one-click unsubscribe link (RFC 8058) that needs no sign-in.

The form answers every address alike ("check your inbox"), whatever it knows about it: subscribed, pending,
unsubscribed or new, and after the same time, so it tells nobody who subscribes. Against abuse: a honeypot
field (a bot that fills it gets the same answer, and nothing happens), no second confirmation mail to one address
within RESEND_MINUTES and at most CONFIRMATIONS_PER_ADDRESS a day, at most CONFIRMATIONS_PER_HOUR confirmations
asked for from one network an hour, and at most FORMS_PER_HOUR forms sent from it, whatever they did.

Subscriptions need e-mail (TRUSTCENTER_SMTP_URL) and nothing else: not access.yaml, whose rules are about who
may read gated documents, while the notices are as public as the feed. Without e-mail the form says it is
closed.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import flask
from flask.typing import ResponseReturnValue

from generator.gate import access, audit, forms, subscribers
from generator.gate.app import Gate, answer_no_sooner, client_key, current, see_other
from generator.gate.db import Tx
from generator.gate.refusals import InvalidSubscriptionLink, TooManySubscriptions
from generator.gate.throttle import FailureCounter

logger = logging.getLogger(__name__)

blueprint = flask.Blueprint("subscriptions", __name__)

CONFIRMATIONS_PER_HOUR = 5  # asked for from one client address (an IPv4 address or an IPv6 /64)
# Forms one client may send an hour, whatever they do: asking again for an address already subscribed or just
# mailed changes no row, so the database's count above does not see it.
FORMS_PER_HOUR = 10
# Confirmation mails one address gets a day, however many networks ask for it (RESEND_MINUTES apart).
CONFIRMATIONS_PER_ADDRESS = 3
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058: the body of a one-click unsubscribe POST
_SENT = "subscribe_sent_to"  # in the session: the address the form was sent for, for the next page
_EXTENSION = "trustcenter.gate.subscriptions"


@dataclasses.dataclass
class _Limits:
    """Counted in the database, so every gate instance shares them (`throttle.py`)."""

    per_client: FailureCounter  # every form sent, by client network
    per_address: FailureCounter  # confirmation mails, by address


def _limits() -> _Limits:
    db = current().store.db
    return _Limits(FailureCounter(db, "subscribe.client", FORMS_PER_HOUR, 3600.0),
                   FailureCounter(db, "subscribe.address", CONFIRMATIONS_PER_ADDRESS, 24 * 3600.0))


@blueprint.get("/subscribe")
def form() -> ResponseReturnValue:
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    return _form_page(gate, "", None, 200)


@blueprint.post("/subscribe")
def subscribe() -> ResponseReturnValue:
    started = time.monotonic()
    gate = current()
    closed = _closed(gate)
    if closed is not None:
        return closed
    access.check_form()
    if forms.bot_filled_trap():
        # A bot: the same answer as a person gets, and nothing recorded or mailed.
        logger.info("subscribe form: honeypot filled by %s; ignored", flask.request.remote_addr)
        flask.session[_SENT] = ""
        return see_other(flask.url_for("subscriptions.sent"))
    typed = flask.request.form.get("email", "")
    try:
        address = forms.normalize_address(typed)
    except forms.AddressError as error:
        # Shown back as typed, but on one line and bounded: the page never carries what it refused whole.
        return _form_page(gate, forms.CONTROL.sub(" ", typed).strip()[: forms.MAX_EMAIL_CHARS], str(error), 400)
    client = client_key(flask.request.remote_addr or "unknown")
    limits = _limits()
    store = gate.store
    wait = limits.per_client.retry_after(client)
    if wait is not None:
        raise TooManySubscriptions(f"more than {FORMS_PER_HOUR} subscribe forms in an hour from {client}", wait)
    limits.per_client.record_failure(client)
    with store.db.write() as tx:
        if store.subscribers.recent_confirmations_from(tx, client) >= CONFIRMATIONS_PER_HOUR:
            raise TooManySubscriptions(f"more than {CONFIRMATIONS_PER_HOUR} subscriptions in an hour from {client}")
        mailbox = address.lower()
        # An address mailed CONFIRMATIONS_PER_ADDRESS times today is left alone: no new link, no mail.
        if limits.per_address.retry_after(mailbox, tx) is None:
            signup = store.subscribers.subscribe(tx, address, client)
            if signup.token is not None:
                company = gate.content.company.display_name
                gate.desk.send_mail(tx, address, f"Confirm your subscription to {company}'s trust center updates",
                                    "subscribe_confirm", url=subscribers.confirm_url(gate.public_url, signup.token),
                                    hours=subscribers.CONFIRM_HOURS, expires=signup.subscriber.confirm_expires)
                limits.per_address.record_failure(mailbox, tx)
    flask.session[_SENT] = address
    answer_no_sooner(started)  # subscribed or not, mailed or not: the time taken must not tell
    return see_other(flask.url_for("subscriptions.sent"))


@blueprint.get("/subscribe/sent")
def sent() -> ResponseReturnValue:
    return current().render("gate/subscribe_sent.html", 200, email=flask.session.get(_SENT) or None,
                            hours=subscribers.CONFIRM_HOURS)


@blueprint.get("/subscribe/confirm/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    """The address being confirmed and the button that confirms it. Changes nothing (mail scanners open links)."""
    gate = current()
    subscriber = _pending(gate, token, gate.store.db.read())
    return gate.render("gate/subscribe_confirm.html", 200, subscriber=subscriber, csrf=access.browser_session())


@blueprint.post("/subscribe/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    gate = current()
    access.check_form()
    store = gate.store
    with store.db.write() as tx:
        subscriber = store.subscribers.confirm(tx, _pending(gate, token, tx))
        store.log.append(tx, _event(audit.Kind.SUBSCRIBED, subscriber))
    return gate.render("gate/subscribe_done.html", 200, email=subscriber.email)


@blueprint.get("/subscribe/unsubscribe/<token>")
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """The button that unsubscribes, for a person who followed the link in a notice. Changes nothing."""
    gate = current()
    subscriber = _by_unsubscribe_token(gate, token, gate.store.db.read())
    return gate.render("gate/subscribe_unsubscribe.html", 200, subscriber=subscriber, one_click=ONE_CLICK)


@blueprint.post("/subscribe/unsubscribe/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    """Unsubscribe at once: RFC 8058's one-click POST, which mail providers send from their own servers (no
    cookie, no CSRF token, no Origin), and the button of the page above, which sends the same body. So neither
    CSRF nor Origin is checked here: the token, which only the notices carry, is the credential, and the worst
    a forged POST can do is unsubscribe the person it was mailed to."""
    gate = current()
    if flask.request.form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
        return gate.render("gate/error.html", 400, heading="This form is incomplete",
                           message="Open the unsubscribe link from the notice again and press the button.")
    store = gate.store
    with store.db.write() as tx:
        subscriber = _by_unsubscribe_token(gate, token, tx)
        if store.subscribers.unsubscribe(tx, subscriber):
            store.log.append(tx, _event(audit.Kind.UNSUBSCRIBED, subscriber))
    return gate.render("gate/subscribe_unsubscribed.html", 200, email=subscriber.email)


# ------------------------------------------------------------------ helpers


def _closed(gate: Gate) -> ResponseReturnValue | None:
    """The page that says subscriptions are not taken, when the gate cannot send mail."""
    if gate.sender is None:
        logger.error("the subscribe form is closed: no e-mail is configured (TRUSTCENTER_SMTP_URL)")
        return gate.render("gate/subscribe_closed.html", 503)
    return None


def _form_page(gate: Gate, email: str, error: str | None, status: int) -> ResponseReturnValue:
    return gate.render("gate/subscribe.html", status, email=email, errors={"email": error} if error else {},
                       csrf=access.browser_session(), trap=forms.TRAP_FIELD)


def _pending(gate: Gate, token: str, tx: Tx) -> subscribers.Subscriber:
    """The subscriber a confirmation link is for, or the refusal: unknown or used (403, counted as guessing),
    expired (410)."""
    subscriber = gate.store.subscribers.by_confirm_token(tx, token)
    if subscriber is None:
        raise InvalidSubscriptionLink("unknown or used subscription confirmation token")
    if subscriber.confirmation_expired:
        raise InvalidSubscriptionLink(f"expired confirmation of subscriber {subscriber.id}", expired=True)
    return subscriber


def _by_unsubscribe_token(gate: Gate, token: str, tx: Tx) -> subscribers.Subscriber:
    subscriber = gate.store.subscribers.by_unsubscribe_token(tx, token)
    if subscriber is None:
        raise InvalidSubscriptionLink("unknown unsubscribe token")
    return subscriber


def _event(kind: audit.Kind, subscriber: subscribers.Subscriber) -> audit.Event:
    visitor = forms.visitor()
    return audit.Event(kind, status=200, recipient=subscriber.email, browser=visitor.browser, ip=visitor.ip,
                       user_agent=visitor.user_agent, detail=f"subscriber {subscriber.id}")
