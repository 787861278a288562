"""``/.sso-router/orgs`` and ``/.sso-router/orgs/<org>`` from a real mapping and a memory figure store."""

from __future__ import annotations

import json

import pytest

from routing.figures import Batch, Departure, OutcomeEvent
from routing.figures.memory import MemoryFigures
from routing.mapping_loader import load_mapping
from routing.org_report import DONE_AFTER, collect_org, collect_orgs, parse_path, resolve_org
from tests.unit.samples import MAPPING

NOW = 1_800_000_000.0


@pytest.fixture
def m():
    return load_mapping(MAPPING)


@pytest.fixture
def store():
    t = [NOW]
    s = MemoryFigures(clock=lambda: t[0])
    s.observe_flips([("newcompany.com", True), ("megasoft.com", False)], NOW - 3600)
    s.record(
        Batch(
            outcomes=[
                OutcomeEvent(
                    "newcompany.com", "scalekit", "login", i % 4 != 0, None if i % 4 else "access_denied", NOW - 100 - i
                )
                for i in range(8)
            ]
            + [
                OutcomeEvent("megasoft.com", "legacy", "login", True, None, NOW - 50),
                OutcomeEvent("megasoft.com", "legacy", "token", False, "invalid_grant", NOW - 40),
            ],
            departures=[Departure("megasoft.com", "legacy", (f"k{i}",), NOW - 2000 - i, 900) for i in range(3)],
            routed={"legacy": NOW - 40, "scalekit": NOW - 30},
        )
    )
    s.expire(NOW - 1000)
    return s


def body(answer):
    status, headers, raw = answer
    assert headers["content-type"] == "application/json" and headers["cache-control"] == "no-store"
    return status, json.loads(raw)


@pytest.mark.parametrize(
    "path, want",
    [
        ("/.sso-router/orgs", (True, None)),
        ("/.sso-router/orgs/", (True, None)),
        ("/.sso-router/orgs/megasoft.com", (True, "megasoft.com")),
        ("/.sso-router/orgs/a%2Eb.com", (True, "a.b.com")),
        ("/.sso-router/orgsx", None),
        ("/.sso-router/health", None),
    ],
)
def test_paths(path, want):
    assert parse_path(path) == want


def test_an_org_is_found_by_its_key_or_any_of_its_domains(m):
    assert resolve_org(m, "megasoft.com") == "megasoft.com"
    assert resolve_org(m, "MEGASOFT.IO") == "megasoft.com"
    assert resolve_org(m, "nope.test") is None


def test_unknown_org_is_404(m, store):
    status, obj = body(collect_org(store, m, "nope.test", NOW))
    assert status == 404 and obj["org"] == "nope.test"


def test_one_org(m, store):
    status, r = body(collect_org(store, m, "newco.io", NOW))
    assert status == 200 and r["org"] == "newcompany.com" and r["provider"] == "scalekit" and r["migrated"]
    assert r["migrated_since"] == NOW - 3600
    assert r["outcomes"]["5m"]["scalekit"]["failure"] == 2 and r["outcomes"]["5m"]["scalekit"]["success"] == 6
    assert r["outcomes"]["5m"]["scalekit"]["login"] == {"success": 6, "failure": 2}
    assert r["since_flip"]["scalekit"]["failure"] == 2
    assert r["last_failure"]["kind"] == "access_denied" and r["last_failure"]["provider"] == "scalekit"
    assert r["canary"]["state"] == "off" and r["canary"]["last_rollback"] is None
    assert r["figures"].startswith("this process only")


def test_logins_that_never_came_back(m, store):
    _, r = body(collect_org(store, m, "megasoft.com", NOW))
    assert r["never_came_back"]["never_came_back_24h"] == 3 and r["never_came_back"]["left_24h"] == 3
    assert r["never_came_back"]["windows"]["1h"] == {"legacy": {"left": 3, "never_came_back": 3}}
    assert "provider's own host" in r["never_came_back"]["note"]
    assert r["last_failure"]["stage"] == "token" and r["migrated_since"] is None


def test_the_list(m, store):
    status, r = body(collect_orgs(store, m, NOW))
    assert status == 200
    assert [o["org"] for o in r["orgs"]] == ["newcompany.com", "megasoft.com"]  # migrated first
    assert r["orgs"][0]["since_flip"] == {"success": 6, "failure": 2}
    assert r["providers"] == {"legacy": {"orgs": 1}, "scalekit": {"orgs": 1}}
    assert r["never_came_back"] == [{"org": "megasoft.com", "left_24h": 3, "never_came_back_24h": 3}]
    assert not r["decommission"]["done"] and "1 org still at legacy" in r["decommission"]["message"]


def _all_migrated(m):
    from dataclasses import replace

    orgs = {k: o._replace(migrated=True) for k, o in m.orgs.items()}
    return replace(m, orgs=orgs)


def test_the_worst_first(m):
    s = MemoryFigures(clock=lambda: NOW)
    mm = _all_migrated(m)
    s.observe_flips([(k, True) for k in mm.orgs], NOW - 50)
    s.record(
        Batch(
            outcomes=[
                OutcomeEvent("newcompany.com", "scalekit", "login", True, None, NOW - 1),
                OutcomeEvent("megasoft.com", "scalekit", "login", False, "http_4xx", NOW - 1),
            ]
        )
    )
    _, r = body(collect_orgs(s, mm, NOW))
    assert [o["org"] for o in r["orgs"]] == ["megasoft.com", "newcompany.com"]


@pytest.mark.parametrize(
    "legacy_ago, watched_for, done, words",
    [
        (8 * 86_400, 30 * 86_400, True, "point the auth domain straight at Scalekit"),
        (3600, 30 * 86_400, False, "last request routed to legacy 1 h ago"),
        (None, 8 * 86_400, True, "point the auth domain straight at Scalekit"),
        (None, 86_400, False, "done after 7 days"),
    ],
)
def test_decommission(m, legacy_ago, watched_for, done, words):
    mm = _all_migrated(m)
    s = MemoryFigures(clock=lambda: NOW)
    s.record(Batch(routed={"scalekit": NOW - watched_for}))
    if legacy_ago is not None:
        s.record(Batch(routed={"legacy": NOW - legacy_ago}))
    d = body(collect_orgs(s, mm, NOW))[1]["decommission"]
    assert d["done"] is done and words in d["message"], d
    assert DONE_AFTER == 7 * 86_400


def test_nothing_secret_in_either_page(m, store):
    for answer in (collect_orgs(store, m, NOW), collect_org(store, m, "megasoft.com", NOW)):
        text = answer[2].decode()
        for word in ("k0", "k1", "description", "SAMLResponse", "code="):
            assert word not in text


def test_an_org_the_canary_rolled_back_says_so_in_the_list(m, store):
    from routing.figures import Rollback

    store.observe_flips([("megasoft.com", True)], NOW - 600)
    store.save_rollback(
        "megasoft.com",
        Rollback(
            at=NOW - 500, flip_since=NOW - 600, provider="scalekit", stage="login", failures=4, attempts=5, window=600
        ),
    )
    store.observe_flips([("megasoft.com", False)], NOW - 499)  # the rollback's file write, observed
    _, r = body(collect_orgs(store, m, NOW))
    row = next(o for o in r["orgs"] if o["org"] == "megasoft.com")
    assert row["provider"] == "legacy" and row["canary"] == "rolled_back"
    assert row["rolled_back"]["failures"] == 4 and row["rolled_back"]["attempts"] == 5
    assert "4 of 5 logins failed at scalekit" in row["rolled_back"]["reason"]
    assert "rolled_back" not in next(o for o in r["orgs"] if o["org"] == "newcompany.com")
    store.observe_flips([("megasoft.com", True)], NOW - 100)  # a person migrated it again: watched afresh
    again = load_mapping(MAPPING.replace(b'"megasoft.com"]\nmigrated = false', b'"megasoft.com"]\nmigrated = true'))
    _, r = body(collect_orgs(store, again, NOW))
    row = next(o for o in r["orgs"] if o["org"] == "megasoft.com")
    assert row["migrated"] and row["canary"] != "rolled_back" and "rolled_back" not in row
