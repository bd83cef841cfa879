"""The gate's session cookies: written more cheaply than Flask writes them, in the same format, so a cookie of
either reads with the other (a gate upgraded in place keeps its visitors' NDA acceptances), and still signed."""

from __future__ import annotations

import datetime as dt

import flask
import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from generator.gate import app as gate_app

SESSION = {"_permanent": True, "browser": "0f3a9c1d2e4b5a67", "csrf": "Zx8-" * 10 + "abc",
           "accepted": ["lnk-one-123456", "lnk-two-654321"], "nda_shown": "ab" * 32, "sent": ""}


def application(secret: bytes = b"a-secret-of-thirty-two-bytes!!!!", fallbacks: list[bytes] | None = None
                ) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(SECRET_KEY=secret, SECRET_KEY_FALLBACKS=fallbacks or [])
    return app


def ours(app: flask.Flask):  # type: ignore[no-untyped-def]
    return gate_app._Sessions().get_signing_serializer(app)


def flasks(app: flask.Flask):  # type: ignore[no-untyped-def]
    return SecureCookieSessionInterface().get_signing_serializer(app)


def test_a_cookie_the_gate_writes_is_read_by_flask_as_written() -> None:
    app = application()
    assert flasks(app).loads(ours(app).dumps(SESSION)) == SESSION


def test_a_cookie_flask_wrote_is_read_by_the_gate() -> None:
    """Flask compresses when that is shorter (a cookie that starts with "."): the gate reads those too."""
    app = application()
    repetitive = {**SESSION, "nda_shown": "a" * 200}
    cookie = flasks(app).dumps(repetitive)
    assert cookie.startswith(".")
    assert ours(app).loads(cookie) == repetitive
    assert ours(app).loads(flasks(app).dumps(SESSION)) == SESSION


def test_values_plain_json_cannot_say_go_the_tagged_way() -> None:
    app = application()
    odd = {"when": dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC), "pair": ("a", "b"), "raw": b"\x00\xff",
           " t": "a key of the tagged format's own"}
    for session in (odd, {" t": "alone"}):
        assert ours(app).loads(ours(app).dumps(session)) == session
        assert flasks(app).loads(ours(app).dumps(session)) == session


def test_a_changed_cookie_is_refused() -> None:
    app = application()
    cookie = ours(app).dumps(SESSION)
    rest = cookie.partition(".")[2]
    forged = ours(app).dumps({**SESSION, "accepted": ["someone-elses-link"]}).partition(".")[0] + "." + rest
    for bad in (forged, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")):
        with pytest.raises(BadSignature):
            ours(app).loads(bad)


def test_another_secret_is_refused_and_a_fallback_secret_still_reads() -> None:
    old, new = b"the-old-secret-of-32-bytes!!!!!!", b"the-new-secret-of-32-bytes!!!!!!"
    cookie = ours(application(old)).dumps(SESSION)
    with pytest.raises(BadSignature):
        ours(application(new)).loads(cookie)
    assert ours(application(new, fallbacks=[old])).loads(cookie) == SESSION
