"""What ``sso_router_addon.py`` (the file given to ``mitmdump -s``) imports: the router's hooks
as attributes of the script module itself.

mitmproxy treats a script module as an addon and walks into its ``addons`` list on every event
(8 per request). Hooks found on the module are one level shallower than hooks of an object in
``addons``, which costs measurably less per request (bench/README.md).

When the script is edited, mitmproxy calls ``done`` and re-executes it; the import then finds this
module in ``sys.modules`` and hands out the same instance, whose ``done`` dropped its runtime;
mitmproxy then calls ``load``, ``configure`` (which builds a new runtime) and ``running``.
"""

from __future__ import annotations

from .addon import SSORouter

router = SSORouter()
load = router.load
configure = router.configure
running = router.running
done = router.done
request = router.request
response = router.response
error = router.error
next_layer = router.next_layer
server_connect = router.server_connect
tls_start_server = router.tls_start_server  # a provider's ca_file (routing/mitm/upstream_tls.py)

__all__ = [
    "configure",
    "done",
    "error",
    "load",
    "next_layer",
    "request",
    "response",
    "running",
    "server_connect",
    "tls_start_server",
]
