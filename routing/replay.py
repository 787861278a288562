"""Offline replay of a capture through the pipeline, the way the proxy runs it. Pure: no files.

Each captured exchange goes ``begin`` → memory store recall → ``conclude``; its response
(if any) goes through ``learn`` into the same store, and the sticky cookie the proxy
would have set goes into a small cookie jar that later requests of the same client
present. The capture's clock (each request's own timestamp) drives store expiry and
cookie lifetimes.

Which requests present the router's cookie: when the capture records cookies at all
(a proxy-side flow file always does; a browser HAR unless it was exported sanitized),
exactly those that carried a cookie named like the router's — the proxy saw that, and a
browser leaves it off a cross-site POST. When the capture records no cookies, a
browser is assumed: every request of the client presents it, except a cross-site
non-GET one when the cookie is ``SameSite=Lax`` (an ``http://`` ``public_url``).
A captured cookie that verifies under the replay's secret (``SSO_ROUTER_SECRET``)
is used as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterable, Iterator
from urllib.parse import parse_qsl

from . import pipeline, sticky
from .correlation.memory import MemoryStore
from .model import Decision, Mapping
from .endpoints import PREFIX as ENDPOINTS_PREFIX
from .view import RequestView, ResponseView, host_of



@dataclass(frozen=True, slots=True)
class Exchange:
    """One captured request (and its response, if the capture has one), as plain data."""

    index: int  # position in the capture, 1-based
    view: RequestView  # ``host``: what the browser asked for; ``sticky``: the captured router cookie, if any
    response: ResponseView | None
    at: float  # when the request was sent (seconds since the epoch)
    client: str = ""  # who sent it (client address), for the cookie jar
    cookies_recorded: bool = False  # the capture lists this request's cookies (any cookie)
    cross_site: bool = False  # a browser marked it cross-site (Sec-Fetch-Site / Origin)
    live: dict | None = None  # the decision the proxy recorded in the flow, if any


@dataclass(frozen=True, slots=True)
class Skipped:
    index: int
    why: str  # never a secret: no values, only what was wrong


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    method: str
    host: str
    path: str
    params: tuple[str, ...]  # query parameter names (never values)
    decision: Decision
    status: int | None  # the captured response's status, None when it has none
    live: dict | None = None

    def as_json(self) -> dict:
        d = self.decision
        out = {"index": self.index, "method": self.method, "host": self.host, "path": self.path,
               "params": list(self.params), "provider": d.provider, "reason": d.reason.value, "org": d.org,
               "identifier": d.evidence, "forwarded_to": d.forward_to, "shadow": d.shadow, "status": self.status}
        if self.live is not None:
            out["live"] = dict(sorted(self.live.items()))
        return out


@dataclass(slots=True)
class _Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class _Jar:
    """The router's cookie per (client, host), as a browser keeps it."""

    cookies: dict[tuple[str, str], tuple[str, float, bool]] = field(default_factory=dict)  # value, expires, lax

    def set(self, client: str, host: str, header: str, now: float) -> None:
        name_value, *attrs = header.split(";")
        value = name_value.partition("=")[2].strip()
        max_age, lax = 0, True
        for a in attrs:
            k, _, v = a.strip().partition("=")
            if k.lower() == "max-age" and v.strip().lstrip("-").isdigit():
                max_age = int(v)
            elif k.lower() == "samesite":
                lax = v.strip().lower() != "none"
        self.cookies[(client, host)] = (value, now + max_age, lax)

    def get(self, client: str, host: str, now: float) -> tuple[str, bool] | None:
        hit = self.cookies.get((client, host))
        return (hit[0], hit[2]) if hit and hit[1] > now else None


def cross_site(headers, host: str) -> bool:
    """A browser marked the request cross-site (``Sec-Fetch-Site``, else an ``Origin`` on another host)."""
    site = (headers.get("sec-fetch-site") or "").strip().lower()
    if site:
        return site == "cross-site"
    origin = (headers.get("origin") or "").strip().lower()
    if not origin:
        return False
    if origin == "null":
        return True
    return host_of(origin.split("://", 1)[-1].split("/", 1)[0]) != host


def param_names(query: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k, _ in parse_qsl(query, keep_blank_values=True)))


def replay(entries: Iterable[Exchange | Skipped], m: Mapping, *, secret: bytes) -> Iterator[Row | Skipped]:
    items = list(entries)
    cookies_recorded = any(isinstance(e, Exchange) and e.cookies_recorded for e in items)
    clock = _Clock()
    store = MemoryStore(clock=clock)
    jar = _Jar()
    s = m.settings
    for ex in items:
        if isinstance(ex, Skipped):
            yield ex
            continue
        view = ex.view
        if view.host not in s.hosts:
            yield Skipped(ex.index, f"host {view.host!r} is not served by the mapping")
            continue
        if view.path.startswith(ENDPOINTS_PREFIX):
            yield Skipped(ex.index, "answered by the router itself (built-in endpoint)")
            continue
        clock.now = ex.at
        view = dataclasses.replace(view, sticky=_presented(ex, jar, cookies_recorded, secret, s.shadow))
        pending = pipeline.begin(view, m, secret)
        recalled = store.recall(pending.store_keys) if pending.keys else {}
        d = pipeline.conclude(pending, m, recalled, secret=secret, now=ex.at)
        resp = ex.response
        if resp is not None:  # the addon's response hook: learn, then the sticky cookie
            p = m.providers[d.forward_to]
            _, records = pipeline.learn(resp, p, m, d.org, secret)
            store.remember(records)
            if cookie := pipeline.sticky_cookie(d, m, secret=secret, now=ex.at):
                jar.set(ex.client, view.host, cookie, ex.at)
        yield Row(ex.index, view.method, view.host, view.path, param_names(view.query), d,
                  resp.status if resp is not None else None, ex.live)


def _presented(ex: Exchange, jar: _Jar, cookies_recorded: bool, secret: bytes, shadow: bool = False) -> str | None:
    captured = ex.view.sticky
    if captured and sticky.verify(captured, secret=secret, now=ex.at, shadow=shadow) is not None:
        return captured
    held = jar.get(ex.client, ex.view.host, ex.at)
    if held is None:
        return None
    value, lax = held
    if cookies_recorded:
        return value if captured is not None else None
    if lax and ex.cross_site and ex.view.method not in ("GET", "HEAD"):
        return None
    return value
