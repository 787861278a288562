"""The login figures at the edge, in-process (taddons/tflow): what the hooks note, the figures task's
step against a store that fails or hangs (counted, bounded, never raised), ``/.sso-router/orgs``
answered from the store, and mitmweb's column and marks."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from mitmproxy import flow as flow_module
from mitmproxy import http
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons
from mitmproxy.tools.web.webaddons import WebAddon

from routing.errors import StoreUnavailable
from routing.figures.memory import MemoryFigures
from routing.mitm import figure_calls, figures_task
from routing.mitm.addon import SSORouter
from routing.mitm.outcome_watch import EXCHANGE
from routing.mitm.process import ProcessState
from tests.addon.harness import hook, make_flow, routing
from tests.unit.samples import saml_response


def answered(f: http.HTTPFlow, status: int, headers: dict | None = None, body: bytes = b"") -> http.HTTPFlow:
    f.response = http.Response.make(status, body, headers or {})
    return f


def acs_flow() -> http.HTTPFlow:
    body = f"SAMLResponse={saml_response(issuer='https://sts.windows.net/newco/')}&RelayState=r".encode()
    return make_flow(
        "/login/callback", "POST", body=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


async def test_the_hooks_note_outcomes_only_for_login_exchanges(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        rt = router.runtime
        asset = make_flow("/assets/app.css")
        await hook(router.request, asset)
        await hook(router.response, answered(asset, 200, {"content-type": "text/css"}))
        acs = acs_flow()
        await hook(router.request, acs)
        await hook(router.response, answered(acs, 302, {"location": "https://yourapp.com/cb?code=c0de&state=s"}))
        failed = acs_flow()
        await hook(router.request, failed)
        await hook(
            router.response,
            answered(
                failed, 302, {"location": "https://yourapp.com/cb?error=access_denied&error_description=No+such+user"}
            ),
        )
        batch = rt.figure_buffer.drain()
        _result = asset, acs, batch, rt.metrics
    asset, acs, batch, metrics = _result
    assert EXCHANGE not in asset.metadata and acs.metadata[EXCHANGE] == "acs"
    assert [(e.org, e.provider, e.stage, e.ok, e.kind) for e in batch.outcomes] == [
        ("newcompany.com", "scalekit", "login", True, None),
        ("newcompany.com", "scalekit", "login", False, "access_denied"),
    ]
    assert set(batch.routed) == {"legacy", "scalekit"}
    assert "No such user" not in repr(batch)  # a kind, never a description
    assert metrics.get("sso_router_login_outcomes_total", provider="scalekit", outcome="success") == 1
    assert metrics.get("sso_router_login_outcomes_total", provider="scalekit", outcome="failure") == 1


async def test_an_unreachable_provider_fails_the_login_exchange(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = acs_flow()
        await hook(router.request, f)
        f.error = flow_module.Error("sso-router: provider 'scalekit' failed: connection refused")
        router.error(f)
        gone = acs_flow()  # the browser went away: not the provider's failure
        await hook(router.request, gone)
        gone.error = flow_module.Error("Client disconnected.")
        router.error(gone)
        _result = router.runtime.figure_buffer.drain()
    batch = _result
    assert [(e.provider, e.ok, e.kind) for e in batch.outcomes] == [("scalekit", False, "upstream_error")]


class Down(MemoryFigures):
    """A figure store whose every call fails (a Redis that refuses connections)."""

    def __getattribute__(self, name):
        if name in ("record", "expire", "observe_flips", "figures", "unreturned_orgs", "routed"):

            def fail(*a, **k):
                raise StoreUnavailable("figures down", "refused")

            return fail
        return super().__getattribute__(name)


async def test_a_failing_figure_store_is_counted_and_never_raised(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        rt = router.runtime
        rt.figures = Down(clock=time.time)
        rt.figure_buffer.outcome("newcompany.com", "scalekit", "login", True, None, time.time())
        for _ in range(2):  # a flush, then a flush and a check
            await rt.figures_task.step()
        page = make_flow("/.sso-router/orgs/newcompany.com")
        await hook(router.request, page)
        _result = rt.metrics, page
    metrics, page = _result
    for op in ("figures_flips", "figures_record", "figures_expire", "figures_read"):
        assert metrics.get("sso_router_store_errors_total", operation=op, kind="refused") >= 1, op
    assert page.response.status_code == 503
    assert json.loads(page.response.content)["error"] == "figure store unavailable"


async def test_a_hung_figure_store_delays_nothing_but_its_own_calls(mapping_file, monkeypatch):
    release = threading.Event()

    class Hung(MemoryFigures):
        def figures(self, orgs, now, *, windows):
            release.wait(10)
            return super().figures(orgs, now, windows=windows)

    with routing(mapping_file, sso_store_timeout="0.3") as (router, _tctx):
        rt = router.runtime
        rt.figures = Hung(clock=time.time)
        try:
            started = time.monotonic()
            pages = [make_flow("/.sso-router/orgs/newcompany.com") for _ in range(figure_calls.MAX_PENDING + 1)]
            await asyncio.gather(*(hook(router.request, p) for p in pages))
            took = time.monotonic() - started
            routed = make_flow("/authorize?login_hint=bob@newcompany.com")
            await hook(router.request, routed)  # routing never asks the figure store
            metrics = rt.metrics
        finally:
            release.set()
    assert [p.response.status_code for p in pages] == [503] * len(pages)
    assert took < 3, took  # each waited its bound (0.3 s), not the hung call
    assert (
        metrics.get("sso_router_store_errors_total", operation="figures_read", kind="timeout")
        == figure_calls.MAX_PENDING
    )
    assert metrics.get("sso_router_store_errors_total", operation="figures_read", kind="busy") == 1
    assert routed.metadata["sso_router"]["provider"] == "scalekit"


async def test_orgs_pages_come_from_the_figure_store(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        rt = router.runtime
        rt.figure_buffer.outcome("newcompany.com", "scalekit", "login", False, "http_4xx", time.time())
        await rt.figures_task.step()
        one, every, unknown = (
            make_flow(p)
            for p in ("/.sso-router/orgs/newco.io", "/.sso-router/orgs", "/.sso-router/orgs/nobody.example")
        )
        for f in (one, every, unknown):
            await hook(router.request, f)
        _result = one, every, unknown
    one, every, unknown = _result
    page = json.loads(one.response.content)
    assert page["org"] == "newcompany.com" and page["migrated_since"] is not None
    assert page["outcomes"]["5m"]["scalekit"]["login"] == {"success": 0, "failure": 1}
    assert page["last_failure"]["kind"] == "http_4xx"
    assert [o["org"] for o in json.loads(every.response.content)["orgs"]] == ["newcompany.com", "megasoft.com"]
    assert unknown.response.status_code == 404


async def test_memory_figures_outlive_a_script_reload(mapping_file):
    process = ProcessState()
    for note in (True, False):  # the second router is the reloaded script's
        with routing(mapping_file, process=process) as (router, _tctx):
            if note:
                router.runtime.figure_buffer.outcome("megasoft.com", "legacy", "login", True, None, time.time())
            router.done()  # the last batch goes to the process's store
    fig = process.memory_figures.figures(["megasoft.com"], time.time(), windows=False)["megasoft.com"]
    assert fig.since_flip["legacy"].login.success == 1


async def under_web(mapping_file, **opts):
    router = SSORouter(ProcessState())
    with taddons.context(Proxyserver(), WebAddon(), router) as tctx:
        tctx.configure(router, sso_mapping=str(mapping_file), sso_secret="s3cret", **opts)
        flows = [
            make_flow(p)
            for p in (
                "/authorize?login_hint=bob@newcompany.com",
                "/authorize?login_hint=alice@megasoft.com",
                "/assets/x.css",
            )
        ]
        for f in flows:
            await hook(router.request, f)
        return list(tctx.options.web_columns), [f.marked for f in flows]


async def test_mitmweb_gets_the_comment_column_and_marks(mapping_file):
    columns, marks = await under_web(mapping_file)
    assert columns == ["tls", "icon", "path", "method", "status", "size", "time", "comment"]
    assert marks == [":large_blue_circle:", ":orange_circle:", ":white_circle:"]
    columns, marks = await under_web(mapping_file, web_columns=["path", "status"])
    assert columns == ["path", "status"]  # the user's choice stands
    assert marks[0] == ":large_blue_circle:"


async def test_mitmdump_marks_nothing(mapping_file):
    with routing(mapping_file) as (router, _tctx):
        f = make_flow("/authorize?login_hint=bob@newcompany.com")
        await hook(router.request, f)
        _result = f
    assert _result.marked == ""


def test_the_canary_reads_active_orgs_first_then_the_others_in_turn(monkeypatch):
    from routing.mitm import figures_task

    monkeypatch.setattr(figures_task, "MAX_JUDGED", 3)
    t = figures_task.FiguresTask(rt=None)  # _pick needs no runtime
    watch = {f"o{i}": 0.0 for i in range(7)}
    assert t._pick(watch, {"o5", "gone"}) == ["o5", "o0", "o1"]  # an active org no longer watched is skipped
    assert t._pick(watch, set()) == ["o2", "o3", "o4"]
    assert t._pick(watch, set()) == ["o5", "o6", "o0"]  # round again
    assert t._pick({}, set()) == []


async def test_an_idle_router_checks_expiry_without_a_thread_hand_off(mapping_file, monkeypatch):
    with routing(mapping_file) as (router, _tctx):
        rt = router.runtime
        assert rt.figures is rt.process.memory_figures
        calls: list[str] = []
        real = rt.figure_calls.submit
        monkeypatch.setattr(rt.figure_calls, "submit", lambda op, fn, *a: calls.append(op) or real(op, fn, *a))
        for _ in range(4):  # two checks with nothing due
            await rt.figures_task.step()
        idle = list(calls)
        gone = time.time() - 3600  # a login that left an hour ago and never came back
        rt.figure_buffer.departure("newcompany.com", "scalekit", ("k" * 40,), gone, 900)
        for _ in range(2):  # a flush, then a flush and a check
            await rt.figures_task.step()
        lost = rt.metrics.get("sso_router_logins_unreturned_total", provider="scalekit")
    assert "figures_expire" not in idle
    assert calls.count("figures_expire") == 1
    assert lost == 1


async def test_a_small_batch_goes_into_the_own_store_on_the_loop_a_big_one_or_a_busy_store_in_a_thread(
    mapping_file, monkeypatch
):
    with routing(mapping_file) as (router, _tctx):
        rt = router.runtime
        await rt.figures_task.step()  # the mapping's flips first
        calls: list[str] = []
        real = rt.figure_calls.submit
        monkeypatch.setattr(rt.figure_calls, "submit", lambda op, fn, *a: calls.append(op) or real(op, fn, *a))
        now = time.time()
        rt.figures._next_sweep = now + 3600  # no sweep due in this test

        def outcomes(n: int) -> None:
            for _ in range(n):
                rt.figure_buffer.outcome("newcompany.com", "scalekit", "login", True, None, now)

        def since() -> int:
            f = rt.figures.figures(["newcompany.com"], now, windows=False)["newcompany.com"]
            return f.since_flip["scalekit"].login.success

        outcomes(3)
        await rt.figures_task.flush()
        small = (list(calls), since())
        outcomes(figures_task.RECORD_HERE_MAX + 1)
        await rt.figures_task.flush()
        big = (list(calls), since())
        calls.clear()
        outcomes(2)
        held, go = threading.Event(), threading.Event()  # another thread reading the store meanwhile

        def reader() -> None:
            with rt.figures._lock:
                held.set()
                go.wait(5)

        t = threading.Thread(target=reader)
        t.start()
        held.wait(5)
        flushed = asyncio.ensure_future(rt.figures_task.flush())
        await asyncio.sleep(0.05)
        go.set()
        await flushed
        t.join(5)
        busy = (list(calls), since())
    assert small == ([], 3)
    assert big == (["figures_record"], 3 + figures_task.RECORD_HERE_MAX + 1)
    assert busy == (["figures_record"], 3 + figures_task.RECORD_HERE_MAX + 1 + 2)
