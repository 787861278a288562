"""``sso-router demo``: starts the peers and the router, prints the one URL to open, and on Ctrl-C
(SIGINT, SIGTERM or SIGHUP) stops all it started: mitmdump by its PID, the peers' servers, the
temporary directory."""

from __future__ import annotations

import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from .app import App
from .idp import IdP, Tenant
from .mapping import demo_mapping
from .orgs import ORGS, DemoOrg
from .provider import AUTH0, SCALEKIT, Connection, Layout, Provider
from .router import PortInUse, Router, RouterFailed, free_port
from .web import Server

PORT_TRIES = 5
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Demo:
    idp: IdP
    legacy: Provider
    scalekit: Provider
    app: App
    mapping: Path
    decision_log: Path

    @property
    def servers(self) -> tuple[Server, ...]:
        return (self.idp.server, self.legacy.server, self.scalekit.server, self.app.server)

    def serve_at(self, public_url: str) -> None:
        """Points everyone at the router's address and writes the mapping for it."""
        self.legacy.public_url = self.scalekit.public_url = self.app.router_url = public_url
        self.idp.acs_url = f"{public_url}/login/callback"
        self.mapping.write_text(demo_mapping(public_url, self.legacy.server.url, self.scalekit.server.url, ORGS))


def build(workdir: Path) -> Demo:
    idp = IdP([Tenant(o.idp_slug, o.domain, o.idp_entity_id, o.idp_product, o.sp_entity_id) for o in ORGS])
    labels = {"legacy": AUTH0.label, "scalekit": SCALEKIT.label}
    mapping, decision_log = workdir / "mapping.toml", workdir / "decisions.jsonl"
    app = App(ORGS, labels, str(mapping), str(decision_log))

    def provider(name: str, layout: Layout, conn_id: Callable[[DemoOrg], str]) -> Provider:
        conns = [
            Connection(
                conn_id(o), o.domain, o.sp_entity_id, o.idp_entity_id, idp.sso_url(o.idp_slug), idp.cert_pem(o.idp_slug)
            )
            for o in ORGS
        ]
        return Provider(name, layout, app.client, conns)

    legacy = provider("legacy", AUTH0, lambda o: o.legacy_connection)
    scalekit = provider("scalekit", SCALEKIT, lambda o: o.scalekit_connection)
    return Demo(idp, legacy, scalekit, app, mapping, decision_log)


def start_router(router: Router, demo: Demo, stop: threading.Event) -> None:
    """Binds the router to a free port, another one if that is taken by the time mitmdump binds it."""
    for attempt in range(PORT_TRIES):
        port = free_port()
        demo.serve_at(f"http://127.0.0.1:{port}")
        try:
            router.start(port, stop)
            return
        except PortInUse:
            if attempt == PORT_TRIES - 1:
                raise


def _describe(demo: Demo, router: Router, workdir: Path) -> list[tuple[str, str]]:
    idps = ", ".join(f"{o.idp_product} for {o.domain}" for o in ORGS)
    pid = router.proc.pid if router.proc else "?"
    return [
        ("router", f"mitmdump (pid {pid}) on 127.0.0.1:{router.port}, log {router.log_path}"),
        ("legacy", f"{AUTH0.label} on 127.0.0.1:{demo.legacy.server.port}"),
        ("scalekit", f"{SCALEKIT.label} on 127.0.0.1:{demo.scalekit.server.port}"),
        ("IdPs", f"{idps}, on 127.0.0.1:{demo.idp.server.port}"),
        ("app", f"the SaaS app on 127.0.0.1:{demo.app.server.port}"),
        ("files", f"{workdir} (mapping.toml, decisions.jsonl)"),
    ]


def run(*, echo_router: bool = True, keep: bool = False, say: Callable[[str], None] = print) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in SIGNALS}
    workdir = Path(tempfile.mkdtemp(prefix="sso-router-demo-"))
    started: list[Server] = []
    router = Router(
        workdir,
        workdir / "mapping.toml",
        workdir / "decisions.jsonl",
        secrets.token_urlsafe(32),
        (lambda line: say(f"router | {line}")) if echo_router else None,
    )
    try:
        demo = build(workdir)
        for server in demo.servers:
            started.append(server.start())
        start_router(router, demo, stop)
        demo.app.services = _describe(demo, router, workdir)
        say("sso-router demo — everything on 127.0.0.1 only:")
        for name, where in demo.app.services:
            say(f"  {name:<9} {where}")
        say(f"\n  Open {demo.app.server.url}/ in a browser.  Ctrl-C stops everything.\n")
        while not stop.wait(0.5):
            if not router.alive:
                say("sso-router demo: the router (mitmdump) exited; stopping")
                return 1
        return 0
    except RouterFailed as e:
        if stop.is_set():
            return 0
        say(f"sso-router demo: the router did not start: {e}")
        return 1
    finally:
        router.stop()
        for server in started:
            server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if keep:
            say(f"sso-router demo: stopped; files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            say("sso-router demo: stopped")
