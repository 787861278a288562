"""The peer topology of the e2e tests: IdPs, two providers, four customer orgs, one public URL.

``World`` wires the peers to each other around ``public_url`` (the proxy's address, the only one
browsers and IdPs see) and renders the matching mapping.toml. Nothing here knows the router.

Orgs:
- megasoft.com   — SAML IdP ``http://idp.megasoft.test/``, legacy (not migrated)
- newcompany.com — SAML IdP ``http://idp.newcompany.test/``, migrated to scalekit
- acme.com       — OIDC IdP (code flow), legacy
- globex.com     — OIDC IdP (form_post id_token), migrated
Each provider has a connection for each org (a migration keeps the SP entity id, so the
customer's IdP does not change); which one is *used* is the router's business.
"""

from __future__ import annotations

import copy
import pathlib
from dataclasses import dataclass

from tests.ports import free_port

from .certs import CertAuthority
from .peers.keys import KeyPair
from .peers.oidc_idp import OidcIdP, OidcTenant
from .peers.provider import APP_CALLBACK, AUTH0, SCALEKIT, Connection, Provider
from .peers.saml_idp import IdpTenant, SamlIdP
from .peers.saml_sp import SamlSP, sp_metadata

APP_CLIENT = ("app-client", "app-secret")  # the SaaS app's OAuth client (registered at both providers)
M2M_CLIENTS = {"m2m-megasoft": "m2m-megasoft-secret", "m2m-newco": "m2m-newco-secret"}
MEGASOFT_IDP = "http://idp.megasoft.test/"
NEWCO_IDP = "http://idp.newcompany.test/"
TEST_USER = "it-admin@megasoft.com"
SK_APP_CALLBACK = "https://app.test/auth/scalekit/callback"


@dataclass(frozen=True)
class Keys:
    idp: KeyPair
    oidc: KeyPair
    legacy: KeyPair
    scalekit: KeyPair


@dataclass(frozen=True)
class PeerTls:
    """HTTPS for a world: the router at ``https://<public_host>:<port>`` and the peers named in
    ``hosts`` (peer name -> host name), every certificate from ``ca``."""

    ca: CertAuthority
    public_host: str
    hosts: dict[str, str]


class World:
    def __init__(self, keys: Keys, proxy_port: int | None = None, *, tls: PeerTls | None = None):
        self.proxy_port = proxy_port or free_port()
        self.tls = tls
        self.public_url = (
            f"https://{tls.public_host}:{self.proxy_port}" if tls else f"http://127.0.0.1:{self.proxy_port}"
        )
        self.idp = SamlIdP(
            keys.idp,
            [
                IdpTenant("megasoft", MEGASOFT_IDP, "alice@megasoft.com"),
                IdpTenant("newcompany", NEWCO_IDP, "bob@newcompany.com"),
            ],
        )
        self.oidc = OidcIdP(keys.oidc, [OidcTenant("acme", "carol@acme.com"), OidcTenant("globex", "dan@globex.com")])
        self.legacy = Provider("legacy", AUTH0, keys.legacy, self.public_url)
        self.scalekit = Provider("scalekit", SCALEKIT, keys.scalekit, self.public_url)
        self.sp_entity = {
            "megasoft": f"{self.public_url}/saml/metadata/sp-m1",
            "newcompany": f"{self.public_url}/saml/metadata/sp-n1",
        }
        for server in self.peers if tls else ():
            if server.name in tls.hosts:
                host = tls.hosts[server.name]
                server.serve_tls(tls.ca.server_context(tls.ca.issue(host)), host)
        self._wire()

    # -- wiring ---------------------------------------------------------
    def _wire(self) -> None:
        lg, sk = self.legacy, self.scalekit
        idp_md = {slug: self.idp.metadata(slug) for slug in ("megasoft", "newcompany")}
        legacy_acs = lg.acs_url("")
        saml_orgs = [  # (slug, domain, idp, legacy conn, legacy org id, scalekit conn, scalekit org id, default ACS)
            (
                "megasoft",
                "megasoft.com",
                MEGASOFT_IDP,
                "megasoft-saml",
                "org_legacy_megasoft",
                "conn_megasoft",
                "org_megasoft",
                "legacy",
            ),
            (
                "newcompany",
                "newcompany.com",
                NEWCO_IDP,
                "newco-saml",
                "org_legacy_newco",
                "conn_newco",
                "org_newco",
                "scalekit",
            ),
        ]
        idp_view = []
        for slug, domain, idp_entity, lconn, lorg, sconn, sorg, default in saml_orgs:
            entity = self.sp_entity[slug]
            sk_acs = sk.acs_url(sconn)
            lg.add_connection(
                Connection(lconn, domain, lorg, "saml", sp=SamlSP(entity, [legacy_acs], idp_entity, idp_md[slug]))
            )
            # Scalekit's connection keeps the legacy ACS as an accepted Destination (a migrated SP).
            sk.add_connection(
                Connection(
                    sconn, domain, sorg, "saml", sp=SamlSP(entity, [sk_acs, legacy_acs], idp_entity, idp_md[slug])
                )
            )
            acs = [legacy_acs, sk_acs] if default == "legacy" else [sk_acs, legacy_acs]
            idp_view.append(sp_metadata(entity, acs))
        self.idp.configure(idp_view)

        for slug, domain, lconn, sconn, form_post in (
            ("acme", "acme.com", "acme-oidc", "conn_acme", False),
            ("globex", "globex.com", "globex-oidc", "conn_globex", True),
        ):
            for prov, cname in ((lg, lconn), (sk, sconn)):
                cid, secret = f"{prov.name}-at-{slug}", f"{prov.name}-at-{slug}-secret"
                callback = prov.oidc_callback_url(cname)
                self.oidc.register_client(slug, cid, secret, [callback])
                prov.add_connection(
                    Connection(
                        cname,
                        domain,
                        f"org_{prov.name}_{slug}",
                        "oidc",
                        issuer=self.oidc.issuer(slug),
                        authorize_url=f"{self.oidc.issuer(slug)}/authorize",
                        token_url=f"{self.oidc.issuer(slug)}/token",
                        client_id=cid,
                        client_secret=secret,
                        callback_url=callback,
                        idp_public_pem=self.oidc.keypair.public_pem,
                        form_post=form_post,
                    )
                )

        for prov in (lg, sk):
            prov.add_client(*APP_CLIENT, [APP_CALLBACK])
            for cid, secret in M2M_CLIENTS.items():
                prov.add_client(cid, secret, [])

    # -- lifecycle ------------------------------------------------------
    @property
    def peers(self):
        return (self.idp.server, self.oidc.server, self.legacy.server, self.scalekit.server)

    def start(self) -> World:
        for peer in self.peers:
            peer.start()
        return self

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()

    def clear(self) -> None:
        for peer in self.peers:
            peer.clear()
        self.legacy.reset_behaviour()
        self.scalekit.reset_behaviour()
        self.idp.fixed_acs.clear()

    # -- the router's mapping --------------------------------------------
    def base_mapping(self) -> dict:
        return copy.deepcopy(
            {
                "router": {
                    "public_url": self.public_url,
                    "default_provider": "legacy",
                    "force_header": "x-force-sk-route",
                    "migration_target": "scalekit",
                    "correlation_ttl": 900,
                    "token_ttl": 86400,
                    "debug_headers": True,
                    "shadow": False,
                },
                "providers": {
                    "legacy": {"kind": "auth0", **_upstream(self.legacy.server)},
                    "scalekit": {
                        "kind": "scalekit",
                        **_upstream(self.scalekit.server),
                        "paths": ["/keys"],
                        "app_callback": SK_APP_CALLBACK,
                    },
                },
                "orgs": {
                    "megasoft.com": {
                        "migrated": False,
                        "domains": ["megasoft.io"],
                        "idp_entity_ids": [MEGASOFT_IDP],
                        "connections": ["megasoft-saml", "conn_megasoft"],
                        "org_ids": ["org_legacy_megasoft", "org_megasoft"],
                        "client_ids": ["m2m-megasoft"],
                        "test_users": [TEST_USER],
                        "target_paths": {"/login/callback": "/sso/v1/saml/conn_megasoft/acs"},
                    },
                    "newcompany.com": {
                        "migrated": True,
                        "idp_entity_ids": [NEWCO_IDP],
                        "connections": ["conn_newco", "newco-saml"],
                        "org_ids": ["org_newco", "org_legacy_newco"],
                        "client_ids": ["m2m-newco"],
                        "target_paths": {"/login/callback": "/sso/v1/saml/conn_newco/acs"},
                    },
                    "acme.com": {
                        "migrated": False,
                        "oidc_issuers": [self.oidc.issuer("acme")],
                        "connections": ["acme-oidc", "conn_acme"],
                        "org_ids": ["org_legacy_acme", "org_scalekit_acme"],
                    },
                    "globex.com": {
                        "migrated": True,
                        "oidc_issuers": [self.oidc.issuer("globex")],
                        "connections": ["globex-oidc", "conn_globex"],
                        "org_ids": ["org_legacy_globex", "org_scalekit_globex"],
                    },
                },
            }
        )


def _upstream(server) -> dict:
    """A peer as a provider's upstream: its address, and under TLS the name its certificate is for."""
    return {"upstream": server.local_url, "sni": server.host} if server.tls else {"upstream": server.url}


# -- TOML -----------------------------------------------------------------
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_value(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def render_mapping(mapping: dict) -> str:
    lines: list[str] = []

    def table(name: str, body: dict) -> None:
        lines.append(f"[{name}]")
        nested = {}
        for k, v in body.items():
            if isinstance(v, dict) and k == "limits":
                nested[k] = v
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
        for k, v in nested.items():
            table(f"{name}.{k}", v)

    table("router", mapping["router"])
    for pname, body in mapping["providers"].items():
        table(f"providers.{pname}", body)
    for oname, body in mapping["orgs"].items():
        table(f'orgs."{oname}"', body)
    return "\n".join(lines)


def write_mapping(path: pathlib.Path, mapping: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_mapping(mapping))
    tmp.replace(path)
