"""The JSON-lines decision log. Its record is built from a ``Decision`` and request
metadata only: no body, query value, cookie or header value can reach it."""

from __future__ import annotations

import json
import threading
from typing import IO

from .model import Decision
from .record import to_record


def decision_record(d: Decision, *, flow_id: str, method: str, host: str, path: str, at: float,
                    status: int | None, latency_ms: float | None, error: str | None = None) -> dict:
    rec = {
        "time": round(at, 3),
        "flow": flow_id,
        "method": method,
        "host": host,
        "path": path,  # never the query: it carries codes and states
        **to_record(d),
        "status": status,
        "latency_ms": None if latency_ms is None else round(latency_ms, 2),
    }
    if error:
        rec["error"] = error
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

    def flush(self) -> None:
        with self._lock:
            self._f.flush()

    def close(self) -> None:
        with self._lock:
            self._f.close()
