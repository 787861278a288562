"""The demo app's HTML. Every value shown is escaped; nothing here reads state of its own."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .trail import Step

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:56em;margin:2em auto;padding:0 1em;line-height:1.45}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.45em;text-align:left;"
    "vertical-align:top}code,pre{background:#f4f4f4;border-radius:4px;padding:.1em .3em}pre{padding:.7em;"
    "white-space:pre-wrap}button{font-size:1em;padding:.35em .9em;cursor:pointer}.legacy{color:#8a4b00}"
    ".scalekit{color:#0a58ca}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}"
    ".err{color:#b00}form{display:inline}.small{color:#555;font-size:.9em}"
)


@dataclass(frozen=True)
class OrgRow:
    domain: str
    user: str
    idp: str  # e.g. "Okta"
    provider: str  # where the mapping sends it now ("?" when the mapping cannot be read)
    migrated: bool


@dataclass(frozen=True)
class FlipOutcome:
    command: str
    exit_code: int
    output: str
    reloaded: bool  # the router reported a new mapping version afterwards


@dataclass(frozen=True)
class LoginResult:
    id: str
    user: str
    org: str
    provider: str  # who logged the user in, as the provider itself says (userinfo)
    provider_label: str
    connection: str
    steps: tuple[Step, ...]  # the router's decisions for the browser's hops
    app_calls: tuple[tuple[str, str], ...]  # (the app's own request, the x-sso-route it got back)
    org_now_at: str  # where the mapping sends the org at the time the login finished


def _e(s: object) -> str:
    return html.escape(str(s))


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{_e(title)}</title><style>{_STYLE}</style>"
        f"</head><body>{body}</body></html>"
    )


def _provider(name: str) -> str:
    return f'<b class="{_e(name)}">{_e(name)}</b>'


def home(
    rows: list[OrgRow],
    services: list[tuple[str, str]],
    flip: FlipOutcome | None,
    results: list[LoginResult],
    target: str,
    mapping_path: str,
    mapping_error: str = "",
) -> str:
    trs = "".join(
        f"<tr><td><b>{_e(r.domain)}</b><br><span class=small>IdP: {_e(r.idp)}</span></td>"
        f"<td>{_provider(r.provider)}{' (migrated)' if r.migrated else ''}</td>"
        f'<td><form method=get action="/login"><input type=hidden name=user value="{_e(r.user)}">'
        f'<button type=submit id="login-{_e(r.domain)}">log in as {_e(r.user)}</button></form></td>'
        f'<td><form method=post action="/flip"><input type=hidden name=org value="{_e(r.domain)}">'
        f'<input type=hidden name=action value="{"rollback" if r.migrated else "migrate"}">'
        f'<button type=submit id="flip-{_e(r.domain)}">'
        f"{'roll back' if r.migrated else 'flip'} {_e(r.domain)}</button></form></td></tr>"
        for r in rows
    )
    body = (
        f"<h1>sso-router demo</h1><p>A SaaS app whose enterprise logins go through sso-router, the real "
        f"<code>mitmdump -s sso_router_addon.py</code>, to the legacy provider or to {_e(target)}, one "
        f"customer org at a time. Each login below is a real SP-initiated SAML login: app → router → "
        f"provider → the org's IdP (signs) → router → provider → back here.</p>"
        f"<table><tr><th>org</th><th>the mapping sends it to</th><th></th><th></th></tr>{trs}</table>"
    )
    if mapping_error:
        body += f"<p class=err>The mapping cannot be read: {_e(mapping_error)}</p>"
    body += (
        f"<p class=note>To see a flip while a login is in flight: log in as a megasoft.com user and stay on "
        f"the IdP's sign-in page; in a second tab, press <i>flip megasoft.com</i>; back in the first tab, "
        f"sign in. That login still finishes at the provider that started it (correlation); the next one "
        f"goes to {_e(target)}.</p>"
    )
    if flip is not None:
        status = (
            "the router has loaded the new mapping"
            if flip.reloaded
            else "the router did not report a new mapping version within 5 s"
        )
        body += (
            f"<h3>Last flip</h3><pre id=flip-output>$ {_e(flip.command)}\n{_e(flip.output)}"
            f"(exit {flip.exit_code}; {status})</pre>"
        )
    if results:
        items = "".join(
            f'<li><a href="/result/{_e(r.id)}">{_e(r.user)}</a> — logged in by {_provider(r.provider)}</li>'
            for r in reversed(results)
        )
        body += f"<h3>Logins so far</h3><ul>{items}</ul>"
    svc = "".join(f"<li>{_e(name)}: <code>{_e(where)}</code></li>" for name, where in services)
    body += f"<h3>What is running</h3><ul class=small>{svc}<li>mapping: <code>{_e(mapping_path)}</code></li></ul>"
    return _page("sso-router demo", body)


def result(r: LoginResult, target: str) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.what)}<br><code>{_e(s.method)} {_e(s.path)}</code></td>"
        f"<td>{_provider(s.provider)} · <code>{_e(s.reason)}</code>{' · ' + _e(s.org) if s.org else ''}"
        f"{' · ' + _e(s.identifier) if s.identifier else ''}</td><td>{_e(s.words(target))}</td></tr>"
        for s in r.steps
    )
    calls = "".join(
        f"<li><code>{_e(req)}</code> → <code>x-sso-route: {_e(route)}</code></li>" for req, route in r.app_calls
    )
    body = (
        f'<p><a href="/">← back to the demo</a></p>'
        f'<h1 id=provider data-provider="{_e(r.provider)}">{_e(r.user)} is logged in by {_provider(r.provider)}'
        f"</h1><p>{_e(r.provider_label)} says so itself (its userinfo, through the router): connection "
        f"<code>{_e(r.connection)}</code>.</p>"
    )
    acs = next((s for s in r.steps if s.what == "the IdP's SAML post"), None)
    if acs is not None and acs.reason == "correlation" and r.org_now_at != r.provider:
        body += (
            f"<p class=note id=in-flight>{_e(r.org)} was flipped to {_e(r.org_now_at)} while this login was at "
            f"the IdP. The login still finished at {_e(r.provider)}, which started it: the IdP's post "
            f"carried the InResponseTo of {_e(r.provider)}'s AuthnRequest.</p>"
        )
    body += (
        f"<h3>Why the router sent this login there</h3><table><tr><th>hop</th><th>decision</th>"
        f"<th>in words</th></tr>{rows}</table>"
        f"<h3>This app's own calls (server-side, through the router)</h3><ul>{calls}</ul>"
        f"<p class=small>From the router's decision log and its <code>x-sso-route</code> header "
        f"(<code>debug_headers = true</code> in the demo mapping).</p>"
    )
    return _page(f"{r.user} — logged in by {r.provider}", body)


def failed(title: str, detail: str) -> str:
    return _page(
        title, f'<p><a href="/">← back to the demo</a></p><h1 class=err>{_e(title)}</h1><pre>{_e(detail)}</pre>'
    )
