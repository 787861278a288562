"""Production in small: HAProxy (the shipped ``deploy/haproxy.cfg``) terminating TLS with the company's
certificate, in front of two ``mitmdump -s sso_router_addon.py`` routers that share one mapping file,
one secret and one real ``redis-server``; the suite's IdPs and providers behind them.

The public URL is HAProxy's TLS listener (``https://127.0.0.1:<port>``, a certificate for 127.0.0.1
from a CA made for the module), so the IdPs post back through HAProxy. Clients leave from addresses
of their own on 127/8 (``FromAddress``), and HAProxy puts that address in ``X-Forwarded-For``:
browsers and the app's backend come from ``INTERNET``, the scraper from ``PROMETHEUS``. The routers
trust ``X-Forwarded-For`` from HAProxy only (``[router.admin] trusted_proxies = ["127.0.0.1/32"]``) and
allow ``PROMETHEUS`` only; the test itself reads their admin endpoints with the admin token.

``Cluster.login(...)`` runs a whole login through HAProxy step by step (``LoginRun``), so a test can
stop between the IdP and the return (a router killed or drained meanwhile).
"""

from __future__ import annotations

import pathlib
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.stores.conftest import RedisServer

from .browser import Browser, Hop, query_of
from .certs import CertAuthority
from .haproxy import FromAddress, HAProxy, haproxy_bin, session_from
from .peers.provider import APP_CALLBACK
from .proxy import Mitmdump
from .steps import authorize_url, finish_at_proxy
from .world import APP_CLIENT, SK_APP_CALLBACK, PeerTls, World, free_port

TOKEN = "admin-token-for-the-cluster"
INTERNET = "127.0.0.3"  # browsers and the app's backend: not in [router.admin] allow
PROMETHEUS = "127.0.0.2"  # the scraper: in allow
HAPROXY_ADDRESS = "127.0.0.1/32"  # where HAProxy's connections to the routers come from
NAMES = ("router1", "router2")  # the shipped config's server names, in port order
UP_WITHIN = 15.0  # haproxy marks a ready router UP after rise 2 x inter 2s, plus a loaded box's slack
DOWN_WITHIN = 15.0  # and a dead or draining one DOWN after fall 2 x inter 2s
START_WITHIN = 30.0  # a mitmdump on a loaded 2-core box

# (login_hint, the provider that owns the login) — SAML (megasoft, newcompany) and OIDC (acme: code
# flow; globex: form_post), legacy and migrated
LOGINS = (
    ("alice@megasoft.com", "legacy"),
    ("bob@newcompany.com", "scalekit"),
    ("carol@acme.com", "legacy"),
    ("dan@globex.com", "scalekit"),
)


def cluster_mapping(world: World) -> dict:
    m = world.base_mapping()
    m["router"]["admin"] = {"allow": [f"{PROMETHEUS}/32"], "trusted_proxies": [HAPROXY_ADDRESS]}
    return m


@dataclass
class Cluster:
    world: World
    ca: CertAuthority
    redis: RedisServer
    workdir: pathlib.Path
    routers: list[Mitmdump] = field(default_factory=list)
    haproxy: HAProxy | None = None

    @property
    def public_url(self) -> str:
        return self.world.public_url

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Cluster:
        mapping = cluster_mapping(self.world)
        shared = self.workdir / "shared-mapping.toml"
        for name in NAMES:
            self.routers.append(
                Mitmdump(
                    self.workdir,
                    free_port(),
                    mapping,
                    name=name,
                    mapping_path=shared,
                    env={"SSO_ROUTER_ADMIN_TOKEN": TOKEN},
                    extra_args=["--set", f"sso_store={self.redis.url}"],
                )
            )
        for r in self.routers:
            r.start(timeout=START_WITHIN)
        leaf = self.ca.issue("127.0.0.1")
        self.haproxy = HAProxy(
            self.workdir,
            tls_port=self.world.proxy_port,
            http_port=free_port(),
            cert=leaf.pem_file,
            routers=tuple(r.port for r in self.routers),
        ).start()
        self.wait_all_up()
        return self

    def stop(self) -> None:
        if self.haproxy is not None:
            self.haproxy.stop()
        for r in self.routers:  # SIGTERM to all first: their drains overlap
            if r.proc is not None and r.proc.poll() is None:
                r.proc.terminate()
        for r in self.routers:
            r.stop()

    def router(self, name: str) -> Mitmdump:
        return self.routers[NAMES.index(name)]

    def wait_all_up(self) -> None:
        for name in NAMES:
            self.haproxy.wait_status(name, "UP", UP_WITHIN)

    def ensure_up(self) -> None:
        """Each test starts with both routers running and UP in HAProxy (an earlier test may have
        killed or drained one)."""
        for r in self.routers:
            if r.proc is None or r.proc.poll() is not None:
                r.stop()
                r.start(timeout=START_WITHIN)
        self.wait_all_up()
        self.world.clear()

    # -- clients -------------------------------------------------------------------------------
    def browser(self, address: str = INTERNET) -> Browser:
        b = Browser(timeout=20)
        adapter = FromAddress(address)
        b._session.mount("https://", adapter)
        b._session.mount("http://", adapter)
        b._session.verify = self.ca.ca_file
        return b

    def through(self, path: str, *, address: str = INTERNET, **headers: str) -> requests.Response:
        with session_from(address, self.ca.ca_file) as s:
            return s.get(self.public_url + path, headers=headers, timeout=10, allow_redirects=False)

    def exchange(self, code: str, provider: str) -> requests.Response:
        """The app's backend exchanges the code through the auth domain (HAProxy), as it would."""
        with session_from(INTERNET, self.ca.ca_file) as s:
            return s.post(
                f"{self.public_url}/oauth/token",
                auth=APP_CLIENT,
                timeout=20,
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK},
            )

    def admin(self, router: Mitmdump, path: str) -> requests.Response:
        """A router's own endpoint, asked directly with the admin token (the test is not in allow)."""
        return requests.get(
            f"{router.url}/.sso-router/{path}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
            proxies={"http": None},
        )

    def ready(self, router: Mitmdump) -> int | None:
        try:
            return requests.get(f"{router.url}/.sso-router/ready", timeout=2, proxies={"http": None}).status_code
        except requests.RequestException:
            return None

    def login(self, hint: str, provider: str) -> LoginRun:
        return LoginRun(self, hint, provider)


@dataclass
class LoginRun:
    """One browser's login through HAProxy, one step at a time; each step checks where it went."""

    cluster: Cluster
    hint: str
    provider: str
    idp: Hop | None = None
    finish: Hop | None = None
    token: requests.Response | None = None

    def __post_init__(self):
        self.browser = self.cluster.browser()

    def to_idp(self) -> LoginRun:
        start = self.browser.get(authorize_url(self.cluster.public_url, login_hint=self.hint))
        assert start.status == 302 and start.peer == self.provider, (self.hint, start, start.text[:300])
        self.idp = self.browser.get(start.location)
        assert self.idp.status in (200, 302), (self.hint, self.idp, self.idp.text[:300])
        return self

    def back(self) -> LoginRun:
        """The IdP's answer comes back through HAProxy (auto-post, cross-site: no cookies; or a redirect),
        then the app's backend exchanges the code through HAProxy too."""
        self.finish = finish_at_proxy(self.browser, self.idp, self.cluster.public_url)
        f = self.finish
        assert f.status == 302 and f.peer == self.provider, (self.hint, f, f.text[:300])
        app = SK_APP_CALLBACK if self.provider == "scalekit" else APP_CALLBACK
        assert (f.location or "").startswith(app + "?"), (self.hint, f.location)
        self.token = self.cluster.exchange(query_of(f.location)["code"], self.provider)
        t = self.token
        assert t.status_code == 200 and t.headers.get("X-Peer") == self.provider, (self.hint, t.status_code, t.text)
        return self

    def run(self) -> LoginRun:
        return self.to_idp().back()


def rejections(world: World) -> list:
    return [r for p in (world.legacy, world.scalekit) for r in p.server.records if r.outcome.startswith("rejected")]


def wait_until(what: str, check, within: float, every: float = 0.1):
    """Polls ``check()`` until it returns something true (returned); fails after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {within}s"
        time.sleep(every)


class Burst:
    """``threads`` browsers logging in through HAProxy over and over (cycling ``LOGINS``) until
    ``stop()``; every login and every failure is kept."""

    def __init__(self, cluster: Cluster, threads: int):
        self.cluster = cluster
        self.done: list[LoginRun] = []
        self.failed: list[tuple[str, BaseException]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True, name=f"burst-{i}") for i in range(threads)
        ]

    def _loop(self, i: int) -> None:
        n = i
        while not self._stop.is_set():
            hint, provider = LOGINS[n % len(LOGINS)]
            n += 1
            try:
                run = self.cluster.login(hint, provider).run()
            except BaseException as e:
                with self._lock:
                    self.failed.append((hint, e))
                continue
            with self._lock:
                self.done.append(run)

    def __enter__(self) -> Burst:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, within: float = 60.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(within)
        assert not any(t.is_alive() for t in self._threads), "a burst thread did not finish"


@pytest.fixture(scope="module")
def cluster(keys, redis_bin, tmp_path_factory):
    """The module's cluster; each test calls ``cluster.ensure_up()`` first."""
    if haproxy_bin() is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy; scripts/bootstrap --test does)")
    workdir = tmp_path_factory.mktemp("cluster")
    ca = CertAuthority(workdir / "company-ca")
    world = World(keys, tls=PeerTls(ca, "127.0.0.1", {})).start()
    redis = RedisServer(redis_bin, str(workdir)).start()
    c = Cluster(world, ca, redis, workdir)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        redis.stop()
        world.stop()
