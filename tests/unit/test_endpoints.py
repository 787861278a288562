"""``/.sso-router/*`` (routing/endpoints.py) as pure ``(status, headers, body)`` answers: who is told
what, and what ready and health say in each state of the mapping and the store."""

from __future__ import annotations

import json
import time

import pytest

from routing.endpoints import PREFIX, StoreStatus, answer
from routing.metrics import Metrics
from routing.onboard.evidence import Evidence
from routing.reload import MappingHolder
from tests.unit.samples import MAPPING

UP = StoreStatus("redis://127.0.0.1:6379/0", True)
DOWN = StoreStatus("redis://127.0.0.1:6379/0", False, "connection refused")


@pytest.fixture
def holder(tmp_path) -> MappingHolder:
    p = tmp_path / "mapping.toml"
    p.write_bytes(MAPPING)
    h = MappingHolder(str(p), clock=time.time)
    h.load()
    return h


def ask(name: str, *, method: str = "GET", admitted: bool = True, holder=None, store=UP, **kw):
    status, headers, body = answer(
        PREFIX + name, method, admitted=admitted, holder=holder, store=store, m=Metrics(), version="9.9", **kw
    )
    return status, headers, body


@pytest.mark.parametrize("name", ["health", "metrics", "learn", "nope", "orgs/megasoft.com"])
def test_only_ready_answers_a_client_that_is_not_admitted(holder, name):
    status, _, body = ask(name, admitted=False, holder=holder, evidence=Evidence())
    assert (status, body) == (404, b"unknown sso-router endpoint\n")  # as for a path that does not exist


def test_ready_tells_the_world_only_ready_or_not(holder):
    assert ask("ready", admitted=False, holder=holder)[0] == 200
    status, _, body = ask("ready", admitted=False, holder=holder, store=DOWN)
    assert (status, json.loads(body)) == (503, {"ready": False})


@pytest.mark.parametrize(
    "state, kw, why",
    [
        ("starting", {"serving": False}, "starting"),
        ("draining", {"draining": True}, "draining"),
        ("store down", {"store": DOWN}, "store unavailable: connection refused"),
    ],
)
def test_ready_says_why_to_an_admitted_client(holder, state, kw, why):
    status, headers, body = ask("ready", holder=holder, **kw)
    assert (status, json.loads(body)) == (503, {"ready": False, "why": why}), state
    assert headers["cache-control"] == "no-store"


def test_ready_without_a_mapping_is_503():
    status, _, body = ask("ready", holder=None)
    assert (status, json.loads(body)["why"]) == (503, "no mapping loaded")


def test_health_names_mapping_version_orgs_last_reload_and_store(holder):
    status, headers, body = ask("health", holder=holder, store=StoreStatus("redis://127.0.0.1:1/0", False, "x"))
    h = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert h["status"] == "degraded" and h["router_version"] == "9.9"
    assert h["mapping"]["orgs"] == 2 and h["mapping"]["providers"] == ["legacy", "scalekit"]
    assert h["mapping"]["version"] == holder.mapping.version and h["mapping"]["last_reload"]["result"] == "ok"
    assert h["store"] == {"url": "redis://127.0.0.1:1/0", "ok": False, "detail": "x"}


def test_health_never_shows_a_store_password(holder):
    body = ask("health", holder=holder, store=StoreStatus("redis://:hunter2@10.0.0.5:6379/0", True))[2]
    assert b"hunter2" not in body and "10.0.0.5:6379/0" in json.loads(body)["store"]["url"]


def test_metrics_are_prometheus_text():
    status, headers, body = ask("metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"# TYPE sso_router_decisions_total counter" in body


def test_learn_answers_the_evidence_it_has(holder):
    ev = Evidence()
    assert json.loads(ask("learn", holder=holder, evidence=ev)[2])["requests"] == 0
    assert ask("learn", holder=holder, evidence=None)[0] == 404  # not kept by this process


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_endpoints_are_read_only(holder, method):
    status, headers, _ = ask("health", method=method, holder=holder)
    assert status == 405 and headers["allow"] == "GET, HEAD"
