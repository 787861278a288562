"""Records the captured flows in tests/flows/ through a real mitmdump (``-w``) and real peers.

    .venv/bin/python -m tests.e2e.record_flows [--out tests/flows]

Writes, per scenario, ``<name>.mitm`` (the flows as mitmdump saw them, then ``sso-router redact``-ed), ``<name>.mapping.toml``
(the mapping they were routed with; its public_url is the recorded Host) and
``<name>.expected.json``: per proxied request ``{method, path, provider, reason, org}``, written
from the table below, which says what the contract requires, not from what the router did. The
recording run's decision log is compared with it; exit status 1 names every difference.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import requests

from .browser import Browser
from .peers.keys import make_keypair
from .proxy import Mitmdump
from .steps import exchange_code, login
from .world import Keys, World, write_mapping

SSO_ROUTER = pathlib.Path(sys.executable).with_name("sso-router")


def _userinfo(url: str, tokens: dict) -> None:
    requests.get(url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10)


def saml_sp_initiated(world: World, proxy: Mitmdump) -> None:
    lg = login(proxy.url, login_hint="bob@newcompany.com")
    r = exchange_code(proxy.url, lg.code)
    assert r.status_code == 200, r.text
    _userinfo(proxy.url, r.json())


def saml_idp_initiated(world: World, proxy: Mitmdump) -> None:
    world.legacy.allow_unsolicited = True
    b = Browser()
    page = b.get(world.idp.idp_init_url("megasoft", world.sp_entity["megasoft"], user="temp@contractor.example"))
    acs = b.submit_form(page)
    code = dict(p.split("=", 1) for p in acs.location.split("?", 1)[1].split("&"))["code"]
    r = exchange_code(proxy.url, code)
    assert r.status_code == 200, r.text


def oidc_code_token(world: World, proxy: Mitmdump) -> None:
    lg = login(proxy.url, login_hint="carol@acme.com")
    r = exchange_code(proxy.url, lg.code)
    assert r.status_code == 200, r.text
    _userinfo(proxy.url, r.json())


def _acme_migrated(m: dict) -> None:
    m["orgs"]["acme.com"]["migrated"] = True


SK, LG = "scalekit", "legacy"
SCENARIOS = {
    # name: (driver, mapping change, expected per proxied request)
    "saml_sp_initiated": (
        saml_sp_initiated,
        None,
        [
            ("GET", "/authorize", SK, "org", "newcompany.com"),
            ("POST", "/sso/v1/saml/conn_newco/acs", SK, "correlation", "newcompany.com"),
            ("POST", "/oauth/token", SK, "correlation", "newcompany.com"),
            ("GET", "/userinfo", SK, "correlation", "newcompany.com"),
        ],
    ),
    "saml_idp_initiated": (
        saml_idp_initiated,
        None,
        [
            ("POST", "/login/callback", LG, "org", "megasoft.com"),
            ("POST", "/oauth/token", LG, "correlation", "megasoft.com"),
        ],
    ),
    "oidc_code_token": (
        oidc_code_token,
        _acme_migrated,
        [
            ("GET", "/authorize", SK, "org", "acme.com"),
            ("GET", "/sso/v1/oidc/conn_acme/callback", SK, "correlation", "acme.com"),
            ("POST", "/oauth/token", SK, "correlation", "acme.com"),
            ("GET", "/userinfo", SK, "correlation", "acme.com"),
        ],
    ),
}


def record(out: pathlib.Path) -> list[str]:
    problems: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sso-flows-") as tmp_name:
        tmp = pathlib.Path(tmp_name)
        keys = Keys(*(make_keypair(tmp / "keys", n) for n in ("idp", "oidc", "legacy", "scalekit")))
        for name, (drive, change, expected) in SCENARIOS.items():
            world = World(keys).start()
            mapping = world.base_mapping()
            if change:
                change(mapping)
            flow_file = tmp / f"{name}.mitm"
            proxy = Mitmdump(tmp, world.proxy_port, mapping, name=name, extra_args=["-w", str(flow_file)])
            try:
                proxy.start()
                drive(world, proxy)
            finally:
                proxy.stop()
                world.stop()
            got = [(d["method"], d["path"], d["provider"], d["reason"], d["org"]) for d in proxy.decisions()]
            want = [tuple(e) for e in expected]
            if got != want:
                problems.append(f"{name}: the router decided\n  {got}\nbut the contract says\n  {want}")
            write_mapping(out / f"{name}.mapping.toml", mapping)
            # shared captures are redacted, as a customer's would be (sso-router redact keeps them explainable)
            subprocess.run(
                [
                    str(SSO_ROUTER),
                    "redact",
                    str(flow_file),
                    "-o",
                    str(out / f"{name}.mitm"),
                    "--mapping",
                    str(out / f"{name}.mapping.toml"),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            rows = [dict(zip(("method", "path", "provider", "reason", "org"), e, strict=False)) for e in expected]
            (out / f"{name}.expected.json").write_text(json.dumps(rows, indent=2) + "\n")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[1] / "flows")
    args = ap.parse_args(argv)
    problems = record(args.out)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"wrote {len(SCENARIOS)} flows to {args.out}" + (" (with differences, see above)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
