"""After whole logins, no SAMLResponse, code, token or cookie value that crossed the proxy appears
in the decision log or in mitmdump's output, as mitmdump runs by default (the router replaces
mitmdump's flow lines with its own), with the addon's logging at info."""

from __future__ import annotations

import requests

from .browser import Browser, parse_form, query_of
from .steps import exchange_code, login
from .world import APP_CLIENT


def test_no_secret_reaches_the_decision_log_or_output(peers, start_proxy):
    px = start_proxy(extra_args=["--set", "termlog_verbosity=info"])
    secrets: set[str] = set()
    browsers: list[Browser] = []
    logins = [
        login(px.url, login_hint="alice@megasoft.com"),
        login(px.url, login_hint="bob@newcompany.com"),
        login(px.url, login_hint="carol@acme.com"),
        login(px.url, path="/oauth/authorize", login_hint="dan@globex.com"),
    ]
    for lg in logins:
        assert lg.callback.status == 302, (lg.callback, lg.callback.text)
        browsers.append(lg.browser)
        tokens = exchange_code(px.url, lg.code)
        assert tokens.status_code == 200, tokens.text
        t = tokens.json()
        auth = {"Authorization": f"Bearer {t['access_token']}"}
        assert requests.get(px.url + "/userinfo", headers=auth, timeout=10).status_code == 200
        requests.post(
            px.url + "/oauth/token",
            auth=APP_CLIENT,
            timeout=10,
            data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]},
        )
        requests.get(px.url + "/logout", params={"id_token_hint": t["id_token"]}, allow_redirects=False, timeout=10)
        requests.post(px.url + "/oauth/revoke", auth=APP_CLIENT, data={"token": t["refresh_token"]}, timeout=10)
    peers.legacy.allow_unsolicited = True
    b = Browser()
    page = b.get(peers.idp.idp_init_url("megasoft", peers.sp_entity["megasoft"]))
    assert b.submit_form(page).status == 302
    browsers.append(b)

    for br in browsers:
        for hop in br.history:
            if hop.status == 200 and "<form" in hop.text:
                fields = parse_form(hop.text)[2]
                for name in ("SAMLResponse", "id_token"):
                    if name in fields:
                        value = fields[name]
                        secrets.update({value, value[len(value) // 2 : len(value) // 2 + 48]})
            for url in (hop.url, hop.location or ""):
                q = query_of(url)
                if "code" in q:
                    secrets.add(q["code"])
            for cookie in hop.set_cookies:
                value = cookie.split(";", 1)[0].partition("=")[2]
                if len(value) >= 8:
                    secrets.add(value)
    for prov in (peers.legacy, peers.scalekit):
        for kind in ("code", "access_token", "refresh_token", "id_token", "cookie"):
            secrets.update(prov.issued[kind])
    secrets = {s for s in secrets if len(s) >= 12}
    assert len(secrets) > 30, "the scan must have something to look for"

    px.stop()
    haystacks = {
        "decision log": px.decision_log.read_text(),
        "mitmdump stdout": px.stdout_path.read_text(),
        "mitmdump stderr": px.stderr_path.read_text(),
    }
    assert haystacks["decision log"].count("\n") >= 20
    assert haystacks["mitmdump stdout"].count(" << ") >= 20  # the router's own flow lines were printed and scanned
    leaks = [(where, s[:16] + "…") for where, text in haystacks.items() for s in secrets if s in text]
    assert not leaks, leaks
