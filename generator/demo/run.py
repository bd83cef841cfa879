"""`trustcenter demo`: make a demo signing key on first run, build the demo site with its data signed by that key,
mint a link, serve both (so `trustcenter verify http://127.0.0.1:8000` works out of the box)."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable

from generator.content.model import TrustCenter
from generator.content.project import Project
from generator.errors import UserError
from generator.gate import app as gate_app
from generator.gate import keys, links, settings
from generator.site import build, signing


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    host: str
    port: int
    recipient: str
    company: str


def run(project: Project, options: DemoOptions, say: Callable[[str], None]) -> None:
    """Build, print the addresses and a link, and serve until interrupted."""
    with socket.socket() as probe:
        if probe.connect_ex((options.host, options.port)) == 0:
            raise UserError(f"port {options.port} on {options.host} is in use (a previous demo still running?); "
                            "stop it or pass --port")
    _write_missing_confidential_pdfs(project)
    private_key = keys.ensure_demo_key(project)
    with signing.signing_key(private_key):  # the demo key signs trust.json too: the JWKS lists it in the demo only
        report = build.build(project)
    say(f"built {report.pages} pages into {report.site_dir} in {report.seconds:.1f} s; trust.json signed with the "
        "demo key")
    base = f"http://{options.host}:{options.port}"
    document = next((d.id for d in report.trust_center.gated_documents), None)
    if document is None:
        raise UserError(f"{project.content_path('documents.yaml')} has no gated document to make a demo link for")
    link = links.create(project, links.LinkRequest(document, options.recipient, options.company),
                        private_key_path=private_key, gate_url=base,
                        record=links.Record(create=True, actor="demo"))  # the gate starts on this database next
    say(f"\nsite:  {base}/\n"
        f"demo link to '{document}' for {options.recipient} ({options.company}), valid until "
        f"{link.link.expires_at:%Y-%m-%d %H:%M} UTC:\n"
        f"{link.url}\n\n"
        f"mint more: .venv/bin/trustcenter link create {document} --to you@example.com "
        f"--private-key {private_key} --gate-url {base}\n"
        f"audit:     .venv/bin/trustcenter audit\n"
        f"verify:    .venv/bin/trustcenter verify {base}  (trust.json's signature, schema, freshness)\n\n"
        f"{_request_loop(report.trust_center, base)}"
        "stop with Ctrl+C\n")
    from generator.gate.mail import MailSettings

    # The demo prints its e-mail (and keeps each as a .eml file) unless a mail server is configured; the links
    # in it point at this demo, not at the content's gate_url.
    mail = MailSettings.from_env() or MailSettings(console_dir=project.state_dir / "mail")
    app = gate_app.create_app(settings.settings_for(project, include_demo_keys=True, create_db=True, mail=mail,
                                                    public_url=base))
    gate_app.serve(app, host=options.host, port=options.port)


def _write_missing_confidential_pdfs(project: Project) -> None:
    """The demo's gated reports are not in git (no gated file is): made on first run, like the demo key."""
    from generator.demo import documents

    if not all((project.trust_dir / pdf.path).is_file() for pdf in documents.DEMO_PDFS if pdf.confidential):
        documents.write_demo_pdfs(project.trust_dir, confidential_only=True)


def _request_loop(content: TrustCenter, base: str) -> str:
    """How to try the request loop: which addresses each rule of the demo's access.yaml decides, and where the
    e-mails go (printed below, as they are sent)."""
    access = content.access
    if access is None:
        return ""
    lines = [f"request access: {base}/request  (the e-mails are printed here, as they are sent)"]
    for rule in access.rules:
        who = ", ".join(rule.domains) or ("free mail (gmail.com, ...)" if rule.free_mail else
                                          "throwaway addresses (mailinator.com, ...)" if rule.disposable else
                                          "anyone")
        lines.append(f"  {who}: {rule.decision.value}" + (" (no NDA: on file)" if rule.nda.value == "on_file" and
                                                          rule.decision.value == "approve" else ""))
    if not any(rule.everyone for rule in access.rules):
        lines.append("  any other address: staff review")
    lines.append(f"staff page:     {base}/staff  (sign in as {access.staff[0]}; the link is printed here)")
    return "\n".join(lines) + "\n\n"
