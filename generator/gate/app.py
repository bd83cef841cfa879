"""The gate's app factory: one Flask app per settings, with the /access and site blueprints, every
refusal answered in one place, security headers on every response.

Why Flask: the gate needs signed session cookies (acceptance is per browser, the CSRF token
lives there), Jinja with autoescape, an app factory so each test builds its own gate on a
temporary folder, and safe file serving for the site (werkzeug's safe_join, conditional
requests). Flask gives exactly those in a small, well-reviewed package; anything bigger would
bring an ORM or async machinery the gate does not need, and bare WSGI would mean re-writing
cookie signing and form parsing. waitress serves it: pure Python, no C build, threads.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from pathlib import Path
from typing import Any

import flask
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from generator.content import markup, model
from generator.content.validate import load_valid
from generator.errors import GateConfigError, StoreError
from generator.gate import audit, tokens
from generator.gate.refusals import Refusal, RevokedLink, Throttled, UsedUpLink
from generator.gate.settings import GateSettings
from generator.gate.throttle import FailureCounter
from generator.site import headers

logger = logging.getLogger(__name__)

STYLESHEET = Path(__file__).parent / "static" / "gate.css"
MAX_FORM_BYTES = 16 * 1024
# The static site's own headers (site/headers.py: the same as _headers and deploy/nginx.conf, so the
# site behaves alike wherever it is served), plus isolation headers only a server can send. The
# static site therefore carries no inline script or style: the theme serves Material's as files.
CONTENT_SECURITY_POLICY = headers.CONTENT_SECURITY_POLICY
SECURITY_HEADERS = {
    **headers.SECURITY_HEADERS,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_EXTENSION = "trustcenter.gate"
# waitress' defaults (100 connections, 120 s idle) let 150 slow sockets hold every connection: the gate
# keeps many connections (asyncore makes an idle one cheap), closes idle ones sooner, and still belongs
# behind a reverse proxy that cuts slow clients (deploy/nginx.conf).
SERVER_LIMITS: dict[str, Any] = {"connection_limit": 1000, "channel_timeout": 30, "cleanup_interval": 10}


class Gate:
    """One gate's state: its settings, the content it was started with, the audit store, the throttle."""

    def __init__(self, settings: GateSettings, content: model.TrustCenter) -> None:
        self.settings = settings
        self.content = content
        if settings.serve_site:
            _refuse_unsafe_site_dir(settings, content)
        self.log = audit.AuditLog(settings.db_path, settings.audit_key, create=settings.create_db)
        check = self.log.verify_chain()
        if not check.ok:
            self.log.close()
            raise StoreError(f"the audit log in {settings.db_path} does not verify ({check.problem}); the gate "
                             "does not start on a log that may have been tampered with: keep the file for "
                             "investigation and restore the last backup that verifies")
        self.failures = FailureCounter(settings.failure_limit, settings.failure_window_seconds)
        self.documents = {document.id: document for document in content.gated_documents}
        self.issuer = content.company.trust_center_url
        self.max_lifetime = dt.timedelta(days=content.company.link_max_days)
        self.nda_html = markup.render(content.nda_text, heading_offset=1)
        self.site_root = settings.site_dir.resolve()
        contacts = content.company.contacts
        self.contact = contacts.sales or contacts.security

    def link(self, token: str) -> tokens.Link:
        """The link a token stands for, if it may be used now: signed, current, not revoked, not used up."""
        link = tokens.verify(token, keys=self.settings.trusted_keys, issuer=self.issuer,
                             gated_documents=self.documents, max_lifetime=self.max_lifetime)
        reason = self.log.revocation(link.link_id)
        if reason is not None:
            raise RevokedLink(link, reason)
        if self.log.downloads(link.link_id) >= link.max_downloads:
            raise UsedUpLink(link)
        return link

    def event(self, kind: audit.Kind, status: int, link: tokens.Link | None, **fields: Any) -> audit.Event:
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

    def render(self, template: str, status: int, **context: Any) -> flask.Response:
        company = self.content.company
        link: tokens.Link | None = context.get("link")
        # Where "the trust center" is: the site this gate serves, or (the gate on its own origin) the site's address.
        site_url = f"{flask.request.script_root}/" if self.settings.serve_site else company.trust_center_url
        page = flask.render_template(
            template, company_name=company.name, contact=self.contact, nda_html=self.nda_html, site_url=site_url,
            document=self.documents.get(link.document_id) if link else None,
            expires=f"{link.expires_at:%d %B %Y at %H:%M} UTC" if link else None,
            **context,
        )
        return flask.Response(page, status, mimetype="text/html")

    # ------------------------------------------------ the one place every refusal is answered

    def refuse(self, refusal: Refusal) -> ResponseReturnValue:
        """Audit a refusal, count it against the client, and answer it with its own page."""
        client = flask.request.remote_addr or "unknown"
        token = (flask.request.view_args or {}).get("token")
        detail = refusal.detail
        if token is not None:
            detail = f"{detail}; token sha256:{tokens.fingerprint(token)}"
        if isinstance(refusal, Throttled):
            if self.failures.first_refusal(client_key(client)):
                self.log.record(self.event(audit.Kind.DENIED, 429, None, detail=detail))
        else:
            if refusal.counts_as_failure:
                self.failures.record_failure(client_key(client))
            self.log.record(self.event(audit.Kind.DENIED, refusal.status, refusal.link, detail=detail))
        response = self.render("gate/denied.html", refusal.status, refusal=refusal,
                               message=refusal.message(self.content.company.name))
        if isinstance(refusal, Throttled):
            response.headers["Retry-After"] = str(int(refusal.retry_after) + 1)
        return response

    def before_request(self) -> ResponseReturnValue | None:
        # A service worker registered over the gate's origin would see every later request, tokens
        # included: no script of this origin is ever served as one.
        if flask.request.headers.get("Service-Worker", "").strip().lower() == "script":
            return self.render("gate/error.html", 403, heading="Not allowed",
                               message="This site does not install service workers.")
        if flask.request.path.startswith("/access/") and flask.request.endpoint != "stylesheet":
            retry_after = self.failures.retry_after(client_key(flask.request.remote_addr or "unknown"))
            if retry_after is not None:
                raise Throttled(retry_after)
        return None

    def store_unavailable(self, error: StoreError) -> ResponseReturnValue:
        logger.error("the gate's database is unavailable: %s", error.message)
        return self.render("gate/error.html", 503, heading="Temporarily unavailable",
                           message="The gate cannot record this request right now, so it does not answer it. "
                                   "Please try again later.")

    def healthz(self) -> ResponseReturnValue:
        """ok only if the database is the one opened and takes a write now (so a load balancer stops
        sending links to a gate that would answer them with errors)."""
        try:
            self.log.health()
        except StoreError as error:
            logger.error("health check failed: %s", error.message)
            return flask.Response("database unavailable", 503, mimetype="text/plain")
        return flask.Response("ok", 200, mimetype="text/plain")

    def http_error(self, error: HTTPException) -> ResponseReturnValue:
        if error.code == 404:
            if self.settings.serve_site:
                from generator.gate.static_site import not_found

                return not_found()
            return self.render("gate/error.html", 404, heading="Page not found",
                               message="There is no page at this address.")
        status = error.code or 500
        return self.render("gate/error.html", status, heading=f"{status} {error.name}",
                           message="The request could not be handled.")

    def server_error(self, error: Exception) -> ResponseReturnValue:
        logger.error("unexpected error in the gate", exc_info=error)
        return self.render("gate/error.html", 500, heading="Something went wrong",
                           message="The gate could not answer this request. Please try again later.")


_TOKEN_IN_PATH = re.compile(r"(/access/)[^/\s?#\"'<>]+")


def redact(text: str) -> str:
    """Text with every link token replaced: a token is a bearer credential and never belongs in a log."""
    return _TOKEN_IN_PATH.sub(r"\1<redacted>", text)


class RedactTokens(logging.Filter):
    """On the gate's loggers and waitress': messages and tracebacks lose the tokens they quote."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = redact(message), None
        return True


def _redact_logs() -> None:
    # On the loggers that write (a logger's filters do not see its children's records).
    for name in (__name__, "waitress", "waitress.queue"):
        target = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in target.filters):
            target.addFilter(RedactTokens())


def current() -> Gate:
    """The gate of the app handling the current request."""
    gate: Gate = flask.current_app.extensions[_EXTENSION]
    return gate


def create_app(settings: GateSettings) -> flask.Flask:
    """A gate for one project: content validated once at start; state in the settings' database."""
    from generator.gate import access, static_site

    _redact_logs()
    gate = Gate(settings, load_valid(settings.project))
    app = flask.Flask(__name__, static_folder=None, template_folder="templates")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # __Host-: only this host, path /, Secure — browsers refuse the prefix without Secure.
        SESSION_COOKIE_NAME="__Host-trustcenter" if settings.secure_cookies else "trustcenter",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        # Lax, not Strict: a link clicked in a mail client is a cross-site navigation, and the browser must
        # send the acceptance along; the CSRF token and the Origin check guard every POST.
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
    )
    app.extensions[_EXTENSION] = gate
    app.before_request(gate.before_request)
    app.add_url_rule("/healthz", "healthz", gate.healthz, methods=["GET"])
    app.add_url_rule("/access/gate.css", "stylesheet", _stylesheet, methods=["GET"])
    app.register_blueprint(access.blueprint)
    if settings.serve_site:
        app.register_blueprint(static_site.blueprint)  # last: it answers every other path
    else:
        # The gate on an origin of its own serves no page of the site; its root sends visitors there.
        app.add_url_rule("/", "home", lambda: see_other(gate.content.company.trust_center_url), methods=["GET"])
    app.register_error_handler(Refusal, gate.refuse)
    app.register_error_handler(StoreError, gate.store_unavailable)
    app.register_error_handler(HTTPException, gate.http_error)
    app.register_error_handler(Exception, gate.server_error)
    app.after_request(_security_headers)
    return app


def close(app: flask.Flask) -> None:
    """Close the gate's database connections (tests restart gates on one file)."""
    app.extensions[_EXTENSION].log.close()


def serve(app: flask.Flask, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
          trusted_proxy: str | None = None) -> None:
    """Serve with waitress. Behind a reverse proxy (TLS), name it: its X-Forwarded-For/-Proto/-Host are
    then believed, so the client address (audit, throttling) and https (HSTS) are the real ones."""
    import waitress  # type: ignore[import-untyped]

    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}}
    # Without max_request_body_size waitress buffers up to 1 GB of body before Flask's limit applies; it
    # refuses a body of that size or more, so + 1 keeps Flask's limit exactly.
    waitress.serve(app, host=host, port=port, threads=threads, ident="", clear_untrusted_proxy_headers=True,
                   max_request_body_size=MAX_FORM_BYTES + 1, **SERVER_LIMITS, **proxy)


def see_other(location: str, status: int = 303) -> flask.Response:
    # Not flask.redirect: its HTML body would repeat the location, and with it the token.
    return flask.Response(b"", status, headers={"Location": location})


def client_key(address: str) -> str:
    """Whom the throttle counts: an IPv4 address, or an IPv6 /64 (one subscriber's whole network, which
    can rotate its addresses at will)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _refuse_unsafe_site_dir(settings: GateSettings, content: model.TrustCenter) -> None:
    """The site folder is served whole: it must hold neither the content (gated files, keys), nor the
    gate's state (database, secrets), nor any gated file."""
    site = settings.site_dir.resolve()
    private = [content.root, settings.db_path.parent.resolve(), settings.project.state_dir.resolve(),
               *(content.document_path(d) for d in content.gated_documents)]
    for path in private:
        if path.is_relative_to(site):
            raise GateConfigError(f"refusing to serve {site} as the site: it contains {path}, which must never be "
                                  "served; point --site-dir at the built site (trustcenter build)")


def _stylesheet() -> ResponseReturnValue:
    flask.g.static_file = True
    return flask.send_file(STYLESHEET, mimetype="text/css", conditional=True, max_age=3600)


def _security_headers(response: flask.Response) -> flask.Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not flask.g.get("static_file") or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    if flask.request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
