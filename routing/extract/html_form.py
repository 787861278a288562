"""Auto-post HTML forms (SAML HTTP-POST binding, OIDC form_post) in provider responses."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
        elif tag == "input" and a.get("name") and a["name"] not in self.fields:
            self.fields[a["name"]] = a.get("value", "")


def read_form(html: bytes, *, max_size: int) -> tuple[str | None, dict[str, str]]:
    """``(action, {name: value})`` of the first form; empty when there is none or it is too big."""
    if len(html) > max_size or b"<form" not in html.lower():
        return None, {}
    r = _FormReader()
    try:
        r.feed(html.decode("utf-8", "replace"))
        r.close()
    except Exception:  # noqa: BLE001 — html.parser is lenient; anything odd means "no form"
        return None, {}
    return r.action, r.fields
