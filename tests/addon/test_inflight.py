"""``InFlight``: what a draining process waits on — quiet counts from the last arrival or release,
and never from before the drain began."""

from routing.mitm.inflight import InFlight


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_quiet_counts_from_the_last_arrival_or_release_and_not_before_since():
    clock = Clock()
    f = InFlight(clock)
    clock.now = 110.0
    assert f.quiet_for(since=109.0) == 1.0  # idle for 10 s, but the drain began 1 s ago
    f.add("a")
    clock.now = 111.0
    assert len(f) == 1 and f.quiet_for(since=109.0) == 0.0  # busy
    f.discard("a")
    clock.now = 111.5
    assert len(f) == 0 and f.quiet_for(since=109.0) == 0.5
    f.add("b")
    f.discard("b")  # a quick request, gone before anyone looked: it still counts as activity
    clock.now = 112.0
    assert f.quiet_for(since=109.0) == 0.5


def test_discarding_an_unknown_flow_is_not_activity():
    clock = Clock()
    f = InFlight(clock)
    clock.now = 105.0
    f.discard("never-added")  # an endpoint or a refused request: never routed upstream
    assert f.quiet_for(since=100.0) == 5.0
