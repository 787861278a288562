"""``StoreGuard`` (routing/mitm/store_guard.py) on the event loop against a store whose every answer
the test decides: it answers, fails with a kind, or hangs until released. The real stores behind it
(a SIGSTOPped redis, a refused port) are tests/e2e/test_store_degraded.py's."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

import pytest

from routing.errors import StoreUnavailable
from routing.metrics import Metrics
from routing.mitm import store_guard
from routing.mitm.store_guard import FAILURES_IN_A_ROW, StoreGuard
from routing.model import Route

A = Route("legacy", "megasoft.com")
BOUND = 0.2  # the guard's sso_store_timeout in these tests
SLACK = 1.0  # scheduling on a loaded CI box, on top of a bound


class Scripted:
    """A blocking store (run in the guard's threads) doing what ``plan`` says, call after call:
    "ok", "hang" (until ``release``), or a failure kind ("timeout", "refused", "error")."""

    blocking = True
    url = "scripted://store"

    def __init__(self, *plan: str) -> None:
        self.plan = deque(plan)
        self.calls: list[str] = []
        self.released = threading.Event()
        self.data: dict[str, Route] = {}

    def _next(self, op: str) -> None:
        self.calls.append(op)
        step = self.plan.popleft() if self.plan else "ok"
        if step == "hang":
            self.released.wait(10)
        elif step != "ok":
            raise StoreUnavailable(f"scripted {step}", step)  # type: ignore[arg-type]

    def recall(self, keys):
        self._next("recall")
        return {k: self.data[k] for k in keys if k in self.data}

    def remember(self, entries):
        self._next("remember")
        self.data.update({k: r for k, r, _ in entries})

    def check(self) -> None:
        self._next("ping")


@pytest.fixture
def guarded():
    made: list[tuple[StoreGuard, Scripted]] = []

    def make(*plan: str) -> tuple[StoreGuard, Scripted]:
        store = Scripted(*plan)
        guard = StoreGuard(store, Metrics(), timeout=BOUND)
        made.append((guard, store))
        return guard, store

    yield make
    for guard, store in made:
        store.released.set()
        guard.close()


def errors(guard: StoreGuard, op: str, kind: str) -> float:
    return guard.metrics.get("sso_router_store_errors_total", operation=op, kind=kind)


async def test_a_lookup_answered_in_time_is_used(guarded):
    guard, store = guarded()
    store.data["k"] = A
    assert await guard.recall(["k", "x"]) == ({"k": A}, None)


async def test_a_hung_lookup_waits_its_bound_then_routes_without_and_is_counted(guarded):
    guard, _ = guarded("hang")
    t = time.monotonic()
    found = await guard.recall(["k"])
    took = time.monotonic() - t
    assert found.routes == {} and found.unanswered == "timeout"
    assert BOUND * 0.9 <= took < BOUND + SLACK, took
    assert errors(guard, "recall", "timeout") == 1
    assert guard.available  # one slow answer is not an outage


async def test_failures_in_a_row_make_it_unavailable_and_lookups_are_skipped(guarded, caplog):
    guard, store = guarded(*["timeout"] * FAILURES_IN_A_ROW)
    caplog.set_level(logging.WARNING, logger="sso_router")
    for _ in range(FAILURES_IN_A_ROW):
        await guard.recall(["k"])
    assert not guard.available and guard.status.detail == f"{FAILURES_IN_A_ROW} failed calls in a row (timeout)"
    calls = len(store.calls)
    t = time.monotonic()
    skipped = await guard.recall(["k"])
    assert skipped.unanswered.startswith("unavailable") and time.monotonic() - t < 0.05
    assert len(store.calls) == calls  # not asked at all
    assert [r.levelname for r in caplog.records if "unavailable" in r.getMessage()] == ["WARNING"]  # said once


async def test_a_good_answer_in_between_resets_the_count(guarded):
    guard, _ = guarded("timeout", "timeout", "ok", "timeout", "timeout")
    for _ in range(5):
        await guard.recall(["k"])
    assert guard.available


async def test_a_refused_connection_is_unavailable_at_once(guarded):
    guard, _ = guarded("refused")
    found = await guard.recall(["k"])
    assert not guard.available and guard.status.detail == "connection refused"
    assert found.unanswered.startswith("unavailable")


async def test_the_probe_brings_it_back(guarded):
    guard, _ = guarded("refused", "ok")
    await guard.recall(["k"])
    assert not guard.available
    await guard.probe()  # the next ping answers
    assert guard.available


async def test_a_probe_that_fails_keeps_it_unavailable(guarded):
    guard, _ = guarded("refused", "refused")
    await guard.recall(["k"])
    await guard.probe()
    assert not guard.available and errors(guard, "ping", "refused") == 1


async def test_a_write_that_fails_fast_is_retried_once_within_the_bound(guarded):
    guard, store = guarded("error", "ok")
    await guard.remember([("k", A, 60)])
    assert store.calls == ["remember", "remember"] and store.data == {"k": A}
    assert errors(guard, "remember", "error") == 1


async def test_a_write_that_hangs_is_not_retried_past_the_bound(guarded):
    guard, store = guarded("hang")
    t = time.monotonic()
    await guard.remember([("k", A, 60)])
    assert time.monotonic() - t < BOUND + SLACK
    assert store.calls == ["remember"] and errors(guard, "remember", "timeout") == 1


async def test_while_unavailable_writes_go_to_the_background(guarded):
    guard, store = guarded("refused", "ok")
    await guard.recall(["k"])
    assert not guard.available
    assert guard.remember_later([("k", A, 60)]) is None  # the response is not held
    for _ in range(100):
        if store.data:
            break
        await asyncio.sleep(0.01)
    assert store.data == {"k": A} and guard.available  # written; and its answer made it available


async def test_while_available_the_response_waits_for_the_write(guarded):
    guard, store = guarded()
    pending = guard.remember_later([("k", A, 60)])
    assert pending is not None
    await pending
    assert store.data == {"k": A}


async def test_down_at_startup_is_a_warning_not_a_refusal(guarded, caplog):
    guard, _ = guarded("refused")
    caplog.set_level(logging.WARNING, logger="sso_router")
    guard.check_at_startup()
    assert not guard.available and guard.status.detail == "unreachable at startup"
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def test_after_close_calls_are_refused_without_counting_toward_an_outage(guarded):
    guard, store = guarded()
    guard.close()
    for _ in range(FAILURES_IN_A_ROW + 1):
        found = await guard.recall(["k"])
        assert found.unanswered == "closed (the router is stopping)"
    assert guard.available and store.calls == []


async def test_a_memory_store_is_called_on_the_loop():
    from routing.correlation.memory import MemoryStore

    store = MemoryStore(clock=time.time)
    guard = StoreGuard(store, Metrics(), timeout=BOUND)
    assert not guard.blocking
    guard.remember_now([("k", A, 60)])
    assert guard.recall_now(["k"]) == ({"k": A}, None)


def test_the_threshold_is_three():
    assert store_guard.FAILURES_IN_A_ROW == 3  # CONTRACT: "only after 3 failed calls in a row"
