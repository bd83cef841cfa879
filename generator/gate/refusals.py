"""Every request the gate refuses: one class per reason, each carrying its HTTP status and its page.

The app answers them all in one handler (`app.refuse`): audit the refusal, count it against the
client where it looks like guessing, render `gate/denied.html` with the refusal's own words.
`detail` is for the audit log and the gate's console only; the visitor never sees it (nor the token).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from generator.errors import TrustCenterError

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

    def message(self, company: str) -> str:
        return ("The address is not a valid document link. Check that you opened the whole address from the "
                "message you received, or ask its sender for a new link.")


class ExpiredLink(Refusal):
    """An authentic link past its expiry (plus leeway)."""

    status = 410
    heading = "This link has expired"
    show_contact = True

    def __init__(self, link: Link) -> None:
        super().__init__(f"expired at {link.expires_at.isoformat()}", link)
        self.expired_at: dt.datetime = link.expires_at

    def message(self, company: str) -> str:
        return f"The link expired on {self.expired_at:%d %B %Y at %H:%M} UTC."


class RevokedLink(Refusal):
    """An authentic link withdrawn by its sender."""

    status = 410
    heading = "This link has been withdrawn"
    show_contact = True

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

    def __init__(self, link: Link) -> None:
        super().__init__(f"download limit of {link.max_downloads} reached", link)

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
        minutes = max(1, round(self.retry_after / 60))
        return (f"There were too many failed attempts from your network. Try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}.")


class InvalidConfirmation(Refusal):
    """A request's confirmation link that is unknown (guessing: counted), or used or expired (410)."""

    heading = "This confirmation link cannot be used"

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.status = 410 if expired else 403
        self.counts_as_failure = not expired

    def message(self, company: str) -> str:
        return ("The link may have expired (confirmation links last 24 hours) or have been used already. If you "
                "still need the documents, send the request form again.")


class TooManyRequests(Refusal):
    """More access requests from one network than a person sends."""

    status = 429
    heading = "Too many requests"
    show_contact = True

    def message(self, company: str) -> str:
        return "There were too many requests from your network in the last hour. Please try again later."


class InvalidGrant(Refusal):
    """A grant link that names no grant: answered generically, like a forged link."""

    heading = "This link cannot be used"
    counts_as_failure = True

    def message(self, company: str) -> str:
        return ("The address is not a valid document link. Check that you opened the whole address from the "
                "message you received.")


class ExpiredGrant(Refusal):
    status = 410
    heading = "This access has ended"
    show_contact = True

    def __init__(self, grant: Grant) -> None:
        super().__init__(f"grant {grant.id} expired at {grant.expires}")
        self.grant = grant
        self.ended = grant.expires_at

    def message(self, company: str) -> str:
        return f"Your access to these documents ended on {self.ended:%d %B %Y}."


class RevokedGrant(Refusal):
    status = 410
    heading = "This access has been withdrawn"
    show_contact = True

    def __init__(self, grant: Grant, reason: str) -> None:
        super().__init__(f"grant {grant.id} revoked: {reason}")
        self.grant = grant

    def message(self, company: str) -> str:
        return f"{company} has withdrawn your access to these documents."


class GrantNotAccepted(Refusal):
    """A download from a grant in a browser that has not accepted its NDA."""

    heading = "Please accept the agreement first"

    def __init__(self, detail: str, grant: Grant) -> None:
        super().__init__(detail)
        self.grant = grant

    def message(self, company: str) -> str:
        return ("This browser has not accepted the non-disclosure agreement for these documents. Open the link "
                "from your message again, read the agreement and accept it; then download the documents.")


class InvalidSubscriptionLink(Refusal):
    """A subscription's confirmation or unsubscribe link that names nothing (guessing: counted), or a
    confirmation past its 48 hours (410)."""

    heading = "This link cannot be used"

    def __init__(self, detail: str, *, expired: bool = False) -> None:
        super().__init__(detail)
        self.status = 410 if expired else 403
        self.counts_as_failure = not expired

    def message(self, company: str) -> str:
        return ("The link may have expired (confirmation links last 48 hours) or have been used already. To "
                "subscribe, send the form again; to unsubscribe, use the link in the latest notice you received.")


class TooManySubscriptions(Refusal):
    """More subscriptions asked for from one network than a person asks for."""

    status = 429
    heading = "Too many subscriptions"

    def message(self, company: str) -> str:
        return ("There were too many subscriptions from your network in the last hour. Please try again in an "
                "hour.")


# ---------------------------------------------------------------- the staff page (staff.py)


class InvalidSignIn(Refusal):
    """A staff sign-in link that names no sign-in (guessing: counted), or one for an address no longer on the
    staff list."""

    heading = "This sign-in link cannot be used"
    counts_as_failure = True

    def message(self, company: str) -> str:
        return ("The address is not a valid sign-in link. Check that you opened the whole address from the "
                "message, or ask for a new link on the staff page.")


class SpentSignIn(Refusal):
    """A staff sign-in link used already or past its 15 minutes."""

    status = 410
    heading = "This sign-in link has been used or has expired"

    def message(self, company: str) -> str:
        return ("A sign-in link works once, within 15 minutes of being sent. Ask for a new one on the staff "
                "page.")


class NotSignedIn(Refusal):
    """A staff action without a live staff session (never signed in, signed out, idle, or off the list)."""

    heading = "You are not signed in"

    def message(self, company: str) -> str:
        return ("Your staff session has ended (after 30 minutes without activity, 8 hours after signing in, or "
                "when you signed out), so nothing was done. Sign in again on the staff page.")


class StaffFormExpired(BadCsrfToken):
    """A staff form without the CSRF token of the session it is sent in."""

    def message(self, company: str) -> str:
        return ("The form was not sent from the staff page of this session, so nothing was done. Open the staff "
                "page again and repeat the action.")


class TooManySignIns(Refusal):
    """More sign-in links asked for, from one network or for one address, than a person needs."""

    status = 429
    heading = "Too many sign-in links"

    def __init__(self, retry_after: float, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def message(self, company: str) -> str:
        minutes = max(1, round(self.retry_after / 60))
        return (f"Too many sign-in links were asked for from your network or for this address. Use the latest "
                f"link you received, or try again in {minutes} minute{'s' if minutes != 1 else ''}.")
