"""mitmproxy flows -> the core's views; reading flow files for replay."""

from __future__ import annotations

from typing import Iterator

from mitmproxy import http, io

from ..sticky import read_cookie
from ..view import RequestView, ResponseView


def authority_host(req: http.Request) -> str:
    """The host the browser asked for (HTTP/1 ``Host``, HTTP/2 ``:authority``), lower-case, no port."""
    hh = req.host_header or req.authority or ""
    hh = hh.strip().lower()
    if hh.startswith("["):
        return hh[1:].split("]", 1)[0]
    return hh.rsplit(":", 1)[0] if hh.count(":") == 1 else hh


def media_type(value: str | None) -> str:
    return value.split(";", 1)[0].strip().lower() if value else ""


def request_body(req: http.Request, max_body: int) -> bytes:
    raw = req.raw_content
    if not raw:
        return b""
    if len(raw) > max_body:
        return raw  # the extractor reports it as over the limit and skips it
    if req.headers.get("content-encoding"):
        return req.get_content(strict=False) or b""
    return raw


def view_from_flow(flow: http.HTTPFlow, max_body: int) -> RequestView:
    req = flow.request
    path, _, query = req.path.partition("?")
    return RequestView(
        method=req.method.upper(),
        host=authority_host(req),
        path=path,
        query=query,
        headers=req.headers,
        body=request_body(req, max_body) if req.method.upper() not in ("GET", "HEAD") else b"",
        content_type=media_type(req.headers.get("content-type")),
        sticky=read_cookie(req.headers.get("cookie")),
    )


def response_view(flow: http.HTTPFlow, *, want_body: bool) -> ResponseView:
    resp = flow.response
    assert resp is not None
    ct = media_type(resp.headers.get("content-type"))
    body = b""
    if want_body and (ct == "text/html" or ct.endswith("json")):
        body = resp.get_content(strict=False) or b""
    return ResponseView(status=resp.status_code, location=resp.headers.get("location"), content_type=ct, body=body)


def read_flows(path: str) -> Iterator[http.HTTPFlow]:
    with open(path, "rb") as f:
        for flow in io.FlowReader(f).stream():
            if isinstance(flow, http.HTTPFlow):
                yield flow
