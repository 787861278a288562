"""Where in the TOML text a dotted key is, for error messages (best effort)."""

from __future__ import annotations

from typing import Any

from .schema import ROUTER_TABLES


def table_of(key: str, doc: dict[str, Any]) -> tuple[str, str]:
    """``(header, field)``: the ``[table]`` header a dotted key lives under, and its first key there."""
    for section in ("orgs", "providers", "router"):
        names = [*ROUTER_TABLES, ""] if section == "router" else sorted(doc.get(section, {}), key=len, reverse=True)
        for name in names:
            forms = (
                ((f'{section}."{name}"', f'[{section}."{name}"]'), (f"{section}.{name}", f"[{section}.{name}]"))
                if name
                else ((section, f"[{section}]"),)
            )
            for prefix, header in forms:
                if key == prefix or key.startswith(prefix + "."):
                    return header, key[len(prefix) + 1 :].split(".")[0].split("[")[0]
    return "", key


def line_of(key: str, doc: dict[str, Any], text: str) -> int | None:
    """The line of ``key`` inside its table, else of the table's header; None when not found."""
    table, field = table_of(key, doc)
    lines = [ln.strip() for ln in text.splitlines()]
    want = table.replace(" ", "")
    start = next((i for i, ln in enumerate(lines) if ln.split("#", 1)[0].replace(" ", "") == want), None)
    if start is None:
        return None
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("["):
            break
        if field and lines[i].split("=")[0].strip().strip('"') == field:
            return i + 1
    return start + 1
