"""Rules on company.yaml: the logo file, security.txt's expiry, a way to ask for gated documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from generator.content.rules import ERROR, WARNING, Context, Finding, rule
from generator.content.svg import svg_problems

_FILE = "company.yaml"
LOGO_SUFFIXES = (".svg", ".png", ".jpg", ".jpeg", ".webp")


@rule("logo-file", ERROR, "The logo must be an image file (SVG, PNG, JPEG, WebP) inside the project; an SVG "
                          "must be plain: no script, event handler, link, external reference or DOCTYPE.")
def logo_file(ctx: Context) -> Iterator[Finding]:
    logo_name = ctx.tc.company.logo
    if not logo_name:
        return
    logo = (ctx.tc.root / logo_name).resolve()
    if not logo.is_relative_to(ctx.project.root):
        yield Finding(_FILE, ("logo",), "the logo path leads outside the project; keep it in the content folder")
    elif not logo.is_file():
        yield Finding(_FILE, ("logo",), f"the logo file {logo_name} does not exist in the content folder; add it "
                                        "or fix the path")
    elif logo.suffix.lower() not in LOGO_SUFFIXES:
        yield Finding(_FILE, ("logo",), "the logo must be an .svg, .png, .jpg or .webp file")
    elif logo.suffix.lower() == ".svg":
        # Published as is and, opened directly, run in the site's origin on hosts that send no CSP.
        for problem in svg_problems(logo.read_bytes()):
            yield Finding(_FILE, ("logo",), problem)


@rule("security-txt-expired", WARNING, "security.txt's Expires date has passed (RFC 9116: readers ignore it).")
def security_txt_expired(ctx: Context) -> Iterator[Finding]:
    expires = ctx.tc.company.security_txt.expires
    if expires <= ctx.today:
        yield Finding(_FILE, ("security_txt", "expires"), f"security.txt expired on {expires}; set a new date "
                                                          "within the next year")


@rule("security-txt-expiry-too-far", WARNING, "security.txt should expire within a year (RFC 9116 section 2.5.5).")
def security_txt_expiry_too_far(ctx: Context) -> Iterator[Finding]:
    if ctx.tc.company.security_txt.expires > ctx.today + dt.timedelta(days=366):
        yield Finding(_FILE, ("security_txt", "expires"), "security.txt should expire within a year (RFC 9116 "
                                                          "section 2.5.5); choose an earlier date")


@rule("gated-documents-without-contact", WARNING,
      "Gated documents are listed but neither gate_url nor a sales contact says how to get them.")
def gated_documents_without_contact(ctx: Context) -> Iterator[Finding]:
    company = ctx.tc.company
    if ctx.tc.gated_documents and not company.gate_url and not company.contacts.sales:
        yield Finding(_FILE, ("contacts",), "there are gated documents but neither gate_url nor contacts.sales; "
                                            "add one so customers know how to get them")
