"""Issue 4: a 100,000-org mapping is reloaded off the request path and swapped whole: requests keep
being answered, and routed by one mapping or the other (never half of one), while it loads."""

from __future__ import annotations

import os
import threading
import time

import requests

from .world import render_mapping

N = 100_000


def big_orgs(n: int, *, flipped: bool) -> str:
    # org0 … org{n-1}; "org7.example" is the one the test flips
    return "".join(
        f'[orgs."org{i}.example"]\nmigrated = {"true" if (i == 7 and flipped) else "false"}\n'
        f'domains = ["org{i}.example.net", "mail.org{i}.example"]\nidp_entity_ids = ["http://www.okta.com/exk{i:010d}"]\n'
        f'connections = ["org{i}-saml", "conn_{i:012d}"]\n\n' for i in range(n))


def write(path, text: str) -> None:
    tmp = path.with_suffix(".big.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_requests_keep_flowing_while_a_100k_org_mapping_loads(peers, start_proxy):
    px = start_proxy()
    base = render_mapping(px.mapping)
    answered: list[float] = []  # when each request completed
    errors: list[str] = []
    stop = threading.Event()

    def traffic():  # a login start for a legacy org and one for a migrated org, over and over
        s = requests.Session()
        for i in range(2000):  # bounded; stopped earlier by the event
            if stop.is_set():
                return
            for hint, want in (("a@megasoft.com", "legacy"), ("b@newcompany.com", "scalekit")):
                try:
                    r = s.get(f"{px.url}/authorize", params={"login_hint": hint, "client_id": "app-client",
                              "redirect_uri": "https://app.test/callback", "response_type": "code"}, timeout=10,
                              allow_redirects=False)
                    answered.append(time.monotonic())
                    if r.headers.get("x-peer") != want:
                        errors.append(f"{hint} -> {r.status_code} {r.headers.get('x-peer')}")
                except requests.RequestException as e:
                    errors.append(f"{hint}: {type(e).__name__}")

    before = px.health()["mapping"]["version"]
    t = threading.Thread(target=traffic)
    t.start()
    try:
        text = base + big_orgs(N, flipped=False)
        written = time.monotonic()
        write(px.mapping_path, text)
        deadline = time.monotonic() + 60
        while px.health()["mapping"]["version"] == before:  # health is answered meanwhile, too
            assert time.monotonic() < deadline, "the big mapping was never loaded"
            time.sleep(0.2)
        swapped = time.monotonic()
        # requests that completed after the file changed and before the new mapping was in place
        during = sum(1 for t_done in list(answered) if written + 0.6 < t_done < swapped - 0.3)
        print(f"mapping load took ~{swapped - written:.1f} s; {during} requests answered meanwhile")
        h = px.health()["mapping"]
        assert h["orgs"] == N + 4 and h["last_reload"]["result"] == "ok"
        # the big mapping routes its own orgs; a flip inside it is applied by the next reload
        def route(hint):
            r = requests.get(f"{px.url}/authorize", params={"login_hint": hint, "client_id": "app-client",
                             "redirect_uri": "https://app.test/callback", "response_type": "code",
                             "prompt": "login"}, timeout=10, allow_redirects=False)
            return r.headers.get("x-sso-route")
        assert route("x@org7.example.net") == "legacy; reason=org"
        version = px.health()["mapping"]["version"]
        write(px.mapping_path, base + big_orgs(N, flipped=True))
        while px.health()["mapping"]["version"] == version:
            assert time.monotonic() < deadline, "the flip was never loaded"
            time.sleep(0.2)
        assert route("x@org7.example.net") == "scalekit; reason=org"
    finally:
        stop.set()
        t.join(timeout=30)
    if swapped - written > 1.5:  # the load took long enough to leave a window to observe
        assert during > 0, "no request was answered while the mapping loaded"
    assert not errors, errors[:5]
