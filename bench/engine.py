"""Engine-only microbenchmarks (no mitmproxy): decisions/s through ``routing.pipeline.begin`` +
the in-memory store's ``recall`` + ``routing.pipeline.conclude`` on prebuilt ``RequestView``s, with a
10-org and a 100,000-org mapping; and ``load_mapping`` time and peak memory on the 100k-org file.

    python bench/engine.py [--quick] [--json OUT] [--workdir DIR]
    python bench/engine.py --load-only MAPPING.toml      # (internal) one load in a fresh process
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fixtures as F  # noqa: E402

from routing import pipeline  # noqa: E402
from routing.correlation.memory import MemoryStore  # noqa: E402
from routing.mapping_loader import load_mapping  # noqa: E402
from routing.view import RequestView  # noqa: E402

SECRET = b"x"
KINDS = ("oidc_get", "saml_post", "token_post")


def views_for(kind: str, n_orgs: int, workdir: str, n_groups: int, rng: random.Random) -> list[tuple[RequestView, str]]:
    """(view, expected org) pairs for orgs spread over the whole mapping."""
    out = []
    count = 6 if kind == "saml_post" else 64
    for _ in range(count):
        org = rng.randrange(n_orgs)
        if kind == "oidc_get":
            v = RequestView(
                "GET", F.PUBLIC_HOST, F.AUTHORIZE_PATH, F.authorize_query(org, rng), dict(F.BROWSER_HEADERS)
            )
        elif kind == "saml_post":
            body = F.saml_post_body(org, workdir, n_groups)
            v = RequestView(
                "POST",
                F.PUBLIC_HOST,
                F.ACS_PATH,
                "",
                {**F.BROWSER_HEADERS, "content-type": "application/x-www-form-urlencoded"},
                body,
                "application/x-www-form-urlencoded",
            )
        else:
            v = RequestView(
                "POST",
                F.PUBLIC_HOST,
                F.TOKEN_PATH,
                "",
                {
                    "authorization": F.basic_auth(org),
                    "content-type": "application/x-www-form-urlencoded",
                    "accept": "application/json",
                },
                F.token_body(rng),
                "application/x-www-form-urlencoded",
            )
        out.append((v, F.org_key(org)))
    return out


def check(views, m, store) -> None:
    for v, org in views:
        p = pipeline.begin(v, m, SECRET)
        d = pipeline.conclude(p, m, store.recall(p.store_keys) if p.keys else {}, secret=SECRET, now=time.time())
        if p.clues.failures or d.reason.value != "org" or d.org != org:
            raise SystemExit(f"bench views are not routed as intended: {d} failures={p.clues.failures}")


def measure(views, m, store, seconds: float) -> float:
    """Decisions per second, cycling over ``views`` for about ``seconds``."""
    begin, conclude, recall = pipeline.begin, pipeline.conclude, store.recall
    vs = [v for v, _ in views]
    n = 0
    now = time.time()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for v in vs:
            p = begin(v, m, SECRET)
            conclude(p, m, recall(p.store_keys) if p.keys else {}, secret=SECRET, now=now)
        n += len(vs)
        t = time.perf_counter()
        if t >= deadline:
            return n / (t - t0)


def load_in_child(path: str, *, trace: bool) -> dict:
    args = [sys.executable, os.path.abspath(__file__), "--load-only", path] + (["--trace"] if trace else [])
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def load_only(path: str, trace: bool) -> None:
    with open(path, "rb") as f:
        data = f.read()
    import gc

    gc.collect()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        import tracemalloc

        tracemalloc.start()
    t0 = time.perf_counter()
    m = load_mapping(data)
    dt = time.perf_counter() - t0
    out = {"seconds": dt, "orgs": len(m.orgs), "file_bytes": len(data)}
    if trace:
        import tracemalloc

        out["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["peak_rss_mb"] = peak / 1024
    out["rss_growth_mb"] = (peak - base) / 1024
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--workdir", help="scratch directory (default: a temporary one)")
    ap.add_argument("--orgs", type=int, default=100_000)
    ap.add_argument("--load-only", help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.load_only:
        return load_only(a.load_only, a.trace)

    workdir = a.workdir or tempfile.mkdtemp(prefix="sso-bench-engine-")
    rng = random.Random(4)
    big_path = os.path.join(workdir, f"mapping-{a.orgs}.toml")
    t0 = time.perf_counter()
    with open(big_path, "w") as f:
        f.write(F.mapping_toml(a.orgs, "http://127.0.0.1:9"))
    gen_s = time.perf_counter() - t0
    res: dict = {"orgs_big": a.orgs, "mapping_file_mb": os.path.getsize(big_path) / 2**20}
    print(f"engine: generated a {a.orgs}-org mapping ({res['mapping_file_mb']:.1f} MiB) in {gen_s:.1f}s", flush=True)

    loads = [] if a.quick else [load_in_child(big_path, trace=False)]  # a clean process
    with open(big_path, "rb") as f:
        data = f.read()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    big = load_mapping(data)  # and the one the decisions below use
    loads.append(
        {
            "seconds": time.perf_counter() - t0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_growth_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024,
        }
    )
    del data
    res["load_seconds"] = min(x["seconds"] for x in loads)
    res["load_seconds_all"] = [round(x["seconds"], 3) for x in loads]
    res["load_peak_rss_mb"] = max(x["peak_rss_mb"] for x in loads)
    res["load_rss_growth_mb"] = max(x["rss_growth_mb"] for x in loads)
    print(
        f"engine: load_mapping({a.orgs} orgs): {res['load_seconds']:.2f}s (runs {res['load_seconds_all']}), "
        f"peak RSS {res['load_peak_rss_mb']:.0f} MB (+{res['load_rss_growth_mb']:.0f} MB during the load)",
        flush=True,
    )

    small = load_mapping(F.mapping_toml(10, "http://127.0.0.1:9").encode())
    # nothing frozen, as in the addon: a loaded mapping leaves the cyclic GC nothing to walk
    # (routing/model.py OrgRow), once a full collection has untracked its orgs dict
    gc.collect()
    n_groups = F.saml_groups_for_size(0, workdir)
    store = MemoryStore(clock=time.time)
    secs, reps = (0.3, 2) if a.quick else (0.8, 5)
    res["engine"] = {}
    for kind in KINDS:
        sv = views_for(kind, 10, workdir, n_groups, rng)
        bv = views_for(kind, a.orgs, workdir, n_groups, rng)
        check(sv, small, store)
        check(bv, big, store)
        measure(sv, small, store, 0.2)  # warm-up
        measure(bv, big, store, 0.2)
        s_runs, b_runs = [], []
        for r in range(reps):  # interleaved, so drift hits both alike
            for which in (0, 1) if r % 2 == 0 else (1, 0):
                if which == 0:
                    s_runs.append(measure(sv, small, store, secs))
                else:
                    b_runs.append(measure(bv, big, store, secs))
        s, b = statistics.median(s_runs), statistics.median(b_runs)
        size = len(sv[0][0].body) or len(sv[0][0].query)
        res["engine"][kind] = {
            "per_s_10": s,
            "per_s_big": b,
            "cost_ratio_big_over_10": s / b,
            "payload_bytes": size,
            "runs_10": s_runs,
            "runs_big": b_runs,
        }
        print(
            f"engine: {kind:10s} ({size} B): {s:9,.0f}/s with 10 orgs, {b:9,.0f}/s with {a.orgs:,} orgs; "
            f"cost ratio {a.orgs // 1000}k/10 = {s / b:.3f}",
            flush=True,
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
