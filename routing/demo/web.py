"""The threaded HTTP server each demo peer runs on: one handler function, 127.0.0.1 only."""

from __future__ import annotations

import html
import http.server
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BODY = 1 << 20  # the demo's peers read no more of a body than this


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: dict[str, str]  # first value of each parameter
    form: dict[str, str]  # an urlencoded body's fields
    headers: dict[str, str]  # lower-cased names

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, b"", [("Location", location)])

    @classmethod
    def html(cls, status: int, page: str) -> Response:
        return cls(status, page.encode(), [("Content-Type", "text/html; charset=utf-8")])

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        import json

        return cls(status, json.dumps(payload).encode(), [("Content-Type", "application/json")])

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


Handler = Callable[[Request], Response]


def auto_post_page(action: str, fields: dict[str, str], note: str) -> str:
    """A page whose form posts itself on load, as IdPs answer with the HTTP-POST binding."""
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<!doctype html><html><body onload="document.forms[0].submit()"><p>{html.escape(note)}</p>'
        f'<form method="post" action="{html.escape(action)}">{inputs}'
        f'<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )


class Server:
    """Serves ``handler`` on 127.0.0.1 (port 0: the system picks a free one) in a daemon thread."""

    def __init__(self, name: str, handler: Handler, port: int = 0) -> None:
        self.name = name
        self.handler = handler
        self._httpd = _HTTPServer(("127.0.0.1", port), _handler_class(self))
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name=f"demo-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _handler_class(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # a client that stalls mid-request does not hold a thread forever

        def log_message(self, *args: object) -> None:  # the router's own lines say what happened
            pass

        def _handle(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            body = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            form = {}
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = dict(urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True))
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            req = Request(self.command, split.path, query, form, headers)
            try:
                resp = server.handler(req)
            except Exception as exc:  # noqa: BLE001 — a demo bug shows as a 500 naming the peer, not a hang
                resp = Response.text(500, f"{server.name}: internal error: {type(exc).__name__}: {exc}")
            self.send_response(resp.status)
            for name, value in resp.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_HEAD = _handle

    return H
