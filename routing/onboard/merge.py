"""A ``Plan`` written into the mapping text: comments, order and hand-written entries kept
(tomlkit), values only ever added, new orgs ``migrated = false``; the result validated by the
loader before the atomic write ``migrate``/``rollback`` use."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..errors import MappingError
from ..mapping_edit import write_atomic
from ..mapping_loader import load_mapping
from .drafts import ORG_FIELDS
from .plan import Plan


@dataclass(frozen=True)
class Merged:
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.new != self.old

    def diff(self, path: str) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(True), self.new.splitlines(True), fromfile=path, tofile=f"{path} (merged)"
            )
        )


def merge_text(text: str, plan: Plan, origin: str) -> str:
    """``text`` with ``plan`` applied. ``origin`` says where new orgs came from in their comment
    (``imported from auth0``, ``learned from traffic``). Raises ``MappingError``."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as e:
        raise MappingError("", f"invalid TOML: {e}") from e
    if "orgs" not in doc:
        doc["orgs"] = tomlkit.table(is_super_table=True)
    orgs = doc["orgs"]
    for ch in plan.changes:
        if ch.new:
            t = tomlkit.table()
            t.add(tomlkit.comment(f"{origin}: {ch.source}"))
            t.add("migrated", False)
            for f in ORG_FIELDS:
                if ch.values.get(f):
                    t.add(f, _array(ch.values[f]))
            orgs[ch.org] = t
            continue
        t = orgs[ch.org]
        for f in ORG_FIELDS:
            vals = ch.values.get(f)
            if not vals:
                continue
            if f in t:
                have = t[f]
                for v in vals:
                    if v not in have:
                        have.append(v)
            else:
                t[f] = _array(vals)
    out = tomlkit.dumps(doc)
    load_mapping(out.encode("utf-8"))  # refuse a result the proxy would refuse
    return out


def merge_file(path: str, plan: Plan, origin: str, *, write: bool) -> Merged:
    """Merge ``plan`` into the mapping at ``path``; written (atomically) only when ``write`` and it
    changed. Raises ``MappingError``, ``OSError``."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MappingError("", "mapping is not UTF-8") from e
    merged = Merged(text, merge_text(text, plan, origin) if plan.writes else text)
    if write and merged.changed:
        write_atomic(path, merged.new.encode("utf-8"))
    return merged


def _array(values: list[str]) -> tomlkit.items.Array:
    a = tomlkit.array()
    a.extend(values)
    return a
