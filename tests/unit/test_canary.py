"""The canary's verdict as a table, and ``enforce`` against a real mapping file and real stores
(memory; sqlite shared by two "instances"). The Redis lock is in tests/stores/test_canary_lock.py."""

from __future__ import annotations

import time

import pytest

from routing import canary
from routing.canary import Verdict, enforce, judge, rollback_log_record, watched
from routing.figures import Batch, FlipState, OrgFigures, OutcomeEvent, Rollback, StageCounts, Tally
from routing.figures.memory import MemoryFigures
from routing.figures.sqlite import SqliteFigures
from routing.mapping_loader import load_mapping_file
from routing.model import CanarySettings
from tests.unit.samples import MAPPING

ON = CanarySettings(enabled=True, window=600, min_attempts=5, max_failure_ratio=0.5)
T0 = 1_800_000_000.0
LEGACY_OK = {"24h": {"legacy": StageCounts(login=Tally(40, 1))}}


def fig(flip=None, target=None, legacy=LEGACY_OK, rb=None) -> OrgFigures:
    return OrgFigures("newcompany.com", flip, {"scalekit": target or StageCounts()}, None, rb, legacy)


def v(s=ON, migrated=True, f=None, now=T0 + 60) -> Verdict:
    return judge(s, migrated=migrated, target="scalekit", legacy="legacy", fig=f, now=now)


FLIP = FlipState(True, T0)
RB = Rollback(at=T0 + 100, flip_since=T0, provider="scalekit", stage="login", failures=6, attempts=7, window=600)


@pytest.mark.parametrize(
    "name, verdict, state, failures, attempts",
    [
        ("off", v(CanarySettings(), f=fig(FLIP, StageCounts(login=Tally(0, 9)))), "off", 0, 0),
        ("not migrated", v(migrated=False, f=fig(None)), "not_migrated", 0, 0),
        (
            "rolled back by the canary",
            v(migrated=False, f=fig(FlipState(False, T0 + 100.5), rb=RB)),
            "rolled_back",
            6,
            7,
        ),
        (
            "rolled back, then a person rolled forward and back",
            v(migrated=False, f=fig(FlipState(False, T0 + 999), rb=RB)),
            "rolled_back",
            6,
            7,
        ),
        ("flip not recorded yet", v(f=fig(None)), "watching", 0, 0),
        ("too few attempts", v(f=fig(FLIP, StageCounts(login=Tally(0, 4)))), "watching", 4, 4),
        ("healthy", v(f=fig(FLIP, StageCounts(login=Tally(9, 1), token=Tally(9, 0)))), "watching", 1, 19),
        ("failing", v(f=fig(FLIP, StageCounts(login=Tally(1, 6)))), "rollback", 6, 7),
        ("exactly at the ratio is not above it", v(f=fig(FLIP, StageCounts(login=Tally(5, 5)))), "watching", 5, 10),
        (
            "token exchanges failing",
            v(f=fig(FLIP, StageCounts(login=Tally(8, 0), token=Tally(2, 6)))),
            "rollback",
            6,
            8,
        ),
        (
            "no legacy success to go back to",
            v(f=fig(FLIP, StageCounts(login=Tally(0, 8)), legacy={})),
            "no_baseline",
            8,
            8,
        ),
        (
            "legacy was failing too",
            v(f=fig(FLIP, StageCounts(login=Tally(0, 8)), legacy={"24h": {"legacy": StageCounts(login=Tally(2, 7))}})),
            "no_baseline",
            8,
            8,
        ),
        ("window over", v(f=fig(FLIP, StageCounts(login=Tally(0, 9))), now=T0 + 601), "passed", 9, 9),
        (
            "another instance rolled it back, this mapping still migrated",
            v(f=fig(FlipState(False, T0 + 100.5), rb=RB)),
            "follow",
            6,
            7,
        ),
        ("rollback recorded, its file write not observed yet", v(f=fig(FLIP, rb=RB)), "follow", 6, 7),
        (
            "a person migrated again after the rollback: watched afresh",
            v(f=fig(FlipState(True, T0 + 500), StageCounts(login=Tally(3, 0)), rb=RB), now=T0 + 560),
            "watching",
            0,
            3,
        ),
        (
            "and rolled back again if it fails again",
            v(f=fig(FlipState(True, T0 + 500), StageCounts(login=Tally(0, 5)), rb=RB), now=T0 + 560),
            "rollback",
            5,
            5,
        ),
    ],
)
def test_verdicts(name, verdict, state, failures, attempts):
    assert (verdict.state, verdict.failures, verdict.attempts) == (state, failures, attempts), verdict


def test_a_rollback_verdict_says_why():
    got = v(f=fig(FLIP, StageCounts(token=Tally(1, 6))))
    assert got.stage == "token" and got.window == 600 and got.until == T0 + 600
    assert "6 of 7 logins failed at scalekit within 600 s" in got.reason


def test_watched_orgs():
    flips = {"a": FlipState(True, T0), "b": FlipState(True, T0 - 700), "c": FlipState(False, T0)}
    assert watched(["a", "b", "c", "d"], flips, ON, T0 + 10) == ["a", "c", "d"]
    assert watched(["a"], flips, CanarySettings(), T0) == []


def test_decision_log_record_has_the_contract_fields_and_nothing_else_of_the_login():
    rec = rollback_log_record(
        "newcompany.com", Verdict("rollback", 6, 7, 600, "login"), at=T0, target="scalekit", legacy="legacy"
    )
    assert {
        "event": "canary_rollback",
        "org": "newcompany.com",
        "failures": 6,
        "attempts": 7,
        "window": 600,
    }.items() <= rec.items()


# -- enforce: the lock, the record, the file -------------------------------------------------------
COMMENTED = MAPPING.decode().replace(
    '[orgs."newcompany.com"]\nmigrated = true',
    '# moved on 2026-12-01, ticket OPS-42\n[orgs."newcompany.com"]\nmigrated = true  # canary watching',
)


def mapping_file(tmp_path, name="mapping.toml"):
    p = tmp_path / name
    p.write_text(COMMENTED)
    return p


def failing(store, now):
    store.observe_flips([("newcompany.com", True)], now - 60)
    store.record(
        Batch(
            outcomes=[OutcomeEvent("newcompany.com", "scalekit", "login", False, "http_4xx", now - i) for i in range(6)]
            + [OutcomeEvent("newcompany.com", "legacy", "login", True, None, now - 3000)]
        )
    )


def judged(store, path, now):
    m = load_mapping_file(str(path))
    f = store.figures(["newcompany.com"], now, windows=True)["newcompany.com"]
    return judge(ON, migrated=m.orgs["newcompany.com"].migrated, target="scalekit", legacy="legacy", fig=f, now=now)


def test_enforce_rolls_back_once_keeping_comments(tmp_path):
    path = mapping_file(tmp_path)
    now = time.time()
    store = MemoryFigures(clock=time.time)
    failing(store, now)
    verdict = judged(store, path, now)
    assert verdict.state == "rollback"
    assert (
        enforce(verdict, "newcompany.com", store=store, owner="a", mapping_path=str(path), target="scalekit", now=now)
        == "rolled_back"
    )
    text = path.read_text()
    assert "migrated = false  # canary watching" in text and "# moved on 2026-12-01, ticket OPS-42" in text
    assert not load_mapping_file(str(path)).orgs["newcompany.com"].migrated
    rb = store.figures(["newcompany.com"], now, windows=False)["newcompany.com"].rollback
    assert (rb.failures, rb.attempts, rb.window, rb.provider) == (6, 6, 600, "scalekit")
    store.observe_flips([("newcompany.com", False)], now + 1)  # the reload sees it
    assert judged(store, path, now + 2).state == "rolled_back"


def test_two_instances_sharing_a_store_roll_back_once(tmp_path):
    path = mapping_file(tmp_path)
    url = f"sqlite://{tmp_path / 'shared.db'}"
    a, b = SqliteFigures(url, clock=time.time), SqliteFigures(url, clock=time.time)
    now = time.time()
    try:
        failing(a, now)
        va, vb = judged(a, path, now), judged(b, path, now)  # both see it failing before either acts
        assert va.state == vb.state == "rollback"
        got = [
            enforce(va, "newcompany.com", store=a, owner="a", mapping_path=str(path), target="scalekit", now=now),
            enforce(vb, "newcompany.com", store=b, owner="b", mapping_path=str(path), target="scalekit", now=now),
        ]
        assert got == ["rolled_back", "done_elsewhere"]
    finally:
        a.close()
        b.close()


def test_a_held_lock_stops_the_other_instance(tmp_path):
    path = mapping_file(tmp_path)
    store = MemoryFigures(clock=time.time)
    now = time.time()
    failing(store, now)
    assert canary.claim(store, "newcompany.com", "a")
    verdict = judged(store, path, now)
    assert (
        enforce(verdict, "newcompany.com", store=store, owner="b", mapping_path=str(path), target="scalekit", now=now)
        == "locked_elsewhere"
    )
    assert load_mapping_file(str(path)).orgs["newcompany.com"].migrated  # untouched


def test_an_instance_with_its_own_copy_of_the_mapping_follows(tmp_path):
    mine, theirs = mapping_file(tmp_path, "a.toml"), mapping_file(tmp_path, "b.toml")
    url = f"sqlite://{tmp_path / 'shared.db'}"
    a, b = SqliteFigures(url, clock=time.time), SqliteFigures(url, clock=time.time)
    now = time.time()
    try:
        failing(a, now)
        assert (
            enforce(
                judged(a, mine, now),
                "newcompany.com",
                store=a,
                owner="a",
                mapping_path=str(mine),
                target="scalekit",
                now=now,
            )
            == "rolled_back"
        )
        a.observe_flips([("newcompany.com", False)], now + 1)
        vb = judged(b, theirs, now + 2)
        assert vb.state == "follow"
        assert (
            enforce(vb, "newcompany.com", store=b, owner="b", mapping_path=str(theirs), target="scalekit", now=now + 2)
            == "followed"
        )
        assert "migrated = false  # canary watching" in theirs.read_text()
    finally:
        a.close()
        b.close()


def test_enforce_never_flips_forward(tmp_path):
    path = mapping_file(tmp_path)
    store = MemoryFigures(clock=time.time)
    for state in ("watching", "passed", "no_baseline", "off", "not_migrated", "rolled_back"):
        assert (
            enforce(
                Verdict(state),
                "megasoft.com",
                store=store,
                owner="a",
                mapping_path=str(path),
                target="scalekit",
                now=time.time(),
            )
            == "unchanged"
        )
    assert path.read_text() == COMMENTED
