"""Evidence against the mapping → proposed additions. Pure.

An identifier is proposed for an org when every counted request that carried it was routed to
that org (by something else: the identifier is not in the mapping yet). One seen for two orgs,
or mapped to another org than the requests carrying it went to, is *disputed* — shown, never
proposed. ``as_plan`` turns the proposals into the same ``Plan`` ``import`` merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Mapping
from .evidence import Evidence, Tally
from .plan import Change, Plan, indexes


@dataclass(frozen=True)
class Proposal:
    org: str
    field: str
    value: str
    count: int
    first: float
    last: float


@dataclass(frozen=True)
class Disputed:
    field: str
    value: str
    orgs: tuple[tuple[str, Tally], ...]  # (org, tally), most requests first
    mapped_to: str | None  # the org the mapping gives it to, if any


@dataclass
class Learned:
    proposals: list[Proposal] = field(default_factory=list)
    disputed: list[Disputed] = field(default_factory=list)
    known: int = 0  # identifiers seen that the mapping already gives to the org they went to
    rare: int = 0  # proposals under --min-count
    gone: int = 0  # seen for orgs the mapping no longer has


def propose(ev: Evidence, m: Mapping, *, min_count: int = 1) -> Learned:
    out = Learned()
    idx = indexes(m)
    for (f, value), orgs in ev.seen.items():
        present = {o: t for o, t in orgs.items() if o in m.orgs}
        if not present:
            out.gone += 1
            continue
        mapped = idx[f](value)
        ranked = tuple(sorted(present.items(), key=lambda kv: (-kv[1].count, kv[0])))
        if len(present) == 1 and mapped == ranked[0][0]:
            out.known += 1
        elif len(present) > 1 or mapped is not None:
            out.disputed.append(Disputed(f, value, ranked, mapped))
        elif ranked[0][1].count < min_count:
            out.rare += 1
        else:
            org, t = ranked[0]
            out.proposals.append(Proposal(org, f, value, t.count, t.first, t.last))
    out.proposals.sort(key=lambda p: (p.org, p.field, -p.count, p.value))
    out.disputed.sort(key=lambda d: (d.field, d.value))
    return out


def as_plan(learned: Learned) -> Plan:
    plan = Plan()
    by_org: dict[str, Change] = {}
    for p in learned.proposals:
        ch = by_org.get(p.org)
        if ch is None:
            ch = by_org[p.org] = Change(p.org, False, {}, "seen in traffic")
            plan.changes.append(ch)
        ch.values.setdefault(p.field, []).append(p.value)  # type: ignore[arg-type]
    return plan
