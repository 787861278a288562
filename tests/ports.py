"""The suite's one way to get a TCP port on 127.0.0.1 for a server that is not started yet.

A port picked with ``bind(0)`` and then closed is free only until someone else asks the kernel for
one: between "picked" and "listening" another test's server (or a client's ephemeral port) can take
it. ``free_port()`` instead keeps the port *reserved* by this process for the rest of the session:
a socket bound to it with ``SO_REUSEADDR`` that never listens. The kernel then hands the port to
nobody else (neither ``bind(0)`` nor an outgoing connection picks a port that is bound), while the
server that is meant to use it can still bind and listen on it, because every server this suite
starts sets ``SO_REUSEADDR`` too (asyncio's ``start_server`` in mitmdump, ``redis-server``,
``http.server`` with ``allow_reuse_address``, chromedriver). A port nobody listens on answers a
connection with a refusal, as a dead server's does.

Where a server can pick its own port and say which (``mitmdump --listen-port 0``), let it:
``tests/e2e/proxy.py``'s ``Mitmdump(port=0)``. A reservation is for a port that others must know
before its server starts (the peers are wired to the proxy's public URL up front; a restarted redis
comes back on the port its clients were given).
"""

from __future__ import annotations

import socket
import threading

_reserved: dict[int, socket.socket] = {}
_lock = threading.Lock()


def free_port() -> int:
    """A port on 127.0.0.1 reserved for this test session (see the module docstring)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    with _lock:
        _reserved[port] = s
    return port


def release(port: int) -> None:
    """Gives a reserved port back (only for a test that must see the port taken by someone else)."""
    with _lock:
        s = _reserved.pop(port, None)
    if s is not None:
        s.close()
