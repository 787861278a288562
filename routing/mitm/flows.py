"""mitmproxy flows -> the core's views, on the hot path (request and response hooks)."""

from __future__ import annotations

from typing import Any

from mitmproxy import http

from ..errors import ExtractError
from ..extract.bodies import decode_body
from ..limits import Limits
from ..sticky import read_cookie
from ..view import RequestView, ResponseView, host_of, media_type

_UNSET: Any = object()  # "not read yet", distinct from a missing header (None)


def message_body(msg: http.Message, max_body: int, encoding: str | None = _UNSET) -> tuple[bytes, str | None]:
    """The body to inspect and, when there is none to inspect, why. Never mitmproxy's own
    (unbounded) decoder: a Content-Encoding is decoded within ``max_body``. ``encoding``: the
    Content-Encoding when the caller has read it already."""
    raw = msg.raw_content
    if not raw:
        return b"", None
    if len(raw) > max_body:
        return raw, None  # the extractor reports it as over the limit and skips it
    if encoding is _UNSET:
        encoding = msg.headers.get("content-encoding")
    if not encoding:
        return raw, None
    try:
        return decode_body(raw, encoding, max_body), None
    except ExtractError as e:
        return b"", e.msg


def header_dict(headers: http.Headers) -> dict[str, str]:
    """All header fields in one pass, names lower-cased, as a plain dict (the core's ``HeaderLookup``).
    Repeated fields are joined as mitmproxy joins them (", "), cookies as browsers do ("; "; HTTP/2
    sends each cookie as its own field). One pass instead of a scan of every field per lookup."""
    out: dict[str, str] = {}
    for k, v in headers.fields:
        name = k.decode("latin-1").lower()
        value = v.decode("utf-8", "surrogateescape")
        if name in out:
            out[name] += ("; " if name == "cookie" else ", ") + value
        else:
            out[name] = value
    return out


def view_from_flow(flow: http.HTTPFlow, max_body: int, path: str | None = None) -> RequestView:
    req = flow.request
    data = req.data
    path, _, query = (path if path is not None else req.path).partition("?")
    method = data.method.decode("utf-8", "surrogateescape").upper()
    headers = header_dict(data.headers)
    body, note = (
        message_body(req, max_body, headers.get("content-encoding")) if method not in ("GET", "HEAD") else (b"", None)
    )
    host = headers.get("host") if not (req.is_http2 or req.is_http3) else (req.authority or headers.get("host"))
    cookies = headers.get("cookie")
    return RequestView(
        method=method,
        host=host_of(host or req.authority or ""),
        path=path,
        query=query,
        headers=headers,
        body=body,
        content_type=media_type(headers.get("content-type")),
        sticky=read_cookie(cookies) if cookies else None,
        body_note=note,
    )


def response_view(
    flow: http.HTTPFlow,
    *,
    want_body: bool,
    max_body: int = 1_048_576,
    headers: dict[str, str] | None = None,
    max_html: int = Limits().max_auto_post,
) -> ResponseView:
    """``headers``: the response's ``header_dict``, when the caller has it already. An HTML body
    is read only as far as an auto-post form page can go (``max_html``): a hosted page is neither
    decompressed nor scanned."""
    resp = flow.response
    assert resp is not None
    hdrs = headers if headers is not None else header_dict(resp.data.headers)
    ct = media_type(hdrs.get("content-type"))
    body = b""
    if want_body and ct == "text/html":
        raw = resp.raw_content or b""
        if len(raw) <= max_html:  # decoded within the same bound (message_body)
            body, _ = message_body(resp, max_html, hdrs.get("content-encoding"))
    elif want_body and ct.endswith("json"):
        body, _ = message_body(resp, max_body, hdrs.get("content-encoding"))
    return ResponseView(status=resp.status_code, location=hdrs.get("location"), content_type=ct, body=body)


REQUEST_META = "sso_router_request"  # set by the addon: the authority and path the browser sent
