"""Issue 4: a 100,000-org mapping is reloaded off the request path and swapped whole: requests keep
being answered, quickly, and routed by one mapping or the other (never half of one), while it loads.

Always checked, however long the load took, for every request in flight while it loaded and for the
longest stretch without an answer: never over ``WORST_LATENCY``, and never a large share of the load
(``STALL_SHARE`` of it, above ``STALL_FLOOR``). A load on the event loop holds every request for the
whole parse, so its stall is most of the load window whether the machine is fast or loaded; off the
loop the worst is a garbage-collection pause, a small share of it.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from .world import render_mapping

N = 100_000
# A login start through the proxy takes a few ms; on a loaded 2-core CI box, with the reload's thread
# taking its share of the GIL (and its garbage collections), up to ~0.9 s was seen in an 8 s load.
WORST_LATENCY = 2.0  # s: no request waits this long, however slow the machine
STALL_FLOOR = 0.5  # s: a wait this short is never a stall
STALL_SHARE = 0.4  # of the load window: on the loop the stall was 73% of it, off it 9-10%
LOAD_WITHIN = 60.0  # the load itself (bench: < 2 s on a quiet machine)

pytestmark = pytest.mark.slow


def big_orgs(n: int, *, flipped: bool) -> str:
    # org0 … org{n-1}; "org7.example" is the one the test flips
    return "".join(
        f'[orgs."org{i}.example"]\nmigrated = {"true" if (i == 7 and flipped) else "false"}\n'
        f'domains = ["org{i}.example.net", "mail.org{i}.example"]\nidp_entity_ids = ["http://www.okta.com/exk{i:010d}"]\n'
        f'connections = ["org{i}-saml", "conn_{i:012d}"]\n\n'
        for i in range(n)
    )


def write(path, text: str) -> None:
    tmp = path.with_suffix(".big.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Answer:
    sent: float
    done: float
    problem: str = ""  # "" when routed to the provider the mapping says

    @property
    def took(self) -> float:
        return self.done - self.sent


class Traffic:
    """Login starts for a legacy and a migrated org, back to back, in a thread, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        s = requests.Session()
        s.trust_env = False
        for _ in range(20_000):  # bounded; stopped much earlier by the event
            for hint, want in (("a@megasoft.com", "legacy"), ("b@newcompany.com", "scalekit")):
                if self.stop.is_set():
                    return
                sent = time.monotonic()
                try:
                    r = s.get(
                        f"{self.url}/authorize",
                        params={
                            "login_hint": hint,
                            "client_id": "app-client",
                            "redirect_uri": "https://app.test/callback",
                            "response_type": "code",
                        },
                        timeout=10,
                        allow_redirects=False,
                    )
                    problem = (
                        ""
                        if r.headers.get("x-peer") == want
                        else f"{hint} -> {r.status_code} {r.headers.get('x-peer')}"
                    )
                except requests.RequestException as e:
                    problem = f"{hint}: {type(e).__name__}"
                self.answers.append(Answer(sent, time.monotonic(), problem))

    def during(self, start: float, end: float) -> list[Answer]:
        """Requests in flight at some moment of [start, end]."""
        return [a for a in list(self.answers) if a.done >= start and a.sent <= end]

    def worst_gap(self, start: float, end: float) -> float:
        """The longest stretch of [start, end] in which no request was answered."""
        times = [start, *sorted(a.done for a in list(self.answers) if start <= a.done <= end), end]
        return max(b - a for a, b in itertools.pairwise(times))


def wait_version_change(px, before: str, what: str) -> float:
    """When health names another version (a slow health answer is the traffic's to judge, not this)."""
    deadline = time.monotonic() + LOAD_WITHIN
    while True:
        try:
            if px.health()["mapping"]["version"] != before:
                return time.monotonic()
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{what} was never loaded"
        time.sleep(0.05)


def route(px, hint: str) -> str | None:
    r = requests.get(
        f"{px.url}/authorize",
        params={
            "login_hint": hint,
            "client_id": "app-client",
            "redirect_uri": "https://app.test/callback",
            "response_type": "code",
            "prompt": "login",
        },
        timeout=10,
        allow_redirects=False,
    )
    return r.headers.get("x-sso-route")


def test_requests_keep_flowing_while_a_100k_org_mapping_loads(peers, start_proxy):
    px = start_proxy()
    base = render_mapping(px.mapping)
    traffic = Traffic(px.url)
    before = px.health()["mapping"]["version"]
    traffic.thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(traffic.answers) < 4:  # traffic flowing before the change, so the window starts with it
            assert time.monotonic() < deadline and traffic.thread.is_alive(), "no traffic through the proxy"
            time.sleep(0.01)
        written = time.monotonic()
        write(px.mapping_path, base + big_orgs(N, flipped=False))
        swapped = wait_version_change(px, before, "the big mapping")
        h = px.health()["mapping"]
        assert h["orgs"] == N + 4 and h["last_reload"]["result"] == "ok"
        # the big mapping routes its own orgs; a flip inside it is applied by the next reload
        assert route(px, "x@org7.example.net") == "legacy; reason=org"
        version = px.health()["mapping"]["version"]
        rewritten = time.monotonic()
        write(px.mapping_path, base + big_orgs(N, flipped=True))
        swapped_again = wait_version_change(px, version, "the flip")
        assert route(px, "x@org7.example.net") == "scalekit; reason=org"
    finally:
        traffic.stop.set()
        traffic.thread.join(timeout=30)
    for start, end in ((written, swapped), (rewritten, swapped_again)):
        during = traffic.during(start, end)
        print(
            f"mapping load took ~{end - start:.1f} s; {len(during)} requests in flight meanwhile, "
            f"worst {max(a.took for a in during):.3f} s, longest gap {traffic.worst_gap(start, end):.3f} s"
        )
        assert during, "no request was in flight while the mapping loaded"
        stall = max(STALL_FLOOR, STALL_SHARE * (end - start))
        worst = max(during, key=lambda a: a.took)
        gap = traffic.worst_gap(start, end)
        for what, seconds in (("a request took", worst.took), ("no request was answered for", gap)):
            assert seconds < WORST_LATENCY, f"{what} {seconds:.2f}s while the mapping loaded"
            assert seconds < stall, f"{what} {seconds:.2f}s of a {end - start:.2f}s load: held for the load"
    problems = [a.problem for a in traffic.answers if a.problem]
    assert not problems, problems[:5]
