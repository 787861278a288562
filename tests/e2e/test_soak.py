"""The soak (issue 19 point 5; ``pytest -m soak``, not in the default run): production in small — HAProxy
with the shipped config, two routers, one Redis (``tests/e2e/cluster.py``) — under everything at once:

- browsers logging in (SAML and OIDC, legacy and migrated orgs), each waiting a moment at its IdP;
- every ``FLIP_EVERY`` seconds one org flipped (the ``sso-router migrate``/``rollback`` code on the
  shared mapping file), so many logins are at their IdP when their org changes provider;
- Redis paused (``CLIENT PAUSE 400 ALL``) every 1.5 s; Redis SIGKILLed once (restarted empty on its
  port) and one router SIGKILLed once (restarted once HAProxy has taken it out).

Each login is judged by the peers, which accept only what they issued: it finished at the provider
that started it, or it was *misrouted* (an ACS post or code exchange reached the other provider), or
*lost* (no answer, a 5xx). Outside the two kill windows there must be no misroute and no loss; the
figures (also those inside the windows) are written to ``soak-figures.json`` and printed (``-s``).

``SSO_SOAK_LOGINS`` (default 400) sets the size; ``.ci/run`` runs a short one.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import asdict, dataclass, field

import pytest
import requests

from routing.mapping_edit import set_migrated
from tests.stores.conftest import redis_bin  # noqa: F401 — real redis-server

from .browser import query_of
from .cluster import (
    DOWN_WITHIN,
    LOGINS,
    START_WITHIN,
    UP_WITHIN,
    Cluster,
    cluster,  # noqa: F401 — fixture
    wait_until,
)
from .redis_stalls import Pauser
from .steps import authorize_url, finish_at_proxy

pytestmark = pytest.mark.soak

LOGINS_WANTED = int(os.environ.get("SSO_SOAK_LOGINS", "400"))
WORKERS = 8
FLIP_EVERY = 0.5  # seconds between two flips (orgs in turn: each org changes every 2 s)
AT_IDP = (0.0, 1.0)  # seconds a user spends at the IdP (uniform)
ORG_OF = {
    "alice@megasoft.com": "megasoft.com",
    "bob@newcompany.com": "newcompany.com",
    "carol@acme.com": "acme.com",
    "dan@globex.com": "globex.com",
}
RUN_WITHIN = 1800.0


@dataclass
class Step:
    name: str
    sent: float
    answered: float
    status: int | None
    peer: str | None


@dataclass
class Outcome:
    hint: str
    provider: str | None = None  # where the login started
    steps: list[Step] = field(default_factory=list)
    result: str = "ok"  # "ok" | "misrouted" | "lost"
    detail: str = ""

    @property
    def started(self) -> float:
        return self.steps[0].sent

    @property
    def ended(self) -> float:
        return self.steps[-1].answered


def one_login(c: Cluster, hint: str, rng: random.Random) -> Outcome:
    """A login through HAProxy that never raises: the outcome says how it went."""
    o = Outcome(hint)
    b = c.browser()

    def step(name, fn):
        sent = time.monotonic()
        try:
            hop = fn()
        except requests.RequestException as e:
            o.steps.append(Step(name, sent, time.monotonic(), None, None))
            raise _Lost(f"{name}: {type(e).__name__}") from e
        status = hop.status if hasattr(hop, "status") else hop.status_code
        o.steps.append(Step(name, sent, time.monotonic(), status, hop.headers.get("X-Peer")))
        return hop

    try:
        start = step("start", lambda: b.get(authorize_url(c.public_url, login_hint=hint)))
        if start.status != 302 or start.peer is None:
            raise _Lost(f"start answered {start.status}")
        o.provider = start.peer
        idp = b.get(start.location)
        time.sleep(rng.uniform(*AT_IDP))
        back = step("back", lambda: finish_at_proxy(b, idp, c.public_url))
        _judge(o, back.status, back.peer, "back")
        code = query_of(back.location or "").get("code", "")
        token = step("token", lambda: c.exchange(code, o.provider))
        _judge(o, token.status_code, token.headers.get("X-Peer"), "token", ok=200)
    except _Lost as e:
        o.result, o.detail = "lost", str(e)
    except _Misrouted as e:
        o.result, o.detail = "misrouted", str(e)
    return o


class _Lost(Exception):
    pass


class _Misrouted(Exception):
    pass


def _judge(o: Outcome, status: int, peer: str | None, name: str, ok: int = 302) -> None:
    if peer is not None and peer != o.provider:
        raise _Misrouted(f"{name} went to {peer} ({status}); the login started at {o.provider}")
    if status != ok:
        raise _Lost(f"{name} answered {status} by {peer or 'no provider'}")


class Flipper(threading.Thread):
    """Flips the orgs in turn, through the code ``sso-router migrate``/``rollback`` runs."""

    def __init__(self, c: Cluster, lock: threading.Lock):
        super().__init__(daemon=True, name="flipper")
        self.c, self.lock = c, lock
        self.mapping = c.routers[0].mapping  # the routers' one dict: a restart writes what is flipped
        self.path = str(c.routers[0].mapping_path)
        self.flips: dict[str, list[float]] = {org: [] for org in ORG_OF.values()}
        self._halt = threading.Event()

    def run(self) -> None:
        orgs = list(self.flips)
        n = 0
        while not self._halt.wait(FLIP_EVERY):
            org = orgs[n % len(orgs)]
            n += 1
            with self.lock:
                migrated = not self.mapping["orgs"][org]["migrated"]
                set_migrated(self.path, org, migrated)
                self.mapping["orgs"][org]["migrated"] = migrated
            self.flips[org].append(time.monotonic())

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def straddled(self, o: Outcome) -> bool:
        """The login's org was flipped while its user was at the IdP."""
        org = ORG_OF[o.hint]
        return len(o.steps) > 1 and any(o.steps[0].answered < t < o.steps[1].sent for t in self.flips[org])


def test_soak(cluster: Cluster, tmp_path):
    c = cluster
    c.ensure_up()
    rng = random.Random(19)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    flip_lock = threading.Lock()
    windows: dict[str, tuple[float, float]] = {}

    def worker(i: int) -> None:
        r = random.Random(i)
        while True:
            with lock:
                if len(outcomes) >= LOGINS_WANTED:
                    return
            o = one_login(c, rng.choice(LOGINS)[0], r)
            with lock:
                outcomes.append(o)

    pauser, flipper = Pauser(c.redis.port), Flipper(c, flip_lock)
    pauser.start()
    flipper.start()
    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(WORKERS)]
    began = time.monotonic()
    for w in workers:
        w.start()
    try:
        wait_until("40% of the logins", lambda: len(outcomes) >= 0.4 * LOGINS_WANTED, RUN_WITHIN, every=0.2)
        windows["redis"] = kill_redis(c)
        wait_until("70% of the logins", lambda: len(outcomes) >= 0.7 * LOGINS_WANTED, RUN_WITHIN, every=0.2)
        windows["router"] = kill_router(c, "router2", flip_lock)
        for w in workers:
            w.join(RUN_WITHIN)
    finally:
        flipper.stop()
        pauser.stop()
    took = time.monotonic() - began

    figures = summarise(outcomes, windows, flipper, pauser, took)
    (tmp_path / "soak-figures.json").write_text(json.dumps(figures, indent=1))
    print("\nsoak figures:", json.dumps(figures, indent=1))
    bad = [asdict(o) for o in outcomes if o.result != "ok" and window_of(o, windows) is None]
    outside = figures["outside_windows"]
    assert (outside["misrouted"], outside["lost"], figures["router_5xx"]) == (0, 0, 0), (figures, bad[:5])
    assert figures["logins"] >= LOGINS_WANTED and figures["straddled_a_flip"] > 0, figures


def kill_redis(c: Cluster) -> tuple[float, float]:
    """SIGKILL Redis, restart it (empty) on its port after 2 s; the window ends once both routers
    say ready again."""
    killed = time.monotonic()
    c.redis.kill()
    time.sleep(2)
    c.redis.start()
    for r in c.routers:
        wait_until(f"router :{r.port} ready after Redis came back", lambda r=r: c.ready(r) == 200, 15)
    return killed, time.monotonic()


def kill_router(c: Cluster, name: str, flip_lock: threading.Lock) -> tuple[float, float]:
    """SIGKILL a router; once HAProxy has it DOWN, restart it (no flip meanwhile: a start writes the
    mapping) and wait until HAProxy has it UP. The window is the kill's instant."""
    r = c.router(name)
    killed = time.monotonic()
    r.proc.kill()
    r.proc.wait(5)
    c.haproxy.wait_status(name, "DOWN", DOWN_WITHIN)
    with flip_lock:
        r.stop()
        r.start(timeout=START_WITHIN)
    c.haproxy.wait_status(name, "UP", UP_WITHIN)
    return killed, killed


def window_of(o: Outcome, windows: dict[str, tuple[float, float]]) -> str | None:
    """The kill window a login was caught in, if any: it lived across the Redis outage (its
    correlations were in the Redis that died, or written while it was down), or one of its requests
    was in a router when that died."""
    redis_from, redis_to = windows.get("redis", (0, 0))
    router_at = windows.get("router", (0, 0))[0]
    if o.steps and o.started < redis_to and o.ended > redis_from:
        return "redis_killed"
    if any(s.sent <= router_at <= s.answered for s in o.steps):
        return "router_killed"
    return None


def summarise(outcomes: list[Outcome], windows, flipper: Flipper, pauser: Pauser, took: float) -> dict:
    def count(group: list[Outcome]) -> dict[str, int]:
        return {"logins": len(group), **{k: sum(o.result == k for o in group) for k in ("misrouted", "lost")}}

    by_window = {
        w: [o for o in outcomes if window_of(o, windows) == w] for w in (None, "redis_killed", "router_killed")
    }
    return {
        "logins": len(outcomes),
        "seconds": round(took, 1),
        "flips": sum(len(v) for v in flipper.flips.values()),
        "redis_pauses": len(pauser.windows),
        "redis_kills": 1 if "redis" in windows else 0,
        "router_kills": 1 if "router" in windows else 0,
        "straddled_a_flip": sum(flipper.straddled(o) for o in outcomes),
        "returns_during_a_pause": sum(any(pauser.overlaps(s.sent, s.answered) for s in o.steps[1:]) for o in outcomes),
        "ok": sum(o.result == "ok" for o in outcomes),
        "outside_windows": count(by_window[None]),
        "redis_killed": count(by_window["redis_killed"]),
        "router_killed": count(by_window["router_killed"]),
        "router_5xx": sum(1 for o in outcomes for s in o.steps if s.status is not None and s.status >= 500),
        "examples": {
            w: [o.detail for o in by_window[w] if o.result != "ok"][:4] for w in ("redis_killed", "router_killed")
        },
    }
