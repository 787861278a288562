"""``[router]`` (with its limits, admin and canary tables) and ``[providers.*]``, validated."""

from __future__ import annotations

from typing import Any

from ..ca_file import read_ca_file
from ..limits import Limits
from ..model import PROVIDER_KINDS, AdminSettings, CanarySettings, Provider, RouterSettings, Upstream
from ..view import host_of
from .checks import Checker, Table
from .schema import ADMIN_KEYS, CANARY_KEYS, HEADER_NAME, LIMIT_KEYS, PROVIDER_KEYS, ROUTER_KEYS


def router(c: Checker, t: Table, providers: dict[str, Provider]) -> RouterSettings:
    c.unknown(t, ROUTER_KEYS, "router")
    if "public_url" not in t:
        raise c.fail("router.public_url", "is required")
    pub = c.url(c.str_(t, "public_url", "router"), "router.public_url", origin_only=True)
    default = c.str_(t, "default_provider", "router", "legacy")
    target = c.str_(t, "migration_target", "router", "scalekit")
    for k, v in (("default_provider", default), ("migration_target", target)):
        if v not in providers:
            raise c.fail(f"router.{k}", f"unknown provider {v!r} (known: {', '.join(sorted(providers)) or 'none'})")
    force = c.str_(t, "force_header", "router", "x-force-sk-route").lower()
    if force and not HEADER_NAME.match(force):
        raise c.fail("router.force_header", f"not a header name: {force!r}")
    hosts = {pub.host}
    for i, h in enumerate(c.strs(t, "hosts", "router")):
        name = host_of(h.split("://", 1)[-1].split("/", 1)[0])
        if not name:
            raise c.fail(f"router.hosts[{i}]", f"not a host name: {h!r}")
        hosts.add(name)
    return RouterSettings(
        public_url=pub.url,
        public_scheme=pub.scheme,
        public_netloc=pub.netloc,
        default_provider=default,
        migration_target=target,
        force_header=force,
        force_header_secret=c.str_(t, "force_header_secret", "router"),
        correlation_ttl=c.int_(t, "correlation_ttl", "router", 900),
        token_ttl=c.int_(t, "token_ttl", "router", 86_400),
        debug_headers=c.bool_(t, "debug_headers", "router"),
        shadow=c.bool_(t, "shadow", "router"),
        hosts=frozenset(hosts),
        limits=limits(c, c.table(t.get("limits", {}), "router.limits")),
        admin=admin(c, c.table(t.get("admin", {}), "router.admin")),
        canary=canary(c, c.table(t.get("canary", {}), "router.canary")),
    )


def limits(c: Checker, t: Table) -> Limits:
    c.unknown(t, LIMIT_KEYS, "router.limits")
    d = Limits()
    return Limits(
        max_body=c.int_(t, "max_body", "router.limits", d.max_body),
        max_inflate=c.int_(t, "max_inflate", "router.limits", d.max_inflate),
        max_jwt=c.int_(t, "max_jwt", "router.limits", d.max_jwt),
    )


def admin(c: Checker, t: Table) -> AdminSettings:
    c.unknown(t, ADMIN_KEYS, "router.admin")
    d = AdminSettings()
    return AdminSettings(
        allow=c.networks(t, "allow", "router.admin", d.allow),
        trusted_proxies=c.networks(t, "trusted_proxies", "router.admin", d.trusted_proxies),
    )


def canary(c: Checker, t: Table) -> CanarySettings:
    c.unknown(t, CANARY_KEYS, "router.canary")
    d = CanarySettings()
    ratio = t.get("max_failure_ratio", d.max_failure_ratio)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        raise c.fail("router.canary.max_failure_ratio", f"must be a number from 0 to 1, not {ratio!r}")
    return CanarySettings(
        enabled=c.bool_(t, "enabled", "router.canary", d.enabled),
        window=c.int_(t, "window", "router.canary", d.window),
        min_attempts=c.int_(t, "min_attempts", "router.canary", d.min_attempts),
        max_failure_ratio=float(ratio),
    )


def providers(c: Checker, t: Table) -> dict[str, Provider]:
    out = {name: provider(c, name, c.table(raw, f"providers.{name}")) for name, raw in t.items()}
    if not out:
        raise c.fail("providers", "at least one provider is required")
    return out


def provider(c: Checker, name: str, p: Table) -> Provider:
    key = f"providers.{name}"
    c.unknown(p, PROVIDER_KEYS, key)
    kind = c.str_(p, "kind", key, "generic")
    if kind not in PROVIDER_KINDS:
        raise c.fail(f"{key}.kind", f"unknown kind {kind!r} (one of {', '.join(sorted(PROVIDER_KINDS))})")
    if "upstream" not in p:
        raise c.fail(f"{key}.upstream", "is required")
    upstream = c.url(c.str_(p, "upstream", key), f"{key}.upstream", origin_only=True)
    callback = c.str_(p, "app_callback", key)
    if callback:
        c.url(callback, f"{key}.app_callback", origin_only=False)
    headers = c.table(p.get("headers", {}), f"{key}.headers")
    for hk, hv in headers.items():
        if not HEADER_NAME.match(hk) or not isinstance(hv, str) or "\n" in hv or "\r" in hv:
            raise c.fail(f"{key}.headers.{hk}", "want a header name = string value")
    paths = []
    for i, pre in enumerate(c.strs(p, "paths", key)):
        if not pre.startswith("/"):
            raise c.fail(f"{key}.paths[{i}]", f"path prefix must start with '/': {pre!r}")
        paths.append(pre.rstrip("/") or "/")
    cip = c.str_(p, "client_ip_header", key)
    if cip and not HEADER_NAME.match(cip):
        raise c.fail(f"{key}.client_ip_header", f"not a header name: {cip!r}")
    ca_file, ca_pem = _ca_file(c, p, key, upstream)
    return Provider(
        name=name,
        kind=kind,
        upstream=upstream,
        app_callback=callback,
        headers=tuple((k, v) for k, v in headers.items()),
        paths=tuple(paths),
        host_header=c.str_(p, "host_header", key),
        sni=c.str_(p, "sni", key),
        client_ip_header=cip,
        ca_file=ca_file,
        ca_pem=ca_pem,
    )


def _ca_file(c: Checker, p: dict[str, Any], key: str, upstream: Upstream) -> tuple[str, bytes]:
    path = c.str_(p, "ca_file", key)
    if not path:
        return "", b""
    if upstream.scheme != "https":
        raise c.fail(f"{key}.ca_file", f"is for an https:// upstream, not {upstream.url}")
    try:
        return path, read_ca_file(path)
    except ValueError as e:
        raise c.fail(f"{key}.ca_file", str(e)) from None
