"""Debian's ``haproxy`` running the shipped ``deploy/haproxy.cfg`` in front of routers, for one test.

The shipped file is the one tested: ``render`` only substitutes what names this machine — the TLS
and plain listeners (``:443``/``:80`` → ``127.0.0.1:<port>``), the certificate's path, the routers'
ports (8081, 8082), the runtime-API socket and the log target (``/dev/log`` → stdout, read into a
file). Each substitution must match exactly once, so a shipped file that drifts fails here loudly
rather than being tested half-rendered.

``HAProxy.servers()`` reads ``show stat`` from the runtime-API socket (status, check state, retries,
redispatches, responses per server); ``wait_status`` polls it with a bound. Stopped by PID.
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

REPO = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "haproxy.cfg"
CERT = "/etc/haproxy/certs/auth.yourapp.com.pem"
SOCKET = "/run/haproxy/admin.sock"
SERVER_PORTS = (8081, 8082)  # the shipped server lines, in order
BACKENDS = ("routers", "routers-any")  # ready routers; any running router while none is ready
START_WITHIN = 10.0  # seconds for haproxy to listen and answer on its socket


def haproxy_bin() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if pathlib.Path(p).exists()), None)


def render(text: str, *, tls_port: int, http_port: int, cert: str, routers: tuple[int, ...], sock: str) -> str:
    subs = [
        ("bind :443 ", f"bind 127.0.0.1:{tls_port} "),
        ("bind :80\n", f"bind 127.0.0.1:{http_port}\n"),
        (CERT, cert),
        (f"stats socket {SOCKET} ", f"stats socket {sock} "),
        ("log /dev/log local0", "log stdout format raw local0"),
    ]
    for old, new in subs:
        assert text.count(old) == 1, f"deploy/haproxy.cfg: expected {old!r} exactly once"
        text = text.replace(old, new)
    assert len(routers) == len(SERVER_PORTS), routers
    for shipped, port in zip(SERVER_PORTS, routers, strict=False):  # once in each backend
        old = f"127.0.0.1:{shipped}\n"
        assert text.count(old) == len(BACKENDS), f"deploy/haproxy.cfg: expected {old!r} in each of {BACKENDS}"
        text = text.replace(old, f"127.0.0.1:{port}\n")
    return text


def fd_limited() -> list[str]:
    """``-n N`` (HAProxy's command-line maxconn, meant for this) where this machine's hard nofile limit
    is below what the shipped ``maxconn`` needs (about two descriptors a connection): a container
    may cap it at 20,000, which a root process cannot raise; systemd's default (512K) needs nothing."""
    maxconn = int(re.search(r"^\s*maxconn (\d+)", SHIPPED.read_text(), re.M).group(1))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard > 2 * maxconn + 1000:
        return []
    return ["-n", str((hard - 1000) // 2)]


def unprivileged(text: str) -> str:
    """For a suite run as an ordinary user: no chroot and no user switch (which need root)."""
    if os.geteuid() == 0:
        return text
    return re.sub(r"^(\s*)(chroot|user|group) ", r"\1# (not root) \2 ", text, flags=re.M)


@dataclass
class Server:
    """One row of ``show stat`` for a backend server."""

    name: str
    status: str  # "UP", "DOWN", "UP 1/2" (going down), "DOWN 1/2" (coming up), "MAINT", "NOLB"
    check: str  # last check's status, e.g. "L7OK", "L7STS" (a 503), "L4CON" (refused)
    retries: int  # wretr: requests retried (connection failure, empty response)
    redispatches: int  # wredis: retried on another server
    responses: int  # hrsp_1xx..hrsp_other: answers this server gave
    sessions: int  # stot


class HAProxy:
    def __init__(self, workdir: pathlib.Path, *, tls_port: int, http_port: int, cert: str, routers: tuple[int, ...]):
        self.workdir = workdir
        self.tls_port = tls_port
        self.http_port = http_port
        self.sock = str(workdir / "haproxy-admin.sock")
        self.cfg = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        self.cfg.write_text(
            unprivileged(
                render(
                    SHIPPED.read_text(),
                    tls_port=tls_port,
                    http_port=http_port,
                    cert=cert,
                    routers=routers,
                    sock=self.sock,
                )
            )
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> HAProxy:
        binary = haproxy_bin()
        assert binary, "haproxy is not installed"
        self._log = open(self.log_path, "ab")
        # -db: foreground, no daemon (one process, stopped by its PID)
        self.proc = subprocess.Popen(
            [binary, "-db", *fd_limited(), "-f", str(self.cfg)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_WITHIN
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.proc.returncode}:\n{self.output()}")
            try:
                self.servers()
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"haproxy not up within {START_WITHIN}s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)  # hard stop: connections closed now
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    # -- the runtime API -------------------------------------------------------------------------
    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self, backend: str = "routers") -> dict[str, Server]:
        text = self.command("show stat").lstrip("# ")
        out = {}
        for row in csv.DictReader(io.StringIO(text)):
            if row["pxname"] != backend or row["svname"] in ("FRONTEND", "BACKEND"):
                continue
            responses = sum(
                int(row[k] or 0) for k in ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
            )
            out[row["svname"]] = Server(
                row["svname"],
                row["status"],
                row["check_status"],
                int(row["wretr"] or 0),
                int(row["wredis"] or 0),
                responses,
                int(row["stot"] or 0),
            )
        return out

    def wait_status(self, name: str, want: str, within: float) -> float:
        """Polls until server ``name``'s status is exactly ``want``; returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            got = self.servers()[name]
            if got.status == want:
                return time.monotonic() - t0
            assert time.monotonic() - t0 < within, f"haproxy: {name} not {want} within {within}s: {got}"
            time.sleep(0.1)


class FromAddress(HTTPAdapter):
    """A requests adapter whose connections leave from ``address`` (127.0.0.2, 127.0.0.3, …: all of
    127/8 is loopback on Linux), so HAProxy sees each test client at an address of its own."""

    def __init__(self, address: str, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kw)


def session_from(address: str, ca_file: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = ca_file
    adapter = FromAddress(address)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s
