"""What the edge runs off the event loop for the canary: ``flip_states``/``observe`` (which orgs a new
mapping flipped, recorded, and which to watch) and ``check`` (judge the watched orgs from the
figures, enforce, report), against the memory figure store and a real mapping file."""

from __future__ import annotations

import pytest

from routing import canary
from routing.endpoints import OrgsQuery, StoreStatus, answer
from routing.errors import StoreUnavailable
from routing.figures import Batch, OutcomeEvent
from routing.figures.memory import MemoryFigures
from routing.mapping_loader import load_mapping, load_mapping_file
from routing.metrics import Metrics
from routing.model import CanarySettings
from tests.unit.samples import MAPPING

T0 = 1_800_000_000.0
CANARY = b"\n[router.canary]\nenabled = true\nwindow = 600\nmin_attempts = 3\nmax_failure_ratio = 0.5\n"


def with_canary(text: bytes) -> bytes:
    head, sep, rest = text.partition(b"\n[providers.legacy]")
    return head + CANARY + sep + rest


def flipped(text: bytes, org: str, migrated: bool) -> bytes:
    head, sep, rest = text.partition(f'[orgs."{org}"]\nmigrated = {"false" if migrated else "true"}'.encode())
    assert sep, org
    return head + f'[orgs."{org}"]\nmigrated = {"true" if migrated else "false"}'.encode() + rest


def test_flip_states_name_every_org_first_then_only_the_changed_ones():
    m = load_mapping(MAPPING)
    assert canary.flip_states(None, m) == [("megasoft.com", False), ("newcompany.com", True)]
    assert canary.flip_states(m, m) == []
    m2 = load_mapping(flipped(MAPPING, "megasoft.com", True))
    assert canary.flip_states(m, m2) == [("megasoft.com", True)]


def test_observe_records_flips_and_watches_the_fresh_ones():
    store = MemoryFigures(clock=lambda: T0)
    m = load_mapping(with_canary(MAPPING))
    assert canary.observe(store, None, m, T0) == {"newcompany.com": T0}  # first seen migrated now
    m2 = load_mapping(flipped(with_canary(MAPPING), "megasoft.com", True))
    assert canary.observe(store, m, m2, T0 + 700) == {"megasoft.com": T0 + 700}
    # a later process's first look: newcompany's flip is past the window, megasoft's is not
    assert canary.observe(store, None, m2, T0 + 800) == {"megasoft.com": T0 + 700}
    assert store.figures(["newcompany.com"], T0, windows=False)["newcompany.com"].flip.since == T0  # kept


def failing(org: str, n: int, at: float, provider: str = "scalekit", ok: bool = False) -> Batch:
    return Batch(outcomes=[OutcomeEvent(org, provider, "login", ok, None if ok else "http_4xx", at) for _ in range(n)])


def test_check_rolls_a_failing_org_back_once_and_reads_windows_only_for_it(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_bytes(flipped(with_canary(MAPPING), "megasoft.com", True))
    m = load_mapping_file(str(path))
    store = MemoryFigures(clock=lambda: T0 + 60)
    store.record(failing("megasoft.com", 2, T0 - 3600, "legacy", ok=True))  # its baseline at legacy
    store.observe_flips([("megasoft.com", True), ("newcompany.com", True)], T0)
    store.record(failing("megasoft.com", 3, T0 + 30))
    store.record(failing("newcompany.com", 5, T0 + 30, ok=True))
    reads: list[bool] = []
    real = store.figures
    store.figures = lambda orgs, now, *, windows: (reads.append(windows), real(orgs, now, windows=windows))[1]

    acts = canary.check(store, m, ["megasoft.com", "newcompany.com"], owner="a", mapping_path=str(path), now=T0 + 60)
    assert [(a.org, a.action, a.verdict.failures, a.verdict.attempts) for a in acts] == [
        ("megasoft.com", "rolled_back", 3, 3)
    ]
    # every watched org without windows; the 24 h window only for the failing one; then enforce's
    # own re-read under the lock
    assert reads == [False, True, False]
    assert b'[orgs."megasoft.com"]\nmigrated = false' in path.read_bytes()
    # another instance (same file, its mapping not reloaded yet) follows: nothing left to write
    again = canary.check(store, m, ["megasoft.com"], owner="b", mapping_path=str(path), now=T0 + 62)
    assert [(a.org, a.verdict.state, a.action) for a in again] == [("megasoft.com", "follow", "unchanged")]


def test_check_reports_what_it_could_not_do(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_bytes(flipped(with_canary(MAPPING), "megasoft.com", True))
    m = load_mapping_file(str(path))
    store = MemoryFigures(clock=lambda: T0 + 60)
    store.record(failing("megasoft.com", 1, T0 - 60, "legacy", ok=True))
    store.observe_flips([("megasoft.com", True)], T0)
    store.record(failing("megasoft.com", 4, T0 + 30))
    path.unlink()  # the file went away under the router
    acts = canary.check(store, m, ["megasoft.com"], owner="a", mapping_path=str(path), now=T0 + 60)
    assert [(a.org, a.action) for a in acts] == [("megasoft.com", None)]
    assert acts[0].error.startswith("FileNotFoundError")

    class Down(MemoryFigures):
        def figures(self, orgs, now, *, windows):
            raise StoreUnavailable("down", "refused")

    with pytest.raises(StoreUnavailable):  # the edge counts it (figure_calls) and tries again
        canary.check(Down(clock=lambda: T0), m, ["megasoft.com"], owner="a", mapping_path=str(path), now=T0)


def test_the_orgs_endpoints_are_a_query_for_the_edge_and_admin_only():
    kw = dict(holder=None, store=StoreStatus("memory://", True), m=Metrics(), version="x")
    assert answer("/.sso-router/orgs", "GET", admitted=True, **kw) == OrgsQuery(None)
    assert answer("/.sso-router/orgs/", "GET", admitted=True, **kw) == OrgsQuery(None)
    assert answer("/.sso-router/orgs/newco.io", "HEAD", admitted=True, **kw) == OrgsQuery("newco.io")
    assert answer("/.sso-router/orgs/a%2Fb", "GET", admitted=True, **kw) == OrgsQuery("a/b")
    assert answer("/.sso-router/orgs/newco.io", "GET", admitted=False, **kw)[0] == 404
    assert answer("/.sso-router/orgs", "POST", admitted=True, **kw)[0] == 405
    assert answer("/.sso-router/orgsx", "GET", admitted=True, **kw)[0] == 404
    assert CanarySettings().enabled is False  # off unless a mapping turns it on
