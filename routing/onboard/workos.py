"""WorkOS API list responses → drafts: ``GET /organizations``, ``GET /connections``,
``GET /directories`` (``{"object": "list", "data": [...], "list_metadata": {...}}``, or one
object), several pages in any order.

One organization is one org: its verified domains (the first is the key), its id in ``org_ids``,
every connection id and directory id that names it by ``organization_id``. What it does not say:
the ACS path WorkOS gives a SAML connection (``/sso/saml/acs/<…>``) and the IdP's entity id are
not in the API; ``sso-router learn`` finds both in traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .drafts import ExportError, JSONObject, Left, OrgDraft, Reading, as_dict, as_list, is_domain, text

VERIFIED = frozenset({"verified", "legacy_verified"})
KINDS = ("organization", "connection", "directory")


def read(docs: list[tuple[str, Any]]) -> Reading:
    r = Reading("workos")
    seen: dict[str, dict[str, JSONObject]] = {k: {} for k in KINDS}
    for name, doc in docs:
        for obj in _objects(name, doc):
            seen[obj["object"]].setdefault(text(obj.get("id")) or f"#{len(seen[obj['object']])}", obj)
    r.counts = {f"{k}s" if k != "directory" else "directories": len(v) for k, v in seen.items()}
    by_org: dict[str, OrgDraft] = {}

    def org_draft(oid: str, label: str) -> OrgDraft:
        d = by_org.get(oid)
        if d is None:
            d = by_org[oid] = OrgDraft(label, owner=oid)
            d.name(oid)
            d.add("org_ids", oid)
            r.drafts.append(d)
        return d

    for oid, o in seen["organization"].items():
        d = org_draft(oid, f'organization "{text(o.get("name")) or oid}"')
        for dom in as_list(o.get("domains")):
            domain, state = text(as_dict(dom).get("domain")), text(as_dict(dom).get("state"))
            if domain and (state in VERIFIED or state is None) and is_domain(domain.lower()):
                d.add("domains", domain)
            elif domain:
                r.notes.append(f"{d.source}: domain {domain!r} is {state or 'not verified'}; left out")
    for cid, c in seen["connection"].items():
        _connection(cid, c, r, org_draft)
    for did, dr in seen["directory"].items():
        owner = text(dr.get("organization_id"))
        label = f'directory "{text(dr.get("name")) or did}" ({text(dr.get("type")) or "?"})'
        d = org_draft(owner, f"organization {owner}") if owner else _standalone(r, label)
        d.add("directories", did)
        if label not in d.sources:
            d.sources.append(label)
    return r


def _connection(cid: str, c: JSONObject, r: Reading, org_draft: Callable[[str, str], OrgDraft]) -> None:
    ctype = text(c.get("connection_type")) or "?"
    label = f'connection "{text(c.get("name")) or cid}" ({ctype})'
    if ctype.endswith("OAuth") or ctype in ("MagicLink", "Passkey"):
        r.left_out.append(Left(label, "a social / passwordless connection: not an org"))
        return
    oid = text(c.get("organization_id"))
    d = org_draft(oid, f"organization {oid}") if oid else _standalone(r, label)
    d.add("connections", cid)
    d.name(cid)
    for dom in as_list(c.get("domains")):  # the older connection-level domains
        name = text(as_dict(dom).get("domain"))
        if name and is_domain(name.lower()):
            d.add("domains", name)
    if label not in d.sources:
        d.sources.append(label)


def _standalone(r: Reading, label: str) -> OrgDraft:
    d = OrgDraft(label)
    r.drafts.append(d)
    return d


def _objects(name: str, doc: Any) -> list[JSONObject]:
    if (isinstance(doc, dict) and doc.get("object") == "list") or (
        isinstance(doc, dict) and "data" in doc and "list_metadata" in doc
    ):
        items = as_list(doc.get("data"))
    elif isinstance(doc, dict) and doc.get("object") in KINDS:
        items = [doc]
    elif isinstance(doc, list):
        items = doc
    else:
        raise ExportError(f"{name}: not a WorkOS organizations, connections or directories list")
    out = [x for x in items if isinstance(x, dict) and x.get("object") in KINDS]
    if items and not out:
        raise ExportError(f"{name}: a list of neither WorkOS organizations, connections nor directories")
    return out
