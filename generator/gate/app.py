"""The gate's app factory: one Flask app per settings, with the /access and site blueprints, every
refusal answered (and logged, with its reason) in one place, security headers on every response.

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
import json
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import flask
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from itsdangerous import Signer, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from werkzeug.exceptions import HTTPException

from generator.content import model
from generator.errors import AccessError, StoreError
from generator.gate import audit, delivery, mail, tokens, webhooks
from generator.gate.desk import Desk
from generator.gate.grants import Grant
from generator.gate.refusals import Refusal, RevokedLink, Throttled, UsedUpLink
from generator.gate.reload import GateState, Reloader
from generator.gate.settings import GateSettings
from generator.gate.store import Store
from generator.gate.throttle import FailureCounter
from generator.site import brand, headers

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
# The gate's own paths: the throttle guards them, and the static site may not use them.
GATE_PATHS = ("/access/", "/request", "/grant/", "/staff", "/subscribe")
_EXTENSION = "trustcenter.gate"
HEALTH_WRITE_SECONDS = 10.0
UNAVAILABLE_RETRY_SECONDS = 5  # a database restart takes seconds; the pool reconnects by itself
_STATE = "trustcenter_gate_state"  # on flask.g: the state a request began with
_CONSOLE = "trustcenter.gate.console"
# waitress' defaults (100 connections, 120 s idle) let 150 slow sockets hold every connection: the gate
# keeps many connections (asyncore makes an idle one cheap), closes idle ones sooner, and still belongs
# behind a reverse proxy that cuts slow clients (deploy/nginx.conf).
SERVER_LIMITS: dict[str, Any] = {"connection_limit": 1000, "channel_timeout": 30, "cleanup_interval": 10}


class Gate:
    """One gate: its settings, the repository's state (reloaded when it changes), the audit store, the throttle."""

    def __init__(self, settings: GateSettings) -> None:
        self.settings = settings
        self.reloader = Reloader(settings)  # content, keys and NDA: refuses to start on content that is not valid
        mail_transport = delivery.mail_transport(settings.mail)  # an SMTP URL that cannot work stops the start
        self.store = Store(settings.db_path, settings.audit_key, create=settings.create_db)
        self.log = self.store.log
        self.endpoints: tuple[webhooks.Endpoint, ...] = (
            webhooks.load_endpoints(settings.webhooks_file) if settings.webhooks_file else ())
        # Delivers the outbox and purges what is no longer kept; `serve` runs its threads, tests call
        # `deliver_due()`. The gate is where the endpoints are configured, so its worker always fans webhook events
        # out (to none, without a webhooks file), wherever they were queued.
        self.delivery = delivery.Worker(self.store.outbox, mail_transport, delivery.WebhookTransport(self.endpoints),
                                        purge=self.store.purge)
        self._healthy_at = float("-inf")  # when /healthz last wrote to the database
        # Checkpoints kept off the host catch a restored older copy of the log, which verifies on its own.
        pins = audit.Checkpoint.read_file(settings.checkpoints) if settings.checkpoints else []
        check = self.log.verify_chain(pins)
        if not check.ok:
            self.log.close()
            raise StoreError(f"the audit log in {settings.db_path} does not verify ({check.problem}); the gate "
                             "does not start on a log that may have been tampered with: keep the file for "
                             "investigation and restore the last backup that verifies")
        self.failures = FailureCounter(self.store.db, "gate.failures", settings.failure_limit,
                                       settings.failure_window_seconds)
        self.site_root = settings.site_dir.resolve()

    @property
    def state(self) -> GateState:
        """The state the current request began with, so that one request never mixes two versions of the
        files; outside a request, the newest."""
        if flask.has_request_context():
            pinned: GateState | None = flask.g.get(_STATE)
            if pinned is not None:
                return pinned
        return self.reloader.state

    @property
    def content(self) -> model.TrustCenter:
        return self.state.content

    @property
    def public_url(self) -> str:
        """Where links in e-mails point: never the request's Host header, which a client chooses."""
        company = self.content.company
        return (self.settings.public_url or company.gate_url or company.trust_center_url).rstrip("/")

    @property
    def sender(self) -> mail.Sender | None:
        """Who the gate's e-mails come from; None when no mail is configured."""
        company = self.content.company
        return mail.sender_for(self.settings.mail, company.display_name, company.trust_center_url)

    @property
    def desk(self) -> Desk:
        """Requests and grants, as of the state this request began with."""
        return Desk(self.store, self.content, base_url=self.public_url, sender=self.sender)

    @property
    def documents(self) -> Mapping[str, model.Document]:
        """The gated documents, by id."""
        return self.state.documents

    def link(self, token: str) -> tokens.Link:
        """The link a token stands for, if it may be used now: signed, current, not revoked, not used up."""
        return self.link_standing(token)[0]

    def link_standing(self, token: str, *, opening: bool = False) -> tuple[tokens.Link, audit.Standing]:
        """`link`, and what was read about it to decide (with `opening`, also whether this address opened it
        recently: `AuditLog.record_open` then need not look again)."""
        state = self.state
        link = tokens.verify(token, keys=state.trusted_keys, issuer=state.issuer, gated_documents=state.documents,
                             max_lifetime=state.max_lifetime)
        opened = audit.Event(audit.Kind.OPENED, link_id=link.link_id, ip=flask.request.remote_addr) if opening else None
        standing = self.log.standing(link.link_id, opened)
        if standing.revoked is not None:
            raise RevokedLink(link, standing.revoked)
        if standing.downloads >= link.max_downloads:
            raise UsedUpLink(link)
        return link, standing

    def event(self, kind: audit.Kind, status: int, link: tokens.Link | None, *, grant: Grant | None = None,
              **fields: Any) -> audit.Event:
        """An event about this request: its link or grant, the browser, the client."""
        request = flask.request
        if grant is not None:
            fields = {"grant_id": grant.id, "request_id": grant.request_id, "recipient": grant.email, **fields}
        recipient = fields.pop("recipient", link.recipient if link else None)
        document = fields.pop("document", link.document_id if link else None)
        return audit.Event(
            kind, status=status,
            link_id=link.link_id if link else None,
            recipient=recipient,
            document=document,
            browser=flask.session.get("browser"),
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:300] or None,
            **fields,
        )

    def render(self, template: str, status: int, **context: Any) -> flask.Response:
        state = self.state
        company = state.content.company
        link: tokens.Link | None = context.get("link")
        # Where "the trust center" is: the site this gate serves, or (the gate on its own origin) the site's address.
        site_url = f"{flask.request.script_root}/" if self.settings.serve_site else company.trust_center_url
        # The template straight from the app's Jinja environment, not through flask.render_template: its context
        # processors add request, session and g, which the environment has as globals already, and its signals
        # have no receiver here; together a tenth of the NDA page's rendering.
        page = flask.current_app.jinja_env.get_template(template).render(
            company_name=company.display_name, contact=state.contact, nda_html=state.nda_html, site_url=site_url,
            document=state.documents.get(link.document_id) if link else None,
            **({"expires": mail.when(link.expires_at)} if link else {}),
            **context,
        )
        return flask.Response(page, status, mimetype="text/html")

    # ------------------------------------------------ the one place every refusal is answered

    def refuse(self, refusal: Refusal) -> ResponseReturnValue:
        """Audit and log a refusal, count it against the client, and answer it with its own page. Why it was
        refused goes to the audit and the gate's log only: the visitor's page never says (nor echoes the token)."""
        client = flask.request.remote_addr or "unknown"
        token = (flask.request.view_args or {}).get("token")
        detail = refusal.detail
        if token is not None:
            detail = f"{detail}; token sha256:{tokens.fingerprint(token)}"
        try:
            self._record_refusal(refusal, client, detail)
        except StoreError as error:
            # The database went away between the request and its refusal (a PostgreSQL restart): answered as
            # any request the database cannot serve now (503), here, since an error handler's own error would
            # otherwise be a 500.
            return self.store_unavailable(error)
        response = self.render("gate/denied.html", refusal.status, refusal=refusal,
                               message=refusal.message(self.content.company.display_name))
        if refusal.retry_after is not None:  # every 429: the throttle's, and each form's own limits
            response.headers["Retry-After"] = str(int(refusal.retry_after) + 1)
        return response

    def _record_refusal(self, refusal: Refusal, client: str, detail: str) -> None:
        if isinstance(refusal, Throttled):
            if self.failures.first_refusal(client_key(client)):  # once per episode, in the audit as in the log
                _log_refusal(429, client, detail)
                self.log.record(self.event(audit.Kind.DENIED, 429, None, detail=detail))
            return
        if refusal.counts_as_failure:
            self.failures.record_failure(client_key(client))
        _log_refusal(refusal.status, client, detail)  # first: the console tells even when the database fails
        # The same refusal repeated from one address (a recipient reloading an expired link, a script) is
        # one row: what is recorded is bounded by what differs, not by how often it is asked.
        self.log.record_unless_recent(self.event(audit.Kind.DENIED, refusal.status, refusal.link,
                                                 grant=refusal.grant, detail=detail),
                                      ("kind", "link_id", "grant_id", "ip", "status", "detail"))

    def before_request(self) -> ResponseReturnValue | None:
        self.reloader.check()  # at most every reload_seconds: a stat of each content file
        flask.g.setdefault(_STATE, self.reloader.state)
        # A service worker registered over the gate's origin would see every later request, tokens
        # included: no script of this origin is ever served as one.
        if flask.request.headers.get("Service-Worker", "").strip().lower() == "script":
            return self.render("gate/error.html", 403, heading="Not allowed",
                               message="This site does not install service workers.")
        if flask.request.path.startswith(GATE_PATHS) and flask.request.endpoint not in ("stylesheet", "brand"):
            retry_after = self.failures.retry_after(client_key(flask.request.remote_addr or "unknown"))
            if retry_after is not None:
                raise Throttled(retry_after)
        return None

    def access_error(self, error: AccessError) -> ResponseReturnValue:
        """A request or grant action that cannot be done as asked: said plainly, not a 500."""
        logger.warning("refused an access action: %s", error.message)
        return self.render("gate/error.html", 409, heading="This cannot be done", message=error.message)

    def store_unavailable(self, error: StoreError) -> ResponseReturnValue:
        logger.error("the gate's database is unavailable: %s", error.message)
        response = self.render("gate/error.html", 503, heading="Temporarily unavailable",
                               message="The gate cannot record this request right now, so it does not answer "
                                       "it. Please try again later.")
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
        return response

    def brand_stylesheet(self) -> ResponseReturnValue:
        """The company's brand colour for the gate's pages, as the site shows it (contrast-adjusted)."""
        flask.g.static_file = True
        response = flask.Response(brand.gate_css(self.content.company.brand_colour), 200, mimetype="text/css")
        response.headers["Cache-Control"] = "max-age=300"
        return response

    def healthz(self) -> ResponseReturnValue:
        """ok only if the database is the one opened and takes a write now (so a load balancer stops
        sending links to a gate that would answer them with errors)."""
        try:
            # A write at most every HEALTH_WRITE_SECONDS, however often the check is asked (it needs no
            # credentials); in between, that the file is still the one opened.
            if time.monotonic() - self._healthy_at > HEALTH_WRITE_SECONDS:
                self.log.health()
                self._healthy_at = time.monotonic()
            else:
                self.log.check_same_file()
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


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the same keys, salt, signature and cookie format, made cheaper to write:
    every page of the gate writes the cookie back (its CSRF token), and Flask's way cost a sixth of the NDA page's
    CPU time (docs/performance.md). See `_SessionSerializer`; the serializer is made once for the keys."""

    def __init__(self) -> None:
        self._made: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: flask.Flask) -> URLSafeTimedSerializer | None:
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, _SessionSerializer(list(keys), salt=self.salt, serializer=self.serializer,
                                                          signer=_SessionSigner,
                                                          signer_kwargs={"key_derivation": self.key_derivation,
                                                                         "digest_method": self.digest_method})
                                 if app.secret_key else None)
        return made[1]


class _SessionSerializer(URLSafeTimedSerializer):
    """What Flask's session serializer writes, for the gate's sessions (text, numbers, booleans, lists of text), as
    plain compact JSON: the same text Flask's tagged JSON gives for those types, without its walk over every value;
    anything else goes the tagged way. Never compressed (itsdangerous compresses when that is shorter): the
    gate's sessions are random tokens, which do not compress, and a compressor set up per cookie cost more than
    the rest of the writing. Reading is Flask's, which takes both forms. A signer is made once per salt."""

    def dump_payload(self, obj: Any) -> bytes:
        # Keys starting with a space are the tagged format's own (" t", " di", ...): those go the tagged way.
        if isinstance(obj, dict) and all(isinstance(key, str) and not key.startswith(" ") and _plain(value)
                                         for key, value in obj.items()):
            return base64_encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))
        return super().dump_payload(obj)

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return _made_once(self, "_signers", salt, super().make_signer)


class _SessionSigner(TimestampSigner):
    """itsdangerous' timestamp signer with each key's derivation (an HMAC of the secret) made once, not per cookie."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return _made_once(self, "_derived", secret_key, super().derive_key)


_T = TypeVar("_T")


def _made_once(owner: Any, table: str, key: Any, make: Callable[[Any], _T]) -> _T:
    """`make(key)`, kept in `owner`'s dict `table` for the next call with the same key. Two threads may both make
    it the first time; either result is the same."""
    made: dict[Any, _T] = owner.__dict__.setdefault(table, {})
    if key not in made:
        made[key] = make(key)
    return made[key]


def _plain(value: Any) -> bool:
    """Whether Flask's tagged JSON would write `value` as plain JSON does (no tag)."""
    if isinstance(value, list):
        return all(item is None or isinstance(item, (str, bool, int)) for item in value)
    return value is None or isinstance(value, (str, bool, int))


# Every path that carries a token: links, grants, confirmations, staff sign-ins, subscriptions.
_TOKEN_IN_PATH = re.compile(r"(/access/|/grant/|/request/confirm/|/staff/sign-in/|/subscribe/(?:confirm|unsubscribe)/)"
                            r"[^/\s?#\"'<>]+")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _log_refusal(status: int, client: str, detail: str) -> None:
    # The detail may quote request headers (Origin, Sec-Fetch-Site): no control character reaches a log line.
    logger.warning("refused %d to %s: %s", status, client, _UNPRINTABLE.sub("?", detail))


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
    return current_of(flask.current_app)


def current_of(app: flask.Flask) -> Gate:
    """The gate an app made by `create_app` serves."""
    gate: Gate = app.extensions[_EXTENSION]
    return gate


def log_to_console(level: int = logging.INFO) -> None:
    """Where `trustcenter gate` writes what happens: stderr, one timestamped line per event (refusals and why,
    reloads, database trouble, waitress' own), tokens redacted."""
    root = logging.getLogger()
    if any(getattr(existing, "name", None) == _CONSOLE for existing in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_CONSOLE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())  # every record the console prints, whichever logger it came from
    root.addHandler(handler)
    root.setLevel(level)


def create_app(settings: GateSettings) -> flask.Flask:
    """A gate for one project: content, keys and NDA validated at start and followed as they change (see
    `generator.gate.reload`); state in the settings' database."""
    from generator.gate import access, grant_pages, request_form, staff, static_site, subscriptions

    _redact_logs()
    gate = Gate(settings)
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
    app.session_interface = _Sessions()
    app.extensions[_EXTENSION] = gate
    app.before_request(gate.before_request)
    app.add_url_rule("/healthz", "healthz", gate.healthz, methods=["GET"])
    app.add_url_rule("/access/gate.css", "stylesheet", _stylesheet, methods=["GET"])
    app.add_url_rule("/access/brand.css", "brand", gate.brand_stylesheet, methods=["GET"])
    app.register_blueprint(access.blueprint)
    app.register_blueprint(request_form.blueprint)
    app.register_blueprint(grant_pages.blueprint)
    app.register_blueprint(staff.blueprint)
    app.register_blueprint(subscriptions.blueprint)
    if settings.serve_site:
        app.register_blueprint(static_site.blueprint)  # last: it answers every other path
    else:
        # The gate on an origin of its own serves no page of the site; its root sends visitors there.
        app.add_url_rule("/", "home", lambda: see_other(gate.content.company.trust_center_url), methods=["GET"])
    app.register_error_handler(Refusal, gate.refuse)
    app.register_error_handler(StoreError, gate.store_unavailable)
    app.register_error_handler(AccessError, gate.access_error)
    app.register_error_handler(HTTPException, gate.http_error)
    app.register_error_handler(Exception, gate.server_error)
    app.after_request(_security_headers)
    app.after_request(_wake_delivery)
    return app


def close(app: flask.Flask) -> None:
    """Stop following the files and close the gate's database connections (tests restart gates on one file)."""
    gate: Gate = app.extensions[_EXTENSION]
    gate.reloader.stop()
    gate.delivery.stop()  # before the database closes under it
    gate.log.close()


def serve(app: flask.Flask, *, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
          trusted_proxy: str | None = None) -> None:
    """Serve with waitress. Behind a reverse proxy (TLS), name it: its X-Forwarded-For/-Proto/-Host are
    then believed, so the client address (audit, throttling) and https (HSTS) are the real ones.

    While serving, a thread looks for changed keys, content and NDA every `reload_seconds`, and SIGHUP reloads
    them at once. The handler is installed here, in the process's main thread, never by `create_app`: tests
    make apps in other threads, where signal handlers cannot be set."""
    import waitress  # type: ignore[import-untyped]

    proxy: dict[str, Any] = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}}
    reloader = current_of(app).reloader
    logger.info("serving: %s", reloader.state.summary())
    reloader.watch()
    worker = current_of(app).delivery
    worker.start()
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    previous = None
    if hangup is not None and threading.current_thread() is threading.main_thread():
        previous = signal.signal(hangup, lambda number, frame: reloader.request_reload())
    try:
        # Without max_request_body_size waitress buffers up to 1 GB of body before Flask's limit applies; it
        # refuses a body of that size or more, so + 1 keeps Flask's limit exactly.
        waitress.serve(app, host=host, port=port, threads=threads, ident="", clear_untrusted_proxy_headers=True,
                       max_request_body_size=MAX_FORM_BYTES + 1, **SERVER_LIMITS, **proxy)
    finally:
        if hangup is not None and previous is not None:
            signal.signal(hangup, previous)
        reloader.stop()
        worker.stop()


def see_other(location: str, status: int = 303) -> flask.Response:
    # Not flask.redirect: its HTML body would repeat the location, and with it the token.
    return flask.Response(b"", status, headers={"Location": location})


# Forms whose work depends on what the gate knows of an address (on the staff list or not, subscribed or not)
# answer no sooner than this after they arrive, so the time taken does not tell: mailing a link (a write, a
# message rendered) takes a few milliseconds that refusing quietly does not. Long enough to cover that work on a
# busy database, short enough not to be noticed; the forms' per-client limits keep one client from holding
# many workers with it.
EVEN_ANSWER_SECONDS = 0.1


def answer_no_sooner(started: float, seconds: float = EVEN_ANSWER_SECONDS) -> None:
    """Wait until `seconds` after `started` (a time.monotonic() reading taken when the request arrived)."""
    left = started + seconds - time.monotonic()
    if left > 0:
        time.sleep(left)


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


def _stylesheet() -> ResponseReturnValue:
    flask.g.static_file = True
    return flask.send_file(STYLESHEET, mimetype="text/css", conditional=True, max_age=3600)


def _wake_delivery(response: flask.Response) -> flask.Response:
    # The request queued an e-mail or a webhook event (committed by now): send it at once, not at the worker's
    # next look. Only then: a wake is a look at the outbox in the database, and most requests queue nothing.
    gate = current()
    if gate.store.outbox.queued_in_this_thread():
        gate.delivery.wake()
    return response


_SECURITY_HEADER_ITEMS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def _security_headers(response: flask.Response) -> flask.Response:
    # What setdefault did header by header (a view that set its own keeps it), with one look at what is there.
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # Headers iterate as (name, value) pairs
    headers.extend([(name, value) for lower, name, value in _SECURITY_HEADER_ITEMS if lower not in present])
    if not flask.g.get("static_file") or response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    if flask.request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
