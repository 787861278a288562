"""Several mitmdump instances behind one auth domain, sharing one correlation store (issue 4 item 3).

The in-flight flip of ``test_mapping_changes`` across processes: a login starts through instance A,
the org is flipped in the (one, shared) mapping file, and the login finishes through instance B —
or through A after a restart. Only the shared store can route the finish back to the provider that
started it; the peers refuse anything else (a misrouted ACS or code fails at the provider).

The peers know one public URL (A's address). The IdP's auto-post form targets it; a browser whose
load balancer picks B sends the same request (same path, same body) to B's port. The router compares
host names ignoring ports, so B serves ``127.0.0.1:<B>`` under the same ``public_url``.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.stores.conftest import redis_bin, start_redis  # noqa: F401 — real redis-server fixtures

from .browser import Browser, Hop, parse_form, query_of
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .routes import route
from .steps import accepted, authorize_url, exchange_code, flip, start_saml_login
from .world import free_port


# -- instances sharing one mapping file and one store -----------------------------------------------
@pytest.fixture
def launch(start_proxy, tmp_path):
    """``launch(name, mapping, store_url, port=None)``: a mitmdump reading ``tmp_path/shared-mapping.toml``
    with ``sso_store=store_url`` and the suite's shared secret; stopped when the test ends. Pass the
    same ``mapping`` dict to every instance: they share one file."""
    shared = tmp_path / "shared-mapping.toml"

    def start(name: str, mapping: dict, store: str, *, port: int | None = None) -> Mitmdump:
        return start_proxy(
            mapping,
            port=port or free_port(),
            name=name,
            mapping_path=shared,
            extra_args=["--set", f"sso_store={store}"],
        )

    return start


def mapping_version(m: Mitmdump) -> str | None:
    return m.health().get("mapping", {}).get("version")


def change_everywhere(instances: list[Mitmdump], change, timeout: float = 6.0) -> None:
    """Applies ``change`` to the shared mapping file (through the first instance) and waits until
    every instance's health reports the new mapping version."""
    first = instances[0]
    first.update_mapping(change, timeout=timeout)
    want = mapping_version(first)
    deadline = time.monotonic() + timeout
    while True:
        got = {m.port: mapping_version(m) for m in instances}
        if all(v == want for v in got.values()):
            return
        assert time.monotonic() < deadline, f"not every instance reloaded within {timeout}s: want {want}, got {got}"
        time.sleep(0.1)


def post_acs(b: Browser, page: Hop, public_url: str, to: Mitmdump) -> Hop:
    """The IdP's cross-site POST (no cookies), sent to instance ``to``: same path and body as the form
    says, only the TCP destination differs when ``to`` is not the public URL's instance."""
    _, action, fields = parse_form(page.text)
    assert action.startswith(public_url + "/"), f"IdP posts to {action}, not to the public URL {public_url}"
    return b.request("POST", to.url + action[len(public_url) :], data=fields, send_cookies=False)


def assert_no_rejections(*providers) -> None:
    for p in providers:
        bad = [r for r in p.server.records if r.outcome.startswith("rejected")]
        assert bad == [], f"{p.name} refused: {bad}"


def full_login(via: Mitmdump, hint: str, provider: str, public_url: str) -> Hop:
    """A whole SAML login through ``via`` (start, IdP, ACS POST); returns the ACS hop."""
    b, page = start_saml_login(via, hint, provider)
    return post_acs(b, page, public_url, via)


# -- tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_login_started_on_one_instance_finishes_on_another_after_a_flip(kind, peers, launch, request, tmp_path):
    url = request.getfixturevalue("start_redis")().url if kind == "redis" else f"sqlite:///{tmp_path}/corr.db"
    mapping = peers.base_mapping()
    a = launch("A", mapping, url, port=peers.proxy_port)
    b = launch("B", mapping, url)

    # Two logins in flight through A: a legacy org, and a migrated org (the other direction).
    mega_b, mega_page = start_saml_login(a, "alice@megasoft.com", "legacy")
    newco_b, newco_page = start_saml_login(a, "bob@newcompany.com", "scalekit")

    change_everywhere([a, b], lambda m: (flip("megasoft.com", True)(m), flip("newcompany.com", False)(m)))
    for inst in (a, b):  # fresh logins follow the new mapping on both instances
        assert Browser().get(authorize_url(inst.url, login_hint="alice@megasoft.com")).peer == "scalekit"

    # megasoft: finished through B — ACS (no cookies), then the app's code exchange, both through B.
    acs = post_acs(mega_b, mega_page, peers.public_url, b)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300])
    assert route(acs) == ("legacy", "correlation")
    assert acs.location.startswith(APP_CALLBACK + "?"), acs.location
    d = b.decision_for("POST", "/login/callback")
    assert (d["provider"], d["reason"], d["org"]) == ("legacy", "correlation", "megasoft.com"), d
    r = exchange_code(b.url, query_of(acs.location)["code"])
    assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text
    assert r.headers.get("x-sso-route", "").startswith("legacy; reason=correlation"), r.headers.get("x-sso-route")

    # newcompany: its ACS path names a connection of an org now on legacy; the store says scalekit.
    acs = post_acs(newco_b, newco_page, peers.public_url, b)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    assert route(acs) == ("scalekit", "correlation")
    # the code was recorded by B; exchanged through A (by default it would go to legacy)
    code = query_of(acs.location)["code"]
    r = exchange_code(a.url, code)
    assert r.status_code == 200 and r.headers["X-Peer"] == "scalekit", r.text
    assert r.headers.get("x-sso-route", "").startswith("scalekit; reason=correlation")

    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/authorize", "/login/callback", "/oauth/token"]
    assert "/sso/v1/saml/conn_newco/acs" in [r.path for r in accepted(peers.scalekit.server.records)]
    assert_no_rejections(peers.legacy, peers.scalekit)


def test_login_survives_a_restart_with_sqlite(peers, launch, tmp_path):
    url = f"sqlite:///{tmp_path}/corr.db"
    mapping = peers.base_mapping()
    a = launch("A", mapping, url, port=peers.proxy_port)
    b, page = start_saml_login(a, "alice@megasoft.com", "legacy")

    a.stop()
    flip("megasoft.com", True)(mapping)  # flipped while A is down: the restarted A loads it
    a.start()  # same port, same DB, same secret
    assert Browser().get(authorize_url(a.url, login_hint="alice@megasoft.com")).peer == "scalekit"

    acs = post_acs(b, page, peers.public_url, a)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300])
    assert route(acs) == ("legacy", "correlation")
    r = exchange_code(a.url, query_of(acs.location)["code"])
    assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text
    assert [r.path for r in accepted(peers.legacy.server.records)] == ["/authorize", "/login/callback", "/oauth/token"]
    assert_no_rejections(peers.legacy, peers.scalekit)


def test_the_survivor_carries_on_after_kill_9(peers, launch, start_redis):
    url = start_redis().url
    mapping = peers.base_mapping()
    a = launch("A", mapping, url, port=peers.proxy_port)
    b = launch("B", mapping, url)
    mega_b, mega_page = start_saml_login(a, "alice@megasoft.com", "legacy")

    a.proc.kill()  # SIGKILL: no shutdown hooks
    a.proc.wait(5)
    change_everywhere([b], flip("megasoft.com", True))

    # the login A started finishes through B
    acs = post_acs(mega_b, mega_page, peers.public_url, b)
    assert acs.peer == "legacy" and acs.status == 302, (acs, acs.text[:300])
    assert route(acs) == ("legacy", "correlation")
    r = exchange_code(b.url, query_of(acs.location)["code"])
    assert r.status_code == 200 and r.headers["X-Peer"] == "legacy", r.text

    # and a whole fresh login through the survivor
    assert requests.get(b.url + "/.sso-router/ready", timeout=2).status_code == 200
    acs = full_login(b, "bob@newcompany.com", "scalekit", peers.public_url)
    assert acs.peer == "scalekit" and acs.status == 302, (acs, acs.text[:300])
    r = exchange_code(b.url, query_of(acs.location)["code"])
    assert r.status_code == 200 and r.headers["X-Peer"] == "scalekit", r.text
    assert_no_rejections(peers.legacy, peers.scalekit)
