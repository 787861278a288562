"""``SSORouter``: flow -> view -> core -> apply. Routing rules live in the core, not here."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import time
from typing import Any, Awaitable

from mitmproxy import ctx, exceptions, http, optmanager
from mitmproxy import flow as flow_module
from mitmproxy.proxy import server_hooks
from mitmproxy.net.tls import starts_like_tls_record
from mitmproxy.proxy import tunnel
from mitmproxy.proxy.layers import ClientTLSLayer, HttpLayer
from mitmproxy.proxy.layers.http import HTTPMode
from mitmproxy.proxy.layers.modes import ReverseProxy
from mitmproxy.proxy.mode_specs import ReverseMode
from mitmproxy.utils import asyncio_utils

from .. import endpoints
from ..audit import DecisionLog, decision_record
from .. import pipeline
from ..correlation import safe_url
from ..errors import MappingError
from ..metrics import Metrics
from ..model import Decision, Mapping, Provider, Reason, Route
from ..reload import MappingHolder
from ..rewrite import rewrite_set_cookie
from . import errorpage, views
from .store_guard import StoreGuard
from .flows import REQUEST_META, authority_host, header_dict, response_view, view_from_flow

log = logging.getLogger("sso_router")
VERSION = "0.1.0"
META = "sso_router"  # flow.metadata key of the decision
RELOAD_INTERVAL = 0.5  # seconds between mapping mtime polls


# Per process, not per addon instance: `-s` scripts are rebuilt when edited (done(), then a new
# SSORouter), but this module is not reloaded. The random key that memory-store entries are hashed
# with must survive that, as the memory store does (store_guard).
_PROCESS: dict[str, Any] = {}


def _process_secret() -> bytes:
    return _PROCESS.setdefault("secret", secrets.token_bytes(32))


class SSORouter:
    def __init__(self) -> None:
        self.holder: MappingHolder | None = None
        self.metrics = Metrics()
        self.stores = StoreGuard(self.metrics)
        self.secret = b""
        self.decision_log: DecisionLog | None = None
        self.serving = False  # set by running(): /ready stays 503 until mitmproxy is fully up
        self._watcher: asyncio.Task | None = None
        self._pinger: asyncio.Task | None = None
        self._upstreams: tuple[Mapping | None, dict[tuple[str, int], Provider]] = (None, {})
        self._quieted = False
        self._names_errors = False
        self._flow_lines = False  # print a line per flow (set when the dumper's own lines were turned off)

    # -- configuration -------------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        views.register()
        self._names_errors = errorpage.install(META)  # upstream failures' messages then name the provider
        loader.add_option("sso_mapping", str, "mapping.toml",
                          "Path of the sso-router TOML mapping; re-read when it changes.")
        loader.add_option("sso_store", str, "memory://",
                          "Where in-flight login correlations live: memory://, sqlite:///path, redis://host:port/db.")
        # a str, not a float: mitmproxy 12.2 cannot parse float options given with --set
        loader.add_option("sso_store_timeout", str, "0.25", "Seconds one correlation store call may take.")
        loader.add_option("sso_secret", str, "",
                          "Key for the sticky cookie and correlation hashes (default: env SSO_ROUTER_SECRET).")
        loader.add_option("sso_decision_log", str, "", "Path of a JSON-lines decision log (empty: off).")

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        # Before the proxy listens: reverse mode must not connect to the --mode placeholder,
        # and must keep the browser's Host for routing (CONTRACT "Running").
        if "connection_strategy" in opts and (opts.connection_strategy != "lazy" or not opts.keep_host_header):
            opts.update(connection_strategy="lazy", keep_host_header=True)
        if not self._quieted:
            self._quieted = True
            self._quiet_dumper()
            self._early_certstore()
        if "sso_mapping" in updated:
            holder = MappingHolder(opts.sso_mapping, clock=time.time)
            try:
                holder.load()
            except MappingError as e:
                raise exceptions.OptionsError(f"sso_mapping {opts.sso_mapping}: {e}") from e
            self.holder = holder
            views.register(holder.mapping.settings.limits)
            log.info(f"sso-router: mapping {holder.path} loaded ({holder.last.message})")
        if "sso_secret" in updated or "sso_store" in updated or not self.secret:
            self._configure_secret(opts.sso_secret or os.environ.get("SSO_ROUTER_SECRET", ""), opts.sso_store)
        if "sso_store" in updated or "sso_store_timeout" in updated or self.stores.store is None:
            timeout = parse_timeout(opts.sso_store_timeout)
            try:  # at startup a ping is bounded and expected; at runtime it would block the event loop
                self.stores.open(opts.sso_store, timeout=timeout, check_now=not self.serving)
            except ValueError as e:
                raise exceptions.OptionsError(f"sso_store: {e}") from e
        if "sso_decision_log" in updated:
            if self.decision_log is not None:
                self.decision_log.close()
                self.decision_log = None
            if opts.sso_decision_log:
                try:
                    self.decision_log = DecisionLog(opts.sso_decision_log)
                except OSError as e:
                    raise exceptions.OptionsError(f"sso_decision_log: {e}") from e

    def _quiet_dumper(self) -> None:
        """mitmdump's flow lines print whole URLs (codes, states, tokens in queries). Unless the
        user chose a flow_detail, turn them off and print the router's own secret-free line per
        flow instead, to stdout as the dumper does (a log record would fire an add_log event
        through every addon: ~7% of the proxy's CPU)."""
        opt = getattr(ctx.options, "_options", {}).get("flow_detail")
        if opt is None:
            return  # not mitmdump (mitmweb shows flows in its UI)
        if _PROCESS.get("quieted_dumper") and ctx.options.flow_detail == 0:
            self._flow_lines = True  # a script reload: flow_detail reads 0 because the router set it
        elif opt.value is optmanager.unset and opt.default != 0:
            _PROCESS["quieted_dumper"] = True
            ctx.options.update(flow_detail=0)
            self._flow_lines = True
        elif ctx.options.flow_detail >= 1:
            log.warning("sso-router: flow_detail=%s prints whole URLs, which carry codes, states and tokens; "
                        "leave it unset to get the router's own line per request instead", ctx.options.flow_detail)

    @staticmethod
    def _early_certstore() -> None:
        """mitmproxy 12.2's tlsconfig builds its cert store in running(), after the proxy
        listens; its request hook (ahead of ours) raises on any request in between, and
        that ERROR record makes mitmdump exit. Build the store now, as running() would."""
        master = getattr(ctx, "master", None)
        tls = master.addons.get("tlsconfig") if master is not None else None
        if tls is not None and getattr(tls, "certstore", None) is None:
            try:
                tls.configure({"confdir"})
            except Exception as e:  # noqa: BLE001 — running() will try again, as it always does
                log.warning(f"sso-router: could not prepare mitmproxy's certificate store early: {e}")

    def _configure_secret(self, secret: str, store_url: str) -> None:
        if secret:
            self.secret = secret.encode()
        elif store_url.startswith("memory"):
            if self.secret == _process_secret():
                return  # already warned
            self.secret = _process_secret()
            log.warning("sso-router: no sso_secret (or SSO_ROUTER_SECRET) set: using a random per-process key; "
                        "sticky cookies and correlations will not survive a restart")
        else:
            raise exceptions.OptionsError(
                f"sso_secret is required with sso_store={safe_url(store_url)}: instances sharing a store must share a key "
                "(set --set sso_secret=... or SSO_ROUTER_SECRET)")

    def running(self) -> None:
        self.serving = True
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio_utils.create_task(self._watch(), name="sso-router mapping watcher", keep_ref=True)
        if self._pinger is None or self._pinger.done():
            self._pinger = asyncio_utils.create_task(self.stores.ping_forever(), name="sso-router store health",
                                                     keep_ref=True)

    def done(self) -> None:
        views.unregister()
        for task in (self._watcher, self._pinger):
            if task is not None:
                task.cancel()
        self._watcher = self._pinger = None
        self.stores.close()
        if self.decision_log is not None:
            self.decision_log.close()
        # as new: a script reload hands this same instance (routing/mitm/script.py) to load()
        # and configure() again
        self.__init__()  # type: ignore[misc]

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            holder = self.holder
            if holder is None or not holder.changed():
                continue  # the common case: a stat on the loop, no thread hand-off
            try:
                result = await asyncio.to_thread(holder.reload_if_changed)
            except Exception as e:  # noqa: BLE001 — the watcher must outlive any one bad read
                log.warning(f"sso-router: mapping reload failed: {type(e).__name__}: {e}")
                continue
            if result.status == "ok":
                self.metrics.inc("sso_router_mapping_reloads_total", result="ok")
                log.info(f"sso-router: mapping {holder.path} reloaded: {result.message}")
            elif result.status == "rejected":
                self.metrics.inc("sso_router_mapping_reloads_total", result="failed")
                log.warning(f"sso-router: mapping {holder.path} NOT reloaded, keeping the last good one: "
                            f"{result.message}")

    # -- the request path ----------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous unless a blocking store must be asked: then it returns the coroutine that
        finishes the decision, which mitmproxy awaits (it awaits any awaitable a hook returns)."""
        if flow.response or flow.error or not flow.live:
            return None
        req = flow.request
        raw_path = req.path
        if raw_path.startswith(endpoints.PREFIX):
            status, headers, body = endpoints.answer(raw_path.split("?", 1)[0], req.method, self.holder,
                                                     self.stores.status, self.metrics, VERSION, self.serving)
            flow.response = http.Response.make(status, body, headers)
            return None
        m = self.holder.mapping if self.holder else None
        if m is None:
            flow.response = http.Response.make(503, b"sso-router: no mapping loaded\n", {"content-type": "text/plain"})
            return None
        started = time.perf_counter()
        s = m.settings
        view = view_from_flow(flow, s.limits.max_body, raw_path)
        if view.host not in s.hosts:
            self.metrics.inc("sso_router_refused_total", status="421")
            flow.response = http.Response.make(
                421, f"sso-router: this proxy does not serve host {view.host!r}\n".encode(),
                {"content-type": "text/plain"})
            return None
        try:
            pending = pipeline.begin(view, m, self.secret)
        except Exception as e:  # noqa: BLE001 — a bug must not lose the request: default, counted
            return self._fallback(flow, m, e, started)
        for kind, msg in pending.clues.failures:
            self.metrics.inc("sso_router_parse_failures_total", kind=kind)
            log.info("sso-router: %s %s: could not read %s: %s", req.method, view.path, kind, msg)
        if not pending.keys:
            return self._decided(flow, m, pending, {}, started)
        if not self.stores.blocking:
            return self._decided(flow, m, pending, self.stores.recall_now(pending.store_keys), started)
        return self._decide_after_store(flow, m, pending, started)

    def _fallback(self, flow: http.HTTPFlow, m: Mapping, e: BaseException, started: float) -> None:
        """Route a request the core failed on to default_provider (never to the --mode placeholder)."""
        self.metrics.inc("sso_router_parse_failures_total", kind="internal")
        log.warning("sso-router: internal error (%s) deciding %s %s; sent to %s", type(e).__name__,
                    flow.request.method, flow.request.path.split("?", 1)[0], m.settings.default_provider)
        s = m.settings
        d = Decision(s.default_provider, Reason.DEFAULT, None, "internal error (counted)", s.default_provider, s.shadow)
        flow.metadata[REQUEST_META] = {"authority": flow.request.host_header or "", "path": flow.request.path}
        self._apply(flow, d, m, flow.request.path.split("?", 1)[0], "")
        self._count(d, started)
        return None

    async def _decide_after_store(self, flow: http.HTTPFlow, m: Mapping, pending: pipeline.Pending,
                                  started: float) -> None:
        self._decided(flow, m, pending, await self.stores.recall(pending.store_keys), started)

    def _decided(self, flow: http.HTTPFlow, m: Mapping, pending: pipeline.Pending, recalled: dict[str, Route],
                 started: float) -> None:
        req = flow.request
        view = pending.view
        try:
            d = pipeline.conclude(pending, m, recalled, secret=self.secret, now=time.time())
        except Exception as e:  # noqa: BLE001
            return self._fallback(flow, m, e, started)
        # what the browser sent, before the request is pointed upstream: replay and explain need it
        authority = req.host_header if req.is_http2 or req.is_http3 else view.headers.get("host")
        flow.metadata[REQUEST_META] = {"authority": authority or "", "path": req.path}
        self._apply(flow, d, m, view.path, view.query)
        self._count(d, started)
        return None

    def _count(self, d: Decision, started: float) -> None:
        self.metrics.inc("sso_router_decisions_total", provider=d.provider, reason=d.reason.value,
                         shadow="true" if d.shadow else "false")
        self.metrics.observe_decision(time.perf_counter() - started)

    def _apply(self, flow: http.HTTPFlow, d: Decision, m: Mapping, path: str, query: str) -> None:
        req = flow.request
        p = m.providers[d.forward_to]
        org = m.orgs.get(d.org) if d.org else None
        if org is not None and org.target_paths and d.forward_to == m.settings.migration_target:
            new = org.target_paths.get(path)
            if new is not None:
                req.path = new + (f"?{query}" if query else "")
        point_upstream(req, p)
        if p.client_ip_header and flow.client_conn.peername:
            req.headers[p.client_ip_header] = flow.client_conn.peername[0]
        up = p.upstream
        flow.metadata[META] = {
            "provider": d.provider, "reason": d.reason.value, "org": d.org, "identifier": d.evidence,
            "forwarded_to": d.forward_to, "shadow": d.shadow, "upstream": up.url,
        }
        flow.comment = describe(d)

    # -- the response path ---------------------------------------------------------------------
    def response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous unless what the response taught must go to a blocking store: then the
        returned coroutine holds the response until it is stored, before the browser moves on."""
        meta = flow.metadata.get(META)
        m = self.holder.mapping if self.holder else None
        if not meta or m is None or flow.response is None:
            return None
        resp = flow.response
        p = m.providers.get(meta["forwarded_to"])
        entries = self._learn(flow, resp, p, m, meta) if p is not None else []
        s = m.settings
        if cookie := pipeline.sticky_cookie(self._decision(meta), m, secret=self.secret, now=time.time()):
            resp.headers.add("set-cookie", cookie)
        if s.debug_headers:
            resp.headers["x-sso-route"] = route_header(meta)
        if self._flow_lines:
            flow_line(flow, resp.status_code)
        self._log_decision(flow, meta, resp.status_code, None)
        if not entries:
            return None
        if self.stores.blocking:
            return self.stores.remember(entries)
        self.stores.remember_now(entries)
        return None

    def _learn(self, flow: http.HTTPFlow, resp: http.Response, p: Provider, m: Mapping,
               meta: dict) -> list[tuple[str, Route, int]]:
        """Apply the response plan (Location, Set-Cookie) and return what to remember."""
        try:
            hdrs = header_dict(resp.data.headers)
            view = response_view(flow, want_body=200 <= resp.status_code < 300 and not resp.stream,
                                 max_body=m.settings.limits.max_body, headers=hdrs)
            if view.location is None and not view.body and "set-cookie" not in hdrs:
                return []  # nothing to rewrite, nothing to remember (most responses)
            plan, entries = pipeline.learn(view, p, m, meta["org"], self.secret)
        except Exception as e:  # noqa: BLE001 — the response still goes out, unchanged; counted
            self.metrics.inc("sso_router_parse_failures_total", kind="internal")
            log.warning("sso-router: internal error (%s) reading %s's response", type(e).__name__, p.name)
            return []
        if plan.location is not None:
            resp.headers["location"] = plan.location
        if "set-cookie" in hdrs:
            cookies = resp.headers.get_all("set-cookie")
            host = m.settings.public_netloc.rsplit(":", 1)[0]
            new = [rewrite_set_cookie(c, p, host) for c in cookies]
            if new != cookies:
                resp.headers.set_all("set-cookie", new)
        for kind, _ in plan.failures:
            self.metrics.inc("sso_router_parse_failures_total", kind=kind)
        return entries

    def error(self, flow: http.HTTPFlow) -> None:
        meta = flow.metadata.get(META)
        if not meta:
            return
        msg = flow.error.msg if flow.error else "unknown error"
        upstream = msg.startswith("sso-router: provider") if self._names_errors else (
            msg not in ("Client disconnected.", flow_module.Error.KILLED_MESSAGE))
        if flow.response is not None or not upstream:
            # the browser went away (or the flow was killed): not the provider's failure
            self._log_decision(flow, meta, flow.response.status_code if flow.response else None, msg)
            return
        self.metrics.inc("sso_router_upstream_errors_total", provider=meta["forwarded_to"])
        log.warning("sso-router: upstream %r failed for %s %s: %s", meta["forwarded_to"], flow.request.method,
                    flow.metadata.get(REQUEST_META, {}).get("path", "").split("?", 1)[0], msg)
        self._log_decision(flow, meta, 502, msg)

    def _log_decision(self, flow: http.HTTPFlow, meta: dict, status: int | None, error: str | None) -> None:
        if self.decision_log is None:
            return
        started = flow.request.timestamp_start
        d = self._decision(meta)
        req = flow.request
        orig = flow.metadata.get(REQUEST_META, {})
        rec = decision_record(
            d, flow_id=flow.id, method=req.method, host=authority_host(orig.get("authority", "")),
            path=orig.get("path", "").split("?", 1)[0],
            at=flow.timestamp_created, status=status,
            latency_ms=(time.time() - started) * 1000 if started else None, error=error)
        try:
            self.decision_log.write(rec)
        except (OSError, ValueError) as e:
            log.warning(f"sso-router: cannot write the decision log: {e}")

    @staticmethod
    def _decision(meta: dict) -> Decision:
        return Decision(meta["provider"], Reason(meta["reason"]), meta["org"], meta["identifier"],
                        meta["forwarded_to"], meta["shadow"])

    # -- upstream connections ------------------------------------------------------------------
    def _upstream_map(self) -> dict[tuple[str, int], Provider]:
        m = self.holder.mapping if self.holder else None
        if m is None:
            return {}
        if self._upstreams[0] is not m:
            self._upstreams = (m, {(p.upstream.host, p.upstream.port): p for p in m.providers.values()})
        return self._upstreams[1]

    def next_layer(self, nextlayer: Any) -> None:
        """Serve ``--mode reverse:https://<placeholder>`` the way mitmproxy serves ``reverse:http://``.

        For an https placeholder mitmproxy stacks a server-side TLS layer for it under every event
        of the connection (~25% of the proxy's CPU in the benchmark's profile), though with the lazy
        strategy it is never connected: each routed request opens its own upstream connection,
        with its own TLS layer when the provider is https. Addons are asked before mitmproxy's own
        decision, so the router decides this one: client TLS if the first bytes are a ClientHello,
        then HTTP. The placeholder is marked non-TLS so it can never pass for a TLS connection."""
        c = nextlayer.context
        mode = c.client.proxy_mode
        if (nextlayer.layer is not None or not isinstance(mode, ReverseMode) or mode.scheme != "https"
                or c.client.transport_protocol != "tcp" or len(c.layers) != 1
                or not isinstance(c.layers[0], ReverseProxy) or ctx.options.connection_strategy != "lazy"
                or c.server.connected):
            return
        data = nextlayer.data_client()
        if not data:
            return  # asked again when the client has sent something (as mitmproxy's own decision does)
        c.server.tls = False
        stack = tunnel.LayerStack()
        if starts_like_tls_record(data):
            stack /= ClientTLSLayer(c)
        stack /= HttpLayer(c, HTTPMode.transparent)
        nextlayer.layer = stack[0]

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        addr = data.server.address
        p = self._upstream_map().get((addr[0].lower(), addr[1])) if addr else None
        if p is not None and p.sni and data.server.tls:
            data.server.sni = p.sni


def point_upstream(req: http.Request, p: Provider) -> None:
    """Send ``req`` to ``p``: what setting ``scheme``, ``port``, ``host`` and ``host_header`` does,
    without the three Host/authority rewrites those setters make on the way (mitmproxy 12.2's
    ``Request``; tests/addon pin the result for HTTP/1 and HTTP/2)."""
    up = p.upstream
    data = req.data
    hh = p.host_header or up.netloc
    h2 = req.is_http2 or req.is_http3
    if data.authority and not h2:  # absolute-form request line: let mitmproxy rewrite it all
        req.scheme, req.port, req.host = up.scheme, up.port, up.host
        req.host_header = hh
    else:
        data.scheme = up.scheme.encode("ascii")
        data.host = up.host
        data.port = up.port
        if h2:
            req.authority = hh
        _set_host(data.headers, hh, create=not h2)
    for k, v in p.headers:
        data.headers[k] = v


def _set_host(headers: http.Headers, value: str, *, create: bool) -> None:
    """``headers["Host"] = value`` (when there is a Host, or ``create``), as ``MultiDict.set_all``
    does it — first field kept in place, repeats dropped — without a method call per field."""
    v = value.encode("utf-8", "surrogateescape")
    out: list[tuple[bytes, bytes]] = []
    found = False
    for k, old in headers.fields:
        if k.lower() == b"host":
            if not found:
                out.append((k, v))
                found = True
        else:
            out.append((k, old))
    if found or create:
        headers.fields = tuple(out) if found else (*out, (b"Host", v))


def flow_line(flow: http.HTTPFlow, status: int) -> None:
    """One line per request, like mitmdump's own, but never a query value."""
    path = flow.metadata[REQUEST_META]["path"].split("?", 1)[0]
    try:
        sys.stdout.write(f"{flow.client_conn.peername[0] if flow.client_conn.peername else '-'}: "
                         f"{flow.request.method} {path} {flow.comment} << {status}\n")
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed or broken stdout must not break routing
        pass


def parse_timeout(value: str) -> float:
    try:
        t = float(value)
    except ValueError:
        raise exceptions.OptionsError(f"sso_store_timeout: not a number of seconds: {value!r}") from None
    if not 0 < t <= 60:
        raise exceptions.OptionsError(f"sso_store_timeout: want 0 < seconds <= 60, not {value!r}")
    return t


def describe(d: Decision) -> str:
    """The decision in words, for mitmweb's flow list."""
    parts = [f"→ {d.provider}", d.reason.value]
    if d.org:
        parts.append(f"org {d.org}")
    parts.append(d.evidence)
    if d.shadow:
        parts.append(f"shadow: sent to {d.forward_to}")
    return " · ".join(parts)


def route_header(meta: dict) -> str:
    v = f"{meta['provider']}; reason={meta['reason']}"
    return v + "; shadow" if meta["shadow"] else v
