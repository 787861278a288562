"""Auto-post HTML forms (SAML HTTP-POST binding, OIDC form_post) in provider responses.

Read by a bounded scan of ``<form`` and ``<input`` tags, not by an HTML parser: the router reads
every HTML page a provider serves on the event loop, and a hosted-login page is big: the scan is
bounded and cheap (figures in ``bench/README.md``, measured by ``bench/responses.py``).
Each byte of the page is looked at a bounded number of times: tags are found with ``bytes.find``,
``<script>`` bodies and comments are skipped as a parser would, at most ``MAX_INPUTS`` inputs are
read, and a tag that does not end (an unclosed quote) ends the scan.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

MAX_INPUTS = 64  # an auto-post form has a handful of inputs, a hosted-login page a few dozen

# one attribute: name, then an optional value (double-quoted, single-quoted or bare)
_ATTR = re.compile(rb"""([^\s/>"'=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"'`]+))?""")
# the rest of a tag, up to its ">" (quoted values may hold one); possessive: no backtracking
_TAG_END = re.compile(rb"""(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
_SKIPPED = ((b"<!--", b"-->"), (b"<script", b"</script"), (b"<style", b"</style"))


class Form(NamedTuple):
    action: str | None  # the first form's action ("" when it has none); None: no form at all
    fields: dict[str, str]  # first value of each input name


def read_form(page: bytes, *, max_size: int, names: frozenset[str] | None = None) -> Form:
    """The first form's ``action`` and the page's ``<input>`` fields (only ``names``, when given).
    Empty when the page has no form or is over ``max_size`` bytes."""
    if len(page) > max_size:
        return Form(None, {})
    low = page.lower()
    form_at = low.find(b"<form")
    if form_at < 0:
        return Form(None, {})
    form_tag = _tag(page, form_at + 5)
    action = form_tag[0].get("action", "") if form_tag is not None else ""
    fields: dict[str, str] = {}
    pos = 0
    for _ in range(MAX_INPUTS):
        at = _next_input(low, pos)
        if at < 0:
            break
        tag = _tag(page, at + 6)
        if tag is None:
            break  # a tag that never ends: nothing after it is a tag either
        attrs, pos = tag
        name = attrs.get("name")
        if name and name not in fields and (names is None or name in names):
            fields[name] = attrs.get("value", "")
    return Form(action, fields)


def _next_input(low: bytes, pos: int) -> int:
    """Where the next ``<input`` tag outside comments, scripts and styles starts, or -1."""
    while True:
        at = low.find(b"<input", pos)
        if at < 0:
            return -1
        skip = min(((i, close) for opening, close in _SKIPPED if (i := low.find(opening, pos, at)) >= 0), default=None)
        if skip is None:
            return at
        start, close = skip
        end = low.find(close, start + 4)
        if end < 0:
            return -1
        pos = end + len(close)


def _tag(page: bytes, pos: int) -> tuple[dict[str, str], int] | None:
    """The attributes of the tag whose name ends at ``pos`` (names lower-case, values unescaped)
    and where the tag ends; None when it does not end before the page does."""
    end = _TAG_END.match(page, pos)
    if end is None:
        return None
    attrs: dict[str, str] = {}
    for name, raw in _ATTR.findall(page, pos, end.end() - 1):
        key = name.decode("latin-1").lower()
        if raw[:1] in (b'"', b"'"):
            raw = raw[1:-1]
        if key not in attrs:
            attrs[key] = html.unescape(raw.decode("utf-8", "replace")) if raw else ""
    return attrs, end.end()
