"""Runs the real ``mitmdump`` with the router addon, the way the README says, and reads its output."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import requests

from .world import render_mapping, write_mapping

REPO = pathlib.Path(__file__).resolve().parents[2]
MITMDUMP = pathlib.Path(sys.executable).with_name("mitmdump")
ADDON = REPO / "sso_router_addon.py"
SECRET = "test-secret"
STARTUP_TIMEOUT = 20.0  # s from exec to /ready 200: mitmdump imports ~1 s, slower on a loaded 2-core box
STOP_TIMEOUT = 8.0  # s a SIGTERMed mitmdump may take to exit (a drain: its quiet period, then the log flushed)
DRAIN_NOTICED_WITHIN = 2.0  # s for the router to log that it drains (then a second SIGTERM exits at once)
DECISION_TIMEOUT = 3.0  # s for a request's decision-log line to appear once its response was read
_LISTENING = re.compile(rb"listening at \[?[0-9a-fA-F.:]*?\]?:(\d+)")


class Mitmdump:
    """One real ``mitmdump -s sso_router_addon.py``. ``port=0``: mitmdump binds a port itself
    (``--listen-port 0``) and :attr:`port` is the one it reports; otherwise the port is one the
    caller reserved (``tests/ports.py``) because others had to know it first (a world's peers)."""

    def __init__(
        self,
        workdir: pathlib.Path,
        port: int,
        mapping: dict | None,
        *,
        extra_args: list[str] = (),
        secret: str | None = SECRET,
        name: str = "mitmdump",
        readme: bool = False,
        addon: pathlib.Path = ADDON,
        mapping_path: pathlib.Path | None = None,
        mode: str = "reverse:https://legacy.invalid",
        env: dict[str, str] | None = None,
    ):
        self.workdir = workdir
        self.addon = addon
        self.port = port
        self.asked_port = port
        self.mapping = mapping
        self.readme = readme  # the README's command line: relative mapping.toml, no other --set
        self.mode = mode
        self.env = dict(env or {})
        self.mapping_path = mapping_path or workdir / ("mapping.toml" if readme else f"{name}-mapping.toml")
        self.decision_log = workdir / f"{name}-decisions.jsonl"
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.extra_args = list(extra_args)
        self.secret = secret
        self.since = 0.0  # decision_for's default: records of requests made after this (e2e conftest sets it per test)

        self.proc: subprocess.Popen | None = None
        self._offset = 0  # where this run's output starts in stdout_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        port = str(self.asked_port)
        if self.readme:
            return [
                str(MITMDUMP),
                "--mode",
                "reverse:https://legacy.invalid",
                "-s",
                str(self.addon),
                "--set",
                "sso_mapping=mapping.toml",
                "--listen-host",
                "127.0.0.1",
                "-p",
                port,
            ]
        cmd = [
            str(MITMDUMP),
            "--mode",
            self.mode,
            "--listen-host",
            "127.0.0.1",
            "-p",
            port,
            "-s",
            str(self.addon),
            "--set",
            f"sso_mapping={self.mapping_path}",
            "--set",
            f"sso_decision_log={self.decision_log}",
        ]
        if self.secret is not None:
            cmd += ["--set", f"sso_secret={self.secret}"]
        return cmd + self.extra_args

    def start(self, timeout: float = STARTUP_TIMEOUT, wait_ready: bool = True) -> Mitmdump:
        """Starts mitmdump; with ``wait_ready`` returns once ``/ready`` answers 200 (what the contract
        says load balancers, scripts and tests wait for), polled from the first moment on, and this
        process has said it listens (so a 200 from another process on the port never counts).
        ``mapping=None``: the file at ``mapping_path`` is used as it is (or is missing)."""
        if self.mapping is not None:
            write_mapping(self.mapping_path, self.mapping)
        self._offset = self.stdout_path.stat().st_size if self.stdout_path.exists() else 0
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.pop("SSO_ROUTER_SECRET", None)
        env.pop("SSO_ROUTER_ADMIN_TOKEN", None)
        env.update(self.env)
        self.proc = subprocess.Popen(
            self.command(), stdout=self._out, stderr=self._err, cwd=self.workdir, env=env, start_new_session=True
        )
        if not wait_ready:
            return self
        deadline = time.monotonic() + timeout
        if self.asked_port == 0:
            self.wait_listening(timeout)
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                r = requests.get(f"{self.url}/.sso-router/ready", timeout=1, proxies={"http": None})
                if r.status_code == 200 and self._listening_port() == self.port:
                    return self
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mitmdump not ready within {timeout}s (last: {last}):\n{self.output()}")

    def _check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"mitmdump exited with {code}:\n{self.output()}")

    def run_output(self) -> bytes:
        """What this run (since the last ``start``) printed on stdout."""
        return self.stdout_path.read_bytes()[self._offset :] if self.stdout_path.exists() else b""

    def _listening_port(self) -> int | None:
        m = _LISTENING.search(self.run_output())
        return int(m.group(1)) if m else None

    def wait_listening(self, timeout: float = STARTUP_TIMEOUT) -> int:
        """Waits for mitmdump's "listening at" line; sets and returns :attr:`port` (the one it bound)."""
        deadline = time.monotonic() + timeout
        while True:
            port = self._listening_port()
            if port is not None:
                self.port = port
                return port
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"mitmdump did not listen within {timeout}s:\n{self.output()}")
            time.sleep(0.02)

    def wait_serving(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """For ``start(wait_ready=False)`` where /ready is expected to stay 503 (a store down at
        startup): waits until the addon runs (/ready answers, and no longer says "starting")."""
        deadline = time.monotonic() + timeout
        if self.asked_port == 0:
            self.wait_listening(timeout)
        while True:
            self._check_alive()
            try:
                r = requests.get(f"{self.url}/.sso-router/ready", timeout=1, proxies={"http": None})
                if r.status_code == 200 or "starting" not in r.text:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mitmdump not serving within {timeout}s:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, *, drain: bool = True) -> None:
        """Stops mitmdump by its PID. ``drain``: one SIGTERM, the graceful drain production gets (its
        quiet period costs ~2 s); ``drain=False`` (the fixtures' teardown): a second SIGTERM once the
        router drains, which exits at once (routing/mitm/drain.py) — the decision log is still
        flushed and closed by ``done``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if not drain:
                self._second_sigterm()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()

    def _second_sigterm(self) -> None:
        """Once the router has taken the first SIGTERM (two sent at once arrive as one), the second."""
        deadline = time.monotonic() + DRAIN_NOTICED_WITHIN
        while self.proc.poll() is None and time.monotonic() < deadline:
            if b"SIGTERM: draining" in self.run_output():
                self.proc.send_signal(signal.SIGTERM)
                return
            time.sleep(0.01)

    def output(self) -> str:
        parts = []
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                parts.append(f"--- {p.name} ---\n{p.read_text(errors='replace')[-6000:]}")
        return "\n".join(parts)

    # -- mapping changes ----------------------------------------------
    def health(self) -> dict:
        r = requests.get(f"{self.url}/.sso-router/health", timeout=2)
        try:
            return r.json()
        except ValueError:
            return {"raw": r.text}

    def update_mapping(self, change, *, timeout: float = 6.0) -> None:
        """Applies ``change(mapping)`` to the mapping file and waits until the proxy has reloaded it
        (health's version changes)."""
        before = _version(self.health())
        assert before is not None, f"health names no mapping version: {self.health()}"
        change(self.mapping)
        write_mapping(self.mapping_path, self.mapping)  # a rename: a new inode, whatever the mtime
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = _version(self.health())
            if now is not None and now != before:
                return
        raise AssertionError(
            f"mapping not reloaded within {timeout}s; health: {self.health()}\n"
            f"mapping:\n{render_mapping(self.mapping)}\n{self.output()}"
        )

    # -- what it logged -----------------------------------------------
    def decisions(self) -> list[dict]:
        if not self.decision_log.exists():
            return []
        out = []
        for line in self.decision_log.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def mark(self) -> float:
        """A point in time for :meth:`decision_for`'s ``since``: take it just before the request."""
        return time.time()

    def decision_for(
        self,
        method: str,
        path: str,
        *,
        last: bool = True,
        timeout: float = DECISION_TIMEOUT,
        since: float | None = None,
    ) -> dict:
        """The (last) decision-log record for ``method path`` of a request that reached the proxy
        after ``since`` (default: the start of the current test, so a line an earlier test left
        never answers for this one); waits briefly for it to be written, fails if it never is."""
        after = (self.since if since is None else since) - 0.001  # records carry the time to the ms
        deadline = time.monotonic() + timeout
        while True:
            found = [
                d
                for d in self.decisions()
                if d.get("method") == method and d.get("path") == path and d.get("time", 0) >= after
            ]
            if found:
                return found[-1] if last else found[0]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no decision for {method} {path} since {after:.3f}; log: {self.decisions()[-10:]}"
                )
            time.sleep(0.05)


def _version(health: dict):
    for key in ("version", "mapping_version", "hash"):
        if key in health:
            return health[key]
    mapping = health.get("mapping")
    if isinstance(mapping, dict):
        for key in ("version", "hash"):
            if key in mapping:
                return mapping[key]
    return None
