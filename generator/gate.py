"""The gate: verifies document links, shows the NDA, serves watermarked reports, audits every step,
and serves the built static site at every other path.

Why Flask: the gate needs signed session cookies (acceptance is per browser, the CSRF token
lives there), Jinja with autoescape, an app factory so each test builds its own gate on a
temporary folder, and safe file serving for the site (werkzeug's safe_join, conditional
requests). Flask gives exactly those in a small, well-reviewed package; anything bigger would
bring an ORM or async machinery the gate does not need, and bare WSGI would mean re-writing
cookie signing and form parsing. waitress serves it: pure Python, no C build, threads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import flask
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.security import safe_join

from generator import audit, hosting, links, markup, model, rules, watermark
from generator.throttle import FailureCounter

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = TEMPLATES / "gate" / "gate.css"
SECRET_ENV = "TRUSTCENTER_GATE_SECRET"  # noqa: S105 - the name of a variable, not a secret
MAX_FORM_BYTES = 16 * 1024
MIN_SECRET_BYTES = 32
MAX_FIELD_CHARS = 200
# The static site's own headers (hosting.py: the same as _headers and deploy/nginx.conf, so the
# site behaves alike wherever it is served), plus isolation headers only a server can send. The
# static site therefore carries no inline script or style: overrides/ serves Material's as files.
CONTENT_SECURITY_POLICY = hosting.CONTENT_SECURITY_POLICY
SECURITY_HEADERS = {
    **hosting.SECURITY_HEADERS,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_CONTENT_TYPES = {
    ".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
    ".json": "application/json", ".map": "application/json", ".xml": "application/xml",
    ".txt": "text/plain", ".csv": "text/csv", ".svg": "image/svg+xml", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
    ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".pdf": "application/pdf",
    ".gz": "application/gzip", ".webmanifest": "application/manifest+json",
}
_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """Everything the gate needs; tests build one per test on tmp_path."""

    project_dir: Path
    site_dir: Path
    db_path: Path
    secret_key: bytes  # signs the session cookie
    trusted_keys: Mapping[str, Ed25519PublicKey]  # by kid: the only keys a link may be signed with
    secure_cookies: bool = True
    failure_limit: int = 20
    failure_window_seconds: float = 300.0
    session_hours: float = 12.0


def settings_for(project_dir: Path, *, site_dir: Path | None = None, db_path: Path | None = None,
                 secure_cookies: bool = True, include_demo_keys: bool = False) -> GateSettings:
    """Settings for a project on disk: keys from trust/keys/ (the demo key only for `trustcenter demo`),
    a session secret kept beside the database."""
    from generator import keys

    db_path = db_path or project_dir / audit.DEFAULT_DB
    return GateSettings(
        project_dir=project_dir,
        site_dir=site_dir or project_dir / "site",
        db_path=db_path,
        secret_key=_session_secret(db_path.parent / "gate-session.key"),
        trusted_keys=keys.load_trusted_keys(project_dir, include_demo=include_demo_keys),
        secure_cookies=secure_cookies,
    )


class UnsafeSessionSecret(Exception):
    """The session secret is too short, or its file is not this user's alone; the message says what to do."""


def _session_secret(file: Path) -> bytes:
    """From the environment, else a random secret kept in a 0600 file, so restarts keep sessions."""
    if SECRET_ENV in os.environ:
        secret = os.environ[SECRET_ENV].encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise UnsafeSessionSecret(f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} bytes; set it to the output "
                                      "of `python -c 'import secrets; print(secrets.token_urlsafe(48))'` or unset it")
        return secret
    if not file.exists():
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_session_secret(file)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return _read_session_secret(file)


def _read_session_secret(file: Path) -> bytes:
    """The secret file, only if this user owns it, no one else can read or write it, and it is long enough:
    anyone who can read it can forge acceptances; anyone who can write it can choose the secret."""
    with file.open("rb") as handle:
        info = os.fstat(handle.fileno())
        secret = handle.read(4096)
    if os.name == "posix" and info.st_uid != os.getuid():
        raise UnsafeSessionSecret(f"the session secret {file} belongs to another user; remove it (the gate makes "
                                  "a new one) or set " + SECRET_ENV)
    if os.name == "posix" and info.st_mode & 0o077:
        raise UnsafeSessionSecret(f"the session secret {file} can be read or changed by other users; remove it "
                                  f"(the gate makes a new one) or run `chmod 600 {file}`")
    if len(secret) < MIN_SECRET_BYTES:
        raise UnsafeSessionSecret(f"the session secret {file} is shorter than {MIN_SECRET_BYTES} bytes; remove it "
                                  "and the gate makes a new one")
    return secret


# ---------------------------------------------------------------- refusals that are not about the link


class Denial(Exception):
    """A request refused for a reason other than the link itself (403 unless said otherwise)."""

    status = 403

    def __init__(self, detail: str, link: links.Link | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.link = link  # the authentic link the request was about, for the audit


class CrossSiteRequest(Denial):
    """A POST from another site (Origin or Sec-Fetch-Site say so)."""


class BadCsrfToken(Denial):
    """The form's CSRF token is missing or is not this browser's."""


class NotAccepted(Denial):
    """A download asked for by a browser that has not accepted the NDA for this link."""


class Throttled(Denial):
    """Too many failures from this address lately."""

    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failures; retry after {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    heading: str
    message: str
    show_contact: bool = False


def _answer(error: Exception, link_company: str) -> _Answer:
    """The one place where each refusal becomes an HTTP answer."""
    if isinstance(error, links.ExpiredLink):
        return _Answer(410, "This link has expired",
                       f"The link expired on {error.expired_at:%d %B %Y at %H:%M} UTC.", show_contact=True)
    if isinstance(error, links.RevokedLink):
        return _Answer(410, "This link has been withdrawn",
                       f"{link_company} has withdrawn this link, so the document is no longer available through "
                       "it.", show_contact=True)
    if isinstance(error, links.UsedUpLink):
        return _Answer(410, "This link's download limit is reached",
                       "The document has been downloaded as many times as this link allows.", show_contact=True)
    if isinstance(error, links.InvalidLink):
        return _Answer(403, "This link cannot be used",
                       "The address is not a valid document link. Check that you opened the whole address from "
                       "the message you received, or ask its sender for a new link.")
    if isinstance(error, Throttled):
        minutes = max(1, round(error.retry_after / 60))
        return _Answer(429, "Too many attempts",
                       f"There were too many failed attempts from your network. Try again in {minutes} "
                       f"minute{'s' if minutes != 1 else ''}.")
    if isinstance(error, NotAccepted):
        return _Answer(403, "Please accept the agreement first",
                       "This browser has not accepted the non-disclosure agreement for this link. Open the link "
                       "from your message again, read the agreement and accept it; then download the document.")
    if isinstance(error, Denial):
        return _Answer(403, "The form could not be accepted",
                       "The form was not sent from this page in this browser. Open the link from your message "
                       "again and submit the form once more.")
    raise TypeError(f"no answer for {type(error).__name__}")


# ---------------------------------------------------------------- the application


class _Gate:
    def __init__(self, settings: GateSettings, content: model.TrustCenter) -> None:
        self.settings = settings
        self.content = content
        self.log = audit.AuditLog(settings.db_path)
        self.failures = FailureCounter(settings.failure_limit, settings.failure_window_seconds)
        self.documents = {document.id: document for document in content.gated_documents}
        self.issuer = content.company.trust_center_url
        self.max_lifetime = dt.timedelta(days=content.company.link_max_days)
        nda_file = content.root / model.NDA_FILE
        self.nda_sha256 = hashlib.sha256(nda_file.read_bytes()).hexdigest()
        self.nda_html = markup.render(content.nda_text, heading_offset=1)
        self.site_root = settings.site_dir.resolve()
        contacts = content.company.contacts
        self.contact = contacts.sales or contacts.security

    # ------------------------------------------------ checks shared by the three link routes

    def link(self, token: str) -> links.Link:
        link = links.verify(token, keys=self.settings.trusted_keys, issuer=self.issuer,
                            gated_documents=self.documents, max_lifetime=self.max_lifetime)
        reason = self.log.revocation(link.link_id)
        if reason is not None:
            raise links.RevokedLink(link, reason)
        if self.log.downloads(link.link_id) >= link.max_downloads:
            raise links.UsedUpLink(link)
        return link

    def event(self, kind: audit.Kind, status: int, link: links.Link | None, **fields: Any) -> audit.Event:
        request = flask.request
        return audit.Event(
            kind, status=status,
            link_id=link.link_id if link else None,
            recipient=link.recipient if link else None,
            document=link.document_id if link else None,
            browser=flask.session.get("browser"),
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:300] or None,
            **fields,
        )

    # ------------------------------------------------ routes

    def access(self, token: str) -> ResponseReturnValue:
        """GET: the NDA, or the download offer once accepted here. Changes nothing but the audit."""
        link = self.link(token)
        csrf = _browser_session()
        offered = self._accepted(link)
        self.log.record(self.event(audit.Kind.OPENED, 200, link, detail="download offered" if offered else "NDA shown"))
        if offered:
            return self.render("gate/offer.html", 200, link=link, csrf=csrf,
                               downloads_left=link.max_downloads - self.log.downloads(link.link_id))
        return self.render("gate/nda.html", 200, link=link, csrf=csrf, form={}, errors={})

    def accept(self, token: str) -> ResponseReturnValue:
        """POST: record the acceptance (or pass on to the download) and redirect, 303."""
        link = self.link(token)
        _check_same_origin(link)
        csrf = _browser_session()
        sent = flask.request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise BadCsrfToken("CSRF token missing or not this browser's", link)
        here = f"{flask.request.script_root}/access/{token}"
        if flask.request.form.get("step") == "download":
            if not self._accepted(link):
                raise NotAccepted("download asked for before accepting", link)
            return _see_other(f"{here}/download")
        form = {field: " ".join(flask.request.form.get(field, "").split()) for field in ("name", "company")}
        errors = _form_errors(form, agreed=flask.request.form.get("accept") == "yes")
        if errors:
            return self.render("gate/nda.html", 400, link=link, csrf=csrf, form=form, errors=errors)
        self.log.record(self.event(audit.Kind.ACCEPTED, 303, link, name=form["name"], company=form["company"],
                                   nda_sha256=self.nda_sha256))
        accepted = [item for item in flask.session.get("accepted", []) if item != link.link_id]
        flask.session["accepted"] = [*accepted, link.link_id][-20:]
        return _see_other(here)

    def download(self, token: str) -> ResponseReturnValue:
        """GET: the document stamped for this recipient; only after acceptance in this browser."""
        if flask.request.method != "GET":  # Flask adds HEAD to every GET route; a HEAD must not count
            raise MethodNotAllowed(["GET"])
        link = self.link(token)
        if not self._accepted(link):
            raise NotAccepted("download without accepting the NDA in this browser", link)
        document = self.documents[link.document_id]
        today = dt.datetime.now(dt.UTC).date()
        stamped = watermark.watermark(self.content.document_path(document),
                                      watermark.Stamp(link.recipient, link.company, today, link.link_id))
        # Counted atomically with the checks, so parallel downloads cannot exceed the limit, nor one
        # revoked while the document was being stamped go out.
        try:
            counted = self.log.record_download(self.event(audit.Kind.DOWNLOADED, 200, link), link.max_downloads)
        except audit.Revoked as revoked:
            raise links.RevokedLink(link, revoked.reason) from None
        if not counted:
            raise links.UsedUpLink(link)
        response = flask.Response(stamped, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{document.id}-{link.link_id}.pdf"'
        return response

    def refuse(self, error: Exception) -> ResponseReturnValue:
        """Audit a refusal, count it against the client, and answer it."""
        link = error.link if isinstance(error, (links.InvalidLink, Denial)) else None
        answer = _answer(error, self.content.company.name)
        client = flask.request.remote_addr or "unknown"
        token = (flask.request.view_args or {}).get("token")
        detail = getattr(error, "detail", str(error))
        if token is not None:
            detail = f"{detail}; token sha256:{links.fingerprint(token)}"
        if isinstance(error, Throttled):
            if self.failures.first_refusal(client):
                self.log.record(self.event(audit.Kind.DENIED, 429, None, detail=detail))
        else:
            self.failures.record_failure(client)
            self.log.record(self.event(audit.Kind.DENIED, answer.status, link, detail=detail))
        response = flask.make_response(self.render("gate/denied.html", answer.status, answer=answer))
        if isinstance(error, Throttled):
            response.headers["Retry-After"] = str(int(error.retry_after) + 1)
        return response

    def throttle(self) -> None:
        if flask.request.path.startswith("/access/") and flask.request.endpoint != "stylesheet":
            retry_after = self.failures.retry_after(flask.request.remote_addr or "unknown")
            if retry_after is not None:
                raise Throttled(retry_after)

    def site(self, path: str = "") -> ResponseReturnValue:
        """The built static site: no path outside it, index.html for folders, the site's 404 page."""
        flask.g.static_file = True
        if _UNSAFE_PATH.search(path):
            return self.not_found()
        joined = safe_join(str(self.site_root), path) if path else str(self.site_root)
        if joined is None:
            return self.not_found()
        target = Path(joined)
        if target.is_dir():
            if path and not path.endswith("/"):
                query = flask.request.query_string.decode("latin-1")
                return _see_other(f"{flask.request.script_root}/{path}/" + (f"?{query}" if query else ""), 308)
            target = target / "index.html"
        if not target.is_file() or not target.resolve().is_relative_to(self.site_root):
            return self.not_found()
        return flask.send_file(target, mimetype=_content_type(target), conditional=True, etag=True)

    def not_found(self) -> ResponseReturnValue:
        page = self.site_root / "404.html"
        if page.is_file():
            return flask.Response(page.read_bytes(), 404, mimetype="text/html")
        return self.render("gate/error.html", 404, heading="Page not found",
                           message="There is no page at this address.")

    def http_error(self, error: HTTPException) -> ResponseReturnValue:
        if error.code == 404:
            return self.not_found()
        status = error.code or 500
        return self.render("gate/error.html", status, heading=f"{status} {error.name}",
                           message="The request could not be handled.")

    def server_error(self, error: Exception) -> ResponseReturnValue:
        logger.error("unexpected error in the gate", exc_info=error)
        return self.render("gate/error.html", 500, heading="Something went wrong",
                           message="The gate could not answer this request. Please try again later.")

    def render(self, template: str, status: int, **context: Any) -> flask.Response:
        company = self.content.company
        link: links.Link | None = context.get("link")
        page = flask.render_template(
            template, company_name=company.name, contact=self.contact, nda_html=self.nda_html,
            document=self.documents.get(link.document_id) if link else None,
            expires=f"{link.expires_at:%d %B %Y at %H:%M} UTC" if link else None,
            **context,
        )
        return flask.Response(page, status, mimetype="text/html")

    def _accepted(self, link: links.Link) -> bool:
        return link.nda_on_file or link.link_id in flask.session.get("accepted", [])


def create_app(settings: GateSettings) -> flask.Flask:
    """A gate for one project: content validated once at start; state in the SQLite file."""
    content = rules.load_valid(settings.project_dir)
    gate = _Gate(settings, content)
    app = flask.Flask(__name__, static_folder=None, template_folder=str(TEMPLATES))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # __Host-: only this host, path /, Secure — browsers refuse the prefix without Secure.
        SESSION_COOKIE_NAME="__Host-trustcenter" if settings.secure_cookies else "trustcenter",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
    )
    app.extensions["trustcenter.gate"] = gate
    app.before_request(gate.throttle)
    app.add_url_rule("/healthz", "healthz", _healthz, methods=["GET"])
    app.add_url_rule("/access/gate.css", "stylesheet", _stylesheet, methods=["GET"])
    app.add_url_rule("/access/<token>", "access", gate.access, methods=["GET"])
    app.add_url_rule("/access/<token>", "accept", gate.accept, methods=["POST"])
    app.add_url_rule("/access/<token>/download", "download", gate.download, methods=["GET"])
    app.add_url_rule("/", "site", gate.site, defaults={"path": ""}, methods=["GET"])
    app.add_url_rule("/<path:path>", "site", gate.site, methods=["GET"])
    app.register_error_handler(links.InvalidLink, gate.refuse)
    app.register_error_handler(Denial, gate.refuse)
    app.register_error_handler(HTTPException, gate.http_error)
    app.register_error_handler(Exception, gate.server_error)
    app.after_request(_security_headers)
    return app


def close(app: flask.Flask) -> None:
    """Close the gate's database connections (tests restart gates on one file)."""
    gate: _Gate = app.extensions["trustcenter.gate"]
    gate.log.close()


def serve(settings: GateSettings, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
          trusted_proxy: str | None = None) -> None:
    """Serve with waitress. Behind a reverse proxy (TLS), name it: its X-Forwarded-For/-Proto/-Host are
    then believed, so the client address (audit, throttling) and https (HSTS) are the real ones."""
    import waitress  # type: ignore[import-untyped]

    app = create_app(settings)
    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}}
    # Without max_request_body_size waitress buffers up to 1 GB of body before Flask's limit applies; it
    # refuses a body of that size or more, so + 1 keeps Flask's limit exactly.
    waitress.serve(app, host=host, port=port, threads=threads, ident="", clear_untrusted_proxy_headers=True,
                   max_request_body_size=MAX_FORM_BYTES + 1, **proxy)


# ---------------------------------------------------------------- small parts


def _healthz() -> ResponseReturnValue:
    return flask.Response("ok", 200, mimetype="text/plain")


def _stylesheet() -> ResponseReturnValue:
    flask.g.static_file = True
    return flask.send_file(STYLESHEET, mimetype="text/css", conditional=True, max_age=3600)


def _browser_session() -> str:
    """This browser's id and CSRF token, made on first visit. Returns the CSRF token."""
    session = flask.session
    session.permanent = True
    if "browser" not in session:
        session["browser"] = secrets.token_hex(8)
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def _check_same_origin(link: links.Link) -> None:
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


def _form_errors(form: dict[str, str], *, agreed: bool) -> dict[str, str]:
    errors = {}
    for field, label in (("name", "your full name"), ("company", "your company")):
        value = form[field]
        if not value:
            errors[field] = f"Enter {label}."
        elif len(value) > MAX_FIELD_CHARS or any(ord(char) < 32 or ord(char) == 127 for char in value):
            errors[field] = f"Enter {label} in at most {MAX_FIELD_CHARS} characters."
    if not agreed:
        errors["accept"] = "Tick the box to accept the agreement."
    return errors


def _see_other(location: str, status: int = 303) -> flask.Response:
    # Not flask.redirect: its HTML body would repeat the location, and with it the token.
    return flask.Response(b"", status, headers={"Location": location})


def _security_headers(response: flask.Response) -> flask.Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not flask.g.get("static_file") or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    if flask.request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _content_type(file: Path) -> str:
    import mimetypes

    known = _CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0]
    return known or "application/octet-stream"
