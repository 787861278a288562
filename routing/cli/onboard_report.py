"""What ``import`` and ``learn`` print, and the merge both end with (not a command)."""

from __future__ import annotations

import time

from ..errors import MappingError
from ..onboard.drafts import ORG_FIELDS, OrgDraft, OrgField, Reading
from ..onboard.learn import Learned
from ..onboard.merge import merge_file
from ..onboard.plan import Plan
from .common import FINDING, OK, err


def values_text(values: dict[OrgField, list[str]]) -> str:
    return "; ".join(f"{f} {', '.join(values[f])}" for f in ORG_FIELDS if values.get(f)) or "nothing new"


def reading_line(r: Reading) -> str:
    return f"{r.provider}: read " + ", ".join(f"{n} {kind}" for kind, n in r.counts.items())


def import_lines(r: Reading, plan: Plan) -> list[str]:
    out = []
    for ch in plan.changes:
        if ch.new:
            out.append(f"new org {ch.org} (migrated = false) from {ch.source}: {values_text(ch.values)}")
        else:
            out.append(f"add to {ch.org} from {ch.source}: {values_text(ch.values)}")
    for d in plan.unkeyed:
        out.append(
            f"NOT WRITTEN, no email domain: {d.described}: {values_text(d.values)} — key it: "
            f"--key {_key_name(d)}=DOMAIN"
        )
    for left in r.left_out:
        out.append(f"left out: {left.what}: {left.why}")
    for note in r.notes:
        out.append(f"note: {note}")
    return out


def _key_name(d: OrgDraft) -> str:
    return d.names[0] if d.names else "NAME"


def learned_lines(learned: Learned) -> list[str]:
    out = []
    for p in learned.proposals:
        out.append(f"propose {p.org}: {p.field} {p.value} — seen {p.count}x, {stamp(p.first)} … {stamp(p.last)}")
    for d in learned.disputed:
        seen = ", ".join(f"{org} {t.count}x (last {stamp(t.last)})" for org, t in d.orgs)
        mapped = f"; the mapping gives it to {d.mapped_to}" if d.mapped_to else ""
        out.append(f"DISPUTED, not proposed: {d.field} {d.value}: routed to {seen}{mapped}")
    if learned.known:
        out.append(f"{learned.known} identifiers seen are already mapped to the org they went to")
    if learned.rare:
        out.append(f"{learned.rare} identifiers seen fewer times than --min-count: not proposed")
    if learned.gone:
        out.append(f"{learned.gone} identifiers were seen only for orgs the mapping no longer has")
    return out


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def finish(path: str, plan: Plan, origin: str, *, dry_run: bool, extra: list[str]) -> int:
    """Print ``extra``, the conflicts, merge (or with ``dry_run`` only diff); the exit code."""
    for line in extra:
        print(line)
    for c in plan.conflicts:
        print(f"CONFLICT, not written: {c.field} {c.value!r}: {c.why}")
    for name in plan.unused_keys:
        print(f"--key {name}: nothing in the input is named {name!r}")
    try:
        merged = merge_file(path, plan, origin, write=not dry_run)
    except MappingError as e:
        err(f"{path}: not changed, the result would be invalid: {e}")
        return FINDING
    except OSError as e:
        err(f"{path}: {e.strerror or e}")
        return FINDING
    new = sum(1 for c in plan.changes if c.new)
    added = sum(c.count() for c in plan.changes)
    summary = (
        f"{new} new orgs, {added} identifiers, {len(plan.unkeyed)} orgs waiting for --key, "
        f"{len(plan.conflicts)} conflicts"
    )
    if dry_run:
        if merged.changed:
            print(merged.diff(path), end="")
        print(f"{path}: {summary} (dry run: nothing written)")
    else:
        print(f"{path}: {summary}" + ("; written" if merged.changed else "; file not changed"))
    if plan.conflicts or plan.unused_keys:
        err(f"{len(plan.conflicts)} conflicts and {len(plan.unused_keys)} unused --key: see above")
        return FINDING
    return OK
