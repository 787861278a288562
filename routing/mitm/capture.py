"""Captures for ``sso-router explain`` and ``redact``: flow files (``mitmdump -w``) read as replay
``Exchange``s, written back, and copied with their secrets replaced."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mitmproxy import exceptions, http, io

from ..view import RequestView, host_of, media_type
from .flows import REQUEST_META, message_body, response_view, view_from_flow

if TYPE_CHECKING:
    from ..redact import Redactor
    from ..replay import Exchange, Skipped


def read_flows(path: str) -> Iterator[http.HTTPFlow]:
    with open(path, "rb") as f:
        for flow in io.FlowReader(f).stream():
            if isinstance(flow, http.HTTPFlow):
                yield flow


def exchange_from_flow(flow: http.HTTPFlow, index: int, max_body: int) -> Exchange:
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
            view = _replace(view, host=host_of(asked["authority"]))
        if isinstance(asked.get("path"), str) and asked["path"]:
            path, _, query = asked["path"].partition("?")
            view = _replace(view, path=path, query=query)
    resp = None
    if flow.response is not None:
        resp = response_view(flow, want_body=200 <= flow.response.status_code < 300)
    return Exchange(
        index=index,
        view=view,
        response=resp,
        at=flow.request.timestamp_start or 0.0,
        recorded=recorded_decision(meta.get("sso_router")),
    )


def _replace(view: RequestView, **kw: Any) -> RequestView:
    return dataclasses.replace(view, **kw)


def read_flow_file(path: str, max_body: int) -> Iterator[Exchange | Skipped]:
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


def write_flow_file(path: str, flows: Iterable[http.HTTPFlow]) -> None:
    with open(path, "wb") as f:
        w = io.FlowWriter(f)
        for flow in flows:
            w.add(flow)


def redact_flow(flow: http.HTTPFlow, r: Redactor) -> http.HTTPFlow:
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


def _redact_message(msg: http.Message, r: Redactor) -> None:
    body, note = message_body(msg, 16 << 20)  # bounded: a capture is untrusted input too
    if note:  # a body we cannot read cannot be shown to be free of secrets: drop it
        msg.headers.pop("content-encoding", None)
        msg.raw_content = b""
        body = b""
    ct = media_type(msg.headers.get("content-type"))
    msg.headers = http.Headers(
        [
            (k, r.header(k.decode("latin-1"), v.decode("latin-1")).encode("latin-1", "replace"))
            for k, v in msg.headers.fields
        ]
    )
    if body:
        msg.content = r.body(body, ct)
    msg.trailers = None
