"""The hooks of ``SSORouter`` (routing/mitm/addon.py) in-process: mitmproxy's ``taddons``/``tflow``,
each hook called as mitmproxy calls it, the flow asserted on."""

from __future__ import annotations

import asyncio
import base64
import gc
import inspect
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from mitmproxy import flow as flow_module
from mitmproxy import http

from routing import pipeline
from tests.addon.harness import FORM, hook, make_flow, routing, write_mapping
from tests.unit.samples import saml_response


async def test_sets_lazy_connections_and_keeps_host(mapping_file):
    with routing(mapping_file) as (_router, tctx):
        assert (tctx.options.connection_strategy, tctx.options.keep_host_header) == ("lazy", True)


async def test_routes_by_org_and_marks_the_flow(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=bob@newcompany.com&response_type=code")
        await hook(router.request, f)
    assert (f.request.scheme, f.request.host, f.request.port) == ("https", "yourapp.scalekit.com", 8443)
    assert f.request.headers["host"] == "yourapp.scalekit.com:8443"
    assert f.request.path == "/authorize?login_hint=bob@newcompany.com&response_type=code"
    assert f.metadata["sso_router"]["provider"] == "scalekit"
    assert f.metadata["sso_router"]["reason"] == "org"
    assert f.metadata["sso_router"]["org"] == "newcompany.com"
    assert f.metadata["sso_router"]["identifier"] == "login_hint domain"
    assert f.comment == "→ scalekit · org · org newcompany.com · login_hint domain"


async def test_foreign_host_gets_421(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize", host="evil.example")
        await hook(router.request, f)
    assert f.response.status_code == 421


async def test_host_with_port_and_case_is_served(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/x", host="LOCALHOST:8080")
        await hook(router.request, f)
    assert f.response is None and f.metadata["sso_router"]["reason"] == "default"


async def test_builtin_endpoints_are_answered_not_forwarded(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/.sso-router/ready", host="10.0.0.1")
        await hook(router.request, f)
        assert f.response.status_code == 503 and b"starting" in f.response.content
        router.running()
        answers = []
        for path in ("/.sso-router/ready", "/.sso-router/health", "/.sso-router/metrics", "/.sso-router/nope"):
            f = make_flow(path, host="10.0.0.1")
            await hook(router.request, f)
            answers.append(f.response)
    ready, health, metrics, nope = answers
    assert ready.status_code == 200 and health.status_code == 200 and nope.status_code == 404
    h = json.loads(health.content)
    assert h["mapping"]["orgs"] == 2 and h["store"]["ok"] is True and len(h["mapping"]["version"]) == 16
    assert b"sso_router_decision_seconds_count" in metrics.content


async def test_response_rewrites_location_and_cookie_and_sets_sticky(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        f.response = http.Response.make(
            302, b"", {"location": "https://yourapp.scalekit.com:8443/u/login?state=HOSTED1"}
        )
        f.response.headers.add("set-cookie", "sid=1; Domain=yourapp.scalekit.com; Path=/")
        f.response.headers.add("set-cookie", "other=1; Domain=elsewhere.com")
        await hook(router.response, f)
        # the hosted page follows the state even with a sticky cookie naming legacy
        g = make_flow("/u/login?state=HOSTED1")
        await hook(router.request, g)
    assert f.response.headers["location"] == "https://auth.yourapp.com/u/login?state=HOSTED1"
    cookies = f.response.headers.get_all("set-cookie")
    assert "sid=1; Domain=auth.yourapp.com; Path=/" in cookies
    assert "other=1; Domain=elsewhere.com" in cookies
    assert any(c.startswith("sso_router=") and "HttpOnly" in c and "SameSite=None; Secure" in c for c in cookies)
    assert f.response.headers["x-sso-route"] == "scalekit; reason=org"
    assert g.metadata["sso_router"]["reason"] == "correlation"
    assert g.metadata["sso_router"]["provider"] == "scalekit"


async def test_code_redirect_goes_to_app_callback_and_is_remembered(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/login/callback", method="POST", body=b"RelayState=x", headers=FORM)
        await hook(router.request, f)
        f.response = http.Response.make(302, b"", {"location": "https://yourapp.com/cb?code=CODE1&state=app"})
        await hook(router.response, f)
        t = make_flow("/oauth/token", method="POST", body=b"grant_type=authorization_code&code=CODE1", headers=FORM)
        await hook(router.request, t)
    loc = urlsplit(f.response.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://yourapp.com/auth/ext-provider/callback"
    assert parse_qs(loc.query) == {"code": ["CODE1"], "state": ["app"]}
    assert t.metadata["sso_router"]["reason"] == "correlation" and t.metadata["sso_router"]["provider"] == "legacy"


async def test_target_paths_for_migrated_org(mapping_file):
    body = ("SAMLResponse=" + saml_response("https://sts.windows.net/newco/").replace("+", "%2B")).encode()
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/login/callback?x=1", method="POST", body=body, headers=FORM)
        await hook(router.request, f)
    assert f.request.path == "/sso/v1/saml/conn_01HNEWCO/acs?x=1"
    assert f.request.content == body  # byte for byte


async def test_headers_host_header_client_ip(tmp_path):
    from tests.unit.samples import MAPPING

    p = tmp_path / "m.toml"
    p.write_bytes(
        MAPPING.replace(
            b'app_callback = "https://yourapp.com/auth/ext-provider/callback"',
            b'app_callback = "https://yourapp.com/auth/ext-provider/callback"\n'
            b'headers = { "cname-api-key" = "k1" }\nhost_header = "login.yourapp.com"\n'
            b'client_ip_header = "True-Client-IP"',
        )
    )
    with routing(p) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        await hook(router.request, f)
    assert f.request.host == "yourapp.us.auth0.com"
    assert f.request.headers["host"] == "login.yourapp.com"
    assert f.request.headers["cname-api-key"] == "k1"
    assert f.request.headers["true-client-ip"] == f.client_conn.peername[0]


async def test_shadow_forwards_to_default_and_says_so(tmp_path):
    p = write_mapping(tmp_path / "m.toml", b"shadow = true\ndebug_headers = true")
    with routing(p) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        f.response = http.Response.make(200, b"ok")
        await hook(router.response, f)
    assert f.request.host == "yourapp.us.auth0.com"
    assert f.metadata["sso_router"]["provider"] == "scalekit" and f.metadata["sso_router"]["shadow"] is True
    assert f.response.headers["x-sso-route"] == "scalekit; reason=org; shadow"
    assert "shadow" in f.comment


async def test_guard_skips_handled_flows(mapping_file):
    """Like mitmproxy's own addons: a flow another addon already answered is left alone."""
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        f.response = http.Response.make(204)
        await hook(router.request, f)
    assert "sso_router" not in f.metadata and f.request.host == "legacy.invalid"


async def test_forged_sticky_cookie_is_ignored(mapping_file):
    bad = base64.urlsafe_b64encode(b"scalekit||9999999999").decode().rstrip("=") + ".AAAA"
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/u/assets/x.css", headers=[("cookie", f"sso_router={bad}")])
        await hook(router.request, f)
    assert f.metadata["sso_router"]["reason"] == "default"


async def test_metrics_count_decisions_parse_failures_and_refusals(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        for path, host in (
            ("/authorize?login_hint=a@newcompany.com", "auth.yourapp.com"),
            ("/acs?SAMLResponse=%%%not-base64", "auth.yourapp.com"),
            ("/x", "evil.example"),
        ):
            await hook(router.request, make_flow(path, host=host))
        f = make_flow("/.sso-router/metrics", host="10.1.1.1")
        await hook(router.request, f)
    text = f.response.text
    assert 'sso_router_decisions_total{provider="scalekit",reason="org",shadow="false"} 1.0' in text
    assert 'sso_router_parse_failures_total{kind="saml"} 1.0' in text
    assert 'sso_router_refused_total{status="421"} 1.0' in text
    assert "sso_router_decision_seconds_count 2.0" in text
    assert "newcompany" not in text and "not-base64" not in text


async def test_blocking_store_path_remembers_and_recalls(mapping_file, tmp_path):
    """With sqlite (a blocking store) both hooks return coroutines; the correlation still works."""
    with routing(mapping_file, sso_store=f"sqlite:///{tmp_path}/c.db") as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        assert f.metadata == {}
        res = router.request(f)
        assert inspect.isawaitable(res) is False  # no correlation candidate: decided synchronously
        f.response = http.Response.make(
            302, b"", {"location": "https://idp.example/authorize?client_id=c&response_type=code&state=ST-SQL"}
        )
        res = router.response(f)
        assert inspect.isawaitable(res)  # the state must reach the store before the browser moves on
        await res
        g = make_flow("/cb?state=ST-SQL")
        res = router.request(g)
        assert inspect.isawaitable(res)
        await res
    assert (g.metadata["sso_router"]["provider"], g.metadata["sso_router"]["reason"]) == ("scalekit", "correlation")


async def test_http2_cookie_crumbs_carry_the_sticky_cookie(mapping_file):
    """Over HTTP/2 each cookie is its own header field; mitmproxy joins repeated headers with ', '."""
    with routing(mapping_file) as (router, _tctx):
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
    assert (g.metadata["sso_router"]["provider"], g.metadata["sso_router"]["reason"]) == ("scalekit", "sticky")


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd", "deflate"])
async def test_compressed_bodies_are_decoded_within_max_body(mapping_file, encoding):
    # http.Request.make encodes the content per its Content-Encoding, as a client would send it
    headers = [*FORM, ("content-encoding", encoding)]
    with routing(mapping_file) as (router, _tctx):
        small = make_flow("/sso-login", method="POST", body=b"email=a%40newcompany.com", headers=headers)
        assert small.request.raw_content != b"email=a%40newcompany.com"
        await hook(router.request, small)
        bomb = make_flow(
            "/sso-login", method="POST", body=b"email=a%40newcompany.com&x=" + b"A" * 5_000_000, headers=headers
        )
        assert len(bomb.request.raw_content) < 1_048_576  # small on the wire, 5 MB inflated
        await hook(router.request, bomb)
        failures = router.runtime.metrics.get("sso_router_parse_failures_total", kind="body")
    assert small.metadata["sso_router"]["org"] == "newcompany.com"
    assert bomb.metadata["sso_router"]["reason"] == "default" and failures == 1  # not inspected, counted
    assert bomb.request.headers["content-encoding"] == encoding  # forwarded untouched


async def test_a_core_failure_routes_to_default_not_the_placeholder(mapping_file, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(pipeline, "begin", boom)
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@newcompany.com")
        await hook(router.request, f)
        internal = router.runtime.metrics.get("sso_router_parse_failures_total", kind="internal")
    assert f.request.host == "yourapp.us.auth0.com" and f.metadata["sso_router"]["reason"] == "default"
    assert internal == 1


async def test_undecodable_force_header_with_a_secret_does_not_raise(tmp_path):
    p = write_mapping(tmp_path / "m.toml", b'force_header_secret = "s3"')
    with routing(p) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        f.request.headers["x-force-sk-route"] = "\udcff"  # as mitmproxy decodes a raw 0xff byte
        await hook(router.request, f)
    assert (f.metadata["sso_router"]["provider"], f.metadata["sso_router"]["reason"]) == ("legacy", "org")


@pytest.mark.parametrize(
    "msg,counted",
    [
        ("sso-router: provider 'legacy' (https://x) failed: Connection refused", True),
        ("Client disconnected.", False),
        ("Connection killed.", False),
    ],
)
async def test_only_upstream_failures_count_as_upstream_errors(mapping_file, msg, counted):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=a@megasoft.com")
        await hook(router.request, f)
        f.error = flow_module.Error(msg)
        router.error(f)
        errors = router.runtime.metrics.get("sso_router_upstream_errors_total", provider="legacy")
    assert errors == (1 if counted else 0)


async def test_only_the_first_running_freezes_and_reloads_never_do(mapping_file):
    """gc.freeze() pins whatever is alive (connections, flows, their cycles) for ever: it runs once
    per process, at the first running(), before the proxy is ready (mitm/heap.py); a script reload
    and every mapping reload freeze nothing (the mapping stays out of the GC's way by its shape,
    tests/unit/test_mapping_gc.py; tests/e2e/test_reload_memory.py measures the RSS)."""
    from routing.mitm.watcher import watch_mapping

    with routing(mapping_file) as (router, tctx):
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
    assert first > 1000 and again == 0 and reloaded == 1 and after_reload == 0
