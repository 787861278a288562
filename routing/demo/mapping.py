"""The demo's mapping file: written once at start, then edited only by ``sso-router migrate``/``rollback``."""

from __future__ import annotations

from .orgs import DemoOrg


def demo_mapping(public_url: str, legacy_url: str, scalekit_url: str, orgs: tuple[DemoOrg, ...]) -> str:
    lines = [
        "# The mapping of `sso-router demo` (written at start, removed at exit).",
        "# The demo page's flip button runs `sso-router migrate ORG --mapping <this file>`;",
        "# the running router reads the change within a second.",
        "",
        "[router]",
        f'public_url = "{public_url}"      # the auth domain: the only address browsers and IdPs see',
        'default_provider = "legacy"',
        'migration_target = "scalekit"',
        "correlation_ttl = 900",
        "debug_headers = true      # x-sso-route: <provider>; reason=<reason> on every response",
        "",
        "[providers.legacy]",
        'kind = "auth0"',
        f'upstream = "{legacy_url}"',
        "",
        "[providers.scalekit]",
        'kind = "scalekit"',
        f'upstream = "{scalekit_url}"',
        "",
    ]
    for org in orgs:
        lines += [
            f'[orgs."{org.domain}"]',
            f"migrated = {'true' if org.migrated else 'false'}",
            f'idp_entity_ids = ["{org.idp_entity_id}"]   # its {org.idp_product} IdP',
            f'connections = ["{org.legacy_connection}", "{org.scalekit_connection}"]',
            "# the IdP posts to the legacy ACS URL; at Scalekit the same post goes to the connection's ACS",
            f'target_paths = {{ "/login/callback" = "/sso/v1/saml/{org.scalekit_connection}/acs" }}',
            "",
        ]
    return "\n".join(lines)
