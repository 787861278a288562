"""One SAML IdP per customer org (an Okta or Entra ID stand-in), all on one port, signing what it says.

``GET /<slug>/sso?SAMLRequest=…&RelayState=…`` (HTTP-Redirect) checks the AuthnRequest against
the service providers the customer set up (entity id and ACS URL, which a migration does not
change) and shows a sign-in page; ``POST /<slug>/sso`` signs the Response and answers an auto-post
form to the ACS URL (HTTP-POST). Until the user signs in, the login is "at the IdP": a flip made
meanwhile must not change where it finishes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from . import saml
from .keys import SigningKey, make_signing_key
from .web import Request, Response, Server, auto_post_page


@dataclass(frozen=True)
class Tenant:
    slug: str  # URL segment, e.g. "megasoft"
    domain: str  # the customer's email domain, e.g. "megasoft.com"
    entity_id: str  # the IdP's SAML entity id, e.g. "http://www.okta.com/exk1megasoft"
    product: str  # what it stands in for, e.g. "Okta"
    sp_entity_id: str  # the one service provider this customer has set up (the auth domain's)


class IdP:
    def __init__(self, tenants: list[Tenant]) -> None:
        self.tenants = {t.slug: t for t in tenants}
        self.keys: dict[str, SigningKey] = {t.slug: make_signing_key(t.entity_id) for t in tenants}
        self.server = Server("idp", self._handle)
        self.acs_url = ""  # the ACS URL the customers registered: set once the router's address is known

    def sso_url(self, slug: str) -> str:
        return f"{self.server.url}/{slug}/sso"

    def cert_pem(self, slug: str) -> bytes:
        return self.keys[slug].cert_pem

    def _handle(self, req: Request) -> Response:
        slug, _, action = req.path.strip("/").partition("/")
        tenant = self.tenants.get(slug)
        if tenant is None or action != "sso" or req.method not in ("GET", "POST"):
            return Response.text(404, "idp: no such page")
        params = req.query if req.method == "GET" else req.form
        try:
            authn = self._check(tenant, params.get("SAMLRequest", ""))
        except saml.SamlError as e:
            return Response.html(
                400, _page(tenant, f"<p class=err>This sign-in request is refused: {html.escape(str(e))}</p>")
            )
        if req.method == "GET":
            return Response.html(200, _sign_in_page(tenant, params))
        user = params.get("username", "").strip().lower()
        if not user.endswith("@" + tenant.domain):
            return Response.html(
                403, _page(tenant, f"<p class=err>No user {html.escape(user)!s} at {html.escape(tenant.domain)}.</p>")
            )
        assertion = saml.Assertion(tenant.entity_id, authn.id, authn.acs_url, authn.issuer, user)
        fields = {"SAMLResponse": saml.signed_response(assertion, self.keys[slug].key_pem, self.keys[slug].cert_pem)}
        if params.get("RelayState"):
            fields["RelayState"] = params["RelayState"]
        return Response.html(
            200,
            auto_post_page(
                authn.acs_url,
                fields,
                f"Signed in at {tenant.product} ({tenant.domain}); posting the SAML Response to the ACS…",
            ),
        )

    def _check(self, tenant: Tenant, saml_request: str) -> saml.AuthnRequest:
        if not saml_request:
            raise saml.SamlError("no SAMLRequest")
        authn = saml.read_authn_request(saml_request)
        if authn.issuer != tenant.sp_entity_id:
            raise saml.SamlError(f"unknown service provider {authn.issuer!r}")
        if authn.acs_url != self.acs_url:
            raise saml.SamlError(f"ACS URL {authn.acs_url!r} is not the registered {self.acs_url!r}")
        if authn.destination != self.sso_url(tenant.slug):
            raise saml.SamlError(f"Destination {authn.destination!r} is not this IdP")
        return authn


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em}"
    ".box{border:1px solid #bbb;border-radius:8px;padding:1.2em}.err{color:#b00}"
    "input{font-size:1em;padding:.3em;width:100%;box-sizing:border-box}"
    "button{font-size:1em;padding:.4em 1.2em;margin-top:.8em}.tip{color:#555;font-size:.9em}"
)


def _page(tenant: Tenant, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(tenant.product)} — "
        f"{html.escape(tenant.domain)}</title><style>{_STYLE}</style></head><body><div class=box>"
        f"<h2>{html.escape(tenant.product)} · {html.escape(tenant.domain)}</h2>{body}</div></body></html>"
    )


def _sign_in_page(tenant: Tenant, params: dict[str, str]) -> str:
    user = params.get("login_hint", "")
    hidden = "".join(
        f'<input type=hidden name="{k}" value="{html.escape(params.get(k, ""))}">'
        for k in ("SAMLRequest", "RelayState")
    )
    return _page(
        tenant,
        (
            f"<p>This is {html.escape(tenant.domain)}'s own identity provider (standing in for "
            f"{html.escape(tenant.product)}; entity id <code>{html.escape(tenant.entity_id)}</code>). "
            f"A service provider asked it to sign you in.</p><form method=post>{hidden}<label>User <input name=username "
            f'value="{html.escape(user)}"></label><button type=submit>Sign in</button></form>'
            f"<p class=tip>Your login is now in flight, at the IdP. To see correlation at work, flip this "
            f"org in the demo's other tab before you sign in: the login still finishes at the provider "
            f"that sent you here.</p>"
        ),
    )
