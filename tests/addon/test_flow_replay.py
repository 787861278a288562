"""Captured flows (tests/flows/*.mitm, recorded with mitmdump -w from the e2e peers) replayed
through the addon: each request as the browser sent it, each provider response fed back so
correlations are rebuilt, and every decision compared with the sidecar's expected rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from routing.mitm.capture import read_flows
from routing.mitm.flows import REQUEST_META
from tests.addon.harness import hook, routing

FLOWS = Path(__file__).resolve().parents[1] / "flows"
CAPTURES = sorted(p.stem for p in FLOWS.glob("*.mitm"))


def as_sent(recorded: http.HTTPFlow) -> http.HTTPFlow:
    orig = recorded.metadata[REQUEST_META]
    headers = recorded.request.headers.copy()
    headers["host"] = orig["authority"]
    req = http.Request.make(
        recorded.request.method,
        f"http://{orig['authority']}{orig['path']}",
        recorded.request.raw_content or b"",
        headers,
    )
    return tflow.tflow(req=req)


def test_there_are_at_least_three_captures():
    assert len(CAPTURES) >= 3, CAPTURES


@pytest.mark.parametrize("name", CAPTURES)
async def test_replay_gives_the_expected_decisions(name):
    expected = json.loads((FLOWS / f"{name}.expected.json").read_text())
    rows = []
    with routing(FLOWS / f"{name}.mapping.toml", secret="test-secret") as (router, _tctx):
        for recorded in read_flows(str(FLOWS / f"{name}.mitm")):
            if REQUEST_META not in recorded.metadata:
                continue  # the router's own endpoints (the recorder's /ready polls)
            f = as_sent(recorded)
            await hook(router.request, f)
            d = f.metadata["sso_router"]
            rows.append(
                {
                    "method": f.request.method,
                    "path": recorded.metadata[REQUEST_META]["path"].split("?")[0],
                    "provider": d["provider"],
                    "reason": d["reason"],
                    "org": d["org"],
                }
            )
            # the recorded decision agrees with the replayed one
            assert {k: recorded.metadata["sso_router"][k] for k in ("provider", "reason", "org")} == {
                k: d[k] for k in ("provider", "reason", "org")
            }
            if recorded.response is not None:
                f.response = recorded.response.copy()
                await hook(router.response, f)
    assert rows == expected
