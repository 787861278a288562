"""sso-router benchmark: bare mitmdump vs mitmdump + sso-router, same nginx upstream, same wrk
traffic, several rounds in rotated order; then a scale-out figure and the engine microbenchmarks.

    bench/run                 # full run, ~6 minutes
    bench/run --quick         # ~1-1.5 minutes, fewer/shorter rounds
    bench/run --instructions  # only: instructions per request under callgrind, both arms (~5 min)
    bench/run --profile 20    # only: py-spy record the router arm under SAML POST load for 20 s

See bench/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fixtures as F  # noqa: E402
import upstream as U  # noqa: E402

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PY = os.path.join(VENV_BIN, "python")
MITMDUMP = os.path.join(VENV_BIN, "mitmdump")
ADDON = os.path.join(ROOT, "sso_router_addon.py")
LUA = os.path.join(HERE, "lua")
CLK = os.sysconf("SC_CLK_TCK")
KINDS = ("oidc_get", "saml_post", "token_post", "hosted_page", "token_exchange")
LUA_OF = {
    "oidc_get": "oidc.lua",
    "saml_post": "saml.lua",
    "token_post": "token.lua",
    "hosted_page": "hosted.lua",
    "token_exchange": "token.lua",
}
TARGET_RATIO = {"oidc_get": 0.95, "saml_post": 0.85, "token_post": 0.95, "hosted_page": 0.90, "token_exchange": 0.90}
PROXY_ORGS = 1000  # orgs in the mapping the proxy arm serves (the engine bench covers 100k)
CONNS = 16  # wrk connections per proxy


def say(msg: str = "") -> None:
    print(msg, flush=True)


# -- processes we start, and stop ----------------------------------------------------------------
class Procs:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], log: str, **kw) -> subprocess.Popen:
        f = open(log, "ab")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        f.close()
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen) -> None:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in reversed(list(self.procs)):
            self.stop(p)


PROCS = Procs()


def _on_signal(signum, frame):  # the "trap": Ctrl-C / kill stop every server we started
    raise SystemExit(128 + signum)


# -- environment ---------------------------------------------------------------------------------
def ensure_tools() -> None:
    missing = [t for t in ("wrk", "nginx", "xmlsec1", "taskset") if not shutil.which(t)]
    if missing:
        pkgs = {"wrk": "wrk", "nginx": "nginx-light", "xmlsec1": "xmlsec1", "taskset": "util-linux"}
        cmd = "apt-get update && apt-get install -y " + " ".join(pkgs[t] for t in missing)
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say(f"bench: installing {', '.join(missing)}: {cmd}")
            subprocess.run(
                cmd,
                shell=True,
                check=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                stdout=subprocess.DEVNULL,
            )
        else:
            raise SystemExit(f"bench: missing {', '.join(missing)}; install them with: sudo {cmd}")
    if not os.path.exists(MITMDUMP):
        raise SystemExit(f"bench: no {MITMDUMP}; set up the venv first (README: pip install -e .)")


def machine_info() -> dict:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def ver(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=20)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception:  # noqa: BLE001
            return "?"

    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mitmproxy": ver([PY, "-c", "import mitmproxy.version as v; print(v.VERSION)"]),
        "wrk": ver(["wrk", "-v"]).split(" Copyright")[0],
        "nginx": ver(["nginx", "-v"]),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds over all cores, steal seconds) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    steal = v[7] if len(v) > 7 else 0
    return (sum(v[:8]) - idle) / CLK, steal / CLK


def background_load(seconds: float = 2.0) -> float:
    """Cores' worth of CPU other processes use right now (before we start anything)."""
    b0, _ = machine_busy()
    time.sleep(seconds)
    b1, _ = machine_busy()
    return (b1 - b0) / seconds


# -- servers -------------------------------------------------------------------------------------
def start_nginx(w: str, port: int, core: str) -> subprocess.Popen:
    conf = os.path.join(w, "nginx.conf")
    U.write_inputs(w)
    with open(conf, "w") as f:
        f.write(U.nginx_conf(w, port))
    p = PROCS.start(
        ["taskset", "-c", core, "nginx", "-p", w, "-e", f"{w}/nginx-error.log", "-c", conf],
        os.path.join(w, "nginx.out"),
    )
    wait_http(port, "/", "127.0.0.1", p, "nginx")
    return p


def mitmdump_args(w: str, port: int, *, router_mapping: str | None, upstream_port: int) -> tuple[list[str], str]:
    """The command line of one arm, and the path that answers 200 once it serves."""
    args = [
        MITMDUMP,
        "-q",
        "--listen-host",
        "127.0.0.1",
        "-p",
        str(port),
        "--set",
        "termlog_verbosity=warn",
        "--set",
        "flow_detail=0",
        "--set",
        "connection_strategy=lazy",  # what the router sets itself; the same in both arms
        "--set",
        f"confdir={w}/mitmproxy",
    ]
    if router_mapping:
        return [
            *args,
            "--mode",
            "reverse:https://legacy.invalid",
            "-s",
            ADDON,
            "--set",
            f"sso_mapping={router_mapping}",
            "--set",
            "sso_secret=x",
        ], "/.sso-router/ready"
    return [*args, "--mode", f"reverse:http://127.0.0.1:{upstream_port}"], "/"


def start_mitmdump(
    w: str, name: str, port: int, core: str, *, router_mapping: str | None, upstream_port: int
) -> subprocess.Popen:
    args, probe = mitmdump_args(w, port, router_mapping=router_mapping, upstream_port=upstream_port)
    p = PROCS.start(["taskset", "-c", core, *args], os.path.join(w, f"{name}.log"))
    wait_http(port, probe, F.PUBLIC_HOST, p, name)
    return p


def http_get(port: int, path: str, host: str, timeout: float = 5) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_http(port: int, path: str, host: str, p: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if p.poll() is not None:
            raise SystemExit(f"bench: {name} exited ({p.returncode}); see its log in the work directory")
        try:
            if http_get(port, path, host, 2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {name} not ready on port {port} after {timeout}s")


def router_metrics(port: int) -> Counter:
    """Decisions by (provider, reason) and parse failures, from the router's Prometheus endpoint."""
    _, body = http_get(port, "/.sso-router/metrics", F.PUBLIC_HOST)
    out: Counter = Counter()
    for line in body.decode().splitlines():
        m = re.match(r"(sso_router_\w+)\{([^}]*)\}\s+([0-9.e+]+)$", line)
        if not m:
            continue
        name, labels, val = m.groups()
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name == "sso_router_decisions_total":
            out[f"{lab.get('reason')}:{lab.get('provider')}"] += int(float(val))
        elif name in (
            "sso_router_parse_failures_total",
            "sso_router_store_errors_total",
            "sso_router_upstream_errors_total",
            "sso_router_refused_total",
        ):
            out[f"{name.removeprefix('sso_router_')}:{lab.get('kind', lab.get('status', ''))}"] += int(float(val))
    return out


# -- load ----------------------------------------------------------------------------------------
def wrk_args(kind: str, port: int, seconds: float, conns: int, core: str, w: str) -> list[str]:
    extra = {
        "saml_post": [os.path.join(w, "saml-body.txt")],
        "hosted_page": [os.path.join(w, "hosted-states.txt")],
        "token_exchange": [str(PROXY_ORGS), "tokens"],
    }.get(kind, [str(PROXY_ORGS)])
    return [
        "taskset",
        "-c",
        core,
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        os.path.join(LUA, LUA_OF[kind]),
        f"http://127.0.0.1:{port}",
        "--",
        F.PUBLIC_HOST,
        *extra,
    ]


def parse_wrk(out: str) -> dict:
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise SystemExit(f"bench: wrk gave no result:\n{out[-2000:]}")


def run_load(
    kind: str,
    targets: list[tuple[int, subprocess.Popen]],
    seconds: float,
    w: str,
    wrk_core: str,
    others: list[subprocess.Popen],
) -> dict:
    """One measured run: wrk against each (port, proxy) at once; the proxies' CPU from /proc."""
    cpu0 = [proc_cpu(p.pid) for _, p in targets]
    oth0 = sum(proc_cpu(p.pid) for p in others)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, steal0 = machine_busy()
    t0 = time.perf_counter()
    ws = [
        subprocess.Popen(
            wrk_args(kind, port, seconds, CONNS, wrk_core, w),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port, _ in targets
    ]
    outs = [p.communicate()[0] for p in ws]
    wall = time.perf_counter() - t0
    busy1, steal1 = machine_busy()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1 = [proc_cpu(p.pid) for _, p in targets]
    oth1 = sum(proc_cpu(p.pid) for p in others)
    rs = [parse_wrk(o) for o in outs]
    reqs = sum(r["requests"] for r in rs)
    proxy_cpu = sum(cpu1) - sum(cpu0)
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    ours = proxy_cpu + wrk_cpu + (oth1 - oth0)
    return {
        "rps": sum(r["requests"] / (r["duration_us"] / 1e6) for r in rs),
        "p50_ms": statistics.mean(r["p50_us"] for r in rs) / 1000,
        "p99_ms": max(r["p99_us"] for r in rs) / 1000,
        "cpu_us_per_req": proxy_cpu / reqs * 1e6 if reqs else float("nan"),
        "proxy_cores": proxy_cpu / wall,
        "requests": reqs,
        "errors": sum(r[k] for r in rs for k in r if k.startswith("err_")),
        "foreign_cores": max(0.0, (busy1 - busy0) - ours) / wall,  # other processes on the machine (+ steal)
        "steal_cores": (steal1 - steal0) / wall,
    }


# -- phases --------------------------------------------------------------------------------------
def make_inputs(w: str, ngx_port: int) -> str:
    mapping = os.path.join(w, "mapping.toml")
    with open(mapping, "w") as f:
        f.write(F.mapping_toml(PROXY_ORGS, f"http://127.0.0.1:{ngx_port}"))
    org = 42
    n = F.saml_groups_for_size(org, w)
    body = F.saml_post_body(org, w, n)
    import base64
    from urllib.parse import parse_qs

    xml = base64.b64decode(parse_qs(body.decode())["SAMLResponse"][0])
    if not F.verify_signature(xml, w):
        raise SystemExit("bench: the generated SAML Response does not verify")
    with open(os.path.join(w, "saml-body.txt"), "wb") as f:
        f.write(body)
    say(
        f"bench: inputs: {PROXY_ORGS}-org mapping; SAMLResponse POST body {len(body):,} B "
        f"(signed Response+Assertion, {len(xml):,} B XML, {n} group values; xmlsec1 --verify OK); "
        f"authorize query ~{len(F.authorize_query(1, random.Random(1)))} B"
    )
    return mapping


def compare_arms(
    w: str,
    a: subprocess.Popen,
    a_port: int,
    b: subprocess.Popen,
    b_port: int,
    rounds: int,
    seconds: float,
    warm: float,
    others: list[subprocess.Popen],
    kinds: tuple[str, ...] = KINDS,
) -> dict:
    arms = {"a": (a_port, a), "b": (b_port, b)}
    runs: dict = {k: {"a": [], "b": []} for k in kinds}
    decided: dict[str, Counter] = defaultdict(Counter)
    say(f"bench: warm-up {warm:g}s per arm and kind")
    for kind in kinds:
        for arm in "ab":
            U.prepare(kind, arms[arm][0])
            run_load(kind, [arms[arm]], warm, w, "0", others)
    for r in range(rounds):
        order = "ab" if r % 2 == 0 else "ba"
        for kind in kinds:
            for arm in order:
                U.prepare(kind, arms[arm][0])  # again each run: a full bench outlives correlation_ttl
                before = router_metrics(b_port) if arm == "b" else None
                res = run_load(kind, [arms[arm]], seconds, w, "0", others)
                if before is not None:
                    decided[kind] += router_metrics(b_port) - before
                runs[kind][arm].append(res)
                say(
                    f"  round {r + 1}/{rounds} {kind:10s} {'bare  ' if arm == 'a' else 'router'}: "
                    f"{res['rps']:8,.0f} req/s  p50 {res['p50_ms']:6.2f} ms  p99 {res['p99_ms']:6.2f} ms  "
                    f"{res['cpu_us_per_req']:6.0f} µs CPU/req  proxy {res['proxy_cores']:.2f} cores  "
                    f"errors {res['errors']}  other load {res['foreign_cores']:.2f} cores"
                )
    return {"runs": runs, "decisions": {k: dict(v) for k, v in decided.items()}}


def summarize(cmp: dict) -> dict:
    out = {}
    for kind in cmp["runs"]:
        a, b = cmp["runs"][kind]["a"], cmp["runs"][kind]["b"]
        med = lambda rs, k: statistics.median(x[k] for x in rs)  # noqa: E731
        ratios = [y["rps"] / x["rps"] for x, y in zip(a, b, strict=False)]  # paired: the same round, adjacent in time
        out[kind] = {
            **{
                f"{arm}_{k}": med(rs, k)
                for arm, rs in (("a", a), ("b", b))
                for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "foreign_cores")
            },
            "ratio_rps": statistics.median(ratios),
            "ratio_rps_rounds": ratios,
            "ratio_cpu": med(b, "cpu_us_per_req") / med(a, "cpu_us_per_req"),
            # req/s one fully used core gives, b over a: the figure other load on the machine disturbs least
            "ratio_capacity": med(a, "cpu_us_per_req") / med(b, "cpu_us_per_req"),
            "router_cpu_us_extra": med(b, "cpu_us_per_req") - med(a, "cpu_us_per_req"),
            "target": TARGET_RATIO[kind],
            "errors": sum(x["errors"] for x in a + b),
            "decisions": cmp["decisions"].get(kind, {}),
        }
    return out


def print_summary(s: dict) -> None:
    say("\n== bare mitmdump (a) vs mitmdump + sso-router (b); medians over rounds ==")
    say(
        f"{'kind':11s} {'a req/s':>8s} {'b req/s':>8s} {'b/a':>6s} {'target':>6s}  "
        f"{'a p50':>6s} {'b p50':>6s} {'a p99':>6s} {'b p99':>6s}  {'a µs/req':>8s} {'b µs/req':>8s} {'cap b/a':>7s}"
    )
    for kind, x in s.items():
        ok = "ok" if x["ratio_rps"] >= x["target"] else "BELOW"
        say(
            f"{kind:11s} {x['a_rps']:8,.0f} {x['b_rps']:8,.0f} {x['ratio_rps']:6.3f} {x['target']:6.2f}  "
            f"{x['a_p50_ms']:6.2f} {x['b_p50_ms']:6.2f} {x['a_p99_ms']:6.2f} {x['b_p99_ms']:6.2f}  "
            f"{x['a_cpu_us_per_req']:8.0f} {x['b_cpu_us_per_req']:8.0f} {x['ratio_capacity']:7.3f}  {ok}"
        )
    say(
        "(latencies in ms; µs/req = mitmdump CPU time per request; cap b/a = per-core capacity ratio = a µs/req / "
        "b µs/req; ok/BELOW compares the req/s ratio b/a with the target; per-round req/s b/a: "
        + "; ".join(f"{k} {', '.join(f'{r:.3f}' for r in x['ratio_rps_rounds'])}" for k, x in s.items())
        + ")"
    )
    for kind, x in s.items():
        say(
            f"router decisions during {kind}: {x['decisions']}  (wrk errors, both arms: {x['errors']}; "
            "upstream_errors are the flows in flight when wrk stops and drops its connections)"
        )


def scale_out(
    w: str,
    b: subprocess.Popen,
    b_port: int,
    mapping: str,
    ngx_port: int,
    rounds: int,
    seconds: float,
    others: list[subprocess.Popen],
) -> dict:
    port2 = free_port()
    b2 = start_mitmdump(w, "router2", port2, "0", router_mapping=mapping, upstream_port=ngx_port)
    try:
        out = {}
        for kind in ("oidc_get", "saml_post"):
            one, two = [], []
            run_load(kind, [(b_port, b), (port2, b2)], 1, w, "0,1", others)  # warm the new process
            for r in range(rounds):
                for n in (1, 2) if r % 2 == 0 else (2, 1):
                    if n == 1:
                        one.append(run_load(kind, [(b_port, b)], seconds, w, "0", others))
                    else:
                        two.append(run_load(kind, [(b_port, b), (port2, b2)], seconds, w, "0,1", others))
            r1 = statistics.median(x["rps"] for x in one)
            r2 = statistics.median(x["rps"] for x in two)
            out[kind] = {
                "one_rps": r1,
                "two_rps": r2,
                "ratio": r2 / r1,
                "one_cpu_us": statistics.median(x["cpu_us_per_req"] for x in one),
                "two_cpu_us": statistics.median(x["cpu_us_per_req"] for x in two),
                "two_p99_ms": statistics.median(x["p99_ms"] for x in two),
            }
            say(
                f"scale-out {kind:10s}: 1 router {r1:8,.0f} req/s; 2 routers {r2:8,.0f} req/s; ratio {r2 / r1:.2f} "
                f"(CPU/req {out[kind]['one_cpu_us']:.0f} vs {out[kind]['two_cpu_us']:.0f} µs)"
            )
        return out
    finally:
        PROCS.stop(b2)


def engine(w: str, quick: bool) -> dict:
    out = os.path.join(w, "engine.json")
    subprocess.run(
        ["taskset", "-c", "1", PY, os.path.join(HERE, "engine.py"), "--json", out, "--workdir", w]
        + (["--quick"] if quick else []),
        check=True,
    )
    with open(out) as f:
        return json.load(f)


def instructions(w: str, n: int, out_dir: str, started: float, kinds: tuple[str, ...] = KINDS) -> None:
    import instructions as I

    if not shutil.which("valgrind"):
        if os.geteuid() == 0 and shutil.which("apt-get"):
            say("bench: installing valgrind: apt-get install -y valgrind")
            subprocess.run(
                "apt-get update && apt-get install -y valgrind",
                shell=True,
                check=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                stdout=subprocess.DEVNULL,
            )
        else:
            raise SystemExit("bench: --instructions needs valgrind; install it with: sudo apt-get install -y valgrind")
    info = machine_info()
    ngx_port = free_port()
    ngx = start_nginx(w, ngx_port, "0")
    mapping = make_inputs(w, ngx_port)
    say(
        f"\n== instructions per request (callgrind), {n} requests per arm and kind after {I.WARMUP} "
        f"to warm up, one keep-alive connection =="
    )
    res = I.run(w, n, mitmdump_args, ngx_port, mapping, wait_http, PROCS, say, free_port, kinds)
    PROCS.stop(ngx)
    for kind, r in res.items():
        say(
            f"{kind:10s} bare/router {r['ratio']:.3f} (net of idle work {r['ratio_net']:.3f})  target "
            f"{TARGET_RATIO[kind]}  {'ok' if r['ratio'] >= TARGET_RATIO[kind] else 'BELOW'}"
            f"{'' if r['ratio'] >= TARGET_RATIO[kind] or r['ratio_net'] < TARGET_RATIO[kind] else ' (net: ok)'}"
        )
    result = {"machine": info, "instructions": res, "runtime_s": time.time() - started}
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for name in (f"{stamp}-instructions.json", "latest-instructions.json"):
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(result, f, indent=1)
    say(
        f"\nbench: done in {time.time() - started:.0f}s; results in {os.path.join(out_dir, 'latest-instructions.json')}"
    )


def profile(w: str, seconds: float, out_dir: str, kind: str = "saml_post", arm: str = "router") -> None:
    spy = os.path.join(VENV_BIN, "py-spy")
    if not os.path.exists(spy):
        raise SystemExit(f"bench: no py-spy; install it with: {PY} -m pip install py-spy")
    ngx_port, b_port = free_port(), free_port()
    ngx = start_nginx(w, ngx_port, "0")
    mapping = make_inputs(w, ngx_port)
    b = start_mitmdump(w, arm, b_port, "1", router_mapping=mapping if arm == "router" else None, upstream_port=ngx_port)
    U.prepare(kind, b_port)
    run_load(kind, [(b_port, b)], 2, w, "0", [ngx])
    raw = os.path.join(out_dir, f"{kind}-{arm}-profile.folded")
    load = subprocess.Popen(wrk_args(kind, b_port, seconds + 4, CONNS, "0", w), stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    spy_cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            spy,
            "record",
            "--pid",
            str(b.pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "200",
            "--format",
            "raw",
            "-o",
            raw,
        ],
        check=True,
        capture_output=True,
    )
    del spy_cpu0
    res = parse_wrk(load.communicate()[0])
    say(
        f"bench: under py-spy (it pauses the process to sample): {res['requests'] / (res['duration_us'] / 1e6):,.0f} "
        "req/s — not a figure to compare"
    )
    summarize_profile(raw, kind=f"{kind}, {arm} arm")
    say(f"bench: collapsed stacks in {raw} (flamegraph.pl or speedscope.app render them)")


def summarize_profile(path: str, top: int = 18, kind: str = "saml_post") -> None:
    """Self and inclusive sample shares from py-spy's collapsed stacks."""
    self_c: Counter = Counter()
    incl: Counter = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            n = int(n)
            if "concurrent/futures/thread.py" in stack:  # idle executor threads waiting on their queue
                continue
            total += n
            frames = [
                fr.split(" (")[0]
                + " ("
                + fr.split(" (")[1].split(":")[0].replace(ROOT + "/", "").split("site-packages/")[-1]
                + ")"
                if " (" in fr
                else fr
                for fr in stack.split(";")
            ]
            self_c[frames[-1]] += n
            for fr in set(frames):
                incl[fr] += n
    say(f"\n== py-spy under {kind} load: {total} samples of the event-loop thread ==")
    say("self time (top):")
    for fr, n in self_c.most_common(top):
        say(f"  {100 * n / total:5.1f}%  {fr}")
    say("inclusive time, sso-router (routing/) and the mitmproxy phases:")
    keys = [
        k
        for k in incl
        if "routing/" in k
        or any(
            s in k
            for s in (
                "AddonManager.trigger_event",
                "Http1Server.read_headers",
                "Http1Client.read_headers",
                "HttpLayer._handle_event",
                "_SelectorSocketTransport.write",
                "read_request_head",
            )
        )
    ]
    for fr in sorted(keys, key=lambda k: -incl[k])[: 2 * top]:
        if incl[fr] / total < 0.004:
            break
        say(f"  {100 * incl[fr] / total:5.1f}%  {fr}")


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 4 s per arm and kind (~1-1.5 min)")
    ap.add_argument("--rounds", type=int, help="rounds per kind (default 3; --quick 1)")
    ap.add_argument("--seconds", type=float, help="seconds per measured run (default 10; --quick 4)")
    ap.add_argument("--skip-engine", action="store_true", help="leave out the engine microbenchmarks")
    ap.add_argument("--skip-scale", action="store_true", help="leave out the scale-out figure")
    ap.add_argument(
        "--profile",
        type=float,
        metavar="SECONDS",
        help="only profile the router arm under load with py-spy (see --profile-kind)",
    )
    ap.add_argument("--profile-kind", choices=KINDS, default="saml_post", help="traffic for --profile")
    ap.add_argument("--profile-arm", choices=("router", "bare"), default="router", help="process for --profile")
    ap.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=300,
        metavar="N",
        help="only count instructions per request with callgrind (N requests per arm and kind, "
        "default 300; ~25 min for all kinds, see --kinds)",
    )
    ap.add_argument(
        "--kinds", default=",".join(KINDS), help=f"comma-separated kinds to measure (default all: {','.join(KINDS)})"
    )
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="where results go (bench/results)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, inputs)")
    a = ap.parse_args()
    rounds = a.rounds or (1 if a.quick else 3)
    seconds = a.seconds or (4 if a.quick else 10)
    kinds = tuple(k for k in KINDS if k in a.kinds.split(","))
    if not kinds or set(a.kinds.split(",")) - set(KINDS):
        ap.error(f"--kinds: choose from {', '.join(KINDS)}")

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    ensure_tools()
    os.makedirs(a.out, exist_ok=True)
    w = tempfile.mkdtemp(prefix="sso-bench-")
    started = time.time()
    try:
        if a.profile:
            return profile(w, a.profile, a.out, a.profile_kind, a.profile_arm)
        if a.instructions:
            return instructions(w, a.instructions, a.out, started, kinds)
        info = machine_info()
        info["background_load_cores_at_start"] = round(background_load(), 2)
        say(
            f"bench: {info['date']}  {info['nproc']} cores  {info['cpu_model']}  Python {info['python']}  "
            f"mitmproxy {info['mitmproxy']}  {info['wrk']}  {info['nginx']}"
        )
        if os.cpu_count() and os.cpu_count() < 2:
            raise SystemExit("bench: needs at least 2 cores (proxy on core 1, wrk + nginx on core 0)")
        if info["background_load_cores_at_start"] > 0.2:
            say(
                f"bench: WARNING: other processes already use {info['background_load_cores_at_start']:.2f} cores; "
                "figures will be disturbed (see 'other load' per run)"
            )
        ngx_port, a_port, b_port = free_port(), free_port(), free_port()
        ngx = start_nginx(w, ngx_port, "0")
        mapping = make_inputs(w, ngx_port)
        a_proc = start_mitmdump(w, "bare", a_port, "1", router_mapping=None, upstream_port=ngx_port)
        b_proc = start_mitmdump(w, "router", b_port, "1", router_mapping=mapping, upstream_port=ngx_port)
        say(
            f"bench: nginx :{ngx_port} (core 0), bare mitmdump :{a_port} and sso-router mitmdump :{b_port} "
            f"(both pinned to core 1, one loaded at a time), wrk -t1 -c{CONNS} on core 0; "
            f"{rounds} round(s) x {seconds:g}s per arm and kind"
        )
        cmp = compare_arms(w, a_proc, a_port, b_proc, b_port, rounds, seconds, 1 if a.quick else 2, [ngx], kinds)
        summary = summarize(cmp)
        print_summary(summary)
        PROCS.stop(a_proc)
        scale = None
        if not a.skip_scale:
            say(
                "\n== scale-out: 1 sso-router process (core 1, wrk on core 0) vs 2 (cores 1 and 0, one wrk "
                "each, unpinned) =="
            )
            scale = scale_out(
                w, b_proc, b_port, mapping, ngx_port, 1 if a.quick else 2, seconds if a.quick else 6, [ngx]
            )
        PROCS.stop_all()
        eng = None
        if not a.skip_engine:
            say("\n== engine only (no mitmproxy), pinned to core 1 ==")
            eng = engine(w, a.quick)
            e = eng["engine"]
            say(
                f"targets: >= 30,000 OIDC decisions/s: {e['oidc_get']['per_s_10']:,.0f}; "
                f">= 8,000 SAML POST decisions/s: {e['saml_post']['per_s_10']:,.0f}; "
                f"100k-org load < 2 s: {eng['load_seconds']:.1f} s; < 300 MB: +{eng['load_rss_growth_mb']:.0f} MB; "
                f"cost ratio 100k/10 <= 1.1: "
                + ", ".join(f"{k} {v['cost_ratio_big_over_10']:.2f}" for k, v in e.items())
            )
        result = {
            "machine": info,
            "rounds": rounds,
            "seconds": seconds,
            "conns": CONNS,
            "proxy_orgs": PROXY_ORGS,
            "compare": summary,
            "runs": cmp["runs"],
            "scale_out": scale,
            "engine": eng,
            "runtime_s": time.time() - started,
        }
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for name in (f"{stamp}{'-quick' if a.quick else ''}.json", "latest.json"):
            with open(os.path.join(a.out, name), "w") as f:
                json.dump(result, f, indent=1)
        say(f"\nbench: done in {time.time() - started:.0f}s; results in {os.path.join(a.out, 'latest.json')}")
    finally:
        PROCS.stop_all()
        if a.keep:
            say(f"bench: scratch directory kept: {w}")
        else:
            shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
