"""A recipient's granted documents (/grant/<token>): one NDA for the grant, then each document watermarked."""

from __future__ import annotations

import flask

blueprint = flask.Blueprint("grant_pages", __name__)
