"""Corrections to markup that Material for MkDocs writes outside any template block an override could fill."""

from __future__ import annotations

import re

# base.html: `autocomplete` on the drawer and search checkboxes (not allowed on checkboxes in HTML).
_CHECKBOX_AUTOCOMPLETE = re.compile(r'(<input class="md-toggle" data-md-toggle="\w+" type="checkbox" id="__\w+") '
                                    r'autocomplete="off">')
# partials/nav-item.html: `tabindex=""` on section labels (an empty tabindex is not an integer).
_EMPTY_TABINDEX = re.compile(r'(<label class="md-nav__link[^"]*" for="[^"]+" id="[^"]+") tabindex="">')


def valid_html(page_html: str) -> str:
    """The page with Material's two invalid attributes removed; everything else is left byte for byte."""
    return _EMPTY_TABINDEX.sub(r"\1>", _CHECKBOX_AUTOCOMPLETE.sub(r"\1>", page_html))
