"""A step-by-step browser: follows redirects one hop at a time, submits auto-post forms, and keeps
cookies per origin (host:port) by hand — Python's cookiejar refuses ``Domain=127.0.0.1``, and the
tests want to see every ``Set-Cookie`` as sent."""

from __future__ import annotations

import html.parser
import urllib.parse
from dataclasses import dataclass, field

import requests


@dataclass
class Hop:
    method: str
    url: str
    status: int
    headers: requests.structures.CaseInsensitiveDict
    set_cookies: list[str]
    text: str

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @property
    def route(self) -> str | None:
        return self.headers.get("x-sso-route")

    @property
    def peer(self) -> str | None:
        return self.headers.get("X-Peer")

    def __repr__(self) -> str:
        return f"<{self.method} {self.url} -> {self.status} peer={self.peer} route={self.route!r}>"


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action", "")
            self.method = (a.get("method") or "get").lower()
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def parse_form(text: str) -> tuple[str, str, dict[str, str]]:
    p = _FormParser()
    p.feed(text)
    if p.action is None:
        raise AssertionError(f"no form in page: {text[:300]!r}")
    return p.method, p.action, p.fields


@dataclass
class Browser:
    timeout: float = 10.0
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)  # origin -> name -> value
    history: list[Hop] = field(default_factory=list)

    def __post_init__(self):
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.cookies.set_policy(_BlockAll())

    @staticmethod
    def _origin(url: str) -> str:
        return urllib.parse.urlsplit(url).netloc.lower()

    def request(self, method: str, url: str, *, data=None, headers=None, send_cookies: bool = True) -> Hop:
        headers = dict(headers or {})
        jar = self.cookies.get(self._origin(url), {})
        if send_cookies and jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        r = self._session.request(method, url, data=data, headers=headers, allow_redirects=False, timeout=self.timeout)
        set_cookies = r.raw.headers.getlist("Set-Cookie") if r.raw is not None else []
        for sc in set_cookies:
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            self.cookies.setdefault(self._origin(url), {})[name.strip()] = value
        hop = Hop(method, url, r.status_code, r.headers, set_cookies, r.text)
        self.history.append(hop)
        return hop

    def get(self, url: str, **kw) -> Hop:
        return self.request("GET", url, **kw)

    def follow(self, hop: Hop, *, stop_at: str | None = None, max_hops: int = 10) -> Hop:
        """Follows Location headers from ``hop`` (GET), at most ``max_hops``; stops before a URL
        starting with ``stop_at`` (e.g. the app's callback, which does not exist)."""
        for _ in range(max_hops):
            loc = hop.location
            if hop.status not in (301, 302, 303, 307) or not loc:
                return hop
            url = urllib.parse.urljoin(hop.url, loc)
            if stop_at and url.startswith(stop_at):
                return hop
            hop = self.get(url)
        raise AssertionError(f"more than {max_hops} redirects: {self.history[-max_hops:]}")

    def submit_form(
        self, hop: Hop, *, cross_site: bool = True, extra: dict | None = None, action: str | None = None
    ) -> Hop:
        """Submits the (auto-post) form in ``hop``'s page. A cross-site POST (an IdP's page posting to
        the ACS) carries no cookies, as a browser with SameSite defaults would send."""
        method, form_action, fields = parse_form(hop.text)
        url = action or urllib.parse.urljoin(hop.url, form_action)
        fields.update(extra or {})
        if method == "post":
            return self.request("POST", url, data=fields, send_cookies=not cross_site)
        return self.request("GET", url + "?" + urllib.parse.urlencode(fields), send_cookies=not cross_site)


class _BlockAll(requests.cookies.cookielib.DefaultCookiePolicy):
    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
