"""The decision log's record and writer: every request gets its line."""

from __future__ import annotations

import json

from routing.audit import DecisionLog, decision_record
from routing.model import Decision, Reason


def _record(path: str, **kw) -> dict:
    d = Decision("legacy", Reason.ORG, "megasoft.com", "login_hint domain", "legacy")
    return decision_record(
        d,
        flow_id="f1",
        method=kw.get("method", "GET"),
        host=kw.get("host", "auth.yourapp.com"),
        path=path,
        at=1.0,
        status=200,
        latency_ms=1.0,
        error=kw.get("error"),
    )


def test_a_path_with_bytes_that_are_not_utf8_is_percent_encoded(tmp_path):
    raw = b"/assets/caf\xe9-\xff.css".decode("utf-8", "surrogateescape")  # as mitmproxy hands it over
    rec = _record(raw, method="G\udcffT", host="h\udcfe", error="x\udcff")
    assert rec["path"] == "/assets/caf%E9-%FF.css"
    assert (rec["method"], rec["host"], rec["error"]) == ("G\\xffT", "h\\xfe", "x\\xff")
    log = DecisionLog(str(tmp_path / "d.jsonl"))
    log.write(rec)
    log.write({"path": "/unescaped-\udcff"})  # a value the record did not escape still gets its line
    log.close()
    lines = (tmp_path / "d.jsonl").read_bytes().decode("utf-8").splitlines()
    assert json.loads(lines[0])["path"] == "/assets/caf%E9-%FF.css"
    assert len(lines) == 2 and "unescaped" in lines[1]


def test_utf8_and_ascii_paths_are_kept_as_they_are():
    assert _record("/café/x")["path"] == "/café/x"
    assert _record("/plain?never")["path"] == "/plain?never"
