"""The ``-s`` script's module (routing/mitm/script.py) and what a script reload keeps
(routing/mitm/process.py): mitmproxy calls ``done()`` and loads the file again."""

from __future__ import annotations

import pytest
from mitmproxy import http

from routing.mitm.addon import SSORouter
from routing.mitm.process import ProcessState
from tests.addon.harness import hook, make_flow, routing


def test_script_module_exposes_the_hooks_of_one_router():
    import routing.mitm.script as script

    assert set(script.__all__) >= {
        "load",
        "configure",
        "running",
        "done",
        "request",
        "response",
        "error",
        "next_layer",
        "server_connect",
    }
    for name in script.__all__:
        assert getattr(script, name).__self__ is script.router
    assert not hasattr(script, "addons")  # hooks on the module itself, not one level down


@pytest.mark.parametrize("same_instance", [True, False], ids=["script module (same instance)", "new instance"])
async def test_a_script_reload_keeps_memory_logins_in_flight(mapping_file, monkeypatch, same_instance):
    """``sso_router_addon.py`` hands out the same SSORouter after a reload (routing/mitm/script.py),
    which done() left as new; an addon written the usual way gets a new instance. Either way a login
    in flight in the memory store, hashed with the random per-process key, survives, and the router
    works as before."""
    monkeypatch.delenv("SSO_ROUTER_SECRET", raising=False)
    process = ProcessState()
    with routing(mapping_file, process=process, secret=None) as (first, _tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        await hook(first.request, f)
        f.response = http.Response.make(
            302, b"", {"location": "https://idp.example/authorize?client_id=c&response_type=code&state=RELOAD-1"}
        )
        await hook(first.response, f)
        key = first.runtime.secret
        first.done()
        assert first.runtime is None  # as new
    with routing(mapping_file, router=first if same_instance else SSORouter(process), secret=None) as (second, _):
        second.running()
        g = make_flow("/cb?state=RELOAD-1")
        await hook(second.request, g)
        h = make_flow("/authorize?login_hint=bob@newcompany.com&response_type=code")
        await hook(second.request, h)
        same_key = key == second.runtime.secret
        second.done()
    assert same_key
    meta, meta2 = g.metadata["sso_router"], h.metadata["sso_router"]
    assert (meta["provider"], meta["reason"]) == ("legacy", "correlation")
    assert (meta2["provider"], meta2["reason"], meta2["org"]) == ("scalekit", "org", "newcompany.com")
