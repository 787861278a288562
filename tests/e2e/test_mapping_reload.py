"""A bad mapping edit under a running mitmdump (CONTRACT options table, ``sso_mapping``): the last
good mapping keeps routing, a WARNING names the key at fault, ``/health`` shows the rejected reload,
``sso_router_mapping_reloads_total{result="failed"}`` counts it, and a later good edit applies."""

from __future__ import annotations

import re
import time

import requests

from .browser import Browser
from .steps import authorize_url
from .world import render_mapping

RELOAD_WITHIN = 6.0  # the watcher polls every 0.5 s; a loaded CI box may take a few polls


def reloads(px, result: str) -> float:
    text = requests.get(px.url + "/.sso-router/metrics", timeout=5).text
    m = re.search(rf'^sso_router_mapping_reloads_total\{{result="{result}"\}} ([0-9.]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def last_reload(px) -> dict:
    return px.health()["mapping"]["last_reload"]


def wait_for(what, cond, within: float = RELOAD_WITHIN):
    deadline = time.monotonic() + within
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what} not seen within {within}s"
        time.sleep(0.1)


def routed_to(px, hint: str) -> str | None:
    return Browser().get(authorize_url(px.url, login_hint=hint, prompt="login")).peer


def test_a_bad_edit_keeps_the_last_good_mapping_and_says_why(peers, start_proxy):
    px = start_proxy()
    version = px.health()["mapping"]["version"]
    failed_before = reloads(px, "failed")
    good = render_mapping(px.mapping)

    # megasoft.com flipped by hand, with a typo in the value
    bad = good.replace('[orgs."megasoft.com"]\nmigrated = false', '[orgs."megasoft.com"]\nmigrated = "yes"')
    assert bad != good
    px.mapping_path.write_text(bad)
    wait_for("the rejected reload", lambda: last_reload(px)["result"] == "rejected")

    rejected = last_reload(px)
    assert 'orgs."megasoft.com".migrated' in rejected["message"], rejected
    assert px.health()["mapping"]["version"] == version  # still the last good one
    assert reloads(px, "failed") == failed_before + 1
    warning = [ln for ln in px.output().splitlines() if "NOT reloaded" in ln]
    assert warning and 'orgs."megasoft.com".migrated' in warning[-1], px.output()
    assert "ERROR" not in px.output()
    assert routed_to(px, "alice@megasoft.com") == "legacy"  # the last good mapping routes
    assert routed_to(px, "bob@newcompany.com") == "scalekit"
    assert px.proc.poll() is None

    # the fix: a good edit applies
    px.mapping_path.write_text(
        good.replace('[orgs."megasoft.com"]\nmigrated = false', '[orgs."megasoft.com"]\nmigrated = true')
    )
    wait_for("the good reload", lambda: px.health()["mapping"]["version"] != version)
    assert last_reload(px)["result"] == "ok"
    assert routed_to(px, "alice@megasoft.com") == "scalekit"
    assert reloads(px, "ok") >= 1 and reloads(px, "failed") == failed_before + 1


def test_a_mapping_that_is_not_toml_is_refused_the_same_way(peers, start_proxy):
    px = start_proxy()
    version = px.health()["mapping"]["version"]
    px.mapping_path.write_text(render_mapping(px.mapping) + "\n[orgs.\n")
    wait_for("the rejected reload", lambda: last_reload(px)["result"] == "rejected")
    assert "invalid TOML" in last_reload(px)["message"]
    assert px.health()["mapping"]["version"] == version
    assert routed_to(px, "bob@newcompany.com") == "scalekit"
