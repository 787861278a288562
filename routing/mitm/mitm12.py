"""Every use of mitmproxy's private internals, in one place, each with why. Written for 12.2.

``SUPPORTED`` says whether the installed mitmproxy is the one this was written for. When it is not,
``check()`` logs one WARNING and every function here takes the plain public-API path (slower, or
less exact, never a crash). ``tests/addon/test_mitm12.py`` pins each use against the installed
version.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator
from typing import Any

from mitmproxy import contentviews, ctx, http, optmanager
from mitmproxy.version import VERSION

log = logging.getLogger("sso_router")
WRITTEN_FOR = "12.2."
SUPPORTED = VERSION.startswith(WRITTEN_FOR)
_MARK = "_sso_router_names_provider"
_warned: list[bool] = []


def check() -> bool:
    """At load: say once when mitmproxy is not the version these internals were written for."""
    if not SUPPORTED and not _warned:
        _warned.append(True)
        log.warning(
            f"sso-router: written for mitmproxy {WRITTEN_FOR}x, running on {VERSION}: using public APIs "
            "only (502 pages name no provider; the https placeholder costs its TLS layer)"
        )
    return SUPPORTED


# -- 1. the https placeholder's layers ------------------------------------------------------------


def serve_https_placeholder(nextlayer: Any) -> None:
    """Why: for ``--mode reverse:https://<placeholder>`` mitmproxy stacks a server-side TLS layer for
    the placeholder under every event (~25% of the proxy's CPU, bench/README.md), though with lazy
    connections it is never connected. Decide the stack as ``reverse:http://`` would: client TLS if
    the first bytes are a ClientHello, then HTTP; the placeholder is marked non-TLS."""
    if not SUPPORTED:
        return
    from mitmproxy.net.tls import starts_like_tls_record
    from mitmproxy.proxy import tunnel
    from mitmproxy.proxy.layers import ClientTLSLayer, HttpLayer
    from mitmproxy.proxy.layers.http import HTTPMode
    from mitmproxy.proxy.layers.modes import ReverseProxy
    from mitmproxy.proxy.mode_specs import ReverseMode

    c = nextlayer.context
    mode = c.client.proxy_mode
    if (
        nextlayer.layer is not None
        or not isinstance(mode, ReverseMode)
        or mode.scheme != "https"
        or c.client.transport_protocol != "tcp"
        or len(c.layers) != 1
        or not isinstance(c.layers[0], ReverseProxy)
        or ctx.options.connection_strategy != "lazy"
        or c.server.connected
    ):
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


# -- 2. the upstream-error page -----------------------------------------------------------------


def wrap_upstream_errors(rewrite: Callable[[Any, str], str | None]) -> bool:
    """Why: mitmproxy builds the 502 page from the connection error text alone (which names the
    upstream's address), and no hook sees it before it is sent. ``HttpStream.handle_protocol_error``
    is the one place holding both the error and the flow: wrapped once per process, it replaces a
    response-side error message with ``rewrite(flow, message)`` when that returns one."""
    if not SUPPORTED:
        return False
    from mitmproxy.proxy.layers import http as http_layers
    from mitmproxy.proxy.layers.http import ResponseProtocolError  # type: ignore[attr-defined]  # defined in _events, not re-exported

    stream = http_layers.HttpStream
    original = stream.handle_protocol_error
    if getattr(original, _MARK, False):
        original = original.__wrapped__  # type: ignore[attr-defined]  # ours, set below

    def handle_protocol_error(self: Any, event: Any) -> Generator[Any, Any, None]:
        if isinstance(event, ResponseProtocolError):
            msg = rewrite(getattr(self, "flow", None), str(event.message))
            if msg is not None:
                event = dataclasses.replace(event, message=msg)
        return (yield from original(self, event))

    setattr(handle_protocol_error, _MARK, True)
    handle_protocol_error.__wrapped__ = original  # type: ignore[attr-defined]
    stream.handle_protocol_error = handle_protocol_error  # type: ignore[method-assign]
    return True


def unwrap_upstream_errors() -> None:
    if not SUPPORTED:
        return
    from mitmproxy.proxy.layers import http as http_layers

    current = http_layers.HttpStream.handle_protocol_error
    if getattr(current, _MARK, False):
        http_layers.HttpStream.handle_protocol_error = current.__wrapped__  # type: ignore[attr-defined,method-assign]


# -- 3. whether the user set an option ---------------------------------------------------------


def option_is_default(name: str) -> bool | None:
    """Why: mitmproxy has no public "did the user set this?"; its ``_Option.value`` is ``unset``
    until they do. True: never set (and its default is in force); None: no such option here."""
    opts: dict[str, Any] = getattr(ctx.options, "_options", {}) if SUPPORTED else {}
    opt = opts.get(name)
    if opt is None:
        return None
    return opt.value is optmanager.unset


# -- 4. the certificate store before the proxy listens -------------------------------------------


def prepare_certstore() -> None:
    """Why: 12.2's tlsconfig builds its cert store in ``running()``, after the proxy listens; a
    request in between makes its hook raise, and that ERROR record makes mitmdump exit. Build it
    now, as its ``configure`` would."""
    if not SUPPORTED:
        return
    master = getattr(ctx, "master", None)
    tls = master.addons.get("tlsconfig") if master is not None else None
    if tls is not None and getattr(tls, "certstore", None) is None:
        try:
            tls.configure({"confdir"})
        except Exception as e:  # noqa: BLE001 — running() will try again, as it always does
            log.warning(f"sso-router: could not prepare mitmproxy's certificate store early: {e}")


# -- 5. removing a content view ----------------------------------------------------------------


def remove_contentview(view: Any, same: Callable[[Any, Any], bool]) -> None:
    """Why: 12.2's registry has ``add`` but no removal; its ``_by_name`` index is where views live.
    Removes the view registered under ``view``'s name if ``same(registered, view)``."""
    reg = contentviews.registry
    by_name = getattr(reg, "_by_name", None) if SUPPORTED else None
    if not isinstance(by_name, dict):
        return
    key = view.name.lower()
    if key in by_name and same(by_name[key], view):
        del by_name[key]
        reg.on_change.send(view)


# -- 6. pointing a request upstream -----------------------------------------------------------


def point_request(
    req: http.Request, scheme: str, host: str, port: int, host_header: str, extra: tuple[tuple[str, str], ...]
) -> None:
    """Why: ``req.scheme``/``port``/``host``/``host_header`` setters each rewrite the Host/authority
    again (three passes over the headers per request); writing ``req.data`` and ``headers.fields``
    once gives the same request (pinned against the setters in tests/addon)."""
    h2 = req.is_http2 or req.is_http3
    data = req.data
    if not SUPPORTED or (data.authority and not h2):  # absolute-form request line: mitmproxy's setters
        req.scheme, req.port, req.host = scheme, port, host
        req.host_header = host_header
    else:
        data.scheme = scheme.encode("ascii")
        data.host = host
        data.port = port
        if h2:
            req.authority = host_header
        _set_host(req.headers, host_header, create=not h2)
    for k, v in extra:
        req.headers[k] = v


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
