"""``sso-router explain`` on a capture recorded through the real proxy (``mitmdump -w``): it decides
each request as the proxy did, cookies included, and shows the decision the proxy recorded."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from .browser import Browser
from .proxy import SECRET
from .routes import route
from .steps import authorize_url, exchange_code, login

SSO_ROUTER = pathlib.Path(sys.executable).with_name("sso-router")
ASSET = "/assets/app.css"


def explain(capture: pathlib.Path, mapping: pathlib.Path, secret: str | None) -> tuple[list[dict], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSO_ROUTER_SECRET", "SSO_ROUTER_MAPPING")}
    if secret:
        env["SSO_ROUTER_SECRET"] = secret
    r = subprocess.run(
        [str(SSO_ROUTER), "explain", str(capture), "--mapping", str(mapping), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()], r.stderr


def test_a_capture_of_several_browsers_is_explained_as_the_proxy_decided(peers, start_proxy, tmp_path):
    """Browser A logs in to newcompany (scalekit) — its cookie never comes back on that login: the
    IdP's POST is cross-site and the code exchange is the app's. Browser B, with no cookie, fetches
    an asset (legacy, default). Browser C starts a megasoft login (legacy). Then A and C fetch the
    asset with their own cookies. All from 127.0.0.1, in one capture."""
    capture = tmp_path / "browsers.mitm"
    proxy = start_proxy(extra_args=["-w", str(capture)])
    a = Browser()
    lg = login(proxy.url, browser=a, login_hint="bob@newcompany.com")
    assert lg.callback.peer == "scalekit" and lg.callback.status == 302, lg.callback.text
    assert exchange_code(proxy.url, lg.code).status_code == 200
    b_asset = Browser().get(proxy.url + ASSET)
    assert route(b_asset) == ("legacy", "default")
    c = Browser()
    assert c.get(authorize_url(proxy.url, login_hint="alice@megasoft.com")).peer == "legacy"
    a_asset, c_asset = a.get(proxy.url + ASSET), c.get(proxy.url + ASSET)
    assert route(a_asset) == ("scalekit", "sticky") and route(c_asset) == ("legacy", "sticky")
    proxy.stop()  # the flow file is complete once mitmdump has exited

    decided = [(d["method"], d["path"], d["provider"], d["reason"], d["org"]) for d in proxy.decisions()]
    assert [x[1] for x in decided] == [
        "/authorize",
        "/sso/v1/saml/conn_newco/acs",
        "/oauth/token",
        ASSET,
        "/authorize",
        ASSET,
        ASSET,
    ]
    for secret in (None, SECRET):  # without the proxy's key, and with it
        rows, stderr = explain(capture, proxy.mapping_path, secret)
        assert [(r["method"], r["path"], r["provider"], r["reason"], r["org"]) for r in rows] == decided, secret
        for r in rows:
            assert r["recorded"] == {
                k: r[k] for k in ("provider", "reason", "org", "identifier", "forwarded_to", "shadow")
            }
            assert r["differs"] == []
        assert "otherwise than the proxy recorded" not in stderr


def test_a_browser_that_sent_no_cookie_is_replayed_with_none(peers, start_proxy, tmp_path):
    """The same first two browsers alone: no request in the capture carries the router's cookie
    (A's login never sends it back through the router), and B's asset is still not A's."""
    capture = tmp_path / "two.mitm"
    proxy = start_proxy(extra_args=["-w", str(capture)])
    lg = login(proxy.url, login_hint="bob@newcompany.com")
    assert lg.callback.status == 302 and exchange_code(proxy.url, lg.code).status_code == 200
    assert route(Browser().get(proxy.url + ASSET)) == ("legacy", "default")
    proxy.stop()
    rows, _ = explain(capture, proxy.mapping_path, None)
    assert [(r["path"], r["provider"], r["reason"]) for r in rows][-1] == (ASSET, "legacy", "default")
    assert all(r["differs"] == [] for r in rows)
