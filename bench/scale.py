"""Synthetic larger content sets: the demo with N times its subprocessors and controls."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support import copy_demo  # noqa: E402 - the same copy of the demo the tests use


def scaled_project(dest: Path, factor: int) -> Path:
    """A copy of the demo whose subprocessors and controls are repeated `factor` times."""
    copy_demo(dest)
    trust = dest / "trust"
    subs = yaml.safe_load((trust / "subprocessors.yaml").read_text())
    originals = subs["subprocessors"]
    subs["subprocessors"] = [
        {**sub, "name": sub["name"] if copy == 0 else f"{sub['name']} {copy + 1}"}
        for copy in range(factor) for sub in originals
    ]
    (trust / "subprocessors.yaml").write_text(yaml.safe_dump(subs, sort_keys=False, allow_unicode=True))
    controls = yaml.safe_load((trust / "controls.yaml").read_text())
    categories = controls["categories"]
    controls["categories"] = [
        {**cat, "id": cat["id"] if copy == 0 else f"{cat['id']}-{copy + 1}",
         "name": cat["name"] if copy == 0 else f"{cat['name']} ({copy + 1})",
         "controls": [{**c, "id": c["id"] if copy == 0 else _control_id(c["id"], copy)} for c in cat["controls"]]}
        for copy in range(factor) for cat in categories
    ]
    (trust / "controls.yaml").write_text(yaml.safe_dump(controls, sort_keys=False, allow_unicode=True))
    return dest


def _control_id(control_id: str, copy: int) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "", f"{control_id}.{copy + 1}")


# ---------------------------------------------------------------- a sized content set

_NAME_STARTS = ("North", "Blue", "Iron", "Silver", "Cedar", "Harbor", "Summit", "Granite", "Maple", "Falcon",
                "Lumen", "Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Fjord", "Helix", "Juniper", "Keystone")
_NAME_ENDS = ("wind", "peak", "stone", "field", "bridge", "gate", "line", "works", "point", "wave", "forge",
              "path", "light", "crest", "haven")
_KINDS = (("Analytics", "Product analytics for the web application.", ["Usage data", "Account and user data"]),
          ("Mail", "Transactional email delivery.", ["Email addresses", "Email content"]),
          ("Support", "Customer support ticketing and chat.", ["Support tickets", "Account and user data"]),
          ("Cloud", "Infrastructure hosting for regional pipeline workers.", ["Customer pipeline data", "Logs"]),
          ("Payments", "Subscription billing and invoicing.", ["Billing data", "Account and user data"]),
          ("Security", "Endpoint detection and response on staff laptops.", ["Device telemetry"]),
          ("Monitoring", "Application performance monitoring and error tracking.", ["Logs", "Request metadata"]),
          ("Identity", "Single sign-on and directory services for staff.", ["Staff identity data"]))
_COUNTRIES = ("US", "DE", "IE", "NL", "FR", "GB", "JP", "AU", "CA", "SE")
_TOPICS = ("Backup", "Logging", "Key rotation", "Access review", "Vulnerability scanning", "Patch management",
           "Secrets storage", "Change approval", "Incident drill", "Vendor review", "Data retention",
           "Endpoint hardening", "Network filtering", "Awareness training", "Recovery testing")
_ASPECTS = ("policy", "monitoring", "automation", "evidence", "escalation", "ownership", "reporting",
            "verification", "exceptions", "inventory", "alerting", "documentation", "metrics", "sign-off",
            "sampling", "tooling")
_STATUSES = ("implemented", "implemented", "implemented", "in_progress", "planned")
_CRITERIA = ("CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC6.7", "CC7.1", "CC7.2", "CC7.3", "CC8.1", "A1.2", "C1.1")


def sized_project(dest: Path, *, subprocessors: int = 500, controls: int = 300) -> Path:
    """A copy of the demo with exactly `subprocessors` subprocessors and `controls` controls.

    The demo's own entries come first; the rest get distinct, plausible names built from word lists,
    spread over the demo's control categories so every page keeps its structure."""
    copy_demo(dest)
    trust = dest / "trust"
    subs = yaml.safe_load((trust / "subprocessors.yaml").read_text())
    names = {sub["name"] for sub in subs["subprocessors"]}
    extra = []
    for index in range(len(_NAME_STARTS) * len(_NAME_ENDS) * len(_KINDS)):
        if len(subs["subprocessors"]) + len(extra) >= subprocessors:
            break
        start = _NAME_STARTS[index % len(_NAME_STARTS)]
        end = _NAME_ENDS[index // len(_NAME_STARTS) % len(_NAME_ENDS)]
        kind, purpose, data = _KINDS[index // (len(_NAME_STARTS) * len(_NAME_ENDS))]
        name = f"{start}{end} {kind}"
        if name in names:
            continue
        names.add(name)
        extra.append({
            "name": name, "purpose": purpose, "data_categories": data,
            "locations": [_COUNTRIES[index % len(_COUNTRIES)], _COUNTRIES[(index + 3) % len(_COUNTRIES)]],
            "website": f"https://www.{start.lower()}{end}-{kind.lower()}.example",
            "added": f"20{20 + index % 6}-{1 + index % 12:02d}-{1 + index % 28:02d}",
        })
    subs["subprocessors"] = (subs["subprocessors"] + extra)[:subprocessors]
    assert len(subs["subprocessors"]) == subprocessors, "not enough distinct names: extend the word lists"
    (trust / "subprocessors.yaml").write_text(yaml.safe_dump(subs, sort_keys=False, allow_unicode=True))

    document = yaml.safe_load((trust / "controls.yaml").read_text())
    categories = document["categories"]
    count = sum(len(category["controls"]) for category in categories)
    index = 0
    while count < controls:
        category = categories[index % len(categories)]
        topic, aspect = _TOPICS[index % len(_TOPICS)], _ASPECTS[index // len(_TOPICS) % len(_ASPECTS)]
        prefix = category["controls"][0]["id"].split("-")[0]
        category["controls"].append({
            "id": f"{prefix}-{100 + index}", "name": f"{topic} {aspect}",
            "description": f"{topic} {aspect} for the {category['name'].lower()} programme is reviewed each quarter "
                           "by the control owner, with evidence kept for the auditors.",
            "status": _STATUSES[index % len(_STATUSES)], "criteria": [_CRITERIA[index % len(_CRITERIA)]],
        })
        count += 1
        index += 1
    (trust / "controls.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return dest
