"""Name the provider in the 502 page mitmproxy sends when an upstream fails.

mitmproxy builds that page from the connection error text alone, and no addon hook
sees it before it is sent. ``HttpStream.handle_protocol_error`` is the one place that
holds both the error and the flow, so it is wrapped, once per process, to prefix the
message with the provider the router chose. If mitmproxy's internals differ from
12.2's, nothing is patched and the stock page (which still is a 502) is sent.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

log = logging.getLogger("sso_router")
_MARK = "_sso_router_names_provider"


def install(meta_key: str) -> bool:
    try:
        from mitmproxy.proxy.layers import http as http_layers
        from mitmproxy.proxy.layers.http import ResponseProtocolError
    except ImportError:  # pragma: no cover
        return False
    stream = getattr(http_layers, "HttpStream", None)
    original = getattr(stream, "handle_protocol_error", None)
    if original is None or not dataclasses.is_dataclass(ResponseProtocolError):
        log.warning("sso-router: this mitmproxy has no HttpStream.handle_protocol_error; "
                    "502 pages will not name the provider")
        return False
    if getattr(original, _MARK, False):
        return True

    def handle_protocol_error(self: Any, event: Any):
        flow = getattr(self, "flow", None)
        meta = flow.metadata.get(meta_key) if flow is not None else None
        if meta and isinstance(event, ResponseProtocolError) and not str(event.message).startswith("sso-router:"):
            upstream = meta.get("upstream", "")
            event = dataclasses.replace(event, message=(
                f"sso-router: provider {meta['forwarded_to']!r} ({upstream}) failed: {event.message}"))
        return (yield from original(self, event))

    setattr(handle_protocol_error, _MARK, True)
    stream.handle_protocol_error = handle_protocol_error
    return True
