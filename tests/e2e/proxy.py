"""Runs the real ``mitmdump`` with the router addon, the way the README says, and reads its output."""

from __future__ import annotations

import json
import os
import pathlib
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


class Mitmdump:
    def __init__(self, workdir: pathlib.Path, port: int, mapping: dict, *, extra_args: list[str] = (),
                 secret: str | None = SECRET, name: str = "mitmdump", readme: bool = False,
                 addon: pathlib.Path = ADDON, mapping_path: pathlib.Path | None = None,
                 mode: str = "reverse:https://legacy.invalid", env: dict[str, str] | None = None):
        self.workdir = workdir
        self.addon = addon
        self.port = port
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

        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.readme:
            return [str(MITMDUMP), "--mode", "reverse:https://legacy.invalid", "-s", str(self.addon),
                    "--set", "sso_mapping=mapping.toml", "--listen-host", "127.0.0.1", "-p", str(self.port)]
        cmd = [str(MITMDUMP), "--mode", self.mode, "--listen-host", "127.0.0.1",
               "-p", str(self.port), "-s", str(self.addon), "--set", f"sso_mapping={self.mapping_path}",
               "--set", f"sso_decision_log={self.decision_log}"]
        if self.secret is not None:
            cmd += ["--set", f"sso_secret={self.secret}"]
        return cmd + self.extra_args

    def start(self, timeout: float = 20.0, wait_ready: bool = True) -> "Mitmdump":
        write_mapping(self.mapping_path, self.mapping)
        offset = self.stdout_path.stat().st_size if self.stdout_path.exists() else 0
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.pop("SSO_ROUTER_SECRET", None)
        env.pop("SSO_ROUTER_ADMIN_TOKEN", None)
        env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdout=self._out, stderr=self._err, cwd=self.workdir,
                                     env=env, start_new_session=True)
        if not wait_ready:
            return self
        deadline = time.monotonic() + timeout
        last = "no answer"
        # mitmproxy listens before its addons' running() hooks have run, and a request arriving in
        # that window can make mitmproxy itself log an error and exit (tlsconfig has no certstore
        # yet). test_readme_command_line probes that window on purpose; everyone else waits
        # for the listening line plus a moment before the first request.
        while time.monotonic() < deadline and b"listening at" not in self.stdout_path.read_bytes()[offset:]:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        time.sleep(0.3)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mitmdump exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = requests.get(f"{self.url}/.sso-router/ready", timeout=1, proxies={"http": None})
                if r.status_code == 200:
                    return self
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mitmdump not ready within {timeout}s (last: {last}):\n{self.output()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()

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
        (health's version changes), or, when health says nothing, ~2.5 s."""
        before = self.health()
        change(self.mapping)
        time.sleep(0.05)
        write_mapping(self.mapping_path, self.mapping)
        st = self.mapping_path.stat()
        os.utime(self.mapping_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.health()
            if now != before and _version(now) != _version(before) and _version(now) is not None:
                return
        if _version(before) is None:
            return  # health has no version: the poll wait above (≥ 2.5 s) is all we can do
        raise AssertionError(f"mapping not reloaded within {timeout}s; health: {self.health()}\n"
                             f"mapping:\n{render_mapping(self.mapping)}\n{self.output()}")

    # -- what it logged -----------------------------------------------
    def decisions(self) -> list[dict]:
        if not self.decision_log.exists():
            return []
        out = []
        for line in self.decision_log.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def decision_for(self, method: str, path: str, *, last: bool = True, timeout: float = 3.0) -> dict:
        """The (last) decision-log record for ``method path``; waits briefly for it to be written."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.decisions() if d.get("method") == method and d.get("path") == path]
            if found:
                return found[-1] if last else found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no decision for {method} {path}; log: {self.decisions()[-10:]}")
            time.sleep(0.1)


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
