"""The canary (``[router.canary]``, issue 16 points 3 and 4) through the real mitmdump and the suite's
providers: an org migrated by ``sso-router migrate`` whose Scalekit connection holds the wrong
certificate for its IdP (every ACS post refused) is rolled back by the router within the window —
the next login lands at legacy, other orgs are untouched, the mapping file keeps its comments; a
healthy migrated org under continuous logins is never rolled back; and two instances sharing a real
redis-server roll back once, with outcome counts summed over both."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest

from tests.stores.conftest import redis_bin, start_redis  # noqa: F401 — real redis-server fixtures

from .browser import parse_form
from .figures import (
    HEADER,
    MEGASOFT_NOTE,
    login_counts,
    metric,
    orgs,
    token_counts,
    wait_page,
    write_commented,
    wrong_idp_certificate,
)
from .peers.provider import APP_CALLBACK
from .proxy import REPO, Mitmdump
from .steps import exchange_code, login, start_saml_login
from .world import free_port

SSO_ROUTER = pathlib.Path(sys.executable).with_name("sso-router")
FLUSH = 5.0  # figures reach the store within a second; generous for a loaded 2-core box
WINDOW = 60  # the canary's window in the rollback tests


def canary_mapping(world, **canary) -> dict:
    m = world.base_mapping()
    m["router"]["canary"] = {"enabled": True, "window": WINDOW, "min_attempts": 3, "max_failure_ratio": 0.5, **canary}
    return m


def migrate(proxy: Mitmdump, org: str) -> None:
    """A person's ``sso-router migrate ORG``, then wait until the router has seen the flip."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    out = subprocess.run(
        [str(SSO_ROUTER), "migrate", org, "--mapping", str(proxy.mapping_path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    wait_page(proxy, org, lambda p: p["migrated"] and p["migrated_since"] is not None, FLUSH)


def saml_login(proxy: Mitmdump, hint: str, provider: str, *, tamper: bool = False):
    """A whole SAML login through ``proxy``: the ACS hop (``tamper``: a RelayState the provider did not send)."""
    b, page = start_saml_login(proxy, hint, provider)
    _, action, fields = parse_form(page.text)
    assert action.startswith(proxy.url + "/"), action
    if tamper:
        fields = {**fields, "RelayState": "not-the-one-sent"}
    return b.request("POST", action, data=fields, send_cookies=False)


def rollbacks(*proxies: Mitmdump) -> list[dict]:
    return [d for p in proxies for d in p.decisions() if d.get("event") == "canary_rollback"]


def test_a_failing_migration_is_rolled_back_within_the_window(peers, start_proxy, tmp_path):
    px = start_proxy(canary_mapping(peers))
    original = write_commented([px], px.mapping)
    for _ in range(2):  # megasoft logs in fine at legacy: the baseline to go back to
        acs = saml_login(px, "alice@megasoft.com", "legacy")
        assert acs.status == 302 and acs.location.startswith(APP_CALLBACK + "?"), acs
    wait_page(px, "megasoft.com", lambda p: login_counts(p, "legacy") == (2, 0), FLUSH)

    migrate(px, "megasoft.com")
    flipped_at = orgs(px, "megasoft.com")["migrated_since"]
    assert "migrated = true" + MEGASOFT_NOTE in px.mapping_path.read_text()
    with wrong_idp_certificate(peers, peers.scalekit, "conn_megasoft", "megasoft", tmp_path):
        for _ in range(3):
            acs = saml_login(px, "alice@megasoft.com", "scalekit")
            assert acs.status == 403 and acs.peer == "scalekit", acs  # Scalekit cannot verify the Response
            assert "SAML response refused" in acs.text

        page = wait_page(px, "megasoft.com", lambda p: p["canary"]["state"] == "rolled_back", 15)
    rb = page["canary"]["last_rollback"]
    assert rb["at"] - flipped_at < WINDOW and rb["flip_since"] == flipped_at, (rb, flipped_at)
    assert (rb["provider"], rb["stage"], rb["failures"], rb["attempts"], rb["window"]) == (
        "scalekit",
        "login",
        3,
        3,
        WINDOW,
    )
    assert "3 of 3 logins failed at scalekit" in page["canary"]["reason"]
    assert page["provider"] == "legacy" and not page["migrated"]
    assert px.mapping_path.read_text() == original  # the same file as before the flip: comments, layout

    lines = rollbacks(px)
    assert len(lines) == 1, lines
    assert {k: lines[0][k] for k in ("event", "org", "failures", "attempts", "window")} == {
        "event": "canary_rollback",
        "org": "megasoft.com",
        "failures": 3,
        "attempts": 3,
        "window": WINDOW,
    }
    assert metric(px, "sso_router_canary_rollbacks_total") == 1
    assert "canary rolled org megasoft.com back: 3 of 3 logins failed at scalekit" in px.output()

    # the org's next login succeeds at legacy (the page said rolled_back: this instance's mapping has the
    # rollback in force); newcompany (migrated all along) is untouched
    back = login(px.url, login_hint="alice@megasoft.com")
    assert back.callback.status == 302 and back.code and back.callback.peer == "legacy", back.callback
    assert exchange_code(px.url, back.code).status_code == 200
    newco = login(px.url, login_hint="bob@newcompany.com")
    assert newco.callback.peer == "scalekit" and newco.code, newco.callback
    assert orgs(px, "newcompany.com")["canary"]["state"] not in ("rolled_back", "rollback")
    text = px.mapping_path.read_text()
    assert text.startswith(HEADER) and "migrated = false" + MEGASOFT_NOTE in text
    assert sorted(o["org"] for o in orgs(px)["orgs"] if o["migrated"]) == ["globex.com", "newcompany.com"]
    out = subprocess.run(
        [str(SSO_ROUTER), "status", "--url", px.url],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("rolled back by the canary · 1 org"))
    assert lines[at + 2].split()[0] == "megasoft.com" and lines[at + 2].split()[4:] == [
        "3",
        "3",
        "scalekit",
        "(login)",
    ], out.stdout
    time.sleep(3)  # a check or two later: still one rollback, no flip forward
    assert len(rollbacks(px)) == 1 and metric(px, "sso_router_canary_rollbacks_total") == 1
    assert "migrated = false" + MEGASOFT_NOTE in px.mapping_path.read_text()


def test_a_healthy_migration_under_continuous_logins_is_never_rolled_back(peers, start_proxy):
    window = 8
    px = start_proxy(canary_mapping(peers, window=window))
    assert saml_login(px, "alice@megasoft.com", "legacy").status == 302  # a baseline: a rollback could happen
    migrate(px, "megasoft.com")
    flipped_at = orgs(px, "megasoft.com")["migrated_since"]
    made = failed = 0
    while time.time() < flipped_at + window + 3:  # logins all through the window, and past its end
        bad = made == 1  # one refused login (1 of 2 is not above 50%; then ever less)
        acs = saml_login(px, "alice@megasoft.com", "scalekit", tamper=bad)
        assert acs.status == (403 if bad else 302), acs
        made, failed = made + 1, failed + bad
    assert made >= 5, made
    page = wait_page(
        px,
        "megasoft.com",
        lambda p: p["canary"]["state"] == "passed" and sum(login_counts(p, "scalekit")) == made,
        FLUSH,
    )
    assert login_counts(page, "scalekit") == (made - failed, failed)
    assert page["since_flip"]["scalekit"]["login"] == {"success": made - failed, "failure": failed}
    assert page["migrated"] and page["provider"] == "scalekit" and page["canary"]["last_rollback"] is None
    assert "migrated = true" in px.mapping_path.read_text().split('[orgs."megasoft.com"]')[1].split("\n[")[0]
    assert rollbacks(px) == [] and metric(px, "sso_router_canary_rollbacks_total") == 0


@pytest.fixture
def pair(peers, start_proxy, start_redis, tmp_path):
    """Two instances behind one auth domain: one mapping file, one redis-server."""
    url = start_redis().url
    mapping = canary_mapping(peers, min_attempts=4)  # the four failing logins below all happen before any verdict
    shared = tmp_path / "shared-mapping.toml"
    extra = ["--set", f"sso_store={url}"]
    a = start_proxy(mapping, port=peers.proxy_port, name="A", mapping_path=shared, extra_args=extra)
    b = start_proxy(mapping, port=free_port(), name="B", mapping_path=shared, extra_args=extra)
    return a, b


def post_to(b_or_a: Mitmdump, public_url: str, hint: str, provider: str, via: Mitmdump):
    """A SAML login started through ``via``, its IdP's POST sent to instance ``b_or_a`` (the balancer's pick)."""
    b, page = start_saml_login(via, hint, provider)
    _, action, fields = parse_form(page.text)
    assert action.startswith(public_url + "/"), action
    return b.request("POST", b_or_a.url + action[len(public_url) :], data=fields, send_cookies=False)


def test_two_instances_sharing_redis_roll_back_once(peers, pair, tmp_path):
    a, b = pair
    write_commented([a, b], a.mapping)
    for via in (a, b):  # one good legacy login through each instance
        acs = post_to(via, peers.public_url, "alice@megasoft.com", "legacy", via)
        assert acs.status == 302 and acs.peer == "legacy", acs
    migrate(a, "megasoft.com")
    wait_page(b, "megasoft.com", lambda p: p["migrated_since"] is not None, FLUSH)
    with wrong_idp_certificate(peers, peers.scalekit, "conn_megasoft", "megasoft", tmp_path):
        for via, to in ((a, a), (b, b), (a, b), (b, a)):  # four failing logins, over both instances
            acs = post_to(to, peers.public_url, "alice@megasoft.com", "scalekit", via)
            assert acs.status == 403 and acs.peer == "scalekit", acs
        wait_page(a, "megasoft.com", lambda p: p["canary"]["state"] == "rolled_back", 15)
        wait_page(b, "megasoft.com", lambda p: p["canary"]["state"] == "rolled_back", 15)
    time.sleep(5)  # both instances have run several checks since

    lines = rollbacks(a, b)
    assert len(lines) == 1, lines  # one rollback, by one of them
    assert (lines[0]["org"], lines[0]["failures"], lines[0]["attempts"]) == ("megasoft.com", 4, 4), lines
    assert metric(a, "sso_router_canary_rollbacks_total") + metric(b, "sso_router_canary_rollbacks_total") == 1
    assert sum("canary rolled org megasoft.com back" in p.output() for p in (a, b)) == 1

    for via in (a, b):  # the next login, through either, is at legacy again
        acs = post_to(via, peers.public_url, "alice@megasoft.com", "legacy", via)
        assert acs.status == 302 and acs.peer == "legacy", acs
    code = acs.location.split("code=", 1)[1].split("&", 1)[0]
    assert exchange_code(a.url, code).status_code == 200  # recorded by B, exchanged through A

    # what each instance answers is the sum over both: 2 + 2 at legacy, 4 failed at scalekit, 1 exchange
    for p in (a, b):
        page = wait_page(
            p,
            "megasoft.com",
            lambda pg: login_counts(pg, "legacy") == (4, 0) and token_counts(pg, "legacy") == (1, 0),
            FLUSH,
        )
        assert login_counts(page, "scalekit") == (0, 4)
        assert page["figures"] == "summed over every instance sharing the store"
        assert page["canary"]["last_rollback"]["failures"] == 4
    assert "migrated = false" + MEGASOFT_NOTE in a.mapping_path.read_text()
