"""Auth0 Management API responses → drafts.

Reads ``GET /api/v2/connections`` (a bare array, the offset page ``{connections, start, limit,
total}`` or the checkpoint page ``{connections, next}``), one ``GET /api/v2/connections/{id}``,
and ``GET /api/v2/organizations`` (array or page) whose organizations may carry their
``enabled_connections`` (``GET /api/v2/organizations/{id}/enabled_connections``) and
``discovery_domains`` (``…/discovery-domains``) — the API answers those per organization, without
naming it, so they are put into the organization object (``--from-api`` does; README shows jq).

What it does not say: Auth0 keeps **no IdP entity id** (a samlp ``options.entityId`` is Auth0's
*own* SP entity id for the connection — the Audience the customer's IdP sends — so it goes to
``connections``); an ``options.metadataXml`` is the IdP's metadata and does name it.
"""

from __future__ import annotations

from typing import Any

from .drafts import ExportError, JSONObject, Left, OrgDraft, Reading, as_dict, as_list, is_domain, text
from .metadata import MetadataError, MetadataSource, NotFetched, idp_entity_id

ENTERPRISE = frozenset(
    {"samlp", "waad", "adfs", "okta", "oidc", "google-apps", "pingfederate", "ad", "auth0-adldap", "office365"}
)
SAML_STRATEGIES = frozenset({"samlp", "pingfederate"})
PASSWORDLESS = frozenset({"email", "sms"})


def read(docs: list[tuple[str, Any]], metadata: MetadataSource) -> Reading:
    """``docs``: (file name, parsed JSON) per response."""
    r = Reading("auth0")
    connections: dict[str, JSONObject] = {}  # by id (else name): a page read twice counts once
    orgs: dict[str, JSONObject] = {}
    for name, doc in docs:
        for kind, obj in _objects(name, doc):
            bucket = connections if kind == "connection" else orgs
            bucket.setdefault(text(obj.get("id")) or text(obj.get("name")) or f"#{len(bucket)}", obj)
    r.counts = {"connections": len(connections), "organizations": len(orgs)}
    by_ref: dict[str, OrgDraft] = {}
    for obj in connections.values():
        d = _connection(obj, r, metadata)
        if d is not None:
            r.drafts.append(d)
            for ref in (text(obj.get("id")), text(obj.get("name"))):
                if ref:
                    by_ref[ref] = d
    _organizations(list(orgs.values()), by_ref, r)
    return r


def _objects(name: str, doc: Any) -> list[tuple[str, JSONObject]]:
    if isinstance(doc, dict) and isinstance(doc.get("connections"), list):
        items, kind = doc["connections"], "connection"
    elif isinstance(doc, dict) and isinstance(doc.get("organizations"), list):
        items, kind = doc["organizations"], "organization"
    elif isinstance(doc, dict) and "strategy" in doc:
        items, kind = [doc], "connection"
    elif isinstance(doc, dict) and isinstance(doc.get("enabled_connections"), list):
        raise ExportError(
            f"{name}: an enabled_connections page does not say whose it is; put it in its "
            'organization as "enabled_connections" (README: Onboarding, Auth0)'
        )
    elif isinstance(doc, list) and all(isinstance(x, dict) for x in doc):
        if all("strategy" in x for x in doc):
            items, kind = doc, "connection"
        elif all("id" in x and "strategy" not in x for x in doc):
            items, kind = doc, "organization"
        else:
            raise ExportError(f"{name}: a list of neither Auth0 connections nor organizations")
    else:
        raise ExportError(f"{name}: not an Auth0 Management API connections or organizations response")
    return [(kind, x) for x in items if isinstance(x, dict)]


def _connection(c: JSONObject, r: Reading, metadata: MetadataSource) -> OrgDraft | None:
    name, cid, strategy = text(c.get("name")), text(c.get("id")), text(c.get("strategy")) or "?"
    label = f'connection "{name or cid}" ({strategy})'
    if strategy not in ENTERPRISE:
        why = (
            "a database connection"
            if strategy == "auth0"
            else "a passwordless connection"
            if strategy in PASSWORDLESS
            else "a social connection"
        )
        r.left_out.append(Left(label, f"{why}: not an org"))
        return None
    o = as_dict(c.get("options"))
    d = OrgDraft(label)
    d.name(name, cid)
    d.add("connections", name, cid)
    aliases = [a for a in as_list(o.get("domain_aliases")) if isinstance(a, str)]
    domains = aliases or ([o["tenant_domain"]] if isinstance(o.get("tenant_domain"), str) else [])
    for dom in domains:
        dom = dom.strip().lower().lstrip("@")
        if is_domain(dom):
            d.add("domains", dom)
        elif dom:
            r.notes.append(f"{label}: {dom!r} is not an email domain; left out")
    if strategy in ("oidc", "okta"):
        d.add("oidc_issuers", text(o.get("issuer")) or text(as_dict(o.get("oidc_metadata")).get("issuer")))
    if strategy in SAML_STRATEGIES and text(o.get("entityId")):
        d.add("connections", text(o.get("entityId")))  # Auth0's own SP entity id: an Audience, not the IdP's
    _idp_entity(d, label, o, strategy, r, metadata)
    return d


def _idp_entity(d: OrgDraft, label: str, o: JSONObject, strategy: str, r: Reading, metadata: MetadataSource) -> None:
    xml, url = (
        text(o.get("metadataXml")),
        text(o.get("metadataUrl")) or (text(o.get("adfs_server")) if strategy == "adfs" else None),
    )
    try:
        if xml:
            d.add("idp_entity_ids", idp_entity_id(xml))
        elif url:
            d.add("idp_entity_ids", metadata.from_url(url))
        elif strategy in SAML_STRATEGIES or strategy == "adfs":
            r.notes.append(f"{label}: Auth0 keeps no IdP entity id; `sso-router learn` finds it in traffic")
    except NotFetched as e:
        r.notes.append(f"{label}: {e}")
    except MetadataError as e:
        r.notes.append(f"{label}: IdP metadata unreadable ({e}); entity id left out")


def _organizations(orgs: list[JSONObject], by_ref: dict[str, OrgDraft], r: Reading) -> None:
    owners: dict[int, list[str]] = {}  # id(connection draft) -> organizations enabling it
    drafts: list[tuple[JSONObject, OrgDraft, list[OrgDraft]]] = []
    for o in orgs:
        oid, oname = text(o.get("id")), text(o.get("name"))
        d = OrgDraft(f'organization "{oname or oid}"', owner=oid or oname)
        d.name(oid, oname)
        d.add("org_ids", oid, oname)
        for dd in as_list(as_dict(o.get("discovery_domains")).get("domains") or o.get("discovery_domains")):
            dom = text(as_dict(dd).get("domain"))
            if dom and as_dict(dd).get("status") == "verified" and is_domain(dom.lower()):
                d.add("domains", dom)
            elif dom:
                r.notes.append(f"{d.source}: discovery domain {dom!r} is not verified; left out")
        joined, enterprise, unknown = [], 0, []
        for ec in _enabled(o):
            conn = as_dict(ec.get("connection"))
            ref = text(ec.get("connection_id")) or text(conn.get("name"))
            strategy = text(conn.get("strategy"))
            part = by_ref.get(ref or "") or by_ref.get(text(conn.get("name")) or "")
            if part is not None:
                joined.append(part)
                owners.setdefault(id(part), []).append(d.source)
                enterprise += 1
            elif strategy in ENTERPRISE:  # not in the connections export: what the organization says of it
                d.add("connections", text(conn.get("name")), text(ec.get("connection_id")))
                enterprise += 1
            elif strategy is None and ref:
                unknown.append(ref)
        if unknown:
            r.notes.append(
                f"{d.source} enables {', '.join(unknown)}, not in the connections read: "
                "give GET /api/v2/connections too"
            )
        if enterprise == 0:
            r.left_out.append(
                Left(
                    d.source,
                    "enables no enterprise connection (database/social only): not an org"
                    if not unknown
                    else "none of its connections is known: not an org",
                )
            )
            continue
        drafts.append((o, d, joined))
    for _, d, joined in drafts:
        for part in joined:
            if len(owners[id(part)]) > 1:
                r.notes.append(
                    f"{part.source} is enabled in {len(owners[id(part)])} organizations "
                    f"({', '.join(owners[id(part)])}): imported on its own"
                )
                continue
            d.absorb(part)
            if part in r.drafts:
                r.drafts.remove(part)
        r.drafts.append(d)


def _enabled(o: JSONObject) -> list[JSONObject]:
    ec = o.get("enabled_connections")
    items = ec.get("enabled_connections") if isinstance(ec, dict) else ec
    return [x for x in as_list(items) if isinstance(x, dict)]
