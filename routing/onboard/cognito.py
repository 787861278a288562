"""Amazon Cognito ``describe-identity-provider`` responses → drafts (one per SAML/OIDC IdP).

``{"IdentityProvider": {"ProviderName", "ProviderType", "ProviderDetails", "IdpIdentifiers", …}}``
per file (or a JSON array of them). ``ProviderName`` and the identifiers go to ``connections``
(the hosted UI's ``identity_provider`` / ``idp_identifier``), domain-shaped identifiers are email
domains; a SAML ``MetadataFile`` names the IdP entity id, a ``MetadataURL`` does only when fetched
(``--fetch-metadata``). An OIDC IdP's ``oidc_issuer`` goes to ``oidc_issuers``. Social IdPs
(Google, Facebook, Login with Amazon, Sign in with Apple) are not orgs.
"""

from __future__ import annotations

from typing import Any

from .drafts import ExportError, JSONObject, Left, OrgDraft, Reading, as_dict, as_list, is_domain, text
from .metadata import MetadataError, MetadataSource, NotFetched, idp_entity_id

ENTERPRISE = frozenset({"SAML", "OIDC"})


def read(docs: list[tuple[str, Any]], metadata: MetadataSource) -> Reading:
    r = Reading("cognito")
    seen: dict[tuple[str, str], JSONObject] = {}
    for name, doc in docs:
        for p in _providers(name, doc):
            seen.setdefault((text(p.get("UserPoolId")) or "", text(p.get("ProviderName")) or ""), p)
    r.counts = {"identity providers": len(seen)}
    for p in seen.values():
        d = _provider(p, r, metadata)
        if d is not None:
            r.drafts.append(d)
    return r


def _providers(name: str, doc: Any) -> list[JSONObject]:
    items = doc if isinstance(doc, list) else [doc]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("IdentityProvider"), dict):
            out.append(item["IdentityProvider"])
        elif isinstance(item, dict) and "ProviderName" in item and "ProviderType" in item:
            out.append(item)
        elif isinstance(item, dict) and "Providers" in item:
            raise ExportError(
                f"{name}: list-identity-providers names the IdPs without their details; run "
                "describe-identity-provider for each (README: Onboarding, Cognito)"
            )
        else:
            raise ExportError(f"{name}: not a Cognito describe-identity-provider response")
    return out


def _provider(p: JSONObject, r: Reading, metadata: MetadataSource) -> OrgDraft | None:
    pname, ptype = text(p.get("ProviderName")), text(p.get("ProviderType")) or "?"
    label = f'identity provider "{pname}" ({ptype})'
    if ptype not in ENTERPRISE or not pname:
        r.left_out.append(Left(label, "a social identity provider: not an org"))
        return None
    d = OrgDraft(label)
    d.name(pname)
    d.add("connections", pname)
    for ident in as_list(p.get("IdpIdentifiers")):
        if not isinstance(ident, str) or not ident.strip():
            continue
        low = ident.strip().lower()
        if is_domain(low):
            d.add("domains", low)
        else:
            d.add("connections", ident)
        d.name(ident)
    details = as_dict(p.get("ProviderDetails"))
    if ptype == "OIDC":
        d.add("oidc_issuers", text(details.get("oidc_issuer")))
        return d
    try:
        if text(details.get("MetadataFile")):
            d.add("idp_entity_ids", idp_entity_id(details["MetadataFile"]))
        elif text(details.get("MetadataURL")):
            d.add("idp_entity_ids", metadata.from_url(details["MetadataURL"].strip()))
        else:
            r.notes.append(f"{label}: no MetadataFile or MetadataURL; IdP entity id unknown")
    except NotFetched as e:
        r.notes.append(f"{label}: {e}")
    except MetadataError as e:
        r.notes.append(f"{label}: IdP metadata unreadable ({e}); entity id left out")
    return d
