"""Every request the gate refuses: one class per reason, each carrying its HTTP status and its page.

The app answers them all in one handler (`app.refuse`): audit the refusal, count it against the
client where it looks like guessing, render `gate/denied.html` with the refusal's own words.
`detail` is for the audit log and the gate's console only; the visitor never sees it (nor the token).
A refusal that says how long to wait (`retry_after`) is answered with Retry-After as well, and every duration a
message names is read from the constant it describes, so the page cannot promise what the gate does not do.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from generator.errors import TrustCenterError
from generator.gate.mail import when

# The start of the audit detail of an expired and of a used-up link's refusal: how `links.minted_links` learns that
# a link minted elsewhere (whose expiry and download limit the gate never saw) has ended.
EXPIRED_DETAIL = "expired at "
USED_UP_DETAIL = "download limit of "
_HOUR = 3600.0  # the window the request and subscription forms count over, when the raiser names no wait

if TYPE_CHECKING:
    from generator.gate.grants import Grant
    from generator.gate.tokens import Link


class Refusal(TrustCenterError):
    """A request refused. Subclasses set the status and the words of the page."""

    status = 403
    heading = "The request could not be accepted"
    show_contact = False  # the page names whom to ask for a new link
    # Whether this refusal counts towards the client's failure limit: only what looks like guessing or
    # forging does, never a recipient's own expired, withdrawn or used-up link, or a form sent twice.
    counts_as_failure = False
    # Seconds until asking again can succeed: sent as Retry-After (429s). None: waiting does not help.
    retry_after: float | None = None
    # The footer's question on this refusal's page: what the visitor was doing when refused.
    question = "Questions?"
    for_staff = False  # a refusal on the staff page: its footer is the staff page's

    def __init__(self, detail: str, link: Link | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.link = link  # the authentic link the request was about, for the audit (None if not known good)
        self.grant: Grant | None = None  # the authentic grant the request was about, for the audit

    def message(self, company: str) -> str:
        return ("The form was not sent from this page in this browser. Open the link from your message again "
                "and submit the form once more.")


class InvalidLink(Refusal):
    """Forged, malformed, unknown key or document: answered generically, so a guess learns nothing."""

    heading = "This link cannot be used"
    counts_as_failure = True
    question = "Questions about this document?"

    def message(self, company: str) -> str:
        return ("The address is not a valid document link. Check that you opened the whole address from the "
                "message you received, or ask its sender for a new link.")


class ExpiredLink(Refusal):
    """An authentic link past its expiry (plus leeway)."""

    status = 410
    heading = "This link has expired"
    show_contact = True
    question = "Questions about this document?"

    def __init__(self, link: Link) -> None:
        super().__init__(f"{EXPIRED_DETAIL}{link.expires_at.isoformat()}", link)
        self.expired_at: dt.datetime = link.expires_at

    def message(self, company: str) -> str:
        return f"The link expired on {when(self.expired_at)}."


class RevokedLink(Refusal):
    """An authentic link withdrawn by its sender."""

    status = 410
    heading = "This link has been withdrawn"
    show_contact = True
    question = "Questions about this document?"

    def __init__(self, link: Link, reason: str) -> None:
        super().__init__(f"revoked: {reason}", link)
        self.reason = reason

    def message(self, company: str) -> str:
        return f"{company} has withdrawn this link, so the document is no longer available through it."


class UsedUpLink(Refusal):
    """An authentic link whose downloads are all used."""

    status = 410
    heading = "This link's download limit is reached"
    show_contact = True
    question = "Questions about this document?"

    def __init__(self, link: Link) -> None:
        super().__init__(f"{USED_UP_DETAIL}{link.max_downloads} reached", link)

    def message(self, company: str) -> str:
        return "The document has been downloaded as many times as this link allows."


class CrossSiteRequest(Refusal):
    """A POST from another site (Origin or Sec-Fetch-Site say so)."""

    counts_as_failure = True


class BadCsrfToken(Refusal):
    """The form's CSRF token is missing or is not this browser's."""

    counts_as_failure = True


class NotAccepted(Refusal):
    """A download asked for by a browser that has not accepted the NDA for this link."""

    heading = "Please accept the agreement first"
    question = "Questions about this document?"

    def message(self, company: str) -> str:
        return ("This browser has not accepted the non-disclosure agreement for this link. Open the link from "
                "your message again, read the agreement and accept it; then download the document.")


class Throttled(Refusal):
    """Too many failures from this client lately."""

    status = 429
    heading = "Too many attempts"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failures; retry after {retry_after:.0f} s")
        self.retry_after = retry_after

    def message(self, company: str) -> str:
        return f"There were too many failed attempts from your network. Try again in {_wait(self.retry_after or 0.0)}."


class InvalidConfirmation(Refusal):
    """A request's confirmation link that is unknown (guessing: counted), or used or expired (410)."""

    heading = "This confirmation link cannot be used"
    question = "Questions about your request?"

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.status = 410 if expired else 403
        self.counts_as_failure = not expired

    def message(self, company: str) -> str:
        from generator.gate.grants import CONFIRM_HOURS

        return (f"The link may have expired (confirmation links last {CONFIRM_HOURS} hours) or have been used "
                "already. If you still need the documents, send the request form again.")


class TooManyRequests(Refusal):
    """More access requests from one network than a person sends. `retry_after`: when the oldest of them leaves
    the count, if the raiser knows it; else the hour the form counts over (never sooner than the real wait)."""

    status = 429
    heading = "Too many requests"
    question = "Questions about your request?"  # the footer names whom to write to: no "new link" to ask for

    def __init__(self, detail: str, retry_after: float = _HOUR) -> None:
        super().__init__(detail)
        self.retry_after = max(1.0, retry_after)

    def message(self, company: str) -> str:
        return (f"There were more requests from your network than one person sends. Please try again in "
                f"{_wait(self.retry_after or 0.0)}.")


class InvalidGrant(Refusal):
    """A grant link that names no grant: answered generically, like a forged link."""

    heading = "This link cannot be used"
    counts_as_failure = True
    question = "Questions about these documents?"

    def message(self, company: str) -> str:
        return ("The address is not a valid document link. Check that you opened the whole address from the "
                "message you received.")


class ExpiredGrant(Refusal):
    status = 410
    heading = "This access has ended"
    show_contact = True
    question = "Questions about these documents?"

    def __init__(self, grant: Grant) -> None:
        super().__init__(f"grant {grant.id} expired at {grant.expires}")
        self.grant = grant
        self.ended = grant.expires_at

    def message(self, company: str) -> str:
        return f"Your access to these documents ended on {when(self.ended)}."


class RevokedGrant(Refusal):
    status = 410
    heading = "This access has been withdrawn"
    show_contact = True
    question = "Questions about these documents?"

    def __init__(self, grant: Grant, reason: str) -> None:
        super().__init__(f"grant {grant.id} revoked: {reason}")
        self.grant = grant

    def message(self, company: str) -> str:
        return f"{company} has withdrawn your access to these documents."


class GrantNotAccepted(Refusal):
    """A download from a grant in a browser that has not accepted its NDA."""

    heading = "Please accept the agreement first"
    question = "Questions about these documents?"

    def __init__(self, detail: str, grant: Grant) -> None:
        super().__init__(detail)
        self.grant = grant

    def message(self, company: str) -> str:
        return ("This browser has not accepted the non-disclosure agreement for these documents. Open the link "
                "from your message again, read the agreement and accept it; then download the documents.")


class InvalidSubscriptionLink(Refusal):
    """A subscription's confirmation or unsubscribe link that names nothing (guessing: counted), or a
    confirmation past its `subscribers.CONFIRM_HOURS` (410)."""

    heading = "This link cannot be used"
    question = "Questions about e-mail updates?"

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.status = 410 if expired else 403
        self.counts_as_failure = not expired

    def message(self, company: str) -> str:
        from generator.gate.subscribers import CONFIRM_HOURS

        return (f"The link may have expired (confirmation links last {CONFIRM_HOURS} hours) or have been used "
                "already. To subscribe, send the form again; to unsubscribe, use the link in the latest notice you "
                "received.")


class TooManySubscriptions(Refusal):
    """More subscriptions asked for from one network than a person asks for. `retry_after`: when the oldest of
    them leaves the count, if the raiser knows it; else the hour the form counts over (never sooner than the real
    wait)."""

    status = 429
    heading = "Too many subscriptions"
    question = "Questions about e-mail updates?"

    def __init__(self, detail: str, retry_after: float = _HOUR) -> None:
        super().__init__(detail)
        self.retry_after = max(1.0, retry_after)

    def message(self, company: str) -> str:
        return (f"There were more subscriptions from your network than one person asks for. Please try again in "
                f"{_wait(self.retry_after or 0.0)}.")


# ---------------------------------------------------------------- the staff page (staff.py)


class InvalidSignIn(Refusal):
    """A staff sign-in link that names no sign-in (guessing: counted), or one for an address no longer on the
    staff list."""

    heading = "This sign-in link cannot be used"
    counts_as_failure = True
    for_staff = True

    def message(self, company: str) -> str:
        return ("The address is not a valid sign-in link. Check that you opened the whole address from the "
                "message, or ask for a new link on the staff page.")


class SpentSignIn(Refusal):
    """A staff sign-in link used already or past its `staff.SIGN_IN_MINUTES`."""

    status = 410
    heading = "This sign-in link has been used or has expired"
    for_staff = True

    def message(self, company: str) -> str:
        from generator.gate.staff import SIGN_IN_MINUTES  # here: staff.py imports this module

        return (f"A sign-in link works once, within {SIGN_IN_MINUTES} minutes of being sent. Ask for a new one "
                "on the staff page.")


class NotSignedIn(Refusal):
    """A staff action without a live staff session (never signed in, signed out, idle, or off the list)."""

    heading = "You are not signed in"
    for_staff = True

    def message(self, company: str) -> str:
        from generator.gate.staff import IDLE_MINUTES, SESSION_HOURS  # here: staff.py imports this module

        return (f"Your staff session has ended (after {IDLE_MINUTES} minutes without activity, {SESSION_HOURS} "
                "hours after signing in, or when you signed out), so nothing was done. Sign in again on the staff "
                "page.")


class StaffFormExpired(BadCsrfToken):
    """A staff form without the CSRF token of the session it is sent in."""

    for_staff = True

    def message(self, company: str) -> str:
        return ("The form was not sent from the staff page of this session, so nothing was done. Open the staff "
                "page again and repeat the action.")


class TooManySignIns(Refusal):
    """More sign-in links asked for, from one network or for one address, than a person needs."""

    status = 429
    heading = "Too many sign-in links"
    for_staff = True

    def __init__(self, retry_after: float, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def message(self, company: str) -> str:
        return (f"Too many sign-in links were asked for from your network or for this address. Use the latest "
                f"link you received, or try again in {_wait(self.retry_after or 0.0)}.")


def _wait(seconds: float) -> str:
    """A wait in words, rounded up to whole minutes (a page that says "1 minute" must not be early)."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class DocumentNoLongerOffered(Refusal):
    """A granted document that the content no longer lists as gated (removed, or made public, since)."""

    status = 410
    heading = "This document is no longer offered"
    show_contact = True
    question = "Questions about these documents?"  # a grant's page, as its other refusals

    def message(self, company: str) -> str:
        return f"{company} no longer offers this document through this access. The others still work."
