"""The staff page (/staff): sign-in by a one-time link mailed to a staff address, requests, grants, links."""

from __future__ import annotations

import flask

blueprint = flask.Blueprint("staff", __name__)
