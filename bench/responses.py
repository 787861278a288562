"""Engine-only microbenchmarks of the response path (no mitmproxy): what the router does on the
event loop with a provider's answer.

- ``plan_response`` on HTML pages: a ~250 KB hosted-login page (the size of Auth0's Universal
  Login pages: inline CSS, scripts, a login form with a hidden ``state``), a SAML HTTP-POST auto-post
  page (``SAMLRequest`` + ``RelayState``) and a small OIDC ``form_post`` page (``code`` + ``state``).
- ``MemoryStore.remember`` on a full store, after growing numbers of evictions.

    python bench/responses.py [--quick] [--json OUT]

Figures are per call, best of several runs (this VM's wall clock is noisy; compare within a run).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from routing.correlation.memory import MemoryStore  # noqa: E402
from routing.mapping_loader import load_mapping  # noqa: E402
from routing.model import Route  # noqa: E402
from routing.rewrite import plan_response  # noqa: E402
from routing.view import ResponseView  # noqa: E402

MAPPING = b"""
[router]
public_url = "https://auth.yourapp.com"
default_provider = "legacy"
migration_target = "scalekit"
[providers.legacy]
upstream = "https://yourapp.us.auth0.com"
[providers.scalekit]
upstream = "https://yourapp.scalekit.com"
"""


def hosted_login_page(size: int = 250_000) -> bytes:
    """A page shaped like a hosted login page: a big inline stylesheet and bundle (with words such
    as state and code, and markup in strings), SVG icons, one login form with a hidden state."""
    css = "".join(f".c{i}{{margin:{i % 9}px;color:#{i % 4096:03x};}}\n" for i in range(2500))
    js = "".join(
        f'function f{i}(state,code){{var t="<div class=\\"x{i}\\">"+state+"</div>";return code&&t}}\n'
        for i in range(1200)
    )
    svg = '<svg viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z"/></svg>' * 150
    form = (
        '<form method="POST" class="c-form" data-form-primary="true">'
        '<input type="hidden" name="state" value="hKFo2SBmT3JtU3RhdGVWYWx1ZUhlcmVGb3JUZXN0aW5n">'
        '<label for="username">Email address</label>'
        '<input class="input" inputmode="email" name="username" id="username" type="text" value="" '
        'required autocomplete="email" autocapitalize="none" spellcheck="false" autofocus>'
        '<input class="input" name="password" id="password" type="password" required '
        'autocomplete="current-password">'
        '<input type="hidden" name="action" value="default">'
        '<button type="submit" name="action" value="default" class="c-button">Continue</button></form>'
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Log in</title>'
        f"<style>{css}</style><script>{js}</script></head><body><main>{svg}{form}</main>"
        f'<script>window.ulpState={{"state":"x","code":"y"}};</script></body></html>'
    )
    page += "<!--" + " " * max(0, size - len(page) - 7) + "-->"
    return page.encode()


def saml_post_page() -> bytes:
    xml = (
        b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1b2c3" Version="2.0" '
        b'IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example/sso">'
        b"<saml:Issuer>urn:auth0:yourapp:megasoft-saml</saml:Issuer>"
        + b"<!-- signature -->" * 150
        + b"</samlp:AuthnRequest>"
    )
    value = base64.b64encode(xml).decode()
    return (
        f'<html><body onload="document.forms[0].submit()"><form method="post" action="https://idp.example/sso">'
        f'<input type="hidden" name="SAMLRequest" value="{value}"/>'
        f'<input type="hidden" name="RelayState" value="rs-0123456789"/>'
        f'<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    ).encode()


def form_post_page() -> bytes:
    return (
        b'<html><head><title>Submit This Form</title></head><body onload="javascript:document.forms[0].submit()">'
        b'<form method="post" action="https://yourapp.com/callback"><input type="hidden" name="code" '
        b'value="c0de-0123456789abcdef"/><input type="hidden" name="state" value="app-state-1"/></form></body></html>'
    )


def per_call(fn, n: int, runs: int) -> float:
    """Best-of-``runs`` seconds per call of ``fn`` over ``n`` calls."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def bench_pages(quick: bool) -> dict:
    m = load_mapping(MAPPING)
    p = m.providers["legacy"]
    out = {}
    for name, page in (
        ("hosted_login_250k", hosted_login_page()),
        ("saml_auto_post", saml_post_page()),
        ("oidc_form_post", form_post_page()),
    ):
        view = ResponseView(200, None, "text/html", page)
        kinds = sorted(ns for ns, *_ in plan_response(view, p, m).records)
        n = 20 if name.startswith("hosted") else 500
        s = per_call(lambda: plan_response(view, p, m), n // (4 if quick else 1) or 1, 3 if quick else 7)
        out[name] = {"bytes": len(page), "us_per_call": s * 1e6, "records": kinds}
        print(f"responses: plan_response {name:18s} {len(page):7,d} B: {s * 1e6:9.1f} us  records {kinds}", flush=True)
    return out


def bench_store(quick: bool) -> dict:
    size = 100_000
    r = Route("legacy", "megasoft.com")
    store = MemoryStore(clock=lambda: 1000.0, max_entries=size)
    store.remember([(f"k{i}", r, 900) for i in range(size)])
    out = {}
    i = size
    step = 20_000 if quick else 35_000
    for evicted in range(0, 4 * step + 1, step):
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            store.remember([(f"k{i}", r, 900)])
            i += 1
        us = (time.perf_counter() - t0) / n * 1e6
        out[str(evicted)] = us
        print(
            f"responses: MemoryStore.remember, full ({size:,}), after {evicted:7,d} evictions: {us:6.2f} us", flush=True
        )
        for _ in range(step - n):
            store.remember([(f"k{i}", r, 900)])
            i += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write results here")
    a = ap.parse_args()
    res = {"pages": bench_pages(a.quick), "store_remember_us_after_evictions": bench_store(a.quick)}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
