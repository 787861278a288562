"""Instructions per request (valgrind's callgrind), bare mitmdump vs mitmdump + sso-router.

Wall-clock figures on a shared VM move by ±0.1 from round to round. An instruction count does not:
callgrind counts the instructions the proxy process executes, whatever else the machine does.
Each arm serves the same requests (a fixed seed) over one keep-alive connection: a warm-up, then
counting is switched on (``callgrind_control -i on``) for exactly ``n`` requests. The ratio
bare/router is the share of bare mitmdump's per-request work the router arm needs — what the
throughput ratio measures, without the noise (but also without cache and memory effects, which
only a wall-clock run shows).

Under callgrind a request takes ~50x its real time, so whatever a process does per *second* rather
than per request (mitmproxy's script watcher, the router's mapping watcher and figures task) is
counted ~50x over per request. So each arm is also counted idle for ``IDLE`` seconds shortly after
its requests: ``net`` = (count over the requests - idle rate x their duration) / n, beside the raw
count per request. Both are reported; bare mitmdump does nothing when idle.

Used by ``bench/run --instructions [N]``, which hands in its own process, port and readiness helpers;
needs ``valgrind`` (apt-get install valgrind).
"""

from __future__ import annotations

import http.client
import os
import random
import re
import subprocess
import sys
import time
from typing import NamedTuple

import fixtures as F
import upstream as U

WARMUP = 30
IDLE = 20.0  # seconds each arm is counted idle, after its requests
SETTLE = 3.0  # seconds between the two, not counted


def send(port: int, kind: str, n: int, saml_body: bytes, seed: int) -> None:
    """``n`` requests of ``kind`` over one connection; every answer must be nginx's 200."""
    rng = random.Random(seed)
    states = U.hosted_states()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        for _ in range(n):
            org = rng.randrange(1000)
            if kind == "oidc_get":
                c.request(
                    "GET",
                    f"{F.AUTHORIZE_PATH}?{F.authorize_query(org, rng)}",
                    headers={**F.BROWSER_HEADERS, "Host": F.PUBLIC_HOST},
                )
            elif kind == "hosted_page":
                c.request(
                    "GET",
                    f"{U.HOSTED_PATH}?state={rng.choice(states)}",
                    headers={**F.BROWSER_HEADERS, "Host": F.PUBLIC_HOST},
                )
            elif kind in ("token_post", "token_exchange"):
                answer = {U.ANSWER_HEADER: "tokens"} if kind == "token_exchange" else {}
                c.request(
                    "POST",
                    F.TOKEN_PATH,
                    F.token_body(rng),
                    headers={
                        "Host": F.PUBLIC_HOST,
                        "authorization": F.basic_auth(org),
                        "content-type": "application/x-www-form-urlencoded",
                        "accept": "application/json",
                        **answer,
                    },
                )
            else:
                c.request(
                    "POST",
                    F.ACS_PATH,
                    saml_body,
                    headers={
                        **F.BROWSER_HEADERS,
                        "Host": F.PUBLIC_HOST,
                        "content-type": "application/x-www-form-urlencoded",
                    },
                )
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"bench: {kind} answered {r.status}, not 200")
    finally:
        c.close()


class Counted(NamedTuple):
    total: int  # instructions while serving the n requests
    seconds: float  # how long they took (under callgrind)
    idle_per_s: float  # instructions per second of the same process idle, right after


def count(
    args: list[str], port: int, probe: str, kind: str, n: int, saml_body: bytes, log: str, wait_http, procs
) -> Counted:
    """Instructions the mitmdump started with ``args`` executes serving ``n`` requests, then idle."""
    out = log + ".callgrind"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *args]
    p = procs.start(cmd, log)

    def ctl(*flags: str) -> None:
        subprocess.run(["callgrind_control", *flags, str(p.pid)], check=True, capture_output=True)

    try:
        wait_http(port, probe, F.PUBLIC_HOST, p, "mitmdump under valgrind", timeout=600)
        U.prepare(kind, port)
        send(port, kind, WARMUP, saml_body, seed=1)
        ctl("-z")
        ctl("-i", "on")
        began = time.monotonic()
        send(port, kind, n, saml_body, seed=2)
        seconds = time.monotonic() - began
        ctl("-d")  # part 1: the requests (and zeroed)
        ctl("-i", "off")
        time.sleep(SETTLE)  # the figures task's last flush of those requests' events: theirs, not idle
        ctl("-z")
        ctl("-i", "on")
        time.sleep(IDLE)
        ctl("-d")  # part 2: idle
        ctl("-i", "off")
    finally:
        procs.stop(p)
    parts = [_totals(f"{out}.{i}") for i in (1, 2)]
    return Counted(parts[0], seconds, parts[1] / IDLE)


def _totals(path: str) -> int:
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
            if m:
                return int(m.group(1))
        time.sleep(0.2)
    raise SystemExit(f"bench: no callgrind totals in {path}")


def run(
    w: str, n: int, mitmdump_args, ngx_port: int, mapping: str, wait_http, procs, say, free_port, kinds: tuple[str, ...]
) -> dict:
    """Both arms, each kind, bare first; returns {kind: {bare, router, ratio}}."""
    with open(os.path.join(w, "saml-body.txt"), "rb") as f:
        saml_body = f.read()
    out: dict[str, dict] = {}
    for kind in kinds:
        got: dict[str, float] = {}
        net: dict[str, float] = {}
        idle: dict[str, float] = {}
        for arm in ("bare", "router"):
            port = free_port()
            args, probe = mitmdump_args(
                w, port, router_mapping=mapping if arm == "router" else None, upstream_port=ngx_port
            )
            c = count(args, port, probe, kind, n, saml_body, os.path.join(w, f"cg-{kind}-{arm}.log"), wait_http, procs)
            got[arm] = c.total / n
            net[arm] = (c.total - c.idle_per_s * c.seconds) / n
            idle[arm] = c.idle_per_s
        ratio, ratio_net = got["bare"] / got["router"], net["bare"] / net["router"]
        out[kind] = {
            "bare_instr_per_req": round(got["bare"]),
            "router_instr_per_req": round(got["router"]),
            "router_extra_per_req": round(got["router"] - got["bare"]),
            "ratio": round(ratio, 3),
            "bare_net_per_req": round(net["bare"]),
            "router_net_per_req": round(net["router"]),
            "ratio_net": round(ratio_net, 3),
            "idle_per_s": {arm: round(v) for arm, v in idle.items()},
            "n": n,
        }
        say(
            f"  {kind:10s}  bare {got['bare'] / 1e6:6.3f}M  router {got['router'] / 1e6:6.3f}M instructions/request  "
            f"(+{(got['router'] - got['bare']) / 1e3:,.0f}k)  bare/router {ratio:.3f};  net of idle work "
            f"(bare {idle['bare'] / 1e3:,.0f}k/s, router {idle['router'] / 1e3:,.0f}k/s): "
            f"bare {net['bare'] / 1e6:6.3f}M  router {net['router'] / 1e6:6.3f}M  bare/router {ratio_net:.3f}"
        )
    return out


if __name__ == "__main__":
    sys.exit("bench/instructions.py is run by bench/run --instructions")
