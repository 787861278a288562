"""redis:// beyond the shared contract: its wire shape (prefix, EX ttl, one round trip per call)
and how it degrades: killed, hung (SIGSTOP), or down before the store was built."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from routing.correlation import open_store
from routing.errors import StoreUnavailable
from routing.model import Route
from tests.ports import free_port

A = Route("legacy", "megasoft.com")
TIMEOUT = 0.25
FREED_WITHIN = 5.0  # s until a caller of a dead or hung store is answered: its timeout, and a loaded 2-core box


@pytest.fixture
def client(redis_url):
    import redis

    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def test_keys_are_prefixed_and_carry_the_entry_ttl(redis_url, client):
    store = open_store(redis_url, clock=time.time)
    store.remember([("k1", A, 900), ("k2", Route("scalekit", None), 30)])
    assert sorted(client.keys("*")) == [b"ssor:k1", b"ssor:k2"]
    assert 895 <= client.ttl("ssor:k1") <= 900 and 25 <= client.ttl("ssor:k2") <= 30
    assert client.get("ssor:k1") == b"legacy\tmegasoft.com"
    store.close()


def test_one_round_trip_per_call(redis_url, monkeypatch):
    from redis.connection import AbstractConnection

    store = open_store(redis_url, clock=time.time)
    assert store.ping()  # the connection's handshake happens here, not in the calls counted
    sent: list[int] = []
    real = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(1)
        return real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    store.remember([(f"k{i}", A, 900) for i in range(50)])
    assert len(sent) == 1
    sent.clear()
    assert len(store.recall([f"k{i}" for i in range(60)])) == 50
    assert len(sent) == 1
    store.close()


def test_malformed_url_is_a_value_error():
    with pytest.raises(ValueError):
        open_store("redis://127.0.0.1:notaport/0", clock=time.time)


def test_down_when_built_then_comes_up(start_redis):
    port = free_port()
    store = open_store(f"redis://127.0.0.1:{port}/0", clock=time.time, timeout=TIMEOUT)  # must not raise
    t = time.monotonic()
    assert store.ping() is False
    with pytest.raises(StoreUnavailable):
        store.recall(["k1"])
    with pytest.raises(StoreUnavailable):
        store.remember([("k1", A, 900)])
    assert time.monotonic() - t < FREED_WITHIN
    start_redis(port)  # the same store object recovers: it connects lazily, per call
    assert store.ping() is True
    store.remember([("k1", A, 900)])
    assert store.recall(["k1"]) == {"k1": A}
    store.close()


def test_errors_never_carry_the_password():
    store = open_store(f"redis://:hunter2@127.0.0.1:{free_port()}/0", clock=time.time, timeout=TIMEOUT)
    with pytest.raises(StoreUnavailable) as e:
        store.recall(["k1"])
    assert "hunter2" not in str(e.value) and "hunter2" not in repr(e.value.__cause__)
    assert "hunter2" not in store.url and store.url.startswith("redis://127.0.0.1:")
    with pytest.raises(ValueError) as bad:
        open_store("redis://:hunter2@127.0.0.1:notaport/0", clock=time.time)
    assert "hunter2" not in str(bad.value)


def test_killed_redis_fails_fast(start_redis):
    server = start_redis()
    store = open_store(server.url, clock=time.time, timeout=TIMEOUT)
    store.remember([("k1", A, 900)])
    server.kill()
    t = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.recall(["k1"])
    assert time.monotonic() - t < FREED_WITHIN
    with pytest.raises(StoreUnavailable):
        store.remember([("k2", A, 900)])
    assert store.ping() is False
    assert time.monotonic() - t < FREED_WITHIN
    store.close()


def test_hung_redis_frees_callers_within_the_timeout(start_redis):
    server = start_redis()
    store = open_store(server.url, clock=time.time, timeout=TIMEOUT)
    store.remember([("k1", A, 900)])
    server.pause()  # SIGSTOP: the kernel still accepts connections, nothing answers
    try:
        t = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.recall(["k1"])
        assert time.monotonic() - t < FREED_WITHIN
        t = time.monotonic()
        assert store.ping() is False
        assert time.monotonic() - t < FREED_WITHIN

        def call(i):  # many worker threads at once, each on its own (new) connection
            t0 = time.monotonic()
            try:
                store.recall([f"k{i}"])
                return "answered", time.monotonic() - t0
            except StoreUnavailable:
                return "unavailable", time.monotonic() - t0

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(16)))
        assert {r for r, _ in results} == {"unavailable"}
        assert max(d for _, d in results) < FREED_WITHIN
    finally:
        server.resume()
    assert store.recall(["k1"]) == {"k1": A}  # SIGCONT: works again, entries intact
    store.remember([("k2", A, 900)])
    assert store.recall(["k1", "k2"]) == {"k1": A, "k2": A}
    assert store.ping() is True
    store.close()


def test_close_then_reuse_reconnects(redis_url):
    store = open_store(redis_url, clock=time.time)
    store.remember([("k1", A, 900)])
    store.close()
    store.close()  # idempotent
    other = open_store(redis_url, clock=time.time)
    assert other.recall(["k1"]) == {"k1": A}
    other.close()


def test_no_password_from_a_query_string_reaches_messages():
    from routing.logsafe import safe_url

    port = free_port()  # nothing listens: refused
    s = open_store(f"REDIS://127.0.0.1:{port}/0?password=hunter2", clock=lambda: 0.0, timeout=0.05)
    assert s.url == f"redis://127.0.0.1:{port}/0" and "hunter2" not in safe_url("redis://:hunter2@h/0?password=hunter2")
    with pytest.raises(StoreUnavailable) as e:  # down on purpose: the error must not carry the password
        s.recall(["k"])
    assert "hunter2" not in str(e.value) and "hunter2" not in repr(e.value.__cause__)
    s.close()
