"""An SVG logo is published as is: one that could run code, load other files or expand entities is refused."""

from __future__ import annotations

import time

import pytest
from support import REPO

from generator.content.svg import MAX_SVG_BYTES, svg_problems

FIX = "; export the logo again as a plain SVG or use a PNG"
NAMESPACES = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def logo(body: str, root_attributes: str = "") -> bytes:
    return f'<svg {NAMESPACES} viewBox="0 0 64 64" {root_attributes}>{body}</svg>'.encode()


def the_problem(data: bytes) -> str:
    """The one problem found (one, so the test proves nothing else in the file was refused by mistake)."""
    problems = svg_problems(data)
    assert len(problems) == 1, problems
    return problems[0]


PLAIN_LOGO = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Exported by a drawing program -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 64 64"
     role="img" aria-labelledby="t">
  <title id="t">Example Corp</title>
  <desc>A sail over a wave</desc>
  <defs>
    <linearGradient id="grad" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#0b5563"/><stop offset="1" stop-color="#8fd3cf"/>
    </linearGradient>
    <clipPath id="round"><rect width="64" height="64" rx="14"/></clipPath>
    <path id="sail" d="M31 10 L31 46 L13 46 Z"/>
    <style>.wave { stroke: #fff; fill: none } /* url(#grad) is fine */ .bg { fill: url( "#grad" ) }</style>
  </defs>
  <g clip-path="url(#round)">
    <rect class="bg" width="64" height="64" fill="url(#grad)"/>
    <use href="#sail" fill="#fff"/>
    <use xlink:href="#sail" transform="translate(4 6)" style="fill: url(#grad); opacity: .8"/>
    <path class="wave" d="M12 51 Q32 58 52 51" stroke-width="3"/>
    <animate attributeName="opacity" values="1;.9;1" dur="3s"/>
  </g>
</svg>
"""


def test_a_plain_logo_with_groups_gradients_styles_and_a_title_is_safe() -> None:
    assert svg_problems(PLAIN_LOGO) == []


def test_the_demo_logo_is_safe() -> None:
    assert svg_problems((REPO / "trust/assets/logo.svg").read_bytes()) == []


def test_an_embedded_png_image_is_safe() -> None:
    assert svg_problems(logo(f'<image href="data:image/png;base64,{PNG[:40]}\n  {PNG[40:]}" width="8"/>')) == []


def test_rdf_licence_metadata_as_inkscape_exports_it_is_safe() -> None:
    metadata = """<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
        xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
        <cc:Work rdf:about=""><dc:format>image/svg+xml</dc:format></cc:Work></rdf:RDF></metadata>"""
    assert svg_problems(logo(metadata + '<rect width="4" height="4"/>')) == []


def test_every_problem_ends_with_what_to_do() -> None:
    hostile = logo('<script>alert(1)</script><a href="#x"><rect onclick="x"/></a>'
                   '<style>@import "x.css";</style>')
    problems = svg_problems(hostile)
    assert len(problems) == 4
    assert all(problem.endswith(FIX) for problem in problems), problems


def test_the_same_problem_many_times_is_reported_once() -> None:
    assert "onclick" in the_problem(logo('<rect onclick="a()"/>' * 50))


# Form: size, XML, root.

def test_a_logo_over_the_size_limit_is_refused() -> None:
    huge = logo(f'<path d="M0 0 {"L1 1 " * (MAX_SVG_BYTES // 5)}"/>')
    assert "512 KiB" in the_problem(huge)


def test_a_logo_that_is_not_well_formed_xml_is_refused() -> None:
    broken = b'<svg xmlns="http://www.w3.org/2000/svg">\n<g><rect></g>\n</svg>'
    assert "not well-formed XML at line 2, column 12 (mismatched tag)" in the_problem(broken)


def test_an_undeclared_entity_is_refused_as_not_well_formed() -> None:
    assert "not well-formed XML" in the_problem(logo("<title>&xxe;</title>"))


def test_a_root_element_other_than_svg_is_refused() -> None:
    assert "root element is <html>, not <svg>" in the_problem(b'<html xmlns="http://www.w3.org/1999/xhtml"/>')


def test_an_svg_root_outside_the_svg_namespace_is_refused() -> None:
    assert "not in the SVG namespace" in the_problem(b'<svg viewBox="0 0 1 1"><rect/></svg>')


# Declarations: entity expansion and external entities.

def test_a_doctype_is_refused() -> None:
    doctype = b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
    assert "DOCTYPE" in the_problem(doctype + logo(""))


def test_a_billion_laughs_doctype_is_refused_at_once() -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    bomb = f"<!DOCTYPE svg [{''.join(entities)}]>".encode() + logo("<title>&lol9;</title>")  # 10**9 lols
    started = time.perf_counter()
    problem = the_problem(bomb)
    assert time.perf_counter() - started < 1
    assert "ENTITY" in problem


def test_an_external_entity_is_refused() -> None:
    xxe = b'<!doctype svg [<!entity xxe SYSTEM "file:///etc/passwd">]>' + logo("<title>&xxe;</title>")
    assert "DOCTYPE or ENTITY" in the_problem(xxe)


def test_a_doctype_in_utf16_that_the_byte_check_cannot_read_is_refused_by_the_parser() -> None:
    bomb = ('<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>' + logo("<title>&a;</title>").decode()).encode("utf-16")
    assert "DOCTYPE or ENTITY" in the_problem(bomb)


def test_a_stylesheet_processing_instruction_is_refused() -> None:
    pi = b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="https://evil.example/x.xsl"?>'
    assert "<?xml-stylesheet?>" in the_problem(pi + logo(""))


# Elements that run code or embed other documents.

@pytest.mark.parametrize("script", [
    "<script>alert(document.domain)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    '<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>',
    '<script xlink:href="data:image/png;base64,AAAA"/>',
])
def test_a_script_element_is_refused(script: str) -> None:
    assert "<script>" in the_problem(logo(script)).lower()


@pytest.mark.parametrize("element", ["handler", "listener"])
def test_svg_tiny_event_handler_elements_are_refused(element: str) -> None:
    assert f"<{element}> element, which runs code" in the_problem(logo(f"<{element}>alert(1)</{element}>"))


@pytest.mark.parametrize("element", ["foreignObject", "iframe", "embed", "object", "audio", "video"])
def test_elements_that_embed_other_content_are_refused(element: str) -> None:
    assert f"<{element}> element, which embeds" in the_problem(logo(f"<{element}/>"))


def test_xhtml_inside_the_svg_is_refused() -> None:
    xhtml = '<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x"/>'
    assert "<img> element outside the SVG namespace (http://www.w3.org/1999/xhtml)" in the_problem(logo(xhtml))


def test_an_element_in_no_namespace_is_refused() -> None:
    assert "<rect> element outside the SVG namespace (no namespace)" in the_problem(logo('<rect xmlns=""/>'))


def test_rdf_outside_metadata_is_refused() -> None:
    rdf = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    assert "outside the SVG namespace" in the_problem(logo(rdf))


# Event handler attributes.

@pytest.mark.parametrize("attribute", ['onload="x()"', 'onLoad="x()"', 'ONCLICK="x()"', 'xlink:onbegin="x()"'])
def test_an_event_handler_attribute_is_refused_whatever_its_case_or_namespace(attribute: str) -> None:
    assert "event handler" in the_problem(logo("", attribute))


# Links and references.

@pytest.mark.parametrize("href", [
    'xlink:href="JaVaScRiPt:alert(1)"',
    'href="&#106;avascript:alert(1)"',
    'href=" javascript:alert(1)"',
    'xlink:href="java&#x09;script:alert(1)"',
])
def test_a_javascript_href_is_refused_whatever_its_case_or_encoding(href: str) -> None:
    assert "<use> has an href" in the_problem(logo(f"<use {href}/>"))


def test_a_use_of_an_svg_on_another_site_is_refused() -> None:
    assert "<use> has an href" in the_problem(logo('<use href="https://evil.example/x.svg#a"/>'))


def test_an_image_with_svg_in_a_data_uri_is_refused() -> None:
    svg_in_data = '<image href="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+"/>'
    assert "<image> has an href" in the_problem(logo(svg_in_data))


def test_an_image_from_another_site_is_refused() -> None:
    assert "<image> has an href" in the_problem(logo('<image xlink:href="https://evil.example/pixel.png"/>'))


def test_a_filter_image_from_another_site_is_refused() -> None:
    fe_image = '<filter id="f"><feImage href="https://evil.example/x.png"/></filter>'
    assert "<feImage> has an href" in the_problem(logo(fe_image))


def test_a_base_url_that_would_send_fragment_references_elsewhere_is_refused() -> None:
    assert "xml:base" in the_problem(logo('<use href="#a"/>', 'xml:base="https://evil.example/x.svg"'))


def test_a_link_is_refused_even_to_a_fragment() -> None:
    assert "<a> link" in the_problem(logo('<a href="#logo"><rect/></a>'))


@pytest.mark.parametrize("animation", [
    '<set attributeName="href" to="javascript:alert(1)"/>',
    '<animate attributeName="xlink:href" values="#a;#b"/>',
    '<animateTransform attributeName="onclick" values="x"/>',
    '<animateMotion attributeName=" OnBegin " values="x"/>',
])
def test_animating_an_href_or_an_event_handler_is_refused(animation: str) -> None:
    problems = svg_problems(logo(f"<use href='#a'>{animation}</use>"))
    assert any("animates an href or an event handler" in problem for problem in problems), problems


# CSS that loads or runs anything.

def test_a_style_element_importing_a_stylesheet_from_another_site_is_refused() -> None:
    problems = svg_problems(logo("<style>@import url(https://evil.example/x.css);</style>"))
    assert any("<style> element imports a stylesheet with @import" in problem for problem in problems), problems


@pytest.mark.parametrize("css", [
    "rect { fill: url(https://evil.example/x.svg#p) }",
    "rect { fill: URL('x.svg#p') }",
    "rect { fill: u\\rl(x.svg#p) }",
    "rect { fill: \\75 rl(x.svg#p) }",
    "@font-face { src: url(data:font/woff2;base64,AAAA) }",
    "<![CDATA[ rect { fill: url(x.svg#p) } ]]>",
])
def test_a_style_element_loading_another_file_with_url_is_refused(css: str) -> None:
    assert "<style> element loads an outside file with url()" in the_problem(logo(f"<style>{css}</style>"))


@pytest.mark.parametrize("css", ["@IMPORT 'x.css';", "/* hi */@import 'x.css';", "@\\69 mport 'x.css';",
                                 "@im\\port 'x.css';"])
def test_an_import_hidden_by_case_comments_or_escapes_is_refused(css: str) -> None:
    problems = svg_problems(logo(f"<style>{css}</style>"))
    assert any("@import" in problem for problem in problems), problems


def test_a_css_expression_is_refused() -> None:
    assert "expression()" in the_problem(logo('<rect style="width: EXPRESSION(alert(1))"/>'))


def test_a_javascript_url_in_css_is_refused() -> None:
    assert "javascript: URL" in the_problem(logo("<style>rect { behavior: java\\73 cript:alert(1) }</style>"))


def test_a_style_attribute_loading_another_file_is_refused() -> None:
    style = '<rect style="fill: url(https://evil.example/x.svg#p)"/>'
    assert "style attribute on <rect> loads an outside file" in the_problem(logo(style))


def test_a_presentation_attribute_loading_another_file_is_refused() -> None:
    fill = '<rect fill="url(https://evil.example/x.svg#p)"/>'
    assert "fill attribute on <rect> loads an outside file" in the_problem(logo(fill))


# Hostile shapes that must not make the check itself slow.

def test_a_deeply_nested_logo_is_checked_in_linear_time() -> None:
    depth = (MAX_SVG_BYTES - 200) // len("<g>x</g>")
    nested = logo("<g>x" * depth + "</g>" * depth)
    started = time.perf_counter()
    assert svg_problems(nested) == []
    assert time.perf_counter() - started < 5


def test_a_url_padded_with_whitespace_is_checked_in_linear_time() -> None:
    padded = logo(f"<style>rect {{ fill: url({' ' * (MAX_SVG_BYTES - 300)}#grad) }}</style>")
    started = time.perf_counter()
    assert svg_problems(padded) == []
    assert time.perf_counter() - started < 5
