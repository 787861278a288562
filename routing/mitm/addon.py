"""``SSORouter``: the mitmproxy hooks, and nothing else. Routing rules live in the core; what a hook
does lives in a module named for it (options, runtime, route, apply, respond, drain, mitm12)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from mitmproxy import ctx, http
from mitmproxy.proxy import server_hooks

from . import errorpage, logfilter, marks, mitm12, upstream_tls, views
from .drain import Drain
from .options import NAMES, declare, parse
from .process import PROCESS, ProcessState
from .respond import on_error, on_response
from .route import route_request
from .runtime import Runtime

log = logging.getLogger("sso_router")


class SSORouter:
    def __init__(self, process: ProcessState = PROCESS) -> None:
        self.process = process
        self.runtime: Runtime | None = None
        self.flow_lines = False  # print the router's own line per flow (mitmdump's were turned off)
        self.names_errors = False  # 502 pages name the provider (mitm12's wrapper is in place)
        self.drain = Drain(lambda: self.runtime, self._shutdown)

    def load(self, loader: Any) -> None:
        mitm12.check()
        logfilter.install()
        views.register()
        self.names_errors = mitm12.wrap_upstream_errors(errorpage.upstream_message)
        declare(loader)

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        # Before the proxy listens: reverse mode must not connect to the --mode placeholder, and must
        # keep the browser's Host for routing (CONTRACT "Running").
        if "connection_strategy" in opts and (opts.connection_strategy != "lazy" or not opts.keep_host_header):
            opts.update(connection_strategy="lazy", keep_host_header=True)
        if not updated & NAMES:
            return  # e.g. the update just above, re-entering: nothing of the router's changed
        if self.runtime is None:
            self._quiet_dumper()
            upstream_tls.default_to_system_trust(opts)
            mitm12.prepare_certstore()
            self.runtime = Runtime(parse(opts, self.process), self.process)
            self.runtime.mark_flows = marks.under_mitmweb(opts)
        else:
            self.runtime.reconfigure(parse(opts, self.process), updated)

    def _quiet_dumper(self) -> None:
        """mitmdump's flow lines print whole URLs (codes, states, tokens in queries). Unless the user
        chose a flow_detail, turn them off; the router prints its own secret-free line per flow."""
        default = mitm12.option_is_default("flow_detail")
        if default is None:
            return  # not mitmdump (mitmweb shows flows in its UI)
        if self.process.quieted_dumper and ctx.options.flow_detail == 0:
            self.flow_lines = True  # a script reload: flow_detail reads 0 because the router set it
        elif default and ctx.options.flow_detail != 0:
            self.process.quieted_dumper = True
            ctx.options.update(flow_detail=0)
            self.flow_lines = True
        elif ctx.options.flow_detail >= 1:
            log.warning(
                "sso-router: flow_detail=%s prints whole URLs, which carry codes, states and tokens; "
                "leave it unset to get the router's own line per request instead",
                ctx.options.flow_detail,
            )

    def running(self) -> None:
        logfilter.install()  # handlers added since load() get the filter too
        if self.runtime is not None:
            self.runtime.start()
        self.drain.install()

    def done(self) -> None:
        self.drain.uninstall()
        views.unregister()
        logfilter.uninstall()
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        if flow.response or flow.error or not flow.live or self.runtime is None:
            return None
        return route_request(self.runtime, flow)

    def response(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        return on_response(self.runtime, flow, flow_lines=self.flow_lines) if self.runtime is not None else None

    def error(self, flow: http.HTTPFlow) -> None:
        if self.runtime is not None:
            on_error(self.runtime, flow, names_errors=self.names_errors)

    def next_layer(self, nextlayer: Any) -> None:
        mitm12.serve_https_placeholder(nextlayer)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        """Upstream TLS names the provider (its ``sni``, else its upstream's host), never what the
        browser sent — even when the ``--mode`` placeholder is that provider's own upstream."""
        addr = data.server.address
        p = self.runtime.provider_at(addr[0], addr[1]) if self.runtime is not None and addr else None
        if p is not None and data.server.tls:
            data.server.sni = p.sni or p.upstream.host

    def tls_start_server(self, data: Any) -> None:
        """A provider's ``ca_file``: its upstream trusts those CAs only (routing/mitm/upstream_tls.py)."""
        if self.runtime is not None:
            upstream_tls.start_server(data, self.runtime.upstreams())

    @staticmethod
    def _shutdown() -> None:
        ctx.master.shutdown()
