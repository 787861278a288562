"""The router's own endpoints are not for the internet (issue 13 point 7), and its control header
stays home (point 8), through a real mitmdump.

``/.sso-router/ready`` answers anyone, saying only ready or not; ``health`` and ``metrics`` answer
only clients in ``[router.admin] allow`` or with ``Authorization: Bearer <sso_admin_token>`` — anyone
else gets the 404 of a path that does not exist, and nothing is forwarded. Behind a trusted proxy
(``trusted_proxies``) the client is the address the proxy put in ``X-Forwarded-For``, for ``allow`` and
for a provider's ``client_ip_header`` alike; from anywhere else that header means nothing.
"""

from __future__ import annotations

import pytest
import requests

from .routes import route
from .steps import login

TOKEN = "admin-token-3b8e1f"
ADMIN_PATHS = ("/.sso-router/health", "/.sso-router/metrics")


def get(px, path: str, **headers: str) -> requests.Response:
    return requests.get(px.url + path, headers=headers, timeout=10, allow_redirects=False)


def forwarded(peers) -> list:
    return [r for p in (peers.legacy, peers.scalekit) for r in p.server.records]


def test_outside_allow_and_without_the_token_the_admin_endpoints_do_not_exist(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["admin"] = {"allow": ["192.0.2.0/24"]}  # loopback (the test) is not allowed
    px = start_proxy(mapping, extra_args=["--set", f"sso_admin_token={TOKEN}"])
    peers.clear()
    unknown = get(px, "/.sso-router/no-such-endpoint", Authorization=f"Bearer {TOKEN}")
    for path in ADMIN_PATHS:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            r = get(px, path, **headers)
            assert (r.status_code, r.text) == (unknown.status_code, unknown.text) == (404, unknown.text), (
                path,
                headers,
            )
        r = get(px, path, Authorization=f"Bearer {TOKEN}")
        assert r.status_code == 200, (path, r.status_code)
    assert "sso_router_decisions_total" in get(px, "/.sso-router/metrics", Authorization=f"Bearer {TOKEN}").text
    ready = get(px, "/.sso-router/ready")
    assert ready.status_code == 200 and ready.json() == {"ready": True}
    assert forwarded(peers) == []  # not one of these reached a provider


def test_the_admin_token_comes_from_the_environment_too(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["admin"] = {"allow": []}
    px = start_proxy(mapping, env={"SSO_ROUTER_ADMIN_TOKEN": TOKEN})
    assert get(px, "/.sso-router/health").status_code == 404
    assert get(px, "/.sso-router/health", Authorization=f"Bearer {TOKEN}").status_code == 200


def test_loopback_is_allowed_by_default(peers, start_proxy):
    px = start_proxy()
    for path in ADMIN_PATHS:
        assert get(px, path).status_code == 200


@pytest.fixture
def behind_a_balancer(peers, start_proxy):
    """The test stands for a balancer on 127.0.0.1 that sets X-Forwarded-For."""
    mapping = peers.base_mapping()
    mapping["router"]["admin"] = {"allow": ["203.0.113.0/24"], "trusted_proxies": ["127.0.0.1/32"]}
    mapping["providers"]["legacy"]["client_ip_header"] = "True-Client-IP"
    return start_proxy(mapping)


@pytest.mark.parametrize(
    "xff, admitted",
    [
        ("203.0.113.7", True),  # Prometheus, on an allowed address, through the balancer
        ("198.51.100.9", False),  # a browser on the internet
        ("203.0.113.7, 198.51.100.9", False),  # the browser claims an allowed address; the balancer appended its own
        ("", False),  # no header: the balancer itself (127.0.0.1), not in allow
        ("not-an-address", False),
    ],
)
def test_behind_a_trusted_proxy_the_forwarded_address_is_judged(behind_a_balancer, xff, admitted):
    headers = {"X-Forwarded-For": xff} if xff else {}
    for path in ADMIN_PATHS:
        assert get(behind_a_balancer, path, **headers).status_code == (200 if admitted else 404), (path, xff)


def test_behind_a_trusted_proxy_the_provider_gets_the_browsers_address(peers, behind_a_balancer):
    lg = login(behind_a_balancer.url, login_hint="alice@megasoft.com", headers={"X-Forwarded-For": "198.51.100.9"})
    assert lg.start.peer == "legacy"
    got = [r.headers.get("true-client-ip") for r in peers.legacy.server.records if r.path == "/authorize"]
    assert got == ["198.51.100.9"], got


def test_forwarded_for_from_an_untrusted_peer_means_nothing(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["admin"] = {"allow": ["203.0.113.0/24"]}  # no trusted_proxies
    mapping["providers"]["legacy"]["client_ip_header"] = "True-Client-IP"
    px = start_proxy(mapping)
    assert get(px, "/.sso-router/metrics", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 404
    login(px.url, login_hint="alice@megasoft.com", headers={"X-Forwarded-For": "203.0.113.7"})
    got = [r.headers.get("true-client-ip") for r in peers.legacy.server.records if r.path == "/authorize"]
    assert got == ["127.0.0.1"], got


@pytest.mark.parametrize("secret", ["", "s3cret-force-Value"], ids=["yes", "with force_header_secret"])
def test_the_force_header_is_removed_before_forwarding(peers, start_proxy, secret):
    mapping = peers.base_mapping()
    if secret:
        mapping["router"]["force_header_secret"] = secret
    px = start_proxy(mapping)
    peers.clear()
    value = secret or "yes"
    lg = login(px.url, headers={"x-force-sk-route": value}, login_hint="alice@megasoft.com")
    assert lg.start.peer == "scalekit" and route(lg.start) == ("scalekit", "forced")
    login(px.url, headers={"X-Force-SK-Route": "no"}, login_hint="alice@megasoft.com")  # any value, any case
    records = forwarded(peers)
    assert len(records) >= 4
    for r in records:
        assert "x-force-sk-route" not in r.headers, r
        assert value not in " ".join(r.headers.values()), r
