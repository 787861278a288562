"""Identity Platform (Firebase Auth) provider configs → drafts.

Reads the REST lists ``projects.inboundSamlConfigs.list`` (``{"inboundSamlConfigs": […],
"nextPageToken"}``), ``projects.oauthIdpConfigs.list`` (``{"oauthIdpConfigs": […]}``), their
per-tenant forms (``projects.tenants.…``) and ``projects.tenants.list`` (``{"tenants": […]}``),
or one config object. The provider id (``saml.acme``, ``oidc.acme``: the last segment of a
config's ``name``) goes to ``connections``; ``idpConfig.idpEntityId`` to ``idp_entity_ids``; an
OIDC ``issuer`` to ``oidc_issuers``; the tenant id of a per-tenant config (its ``name``:
``projects/P/tenants/T/…``) to ``org_ids``, and a tenant's configs are one org.

What it does not say: Identity Platform stores **no email domain** — every org is listed for
``--key`` — and a SAML config's ``spConfig.spEntityId`` is the app's own SP id, often one for the
whole project, so it is not imported.
"""

from __future__ import annotations

import re
from typing import Any

from .drafts import ExportError, JSONObject, OrgDraft, Reading, as_dict, as_list, text

_NAME = re.compile(r"^projects/([^/]+)/(?:tenants/([^/]+)/)?(inboundSamlConfigs|oauthIdpConfigs)/([^/]+)$")
_TENANT = re.compile(r"^projects/([^/]+)/tenants/([^/]+)$")


def read(docs: list[tuple[str, Any]]) -> Reading:
    r = Reading("firebase")
    configs: dict[str, JSONObject] = {}
    tenants: dict[str, str] = {}  # tenant id -> display name
    for name, doc in docs:
        for obj in _objects(name, doc):
            if m := _TENANT.match(text(obj.get("name")) or ""):
                tenants[m.group(2)] = text(obj.get("displayName")) or m.group(2)
            else:
                configs.setdefault(obj["name"], obj)
    r.counts = {"provider configs": len(configs), "tenants": len(tenants)}
    by_tenant: dict[str, OrgDraft] = {}
    for full, c in configs.items():
        m = _NAME.match(full)
        if m is None:
            raise ExportError(f"config name {full!r} is not projects/…/(inboundSamlConfigs|oauthIdpConfigs)/…")
        _project, tenant, kind, provider_id = m.groups()
        saml = kind == "inboundSamlConfigs"
        label = f'{"SAML" if saml else "OIDC"} provider "{provider_id}"' + (f" of tenant {tenant}" if tenant else "")
        if tenant:
            d = by_tenant.get(tenant)
            if d is None:
                d = by_tenant[tenant] = OrgDraft(f'tenant "{tenants.get(tenant, tenant)}" ({tenant})', owner=tenant)
                d.name(tenant)
                d.add("org_ids", tenant)
                r.drafts.append(d)
            d.sources.append(label)
        else:
            d = OrgDraft(label)
            r.drafts.append(d)
        d.name(provider_id)
        d.add("connections", provider_id)
        if saml:
            d.add("idp_entity_ids", text(as_dict(c.get("idpConfig")).get("idpEntityId")))
        else:
            d.add("oidc_issuers", text(c.get("issuer")))
    if r.drafts:
        r.notes.append(
            "Identity Platform stores no email domain: key each org with --key PROVIDER_ID=DOMAIN (or TENANT_ID=DOMAIN)"
        )
    return r


def _objects(name: str, doc: Any) -> list[JSONObject]:
    if isinstance(doc, dict):
        for key in ("inboundSamlConfigs", "oauthIdpConfigs", "tenants"):
            if key in doc:
                return [x for x in as_list(doc[key]) if isinstance(x, dict) and text(x.get("name"))]
        if text(doc.get("name")) and (_NAME.match(doc["name"]) or _TENANT.match(doc["name"])):
            return [doc]
        if not doc:
            return []  # an empty list response ({}): nothing configured
    raise ExportError(f"{name}: not an Identity Platform inboundSamlConfigs / oauthIdpConfigs / tenants response")
