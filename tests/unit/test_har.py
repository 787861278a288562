"""HAR files (routing/har.py): what a browser's export holds, read as the exchanges ``explain``
replays; an entry it cannot read is skipped by number, never the whole file."""

from __future__ import annotations

import base64
import json

import pytest

from routing.har.read import HarError, exchange_from_entry, load_har, read_har
from routing.mapping_loader import load_mapping
from routing.replay import Row, Skipped, replay
from tests.cli import captures


def entry(url: str, *, method: str = "GET", headers=(), cookies=(), post=None, response=None) -> dict:
    e = {
        "startedDateTime": "2026-01-02T03:04:05.500Z",
        "request": {
            "method": method,
            "url": url,
            "headers": [{"name": n, "value": v} for n, v in headers],
            "cookies": [{"name": n, "value": v} for n, v in cookies],
        },
    }
    if post is not None:
        e["request"]["postData"] = post
    if response is not None:
        e["response"] = response
    return e


def test_a_login_replays_as_the_proxy_decided():
    m = load_mapping(captures.MAPPING.encode())
    data = json.dumps(captures.har_document(captures.login_steps(), cookies=True)).encode()
    out = list(replay(read_har(data), m, secret=b"k"))
    got = [
        (o.method, o.path, o.decision.provider, o.decision.reason.value, o.decision.org)
        for o in out
        if isinstance(o, Row)
    ]
    assert got == captures.EXPECTED
    assert [o.index for o in out if isinstance(o, Skipped)] == [3, 8]


@pytest.mark.parametrize("data", [b"not json", b"[]", b'{"log": {}}', b'{"log": {"entries": {}}}'])
def test_not_a_har_file(data):
    with pytest.raises(HarError):
        load_har(data)


def test_an_unreadable_entry_is_skipped_by_number_without_its_values():
    doc = {
        "log": {
            "entries": [
                entry("https://auth.yourapp.com/authorize?login_hint=a@x.com"),
                {"request": {"url": "https://auth.yourapp.com/x?state=SECRET-STATE"}},  # no method
                entry("ftp://auth.yourapp.com/"),
            ]
        }
    }
    out = list(read_har(json.dumps(doc).encode()))
    assert [type(o).__name__ for o in out] == ["Exchange", "Skipped", "Skipped"]
    assert [o.index for o in out] == [1, 2, 3]
    assert all("SECRET" not in o.why for o in out if isinstance(o, Skipped))


def test_the_request_as_the_browser_sent_it():
    ex = exchange_from_entry(
        entry(
            "https://Auth.YourApp.com:443/login/callback?x=1",
            method="post",
            headers=[
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("Accept", "a"),
                ("accept", "b"),
                (":authority", "auth.yourapp.com"),
            ],
            cookies=[("sso_router", "v1"), ("other", "2")],
            post={"mimeType": "application/x-www-form-urlencoded", "params": [{"name": "RelayState", "value": "r 1"}]},
        ),
        7,
    )
    v = ex.view
    assert (ex.index, v.method, v.host, v.path, v.query) == (7, "POST", "auth.yourapp.com", "/login/callback", "x=1")
    assert v.headers["accept"] == "a, b" and ":authority" not in v.headers  # HTTP/2 pseudo-headers left out
    assert v.headers["cookie"] == "sso_router=v1; other=2" and v.sticky == "v1"  # from the cookies list
    assert v.body == b"RelayState=r+1" and v.content_type == "application/x-www-form-urlencoded"
    assert ex.at == 1767323045.5


def test_a_get_carries_no_body_and_a_missing_response_is_none():
    ex = exchange_from_entry(
        entry("https://auth.yourapp.com/a", post={"mimeType": "text/plain", "text": "x"}, response={"status": 0}), 1
    )
    assert ex.view.body == b"" and ex.response is None  # status 0: blocked or cancelled, never answered


def test_the_response_location_and_a_base64_body():
    ex = exchange_from_entry(
        entry(
            "https://auth.yourapp.com/a",
            response={"status": 302, "headers": [], "redirectURL": "https://idp.example/sso?SAMLRequest=x"},
        ),
        1,
    )
    assert ex.response.location == "https://idp.example/sso?SAMLRequest=x"
    html = b"<form method=post><input name=SAMLRequest value=abc></form>"
    ex = exchange_from_entry(
        entry(
            "https://auth.yourapp.com/a",
            response={
                "status": 200,
                "headers": [{"name": "Content-Type", "value": "text/html"}],
                "content": {"mimeType": "text/html", "encoding": "base64", "text": base64.b64encode(html).decode()},
            },
        ),
        1,
    )
    assert ex.response.body == html and ex.response.content_type == "text/html"
