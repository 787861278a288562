"""Whole-login steps the e2e tests share: a browser drives the app's login through the proxy."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import requests

from .browser import Browser, Hop, query_of
from .peers.provider import APP_CALLBACK
from .world import APP_CLIENT

APP_HOSTS = ("https://app.test/",)


def authorize_url(base: str, path: str = "/authorize", **params: str) -> str:
    q = {
        "client_id": APP_CLIENT[0],
        "redirect_uri": APP_CALLBACK,
        "response_type": "code",
        "scope": "openid email",
        "state": "app-state-1",
    }
    q.update(params)
    return f"{base}{path}?{urllib.parse.urlencode(q)}"


@dataclass
class Login:
    start: Hop  # the login start through the proxy
    idp: Hop | None  # the IdP's answer (auto-post page or redirect)
    callback: Hop  # the provider callback/ACS through the proxy
    browser: Browser

    @property
    def code(self) -> str | None:
        loc = self.callback.location or ""
        return query_of(loc).get("code")

    @property
    def app_location(self) -> str:
        return self.callback.location or ""


def login(
    proxy_url: str,
    *,
    path: str = "/authorize",
    headers: dict | None = None,
    browser: Browser | None = None,
    acs_headers: dict | None = None,
    **params: str,
) -> Login:
    """Login start → IdP → back to the proxy (ACS POST without cookies, or OIDC callback)."""
    b = browser or Browser()
    start = b.get(authorize_url(proxy_url, path, **params), headers=headers)
    assert start.status == 302, f"login start refused: {start} {start.text[:300]}"
    idp = b.get(start.location)
    assert idp.status in (200, 302), f"IdP refused: {idp} {idp.text[:300]}"
    return Login(start, idp, finish_at_proxy(b, idp, proxy_url, headers=acs_headers), b)


def finish_at_proxy(b: Browser, idp: Hop, proxy_url: str, *, headers: dict | None = None) -> Hop:
    if idp.status == 200:  # auto-post form (SAML POST binding, OIDC form_post): cross-site, no cookies
        from .browser import parse_form

        _, action, fields = parse_form(idp.text)
        assert action.startswith(proxy_url), f"IdP posts to {action}, not via the proxy"
        return b.request("POST", action, data=fields, headers=headers, send_cookies=False)
    assert idp.location.startswith(proxy_url), f"IdP redirects to {idp.location}, not via the proxy"
    return b.get(idp.location, headers=headers)


def exchange_code(proxy_url: str, code: str, *, client=APP_CLIENT) -> requests.Response:
    return requests.post(
        f"{proxy_url}/oauth/token",
        auth=client,
        timeout=10,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK},
    )


def accepted(records, path_prefix: str = "") -> list:
    return [r for r in records if r.accepted and r.path.startswith(path_prefix)]


def flip(org: str, migrated: bool):
    """A mapping change for ``Mitmdump.update_mapping``: set the org's ``migrated``."""
    return lambda m: m["orgs"][org].update(migrated=migrated)


def start_saml_login(via, hint: str, provider: str) -> tuple[Browser, Hop]:
    """Login start through the proxy ``via`` up to the IdP's auto-post page (not yet posted)."""
    b = Browser()
    start = b.get(authorize_url(via.url, login_hint=hint))
    assert start.status == 302 and start.peer == provider, (start, start.text[:300])
    page = b.get(start.location)
    assert page.status == 200, (page, page.text[:300])
    return b, page
