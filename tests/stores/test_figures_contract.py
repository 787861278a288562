"""One suite, three backends: the figure stores (routing/figures) of memory://, sqlite:///path and a
real redis-server answer alike, and the shared ones sum over every store object (instance) on a URL.

Event times are real wall-clock times (Redis expires bucket keys itself); memory and sqlite get a
clock the test can move for their sweeps and locks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from routing.errors import StoreUnavailable
from routing.figures import (
    Batch,
    Departure,
    Fate,
    FlipState,
    OutcomeEvent,
    Return,
    Rollback,
    StageCounts,
    Tally,
    open_figures,
)
from routing.figures.memory import MemoryFigures
from routing.figures.redis import RedisFigures
from routing.figures.sqlite import SqliteFigures

ORG, OTHER = "megasoft.com", "newcompany.com"


@dataclass
class Harness:
    name: str
    make: Callable[..., object]  # a new store object on the same URL (kwargs: caps)
    wait_past: Callable[[float], None]
    shared: bool


def _memory(tmp_path, request) -> Harness:
    now = [time.time()]
    one: list[MemoryFigures] = []

    def make(**kw):  # memory:// is one process: every "instance" here is that process's store
        if not one or kw:
            one.append(MemoryFigures(clock=lambda: now[0], **kw))
        return one[-1]

    return Harness("memory", make, lambda s: now.__setitem__(0, now[0] + s + 0.5), False)


def _sqlite(tmp_path, request) -> Harness:
    now = [time.time()]
    url = f"sqlite://{tmp_path / 'corr.db'}"
    return Harness(
        "sqlite",
        lambda **kw: SqliteFigures(url, clock=lambda: now[0], **kw),
        lambda s: now.__setitem__(0, now[0] + s + 0.5),
        True,
    )


def _redis(tmp_path, request) -> Harness:
    url = request.getfixturevalue("redis_url")
    return Harness("redis", lambda **kw: RedisFigures(url, **kw), lambda s: time.sleep(s + 0.2), True)


@pytest.fixture(params=[_memory, _sqlite, _redis], ids=["memory", "sqlite", "redis"])
def h(request, tmp_path) -> Harness:
    return request.param(tmp_path, request)


@pytest.fixture
def store(h):
    s = h.make()
    yield s
    s.close()


def ev(org: str, provider: str, ok: bool, at: float, stage: str = "login", kind: str | None = None) -> OutcomeEvent:
    return OutcomeEvent(org, provider, stage, ok, None if ok else (kind or "access_denied"), at)


def test_outcomes_fall_in_their_windows(store):
    now = time.time()
    store.record(
        Batch(
            outcomes=[
                ev(ORG, "legacy", True, now - 30),
                ev(ORG, "legacy", False, now - 40),
                ev(ORG, "legacy", True, now - 600),  # 10 min ago: 1 h and 24 h
                ev(ORG, "scalekit", True, now - 7200, stage="token"),  # 2 h ago: 24 h only
                ev(ORG, "legacy", True, now - 30 * 3600),  # 30 h ago: no window
                ev(OTHER, "scalekit", False, now - 5),
            ]
        )
    )
    fig = store.figures([ORG, OTHER, "unknown.org"], now, windows=True)
    w = fig[ORG].windows
    assert w["5m"] == {"legacy": StageCounts(login=Tally(1, 1))}
    assert w["1h"] == {"legacy": StageCounts(login=Tally(2, 1))}
    assert w["24h"] == {"legacy": StageCounts(login=Tally(2, 1)), "scalekit": StageCounts(token=Tally(1, 0))}
    assert fig[ORG].since_flip["legacy"].login == Tally(3, 1)  # never flipped: since first seen
    assert fig[OTHER].windows["5m"]["scalekit"].total == Tally(0, 1)
    assert fig["unknown.org"].windows["24h"] == {} and fig["unknown.org"].flip is None
    assert store.figures([ORG], now, windows=False)[ORG].windows == {}


def test_last_failure_is_the_newest(store):
    now = time.time()
    store.record(Batch(outcomes=[ev(ORG, "scalekit", False, now - 5, kind="invalid_grant", stage="token")]))
    store.record(Batch(outcomes=[ev(ORG, "legacy", False, now - 50, kind="http_4xx")]))  # older, recorded later
    last = store.figures([ORG], now, windows=False)[ORG].last_failure
    assert (last.provider, last.stage, last.kind) == ("scalekit", "token", "invalid_grant")
    assert abs(last.at - (now - 5)) < 0.01


def test_a_flip_is_recorded_once_and_resets_the_since_counts(store):
    t0 = time.time()
    store.record(Batch(outcomes=[ev(ORG, "scalekit", True, t0 - 10)]))
    assert store.observe_flips([(ORG, False), (OTHER, False)], t0) == {}  # never migrated: nothing to keep
    assert store.observe_flips([(ORG, True)], t0) == {ORG: FlipState(True, t0)}
    assert store.observe_flips([(ORG, True), (OTHER, False)], t0 + 60) == {ORG: FlipState(True, t0)}  # no change
    fig = store.figures([ORG], t0 + 1, windows=True)[ORG]
    assert fig.flip == FlipState(True, t0) and fig.since_flip == {}  # what came before the flip is not "since"
    assert fig.windows["5m"]["scalekit"].total == Tally(1, 0)  # but still in its window
    store.record(Batch(outcomes=[ev(ORG, "scalekit", False, t0 + 2)]))
    assert store.figures([ORG], t0 + 3, windows=False)[ORG].since_flip["scalekit"].total == Tally(0, 1)
    assert store.observe_flips([(ORG, False)], t0 + 100) == {ORG: FlipState(False, t0 + 100)}
    assert store.figures([ORG], t0 + 101, windows=False)[ORG].since_flip == {}


def test_many_flips_in_one_call(store):
    t0 = time.time()
    orgs = [f"org{i}.test" for i in range(450)]  # more than one chunk of every backend
    got = store.observe_flips([(o, i % 2 == 0) for i, o in enumerate(orgs)], t0)
    assert set(got) == set(orgs[::2]) and all(s == FlipState(True, t0) for s in got.values())
    figs = store.figures(orgs, t0, windows=False)
    assert [o for o in orgs if figs[o].flip] == orgs[::2]


def test_a_login_that_came_back_is_not_lost_and_one_that_did_not_is_counted_once(store):
    t0 = time.time() - 1000
    store.record(
        Batch(
            departures=[
                Departure(ORG, "legacy", ("k-saml", "k-relay"), t0, 900),
                Departure(ORG, "legacy", ("k-lost",), t0 + 1, 900),
                Departure(OTHER, "scalekit", ("k-later",), t0 + 5, 900),
            ]
        )
    )
    store.record(Batch(returns=[Return(("k-relay",), t0 + 20, 900)]))  # answered by RelayState alone
    assert store.expire(t0 + 899) == []
    lost = store.expire(t0 + 902)
    assert [(x.org, x.provider) for x in lost] == [(ORG, "legacy")] and abs(lost[0].at - (t0 + 1)) < 0.01
    assert store.expire(t0 + 902) == []  # counted once
    now = t0 + 902
    assert store.unreturned_orgs(now) == {ORG: Fate(left=2, lost=1)}
    fig = store.figures([ORG], now, windows=True)[ORG]
    assert fig.departures["24h"] == {"legacy": Fate(left=2, lost=1)} and fig.departures["5m"] == {}
    assert store.figures([OTHER], now, windows=True)[OTHER].departures["1h"] == {"scalekit": Fate(left=1, lost=0)}
    assert [x.org for x in store.expire(t0 + 906)] == [OTHER]


def test_expire_takes_at_most_limit(store):
    t0 = time.time() - 1000
    store.record(Batch(departures=[Departure(ORG, "legacy", (f"k{i}",), t0 + i * 0.001, 900) for i in range(30)]))
    assert len(store.expire(t0 + 950, limit=10)) == 10
    assert len(store.expire(t0 + 950, limit=100)) == 20


def test_departures_are_capped_oldest_first(h):
    s = h.make(max_departures=5)
    t0 = time.time() - 1000
    try:
        for i in range(12):
            s.record(Batch(departures=[Departure(ORG, "legacy", (f"k{i}",), t0 + i, 900)]))
        if h.name == "sqlite":  # sqlite trims in its periodic sweep
            h.wait_past(60)
            s.record(Batch(routed={"legacy": t0}))
        lost = s.expire(t0 + 2000, limit=100)
        assert len(lost) == 5 and min(x.at for x in lost) >= t0 + 7
    finally:
        s.close()


def test_shared_stores_sum_over_instances(h):
    if not h.shared:
        pytest.skip("memory:// is one process")
    a, b = h.make(), h.make()
    t0 = time.time() - 1000
    try:
        a.record(Batch(outcomes=[ev(ORG, "scalekit", True, t0 + 990)]))
        b.record(Batch(outcomes=[ev(ORG, "scalekit", False, t0 + 991)]))
        # the IdP's answer reached instance b before instance a flushed the departure
        b.record(Batch(returns=[Return(("k-fast",), t0 + 0.5, 900)]))
        a.record(
            Batch(
                departures=[
                    Departure(ORG, "legacy", ("k-fast",), t0, 900),
                    *(Departure(ORG, "legacy", (f"k{i}",), t0 + 1 + i * 0.01, 900) for i in range(40)),
                ]
            )
        )
        got: list = []
        threads = [threading.Thread(target=lambda s=s: got.extend(s.expire(t0 + 950, limit=7))) for s in (a, b) * 5]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        got += a.expire(t0 + 950, limit=1000)
        assert len(got) == 40  # each lost login counted by exactly one instance; the fast one not at all
        fig = b.figures([ORG], t0 + 995, windows=True)[ORG]
        assert fig.windows["5m"]["scalekit"].total == Tally(1, 1)
        assert a.observe_flips([(ORG, True)], t0) == {ORG: FlipState(True, t0)}
        assert b.observe_flips([(ORG, True)], t0 + 5) == {ORG: FlipState(True, t0)}  # the first one to see it wins
    finally:
        a.close()
        b.close()


def test_routed_keeps_the_latest_time_per_provider(store):
    t0 = time.time()
    assert store.routed().last == {}
    store.record(Batch(routed={"legacy": t0, "scalekit": t0 + 1}))
    store.record(Batch(routed={"legacy": t0 - 50}))  # an older time never moves it back
    r = store.routed()
    assert r.last == {"legacy": pytest.approx(t0), "scalekit": pytest.approx(t0 + 1)}
    assert r.started == pytest.approx(t0)


def test_rollback_record(store):
    rb = Rollback(at=100.0, flip_since=50.0, provider="scalekit", stage="login", failures=6, attempts=7, window=600)
    assert store.rollbacks() == {}
    store.save_rollback(ORG, rb)
    assert store.figures([ORG], time.time(), windows=False)[ORG].rollback == rb
    later = Rollback(at=900.0, flip_since=800.0, provider="scalekit", stage="token", failures=5, attempts=5, window=600)
    store.save_rollback(ORG, later)  # one per org: the last
    store.save_rollback("other.org", rb)
    assert store.rollbacks() == {ORG: later, "other.org": rb}


def test_lock_is_held_by_one_owner_until_released_or_expired(h):
    a, b = h.make(), h.make()
    try:
        assert a.acquire("canary:megasoft.com", "instance-a", 1)
        assert not b.acquire("canary:megasoft.com", "instance-b", 1)
        assert a.acquire("canary:megasoft.com", "instance-a", 1)  # its owner may renew it
        assert b.acquire("canary:other.org", "instance-b", 1)  # one lock per name
        b.release("canary:megasoft.com", "instance-b")  # not its lock: no effect
        assert not b.acquire("canary:megasoft.com", "instance-b", 1)
        a.release("canary:megasoft.com", "instance-a")
        assert b.acquire("canary:megasoft.com", "instance-b", 1)
        h.wait_past(1)
        assert a.acquire("canary:megasoft.com", "instance-a", 1)  # b's expired
    finally:
        if b is not a:
            b.close()
        a.close()


def test_ping_and_close(store):
    assert store.ping()


def test_a_dead_backend_raises_store_unavailable(tmp_path):
    from tests.stores.conftest import free_port

    dead = RedisFigures(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    with pytest.raises(StoreUnavailable):
        dead.record(Batch(routed={"legacy": 1.0}))
    with pytest.raises(StoreUnavailable):
        dead.figures([ORG], 1.0, windows=True)
    assert not dead.ping()
    s = SqliteFigures(f"sqlite://{tmp_path / 'f.db'}", clock=time.time)
    s.close()
    with pytest.raises(StoreUnavailable):
        s.record(Batch(routed={"legacy": 1.0}))


def test_open_figures_by_url(tmp_path):
    assert isinstance(open_figures("memory://", clock=time.time), MemoryFigures)
    assert isinstance(open_figures(f"SQLITE://{tmp_path / 'x.db'}", clock=time.time), SqliteFigures)
    r = open_figures("redis://user:pw@127.0.0.1:1/0", clock=time.time, timeout=0.1)
    assert isinstance(r, RedisFigures) and "pw" not in r.url
    s = open_figures("redis+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/mymaster/0", clock=time.time, timeout=0.1)
    assert isinstance(s, RedisFigures) and "pw" not in s.url  # the primary Sentinel names, as the correlations
    with pytest.raises(StoreUnavailable):
        s.record(Batch(routed={"legacy": 1.0}))  # no sentinel listening: unavailable, not a crash
    with pytest.raises(ValueError):
        open_figures("mongodb://x", clock=time.time)
