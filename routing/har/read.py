"""HAR files (as browsers' dev tools save them) → replay ``Exchange``s. Read with ``json``, entry by
entry: one bad entry is a ``Skipped``, never the whole file. ``postData.params`` counts when
``postData.text`` is absent (Firefox and Chrome write either)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..replay import Exchange, Skipped
from ..sticky import read_cookie
from ..view import RequestView, ResponseView, host_of, media_type

type HarObject = dict[str, Any]  # a JSON object of the HAR document (an entry, a request, ...)


class HarError(ValueError):
    """The file is not a HAR document at all."""


def load_har(data: bytes) -> list[Any]:
    """The ``log.entries`` list. Raises ``HarError`` when there is none."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise HarError(f"not JSON: {e}") from e
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise HarError("no log.entries list: not a HAR file")
    return entries


def read_har(data: bytes) -> Iterator[Exchange | Skipped]:
    for i, entry in enumerate(load_har(data), 1):
        try:
            yield exchange_from_entry(entry, i)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            yield Skipped(i, f"unreadable HAR entry: {type(e).__name__}")


def headers_of(items: Any) -> dict[str, str]:
    """HAR ``[{name, value}]`` → lower-case dict; repeated headers joined as HTTP would."""
    out: dict[str, str] = {}
    for h in items or []:
        name, value = str(h["name"]).lower(), str(h.get("value", ""))
        if name.startswith(":"):
            continue
        if name in out:
            out[name] += ("; " if name == "cookie" else ", ") + value
        else:
            out[name] = value
    return out


def request_body(post: Any) -> tuple[bytes, str]:
    """(body, media type) of ``postData``."""
    if not isinstance(post, dict):
        return b"", ""
    ct = media_type(post.get("mimeType"))
    text = post.get("text")
    if isinstance(text, str) and text:
        return text.encode("utf-8"), ct
    params = post.get("params")
    if isinstance(params, list) and params:
        return urlencode(
            [(str(p["name"]), str(p.get("value", ""))) for p in params]
        ).encode(), ct or "application/x-www-form-urlencoded"
    return b"", ct


def response_body(content: Any) -> bytes:
    if not isinstance(content, dict):
        return b""
    text = content.get("text")
    if not isinstance(text, str) or not text:
        return b""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return b""
    return text.encode("utf-8")


def started_at(entry: HarObject) -> float:
    raw = entry.get("startedDateTime")
    if not isinstance(raw, str) or not raw:
        return 0.0
    return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


def exchange_from_entry(entry: HarObject, index: int) -> Exchange:
    req = entry["request"]
    method = str(req["method"]).upper()
    u = urlsplit(str(req["url"]))
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError("request.url is not an http(s) URL")
    headers = headers_of(req.get("headers"))
    cookie_header = headers.get("cookie", "")
    listed = [c for c in req.get("cookies") or [] if isinstance(c, dict)]
    if not cookie_header and listed:
        cookie_header = "; ".join(f"{c['name']}={c.get('value', '')}" for c in listed)
        headers["cookie"] = cookie_header
    body, ct = request_body(req.get("postData")) if method not in ("GET", "HEAD") else (b"", "")
    host = host_of(u.netloc)
    view = RequestView(
        method=method,
        host=host,
        path=u.path or "/",
        query=u.query,
        headers=headers,
        body=body,
        content_type=media_type(headers.get("content-type")) or ct,
        sticky=read_cookie(cookie_header),
    )
    resp = None
    r = entry.get("response")
    status = r.get("status") if isinstance(r, dict) else None
    if isinstance(r, dict) and isinstance(status, int) and status > 0:  # 0: no response (blocked, failed, cancelled)
        rh = headers_of(r.get("headers"))
        location = rh.get("location") or (r.get("redirectURL") or None if 300 <= status < 400 else None)
        rct = media_type(rh.get("content-type") or (r.get("content") or {}).get("mimeType"))
        resp = ResponseView(
            status=status,
            location=location,
            content_type=rct,
            body=response_body(r.get("content")) if 200 <= status < 300 else b"",
        )
    return Exchange(index=index, view=view, response=resp, at=started_at(entry))


__all__ = ["HarError", "exchange_from_entry", "load_har", "read_har"]
