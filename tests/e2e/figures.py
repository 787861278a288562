"""What the login-figures tests share: reading a running router's ``/.sso-router/orgs`` and metrics,
waiting on them (bounded), a provider connection whose certificate for the customer's IdP is wrong,
and a mapping file with comments (the canary's rollback must keep them)."""

from __future__ import annotations

import contextlib
import pathlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from .peers.keys import make_keypair
from .peers.provider import Provider
from .peers.saml_sp import SamlSP
from .proxy import Mitmdump
from .world import World, render_mapping

HEADER = "# sso-router mapping: owned by the identity team; edited by `sso-router migrate/rollback`\n"
MEGASOFT_NOTE = "  # megasoft moves in week 3 (IAM-42)"


def orgs(proxy: Mitmdump, org: str | None = None) -> dict:
    r = requests.get(f"{proxy.url}/.sso-router/orgs" + (f"/{org}" if org else ""), timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:500])
    return r.json()


def metric(proxy: Mitmdump, name: str, **labels: str) -> float:
    """One series of ``/.sso-router/metrics`` (0 when absent)."""
    text = requests.get(f"{proxy.url}/.sso-router/metrics", timeout=5).text
    for line in text.splitlines():
        got = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? ([0-9.e+-]+)", line)
        if got and got.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', got.group(2) or "")) == labels:
            return float(got.group(3))
    return 0.0


def wait_for(what: str, condition: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
        time.sleep(every)


def wait_page(proxy: Mitmdump, org: str, good: Callable[[dict], bool], timeout: float) -> dict:
    """``/orgs/<org>`` once ``good(page)`` holds (the figures reach the store within a second or so)."""
    last: list[dict] = []

    def page() -> dict | None:
        last[:] = [orgs(proxy, org)]
        return last[0] if good(last[0]) else None

    try:
        return wait_for(f"{org}'s figures", page, timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast page: {last[0] if last else None}") from None


def login_counts(page: dict, provider: str, window: str = "24h") -> tuple[int, int]:
    """(success, failure) of the login stage at ``provider`` in ``window`` of an ``/orgs/<org>`` page."""
    c = page["outcomes"][window].get(provider, {}).get("login", {"success": 0, "failure": 0})
    return c["success"], c["failure"]


def token_counts(page: dict, provider: str, window: str = "24h") -> tuple[int, int]:
    c = page["outcomes"][window].get(provider, {}).get("token", {"success": 0, "failure": 0})
    return c["success"], c["failure"]


@contextlib.contextmanager
def wrong_idp_certificate(
    world: World, provider: Provider, connection: str, slug: str, workdir: pathlib.Path
) -> Iterator[None]:
    """``provider``'s connection trusts another certificate for the customer's IdP (the one a team
    pasted from the wrong metadata): every SAML Response it gets for that org fails to verify."""
    conn = provider.connections[connection]
    good = conn.sp
    real = _cert_body(world.idp.keypair.cert_file)
    wrong = _cert_body(make_keypair(workdir, f"wrong-{slug}").cert_file)
    metadata = world.idp.metadata(slug)
    assert real in metadata
    conn.sp = SamlSP(good.entity_id, good.acs_urls, good.idp_entity_id, metadata.replace(real, wrong))
    try:
        yield
    finally:
        conn.sp = good


def _cert_body(pem_file: str) -> str:
    lines = pathlib.Path(pem_file).read_text().strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def commented(mapping: dict) -> str:
    """The mapping as a person keeps it: a header comment, and a comment on megasoft's ``migrated``."""
    text = render_mapping(mapping)
    head, sep, tail = text.partition('[orgs."megasoft.com"]\n')
    assert sep and tail.startswith("migrated = "), tail[:40]
    line, nl, rest = tail.partition("\n")
    return HEADER + head + sep + line + MEGASOFT_NOTE + nl + rest


def write_commented(proxies: list[Mitmdump], mapping: dict, timeout: float = 6.0) -> str:
    """Write ``commented(mapping)`` over the proxies' (one) mapping file; wait until each reloaded it."""
    path = proxies[0].mapping_path
    before = {p.port: p.health()["mapping"]["version"] for p in proxies}
    text = commented(mapping)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    wait_for(
        "every proxy reloads the commented mapping",
        lambda: all(p.health()["mapping"]["version"] != before[p.port] for p in proxies),
        timeout,
    )
    return text
