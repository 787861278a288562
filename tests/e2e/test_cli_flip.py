"""``sso-router migrate`` / ``rollback`` against a running mitmdump (CONTRACT "Command line"): the
CLI's own atomic, comment-keeping write is picked up by the proxy within two seconds, and a login
started before the flip still finishes where it started."""

from __future__ import annotations

import time

from tests.cli.conftest import run

from .browser import Browser
from .routes import route
from .steps import authorize_url, finish_at_proxy, start_saml_login

FLIP_WITHIN = 2.0  # CONTRACT: "a running proxy picks it up within two seconds"


def routed_to(px, hint: str) -> str | None:
    return Browser().get(authorize_url(px.url, login_hint=hint, prompt="login")).peer


def seconds_until_routed(px, hint: str, provider: str, *, bound: float) -> float:
    """From now until a login start for ``hint`` goes to ``provider``; fails past ``bound``."""
    t0 = time.monotonic()
    while True:
        if routed_to(px, hint) == provider:
            return time.monotonic() - t0
        took = time.monotonic() - t0
        assert took < bound, f"{hint} still not routed to {provider} {took:.2f}s after the CLI wrote the mapping"
        time.sleep(0.05)


def test_migrate_then_rollback_through_the_cli(peers, start_proxy):
    px = start_proxy()
    text = px.mapping_path.read_text()
    px.mapping_path.write_text("# the team's notes, kept by the CLI\n" + text)
    assert routed_to(px, "alice@megasoft.com") == "legacy"
    b, idp_page = start_saml_login(px, "alice@megasoft.com", "legacy")  # in flight across the flip

    r = run("migrate", "megasoft.com", "--mapping", px.mapping_path)
    assert r.returncode == 0, r.stdout + r.stderr
    took = seconds_until_routed(px, "alice@megasoft.com", "scalekit", bound=FLIP_WITHIN)
    assert px.mapping_path.read_text().startswith("# the team's notes, kept by the CLI\n")

    acs = finish_at_proxy(b, idp_page, px.url)
    assert acs.peer == "legacy" and acs.status == 302 and route(acs) == ("legacy", "correlation"), acs

    r = run("rollback", "megasoft.com", "--mapping", px.mapping_path)
    assert r.returncode == 0, r.stdout + r.stderr
    back = seconds_until_routed(px, "alice@megasoft.com", "legacy", bound=FLIP_WITHIN)
    health = px.health()["mapping"]
    assert health["last_reload"]["result"] == "ok", health
    print(f"migrate followed in {took:.2f}s, rollback in {back:.2f}s")


def test_an_unknown_org_is_refused_and_the_proxy_keeps_its_mapping(peers, start_proxy):
    px = start_proxy()
    before = px.mapping_path.read_bytes()
    version = px.health()["mapping"]["version"]
    r = run("migrate", "nosuch.example", "--mapping", px.mapping_path)
    assert r.returncode == 1 and "nosuch.example" in r.stdout + r.stderr
    assert px.mapping_path.read_bytes() == before
    assert px.health()["mapping"]["version"] == version
