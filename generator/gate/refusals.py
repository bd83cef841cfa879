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
