"""A shared correlation store that is down or hangs never stalls the proxy (issue 9 item 7).

Real ``redis-server`` processes on 127.0.0.1 (the store suite's fixtures): one that is not there yet
when mitmdump starts, and one stopped with SIGSTOP mid-run (connections accepted, never answered).
While the store is gone, requests that name an org are routed by it, requests that would need a
correlation are routed as with none and counted, and ``/ready`` is 503; once it is back, ``/ready``
is 200 within 10 s and correlations work again.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.stores.conftest import redis_bin, start_redis  # noqa: F401 — real redis-server fixtures

from .browser import Browser, Hop, parse_form, query_of
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .routes import route
from .steps import accepted, authorize_url, exchange_code, finish_at_proxy, flip, login, start_saml_login
from .world import free_port

READY_WITHIN = 10.0  # CONTRACT: /ready is 200 again within 10 s of the store coming back


def get(url: str, timeout: float = 3.0) -> requests.Response:
    return requests.get(url, timeout=timeout, proxies={"http": None, "https": None})


def ready_status(px: Mitmdump) -> tuple[int, dict]:
    r = get(px.url + "/.sso-router/ready", timeout=2)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"raw": r.text}


def wait_ready(px: Mitmdump, want: int, within: float, *, why: str = "") -> float:
    """Polls /ready until it answers ``want``; returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while True:
        assert px.proc is not None and px.proc.poll() is None, f"mitmdump exited:\n{px.output()}"
        try:
            last = ready_status(px)
            if last[0] == want:
                return time.monotonic() - t0
        except requests.RequestException as exc:
            last = repr(exc)
        assert time.monotonic() - t0 < within, f"/ready not {want} within {within}s {why}(last: {last})"
        time.sleep(0.1)


def wait_serving(px: Mitmdump, timeout: float = 20.0) -> None:
    """For a mitmdump started with ``wait_ready=False`` whose /ready is expected to be 503."""
    px.wait_serving(timeout)


def store_errors(px: Mitmdump) -> float:
    text = get(px.url + "/.sso-router/metrics").text
    total = 0.0
    for m in re.finditer(r"^sso_router_store_errors_total(?:\{[^}]*\})? ([0-9.eE+-]+)$", text, re.M):
        total += float(m.group(1))
    return total


# -- tests -----------------------------------------------------------------------------------------
def test_redis_down_at_startup_then_up(peers, start_proxy, start_redis):
    port = free_port()  # nothing listens here yet
    px = start_proxy(extra_args=["--set", f"sso_store=redis://127.0.0.1:{port}/0"], wait_ready=False)
    wait_serving(px)

    # started anyway, with a WARNING (never an ERROR record: mitmdump would have exited)
    out = px.output()
    assert "not reachable" in out, out
    assert "Error logged during startup" not in out and "ERROR" not in out, out
    status, body = ready_status(px)
    assert status == 503, (status, body)
    health = px.health()
    assert health["store"]["ok"] is False, health

    # logins that name their org go on: the ACS is routed by its Issuer
    for hint, provider in (("alice@megasoft.com", "legacy"), ("bob@newcompany.com", "scalekit")):
        lg = login(px.url, login_hint=hint)
        assert lg.start.peer == provider and route(lg.start)[1] == "org", lg.start
        assert lg.callback.peer == provider and lg.callback.status == 302, (lg.callback, lg.callback.text[:300])
        assert route(lg.callback) == (provider, "org"), lg.callback
    assert ready_status(px)[0] == 503
    assert store_errors(px) > 0

    # Redis comes up on the configured port: /ready 200 within 10 s, correlations work again
    start_redis(port)
    took = wait_ready(px, 200, READY_WITHIN, why="after redis came up ")
    assert px.health()["store"]["ok"] is True, px.health()

    b, page = start_saml_login(px, "alice@megasoft.com", "legacy")
    px.update_mapping(flip("megasoft.com", True))
    acs = finish_at_proxy(b, page, px.url)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300], f"ready after {took:.1f}s")
    assert route(acs) == ("legacy", "correlation")
    assert acs.location.startswith(APP_CALLBACK + "?")
    r = exchange_code(px.url, query_of(acs.location)["code"])
    assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text
    assert px.proc.poll() is None
    rejected = [r for p in (peers.legacy, peers.scalekit) for r in p.server.records if r.outcome.startswith("rejected")]
    assert rejected == [], rejected


BOUND = 2.0  # CONTRACT: sso_store_timeout's default
SLACK = 1.5  # seconds of scheduling on a loaded 2-core CI box, on top of what a bound allows
NO_WAIT = 1.0  # a request that needs no store answer: far below any store bound, well above a busy box's jitter


def test_hung_redis_never_stalls_the_proxy(peers, start_proxy, start_redis):
    """SIGSTOP: connections accepted, nothing answered. Flows that need no store go on at once; a
    request with a correlation candidate waits its bound, then is routed as with none (counted); only
    3 failures in a row make the store unavailable, and then org-named logins go on at once too."""
    redis = start_redis()
    px = start_proxy(extra_args=["--set", f"sso_store={redis.url}"])
    # a login in flight whose ACS would be routed by its correlation
    b, page = start_saml_login(px, "alice@megasoft.com", "legacy")
    assert ready_status(px)[0] == 200
    errors_before = store_errors(px)

    def timed(fn) -> tuple[float, Hop]:
        t = time.monotonic()
        hop = fn()
        return time.monotonic() - t, hop

    def needs_correlation() -> Hop:
        _, action, fields = parse_form(page.text)
        return b.request("POST", action, data=fields, send_cookies=False)

    def org_login_start(hint: str) -> Hop:
        return Browser(timeout=10).get(authorize_url(px.url, login_hint=hint))

    redis.pause()
    try:
        with ThreadPoolExecutor(6) as pool:
            acs_f = pool.submit(timed, needs_correlation)
            starts_f = [pool.submit(timed, lambda h=h: org_login_start(h)) for h in ("bob@newcompany.com",) * 2]
            free_f = [
                pool.submit(timed, lambda p=p: Browser(timeout=5).get(px.url + p))
                for p in ("/keys", "/keys", "/.well-known/jwks.json")
            ]
            free = [f.result(timeout=15) for f in free_f]
            acs_took, acs = acs_f.result(timeout=15)
            starts = [f.result(timeout=15) for f in starts_f]

        for took, hop in free:  # no candidate, nothing to teach: never waits on the hung store
            assert hop.status == 200 and took < NO_WAIT, (hop, f"{took:.2f}s while the store hangs")
        # the ACS waited for its lookup, then was routed as with no correlation: by its Issuer's org
        assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300])
        assert route(acs) == ("legacy", "org"), acs
        assert acs_took < BOUND + SLACK, f"ACS took {acs_took:.2f}s; the bound is {BOUND}s"
        d = px.decision_for("POST", "/login/callback")
        assert (d["provider"], d["reason"], d["org"]) == ("legacy", "org", "megasoft.com"), d
        assert "correlation not checked: store timeout" in d["identifier"], d
        for took, hop in starts:  # a lookup (the app's state) and a held write: each within its bound
            assert hop.status == 302 and hop.peer == "scalekit" and route(hop) == ("scalekit", "org"), hop
            assert took < 2 * BOUND + SLACK, f"login start took {took:.2f}s"
        assert store_errors(px) >= errors_before + 3

        # 3 failures in a row: unavailable — /ready 503, lookups skipped, writes not waited for
        wait_ready(px, 503, BOUND + SLACK, why="after 3 failed calls ")
        assert px.health()["store"]["ok"] is False
        for hint, provider in (("bob@newcompany.com", "scalekit"), ("alice@megasoft.com", "legacy")):
            took, hop = timed(lambda h=hint: org_login_start(h))
            assert hop.status == 302 and hop.peer == provider and route(hop) == (provider, "org"), hop
            assert took < NO_WAIT, f"org-named login start took {took:.2f}s with the store unavailable"
        assert px.proc.poll() is None
    finally:
        redis.resume()  # SIGCONT, even when an assertion failed (the fixture also does it on stop)

    took = wait_ready(px, 200, READY_WITHIN, why="after SIGCONT ")
    since = px.mark()
    b, page = start_saml_login(px, "alice@megasoft.com", "legacy")
    acs = finish_at_proxy(b, page, px.url)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300], f"ready after {took:.1f}s")
    assert route(acs) == ("legacy", "correlation"), acs
    d = px.decision_for("POST", "/login/callback", since=since)
    assert (d["provider"], d["reason"]) == ("legacy", "correlation"), d
    assert [r.path for r in accepted(peers.legacy.server.records)].count("/login/callback") == 2


SHORT = 0.5  # an sso_store_timeout set on the command line, a quarter of the default


def test_store_timeout_set_on_the_command_line_bounds_a_hung_redis(peers, start_proxy, start_redis):
    """``--set sso_store_timeout=0.5`` is the bound a lookup waits on a hung (SIGSTOPped) Redis: the
    ACS that needs its correlation is answered after about 0.5 s, not the default 2 s, and routed as
    with no correlation."""
    redis = start_redis()
    px = start_proxy(extra_args=["--set", f"sso_store={redis.url}", "--set", f"sso_store_timeout={SHORT}"])
    b, page = start_saml_login(px, "alice@megasoft.com", "legacy")
    _, action, fields = parse_form(page.text)
    redis.pause()
    try:
        t = time.monotonic()
        acs = b.request("POST", action, data=fields, send_cookies=False)
        took = time.monotonic() - t
    finally:
        redis.resume()
    assert acs.peer == "legacy" and acs.status == 302 and route(acs) == ("legacy", "org"), (acs, acs.text[:300])
    assert "correlation not checked: store timeout" in px.decision_for("POST", "/login/callback")["identifier"]
    # it waited on the store for the bound set, not for the default (SHORT + SLACK == BOUND)
    assert took >= SHORT * 0.9, f"ACS took {took:.2f}s: it never waited on the hung store"
    assert took < SHORT + SLACK, f"ACS took {took:.2f}s with sso_store_timeout={SHORT}: the default {BOUND}s bound?"
