"""``sso-router status`` through the console script, against a small HTTP server on 127.0.0.1 that
answers ``/.sso-router/orgs[/<org>]`` with the router's own report functions (routing.org_report)
over a real mapping and a memory figure store — real sockets, real JSON."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routing.figures import Batch, Departure, OutcomeEvent
from routing.figures.memory import MemoryFigures
from routing.mapping_loader import load_mapping
from routing.org_report import collect_org, collect_orgs, parse_path
from tests.stores.conftest import free_port

from . import captures
from .conftest import run

TOKEN = "admin-t0ken"


class Router:
    """Answers like the router's admin endpoints: 404 text to a client without the token."""

    def __init__(self, want_token: bool) -> None:
        now = time.time()
        self.m = load_mapping(captures.MAPPING.encode())
        self.store = MemoryFigures(clock=time.time)
        self.store.observe_flips([("newcompany.com", True)], now - 120)
        self.store.record(
            Batch(
                outcomes=[
                    OutcomeEvent("newcompany.com", "scalekit", "login", i % 3 != 0, "access_denied", now - 10 - i)
                    for i in range(9)
                ]
                + [OutcomeEvent("megasoft.com", "legacy", "login", True, None, now - 5)],
                departures=[Departure("megasoft.com", "legacy", ("k1",), now - 2000, 900)],
                routed={"legacy": now - 5},
            )
        )
        self.store.expire(now)
        self.want_token = want_token
        self.seen: list[str] = []
        router = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                router.seen.append(self.headers.get("authorization", ""))
                hit = parse_path(self.path)
                if hit is None or (router.want_token and self.headers.get("authorization") != f"Bearer {TOKEN}"):
                    status, headers, body = 404, {"content-type": "text/plain"}, b"unknown sso-router endpoint\n"
                elif hit[1] is None:
                    status, headers, body = collect_orgs(router.store, router.m, time.time())
                else:
                    status, headers, body = collect_org(router.store, router.m, hit[1], time.time())
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Router:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def router():
    with Router(want_token=False) as r:
        yield r


def test_every_org_by_provider(router):
    r = run("status", "--url", router.url)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("scalekit · 1 migrated org") < out.index("legacy · 1 org") < out.index("never come back")
    row = next(ln for ln in out.splitlines() if ln.startswith("newcompany.com"))
    assert row.split()[4:7] == ["6", "3", "33%"]  # ok, failed, failed % since the flip
    assert "megasoft.com  1                1" in out
    assert out.rstrip().endswith("migration not done: 1 org still at legacy")


def test_one_org(router):
    r = run("status", "newcompany.com", "--url", router.url)
    assert r.returncode == 0, r.stderr
    assert "newcompany.com — at scalekit (migrated since" in r.stdout
    assert "6 ok / 3 failed" in r.stdout and "(login): access_denied" in r.stdout
    r = run("status", "megasoft.io", "--url", router.url)  # by one of its domains
    assert r.returncode == 0 and "never came back (24 h): 1 of 1" in r.stdout


def test_json_is_the_routers(router):
    r = run("status", "--json", "--url", router.url)
    assert r.returncode == 0
    obj = json.loads(r.stdout)
    assert obj["migration_target"] == "scalekit" and obj["orgs"][0]["org"] == "newcompany.com"
    one = json.loads(run("status", "newcompany.com", "--json", "--url", router.url).stdout)
    assert one["outcomes"]["5m"]["scalekit"] == {
        "success": 6,
        "failure": 3,
        "login": {"success": 6, "failure": 3},
        "token": {"success": 0, "failure": 0},
    }


def test_unknown_org_is_a_finding(router):
    r = run("status", "nope.test", "--url", router.url)
    assert r.returncode == 1 and "unknown org 'nope.test'" in r.stderr


def test_the_token_from_option_or_environment():
    with Router(want_token=True) as router:
        r = run("status", "--url", router.url)
        assert r.returncode == 1 and "answered 404" in r.stderr and "--token" in r.stderr
        assert run("status", "--url", router.url, "--token", TOKEN).returncode == 0
        assert run("status", env={"SSO_ROUTER_URL": router.url, "SSO_ROUTER_ADMIN_TOKEN": TOKEN}).returncode == 0
        assert router.seen == ["", f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
    assert TOKEN not in r.stdout + r.stderr


def test_a_router_that_is_not_there():
    r = run("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1 and "cannot reach the router" in r.stderr
    assert run("status", "--url", "ftp://x").returncode == 1
