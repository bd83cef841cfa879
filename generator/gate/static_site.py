"""The built static site, served at every path the gate does not own: safe paths only, the site's own 404."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

import flask
from flask.typing import ResponseReturnValue
from werkzeug.security import safe_join

from generator.gate.app import current, see_other

_CONTENT_TYPES = {
    ".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
    ".json": "application/json", ".map": "application/json", ".xml": "application/xml",
    ".txt": "text/plain", ".csv": "text/csv", ".svg": "image/svg+xml", ".png": "image/png",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
    ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2", ".pdf": "application/pdf",
    ".gz": "application/gzip", ".webmanifest": "application/manifest+json",
    ".jws": "application/jose",  # trust.json.jws, a compact JWS: its media type (RFC 7515, 9.2.1); mimetypes has none
}
_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f\\]")

blueprint = flask.Blueprint("site", __name__)


@blueprint.get("/", defaults={"path": ""})
@blueprint.get("/<path:path>")
def page(path: str) -> ResponseReturnValue:
    """A file of the built site: no path outside it, index.html for folders."""
    flask.g.static_file = True
    site_root = current().site_root
    if _UNSAFE_PATH.search(path):
        return not_found()
    joined = safe_join(str(site_root), path) if path else str(site_root)
    if joined is None:
        return not_found()
    target = Path(joined)
    if target.is_dir():
        if path and not path.endswith("/"):
            query = flask.request.query_string.decode("latin-1")
            return see_other(f"{flask.request.script_root}/{path}/" + (f"?{query}" if query else ""), 308)
        target = target / "index.html"
    if not target.is_file() or not target.resolve().is_relative_to(site_root):
        return not_found()
    return flask.send_file(target, mimetype=_content_type(target), conditional=True, etag=True)


def not_found() -> ResponseReturnValue:
    """The site's own 404 page, or the gate's when no site is built."""
    gate = current()
    page_file = gate.site_root / "404.html"
    if page_file.is_file():
        return flask.Response(page_file.read_bytes(), 404, mimetype="text/html")
    return gate.render("gate/error.html", 404, heading="Page not found", message="There is no page at this address.")


def _content_type(file: Path) -> str:
    known = _CONTENT_TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0]
    return known or "application/octet-stream"
