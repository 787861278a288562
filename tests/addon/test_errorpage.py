"""The words of a 502 (routing/mitm/errorpage.py): the provider's name and what went wrong in general
terms, never its upstream's address; mitmproxy's own text kept in the flow for the router's log."""

from __future__ import annotations

import pytest
from mitmproxy.test import tflow

from routing.mitm.apply import META
from routing.mitm.errorpage import NAMED_PREFIX, ORIGINAL, failure_kind, upstream_message


@pytest.mark.parametrize(
    "message, kind",
    [
        ("[Errno 111] Connect call failed ('10.1.2.3', 443)", "connection refused"),
        ("Connection refused", "connection refused"),
        ("TimeoutError: timed out", "timed out"),
        ("Certificate verify failed: unable to get local issuer certificate", "TLS certificate rejected"),
        ("TLS handshake failed: sslv3 alert handshake failure", "TLS handshake failed"),
        ("[Errno -2] Name or service not known", "host name does not resolve"),
        ("Server disconnected.", "connection closed"),
        ("something else entirely", "upstream error"),
    ],
)
def test_failure_kinds(message, kind):
    assert failure_kind(message) == kind


def routed_flow(forwarded_to: str = "legacy"):
    f = tflow.tflow()
    f.metadata[META] = {"provider": forwarded_to, "forwarded_to": forwarded_to}
    return f


def test_the_page_names_the_provider_never_its_address():
    f = routed_flow("legacy")
    original = "Error connecting to origin.legacy-custom-domain.example (10.1.2.3:443): Connection refused"
    text = upstream_message(f, original)
    assert text == f"{NAMED_PREFIX}'legacy' failed: connection refused"
    assert "10.1.2.3" not in text and "legacy-custom-domain" not in text
    assert f.metadata[ORIGINAL] == original  # for the router's own log line


def test_in_shadow_mode_it_names_the_provider_that_really_got_the_request():
    f = tflow.tflow()
    f.metadata[META] = {"provider": "scalekit", "forwarded_to": "legacy"}
    assert upstream_message(f, "timed out") == f"{NAMED_PREFIX}'legacy' failed: timed out"


def test_flows_the_router_did_not_route_are_left_alone():
    assert upstream_message(tflow.tflow(), "Connection refused") is None
    assert upstream_message(object(), "Connection refused") is None


def test_an_already_named_message_is_not_named_twice():
    assert upstream_message(routed_flow(), f"{NAMED_PREFIX}'legacy' failed: timed out") is None
