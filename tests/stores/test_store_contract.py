"""One suite, three backends: memory://, sqlite:///path and redis://host:port/db answer alike.

Time: memory and sqlite get an injected clock that the test moves; Redis keeps its own time,
so its expiry tests use 1-second TTLs and a bounded sleep. Redis runs as a real
``redis-server`` (see conftest); those cases are skipped only when the binary is missing.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from routing.correlation import CorrelationStore, key_for, open_store
from routing.model import Route

SECRET = b"s" * 32
REPO = pathlib.Path(__file__).resolve().parents[2]
A = Route("legacy", "megasoft.com")
B = Route("scalekit", "newcompany.com")


@dataclass
class Harness:
    name: str
    url: str
    make: Callable[[], CorrelationStore]  # a new store object on the same URL
    wait_past: Callable[[float], None]  # let this many seconds (and a little more) go by
    dump: Callable[[], bytes]  # everything the backend holds, raw
    shared: bool  # several store objects (processes) on one URL share entries


def _memory(tmp_path, request) -> Harness:
    now = [time.time()]
    stores: list = []

    def make():
        stores.append(open_store("memory://", clock=lambda: now[0]))
        return stores[-1]

    def wait_past(s):
        now[0] += s + 0.5

    return Harness("memory", "memory://", make, wait_past, lambda: repr([s._data for s in stores]).encode(), False)


def _sqlite(tmp_path, request) -> Harness:
    now = [time.time()]  # starts at real time, so another process (real clock) agrees on "live"
    path = tmp_path / "corr.db"
    url = f"sqlite://{path}"

    def wait_past(s):
        now[0] += s + 0.5

    def dump():
        return b"".join(p.read_bytes() for p in tmp_path.glob("corr.db*"))

    return Harness("sqlite", url, lambda: open_store(url, clock=lambda: now[0]), wait_past, dump, True)


def _redis(tmp_path, request) -> Harness:
    import redis

    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    request.addfinalizer(client.close)

    def wait_past(s):
        time.sleep(s + 0.2)

    def dump():
        return b"\n".join(k + b"=" + (client.get(k) or b"") for k in client.scan_iter(count=1000))

    return Harness("redis", url, lambda: open_store(url, clock=time.time), wait_past, dump, True)


@pytest.fixture(params=[_memory, _sqlite, _redis], ids=["memory", "sqlite", "redis"])
def h(request, tmp_path) -> Harness:
    return request.param(tmp_path, request)


@pytest.fixture
def store(h):
    s = h.make()
    yield s
    s.close()


def test_remember_then_recall(store):
    store.remember([("k1", A, 900), ("k2", B, 900)])
    assert store.recall(["k1", "k2"]) == {"k1": A, "k2": B}
    assert store.recall(["k2"]) == {"k2": B}


def test_unknown_keys_and_empty_calls(store):
    store.remember([])
    assert store.recall([]) == {}
    assert store.recall(["never", "seen"]) == {}
    store.remember([("k1", A, 900)])
    assert store.recall(["never", "k1", "seen"]) == {"k1": A}


def test_recall_does_not_erase(store):
    store.remember([("k1", A, 900)])
    for _ in range(3):
        assert store.recall(["k1"]) == {"k1": A}


def test_overwrite_replaces_route_and_ttl(h, store):
    store.remember([("k1", A, 900)])
    store.remember([("k1", B, 900)])
    assert store.recall(["k1"]) == {"k1": B}
    store.remember([("short", A, 1)])
    store.remember([("short", A, 600)])  # a fresh remember lengthens its life
    h.wait_past(1)
    assert store.recall(["short"]) == {"short": A}


def test_entries_expire_after_their_own_ttl(h, store):
    store.remember([("soon", A, 1), ("later", B, 600)])
    assert store.recall(["soon", "later"]) == {"soon": A, "later": B}
    h.wait_past(1)
    assert store.recall(["soon", "later"]) == {"later": B}


def test_non_positive_ttl_is_never_recalled(store):
    store.remember([("zero", A, 0), ("neg", A, -5), ("ok", B, 900)])
    assert store.recall(["zero", "neg", "ok"]) == {"ok": B}


def test_many_keys_in_one_recall(store):
    entries = [(f"key-{i:05d}", A if i % 2 else B, 900) for i in range(1200)]
    store.remember(entries)
    asked = [k for k, _, _ in entries] + [f"unknown-{i}" for i in range(300)] + ["key-00001"]  # one repeated
    got = store.recall(asked)
    assert got == {k: r for k, r, _ in entries}


def test_org_none_round_trips(store):
    store.remember([("k1", Route("scalekit", None), 900), ("k2", Route("legacy", "megasoft.com"), 900)])
    assert store.recall(["k1", "k2"]) == {"k1": Route("scalekit", None), "k2": Route("legacy", "megasoft.com")}
    assert store.recall(["k1"])["k1"].org is None


OPAQUE_KEYS = [
    "a b",
    "tab\there",
    "ключ",
    "x:y",
    "*",
    "?",
    "'; DROP TABLE correlations; --",
    "k" * 200,
    "ssor:nested",
    "0" * 40,
]


def test_keys_are_opaque_strings(store):
    store.remember([(k, Route("legacy", f"org{i}.com"), 900) for i, k in enumerate(OPAQUE_KEYS)])
    assert store.recall(OPAQUE_KEYS) == {k: Route("legacy", f"org{i}.com") for i, k in enumerate(OPAQUE_KEYS)}


def test_store_holds_keyed_hashes_never_raw_values(h, store):
    raw = {"state": "st-very-secret-state-value", "code": "code-very-secret-authorization-code"}
    keys = {ns: key_for(SECRET, ns, v) for ns, v in raw.items()}
    store.remember([(k, A, 900) for k in keys.values()])
    held = h.dump()
    for ns, value in raw.items():
        assert value.encode() not in held
        assert keys[ns].encode() in held  # what is held is the hash, under which it is recalled
    assert store.recall(list(keys.values())) == {k: A for k in keys.values()}


def test_ping(store):
    assert store.ping() is True


def test_two_store_objects_on_one_url_share_entries(h):
    if not h.shared:
        pytest.skip("memory:// is one process's own by design")
    one, two = h.make(), h.make()
    try:
        one.remember([("from-one", A, 900)])
        two.remember([("from-two", Route("scalekit", None), 900)])
        assert two.recall(["from-one"]) == {"from-one": A}
        assert one.recall(["from-two"]) == {"from-two": Route("scalekit", None)}
        two.remember([("from-one", B, 900)])
        assert one.recall(["from-one"]) == {"from-one": B}
    finally:
        one.close()
        two.close()


CHILD = """
import json, sys, time
from routing.correlation import open_store
from routing.model import Route
store = open_store(sys.argv[1], clock=time.time)
seen = store.recall(["from-parent"])
store.remember([("from-child", Route("scalekit", None), 900)])
store.close()
print(json.dumps({k: [r.provider, r.org] for k, r in seen.items()}))
"""


def test_another_process_sees_the_entries(h, store):
    if not h.shared:
        pytest.skip("memory:// is one process's own by design")
    store.remember([("from-parent", A, 900)])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, h.url], capture_output=True, text=True, timeout=60, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"from-parent": ["legacy", "megasoft.com"]}
    assert store.recall(["from-child"]) == {"from-child": Route("scalekit", None)}
