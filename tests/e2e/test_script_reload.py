"""Editing the -s script under a running mitmdump: mitmproxy calls done() and loads the file again
(sso_router_addon.py then hands out the same router, left as new by done()). Logins in flight
in the memory store finish where they started, new ones route, and the router's own flow lines
keep coming."""

from __future__ import annotations

import os
import time

import requests

from .browser import Browser
from .proxy import ADDON
from .routes import route
from .steps import authorize_url, finish_at_proxy, start_saml_login

# What mitmproxy prints when a reloaded script fails: its loader (addons/script.py
# ``script_error_handler``), a hook that raised (addonmanager ``safecall``: "Addon error"), an option
# declared twice by the old and the new router, a traceback of anything else.
RELOAD_FAILURES = (
    "error in script",
    "Addon error",
    "Traceback",
    "OptionsError",
    "already exists",
    "Error logged during startup",
)


def _wait_for(px, what: bytes, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if px.stdout_path.read_bytes().count(what) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{what!r} seen fewer than {count} times:\n{px.output()}")


def test_editing_the_script_reloads_the_router_and_keeps_logins_in_flight(peers, start_proxy, tmp_path):
    script = tmp_path / "sso_router_addon.py"
    script.write_text(ADDON.read_text())
    px = start_proxy(addon=script)
    b, idp_page = start_saml_login(px, "alice@megasoft.com", "legacy")
    loads = px.stdout_path.read_bytes().count(b"Loading script")
    assert loads >= 1, px.output()

    # mitmproxy polls the script's mtime once a second and reloads when it is newer than the last
    # one read: set it a clear second later than now, however coarse the file system's clock is
    mtime = script.stat().st_mtime
    script.write_text(ADDON.read_text() + "# edited\n")
    os.utime(script, (mtime + 2, mtime + 2))
    _wait_for(px, b"Loading script", loads + 1)
    deadline = time.monotonic() + 10
    while requests.get(px.url + "/.sso-router/ready", timeout=2).status_code != 200:
        assert time.monotonic() < deadline, px.output()
        time.sleep(0.1)
    before = px.stdout_path.read_bytes()

    acs = finish_at_proxy(b, idp_page, px.url)  # the login started before the reload
    assert acs.peer == "legacy" and route(acs) == ("legacy", "correlation"), (acs, acs.text)
    fresh = Browser().get(authorize_url(px.url, login_hint="bob@newcompany.com"))
    assert fresh.peer == "scalekit" and route(fresh) == ("scalekit", "org")

    after = px.stdout_path.read_bytes()[len(before) :]
    _wait_for(px, b"POST /login/callback", 1)
    assert b"POST /login/callback" in px.stdout_path.read_bytes()[len(before) :], after  # flow lines go on
    assert b"state=" not in px.stdout_path.read_bytes()[len(before) :]  # and still carry no query values
    failures = [ln for ln in px.output().splitlines() if any(f in ln for f in RELOAD_FAILURES)]
    assert not failures, px.output()
