"""A signing SAML IdP (pysaml2 ``saml2.server.Server``): one per customer org, all on one port.

Tenant ``<slug>`` serves:
- ``GET /<slug>/sso?SAMLRequest=…&RelayState=…[&login_hint=…]`` (HTTP-Redirect): validates the
  AuthnRequest against the SP metadata it knows and answers an auto-post form carrying a signed
  SAMLResponse (InResponseTo = the request's ID, Destination = the requested/registered ACS).
- ``GET /<slug>/idp-init?sp=<entity id>[&acs=<url>][&user=<email>][&relay_state=…][&in_response_to=…]``:
  an unsolicited signed Response to that SP (to its default ACS unless ``acs`` names another
  registered one); ``in_response_to`` puts one in, as Rippling and others do in IdP-initiated
  Responses (crewjam/saml#320).

A tenant in ``fixed_acs`` answers every AuthnRequest at the SP's default ACS, whatever ACS the
request asks for (IdPs configured with one ACS URL do).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import saml2
from saml2 import saml
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.server import Server

from .http import PeerServer, Record, Request, Response, auto_post_form
from .keys import KeyPair

XMLSEC = "/usr/bin/xmlsec1"


@dataclass(frozen=True)
class IdpTenant:
    slug: str  # URL segment, e.g. "megasoft"
    entity_id: str  # e.g. "http://idp.megasoft.test/"
    default_user: str  # e.g. "alice@megasoft.com"


class SamlIdP:
    def __init__(self, keypair: KeyPair, tenants: list[IdpTenant]):
        self.keypair = keypair
        self.tenants = {t.slug: t for t in tenants}
        self.server = PeerServer("saml-idp", self._handle)
        self._servers: dict[str, Server] = {}
        self.sign_in_page = False  # True: /sso first shows a page whose "Sign in" button posts back (a user at the IdP)
        self.issued: list[dict] = []  # what it signed: {"tenant", "in_response_to", "destination", "user"}
        self.fixed_acs: set[str] = set()  # tenant slugs that post to the SP's default ACS only

    # -- set-up ---------------------------------------------------------
    def sso_url(self, slug: str) -> str:
        return f"{self.server.url}/{slug}/sso"

    def _config_dict(self, tenant: IdpTenant, sp_metadata: list[str]) -> dict:
        conf = {
            "entityid": tenant.entity_id,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (self.sso_url(tenant.slug), saml2.BINDING_HTTP_REDIRECT),
                            (self.sso_url(tenant.slug), saml2.BINDING_HTTP_POST),
                        ]
                    },
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 15},
                            "attribute_restrictions": None,
                            "name_form": saml.NAME_FORMAT_URI,
                        }
                    },
                    "name_id_format": [saml.NAMEID_FORMAT_EMAILADDRESS],
                    "want_authn_requests_signed": False,
                    "sign_response": True,
                    "sign_assertion": True,
                },
            },
            "key_file": self.keypair.key_file,
            "cert_file": self.keypair.cert_file,
            "xmlsec_binary": XMLSEC,
            "accepted_time_diff": 120,
        }
        if sp_metadata:
            conf["metadata"] = {"inline": sp_metadata}
        return conf

    def metadata(self, slug: str) -> str:
        """The IdP's metadata XML (entity id, SSO URL, signing certificate) for SPs to trust."""
        conf = IdPConfig().load(self._config_dict(self.tenants[slug], []))
        return str(entity_descriptor(conf))

    def configure(self, sp_metadata: list[str]) -> None:
        """Builds the signing servers; each tenant trusts every SP in ``sp_metadata``."""
        for slug, tenant in self.tenants.items():
            self._servers[slug] = Server(config=IdPConfig().load(self._config_dict(tenant, sp_metadata)))

    # -- HTTP -----------------------------------------------------------
    def _handle(self, req: Request, rec: Record) -> Response:
        slug, _, action = req.path.strip("/").partition("/")
        srv = self._servers.get(slug)
        if srv is None:
            return Response.text(404, f"saml-idp: no tenant {slug!r}")
        tenant = self.tenants[slug]
        if action == "sso":
            return self._sso(srv, tenant, req, rec)
        if action == "idp-init":
            return self._idp_init(srv, tenant, req, rec)
        if action == "metadata":
            return Response.text(200, self.metadata(slug), "application/samlmetadata+xml")
        return Response.text(404, "saml-idp: unknown endpoint")

    def _sso(self, srv: Server, tenant: IdpTenant, req: Request, rec: Record) -> Response:
        params = req.query if req.method == "GET" else req.form  # POST: the sign-in page's form
        if "SAMLRequest" not in params:
            rec.outcome = "rejected: no SAMLRequest"
            return Response.text(400, "saml-idp: no SAMLRequest")
        try:
            parsed = _parse_request(srv, params["SAMLRequest"], posted=req.method == "POST")
            args = srv.response_args(parsed.message, [saml2.BINDING_HTTP_POST])
        except Exception as exc:
            rec.outcome = f"rejected: bad AuthnRequest {exc!r}"
            return Response.text(400, f"saml-idp: bad AuthnRequest: {exc!r}")
        if tenant.slug in self.fixed_acs:
            sp = parsed.message.issuer.text.strip()
            args["destination"] = srv.metadata.assertion_consumer_service(sp, saml2.BINDING_HTTP_POST)[0]["location"]
        user = params.get("login_hint") or tenant.default_user
        if self.sign_in_page and req.method == "GET":
            rec.outcome = f"accepted: sign-in page for {user}"
            return Response.text(
                200,
                sign_in_page(
                    req.path, user, {k: params[k] for k in ("SAMLRequest", "RelayState", "login_hint") if k in params}
                ),
                "text/html",
            )
        return self._respond(srv, tenant, rec, args, user, params.get("RelayState", ""))

    def _idp_init(self, srv: Server, tenant: IdpTenant, req: Request, rec: Record) -> Response:
        sp = req.query.get("sp", "")
        try:
            acs_list = srv.metadata.assertion_consumer_service(sp, saml2.BINDING_HTTP_POST)
        except Exception as exc:
            acs_list = []
            rec.outcome = f"rejected: {exc!r}"
        urls = [a["location"] for a in acs_list]
        if not urls:
            rec.outcome = rec.outcome or f"rejected: unknown SP {sp!r}"
            return Response.text(400, f"saml-idp: unknown SP {sp!r}")
        dest = req.query.get("acs") or urls[0]
        if dest not in urls:
            rec.outcome = f"rejected: ACS {dest!r} not registered"
            return Response.text(400, f"saml-idp: ACS {dest!r} not registered for {sp!r}")
        args = {
            "destination": dest,
            "in_response_to": req.query.get("in_response_to") or None,
            "sp_entity_id": sp,
            "name_id_policy": None,
            "binding": saml2.BINDING_HTTP_POST,
        }
        user = req.query.get("user") or tenant.default_user
        return self._respond(srv, tenant, rec, args, user, req.query.get("relay_state", ""))

    def _respond(
        self, srv: Server, tenant: IdpTenant, rec: Record, args: dict, user: str, relay_state: str
    ) -> Response:
        args = dict(args)
        args.pop("binding", None)
        name_id = saml.NameID(format=saml.NAMEID_FORMAT_EMAILADDRESS, text=user)
        resp = srv.create_authn_response(
            {"mail": [user]},
            userid=user,
            name_id=name_id,
            authn={"class_ref": saml.AUTHN_PASSWORD, "authn_auth": tenant.entity_id},
            sign_response=True,
            sign_assertion=True,
            **args,
        )
        self.issued.append(
            {
                "tenant": tenant.slug,
                "in_response_to": args.get("in_response_to"),
                "destination": args["destination"],
                "user": user,
            }
        )
        import base64

        fields = {"SAMLResponse": base64.b64encode(str(resp).encode()).decode()}
        if relay_state:
            fields["RelayState"] = relay_state
        rec.outcome = f"accepted: signed response for {user} to {args['destination']}"
        return Response.text(200, auto_post_form(args["destination"], fields), "text/html")

    def idp_init_url(
        self, slug: str, sp: str, *, acs: str = "", user: str = "", relay_state: str = "", in_response_to: str = ""
    ) -> str:
        q = {"sp": sp}
        if in_response_to:
            q["in_response_to"] = in_response_to
        if acs:
            q["acs"] = acs
        if user:
            q["user"] = user
        if relay_state:
            q["relay_state"] = relay_state
        return f"{self.server.url}/{slug}/idp-init?{urllib.parse.urlencode(q)}"


def _parse_request(srv: Server, value: str, *, posted: bool):
    """A SAMLRequest in either binding: deflated (HTTP-Redirect, or the sign-in page posting that
    value back), else, when posted, plain base64 (HTTP-POST)."""
    try:
        return srv.parse_authn_request(value, saml2.BINDING_HTTP_REDIRECT)
    except Exception:
        if not posted:
            raise
        return srv.parse_authn_request(value, saml2.BINDING_HTTP_POST)


def sign_in_page(action: str, user: str, fields: dict[str, str]) -> str:
    """The IdP's own login page: the user reads it, then presses "Sign in" (a same-site POST)."""
    import html

    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in fields.items()
    )
    return (
        f"<html><head><title>Sign in</title></head><body><h1>Sign in as {html.escape(user)}</h1>"
        f'<form method="post" action="{html.escape(action)}">{inputs}'
        '<button id="sign-in" type="submit">Sign in</button></form></body></html>'
    )
