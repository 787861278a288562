"""Offline replay of a capture through the pipeline, the way the proxy runs it. Pure: no files.

Each captured exchange goes ``begin`` → memory store recall → ``conclude``; its response
(if any) goes through ``learn`` into the same store. The capture's clock (each request's own
timestamp) drives store expiry and cookie lifetimes.

Cookies: each request is replayed with the router cookie it carried in the capture, and one
that carried none presents none (a second browser in the same capture is not the first one).
The proxy signed the cookies with a key the replay does not hold, so a carried cookie stands for
the one the replay set where the proxy set it: at the latest earlier exchange at which the proxy
(its recorded decision; else the replayed one) gave that host a cookie for the org the carried
cookie names. A cookie set before the capture began counts as what it says, as the proxy read
it; one that says nothing is ignored, as the proxy ignores it. Given the proxy's own key
(``proxy_key``: ``SSO_ROUTER_SECRET`` for ``explain``), a cookie that does not verify is ignored too.

Where the capture holds the proxy's own decision (``flow.metadata["sso_router"]`` in a
``mitmdump -w`` file recorded through the router), each row carries it and says which of its
fields the replay decided otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from . import pipeline, sticky
from .correlation.memory import MemoryStore
from .endpoints import PREFIX as ENDPOINTS_PREFIX
from .model import Decision, Mapping, Reason
from .view import RequestView, ResponseView

type Recorded = dict[str, Any]  # JSON-ish: a decision's ``RECORDED`` fields as a flow's metadata held them
RECORDED = ("provider", "reason", "org", "identifier", "forwarded_to", "shadow")  # a decision's fields
_SETS_COOKIE = frozenset({Reason.ORG.value, Reason.CORRELATION.value, Reason.FORCED.value})  # pipeline.sticky_cookie


@dataclass(frozen=True, slots=True)
class Exchange:
    """One captured request (and its response, if the capture has one), as plain data."""

    index: int  # position in the capture, 1-based
    view: RequestView  # ``host``: what the browser asked for; ``sticky``: the router cookie it carried, if any
    response: ResponseView | None
    at: float  # when the request was sent (seconds since the epoch)
    recorded: Recorded | None = None  # the decision the proxy recorded in the flow, if any (``RECORDED`` fields)


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
    recorded: Recorded | None = None  # the proxy's own decision, when the capture holds it

    @property
    def differs(self) -> tuple[str, ...]:
        """The fields of the recorded decision the replay decided otherwise (none without one)."""
        if self.recorded is None:
            return ()
        mine = self.replayed()
        return tuple(k for k in RECORDED if self.recorded.get(k) != mine[k])

    def replayed(self) -> dict[str, str | bool | None]:
        d = self.decision
        return {
            "provider": d.provider,
            "reason": d.reason.value,
            "org": d.org,
            "identifier": d.evidence,
            "forwarded_to": d.forward_to,
            "shadow": d.shadow,
        }

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "params": list(self.params),
            **self.replayed(),
            "status": self.status,
        }
        if self.recorded is not None:
            out["recorded"] = {k: self.recorded.get(k) for k in RECORDED}
            out["differs"] = list(self.differs)
        return out


def recorded_decision(meta: object) -> Recorded | None:
    """The decision fields of what the proxy recorded in a flow, or None when it is not one."""
    if not isinstance(meta, dict) or not all(k in meta for k in ("provider", "reason")):
        return None
    return {k: meta.get(k) for k in RECORDED}


@dataclass(slots=True)
class _Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class _Cookies:
    """The router's cookie as the replay presents it (this module's docstring)."""

    secret: bytes
    shadow: bool
    proxy_key: bool  # ``secret`` is the key the proxy signed with
    # (host, org the proxy's cookie named) -> the replay's cookie value there (None: it set none)
    set_at: dict[tuple[str, str | None], str | None] = field(default_factory=dict)

    def presented(self, ex: Exchange) -> str | None:
        carried = ex.view.sticky
        said = sticky.read_unverified(carried)
        if said is None or said.expires <= ex.at:
            return None  # not the router's cookie, or expired: the proxy ignored it too
        verified = sticky.verify(carried, secret=self.secret, now=ex.at, shadow=self.shadow) is not None
        if self.proxy_key and not verified:
            return None  # forged, or signed in another mode: the proxy ignored it
        key = (ex.view.host, said.route.org)
        if key in self.set_at:
            return self.set_at[key]
        if verified:
            return carried
        return sticky.sign(said.route, secret=self.secret, expires=said.expires, shadow=self.shadow)

    def answered(self, ex: Exchange, d: Decision, cookie: str | None) -> None:
        """After ``ex``'s response: note the cookie the replay set where the proxy set one."""
        proxy = ex.recorded
        if proxy is not None and proxy.get("reason") not in _SETS_COOKIE:
            return
        if proxy is None and cookie is None:
            return
        org = proxy.get("org") if proxy is not None else d.org
        value = cookie.split(";", 1)[0].partition("=")[2] if cookie else None
        self.set_at[(ex.view.host, org)] = value


def param_names(query: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for k, _ in parse_qsl(query, keep_blank_values=True)))


def replay(
    entries: Iterable[Exchange | Skipped], m: Mapping, *, secret: bytes, proxy_key: bool = False
) -> Iterator[Row | Skipped]:
    """``proxy_key``: ``secret`` is the key the proxy signed its cookies with (else the replay's own)."""
    clock = _Clock()
    store = MemoryStore(clock=clock)
    s = m.settings
    cookies = _Cookies(secret, s.shadow, proxy_key)
    for ex in entries:
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
        view = dataclasses.replace(view, sticky=cookies.presented(ex))
        pending = pipeline.begin(view, m, secret)
        recalled = store.recall(pending.store_keys) if pending.keys else {}
        d = pipeline.conclude(pending, m, recalled, secret=secret, now=ex.at)
        resp = ex.response
        if resp is not None:  # the addon's response hook: learn, then the sticky cookie
            p = m.providers[d.forward_to]
            _, records = pipeline.learn(resp, p, m, d.org, secret)
            store.remember(records)
            cookies.answered(ex, d, pipeline.sticky_cookie(d, m, secret=secret, now=ex.at))
        yield Row(
            ex.index,
            view.method,
            view.host,
            view.path,
            param_names(view.query),
            d,
            resp.status if resp is not None else None,
            ex.recorded,
        )
