"""A tiny threaded HTTP server for peers: one handler function, a request log, clean start/stop."""

from __future__ import annotations

import base64
import html
import http.server
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]  # lower-cased names
    body: bytes
    form: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together (form wins)."""
        return {**self.query, **self.form}

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return urllib.parse.unquote(user), urllib.parse.unquote(password)

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:].strip() if value.lower().startswith("bearer ") else None

    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                out[name] = value
        return out


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, *, cookies: list[str] = ()) -> Response:
        return cls(302, b"", [("Location", location)] + [("Set-Cookie", c) for c in cookies])

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        import json

        return cls(status, json.dumps(payload).encode(), [("Content-Type", "application/json")])

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), [("Content-Type", f"{content_type}; charset=utf-8")])


@dataclass
class Record:
    """What a peer saw and what it made of it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    body: bytes = b""  # the request body as it arrived (byte-for-byte checks)
    outcome: str = ""  # "accepted: ..." or "rejected: ..." (set by the handler), or "" for plain pages
    body: bytes = b""  # the request body exactly as it arrived

    @property
    def accepted(self) -> bool:
        return self.outcome.startswith("accepted")

    def __repr__(self) -> str:  # short, for assertion messages
        return f"<{self.method} {self.path} -> {self.status} {self.outcome!r}>"


Handler = Callable[[Request, Record], Response]


def auto_post_form(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in fields.items()
    )
    return (
        f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(action)}">'
        f'{inputs}<noscript><input type="submit"/></noscript></form></body></html>'
    )


class PeerServer:
    """Runs ``handler`` on 127.0.0.1:<port> in a daemon thread; ``stop()`` shuts it down."""

    def __init__(self, name: str, handler: Handler, port: int = 0):
        self.name = name
        self.handler = handler
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), _make_handler_class(self))
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self.connections: set = set()  # open client sockets (keep-alive), closed by stop()
        self.host = "127.0.0.1"  # the name in its URL (serve_tls: the name its certificate is for)

    @property
    def tls(self) -> bool:
        return self._httpd.tls_context is not None

    @property
    def url(self) -> str:
        """Where browsers and other peers reach it (its host name under TLS)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Its address, for a client that cannot resolve ``host`` (the router, with ``sni``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def serve_tls(self, context: ssl.SSLContext, host: str) -> PeerServer:
        """Serve HTTPS as ``host`` (a name the certificate in ``context`` is for); before ``start``."""
        self._httpd.tls_context = context
        self.host = host
        return self

    def start(self) -> PeerServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name=f"peer-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        with self._lock:
            conns, self.connections = list(self.connections), set()
        for sock in conns:  # a stopped peer is down for kept-alive connections too
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self._thread is not None

    def log(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def seen(self, path_prefix: str = "", method: str | None = None) -> list[Record]:
        with self._lock:
            return [
                r for r in self.records if r.path.startswith(path_prefix) and (method is None or r.method == method)
            ]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls_context: ssl.SSLContext | None = None

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls_context is not None:  # the handshake runs in the handler's thread, on its first read
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exception(), (ssl.SSLError, ConnectionError)):
            return  # a client that refused our certificate, or went away: not a peer bug
        super().handle_error(request, client_address)


def _make_handler_class(peer: PeerServer):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def setup(self):
            super().setup()
            with peer._lock:
                peer.connections.add(self.connection)

        def finish(self):
            with peer._lock:
                peer.connections.discard(self.connection)
            super().finish()

        def _handle(self):
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            form: dict[str, str] = {}
            if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
                form = dict(urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True))
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            req = Request(self.command, split.path, query, headers, body, form)
            record = Record(self.command, split.path, query, form, headers, body=body)
            try:
                resp = peer.handler(req, record)
            except Exception as exc:  # a peer bug must show up as a 500 with the reason
                import traceback

                traceback.print_exc()
                resp = Response.text(500, f"{peer.name}: internal error: {exc!r}")
                record.outcome = record.outcome or f"rejected: internal error {exc!r}"
            record.status = resp.status
            peer.log(record)
            self.send_response(resp.status)
            for name, value in resp.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("X-Peer", peer.name)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return H
