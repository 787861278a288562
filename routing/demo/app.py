"""The SaaS app of the demo: an OAuth client of both providers, reached only through the router.

``/login`` sends the browser to the router's ``/authorize`` with a ``login_hint``; ``/callback``
exchanges the code and reads userinfo through the router (which routes both by what the provider
issued); ``/flip`` runs ``sso-router migrate``/``rollback`` on the demo mapping and waits until the
router has loaded it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MappingError
from ..mapping_loader import load_mapping_file
from . import pages, trail
from .orgs import DemoOrg
from .provider import Client
from .web import Request, Response, Server

HTTP_TIMEOUT = 10.0
FLIP_TIMEOUT = 30.0
RELOAD_WAIT = 5.0
MAX_KEPT = 50  # pending logins and results kept
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, whatever the env says


def sso_router_command() -> list[str]:
    """The ``sso-router`` console script beside this Python, else on PATH, else the module."""
    beside = Path(sys.executable).with_name("sso-router")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("sso-router")
    return [found] if found else [sys.executable, "-c", "import sys; from routing.cli import main; sys.exit(main())"]


@dataclass(frozen=True)
class _Pending:
    user: str
    started: float


class App:
    def __init__(
        self,
        orgs: tuple[DemoOrg, ...],
        labels: dict[str, str],
        mapping_path: str,
        decision_log: str,
        target: str = "scalekit",
    ) -> None:
        self.orgs = orgs
        self.labels = labels  # provider name -> what it stands in for
        self.mapping_path = mapping_path
        self.decision_log = decision_log
        self.target = target
        self.server = Server("app", self._handle)
        self.client = Client("demo-app", secrets.token_urlsafe(16), f"{self.server.url}/callback")
        self.router_url = ""  # set once the router listens
        self.services: list[tuple[str, str]] = []  # (name, where) for the home page
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._results: dict[str, pages.LoginResult] = {}
        self._last_flip: pages.FlipOutcome | None = None

    def _handle(self, req: Request) -> Response:
        if req.path == "/" and req.method == "GET":
            return Response.html(200, self._home())
        if req.path == "/login" and req.method == "GET":
            return self._login(req)
        if req.path == "/callback" and req.method == "GET":
            return self._callback(req)
        if req.path.startswith("/result/") and req.method == "GET":
            found = self._results.get(req.path[len("/result/") :])
            return (
                Response.html(200, pages.result(found, self.target))
                if found
                else Response.html(404, pages.failed("No such login", "It was never made here, or is too old."))
            )
        if req.path == "/flip" and req.method == "POST":
            return self._flip(req)
        return Response.html(404, pages.failed("Not found", req.path))

    # -- pages ------------------------------------------------------------------------------------
    def _org_rows(self) -> tuple[list[pages.OrgRow], str]:
        try:
            m = load_mapping_file(self.mapping_path)
        except MappingError as e:
            return [pages.OrgRow(o.domain, o.user, o.idp_product, "?", o.migrated) for o in self.orgs], str(e)
        rows = []
        for o in self.orgs:
            org = m.orgs.get(o.domain)
            migrated = bool(org and org.migrated)
            rows.append(
                pages.OrgRow(
                    o.domain,
                    o.user,
                    o.idp_product,
                    m.settings.migration_target if migrated else m.settings.default_provider,
                    migrated,
                )
            )
        return rows, ""

    def _home(self) -> str:
        rows, error = self._org_rows()
        with self._lock:
            results = list(self._results.values())
            flip = self._last_flip
        return pages.home(rows, self.services, flip, results, self.target, self.mapping_path, error)

    # -- the login --------------------------------------------------------------------------------
    def _login(self, req: Request) -> Response:
        user = req.query.get("user", "")
        if user not in {o.user for o in self.orgs}:
            return Response.html(400, pages.failed("Unknown user", user))
        state = secrets.token_urlsafe(16)
        with self._lock:
            self._pending[state] = _Pending(user, time.time())
            _trim(self._pending)
        query = {
            "client_id": self.client.id,
            "redirect_uri": self.client.redirect_uri,
            "response_type": "code",
            "scope": "openid email",
            "state": state,
            "login_hint": user,
        }
        return Response.redirect(f"{self.router_url}/authorize?{urllib.parse.urlencode(query)}")

    def _callback(self, req: Request) -> Response:
        q = req.query
        with self._lock:
            pending = self._pending.pop(q.get("state", ""), None)
        if pending is None:
            return Response.html(400, pages.failed("Unknown login", "This callback's state was not sent by this app."))
        if "code" not in q:
            return Response.html(400, pages.failed("The provider refused the login", q.get("error", "no code")))
        try:
            result = self._finish(pending, q["code"])
        except _CallFailed as e:
            return Response.html(502, pages.failed("Login failed after the callback", str(e)))
        with self._lock:
            self._results[result.id] = result
            _trim(self._results)
        return Response.redirect(f"/result/{result.id}", 303)

    def _finish(self, pending: _Pending, code: str) -> pages.LoginResult:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.client.redirect_uri,
            "client_id": self.client.id,
            "client_secret": self.client.secret,
        }
        tokens, token_route = self._call("POST", "/oauth/token", form=form)
        info, info_route = self._call("GET", "/userinfo", bearer=str(tokens.get("access_token", "")))
        provider = str(info.get("provider", "?"))
        org = pending.user.rpartition("@")[2]
        acs = ("/login/callback",)
        steps = trail.login_steps(trail.read_decisions(self.decision_log, pending.started), provider, acs)
        rows, _ = self._org_rows()
        now_at = next((r.provider for r in rows if r.domain == org), "?")
        return pages.LoginResult(
            secrets.token_urlsafe(8),
            str(info.get("email", pending.user)),
            org,
            provider,
            self.labels.get(provider, provider),
            str(info.get("connection", "?")),
            tuple(steps),
            (("POST /oauth/token", token_route), ("GET /userinfo", info_route)),
            now_at,
        )

    def _call(
        self, method: str, path: str, *, form: dict[str, str] | None = None, bearer: str = ""
    ) -> tuple[dict[str, Any], str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        r = urllib.request.Request(f"{self.router_url}{path}", data=data, method=method)
        if bearer:
            r.add_header("Authorization", f"Bearer {bearer}")
        try:
            with _NO_PROXY.open(r, timeout=HTTP_TIMEOUT) as resp:
                return json.loads(resp.read()), resp.headers.get("x-sso-route", "")
        except urllib.error.HTTPError as e:
            raise _CallFailed(f"{method} {path}: {e.code} {e.read()[:300].decode(errors='replace')}") from e
        except (OSError, ValueError) as e:
            raise _CallFailed(f"{method} {path}: {e}") from e

    # -- the flip ---------------------------------------------------------------------------------
    def _flip(self, req: Request) -> Response:
        org, action = req.form.get("org", ""), req.form.get("action", "")
        if org not in {o.domain for o in self.orgs} or action not in ("migrate", "rollback"):
            return Response.html(400, pages.failed("Not a flip", f"{action} {org}"))
        before = self._mapping_version()
        cmd = [*sso_router_command(), action, org, "--mapping", self.mapping_path]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=FLIP_TIMEOUT)
            outcome = (done.returncode, done.stdout + done.stderr)
        except (OSError, subprocess.TimeoutExpired) as e:
            outcome = (-1, f"{e}\n")
        reloaded = outcome[0] == 0 and self._wait_reload(before)
        shown = " ".join(["sso-router", action, org, "--mapping", self.mapping_path])
        with self._lock:
            self._last_flip = pages.FlipOutcome(shown, outcome[0], outcome[1], reloaded)
        return Response.redirect("/", 303)

    def _mapping_version(self) -> str | None:
        try:
            with _NO_PROXY.open(f"{self.router_url}/.sso-router/health", timeout=2) as resp:
                return json.loads(resp.read()).get("mapping", {}).get("version")
        except (OSError, ValueError, AttributeError):
            return None

    def _wait_reload(self, before: str | None) -> bool:
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            now = self._mapping_version()
            if now is not None and now != before:
                return True
            time.sleep(0.1)
        return False


class _CallFailed(Exception):
    pass


def _trim[K, V](table: dict[K, V]) -> None:
    while len(table) > MAX_KEPT:
        del table[next(iter(table))]
