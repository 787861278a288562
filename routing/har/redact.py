"""A HAR with its secrets replaced (``sso-router redact``): an allow-list of what replay reads, each
value through a ``redact.Redactor``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ..view import media_type
from .read import HarObject, load_har, request_body, response_body

if TYPE_CHECKING:
    from ..redact import Redactor


def redact_har(data: bytes, r: Redactor) -> tuple[HarObject, int]:
    """A HAR document keeping only what replay reads (an allow-list: pages, timings' extras and
    tool-specific ``_fields`` go), every secret replaced by ``r`` (a ``redact.Redactor``).
    Returns ``(document, entries dropped as unreadable)``."""
    entries = load_har(data)
    doc = json.loads(data)
    log = doc["log"]
    out_entries: list[HarObject] = []
    dropped = 0
    for entry in entries:
        try:
            out_entries.append(_redact_entry(entry, r))
        except (KeyError, TypeError, ValueError, AttributeError):
            dropped += 1
    creator = log.get("creator") if isinstance(log.get("creator"), dict) else {}
    return {
        "log": {
            "version": str(log.get("version", "1.2")),
            "creator": {"name": str(creator.get("name", "")), "version": str(creator.get("version", ""))},
            "entries": out_entries,
        }
    }, dropped


def _redact_headers(items: Any, r: Redactor) -> list[HarObject]:
    return [
        {"name": str(h["name"]), "value": r.header(str(h["name"]).lstrip(":"), str(h.get("value", "")))}
        for h in items or []
    ]


def _redact_cookies(items: Any, r: Redactor) -> list[HarObject]:
    return [
        {"name": str(c["name"]), "value": r.standin(str(c.get("value", "")))}
        for c in items or []
        if isinstance(c, dict)
    ]


def _redact_entry(entry: HarObject, r: Redactor) -> HarObject:
    req = entry["request"]
    url = r.url(str(req["url"]))
    out_req: dict[str, Any] = {
        "method": str(req["method"]),
        "url": url,
        "httpVersion": str(req.get("httpVersion", "")),
        "headers": _redact_headers(req.get("headers"), r),
        "cookies": _redact_cookies(req.get("cookies"), r),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": -1,
    }
    post = req.get("postData")
    if isinstance(post, dict):
        body, ct = request_body(post)
        red = r.body(body, ct or media_type(post.get("mimeType")))
        out_req["postData"] = {"mimeType": str(post.get("mimeType", "")), "text": red.decode("utf-8", "replace")}
        out_req["bodySize"] = len(red)
    out: dict[str, Any] = {
        "startedDateTime": entry.get("startedDateTime", ""),
        "time": entry.get("time", 0),
        "request": out_req,
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
    }
    resp = entry.get("response")
    if isinstance(resp, dict):
        content = resp.get("content")
        if not isinstance(content, dict):
            content = {}
        mime = str(content.get("mimeType", ""))
        red = r.body(response_body(content), media_type(mime))
        out["response"] = {
            "status": resp.get("status", 0),
            "statusText": str(resp.get("statusText", "")),
            "httpVersion": str(resp.get("httpVersion", "")),
            "headers": _redact_headers(resp.get("headers"), r),
            "cookies": _redact_cookies(resp.get("cookies"), r),
            "content": {"size": len(red), "mimeType": mime, "text": red.decode("utf-8", "replace")},
            "redirectURL": r.url(str(resp.get("redirectURL") or "")) if resp.get("redirectURL") else "",
            "headersSize": -1,
            "bodySize": len(red),
        }
    return out
