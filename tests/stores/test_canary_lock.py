"""The canary's one-instance rollback against a real redis-server: of several instances that all see
an org failing at once, exactly one rolls it back (``SET`` if free, Lua-released by its owner)."""

from __future__ import annotations

import threading
import time

from routing.canary import claim, enforce, judge
from routing.figures import Batch, OutcomeEvent
from routing.figures.redis import RedisFigures
from routing.mapping_loader import load_mapping_file
from routing.model import CanarySettings
from tests.unit.samples import MAPPING

ON = CanarySettings(enabled=True, window=600, min_attempts=5, max_failure_ratio=0.5)
ORG = "newcompany.com"


def test_concurrent_claims_one_winner(redis_url):
    stores = [RedisFigures(redis_url) for _ in range(6)]
    won: list[str] = []
    barrier = threading.Barrier(len(stores))

    def go(i: int, s: RedisFigures) -> None:
        barrier.wait(5)
        if claim(s, ORG, f"instance-{i}"):
            won.append(f"instance-{i}")

    threads = [threading.Thread(target=go, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        assert len(won) == 1
    finally:
        for s in stores:
            s.close()


def test_instances_sharing_redis_roll_back_once(redis_url, tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(MAPPING.decode())
    now = time.time()
    instances = [RedisFigures(redis_url) for _ in range(3)]
    try:
        first = instances[0]
        first.observe_flips([(ORG, True)], now - 30)
        failures = [OutcomeEvent(ORG, "scalekit", "login", False, "http_4xx", now - i) for i in range(5)]
        first.record(Batch(outcomes=[*failures, OutcomeEvent(ORG, "legacy", "login", True, None, now - 4000)]))
        m = load_mapping_file(str(path))
        verdicts = [
            judge(
                ON,
                migrated=m.orgs[ORG].migrated,
                target="scalekit",
                legacy="legacy",
                fig=s.figures([ORG], now, windows=True)[ORG],
                now=now,
            )
            for s in instances
        ]
        assert [x.state for x in verdicts] == ["rollback"] * 3
        results: list[str] = []
        threads = [
            threading.Thread(
                target=lambda s=s, vd=vd, i=i: results.append(
                    enforce(vd, ORG, store=s, owner=f"i{i}", mapping_path=str(path), target="scalekit", now=now)
                )
            )
            for i, (s, vd) in enumerate(zip(instances, verdicts, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert results.count("rolled_back") == 1
        assert set(results) <= {"rolled_back", "done_elsewhere", "locked_elsewhere"}
        assert not load_mapping_file(str(path)).orgs[ORG].migrated
    finally:
        for s in instances:
            s.close()
