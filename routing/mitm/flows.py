"""mitmproxy flows -> the core's views; reading flow files for replay."""

from __future__ import annotations

from typing import Iterator

from mitmproxy import exceptions, http, io

from ..errors import ExtractError
from ..extract.bodies import decode_body
from ..extract.limits import Limits
from ..sticky import read_cookie
from ..view import RequestView, ResponseView, media_type
from ..view import host_of as authority_host


_UNSET = object()


def message_body(msg: http.Message, max_body: int, encoding=_UNSET) -> tuple[bytes, str | None]:
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
    body, note = message_body(req, max_body, headers.get("content-encoding")) if method not in ("GET", "HEAD") \
        else (b"", None)
    host = headers.get("host") if not (req.is_http2 or req.is_http3) else (req.authority or headers.get("host"))
    cookies = headers.get("cookie")
    return RequestView(
        method=method,
        host=authority_host(host or req.authority or ""),
        path=path,
        query=query,
        headers=headers,
        body=body,
        content_type=media_type(headers.get("content-type")),
        sticky=read_cookie(cookies) if cookies else None,
        body_note=note,
    )


def response_view(flow: http.HTTPFlow, *, want_body: bool, max_body: int = 1_048_576,
                  headers: dict[str, str] | None = None, max_html: int = Limits().max_auto_post) -> ResponseView:
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


def read_flows(path: str) -> Iterator[http.HTTPFlow]:
    with open(path, "rb") as f:
        for flow in io.FlowReader(f).stream():
            if isinstance(flow, http.HTTPFlow):
                yield flow


REQUEST_META = "sso_router_request"  # set by the addon: the authority and path the browser sent


# -- captures for `sso-router explain` / `redact` ------------------------------------------------

def exchange_from_flow(flow: http.HTTPFlow, index: int, max_body: int):
    """One flow as a replay ``Exchange``. A flow the router handled (recorded with ``mitmdump -w``
    next to the addon) has its request already pointed upstream; the router noted the host and
    path the browser asked for in ``flow.metadata``, and those are used first, as is the decision
    it recorded there."""
    from ..replay import Exchange, recorded_decision

    view = view_from_flow(flow, max_body)
    meta = flow.metadata
    asked = meta.get(REQUEST_META)
    if isinstance(asked, dict):
        if isinstance(asked.get("authority"), str) and asked["authority"]:
            view = _replace(view, host=authority_host(asked["authority"]))
        if isinstance(asked.get("path"), str) and asked["path"]:
            path, _, query = asked["path"].partition("?")
            view = _replace(view, path=path, query=query)
    resp = None
    if flow.response is not None:
        resp = response_view(flow, want_body=200 <= flow.response.status_code < 300)
    return Exchange(index=index, view=view, response=resp, at=flow.request.timestamp_start or 0.0,
                    recorded=recorded_decision(meta.get("sso_router")))


def _replace(view: RequestView, **kw) -> RequestView:
    import dataclasses
    return dataclasses.replace(view, **kw)


def read_flow_file(path: str, max_body: int):
    """Every HTTP flow of a flow file as an ``Exchange``; a flow that cannot be read is a ``Skipped``.
    Raises ``OSError``/``FlowReadException`` when the file itself cannot be read at all."""
    from ..replay import Skipped

    index = 0
    with open(path, "rb") as f:
        reader = io.FlowReader(f)
        try:
            for flow in reader.stream():
                index += 1
                if not isinstance(flow, http.HTTPFlow):
                    yield Skipped(index, f"not an HTTP flow ({type(flow).__name__})")
                    continue
                try:
                    yield exchange_from_flow(flow, index, max_body)
                except Exception as e:  # noqa: BLE001 — one odd flow must not lose the file
                    yield Skipped(index, f"unreadable flow: {type(e).__name__}")
        except exceptions.FlowReadException as e:
            if index == 0:
                raise
            yield Skipped(index + 1, f"the rest of the file is unreadable: {e}")


def write_flow_file(path: str, flows) -> None:
    with open(path, "wb") as f:
        w = io.FlowWriter(f)
        for flow in flows:
            w.add(flow)


def redact_flow(flow: http.HTTPFlow, r) -> http.HTTPFlow:
    """A copy of ``flow`` with its secrets replaced by ``r`` (a ``redact.Redactor``); the router's
    own metadata (decision, host and path as asked) is kept, any other metadata dropped."""
    f = flow.copy()
    f.metadata = {k: v for k, v in flow.metadata.items() if k.startswith("sso_router")}
    asked = f.metadata.get(REQUEST_META)
    if isinstance(asked, dict) and isinstance(asked.get("path"), str):  # its query carries the same secrets
        a_path, a_sep, a_query = asked["path"].partition("?")
        f.metadata[REQUEST_META] = {**asked, "path": a_path + (a_sep + r.query(a_query) if a_sep else "")}
    req = f.request
    path, sep, query = req.path.partition("?")
    req.path = path + (sep + r.query(query) if sep else "")
    _redact_message(req, r)
    if f.response is not None:
        _redact_message(f.response, r)
    if f.websocket is not None:
        f.websocket = None
    return f


def _redact_message(msg: http.Message, r) -> None:
    body, note = message_body(msg, 16 << 20)  # bounded: a capture is untrusted input too
    if note:  # a body we cannot read cannot be shown to be free of secrets: drop it
        msg.headers.pop("content-encoding", None)
        msg.raw_content = b""
        body = b""
    ct = media_type(msg.headers.get("content-type"))
    msg.headers = http.Headers([(k, r.header(k.decode("latin-1"), v.decode("latin-1")).encode("latin-1", "replace"))
                                for k, v in msg.headers.fields])
    if body:
        msg.content = r.body(body, ct)
    msg.trailers = None
