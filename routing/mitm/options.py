"""The router's mitmproxy options: declared with help text, parsed once into ``RouterOptions``.

Every refusal is an ``OptionsError`` (mitmproxy rolls the change back; at startup it exits with the
message). The secret policy lives here: a shared store needs ``sso_secret`` (instances must agree);
``memory://`` without one gets the process's random key and one WARNING.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from mitmproxy import exceptions

from ..logsafe import safe_url
from .process import ProcessState

log = logging.getLogger("sso_router")
ENV_SECRET = "SSO_ROUTER_SECRET"
ENV_ADMIN_TOKEN = "SSO_ROUTER_ADMIN_TOKEN"
NAMES = frozenset(
    {
        "sso_mapping",
        "sso_store",
        "sso_store_timeout",
        "sso_secret",
        "sso_decision_log",
        "sso_admin_token",
        "sso_drain_timeout",
    }
)


def declare(loader: Any) -> None:
    # seconds are strings: mitmproxy 12.2 cannot parse float options given with --set
    loader.add_option(
        "sso_mapping", str, "mapping.toml", "Path of the sso-router TOML mapping; re-read when it changes."
    )
    loader.add_option(
        "sso_store",
        str,
        "memory://",
        "Where in-flight login correlations live: memory://, sqlite:///path, redis://host:port/db, "
        "redis+sentinel://h1:p1,h2:p2/service/db.",
    )
    loader.add_option("sso_store_timeout", str, "2", "Seconds one correlation store call may take.")
    loader.add_option(
        "sso_secret", str, "", f"Key for the sticky cookie and correlation hashes (default: env {ENV_SECRET})."
    )
    loader.add_option("sso_decision_log", str, "", "Path of a JSON-lines decision log (empty: off).")
    loader.add_option(
        "sso_admin_token",
        str,
        "",
        f"Bearer token that opens /.sso-router/health, /metrics and /orgs to clients outside "
        f"[router.admin] allow (default: env {ENV_ADMIN_TOKEN}).",
    )
    loader.add_option(
        "sso_drain_timeout", str, "10", "Seconds a process keeps serving its flows after SIGTERM before it exits."
    )


@dataclass(frozen=True, slots=True)
class RouterOptions:
    mapping: str
    store: str
    store_timeout: float
    secret: bytes
    decision_log: str
    admin_token: str
    drain_timeout: float


def parse(opts: Any, process: ProcessState) -> RouterOptions:
    """All the router's options, checked. Raises ``OptionsError`` naming the option."""
    return RouterOptions(
        mapping=opts.sso_mapping,
        store=opts.sso_store,
        store_timeout=seconds("sso_store_timeout", opts.sso_store_timeout, zero_ok=False, high=60),
        secret=secret_for(opts.sso_secret or os.environ.get(ENV_SECRET, ""), opts.sso_store, process),
        decision_log=opts.sso_decision_log,
        admin_token=opts.sso_admin_token or os.environ.get(ENV_ADMIN_TOKEN, ""),
        drain_timeout=seconds("sso_drain_timeout", opts.sso_drain_timeout, zero_ok=True, high=3600),
    )


def seconds(name: str, value: str, *, zero_ok: bool, high: float) -> float:
    try:
        t = float(value)
    except ValueError:
        raise exceptions.OptionsError(f"{name}: not a number of seconds: {value!r}") from None
    if not (t >= 0 if zero_ok else t > 0) or not t <= high:
        raise exceptions.OptionsError(f"{name}: want {'0 <=' if zero_ok else '0 <'} seconds <= {high:g}, not {value!r}")
    return t


def secret_for(secret: str, store_url: str, process: ProcessState) -> bytes:
    if secret:
        return secret.encode()
    if store_url.strip().lower().startswith("memory"):
        if not process.warned_random_key:
            process.warned_random_key = True
            log.warning(
                f"sso-router: no sso_secret (or {ENV_SECRET}) set: using a random per-process key; "
                "sticky cookies and correlations will not survive a restart"
            )
        return process.random_key
    raise exceptions.OptionsError(
        f"sso_secret is required with sso_store={safe_url(store_url)}: instances sharing a store must share a key "
        f"(set --set sso_secret=... or {ENV_SECRET})"
    )
