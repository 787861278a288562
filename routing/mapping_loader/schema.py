"""What a mapping may say, as data: the keys of each table and every identifier list of an org.

The fast path that builds 100,000 orgs and the slow path that words an error both read ``ORG_LISTS``,
so a list's rules (which index it fills, how its values are compared, what each value must look
like) are stated once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUTER_KEYS = frozenset(
    {
        "public_url",
        "default_provider",
        "force_header",
        "migration_target",
        "correlation_ttl",
        "token_ttl",
        "debug_headers",
        "shadow",
        "force_header_secret",
        "hosts",
        "limits",
        "admin",
        "canary",
    }
)
ROUTER_TABLES = ("limits", "admin", "canary")  # [router.<name>] sub-tables
ADMIN_KEYS = frozenset({"allow", "trusted_proxies"})
CANARY_KEYS = frozenset({"enabled", "window", "min_attempts", "max_failure_ratio"})
LIMIT_KEYS = frozenset({"max_body", "max_inflate", "max_jwt"})
PROVIDER_KEYS = frozenset(
    {"kind", "upstream", "app_callback", "headers", "paths", "host_header", "sni", "client_ip_header", "ca_file"}
)
TOP_KEYS = frozenset({"router", "providers", "orgs"})

HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)  # not a NamedTuple: its ``index`` field would shadow ``tuple.index``
class OrgList:
    """One list of identifiers an org may have."""

    key: str  # the mapping key
    index: str  # the ``Mapping.by_<index>`` it fills
    fold: bool = False  # compared case-insensitively: indexed lower-cased
    pattern: re.Pattern[str] | None = None  # every value must match
    pattern_says: str = ""  # the error when one does not
    stored_lower: bool = False  # kept lower-case in the org too (a hex digest has one canonical form)


# In ``Org``'s field order (after key and migrated): the fast path fills a row in this order.
ORG_LISTS: tuple[OrgList, ...] = (
    OrgList("domains", "domain", fold=True),  # the org key itself is indexed as a domain too
    OrgList("idp_entity_ids", "entity_id"),
    OrgList("oidc_issuers", "issuer"),
    OrgList("connections", "connection"),
    OrgList("org_ids", "org_id"),
    OrgList("client_ids", "client_id"),
    OrgList("test_users", "test_user", fold=True),
    OrgList("directories", "directory"),
    OrgList(
        "scim_token_sha256",
        "scim_token",
        fold=True,
        pattern=SHA256_HEX,
        pattern_says="want the SHA-256 of a token as 64 hex digits",
        stored_lower=True,
    ),
)
ORG_KEYS = frozenset({"migrated", "target_paths", *(f.key for f in ORG_LISTS)})
SLOT = {f.key: i for i, f in enumerate(ORG_LISTS)}
INDEXES = tuple(dict.fromkeys(f.index for f in ORG_LISTS))
DOMAINS = SLOT["domains"]
