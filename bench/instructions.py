"""Instructions per request (valgrind's callgrind), bare mitmdump vs mitmdump + sso-router.

Wall-clock figures on a shared VM move by ±0.1 from round to round. An instruction count does not:
callgrind counts the instructions the proxy process executes, whatever else the machine does.
Each arm serves the same requests (a fixed seed) over one keep-alive connection: a warm-up, then
counting is switched on (``callgrind_control -i on``) for exactly ``n`` requests. The ratio
bare/router is the share of bare mitmdump's per-request work the router arm needs — what the
throughput ratio measures, without the noise (but also without cache and memory effects, which
only a wall-clock run shows).

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

import fixtures as F
import upstream as U

WARMUP = 30


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


def count(
    args: list[str], port: int, probe: str, kind: str, n: int, saml_body: bytes, log: str, wait_http, procs
) -> int:
    """Instructions the mitmdump started with ``args`` executes while serving ``n`` requests."""
    out = log + ".callgrind"
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *args]
    p = procs.start(cmd, log)
    try:
        wait_http(port, probe, F.PUBLIC_HOST, p, "mitmdump under valgrind", timeout=600)
        U.prepare(kind, port)
        send(port, kind, WARMUP, saml_body, seed=1)
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, capture_output=True)
        send(port, kind, n, saml_body, seed=2)
        subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, capture_output=True)
    finally:
        procs.stop(p)
    deadline = time.time() + 60
    while time.time() < deadline:
        with open(log, errors="replace") as f:
            m = re.findall(r"Collected : (\d+)", f.read())
        if m:
            return int(m[-1])
        time.sleep(0.2)
    raise SystemExit(f"bench: no callgrind total in {log}")


def run(
    w: str, n: int, mitmdump_args, ngx_port: int, mapping: str, wait_http, procs, say, free_port, kinds: tuple[str, ...]
) -> dict:
    """Both arms, each kind, bare first; returns {kind: {bare, router, ratio}}."""
    with open(os.path.join(w, "saml-body.txt"), "rb") as f:
        saml_body = f.read()
    out: dict[str, dict] = {}
    for kind in kinds:
        got = {}
        for arm in ("bare", "router"):
            port = free_port()
            args, probe = mitmdump_args(
                w, port, router_mapping=mapping if arm == "router" else None, upstream_port=ngx_port
            )
            total = count(
                args, port, probe, kind, n, saml_body, os.path.join(w, f"cg-{kind}-{arm}.log"), wait_http, procs
            )
            got[arm] = total / n
        ratio = got["bare"] / got["router"]
        out[kind] = {
            "bare_instr_per_req": round(got["bare"]),
            "router_instr_per_req": round(got["router"]),
            "router_extra_per_req": round(got["router"] - got["bare"]),
            "ratio": round(ratio, 3),
            "n": n,
        }
        say(
            f"  {kind:10s}  bare {got['bare'] / 1e6:6.3f}M  router {got['router'] / 1e6:6.3f}M instructions/request  "
            f"(+{(got['router'] - got['bare']) / 1e3:,.0f}k)  bare/router {ratio:.3f}"
        )
    return out


if __name__ == "__main__":
    sys.exit("bench/instructions.py is run by bench/run --instructions")
