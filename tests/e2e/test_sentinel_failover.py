"""Redis Sentinel under the router (issue 15 point 5): ``sso_store=redis+sentinel://…`` with a
primary, a replica and three sentinels (Debian's ``redis-server`` and ``redis-sentinel``).

SAML logins are left at their IdP, both orgs are flipped (so only the correlation can send each
ACS post back to the provider that started it), and the primary is SIGKILLed. ``/ready`` goes 503
and comes back to 200 by itself once the sentinels promote the replica, the router is never
restarted, and every login finishes at the provider that started it.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests

from tests.stores.conftest import failover_group, redis_bin, sentinel_bin  # noqa: F401 — real Redis + Sentinel

from .browser import parse_form
from .steps import accepted, finish_at_proxy, flip, start_saml_login

pytestmark = pytest.mark.slow


def ready(px) -> int:
    try:
        return requests.get(f"{px.url}/.sso-router/ready", timeout=2, proxies={"http": None}).status_code
    except requests.RequestException:
        return 0


def wait_ready(px, want: int, within: float, why: str) -> None:
    deadline = time.monotonic() + within
    while (got := ready(px)) != want:
        assert px.proc.poll() is None, f"mitmdump exited:\n{px.output()}"
        assert time.monotonic() < deadline, f"/ready not {want} within {within}s {why} (last: {got})"
        time.sleep(0.1)


def test_logins_in_flight_finish_where_they_started_across_a_failover(failover_group, start_proxy, peers):
    px = start_proxy(extra_args=["--set", f"sso_store={failover_group.url()}"])
    pid = px.proc.pid
    assert px.health()["store"]["url"].startswith("redis+sentinel://127.0.0.1:")
    in_flight = [(start_saml_login(px, f"user{i}@megasoft.com", "legacy"), "legacy") for i in range(3)]
    in_flight += [(start_saml_login(px, f"user{i}@newcompany.com", "scalekit"), "scalekit") for i in range(3)]
    px.update_mapping(lambda m: (flip("megasoft.com", True)(m), flip("newcompany.com", False)(m)))

    old = failover_group.kill_primary()
    wait_ready(px, 503, 15, "after the primary was killed")
    new = failover_group.wait_promoted(old)
    assert new == failover_group.replica.port
    wait_ready(px, 200, 20, "after the replica was promoted")
    assert px.proc.poll() is None and px.proc.pid == pid  # no restart

    for (browser, idp_page), provider in in_flight:
        done = finish_at_proxy(browser, idp_page, px.url)
        assert done.status == 302 and done.peer == provider, (done, done.text[:300])
        d = px.decision_for("POST", urllib.parse.urlsplit(parse_form(idp_page.text)[1]).path)
        assert (d["provider"], d["reason"]) == (provider, "correlation"), d
    assert len(accepted(peers.legacy.server.seen("/login/callback"))) == 3
    assert len(accepted(peers.scalekit.server.seen("/sso/v1/saml/"))) == 3
    assert peers.scalekit.server.seen("/login/callback") == [] and peers.legacy.server.seen("/sso/v1/") == []
