"""Content Markdown renders safely: raw HTML is text, only allowed link targets, no images from other hosts."""

from __future__ import annotations

import pytest

from generator.content import markup


@pytest.mark.parametrize("source", [
    "[x](javascript:alert(1))", "[x]( javascript:alert(1))", "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))", "[x](javascript&colon;alert(1))", "[x](java&Tab;script:alert(1))",
    "[x](<javascript:alert(1)>)", "[x]: javascript:alert(1)\n\n[x]", "<javascript:alert(1)>",
    "[x](vbscript:msgbox(1))", "[x](data:text/html;base64,PHNjcmlwdD4=)",
])
def test_scripted_link_targets_lose_their_href(source: str) -> None:
    html = str(markup.render(source))
    assert "href" not in html and "javascript" not in html.lower().replace("javascript:alert(1)&gt;", "")


@pytest.mark.parametrize("source", ["![x](//evil.example/p.png)", "![x](/\\\\evil.example/p.png)",
                                    "![x](https://evil.example/p.png)", "![x](&#47;/evil.example/p.png)"])
def test_images_from_other_hosts_become_their_alt_text(source: str) -> None:
    assert str(markup.render(source)) == "<p><span>x</span></p>"


def test_raw_html_is_shown_as_text() -> None:
    html = str(markup.render('<img src=x onerror=alert(1)> <script>alert(2)</script>\n\n<div onclick="x">a</div>'))
    assert "<img" not in html and "<script" not in html and "<div" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(("source", "href"), [
    ("[ok](https://ok.example/?a=1&b=2)", 'href="https://ok.example/?a=1&amp;b=2"'),
    ("[mail](mailto:security@halyard.example)", 'href="mailto:security@halyard.example"'),
    ("[up](../documents/)", 'href="../documents/"'),
    ("[here](#section)", 'href="#section"'),
])
def test_allowed_links_are_kept(source: str, href: str) -> None:
    assert href in str(markup.render(source))


def test_local_images_are_kept() -> None:
    assert '<img alt="diagram" src="assets/diagram.png">' in str(markup.render("![diagram](assets/diagram.png)"))
