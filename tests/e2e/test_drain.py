"""Graceful drain (issue 15 point 4, CONTRACT "In production"): on SIGTERM a router answers 503 on
``/ready`` at once, keeps serving what it has and what the balancer still sends, flushes the
decision log and exits 0 — within ``sso_drain_timeout``; a second SIGTERM or a SIGINT exits at once.

Through HAProxy (the shipped config, ``tests/e2e/cluster.py``): SIGTERM during a burst of logins
loses none. Against one router: requests that keep arriving after SIGTERM are all served (the
router leaves only once nothing came or went for a quiet spell), a flow that never ends holds it
until ``sso_drain_timeout``, and a second signal cuts the wait.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.stores.conftest import redis_bin, start_redis  # noqa: F401 — real redis-server

from .cluster import DOWN_WITHIN, TOKEN, Burst, Cluster, cluster, rejections, wait_until  # noqa: F401 — fixture
from .redis_stalls import RedisRelay
from .steps import authorize_url

AT_ONCE = 2.0  # seconds: "at once" on a loaded 2-core box (HAProxy checks every 2 s)
QUIET = 2.0  # routing/mitm/drain.py: nothing came or went for this long, and the router leaves
DRAIN_DEFAULT = 10.0  # CONTRACT: sso_drain_timeout's default
SLACK = 3.0  # a loaded box's scheduling on top of a bound
WRITE_HELD = QUIET + 1.5  # seconds Redis "takes" to acknowledge a write: longer than the quiet spell


def ready_of(url: str, token: str | None = None) -> tuple[int | None, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = requests.get(f"{url}/.sso-router/ready", headers=headers, timeout=2, proxies={"http": None})
    except requests.RequestException as e:
        return None, {"error": repr(e)}
    return r.status_code, r.json()


def test_sigterm_during_a_burst_through_haproxy_loses_no_login(cluster: Cluster):
    cluster.ensure_up()
    a = cluster.router("router1")
    lines_before = len(a.decisions())
    answered_before = cluster.haproxy.servers()["router1"].responses
    with Burst(cluster, threads=6) as burst:
        wait_until("a few logins through both routers", lambda: len(burst.done) >= 6, 60)
        sigterm_wall, sigterm = time.time(), time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        _status, body = wait_until(
            "/ready 503 after SIGTERM", lambda: (s := ready_of(a.url, TOKEN))[0] == 503 and s, AT_ONCE, every=0.05
        )
        assert body == {"ready": False, "why": "draining"}, body
        down = wait_until(
            "HAProxy takes router1 out",
            lambda: cluster.haproxy.servers()["router1"].status == "DOWN" and time.monotonic(),
            DOWN_WITHIN,
        )
        assert a.proc.poll() is None, "router1 left before HAProxy had taken it out"
        rc = a.proc.wait(DRAIN_DEFAULT + SLACK)
        exited, done_at_exit = time.monotonic(), len(burst.done)
        wait_until("logins after router1 left", lambda: len(burst.done) >= done_at_exit + 6, 60)
    assert rc == 0, a.output()
    assert burst.failed == [], burst.failed[:3]
    assert rejections(cluster.world) == []
    assert exited - sigterm < DRAIN_DEFAULT + SLACK, f"drained for {exited - sigterm:.1f}s"
    assert down < exited, "HAProxy still sent to router1 when it left"
    served_while_draining = [d for d in a.decisions()[lines_before:] if d["time"] >= sigterm_wall]
    assert served_while_draining, "router1 served nothing HAProxy sent it after SIGTERM"
    # every answer router1 gave through HAProxy has its decision line: the log was flushed
    answered = cluster.haproxy.servers()["router1"].responses - answered_before
    assert len(a.decisions()) - lines_before >= answered > 0, (len(a.decisions()) - lines_before, answered)
    out = a.stdout_path.read_text()
    assert "SIGTERM: draining" in out and "drain timeout" not in out, out[-2000:]


def test_requests_that_keep_arriving_while_draining_are_served(peers, start_proxy):
    """A balancer that has not noticed the 503 yet still sends; the router must not leave under it,
    even when each request is quick (no flow in flight at most instants)."""
    px = start_proxy()
    px.proc.send_signal(signal.SIGTERM)
    wait_until("/ready 503 after SIGTERM", lambda: ready_of(px.url)[0] == 503, AT_ONCE, every=0.05)
    answers = []
    until = time.monotonic() + 2 * QUIET
    last_sent = time.monotonic()
    while time.monotonic() < until:  # a quick request every 0.3 s, for twice the quiet spell
        last_sent = time.monotonic()  # the router saw it arrive after this, and released it later still
        try:
            answers.append(requests.get(px.url + "/keys", timeout=5, proxies={"http": None}).status_code)
        except requests.RequestException as e:
            answers.append(repr(e))
        time.sleep(0.3)
    assert answers and set(answers) == {200}, answers
    assert px.proc.poll() is None, "left while requests were still arriving"
    rc = px.proc.wait(QUIET + SLACK)
    assert rc == 0, px.output()
    assert time.monotonic() - last_sent >= QUIET, "left before a quiet spell after the last request"
    assert len([d for d in px.decisions() if d["path"] == "/keys"]) == len(answers)


class Blackhole:
    """A provider that accepts connections and never answers: a flow to it stays in flight."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            self.accepted.set()

    def close(self):
        for c in [*self._conns, self.sock]:
            c.close()


@pytest.fixture
def stuck_flow(peers, start_proxy):
    """``stuck_flow(drain_timeout)``: a router whose legacy provider never answers, with one login
    start waiting on it (in flight); returns the router."""
    hole = Blackhole()
    clients: list[threading.Thread] = []

    def start(drain_timeout: float):
        mapping = peers.base_mapping()
        mapping["providers"]["legacy"]["upstream"] = f"http://127.0.0.1:{hole.port}"
        px = start_proxy(mapping, extra_args=["--set", f"sso_drain_timeout={drain_timeout:g}"])
        t = threading.Thread(target=lambda: _quietly(px.url + "/authorize?login_hint=alice@megasoft.com"), daemon=True)
        t.start()
        clients.append(t)
        assert hole.accepted.wait(10), "the router never connected to the provider"
        time.sleep(0.2)  # the request's bytes on their way: the flow is in flight
        return px

    try:
        yield start
    finally:
        hole.close()
        for t in clients:
            t.join(10)


def _quietly(url: str) -> None:
    try:
        requests.get(url, timeout=60, proxies={"http": None})
    except requests.RequestException:
        pass  # the router went away: expected


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_exits_at_once(stuck_flow, second):
    px = stuck_flow(drain_timeout=60)
    px.proc.send_signal(signal.SIGTERM)
    wait_until("/ready 503 after SIGTERM", lambda: ready_of(px.url)[0] == 503, AT_ONCE, every=0.05)
    time.sleep(QUIET + 1)
    assert px.proc.poll() is None, "left with a flow in flight, long before sso_drain_timeout"
    sent = time.monotonic()
    px.proc.send_signal(second)
    px.proc.wait(AT_ONCE + SLACK)
    assert time.monotonic() - sent < AT_ONCE, f"took {time.monotonic() - sent:.1f}s after the second signal"
    assert "second signal while draining" in px.stdout_path.read_text()


def test_a_flow_that_never_ends_holds_the_drain_until_its_timeout(stuck_flow):
    px = stuck_flow(drain_timeout=4)
    sent = time.monotonic()
    px.proc.send_signal(signal.SIGTERM)
    rc = px.proc.wait(4 + SLACK)
    took = time.monotonic() - sent
    assert rc == 0, px.output()
    assert 4 - 0.2 <= took < 4 + SLACK, f"left after {took:.1f}s (sso_drain_timeout=4)"
    assert "drain timeout: exiting with 1 flows still in flight" in px.stdout_path.read_text()


def test_a_response_held_on_its_store_write_goes_out_before_the_router_leaves(peers, start_proxy, start_redis):
    """A provider's answer that taught something waits for Redis to acknowledge the write (up to
    ``sso_store_timeout``, 5 s here). SIGTERM while it waits: the flow is still in flight until the
    write is done and the answer has gone out, however long past the quiet spell that is."""
    store = start_redis()
    relay = RedisRelay(store.port).start()
    try:
        px = start_proxy(extra_args=["--set", f"sso_store={relay.url}", "--set", "sso_store_timeout=5"])
        relay.hold_next(b"SET", WRITE_HELD)
        with ThreadPoolExecutor(1) as pool:
            start = pool.submit(
                requests.get,
                authorize_url(px.url, login_hint="alice@megasoft.com"),
                timeout=30,
                proxies={"http": None},
                allow_redirects=False,
            )
            wait_until("the login start's write sent to Redis", lambda: relay.chosen == 1, 10, every=0.02)
            px.proc.send_signal(signal.SIGTERM)
            r = start.result(timeout=30)
        assert r.status_code == 302 and r.headers["X-Peer"] == "legacy", (r.status_code, r.text[:300])
        answered = time.monotonic()
        rc = px.proc.wait(QUIET + SLACK)
        assert rc == 0 and time.monotonic() - answered >= QUIET - 0.1, px.output()
        assert "drain timeout" not in px.stdout_path.read_text()
    finally:
        relay.stop()
