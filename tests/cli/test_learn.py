"""``sso-router learn`` through the console script on a decision log: proposals and the diff,
``--apply`` (comments kept, re-run a no-op), disputed evidence exits 1, usage errors exit 2."""

from __future__ import annotations

import gzip
import json

from routing.mapping_loader import load_mapping_file

from .conftest import run
from .test_import import COMMENTED


def log_lines(*recs: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in recs)


SEEN = {
    "time": 1767000000.5,
    "flow": "f1",
    "method": "POST",
    "host": "auth.yourapp.com",
    "path": "/login/callback",
    "provider": "scalekit",
    "reason": "org",
    "org": "acme.com",
    "identifier": "connection",
    "forwarded_to": "legacy",
    "shadow": True,
    "status": 302,
    "latency_ms": 2.0,
    "saml_issuer": "http://www.okta.com/exkAcme",
    "connections": ["acme-saml"],
}


def test_learn_proposes_then_applies_once(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(COMMENTED)
    log = tmp_path / "decisions.jsonl.gz"
    with gzip.open(log, "wt") as f:
        f.write(log_lines(SEEN, {**SEEN, "time": 1767003600.0}))
    dry = run("learn", "--decision-log", log, "--mapping", mapping)
    assert dry.returncode == 0, dry.stderr
    assert (
        "propose acme.com: idp_entity_ids http://www.okta.com/exkAcme — seen 2x, 2025-12-29T09:20:00Z … "
        "2025-12-29T10:20:00Z"
    ) in dry.stdout
    assert '+idp_entity_ids = ["http://www.okta.com/exkAcme"]' in dry.stdout
    assert mapping.read_text() == COMMENTED
    r = run("learn", "--decision-log", log, "--mapping", mapping, "--apply")
    assert r.returncode == 0 and "written" in r.stdout, r.stdout + r.stderr
    assert load_mapping_file(str(mapping)).orgs["acme.com"].idp_entity_ids == ("http://www.okta.com/exkAcme",)
    assert "# moved last week" in mapping.read_text() and "migrated = true     # do not touch" in mapping.read_text()
    again = run("learn", "--decision-log", log, "--mapping", mapping, "--apply")
    assert again.returncode == 0 and "file not changed" in again.stdout


def test_an_identifier_seen_for_two_orgs_is_disputed_not_proposed(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(COMMENTED)
    log = tmp_path / "decisions.jsonl"
    log.write_text(log_lines(SEEN, {**SEEN, "org": "handmade.com", "connections": []}))
    r = run("learn", "--decision-log", log, "--mapping", mapping, "--apply")
    assert r.returncode == 1
    assert "DISPUTED, not proposed: idp_entity_ids http://www.okta.com/exkAcme: routed to acme.com 1x" in r.stdout
    assert "exkAcme" not in mapping.read_text()


def test_learn_usage_and_unreadable_sources(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(COMMENTED)
    assert run("learn", "--mapping", mapping).returncode == 2
    assert run("learn", "--decision-log", tmp_path / "x", "--min-count", "0", "--mapping", mapping).returncode == 2
    missing = run("learn", "--decision-log", tmp_path / "missing.jsonl", "--mapping", mapping)
    assert missing.returncode == 1 and "No such file" in missing.stderr
    down = run("learn", "--url", "http://127.0.0.1:9", "--mapping", mapping)
    assert down.returncode == 1 and "cannot reach it" in down.stderr
