"""The router of the demo: the real ``mitmdump -s sso_router_addon.py``, one subprocess, stopped by PID.

Its output goes to a log file in the demo's directory and, line by line, to the terminal. A port
taken between choosing it and binding it (EADDRINUSE) is reported as ``PortInUse`` so the caller
can try another.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path

ADDON_LINE = "from routing.mitm.script import *  # noqa: F403 — the router's hooks\n"
# connection lines are kept in the log file, not echoed: the router's own line per request says more
_UNECHOED = re.compile(r"\]\[[^]]*\] (client|server) (connect|disconnect)")
STOP_WAIT = 8.0  # seconds mitmdump gets after SIGTERM before SIGKILL
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RouterFailed(RuntimeError):
    """mitmdump exited, or never became ready; the message carries its last output."""


class PortInUse(RouterFailed):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mitmdump_path() -> str:
    beside = Path(sys.executable).with_name("mitmdump")
    found = str(beside) if beside.exists() else shutil.which("mitmdump")
    if not found:
        raise RouterFailed("mitmdump not found beside this Python or on PATH (pip install sso-router installs it)")
    return found


def addon_path(workdir: Path) -> Path:
    """The checkout's ``sso_router_addon.py``; a copy of its one line where the package was installed bare."""
    beside = Path(__file__).resolve().parents[2] / "sso_router_addon.py"
    if beside.is_file():
        return beside
    copy = workdir / "sso_router_addon.py"
    copy.write_text(ADDON_LINE)
    return copy


class Router:
    def __init__(
        self, workdir: Path, mapping: Path, decision_log: Path, secret: str, echo: Callable[[str], None] | None
    ) -> None:
        self.workdir = workdir
        self.mapping = mapping
        self.decision_log = decision_log
        self.log_path = workdir / "mitmdump.log"
        self.secret = secret
        self.echo = echo
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._lines: deque[str] = deque(maxlen=200)  # the output's end, for errors
        self._listening = threading.Event()
        self._relay: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        return [
            mitmdump_path(),
            "--mode",
            "reverse:https://legacy.invalid",
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(port),
            "-s",
            str(addon_path(self.workdir)),
            "--set",
            f"sso_mapping={self.mapping}",
            "--set",
            f"sso_decision_log={self.decision_log}",
        ]

    def start(self, port: int, stop: threading.Event, timeout: float = 60.0) -> None:
        """Starts mitmdump on ``port`` and returns once ``/.sso-router/ready`` says 200."""
        self.port = port
        env = {**os.environ, "SSO_ROUTER_SECRET": self.secret}  # the environment, not argv: ps shows argv
        self._lines.clear()
        self._listening.clear()
        self.proc = subprocess.Popen(
            self.command(port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )  # Ctrl-C reaches the demo, which stops it by PID
        self._relay = threading.Thread(target=self._relay_output, name="demo-router-output", daemon=True)
        self._relay.start()
        deadline = time.monotonic() + timeout
        while not self._listening.is_set():
            self._check_alive(deadline, stop)
        time.sleep(0.3)  # mitmproxy listens before the addon's running() hook: no request in that window
        while not self._ready():
            self._check_alive(deadline, stop)

    def _check_alive(self, deadline: float, stop: threading.Event) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            if self._relay is not None:
                self._relay.join(timeout=2)
            out = "".join(list(self._lines)[-30:])
            kind = PortInUse if "[Errno 98]" in out or "address already in use" in out.lower() else RouterFailed
            raise kind(f"mitmdump exited with {self.proc.returncode}:\n{out}")
        if stop.is_set() or time.monotonic() > deadline:
            self.stop()
            raise RouterFailed(
                "stopped while starting"
                if stop.is_set()
                else "mitmdump not ready in time:\n" + "".join(list(self._lines)[-30:])
            )
        time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with _NO_PROXY.open(f"{self.url}/.sso-router/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def _relay_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with open(self.log_path, "ab") as log:
            for raw in self.proc.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace")
                self._lines.append(line)
                if "listening at" in line:
                    self._listening.set()
                if self.echo is not None and not _UNECHOED.search(line):
                    self.echo(line.rstrip("\n"))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``STOP_WAIT`` s; always reaps the process."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._relay is not None:
            self._relay.join(timeout=2)
        if proc.stdout is not None:
            proc.stdout.close()
