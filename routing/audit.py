"""The JSON-lines decision log. Its record is built from a ``Decision`` and request
metadata only: no body, query value, cookie or header value can reach it. The identifiers a
request carried for ``sso-router learn`` (``Decision.seen``: a SAML Issuer, a posted id_token's
``iss``, connection ids) are not secrets; they are written only when present."""

from __future__ import annotations

import json
import threading
from typing import IO

from .model import Decision


def decision_record(d: Decision, *, flow_id: str, method: str, host: str, path: str, at: float,
                    status: int | None, latency_ms: float | None, error: str | None = None) -> dict:
    rec = {
        "time": round(at, 3),
        "flow": flow_id,
        "method": method,
        "host": host,
        "path": path,  # never the query: it carries codes and states
        "provider": d.provider,
        "reason": d.reason.value,
        "org": d.org,
        "identifier": d.evidence,
        "forwarded_to": d.forward_to,
        "shadow": d.shadow,
        "status": status,
        "latency_ms": None if latency_ms is None else round(latency_ms, 2),
    }
    if error:
        rec["error"] = error
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
        self._f: IO[str] = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._f.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._f.close()
