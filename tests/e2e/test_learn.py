"""``sso-router learn`` on what real logins through mitmdump left in the decision log.

megasoft.com is mapped the way an Auth0 import leaves it: connections and org ids, **no IdP
entity id** (Auth0 never stores it). Its IdP-initiated logins therefore name no org. One
SP-initiated login (routed by correlation) shows the router the IdP's Issuer; ``learn`` proposes
it (from the log and from the running router), ``--apply`` merges it, and the IdP-initiated login
then routes by Issuer — to legacy, and to scalekit once the org is migrated."""

from __future__ import annotations

import time

from tests.cli.conftest import run

from .browser import Browser
from .routes import route
from .steps import login
from .world import MEGASOFT_IDP


def auth0_shaped(mapping: dict) -> dict:
    del mapping["orgs"]["megasoft.com"]["idp_entity_ids"]
    return mapping


def wait_reloaded(px, before: str, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if px.health()["mapping"]["version"] != before:
            return
        time.sleep(0.2)
    raise AssertionError(f"mapping not reloaded: {px.health()}")


def idp_initiated(peers, acs: str = "") -> object:
    b = Browser()
    page = b.get(
        peers.idp.idp_init_url("megasoft", peers.sp_entity["megasoft"], acs=acs, user="temp@contractor.example")
    )  # a NameID domain that names no org
    assert page.status == 200, page.text
    return b.submit_form(page)


def test_learned_issuer_routes_idp_initiated_logins_after_apply(peers, start_proxy):
    px = start_proxy(auth0_shaped(peers.base_mapping()))
    peers.legacy.allow_unsolicited = peers.scalekit.allow_unsolicited = True

    before = idp_initiated(peers)
    assert before.peer == "legacy" and route(before) == ("legacy", "default")  # nothing names the org

    lg = login(px.url, login_hint="alice@megasoft.com")
    assert lg.callback.peer == "legacy" and lg.callback.status == 302, lg.callback.text
    rec = px.decision_for("POST", "/login/callback")
    assert (rec["reason"], rec["org"], rec["saml_issuer"]) == ("correlation", "megasoft.com", MEGASOFT_IDP)

    mapping = px.mapping_path.read_bytes()
    proposal = f"propose megasoft.com: idp_entity_ids {MEGASOFT_IDP} — seen 1x"
    dry = run("learn", "--decision-log", px.decision_log, "--mapping", px.mapping_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert proposal in dry.stdout and "run again with --apply" in dry.stdout
    assert px.mapping_path.read_bytes() == mapping
    live = run("learn", "--url", px.url, "--mapping", px.mapping_path)  # the running router's own tally
    assert live.returncode == 0 and proposal in live.stdout, live.stdout + live.stderr

    version = px.health()["mapping"]["version"]
    applied = run("learn", "--decision-log", px.decision_log, "--mapping", px.mapping_path, "--apply")
    assert applied.returncode == 0 and "written" in applied.stdout, applied.stdout + applied.stderr
    wait_reloaded(px, version)

    since = px.mark()
    after = idp_initiated(peers)
    assert after.peer == "legacy" and after.status == 302 and route(after) == ("legacy", "org"), after
    rec = px.decision_for("POST", "/login/callback", since=since)
    assert (rec["org"], rec["identifier"]) == ("megasoft.com", "SAML Issuer")

    version = px.health()["mapping"]["version"]
    assert run("migrate", "megasoft.com", "--mapping", px.mapping_path).returncode == 0
    wait_reloaded(px, version)
    peers.clear()
    peers.scalekit.allow_unsolicited = True
    moved = idp_initiated(peers, acs=peers.public_url + "/login/callback")  # the IdP keeps Auth0's ACS
    assert moved.peer == "scalekit" and moved.status == 302, (moved, moved.text)
    assert route(moved) == ("scalekit", "org")
    assert [r.path for r in peers.scalekit.server.records] == ["/sso/v1/saml/conn_megasoft/acs"]
    assert peers.legacy.server.records == []

    again = run("learn", "--decision-log", px.decision_log, "--mapping", px.mapping_path, "--apply")
    assert again.returncode == 0 and "file not changed" in again.stdout, again.stdout
