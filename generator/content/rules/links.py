"""Link targets in every text field: http(s), mailto or within the site, judged as a browser reads them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator.content import urls
from generator.content.reader import Key
from generator.content.rules import ERROR, Context, Finding, rule

# Link targets inside Markdown text: inline links/images, reference definitions, autolinks.
_MD_LINK_RE = re.compile(r"\]\(\s*<?([^)\s>]*)|^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>",
                         re.MULTILINE)


@rule("unsafe-link-target", ERROR, "A link in a text field that is not http(s), mailto or within the site "
                                   "(javascript:, data:, a protocol-relative //host...).", needs_model=False)
def unsafe_link_target(ctx: Context) -> Iterator[Finding]:
    # On the raw strings of every file that parsed, valid or not, so that one run reports every problem.
    for name, parsed in ctx.loaded.files.items():
        yield from _walk(parsed.data, (), name)


def _walk(value: Any, key: Key, file: str) -> Iterator[Finding]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, (*key, name), file)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*key, index), file)
    elif isinstance(value, str) and ("](" in value or "]:" in value or "<" in value):
        for match in _MD_LINK_RE.finditer(value):
            target = next(group for group in match.groups() if group is not None)
            if target and urls.safe_target(target) is None:
                yield Finding(file, key, f"the link target '{target[:60]}' is not allowed; links must be "
                                         "http(s)://, mailto: or relative")
