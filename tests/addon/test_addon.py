"""The addon in-process: mitmproxy.test.taddons / tflow, calling the hooks directly."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import parse_qs, urlsplit

import inspect

import pytest
from mitmproxy import exceptions, http
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow

from routing.mitm.addon import SSORouter
from routing.mitm.process import ProcessState
from tests.unit.samples import MAPPING, saml_response


@pytest.fixture
def mapping_file(tmp_path):
    p = tmp_path / "mapping.toml"
    p.write_bytes(MAPPING.replace(b'hosts = ["localhost"]', b'hosts = ["localhost"]\ndebug_headers = true'))
    return p



async def hook(fn, *args):
    """Call an addon hook as mitmproxy does: await what it returns if that is awaitable."""
    res = fn(*args)
    if res is not None and inspect.isawaitable(res):
        await res

def run(coro):
    return asyncio.run(coro)


def make_flow(path="/", method="GET", host="auth.yourapp.com", body=b"", headers=()):
    req = http.Request.make(method, f"https://legacy.invalid{path}", body,
                            {"Host": host, **dict(headers or ())})
    req.host_header = host
    return tflow.tflow(req=req)


def with_router(fn, mapping_file, **opts):
    async def main():
        router = SSORouter(ProcessState())  # its own memory store and random key, not the process's
        with taddons.context(Proxyserver(), router) as tctx:
            tctx.configure(router, sso_mapping=str(mapping_file), sso_secret="s3cret", **opts)
            return await fn(router, tctx)
    return run(main())


def test_sets_lazy_connections_and_keeps_host(mapping_file):
    async def fn(router, tctx):
        return tctx.options.connection_strategy, tctx.options.keep_host_header
    assert with_router(fn, mapping_file) == ("lazy", True)


def test_routes_by_org_and_marks_the_flow(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=bob@newcompany.com&response_type=code")
        await hook(router.request, f)
        return f
    f = with_router(fn, mapping_file)
    assert (f.request.scheme, f.request.host, f.request.port) == ("https", "yourapp.scalekit.com", 8443)
    assert f.request.headers["host"] == "yourapp.scalekit.com:8443"
    assert f.request.path == "/authorize?login_hint=bob@newcompany.com&response_type=code"
    assert f.metadata["sso_router"]["provider"] == "scalekit"
    assert f.metadata["sso_router"]["reason"] == "org"
    assert f.metadata["sso_router"]["org"] == "newcompany.com"
    assert f.metadata["sso_router"]["identifier"] == "login_hint domain"
    assert f.comment == "→ scalekit · org · org newcompany.com · login_hint domain"


def test_foreign_host_gets_421(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/authorize", host="evil.example")
        await hook(router.request, f)
        return f
    assert with_router(fn, mapping_file).response.status_code == 421


def test_host_with_port_and_case_is_served(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/x", host="LOCALHOST:8080")
        await hook(router.request, f)
        return f
    f = with_router(fn, mapping_file)
    assert f.response is None and f.metadata["sso_router"]["reason"] == "default"


def test_builtin_endpoints_are_answered_not_forwarded(mapping_file):
    async def fn(router, tctx):
        out = []
        f = make_flow("/.sso-router/ready", host="10.0.0.1")
        await hook(router.request, f)
        assert f.response.status_code == 503 and b"starting" in f.response.content
        router.running()
        for path in ("/.sso-router/ready", "/.sso-router/health", "/.sso-router/metrics", "/.sso-router/nope"):
            f = make_flow(path, host="10.0.0.1")
            await hook(router.request, f)
            out.append(f.response)
        return out
    ready, health, metrics, nope = with_router(fn, mapping_file)
    assert ready.status_code == 200 and health.status_code == 200 and nope.status_code == 404
    h = json.loads(health.content)
    assert h["mapping"]["orgs"] == 2 and h["store"]["ok"] is True and len(h["mapping"]["version"]) == 16
    assert b"sso_router_decision_seconds_count" in metrics.content


def test_response_rewrites_location_and_cookie_and_sets_sticky(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        f.response = http.Response.make(302, b"", {
            "location": "https://yourapp.scalekit.com:8443/u/login?state=HOSTED1"})
        f.response.headers.add("set-cookie", "sid=1; Domain=yourapp.scalekit.com; Path=/")
        f.response.headers.add("set-cookie", "other=1; Domain=elsewhere.com")
        await hook(router.response, f)
        # the hosted page follows the state even with a sticky cookie naming legacy
        g = make_flow("/u/login?state=HOSTED1")
        await hook(router.request, g)
        return f, g
    f, g = with_router(fn, mapping_file)
    assert f.response.headers["location"] == "https://auth.yourapp.com/u/login?state=HOSTED1"
    cookies = f.response.headers.get_all("set-cookie")
    assert "sid=1; Domain=auth.yourapp.com; Path=/" in cookies
    assert "other=1; Domain=elsewhere.com" in cookies
    assert any(c.startswith("sso_router=") and "HttpOnly" in c and "SameSite=None; Secure" in c for c in cookies)
    assert f.response.headers["x-sso-route"] == "scalekit; reason=org"
    assert g.metadata["sso_router"]["reason"] == "correlation"
    assert g.metadata["sso_router"]["provider"] == "scalekit"


def test_code_redirect_goes_to_app_callback_and_is_remembered(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/login/callback", method="POST", body=b"RelayState=x",
                      headers=[("content-type", "application/x-www-form-urlencoded")])
        await hook(router.request, f)
        f.response = http.Response.make(302, b"", {"location": "https://yourapp.com/cb?code=CODE1&state=app"})
        await hook(router.response, f)
        t = make_flow("/oauth/token", method="POST", body=b"grant_type=authorization_code&code=CODE1",
                      headers=[("content-type", "application/x-www-form-urlencoded")])
        await hook(router.request, t)
        return f, t
    f, t = with_router(fn, mapping_file)
    loc = urlsplit(f.response.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://yourapp.com/auth/ext-provider/callback"
    assert parse_qs(loc.query) == {"code": ["CODE1"], "state": ["app"]}
    assert t.metadata["sso_router"]["reason"] == "correlation" and t.metadata["sso_router"]["provider"] == "legacy"


def test_target_paths_for_migrated_org(mapping_file):
    async def fn(router, tctx):
        body = ("SAMLResponse=" + saml_response("https://sts.windows.net/newco/").replace("+", "%2B")).encode()
        f = make_flow("/login/callback?x=1", method="POST", body=body,
                      headers=[("content-type", "application/x-www-form-urlencoded")])
        await hook(router.request, f)
        return f, body
    f, body = with_router(fn, mapping_file)
    assert f.request.path == "/sso/v1/saml/conn_01HNEWCO/acs?x=1"
    assert f.request.content == body  # byte for byte


def test_headers_host_header_client_ip(tmp_path):
    p = tmp_path / "m.toml"
    p.write_bytes(MAPPING.replace(b'app_callback = "https://yourapp.com/auth/ext-provider/callback"',
                                  b'app_callback = "https://yourapp.com/auth/ext-provider/callback"\n'
                                  b'headers = { "cname-api-key" = "k1" }\nhost_header = "login.yourapp.com"\n'
                                  b'client_ip_header = "True-Client-IP"'))

    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        await hook(router.request, f)
        return f
    f = with_router(fn, p)
    assert f.request.host == "yourapp.us.auth0.com"
    assert f.request.headers["host"] == "login.yourapp.com"
    assert f.request.headers["cname-api-key"] == "k1"
    assert f.request.headers["true-client-ip"] == f.client_conn.peername[0]


def test_bad_mapping_is_an_options_error(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[router]\npublic_url = "https://a"\n[providers.legacy]\nupstream = "nope"\n')

    async def main():
        router = SSORouter(ProcessState())
        with taddons.context(router) as tctx:
            with pytest.raises(exceptions.OptionsError, match="providers.legacy.upstream"):
                tctx.configure(router, sso_mapping=str(p), sso_secret="x")
    run(main())


def test_secret_rules(mapping_file, monkeypatch, caplog):
    monkeypatch.delenv("SSO_ROUTER_SECRET", raising=False)

    async def main():
        router = SSORouter(ProcessState())
        with taddons.context(router) as tctx:
            tctx.configure(router, sso_mapping=str(mapping_file))
            assert len(router.runtime.secret) == 32
            with pytest.raises(exceptions.OptionsError, match="sso_secret is required"):
                tctx.configure(router, sso_store="sqlite:///tmp/x.db")
            monkeypatch.setenv("SSO_ROUTER_SECRET", "from-env")
            tctx.configure(router, sso_secret="")
            assert router.runtime.secret == b"from-env"
    caplog.set_level("WARNING")
    run(main())
    assert any("random per-process key" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_shadow_forwards_to_default_and_says_so(tmp_path):
    p = tmp_path / "m.toml"
    p.write_bytes(MAPPING.replace(b'hosts = ["localhost"]', b'hosts = ["localhost"]\nshadow = true\ndebug_headers = true'))

    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        f.response = http.Response.make(200, b"ok")
        await hook(router.response, f)
        return f
    f = with_router(fn, p)
    assert f.request.host == "yourapp.us.auth0.com"
    assert f.metadata["sso_router"]["provider"] == "scalekit" and f.metadata["sso_router"]["shadow"] is True
    assert f.response.headers["x-sso-route"] == "scalekit; reason=org; shadow"
    assert "shadow" in f.comment


def test_guard_skips_handled_flows(mapping_file):
    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        f.response = http.Response.make(204)
        await hook(router.request, f)
        return f
    f = with_router(fn, mapping_file)
    assert "sso_router" not in f.metadata and f.request.host == "legacy.invalid"


def test_forged_sticky_cookie_is_ignored(mapping_file):
    async def fn(router, tctx):
        bad = base64.urlsafe_b64encode(b"scalekit||9999999999").decode().rstrip("=") + ".AAAA"
        f = make_flow("/u/assets/x.css", headers=[("cookie", f"sso_router={bad}")])
        await hook(router.request, f)
        return f
    assert with_router(fn, mapping_file).metadata["sso_router"]["reason"] == "default"


def test_metrics_count_decisions_parse_failures_and_refusals(mapping_file):
    async def fn(router, tctx):
        for path, host in (("/authorize?login_hint=a@newcompany.com", "auth.yourapp.com"),
                           ("/acs?SAMLResponse=%%%not-base64", "auth.yourapp.com"),
                           ("/x", "evil.example")):
            await hook(router.request, make_flow(path, host=host))
        f = make_flow("/.sso-router/metrics", host="10.1.1.1")
        await hook(router.request, f)
        return f.response.text
    text = with_router(fn, mapping_file)
    assert 'sso_router_decisions_total{provider="scalekit",reason="org",shadow="false"} 1.0' in text
    assert 'sso_router_parse_failures_total{kind="saml"} 1.0' in text
    assert 'sso_router_refused_total{status="421"} 1.0' in text
    assert "sso_router_decision_seconds_count 2.0" in text
    assert "newcompany" not in text and "not-base64" not in text


@pytest.mark.parametrize("value,ok", [("0.5", True), ("2", True), ("0", False), ("abc", False), ("-1", False)])
def test_store_timeout_option(mapping_file, value, ok):
    async def fn(router, tctx):
        if ok:
            tctx.configure(router, sso_store_timeout=value)
            return router.runtime.stores.timeout
        with pytest.raises(exceptions.OptionsError, match="sso_store_timeout"):
            tctx.configure(router, sso_store_timeout=value)
        return None
    assert with_router(fn, mapping_file) == (float(value) if ok else None)


def test_blocking_store_path_remembers_and_recalls(mapping_file, tmp_path):
    """With sqlite (a blocking store) both hooks return coroutines; the correlation still works."""
    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        assert f.metadata == {}
        res = router.request(f)
        assert inspect.isawaitable(res) is False  # no correlation candidate: decided synchronously
        f.response = http.Response.make(302, b"", {"location": "https://idp.example/authorize?client_id=c&response_type=code&state=ST-SQL"})
        res = router.response(f)
        assert inspect.isawaitable(res)  # the state must reach the store before the browser moves on
        await res
        g = make_flow("/cb?state=ST-SQL")
        res = router.request(g)
        assert inspect.isawaitable(res)
        await res
        return g
    g = with_router(fn, mapping_file, sso_store=f"sqlite:///{tmp_path}/c.db")
    assert (g.metadata["sso_router"]["provider"], g.metadata["sso_router"]["reason"]) == ("scalekit", "correlation")


@pytest.mark.parametrize("same_instance", [True, False], ids=["script module (same instance)", "new instance"])
def test_a_script_reload_keeps_memory_logins_in_flight(mapping_file, monkeypatch, same_instance):
    """When the -s script is edited mitmproxy calls done() and loads it again: sso_router_addon.py
    hands out the same SSORouter (routing/mitm/script.py), which done() left as new; an addon
    written the usual way gets a new instance. Either way a login in flight in the memory store,
    hashed with the random per-process key, survives, and the router works as before."""
    monkeypatch.delenv("SSO_ROUTER_SECRET", raising=False)

    async def main():
        first = SSORouter(ProcessState())
        with taddons.context(Proxyserver(), first) as tctx:
            tctx.configure(first, sso_mapping=str(mapping_file))
            f = make_flow("/authorize?login_hint=a@megasoft.com")
            await hook(first.request, f)
            f.response = http.Response.make(302, b"", {"location": "https://idp.example/authorize?client_id=c&response_type=code&state=RELOAD-1"})
            await hook(first.response, f)
            key = first.runtime.secret
            first.done()
            assert first.runtime is None  # as new
        second = first if same_instance else SSORouter(first.process)
        with taddons.context(Proxyserver(), second) as tctx:
            tctx.configure(second, sso_mapping=str(mapping_file))
            second.running()
            g = make_flow("/cb?state=RELOAD-1")
            await hook(second.request, g)
            h = make_flow("/authorize?login_hint=bob@newcompany.com&response_type=code")
            await hook(second.request, h)
            same = key == second.runtime.secret
            second.done()
            return same, g.metadata["sso_router"], h.metadata["sso_router"]
    same_key, meta, meta2 = run(main())
    assert same_key and (meta["provider"], meta["reason"]) == ("legacy", "correlation")
    assert (meta2["provider"], meta2["reason"], meta2["org"]) == ("scalekit", "org", "newcompany.com")


def test_script_module_exposes_the_hooks_of_one_router():
    import routing.mitm.script as script

    assert set(script.__all__) >= {"load", "configure", "running", "done", "request", "response", "error",
                                   "next_layer", "server_connect"}
    for name in script.__all__:
        assert getattr(script, name).__self__ is script.router
    assert not hasattr(script, "addons")  # hooks on the module itself, not one level down


def test_http2_cookie_crumbs_carry_the_sticky_cookie(mapping_file):
    """Over HTTP/2 each cookie is its own header field; mitmproxy joins repeated headers with ', '."""
    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        f.response = http.Response.make(200, b"ok")
        await hook(router.response, f)
        ours = next(c for c in f.response.headers.get_all("set-cookie") if c.startswith("sso_router="))
        g = make_flow("/u/assets/app.css")
        g.request.headers.add("cookie", "auth0=abc")
        g.request.headers.add("cookie", ours.split(";", 1)[0])
        g.request.headers.add("cookie", "did=xyz")
        await hook(router.request, g)
        return g
    g = with_router(fn, mapping_file)
    assert (g.metadata["sso_router"]["provider"], g.metadata["sso_router"]["reason"]) == ("scalekit", "sticky")


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd", "deflate"])
def test_compressed_bodies_are_decoded_within_max_body(mapping_file, encoding):
    # http.Request.make encodes the content per its Content-Encoding, as a client would send it
    async def fn(router, tctx):
        headers = [("content-type", "application/x-www-form-urlencoded"), ("content-encoding", encoding)]
        small = make_flow("/sso-login", method="POST", body=b"email=a%40newcompany.com", headers=headers)
        assert small.request.raw_content != b"email=a%40newcompany.com"
        await hook(router.request, small)
        bomb = make_flow("/sso-login", method="POST", body=b"email=a%40newcompany.com&x=" + b"A" * 5_000_000,
                         headers=headers)
        assert len(bomb.request.raw_content) < 1_048_576  # small on the wire, 5 MB inflated
        await hook(router.request, bomb)
        return small, bomb, router.runtime.metrics.get("sso_router_parse_failures_total", kind="body")
    small, bomb, failures = with_router(fn, mapping_file)
    assert small.metadata["sso_router"]["org"] == "newcompany.com"
    assert bomb.metadata["sso_router"]["reason"] == "default" and failures == 1  # not inspected, counted
    assert bomb.request.headers["content-encoding"] == encoding  # forwarded untouched


def test_a_core_failure_routes_to_default_not_the_placeholder(mapping_file, monkeypatch):
    from routing import pipeline

    def boom(*a, **k):
        raise RuntimeError("bug")
    monkeypatch.setattr(pipeline, "begin", boom)

    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        return f, router.runtime.metrics.get("sso_router_parse_failures_total", kind="internal")
    f, internal = with_router(fn, mapping_file)
    assert f.request.host == "yourapp.us.auth0.com" and f.metadata["sso_router"]["reason"] == "default"
    assert internal == 1


def test_undecodable_force_header_with_a_secret_does_not_raise(tmp_path):
    p = tmp_path / "m.toml"
    p.write_bytes(MAPPING.replace(b'hosts = ["localhost"]', b'hosts = ["localhost"]\nforce_header_secret = "s3"'))

    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        f.request.headers["x-force-sk-route"] = "\udcff"  # as mitmproxy decodes a raw 0xff byte
        await hook(router.request, f)
        return f
    f = with_router(fn, p)
    assert (f.metadata["sso_router"]["provider"], f.metadata["sso_router"]["reason"]) == ("legacy", "org")


@pytest.mark.parametrize("msg,counted", [
    ("sso-router: provider 'legacy' (https://x) failed: Connection refused", True),
    ("Client disconnected.", False),
    ("Connection killed.", False),
])
def test_only_upstream_failures_count_as_upstream_errors(mapping_file, msg, counted):
    from mitmproxy import flow as flow_module

    async def fn(router, tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        await hook(router.request, f)
        f.error = flow_module.Error(msg)
        router.error(f)
        return router.runtime.metrics.get("sso_router_upstream_errors_total", provider="legacy")
    assert with_router(fn, mapping_file) == (1 if counted else 0)


# -- point_upstream: the request's target set as mitmproxy's own setters would set it ----------------

def _by_setters(req: http.Request, p) -> http.Request:
    r = req.copy()
    up = p.upstream
    r.scheme, r.port, r.host = up.scheme, up.port, up.host
    r.host_header = p.host_header or up.netloc
    for k, v in p.headers:
        r.headers[k] = v
    return r


@pytest.mark.parametrize("version, authority, host", [
    ("HTTP/1.1", "", "auth.yourapp.com"),  # origin-form, what browsers send
    ("HTTP/1.1", "auth.yourapp.com", "auth.yourapp.com"),  # absolute-form request line
    ("HTTP/1.1", "", None),  # no Host at all (HTTP/1.0 style)
    ("HTTP/2.0", "auth.yourapp.com", None),  # :authority only
    ("HTTP/2.0", "auth.yourapp.com", "auth.yourapp.com"),  # :authority and a Host field
])
@pytest.mark.parametrize("provider", ["legacy", "scalekit"])
def test_point_upstream_matches_mitmproxys_setters(mapping_file, version, authority, host, provider):
    from routing.mapping_loader import load_mapping_file
    from routing.mitm.apply import point_upstream

    m = load_mapping_file(str(mapping_file))
    p = m.providers[provider]
    req = http.Request("127.0.0.1", 8080, b"GET", b"http", authority.encode(), b"/authorize?x=1",
                       version.encode(), http.Headers(**({"Host": host} if host else {})), b"", None, 0.0, 0.0)
    want = _by_setters(req, p)
    point_upstream(req, p)
    assert req.data.scheme == want.data.scheme and req.host == want.host and req.port == want.port
    assert req.data.authority == want.data.authority
    assert req.headers.fields == want.headers.fields
    assert req.url == want.url and req.url.startswith(p.upstream.url.rstrip("/"))


def test_header_dict_joins_repeats_as_mitmproxy_does():
    from routing.mitm.flows import header_dict

    h = http.Headers([(b"Accept", b"a"), (b"accept", b"b"), (b"Cookie", b"x=1"), (b"cookie", b"sso_router=v"),
                      (b"X-Raw", b"caf\xc3\xa9"), (b"X-Bad", b"\xff")])
    d = header_dict(h)
    assert d["accept"] == h["accept"] == "a, b"
    assert d["cookie"] == "x=1; sso_router=v"
    assert d["x-raw"] == h["x-raw"] == "café"
    assert d["x-bad"] == h["x-bad"]  # undecodable bytes: the same surrogate escapes as mitmproxy


def test_only_the_first_running_freezes_and_reloads_never_do(mapping_file, tmp_path):
    """gc.freeze() pins whatever is alive (connections, flows, their cycles) for ever: it runs once
    per process, at the first running(), before the proxy is ready (mitm/heap.py); a script reload
    and every mapping reload freeze nothing (the mapping stays out of the GC's way by its shape,
    tests/unit/test_mapping_gc.py; tests/e2e/test_reload_memory.py measures the RSS)."""
    import gc

    from routing.mitm.watcher import watch_mapping

    async def fn(router, tctx):
        gc.unfreeze()
        router.running()
        first = gc.get_freeze_count()
        router.done()
        gc.unfreeze()
        tctx.configure(router, sso_mapping=str(mapping_file))
        router.running()  # a script reload: the same process
        again = gc.get_freeze_count()
        rt = router.runtime
        mapping_file.write_bytes(mapping_file.read_bytes() + b"\n# edited\n")
        task = asyncio.ensure_future(watch_mapping(rt.holder, rt.metrics))
        for _ in range(60):  # bounded: the watcher polls every 0.5 s
            await asyncio.sleep(0.1)
            if rt.metrics.get("sso_router_mapping_reloads_total", result="ok"):
                break
        task.cancel()
        reloaded = rt.metrics.get("sso_router_mapping_reloads_total", result="ok")
        after_reload = gc.get_freeze_count()
        router.done()
        return first, again, reloaded, after_reload
    first, again, reloaded, after_reload = with_router(fn, mapping_file)
    assert first > 1000 and again == 0 and reloaded == 1 and after_reload == 0
