"""What the login figures add per request (issue 16), engine-only like ``bench/engine.py`` (no
mitmproxy): the request side the edge runs for every routed request (``outcomes.exchange_of``, the
buffer's ``routed``, the returning keys of an IdP's answer) and the response side it runs only for
login exchanges (``classify`` on the provider's typical answer, a metric, a buffer append), next to
the engine's own decision (``pipeline.begin`` → ``MemoryStore.recall`` → ``pipeline.conclude``) on
the same views, measured interleaved in CPU time; best of ``--rounds``.

    python bench/outcomes.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fixtures as F  # noqa: E402

from routing import pipeline  # noqa: E402
from routing.correlation.memory import MemoryStore  # noqa: E402
from routing.figures.buffer import FigureBuffer  # noqa: E402
from routing.mapping_loader import load_mapping  # noqa: E402
from routing.metrics import Metrics  # noqa: E402
from routing.outcomes import classify, exchange_of, returning_candidate_keys  # noqa: E402
from routing.view import RequestView, ResponseView, media_type  # noqa: E402

SECRET = b"x"
IDP_REDIRECT = (
    "https://customer.okta.com/app/sso/saml?SAMLRequest=" + "fZJNb9swDIb%2F" * 110 + "&RelayState=rs_0123456789abcdef"
)
ANSWERS = {  # what the provider typically answers each kind
    "oidc_get": ResponseView(302, IDP_REDIRECT, "text/html"),
    "saml_post": ResponseView(302, "https://yourapp.com/callback?code=3fJ7uL1Yq0aZ&state=app-state-1", "text/html"),
    "token_post": ResponseView(200, None, "application/json"),
    "asset_get": ResponseView(200, None, "text/css"),
}


def views(workdir: str, rng: random.Random) -> dict[str, RequestView]:
    form = {**F.BROWSER_HEADERS, "content-type": "application/x-www-form-urlencoded"}
    return {
        "oidc_get": RequestView(
            "GET", F.PUBLIC_HOST, F.AUTHORIZE_PATH, F.authorize_query(3, rng), dict(F.BROWSER_HEADERS)
        ),
        "saml_post": RequestView(
            "POST",
            F.PUBLIC_HOST,
            F.ACS_PATH,
            "",
            form,
            F.saml_post_body(3, workdir, 40),
            "application/x-www-form-urlencoded",
        ),
        "token_post": RequestView(
            "POST",
            F.PUBLIC_HOST,
            F.TOKEN_PATH,
            "",
            {"authorization": F.basic_auth(3), **form},
            F.token_body(rng),
            "application/x-www-form-urlencoded",
        ),
        "asset_get": RequestView("GET", F.PUBLIC_HOST, "/assets/app.js", "", dict(F.BROWSER_HEADERS)),
    }


def per_call(fn: Callable[[], object], seconds: float) -> float:
    """CPU seconds per call of ``fn`` (this thread's: another tenant's load does not count), over about
    ``seconds``."""
    n, batch = 0, 200
    t0 = time.thread_time()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        t = time.thread_time() - t0
        if t >= seconds:
            return t / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.3, help="per measurement")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="sso-bench-outcomes-")
    m = load_mapping(F.mapping_toml(10, "http://127.0.0.1:9").encode())
    store = MemoryStore(clock=time.time)
    metrics, buf = Metrics(), FigureBuffer(max_items=10**9)
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for kind, v in views(workdir, random.Random(1)).items():
            pending = pipeline.begin(v, m, SECRET)
            d = pipeline.conclude(pending, m, {}, secret=SECRET, now=time.time())
            p = m.providers[d.forward_to]
            ex = exchange_of(v, p.kind)
            answer = ANSWERS[kind]

            def engine() -> None:
                pp = pipeline.begin(v, m, SECRET)
                pipeline.conclude(pp, m, store.recall(pp.store_keys) if pp.keys else {}, secret=SECRET, now=1.0)

            def request_side() -> None:
                buf.routed(d.forward_to, 1.0)
                e = exchange_of(v, p.kind)
                if e in ("acs", "idp_callback") and pending.keys:
                    buf.returned(returning_candidate_keys(pending.keys), 1.0, 900)

            def response_side() -> None:
                if ex is None:
                    return
                o = classify(p.kind, ex, ResponseView(answer.status, answer.location, media_type(answer.content_type)))
                if o is not None:
                    metrics.inc(
                        "sso_router_login_outcomes_total",
                        provider=d.forward_to,
                        outcome="success" if o.ok else "failure",
                    )
                    buf.outcome(d.org, d.forward_to, o.stage, o.ok, o.kind, 1.0)

            for part, fn in (("engine", engine), ("request", request_side), ("response", response_side)):
                t = per_call(fn, args.seconds)
                best[kind, part] = min(best.get((kind, part), t), t)
            buf.drain()
    print(f"{'kind':<11} {'exchange':<12} {'engine µs':>10} {'request µs':>11} {'response µs':>12} {'share':>7}")
    for kind, v in views(workdir, random.Random(1)).items():
        d = pipeline.conclude(pipeline.begin(v, m, SECRET), m, {}, secret=SECRET, now=time.time())
        ex = exchange_of(v, m.providers[d.forward_to].kind)
        e, rq, rs = (best[kind, part] * 1e6 for part in ("engine", "request", "response"))
        print(f"{kind:<11} {ex or '-':<12} {e:>10.2f} {rq:>11.2f} {rs:>12.2f} {(rq + rs) / e:>7.1%}")


if __name__ == "__main__":
    main()
