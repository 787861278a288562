"""The mapping and the decision, as frozen data. No I/O, no parsing, no mitmproxy.

``Mapping`` carries one dict per identifier kind, so every lookup is O(1)
whatever the number of orgs (path prefixes: O(path depth)).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from collections.abc import Mapping as _ReadOnly
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

from .limits import Limits
from .precedence import head_suffices

PROVIDER_KINDS = frozenset({"auth0", "workos", "cognito", "firebase", "scalekit", "generic"})


class Reason(str, Enum):  # noqa: UP042 — StrEnum would change str() and format() of a member
    """Why a request went where it went, in the order the reasons are tried."""

    FORCED = "forced"
    CORRELATION = "correlation"
    STICKY = "sticky"
    ORG = "org"
    PATH = "path"
    DEFAULT = "default"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    kind: str
    upstream: Upstream
    app_callback: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    paths: tuple[str, ...] = ()
    host_header: str = ""
    sni: str = ""
    client_ip_header: str = ""
    ca_file: str = ""  # a private CA for this upstream's TLS (only it is trusted); ca_pem: its PEM bytes
    ca_pem: bytes = field(default=b"", repr=False)


_NO_PATHS: _ReadOnly[str, str] = MappingProxyType({})


class Org(NamedTuple):
    """One customer org. A NamedTuple, not a dataclass: a mapping may hold 100,000 of them,
    and a tuple is built several times faster and is smaller."""

    key: str
    migrated: bool = False
    domains: tuple[str, ...] = ()
    idp_entity_ids: tuple[str, ...] = ()
    oidc_issuers: tuple[str, ...] = ()
    connections: tuple[str, ...] = ()
    org_ids: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    test_users: tuple[str, ...] = ()
    directories: tuple[str, ...] = ()  # SCIM directory ids in SCIM URLs
    scim_token_sha256: tuple[str, ...] = ()  # lower-case hex SHA-256 of SCIM bearer tokens
    target_paths: _ReadOnly[str, str] = _NO_PATHS


# An org as the mapping stores it: Org's fields as a plain tuple, ``target_paths`` flattened to
# (from, to, from, to, ...). Only strings, bools and exact tuples of strings, so that CPython's
# cyclic GC untracks the row and its tuples (mapping_loader.untrack_built): it never untracks a tuple
# subclass such as Org, nor a tuple holding a dict or a MappingProxyType, and each level of nested
# tuples costs one more pass. A 100,000-org mapping then leaves nothing for a collection to walk.
OrgRow = tuple[Any, ...]


class OrgTable(_ReadOnly[str, Org]):
    """The orgs by key, read-only: each lookup builds the ``Org`` view of the stored row.
    ``tests/unit/test_mapping_gc.py`` checks that a loaded mapping leaves no tracked objects per org."""

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[str, OrgRow]) -> None:
        self._rows = rows

    def __getitem__(self, key: str) -> Org:
        return _org_of(self._rows[key])

    def get(self, key: str, default: Org | None = None) -> Org | None:  # type: ignore[override]
        row = self._rows.get(key)
        return default if row is None else _org_of(row)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    # the hot path's two questions, read off the stored row without building its Org view
    def is_migrated(self, key: str) -> bool:
        return bool(self._rows[key][_MIGRATED])

    def target_path(self, key: str, path: str) -> str | None:
        """Where ``key``'s ``target_paths`` send ``path`` at the migration target; None: nowhere new."""
        row = self._rows.get(key)
        flat = row[-1] if row is not None else ()
        for i in range(0, len(flat), 2):
            if flat[i] == path:
                return flat[i + 1]  # type: ignore[no-any-return]
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


_MIGRATED = Org._fields.index("migrated")


def _org_of(row: OrgRow) -> Org:
    p = row[-1]
    return tuple.__new__(
        Org, (*row[:-1], MappingProxyType(dict(zip(p[::2], p[1::2], strict=True))) if p else _NO_PATHS)
    )


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """``[router.admin]``: who may read health, metrics and per-org figures."""

    allow: tuple[Network, ...] = LOOPBACK
    trusted_proxies: tuple[Network, ...] = ()


@dataclass(frozen=True, slots=True)
class CanarySettings:
    """``[router.canary]``: roll a freshly migrated org back when its logins fail there."""

    enabled: bool = False
    window: int = 600  # seconds after a flip that the org's logins are watched
    min_attempts: int = 5
    max_failure_ratio: float = 0.5


@dataclass(frozen=True, slots=True)
class RouterSettings:
    public_url: str
    public_scheme: str
    public_netloc: str
    default_provider: str
    migration_target: str
    force_header: str = "x-force-sk-route"
    force_header_secret: str = ""
    correlation_ttl: int = 900
    token_ttl: int = 86_400
    debug_headers: bool = False
    shadow: bool = False
    hosts: frozenset[str] = frozenset()  # lower-case host names, no ports, public_url's included
    limits: Limits = Limits()  # noqa: RUF009 — Limits is a frozen dataclass: one shared default is safe
    admin: AdminSettings = AdminSettings()
    canary: CanarySettings = CanarySettings()


@dataclass(frozen=True, slots=True)
class Mapping:
    """A validated mapping with its lookup indexes (all keys normalised as looked up)."""

    settings: RouterSettings
    providers: _ReadOnly[str, Provider]
    orgs: OrgTable
    by_domain: _ReadOnly[str, str]  # lower-case email domain or org key -> org key
    by_test_user: _ReadOnly[str, str]  # lower-case email -> org key
    by_org_id: _ReadOnly[str, str]
    by_connection: _ReadOnly[str, str]
    by_entity_id: _ReadOnly[str, str]
    by_issuer: _ReadOnly[str, str]
    by_client_id: _ReadOnly[str, str]
    by_directory: _ReadOnly[str, str]
    by_scim_token: _ReadOnly[str, str]  # lower-case hex SHA-256 -> org key
    by_path: _ReadOnly[str, str]  # normalised prefix -> provider name
    version: str = ""  # hash of the source bytes
    # a mapped SAML Issuer settles the org (precedence.head_suffices): derived once, not per request
    saml_head_suffices: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "saml_head_suffices", head_suffices(lambda name: getattr(self, f"by_{name}")))

    def provider_for_org(self, org: Org) -> str:
        return self._provider(org.migrated)

    def provider_for(self, key: str) -> str:
        """``provider_for_org`` of the org ``key`` (which must be in the mapping), off its stored row."""
        return self._provider(self.orgs.is_migrated(key))

    def _provider(self, migrated: bool) -> str:
        s = self.settings
        return s.migration_target if migrated else s.default_provider

    def path_provider(self, path: str) -> str | None:
        """The provider that alone serves ``path`` (longest prefix, on segment boundaries)."""
        if not self.by_path:
            return None
        p = path.rstrip("/") or "/"
        while True:
            hit = self.by_path.get(p)
            if hit is not None:
                return hit
            if p in ("/", ""):
                return None
            p = p[: p.rfind("/")] or "/"


@dataclass(frozen=True, slots=True)
class Route:
    """What a correlation remembers: the provider that issued a value, and the org if known."""

    provider: str
    org: str | None = None


class Seen(NamedTuple):
    """The non-secret identifiers a request carried, whatever decided it, for ``sso-router learn``:
    its SAML message's Issuer, a posted id_token's ``iss``, the connection ids in its parameters,
    path, Audience or Destination. Written to the decision log; never a secret."""

    saml_issuer: str | None = None
    oidc_issuer: str | None = None
    connections: tuple[str, ...] = ()

    def __bool__(self) -> bool:  # a tuple of three is always true; this is "was anything seen"
        return self.saml_issuer is not None or self.oidc_issuer is not None or bool(self.connections)


NOTHING_SEEN = Seen()


@dataclass(slots=True)  # built per request: a frozen dataclass costs ~4x as much to construct
class Decision:
    """One request's routing decision (treat as immutable).

    ``provider`` is the decided provider; ``forward_to`` is where the request is
    really sent (``default_provider`` in shadow mode). ``evidence`` names the kind
    of identifier that decided (never its value).
    """

    provider: str
    reason: Reason
    org: str | None
    evidence: str
    forward_to: str
    shadow: bool = False
    seen: Seen = NOTHING_SEEN
