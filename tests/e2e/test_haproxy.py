"""One process per core behind HAProxy (issue 15 point 3), with Debian's ``haproxy`` running the shipped
``deploy/haproxy.cfg`` (``tests/e2e/cluster.py``): concurrent SAML and OIDC logins through it; a router
SIGKILLed while logins it started are at their IdPs, every one finishing through the other router
(HAProxy replays what the dead one never answered); the restarted router taken back only once its
``/ready`` says 200; the admin endpoints judged by the browser's address that HAProxy puts in
``X-Forwarded-For``, not by HAProxy's own; and with Redis down for every router, logins still
routed by org rather than refused by HAProxy.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from tests.stores.conftest import redis_bin  # noqa: F401 — real redis-server

from .browser import query_of
from .cluster import (
    DOWN_WITHIN,
    INTERNET,
    LOGINS,
    NAMES,
    PROMETHEUS,
    START_WITHIN,
    TOKEN,
    UP_WITHIN,
    Cluster,
    cluster,  # noqa: F401 — the module's fixture
    rejections,
)
from .steps import finish_at_proxy

PER_KIND = 3  # logins of each of the four kinds in flight at once (12 browsers)


def routed(router, path_prefix: str = "") -> list[dict]:
    return [d for d in router.decisions() if d["path"].startswith(path_prefix)]


def test_concurrent_logins_through_haproxy_reach_both_routers(cluster: Cluster):
    cluster.ensure_up()
    before = {n: len(cluster.router(n).decisions()) for n in NAMES}
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda lg: cluster.login(*lg).run(), LOGINS * PER_KIND, timeout=120))
    assert len(runs) == len(LOGINS) * PER_KIND
    for n in NAMES:  # no stickiness: HAProxy spread the logins' requests over both routers
        assert len(cluster.router(n).decisions()) > before[n], f"{n} got no request"
    assert rejections(cluster.world) == []
    # HAProxy's access log: the browser's address, and never a query string (codes, states, hints)
    log = cluster.haproxy.output()
    assert re.search(rf"^{re.escape(INTERNET)}:\d+ ", log, re.M), log[-2000:]
    for secret_ish in ("code=", "state=", "login_hint", "SAMLResponse", "RelayState"):
        assert secret_ish not in log, secret_ish


def test_a_router_killed_mid_login_loses_no_login_and_comes_back_once_ready(cluster: Cluster):
    cluster.ensure_up()
    a, b = cluster.router("router1"), cluster.router("router2")
    starts_before = len(routed(a, "/authorize"))
    # 12 browsers at their IdPs, their logins started through HAProxy on either router
    with ThreadPoolExecutor(8) as pool:
        at_idp = list(pool.map(lambda lg: cluster.login(*lg).to_idp(), LOGINS * PER_KIND, timeout=120))
    assert len(routed(a, "/authorize")) > starts_before, "no login started on router1"

    a.proc.kill()  # SIGKILL: no drain, no goodbye; HAProxy still counts it UP until 2 checks fail
    a.proc.wait(5)
    killed_at = time.monotonic()
    with ThreadPoolExecutor(8) as pool:  # the returns from the IdPs, and fresh logins, meanwhile
        finishing = [pool.submit(run.back) for run in at_idp]
        fresh = [pool.submit(lambda lg=lg: cluster.login(*lg).run()) for lg in LOGINS * 2]
        for f in finishing + fresh:
            f.result(timeout=120)
    dead = cluster.haproxy.servers()["router1"]
    # the dead router was still in rotation for some of them: HAProxy replayed those on router2
    assert dead.retries + dead.redispatches > 0, (dead, f"{time.monotonic() - killed_at:.1f}s after the kill")
    assert rejections(cluster.world) == []
    acs = [d for d in routed(b) if d["method"] == "POST" and d["reason"] == "correlation"]
    assert acs, "router2 finished no correlated login"

    cluster.haproxy.wait_status("router1", "DOWN", DOWN_WITHIN)
    # restarted on its port: HAProxy takes it back only once its /ready says 200
    served_before = cluster.haproxy.servers()["router1"].responses
    a.start(timeout=START_WITHIN, wait_ready=False)
    first_ready = None
    deadline = time.monotonic() + START_WITHIN + UP_WITHIN
    while True:
        status = cluster.haproxy.servers()["router1"].status  # first HAProxy, then the router:
        ready = cluster.ready(a)  # UP seen before a 200 would be a take-back before ready
        if ready == 200 and first_ready is None:
            first_ready = time.monotonic()
        if status == "UP":
            assert first_ready is not None, f"HAProxy took router1 back while /ready said {ready}"
            break
        assert time.monotonic() < deadline, f"router1 not UP within {START_WITHIN + UP_WITHIN}s ({status})"
        time.sleep(0.1)
    starts_before = len(routed(a, "/authorize"))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda lg: cluster.login(*lg).run(), LOGINS * 2, timeout=120))
    assert len(routed(a, "/authorize")) > starts_before, "the restarted router1 got no login"
    assert cluster.haproxy.servers()["router1"].responses > served_before
    assert rejections(cluster.world) == []


def test_through_haproxy_the_admin_endpoints_judge_the_browser_not_the_balancer(cluster: Cluster):
    """Every request reaches the routers from HAProxy's 127.0.0.1; the routers judge the address
    HAProxy put in X-Forwarded-For (trusted from 127.0.0.1 only): the internet gets 404, Prometheus
    (in allow) gets 200, and an X-Forwarded-For the client wrote itself counts for nothing."""
    cluster.ensure_up()
    for path in ("/.sso-router/metrics", "/.sso-router/health", "/.sso-router/learn"):
        assert cluster.through(path, address=INTERNET).status_code == 404, path
        spoofed = cluster.through(path, address=INTERNET, **{"X-Forwarded-For": PROMETHEUS})
        assert spoofed.status_code == 404, (path, "a client's own X-Forwarded-For was believed")
        assert cluster.through(path, address=PROMETHEUS).status_code == 200, path
        with_token = cluster.through(path, address=INTERNET, Authorization=f"Bearer {TOKEN}")
        assert with_token.status_code == 200, path
    metrics = cluster.through("/.sso-router/metrics", address=PROMETHEUS)
    assert "sso_router_decisions_total" in metrics.text and metrics.headers["content-type"].startswith("text/plain")
    for address in (INTERNET, PROMETHEUS):  # /ready answers anyone, and says only ready or not
        r = cluster.through("/.sso-router/ready", address=address)
        assert r.status_code == 200 and r.json() == {"ready": True}, (address, r.text)
    assert [r for p in (cluster.world.legacy, cluster.world.scalekit) for r in p.server.records] == []


def test_with_redis_down_for_every_router_haproxy_still_routes_by_org(cluster: Cluster):
    """Redis gone for all: every router says 503 on /ready (rightly: it cannot correlate) and HAProxy
    takes them all out — yet each can still route a login by its org. The shipped config then sends
    to the routers that are running (``routers-any``) instead of answering 503 to every browser."""
    cluster.ensure_up()
    cluster.redis.kill()
    try:
        for name in NAMES:
            cluster.haproxy.wait_status(name, "DOWN", DOWN_WITHIN)
        for hint, provider in LOGINS:  # start and IdP return routed by org (the Issuer, the path)
            run = cluster.login(hint, provider).to_idp()
            back = finish_at_proxy(run.browser, run.idp, cluster.public_url)
            assert back.status == 302 and back.peer == provider, (hint, back, back.text[:300])
        legacy = cluster.login("alice@megasoft.com", "legacy").run()  # its code exchange goes to the default
        assert legacy.token.status_code == 200
        # the limit (README "When Redis stalls or goes away"): a code carries no org, so a migrated
        # org's code exchanged through the auth domain reaches default_provider, which refuses it
        run = cluster.login("bob@newcompany.com", "scalekit").to_idp()
        back = finish_at_proxy(run.browser, run.idp, cluster.public_url)
        assert back.status == 302 and back.peer == "scalekit", back
        token = cluster.exchange(query_of(back.location)["code"], "scalekit")
        assert token.headers.get("X-Peer") == "legacy" and token.status_code != 200, (token.status_code, token.text)
        assert {cluster.ready(r) for r in cluster.routers} == {503}
    finally:
        cluster.redis.start()
    cluster.wait_all_up()
