"""Where the contentviews find SSO payloads in a message (query, Location, form, JSON, auto-post
HTML form; cheap checks first, bounded reads after), and the text helpers both views render with."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from mitmproxy import http
from mitmproxy.contentviews import Metadata

from ..extract.html_form import read_form
from ..limits import Limits


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # SAMLRequest, id_token, ...
    value: str | bytes
    where: str  # query, form body, JSON body, HTML form, Location, Authorization header, body


# -- where payloads come from -------------------------------------------------------------------
def url_pairs(metadata: Metadata) -> tuple[str, list[tuple[str, str]]]:
    """Parameters the message carries in a URL: a request's query, a response's Location."""
    msg = metadata.http_message
    try:
        if isinstance(msg, http.Request):
            return "query", list(msg.query.items(multi=True))
        if isinstance(msg, http.Response) and (loc := msg.headers.get("location")):
            u = urllib.parse.urlsplit(loc)
            pairs = urllib.parse.parse_qsl(u.query, keep_blank_values=True, max_num_fields=1000)
            pairs += urllib.parse.parse_qsl(u.fragment, keep_blank_values=True, max_num_fields=1000)
            return "Location", pairs
    except ValueError:
        pass
    return "", []


def body_kind(data: bytes, metadata: Metadata) -> str:
    """How a body carries parameters: ``json``, ``html`` (an auto-post form), ``form`` or ``other``. Cheap."""
    ct = (metadata.content_type or "").lower()
    head = data[:64].lstrip()
    if ct.endswith("json") or head.startswith(b"{"):
        return "json"
    if ct in ("text/html", "application/xhtml+xml") or head[:1] == b"<":
        return "html"
    if ct in ("", "application/x-www-form-urlencoded", "text/plain"):
        return "form"
    return "other"


def body_has(data: bytes, metadata: Metadata, names: tuple[bytes, ...], value_start: bytes = b"") -> bool:
    """Substring test for a parameter in the body, shaped by how the body carries parameters. Cheap."""
    kind = body_kind(data, metadata)
    if kind == "form":
        return any(n + b"=" + value_start in data for n in names)
    if kind == "json":
        return any(b'"' + n + b'"' in data for n in names) and (not value_start or b'"' + value_start in data)
    if kind == "html":
        return (b"<form" in data or b"<FORM" in data) and any(n in data for n in names) and value_start in data
    return False


def body_pairs(data: bytes, metadata: Metadata, limits: Limits) -> tuple[str, list[tuple[str, str]]]:
    """Parameters in the body: a JSON object, an auto-post HTML form, or a urlencoded form."""
    if not data or len(data) > limits.max_body:
        return "", []
    kind = body_kind(data, metadata)
    if kind == "json":
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):
            return "", []
        if not isinstance(obj, dict):
            return "", []
        return "JSON body", [(k, v) for k, v in obj.items() if isinstance(v, str)]
    if kind == "html":
        _, form = read_form(data, max_size=limits.max_html)
        return "HTML form", list(form.items())
    if kind != "form":
        return "", []
    try:
        pairs = urllib.parse.parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=1000)
    except ValueError:
        return "", []
    return "form body", pairs


def pick_fields(where: str, pairs: list[tuple[str, str]], names: tuple[str, ...]) -> list[Field]:
    return [Field(k, v, where) for k, v in pairs if k in names]


def url_has(metadata: Metadata, needles: tuple[str, ...]) -> bool:
    msg = metadata.http_message
    if isinstance(msg, http.Request):
        url = msg.path
    elif isinstance(msg, http.Response):
        url = msg.headers.get("location", "")
    else:
        return False
    return any(n in url for n in needles)


# -- rendering helpers --------------------------------------------------------------------------
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(32), 0x7F, 0x85)} | {0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(value: Any, cap: int = 300) -> str:
    """A field value on one line: control characters escaped (no forged header lines), length capped."""
    s = str(value).translate(_ESCAPES)
    return s if len(s) <= cap else s[:cap] + "…"


def text_block(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join(f"{k + ':':<{width}}{one_line(v)}" for k, v in rows)


def heading(f: Field, *parts: str) -> str:
    return " · ".join((f.name, f.where, *parts))
