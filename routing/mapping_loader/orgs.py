"""``[orgs.*]``: every org validated, built as a row and indexed in one pass (the hot loop of a
100,000-org mapping), by the rules of ``schema.ORG_LISTS``. The fast path does only what it must;
an org it refuses is handed to ``error``, which reads the same rules one by one to word why."""

from __future__ import annotations

from typing import Any

from ..errors import MappingError
from ..model import OrgRow
from .checks import Checker
from .schema import DOMAINS, INDEXES, ORG_KEYS, ORG_LISTS, SLOT

_EMPTY: list[tuple[str, ...]] = [() for _ in ORG_LISTS]
_FOLDED = frozenset(i for i, f in enumerate(ORG_LISTS) if f.fold)


class OrgIndex:
    def __init__(self, c: Checker) -> None:
        self.c = c
        self.rows: dict[str, OrgRow] = {}
        self.idx: dict[str, dict[str, str]] = {name: {} for name in INDEXES}
        self._index_of = tuple(self.idx[f.index] for f in ORG_LISTS)
        # per slot, what the hot loop needs: (fold, its index, pattern, stored lower-case)
        self._rules = tuple((f.fold, self.idx[f.index], f.pattern, f.stored_lower) for f in ORG_LISTS)
        self._domains = self.idx[ORG_LISTS[DOMAINS].index]

    def add(self, name: str, o: Any) -> None:
        if type(o) is not dict or not o.keys() <= ORG_KEYS:
            raise self.error(name, o)
        migrated = o.get("migrated", False)
        if migrated is not True and migrated is not False:
            raise self.error(name, o)
        rules = self._rules
        vals = _EMPTY.copy()  # in ORG_LISTS order
        present: list[int] = []
        for k, v in o.items():
            i = SLOT.get(k)
            if i is None:
                continue
            try:
                out = tuple([x.strip() for x in v]) if type(v) is list else None
            except AttributeError:  # an element that is not a string
                out = None
            if out is None or "" in out:
                raise self.error(name, o)
            pattern = rules[i][2]
            if pattern is not None:
                if not all(pattern.match(x) for x in out):
                    raise self.error(name, o)
                if rules[i][3]:
                    out = tuple(x.lower() for x in out)
            vals[i] = out
            present.append(i)
        paths: tuple[str, ...] = ()
        tp = o.get("target_paths")
        if tp is not None:
            if type(tp) is not dict or not all(
                type(d) is str and k.startswith("/") and d.startswith("/") for k, d in tp.items()
            ):
                raise self.error(name, o)
            paths = tuple(x for pair in tp.items() for x in pair)  # model.OrgRow says why flat
        self.rows[name] = (name, migrated, *vals, paths)  # an OrgRow (model.py says why not an Org)
        low = name.lower()  # the org key is a domain of its own
        if self._domains.setdefault(low, name) != name:
            raise self._conflict(DOMAINS, low, name)
        for i in present:
            index = rules[i][1]
            if i in _FOLDED:
                for v in vals[i]:
                    if index.setdefault(low := v.lower(), name) != name:
                        raise self._conflict(i, low, name)
            else:
                for v in vals[i]:
                    if index.setdefault(v, name) != name:
                        raise self._conflict(i, v, name)

    def _conflict(self, slot: int, value: str, org: str) -> MappingError:
        rule = ORG_LISTS[slot]
        return self.c.fail(
            f'orgs."{org}".{rule.key}', f"{value!r} is already claimed by org {self._index_of[slot][value]!r}"
        )

    def error(self, name: str, o: Any) -> MappingError:
        """The precise error for an org the fast path refused: the same rules, one by one."""
        c = self.c
        key = f'orgs."{name}"'
        if type(o) is not dict:
            return c.fail(key, "must be a table")
        c.unknown(o, ORG_KEYS, key)
        migrated = o.get("migrated", False)
        if type(migrated) is not bool:
            return c.fail(f"{key}.migrated", f"must be true or false, not {migrated!r}")
        for rule in ORG_LISTS:
            for i, v in enumerate(c.strs(o, rule.key, key)):
                if rule.pattern is not None and not rule.pattern.match(v):
                    return c.fail(f"{key}.{rule.key}[{i}]", rule.pattern_says)
        tp = c.table(o.get("target_paths", {}), f"{key}.target_paths")
        for src, dst in tp.items():
            if not src.startswith("/") or not isinstance(dst, str) or not dst.startswith("/"):
                return c.fail(f"{key}.target_paths.{src}", 'want "/legacy/path" = "/target/path"')
        return c.fail(key, "invalid")  # pragma: no cover — the fast path refused what this one allows
