"""The JSON-lines decision log. Its record is built from a ``Decision`` and request
metadata only: no body, query value, cookie or header value can reach it. The identifiers a
request carried for ``sso-router learn`` (``Decision.seen``: a SAML Issuer, a posted id_token's
``iss``, connection ids) are not secrets; they are written only when present."""

from __future__ import annotations

import json
import threading
from typing import IO, Any
from urllib.parse import quote

from .model import Decision
from .record import to_record


def _raw(value: str) -> bytes:
    """The bytes a surrogate-escaped string stands for (mitmproxy decodes them that way)."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no bytes stand for
        return value.encode("utf-8", "backslashreplace")


def _text(value: str) -> str:
    """``value`` fit for a UTF-8 line: bytes that are not UTF-8 written ``\\xNN``."""
    return value if value.isascii() else _raw(value).decode("utf-8", "backslashreplace")


def _path(path: str) -> str:
    """A path fit for a UTF-8 line: one with bytes that are not UTF-8 is percent-encoded, as a
    URL carries them (``/a%FF``), rather than dropped."""
    if path.isascii():
        return path
    raw = _raw(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return quote(raw, safe="/%:@!$&'()*+,;=~-._")


def decision_record(
    d: Decision,
    *,
    flow_id: str,
    method: str,
    host: str,
    path: str,
    at: float,
    status: int | None,
    latency_ms: float | None,
    error: str | None = None,
) -> dict[str, Any]:
    rec = {
        "time": round(at, 3),
        "flow": flow_id,
        "method": _text(method),
        "host": _text(host),
        "path": _path(path),  # never the query: it carries codes and states
        **to_record(d),
        "status": status,
        "latency_ms": None if latency_ms is None else round(latency_ms, 2),
    }
    if error:
        rec["error"] = _text(error)
    seen = d.seen
    if seen.saml_issuer is not None:
        rec["saml_issuer"] = seen.saml_issuer
    if seen.oidc_issuer is not None:
        rec["oidc_issuer"] = seen.oidc_issuer
    if seen.connections:
        rec["connections"] = list(seen.connections)
    return rec


class DecisionLog:
    """Appends one JSON object per line; line-buffered so a crash loses at most a line."""

    def __init__(self, path: str) -> None:
        self.path = path
        # backslashreplace: a value the record did not escape still gets its line, never an error
        self._f: IO[str] = open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115 — open for the log's life, closed in close()
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._f.write(line + "\n")

    def flush(self) -> None:
        with self._lock:
            self._f.flush()

    def close(self) -> None:
        with self._lock:
            self._f.close()
