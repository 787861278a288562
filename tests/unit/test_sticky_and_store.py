from __future__ import annotations

import pytest

from routing import sticky
from routing.correlation import Candidate, Correlated, decode_route, encode_route, hits, key_for, open_store
from routing.model import Route

SECRET = b"k" * 32


def test_roundtrip():
    v = sticky.sign(Route("scalekit", "newcompany.com"), secret=SECRET, expires=2000)
    assert sticky.verify(v, secret=SECRET, now=1000) == Route("scalekit", "newcompany.com")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # altered MAC
        lambda v: sticky.sign(Route("legacy", None), secret=b"other", expires=2000),  # forged with another key
        lambda v: v.split(".")[0][:-3] + "xyz." + v.split(".")[1],  # altered payload
        lambda v: v + "." + v,  # malformed
        lambda v: "A" * 600 + "." + "B",  # over the size cap
        lambda v: "",
    ],
)
def test_forged_or_altered_is_ignored(mutate):
    v = sticky.sign(Route("scalekit", "newcompany.com"), secret=SECRET, expires=2000)
    assert sticky.verify(mutate(v), secret=SECRET, now=1000) is None


def test_expired_is_ignored():
    v = sticky.sign(Route("scalekit"), secret=SECRET, expires=1000)
    assert sticky.verify(v, secret=SECRET, now=1000) is None


def test_cookie_attributes():
    assert (
        sticky.set_cookie_header("v", secure=True, max_age=900)
        == "sso_router=v; Path=/; Max-Age=900; HttpOnly; SameSite=None; Secure"
    )
    assert "Secure" not in sticky.set_cookie_header("v", secure=False, max_age=900)


def test_read_cookie():
    assert sticky.read_cookie("a=1; sso_router=xyz; b=2") == "xyz"
    assert sticky.read_cookie("sso_routerx=1") is None
    assert sticky.read_cookie(None) is None


def test_keys_are_keyed_hashes_not_values():
    k = key_for(SECRET, "code", "the-code")
    assert (
        "the-code" not in k and k != key_for(b"other", "code", "the-code") and k != key_for(SECRET, "state", "the-code")
    )


def test_memory_store_expiry_and_no_erase():
    now = [100.0]
    s = open_store("memory://", clock=lambda: now[0])
    s.remember([("k1", Route("legacy", "megasoft.com"), 10), ("k2", Route("scalekit"), 100)])
    assert s.recall(["k1", "k2", "k3"]) == {"k1": Route("legacy", "megasoft.com"), "k2": Route("scalekit")}
    assert s.recall(["k1"]) == {"k1": Route("legacy", "megasoft.com")}  # recalling does not consume
    now[0] = 111
    assert s.recall(["k1", "k2"]) == {"k2": Route("scalekit")}


def test_memory_store_is_bounded():
    from routing.correlation.memory import MemoryStore

    s = MemoryStore(clock=lambda: 0.0, max_entries=3)
    s.remember([(f"k{i}", Route("legacy"), 10) for i in range(5)])
    assert len(s) == 3 and s.recall(["k4"]) == {"k4": Route("legacy")}


def test_route_codec_and_hits():
    assert decode_route(encode_route(Route("a", "b.com"))) == Route("a", "b.com")
    assert decode_route(encode_route(Route("a"))) == Route("a")
    assert decode_route("garbage") is None
    cands = [Candidate("state", "l1", "k1"), Candidate("code", "l2", "k2"), Candidate("token", "l3", "k3")]
    assert hits(cands, {"k3": Route("y"), "k2": Route("x")}) == [
        Correlated("code", "l2", Route("x")),
        Correlated("token", "l3", Route("y")),
    ]


def test_memory_store_evicts_the_oldest_without_walking_the_store():
    """A full store drops its oldest entry per write. Finding it must not walk the store: a
    plain dict's first live entry lies behind every slot deleted before it, and that walk grew
    linear with the evictions (5 -> 72 us per remember after 140k). Counted, not timed: the
    store is handed a mapping that counts every walk and every head removal."""
    from collections import OrderedDict

    from routing.correlation.memory import MemoryStore

    class Counting(OrderedDict):
        walks = heads = 0

        def __iter__(self):
            Counting.walks += 1
            return super().__iter__()

        def keys(self):
            Counting.walks += 1
            return super().keys()

        def items(self):
            Counting.walks += 1
            return super().items()

        def values(self):
            Counting.walks += 1
            return super().values()

        def popitem(self, last=True):
            Counting.heads += 0 if last else 1
            return super().popitem(last=last)

    s = MemoryStore(clock=lambda: 0.0, max_entries=1000)
    s.remember([(f"k{i}", Route("legacy"), 3600) for i in range(1000)])
    s._data = Counting(s._data)
    s._next_purge = float("inf")  # the periodic sweep (one walk per 30 s) is another test's
    for i in range(20_000):
        s.remember([(f"n{i}", Route("scalekit"), 3600)])
    assert Counting.walks == 0
    assert Counting.heads == 20_000
    assert len(s) == 1000 and s.recall(["k999", "n19000", "n19999"]) == {
        "n19000": Route("scalekit"),
        "n19999": Route("scalekit"),
    }
    s.remember([("n19000", Route("legacy"), 3600)])  # re-remembered: the youngest again
    s.remember([("z", Route("legacy"), 3600)])
    assert s.recall(["n19000", "n19001"]) == {"n19000": Route("legacy")}


def test_unknown_store_url():
    with pytest.raises(ValueError):
        open_store("mongodb://x", clock=lambda: 0.0)


def test_a_full_memory_store_sweeps_at_most_every_30_s():
    from routing.correlation.memory import MemoryStore

    now = [0.0]
    s = MemoryStore(clock=lambda: now[0], max_entries=100)
    s.remember([(f"k{i}", Route("legacy"), 3600) for i in range(100)])
    sweeps = []
    real = s._purge
    s._purge = lambda t: sweeps.append(t) or real(t)
    for i in range(50):  # full of live entries: every write would otherwise sweep all of them
        now[0] = i * 0.1
        s.remember([(f"n{i}", Route("legacy"), 3600)])
    assert len(sweeps) == 1 and len(s) == 100
    now[0] = 31.0
    s.remember([("late", Route("legacy"), 3600)])
    assert len(sweeps) == 2


def test_a_shadow_mode_cookie_does_not_verify_once_shadow_is_off():
    v = sticky.sign(Route("scalekit", "newcompany.com"), secret=SECRET, expires=2000, shadow=True)
    assert sticky.verify(v, secret=SECRET, now=1000, shadow=True) == Route("scalekit", "newcompany.com")
    assert sticky.verify(v, secret=SECRET, now=1000) is None
    assert (
        sticky.verify(sticky.sign(Route("legacy"), secret=SECRET, expires=2000), secret=SECRET, now=1000, shadow=True)
        is None
    )


def test_read_unverified_says_what_a_cookie_signed_elsewhere_says():
    """For explain, which replays without the live proxy's key; routing only ever verifies."""
    v = sticky.sign(Route("scalekit", "newcompany.com"), secret=b"the live proxy's", expires=2000)
    assert sticky.verify(v, secret=SECRET, now=1000) is None
    assert sticky.read_unverified(v) == sticky.Said(Route("scalekit", "newcompany.com"), 2000)
    assert sticky.read_unverified(v.split(".")[0] + ".redacted-0123") == sticky.Said(
        Route("scalekit", "newcompany.com"), 2000
    )
    for bad in ("", "live-value", "a.b.c", "!!!.x", "x" * 600):
        assert sticky.read_unverified(bad) is None
