"""Subscriptions to the trust center's change notices (/subscribe): double opt-in, one-click unsubscribe."""

from __future__ import annotations

import flask

blueprint = flask.Blueprint("subscriptions", __name__)
