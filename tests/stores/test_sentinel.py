"""redis+sentinel:// — the URL, and a real failover: a primary, a replica and three sentinels
(``failover_group``); the primary is SIGKILLed and the same store object carries on at the
promoted replica with what had been written."""

from __future__ import annotations

import time

import pytest

from routing.correlation import open_store, safe_url
from routing.correlation.sentinel import SentinelURL, parse_sentinel_url
from routing.errors import StoreUnavailable
from routing.model import Route
from tests.stores.conftest import free_port

FREED_WITHIN = 5.0  # s until a caller of a dead or hung store is answered: its timeout, and a loaded 2-core box

A = Route("legacy", "megasoft.com")
B = Route("scalekit", "newcompany.com")
TIMEOUT = 0.25


@pytest.mark.parametrize(
    "url,want",
    [
        (
            "redis+sentinel://h1:1,h2:2,h3:3/mymaster/0",
            SentinelURL((("h1", 1), ("h2", 2), ("h3", 3)), "mymaster", 0, None, None, None),
        ),
        ("REDIS+SENTINEL://h1,h2:26380/svc", SentinelURL((("h1", 26379), ("h2", 26380)), "svc", 0, None, None, None)),
        (
            "redis+sentinel://:s%40cret@h1:1/svc/3?sentinel_password=x",
            SentinelURL((("h1", 1),), "svc", 3, None, "s@cret", "x"),
        ),
        (
            "redis+sentinel://app:pw@[::1]:5,h2/svc/1",
            SentinelURL((("::1", 5), ("h2", 26379)), "svc", 1, "app", "pw", None),
        ),
    ],
)
def test_url(url, want):
    assert parse_sentinel_url(url) == want


@pytest.mark.parametrize(
    "url,words",
    [
        ("redis+sentinel://h1:1", "/service"),
        ("redis+sentinel://h1:1/svc/zero", "db must be a number"),
        ("redis+sentinel://h1:x/svc/0", "bad sentinel port"),
        ("redis+sentinel://h1:70000/svc/0", "bad sentinel port"),
        ("redis+sentinel://h1,,h2/svc/0", "host is empty"),
        ("redis+sentinel://h1/svc/0/extra", "/service"),
        ("redis+sentinel://h1/svc/0?password=x", "unknown parameter"),
    ],
)
def test_bad_urls_are_value_errors_without_the_password(url, words):
    url = url.replace("://", "://:hunter2@")
    with pytest.raises(ValueError) as e:
        open_store(url, clock=time.time)
    assert words in str(e.value) and "hunter2" not in str(e.value)


def test_safe_url_keeps_the_sentinels_and_drops_the_secrets():
    url = "redis+sentinel://app:hunter2@h1:1,h2:2/mymaster/0?sentinel_password=hunter3"
    assert safe_url(url) == "redis+sentinel://h1:1,h2:2/mymaster/0"
    assert open_store(url, clock=time.time).url == "redis+sentinel://h1:1,h2:2/mymaster/0"


def test_sentinels_down_is_store_unavailable_fast_and_secret_free():
    url = (
        f"redis+sentinel://:hunter2@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/mymaster/0"
        "?sentinel_password=hunter3"
    )
    store = open_store(url, clock=time.time, timeout=TIMEOUT)  # must not connect, nor raise
    t = time.monotonic()
    for call in (lambda: store.recall(["k"]), lambda: store.remember([("k", A, 60)])):
        with pytest.raises(StoreUnavailable) as e:
            call()
        text = f"{e.value} {e.value.__cause__!r}"
        assert "hunter2" not in text and "hunter3" not in text
    assert store.ping() is False
    assert time.monotonic() - t < FREED_WITHIN
    store.close()


def test_writes_reach_the_replica_before_they_return(failover_group):
    import redis

    store = open_store(failover_group.url(), clock=time.time, timeout=TIMEOUT)
    replica = redis.Redis("127.0.0.1", failover_group.replica.port, socket_timeout=2)
    store.remember([("k1", A, 900)])
    assert replica.get("ssor:k1") == b"legacy\tmegasoft.com"  # WAIT 1: acknowledged by the replica
    failover_group.replica.pause()  # a replica that does not answer: writes wait a bounded moment, then succeed
    try:
        t = time.monotonic()
        store.remember([("k2", B, 900)])
        waited = time.monotonic() - t
        assert 0.05 <= waited < 2.0, waited
        assert store.recall(["k2"]) == {"k2": B}
    finally:
        failover_group.replica.resume()
    replica.close()
    store.close()


def test_failover_keeps_what_was_written_with_no_new_store(failover_group):
    store = open_store(failover_group.url(), clock=time.time, timeout=TIMEOUT)
    store.remember([("k1", A, 900), ("k2", B, 900)])
    old = failover_group.kill_primary()
    t = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.recall(["k1"])
    assert time.monotonic() - t < FREED_WITHIN  # bounded, though the primary is gone
    new = failover_group.wait_promoted(old)
    assert new == failover_group.replica.port
    deadline = time.monotonic() + 10
    while True:  # the same store object finds the new primary through the sentinels
        try:
            got = store.recall(["k1", "k2"])
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline, "the store never reached the promoted replica"
            time.sleep(0.1)
    assert got == {"k1": A, "k2": B}
    store.remember([("k3", A, 900)])  # writes go to the new primary (no replica left: WAIT times out, no error)
    assert store.recall(["k3"]) == {"k3": A}
    assert store.ping() is True
    store.close()
