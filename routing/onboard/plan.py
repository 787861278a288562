"""Drafts against the current mapping → what to write, and what not to and why. Pure.

1. ``--key NAME=DOMAIN`` gives a draft its email domain (the only way a draft without one is
   written: a domain is never made up from a display name or an SSO URL's host).
2. Drafts sharing an email domain are one customer (two connections of one customer), unless two
   of the provider's own customer objects (organizations, tenants) claim it: then it is a conflict.
   Any other identifier the export gives to two orgs is a conflict too.
3. Each draft is matched to the org of the mapping that already holds one of its identifiers
   (hand-written orgs gain what the export adds); else it is a new org keyed by its first domain;
   else it is listed, unkeyed. An identifier another org of the mapping claims is a conflict.
   Nothing is ever removed, and ``migrated`` is not touched here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..model import Mapping
from .drafts import ORG_FIELDS, OrgDraft, OrgField


@dataclass(frozen=True)
class Conflict:
    field: OrgField
    value: str
    why: str


@dataclass
class Change:
    """Identifiers to add to one org: an existing one (``new`` False) or a new one keyed ``org``."""

    org: str
    new: bool
    values: dict[OrgField, list[str]]
    source: str

    def count(self) -> int:
        return sum(len(v) for v in self.values.values())


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unkeyed: list[OrgDraft] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unused_keys: list[str] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return any(c.new or c.count() for c in self.changes)


def indexes(m: Mapping) -> dict[OrgField, Callable[[str], str | None]]:
    return {
        "domains": lambda v: m.by_domain.get(v.lower()),
        "idp_entity_ids": m.by_entity_id.get,
        "oidc_issuers": m.by_issuer.get,
        "connections": m.by_connection.get,
        "org_ids": m.by_org_id.get,
        "directories": m.by_directory.get,
    }


def make_plan(m: Mapping, drafts: Iterable[OrgDraft], keys: dict[str, str] | None = None) -> Plan:
    plan = Plan()
    drafts = [d for d in drafts if not d.is_empty()]
    plan.unused_keys = apply_keys(drafts, keys or {})
    drafts = join_by_domain(drafts, plan.conflicts)
    drop_shared(drafts, plan.conflicts)
    idx = indexes(m)
    for d in drafts:
        target = _target(d, idx)
        if target is None and not d.values["domains"]:
            plan.unkeyed.append(d)
            continue
        values: dict[OrgField, list[str]] = {}
        for f in ORG_FIELDS:
            for v in d.values[f]:
                owner = idx[f](v)
                if owner is not None and owner != target:
                    plan.conflicts.append(
                        Conflict(f, v, f"org {owner!r} in the mapping claims it; the export gives it to {d.described}")
                    )
                elif owner is None:
                    values.setdefault(f, []).append(v)
        if target is None:  # a new org: every value is unclaimed, the first domain is its key
            key = values["domains"].pop(0)
            plan.changes.append(Change(key, True, {f: v for f, v in values.items() if v}, d.described))
        elif values:
            plan.changes.append(Change(target, False, values, d.described))
    return plan


def apply_keys(drafts: list[OrgDraft], keys: dict[str, str]) -> list[str]:
    """Put each ``--key`` domain first in the draft it names. Returns the names no draft has."""
    unused = []
    for name, domain in keys.items():
        hits = [d for d in drafts if name in d.names] or [
            d for d in drafts if name.lower() in (n.lower() for n in d.names)
        ]
        if not hits:
            unused.append(name)
        for d in hits:
            d.values["domains"] = [domain.lower()] + [x for x in d.values["domains"] if x != domain.lower()]
    return unused


def join_by_domain(drafts: list[OrgDraft], conflicts: list[Conflict]) -> list[OrgDraft]:
    """One draft per customer: drafts sharing an email domain are joined, unless two different
    owners (the provider's organizations / tenants) claim it."""
    root = list(range(len(drafts)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    owner = [d.owner for d in drafts]
    holders: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        for dom in d.values["domains"]:
            holders.setdefault(dom, []).append(i)
    for dom, held in holders.items():
        roots = sorted({find(i) for i in held})
        owners = {owner[r] for r in roots if owner[r] is not None}
        if len(owners) > 1:
            conflicts.append(
                Conflict(
                    "domains",
                    dom,
                    "the export gives it to "
                    + " and ".join(drafts[r].described for r in roots)
                    + "; written to neither",
                )
            )
            for i in held:
                drafts[i].values["domains"].remove(dom)
            continue
        for r in roots[1:]:
            root[r] = roots[0]
            owner[roots[0]] = owner[roots[0]] or owner[r]
    out: dict[int, OrgDraft] = {}
    for i, d in enumerate(drafts):
        r = find(i)
        if r not in out:
            out[r] = d if r == i else drafts[r]
        if r != i:
            out[r].absorb(d)
    return list(out.values())


def drop_shared(drafts: list[OrgDraft], conflicts: list[Conflict]) -> None:
    """An identifier (other than a domain, already handled) in two drafts goes to neither."""
    for f in ORG_FIELDS[1:]:
        holders: dict[str, list[OrgDraft]] = {}
        for d in drafts:
            for v in d.values[f]:
                holders.setdefault(v, []).append(d)
        for v, held in holders.items():
            if len(held) > 1:
                conflicts.append(
                    Conflict(
                        f,
                        v,
                        "the export gives it to " + " and ".join(d.described for d in held) + "; written to neither",
                    )
                )
                for d in held:
                    d.values[f].remove(v)


# the provider's own ids and the customer's domains say which org a draft is; an IdP entity id or
# issuer a person typed into another org is more likely a typo there (then: a conflict)
_TARGET_ORDER: tuple[OrgField, ...] = ("connections", "org_ids", "directories", "domains")


def _target(d: OrgDraft, idx: dict[OrgField, Callable[[str], str | None]]) -> str | None:
    """The mapping's org this draft is about: the one its key domain names, else the first org
    one of its connection / org / directory ids or other domains names."""
    if d.values["domains"] and (org := idx["domains"](d.values["domains"][0])) is not None:
        return org
    for f in _TARGET_ORDER:
        for v in d.values[f]:
            if (org := idx[f](v)) is not None:
                return org
    return None
