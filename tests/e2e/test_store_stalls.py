"""A slow store never misroutes a login (issue 19 point 4), against a real ``redis-server``.

1. Two routers share one Redis, which a thread pauses (``CLIENT PAUSE 400 ALL``) every 1.5 s, and one
   mapping file. Logins (SAML and OIDC) start on one router; their orgs are flipped with ``sso-router
   migrate``/``rollback`` while the users are at their IdPs; the logins finish on either router. Every
   one finishes at the provider that started it — the peers accept only what they issued, so a login
   routed as if it had no correlation after a flip would show as a rejection.
2. A relay between a router and Redis holds every reply of one connection for 2.5 s, beyond the 2 s
   bound: the one lookup on it is routed as without correlation (said in its decision record) and
   counted as a timeout, and that one failure does not open the breaker — ``/ready`` stays 200 and
   the next correlated request is routed by its correlation.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tests.stores.conftest import redis_bin, start_redis  # noqa: F401 — real redis-server fixtures

from .browser import Browser, Hop, parse_form, query_of
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .redis_stalls import Pauser, RedisRelay
from .routes import route
from .steps import authorize_url, exchange_code
from .world import SK_APP_CALLBACK, free_port

SSO_ROUTER = str(pathlib.Path(sys.executable).with_name("sso-router"))
BOUND = 2.0  # CONTRACT: sso_store_timeout's default
HOLD = 2.5  # seconds the relay holds each reply of the chosen connection: beyond the bound
SLACK = 1.5  # a loaded 2-core box's scheduling, on top of a bound
RELOAD_WITHIN = 8.0  # both routers serve an edited mapping (the watcher polls every 0.5 s)
FLIPPED = ("megasoft.com", "acme.com")  # legacy at first, flipped back and forth (SAML, OIDC)
KINDS = (
    ("alice@megasoft.com", "megasoft.com"),
    ("bob@newcompany.com", "newcompany.com"),
    ("carol@acme.com", "acme.com"),
    ("dan@globex.com", "globex.com"),
)


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=5, proxies={"http": None}, **kw)


def store_errors(px: Mitmdump) -> dict[tuple[str, str], float]:
    text = get(px.url + "/.sso-router/metrics").text
    out = {}
    for m in re.finditer(r"^sso_router_store_errors_total\{([^}]*)\} ([0-9.eE+-]+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        out[(labels.get("operation", ""), labels.get("kind", ""))] = float(m.group(2))
    return out


def version(px: Mitmdump) -> str | None:
    return px.health()["mapping"]["version"]


def flip(mapping_path, orgs, migrated: bool, routers: list[Mitmdump]) -> None:
    """``sso-router migrate|rollback ORG`` on the shared file, then both routers serve it."""
    before = version(routers[0])
    for org in orgs:
        r = subprocess.run(
            [SSO_ROUTER, "migrate" if migrated else "rollback", org, "--mapping", str(mapping_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.monotonic() + RELOAD_WITHIN
    while True:
        got = [version(px) for px in routers]
        if got[0] != before and len(set(got)) == 1:
            return
        assert time.monotonic() < deadline, f"not reloaded everywhere within {RELOAD_WITHIN}s: {before} -> {got}"
        time.sleep(0.1)


@dataclass
class InFlight:
    """A login started on one router, waiting at its IdP."""

    hint: str
    org: str
    provider: str  # where it started
    browser: Browser
    idp: Hop
    finished: list = field(default_factory=list)  # (sent, answered) monotonic times of the returns


def start_login(via: Mitmdump, hint: str, org: str, provider: str) -> InFlight:
    b = Browser(timeout=20)
    start = b.get(authorize_url(via.url, login_hint=hint))
    assert start.status == 302 and start.peer == provider, (hint, start, start.text[:300])
    idp = b.get(start.location)
    assert idp.status in (200, 302), (hint, idp, idp.text[:300])
    return InFlight(hint, org, provider, b, idp)


def finish_on(login: InFlight, public_url: str, to: Mitmdump) -> Hop:
    """The IdP's answer, sent to router ``to``: same path and body, only the TCP destination differs
    (a balancer's choice); a browser's cookies for the auth domain go along on a redirect."""
    b, idp = login.browser, login.idp
    origin = urllib.parse.urlsplit(public_url).netloc
    b.cookies.setdefault(urllib.parse.urlsplit(to.url).netloc, {}).update(b.cookies.get(origin, {}))
    if idp.status == 200:  # auto-post: cross-site, no cookies
        _, action, fields = parse_form(idp.text)
        assert action.startswith(public_url + "/"), action
        return b.request("POST", to.url + action[len(public_url) :], data=fields, send_cookies=False)
    assert idp.location.startswith(public_url + "/"), idp.location
    return b.get(to.url + idp.location[len(public_url) :])


def finish_and_exchange(login: InFlight, public_url: str, acs_on: Mitmdump, token_on: Mitmdump) -> None:
    sent = time.monotonic()
    back = finish_on(login, public_url, acs_on)
    login.finished.append((sent, time.monotonic()))
    assert back.status == 302 and back.peer == login.provider, (login.hint, login.provider, back, back.text[:300])
    assert route(back)[0] == login.provider, back
    app = SK_APP_CALLBACK if login.provider == "scalekit" else APP_CALLBACK
    assert back.location.startswith(app + "?"), back.location
    sent = time.monotonic()
    r = exchange_code(token_on.url, query_of(back.location)["code"])
    login.finished.append((sent, time.monotonic()))
    assert r.status_code == 200 and r.headers["X-Peer"] == login.provider, (login.hint, r.status_code, r.text)


def rejections(peers) -> list:
    return [r for p in (peers.legacy, peers.scalekit) for r in p.server.records if r.outcome.startswith("rejected")]


# -- 1: pauses, flips, two routers -----------------------------------------------------------------
def test_logins_across_flips_while_redis_pauses_finish_where_they_started(peers, start_proxy, start_redis, tmp_path):
    store = start_redis()
    shared = tmp_path / "shared-mapping.toml"
    mapping = peers.base_mapping()
    a, b = (
        start_proxy(mapping, port=port, name=name, mapping_path=shared, extra_args=["--set", f"sso_store={store.url}"])
        for name, port in (("A", peers.proxy_port), ("B", free_port()))
    )
    provider = {org: ("scalekit" if mapping["orgs"][org]["migrated"] else "legacy") for _, org in KINDS}
    pauser = Pauser(store.port)
    pauser.start()
    logins: list[InFlight] = []
    try:
        for migrated in (True, False, True):
            with ThreadPoolExecutor(8) as pool:  # 2 logins of each kind, started on A
                batch = list(pool.map(lambda k: start_login(a, k[0], k[1], provider[k[1]]), KINDS * 2, timeout=120))
            flip(shared, FLIPPED, migrated, [a, b])
            for org in FLIPPED:
                provider[org] = "scalekit" if migrated else "legacy"
            for via in (a, b):  # a login starting now follows the new mapping on either router
                assert start_login(via, "eve@megasoft.com", "megasoft.com", provider["megasoft.com"])
            with ThreadPoolExecutor(8) as pool:  # back on either router; the code exchanged on the other
                pairs = [(b, a) if i % 2 == 0 else (a, b) for i in range(len(batch))]
                list(
                    pool.map(
                        lambda lp: finish_and_exchange(lp[0], peers.public_url, *lp[1]),
                        zip(batch, pairs, strict=False),
                        timeout=120,
                    )
                )
            logins += batch
    finally:
        pauser.stop()
    assert rejections(peers) == []
    assert len(logins) == 24 and len(pauser.windows) >= 4, (len(logins), len(pauser.windows))
    stalled = [lg for lg in logins if any(pauser.overlaps(*f) for f in lg.finished)]
    assert len(stalled) >= 3, f"only {len(stalled)} returns were sent while Redis was paused"
    for px in (a, b):  # no call took longer than the bound; the breaker never opened
        assert store_errors(px) == {}, store_errors(px)
        assert "unavailable" not in px.output(), px.output()


# -- 2: one connection slower than the bound -------------------------------------------------------
def test_one_reply_beyond_the_bound_is_counted_and_is_not_an_outage(peers, start_proxy, start_redis):
    store = start_redis()
    relay = RedisRelay(store.port).start()
    try:
        px = start_proxy(extra_args=["--set", f"sso_store={relay.url}"])
        slow = start_login(px, "alice@megasoft.com", "megasoft.com", "legacy")
        later = start_login(px, "alice@megasoft.com", "megasoft.com", "legacy")
        assert store_errors(px) == {}

        relay.hold_next(b"MGET", HOLD)  # the next lookup's connection: every reply 2.5 s late
        with ThreadPoolExecutor(1) as pool:
            sent = time.monotonic()
            acs_f = pool.submit(finish_on, slow, peers.public_url, px)
            readies = []
            while not acs_f.done():  # the breaker must not open on this one failure
                readies.append(get(px.url + "/.sso-router/ready").status_code)
                time.sleep(0.2)
            acs, took = acs_f.result(timeout=30), time.monotonic() - sent
        assert relay.chosen == 1
        # it waited for its lookup up to the bound, then was routed as with no correlation: by its
        # Issuer's org, which is where it started (no flip here), so the login still succeeds
        assert BOUND - 0.1 <= took < BOUND + SLACK, f"the ACS took {took:.2f}s; the bound is {BOUND}s"
        assert acs.status == 302 and acs.peer == "legacy" and route(acs) == ("legacy", "org"), (acs, acs.text[:300])
        d = px.decision_for("POST", "/login/callback")
        assert (d["provider"], d["reason"], d["org"]) == ("legacy", "org", "megasoft.com"), d
        assert "correlation not checked: store timeout" in d["identifier"], d
        assert store_errors(px) == {("recall", "timeout"): 1.0}, store_errors(px)

        assert set(readies) == {200} and len(readies) >= 3, readies
        assert get(px.url + "/.sso-router/ready").status_code == 200
        assert px.health()["store"]["ok"] is True
        # the next correlated request is routed by its correlation, at once
        r = exchange_code(px.url, query_of(acs.location)["code"])
        assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text
        assert r.headers["x-sso-route"].startswith("legacy; reason=correlation"), r.headers["x-sso-route"]
        back = finish_on(later, peers.public_url, px)
        assert back.status == 302 and route(back) == ("legacy", "correlation"), back
        assert store_errors(px) == {("recall", "timeout"): 1.0}, store_errors(px)
        assert "unavailable" not in px.output(), px.output()
        assert rejections(peers) == []
    finally:
        relay.stop()
