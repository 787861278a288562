"""Login figures through the real mitmdump and the suite's providers (issue 16 points 1, 2, 4):
outcomes per org and provider in ``/.sso-router/orgs/<org>`` equal to the logins made, the metric
without an org label, logins that never came back (an org whose IdP posts to the provider's own
host), and ``sso-router status --url`` against the running router."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import requests

from .browser import parse_form
from .figures import login_counts, metric, orgs, token_counts, wait_for, wait_page
from .peers.provider import APP_CALLBACK
from .proxy import REPO
from .steps import exchange_code, login, start_saml_login

SSO_ROUTER = pathlib.Path(sys.executable).with_name("sso-router")  # the installed command
FLUSH = 5.0  # the figures task flushes every second: generous for a loaded 2-core box


def status(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        [str(SSO_ROUTER), "status", *args], capture_output=True, text=True, timeout=30, cwd=REPO, env=env
    )


def test_outcomes_per_org_equal_the_logins_made(peers, start_proxy):
    px = start_proxy()
    for _ in range(2):  # megasoft (SAML, legacy): two logins, one code exchanged
        done = login(px.url, login_hint="alice@megasoft.com")
        assert done.callback.peer == "legacy" and done.app_location.startswith(APP_CALLBACK + "?"), done.callback
    assert exchange_code(px.url, done.code).status_code == 200
    newco = login(px.url, login_hint="bob@newcompany.com")  # migrated (SAML, scalekit)
    assert newco.callback.peer == "scalekit" and newco.code, newco.callback
    assert exchange_code(px.url, newco.code).status_code == 200
    assert exchange_code(px.url, "not-a-code-anyone-issued").status_code == 400  # a failed exchange, no org
    acme = login(px.url, login_hint="carol@acme.com")  # OIDC code flow, legacy
    assert acme.callback.peer == "legacy" and acme.code, acme.callback
    # a login refused at the provider: the ACS post's RelayState is not the one it sent
    b, page = start_saml_login(px, "bob@newcompany.com", "scalekit")
    _, action, fields = parse_form(page.text)
    refused = b.request("POST", action, data={**fields, "RelayState": "tampered"}, send_cookies=False)
    assert refused.status == 403 and refused.peer == "scalekit", refused

    mega = wait_page(
        px, "megasoft.com", lambda p: login_counts(p, "legacy") == (2, 0) and token_counts(p, "legacy") == (1, 0), FLUSH
    )
    assert mega["provider"] == "legacy" and not mega["migrated"] and mega["migrated_since"] is None
    assert mega["outcomes"]["5m"]["legacy"]["success"] == 3 and "scalekit" not in mega["outcomes"]["24h"]
    assert mega["last_failure"] is None
    assert mega["never_came_back"]["windows"]["24h"]["legacy"] == {"left": 2, "never_came_back": 0}

    newco_page = wait_page(px, "newcompany.com", lambda p: login_counts(p, "scalekit") == (1, 1), FLUSH)
    assert token_counts(newco_page, "scalekit") == (1, 0)
    assert newco_page["migrated"] and newco_page["migrated_since"] is not None  # first seen migrated at startup
    last = newco_page["last_failure"]
    assert (last["provider"], last["stage"], last["kind"]) == ("scalekit", "login", "http_4xx"), last
    assert set(last) == {"at", "provider", "stage", "kind"}  # never a body or a description
    assert newco_page["figures"] == "this process only (memory:// store)"
    assert login_counts(orgs(px, "acme.com"), "legacy") == (1, 0)
    assert orgs(px, "megasoft.io")["org"] == "megasoft.com"  # any of its domains names it

    # Prometheus: per provider and outcome, never per org; the unattributable failed exchange counts here
    assert metric(px, "sso_router_login_outcomes_total", provider="legacy", outcome="success") == 4
    assert metric(px, "sso_router_login_outcomes_total", provider="legacy", outcome="failure") == 1
    assert metric(px, "sso_router_login_outcomes_total", provider="scalekit", outcome="success") == 2
    assert metric(px, "sso_router_login_outcomes_total", provider="scalekit", outcome="failure") == 1
    text = requests.get(f"{px.url}/.sso-router/metrics", timeout=5).text
    assert "megasoft" not in text and "newcompany" not in text


def test_orgs_endpoints_are_admin_only(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["admin"] = {"allow": ["10.0.0.0/8"]}  # loopback is not an admin address here
    px = start_proxy(mapping, extra_args=["--set", "sso_admin_token=t0ken"])
    for path in ("/.sso-router/orgs", "/.sso-router/orgs/megasoft.com"):
        r = requests.get(px.url + path, timeout=5)
        assert (r.status_code, r.text) == (404, "unknown sso-router endpoint\n"), path
        r = requests.get(px.url + path, timeout=5, headers={"authorization": "Bearer t0ken"})
        assert r.status_code == 200 and r.json(), path
    assert not any(r.path.startswith("/.sso-router") for r in peers.legacy.server.records)  # never forwarded
    r = requests.get(px.url + "/.sso-router/orgs/nobody.example", timeout=5, headers={"authorization": "Bearer t0ken"})
    assert r.status_code == 404 and r.json()["error"] == "unknown org"


def test_logins_that_never_came_back(peers, start_proxy):
    mapping = peers.base_mapping()
    mapping["router"]["correlation_ttl"] = 2  # short: the test waits for it to pass
    px = start_proxy(mapping)
    # megasoft's IdP is configured with the provider's own ACS (as the legacy provider's setup guide
    # said): the login leaves through the router, and its answer goes straight to the provider
    b, page = start_saml_login(px, "alice@megasoft.com", "legacy")
    _, action, fields = parse_form(page.text)
    assert action == f"{px.url}/login/callback"
    direct = b.request("POST", peers.legacy.own_url + "/login/callback", data=fields, send_cookies=False)
    assert direct.status == 302 and direct.peer == "legacy", direct  # it works today, around the router
    acme = login(px.url, login_hint="carol@acme.com")  # an IdP that answers the auth domain
    assert acme.callback.peer == "legacy" and acme.code

    lost = wait_page(px, "megasoft.com", lambda p: p["never_came_back"]["never_came_back_24h"] > 0, 2 + 2 + FLUSH + 4)
    assert lost["never_came_back"]["windows"]["5m"]["legacy"] == {"left": 1, "never_came_back": 1}
    assert "cannot move until its customer" in lost["never_came_back"]["note"]
    came_back = orgs(px, "acme.com")["never_came_back"]
    assert came_back["windows"]["24h"]["legacy"] == {"left": 1, "never_came_back": 0} and came_back["note"] is None
    listed = orgs(px)["never_came_back"]
    assert listed == [{"org": "megasoft.com", "left_24h": 1, "never_came_back_24h": 1}], listed
    assert metric(px, "sso_router_logins_unreturned_total", provider="legacy") == 1

    out = status("--url", px.url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("logins that never come back"))
    assert lines[at + 2].split()[:3] == ["megasoft.com", "1", "1"], out.stdout
    assert "acme.com" not in "\n".join(lines[at : at + 4])


def test_status_against_the_running_router(peers, start_proxy):
    px = start_proxy()
    for hint in ("bob@newcompany.com", "bob@newcompany.com", "alice@megasoft.com"):
        assert login(px.url, login_hint=hint).code
    wait_for("the figures", lambda: login_counts(orgs(px, "newcompany.com"), "scalekit") == (2, 0), FLUSH)

    out = status("--url", px.url)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith(f"sso-router at {px.url} — migration target scalekit, default legacy, canary off"), text
    row = next(line for line in text.splitlines() if line.startswith("newcompany.com"))
    assert row.split()[4:7] == ["2", "0", "0%"], row  # OK, FAILED, FAILED % since the flip
    assert "megasoft.com" in text and "acme.com" in text
    assert text.rstrip().splitlines()[-1] == "migration not done: 2 orgs still at legacy", text

    one = status("newcompany.com", "--url", px.url, "--json")
    assert one.returncode == 0, one.stderr
    page = json.loads(one.stdout)
    assert page["org"] == "newcompany.com" and login_counts(page, "scalekit") == (2, 0)
    missing = status("nobody.example", "--url", px.url)
    assert missing.returncode == 1 and "unknown org" in missing.stderr
    assert time.time() - page["generated_at"] < 60
