"""The request form (/request) and the address confirmation (/request/confirm/<token>)."""

from __future__ import annotations

import flask

blueprint = flask.Blueprint("request_form", __name__)
