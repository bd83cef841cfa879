"""Webhooks: events the gate reports to the company's own systems, as signed JSON in the Standard Webhooks
format (https://www.standardwebhooks.com), or as a Slack-compatible message.

Endpoints and their secrets come from a file named by TRUSTCENTER_WEBHOOKS (or `gate --webhooks`), never from
trust/: a secret in the repository would let anyone who reads it forge events. `configured_file` is the one
place that variable is read.

Each event is queued in the outbox with the change it reports, as one row for every endpoint (target
`outbox.BROADCAST`), whatever the process where it happens knows of the endpoints: `trustcenter requests
approve` run from a shell without TRUSTCENTER_WEBHOOKS still reaches the gate's endpoints. A worker that has the
endpoints (the gate's) fans the row out into one row per endpoint that wants the event type, and
`delivery.py` signs and posts each, retrying with backoff; the `webhook-id` is that row's, so a receiver can
drop a retried duplicate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator.gate.db import Tx
from generator.gate.outbox import BROADCAST, Kind, Outbox

WEBHOOKS_ENV = "TRUSTCENTER_WEBHOOKS"
EVENT_TYPES = ("access_request.received", "access_request.approved", "access_request.denied", "grant.revoked",
               "document.downloaded")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str  # how the outbox and the logs name it
    url: str
    secret: bytes  # the whsec_ secret, decoded
    events: frozenset[str]  # the event types it receives
    format: str = "standard"  # standard (signed JSON) or slack (an incoming-webhook message)


def configured_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """The webhooks file TRUSTCENTER_WEBHOOKS names (None: not set). The only place the variable is read."""
    value = (os.environ if environ is None else environ).get(WEBHOOKS_ENV, "").strip()
    return Path(value) if value else None


def configured_endpoints(environ: Mapping[str, str] | None = None) -> tuple[Endpoint, ...] | None:
    """The endpoints of the file TRUSTCENTER_WEBHOOKS names; None when it names none (so a CLI command's delivery
    pass leaves webhook events to the gate). Raises GateConfigError for a file that cannot work."""
    path = configured_file(environ)
    return None if path is None else load_endpoints(path)


def wanting(endpoints: Iterable[Endpoint], event_type: str) -> list[str]:
    """The names of the endpoints that receive `event_type`, in the file's order."""
    return [endpoint.name for endpoint in endpoints if event_type in endpoint.events]


def load_endpoints(path: Path) -> tuple[Endpoint, ...]:
    """The endpoints in a webhooks file (YAML or JSON): a list of {name, url, secret, events, format}.

        - name: crm
          url: https://hooks.example.com/trust
          secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw   # base64 after whsec_, at least 24 bytes
          events: [access_request.approved, document.downloaded]   # default: every event
          format: standard                                          # or slack
    """
    import base64

    import yaml

    from generator.errors import GateConfigError

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateConfigError(f"cannot read the webhooks file {path} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise GateConfigError(f"{path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, list):
        raise GateConfigError(f"{path} must be a list of endpoints, each with name, url and secret")
    endpoints: list[Endpoint] = []
    for number, entry in enumerate(raw, start=1):
        where = f"{path}: endpoint {number}"
        if not isinstance(entry, dict) or not {"name", "url", "secret"} <= entry.keys():
            raise GateConfigError(f"{where} needs name, url and secret")
        unknown = set(entry) - {"name", "url", "secret", "events", "format"}
        if unknown:
            raise GateConfigError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
        name, url, secret = str(entry["name"]), str(entry["url"]), str(entry["secret"])
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name) or name in {e.name for e in endpoints}:
            raise GateConfigError(f"{where}: name must be unique, 1-40 of a-z, 0-9, '-' and '_'")
        parsed = urlsplit(url)
        if parsed.scheme not in ("https", "http") or not parsed.hostname or parsed.username or parsed.password:
            raise GateConfigError(f"{where}: url must be an http(s) URL without user or password")
        if parsed.scheme == "http" and parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise GateConfigError(f"{where}: url must use https (http only to this machine)")
        try:
            decoded = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            decoded = b""
        if not secret.startswith("whsec_") or len(decoded) < 24:
            raise GateConfigError(f"{where}: secret must be whsec_ followed by at least 24 random bytes in base64 "
                                  "(e.g. python3 -c \"import base64,os;print('whsec_'+base64.b64encode(os.urandom("
                                  "32)).decode())\")")
        events = entry.get("events", list(EVENT_TYPES))
        if not isinstance(events, list) or not events or not set(map(str, events)) <= set(EVENT_TYPES):
            raise GateConfigError(f"{where}: events must be a list of {', '.join(EVENT_TYPES)}")
        style = str(entry.get("format", "standard"))
        if style not in ("standard", "slack"):
            raise GateConfigError(f"{where}: format must be standard or slack")
        endpoints.append(Endpoint(name, url, decoded, frozenset(map(str, events)), style))
    return tuple(endpoints)


def payload(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The event as Standard Webhooks' recommended shape: type, timestamp, data."""
    return {"type": event_type, "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": dict(data)}


def emit(outbox: Outbox, tx: Tx, event_type: str, data: Mapping[str, Any]) -> int:
    """Queue `event_type` in the caller's transaction, once, for every endpoint that wants it (the gate's worker
    decides which do); returns the outbox row's id."""
    assert event_type in EVENT_TYPES, event_type
    body = json.dumps(payload(event_type, data), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return outbox.enqueue(tx, Kind.WEBHOOK, BROADCAST, event_type, body)
