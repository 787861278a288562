"""Headless Chromium for tests: Debian's ``chromium`` driven by its ``chromedriver`` over the W3C
WebDriver protocol (plain HTTP on 127.0.0.1), plus chromedriver's CDP pass-through for what
WebDriver does not show (cookies as the browser stored them).

    browser = Chromium(tmp_path, host_rules=["MAP auth.yourapp.test 127.0.0.1"],
                       trusted_spki=[ca.spki_sha256]).start()
    try:
        with browser.screenshot_on_failure(tmp_path / "login.png"):
            browser.get("https://auth.yourapp.test:8443/")
            browser.wait_url("https://app.test/", timeout=15)
    finally:
        browser.stop()

Each browser has a new, empty profile (``--user-data-dir``); chromedriver (and the browser it
starts) is stopped by its PID and process group. ``missing()`` says why Chromium cannot run here
(the tests skip with that reason); ``.ci/run`` installs both packages.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from tests.ports import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C key of an element reference
# Work as root in a sandbox, stay off the network, no first-run or background work.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


def missing() -> str | None:
    """Why Chromium cannot be driven here, or None."""
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if CHROMEDRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


class WebDriverError(AssertionError):
    pass


class Chromium:
    def __init__(
        self,
        workdir: pathlib.Path,
        *,
        host_rules: Sequence[str] = (),
        trusted_spki: Sequence[str] = (),
        args: Sequence[str] = (),
        page_load_timeout: float = 20.0,
    ):
        self.workdir = workdir
        self.host_rules = list(host_rules)  # --host-resolver-rules, e.g. "MAP app.test:443 127.0.0.1:8444"
        self.trusted_spki = list(trusted_spki)  # base64 SHA-256 SPKI hashes whose chains are accepted
        self.args = list(args)
        self.page_load_timeout = page_load_timeout
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.session: str | None = None
        self._http = requests.Session()
        self._http.trust_env = False

    # -- lifecycle ------------------------------------------------------------------------------
    def browser_args(self, profile: pathlib.Path) -> list[str]:
        out = [*FLAGS, f"--user-data-dir={profile}", *self.args]
        if self.host_rules:
            out.append("--host-resolver-rules=" + ", ".join(self.host_rules))
        if self.trusted_spki:
            out.append("--ignore-certificate-errors-spki-list=" + ",".join(self.trusted_spki))
        return out

    def start(self, timeout: float = 30.0) -> Chromium:
        reason = missing()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        profile = self.workdir / f"chromium-profile-{self.port}"
        profile.mkdir()
        self._log = open(self.workdir / f"chromedriver-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._wait_driver(timeout)
            caps = {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": int(self.page_load_timeout * 1000), "script": 10000},
                "goog:chromeOptions": {"binary": CHROMIUM, "args": self.browser_args(profile)},
            }
            value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}}, timeout=timeout)
            self.session = value["sessionId"]
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_driver(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromedriver exited with {self.proc.returncode}")
            try:
                if self._http.get(f"http://127.0.0.1:{self.port}/status", timeout=1).json()["value"]["ready"]:
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromedriver not ready within {timeout}s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.session is not None and self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(requests.RequestException, WebDriverError):
                self._call("DELETE", f"/session/{self.session}", timeout=10)  # quits the browser
        self.session = None
        p, self.proc = self.proc, None
        if p is not None:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)  # a browser process the driver left behind (its group)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        self._http.close()

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- WebDriver ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None, *, timeout: float = 30.0) -> Any:
        r = self._http.request(method, f"http://127.0.0.1:{self.port}{path}", json=body, timeout=timeout)
        try:
            value = r.json().get("value")
        except ValueError:
            raise WebDriverError(f"{method} {path}: {r.status_code} {r.text[:300]}") from None
        if r.status_code >= 400 or (isinstance(value, dict) and "error" in value):
            raise WebDriverError(f"{method} {path}: {value.get('error')}: {value.get('message', '')[:500]}")
        return value

    def _session(self, method: str, path: str, body: dict | None = None, **kw) -> Any:
        assert self.session is not None, "browser not started"
        return self._call(method, f"/session/{self.session}{path}", body, **kw)

    def get(self, url: str) -> None:
        """Navigate and wait for the page to load (not for what its scripts do next)."""
        self._session("POST", "/url", {"url": url}, timeout=self.page_load_timeout + 10)

    @property
    def url(self) -> str:
        return self._session("GET", "/url")

    @property
    def title(self) -> str:
        return self._session("GET", "/title")

    def source(self) -> str:
        return self._session("GET", "/source")

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body: ``return …``) in the page."""
        return self._session("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        return self._session("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css: str = "body") -> str:
        return self._session("GET", f"/element/{self.find(css)}/text")

    def cdp(self, command: str, params: dict | None = None) -> Any:
        """A Chrome DevTools Protocol command (chromedriver's ``goog/cdp/execute``)."""
        return self._session("POST", "/goog/cdp/execute", {"cmd": command, "params": params or {}})

    def cookies(self) -> list[dict]:
        """Every cookie as the browser stored it (CDP ``Network.getAllCookies``: domain, sameSite,
        secure, httpOnly…), including HttpOnly ones that WebDriver's cookie list also has but
        pages cannot read."""
        return self.cdp("Network.getAllCookies")["cookies"]

    def clear_cookies(self) -> None:
        self.cdp("Network.clearBrowserCookies")

    def screenshot(self, path: pathlib.Path) -> pathlib.Path:
        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
        return path

    # -- waiting --------------------------------------------------------------------------------
    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Poll ``condition`` (WebDriver errors count as "not yet") until it is truthy."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                result = condition()
                if result:
                    return result
            except WebDriverError as e:
                last = e
            if time.monotonic() > deadline:
                raise WebDriverError(f"{what}: not within {timeout}s (at {self._safe_url()}; last error: {last})")
            time.sleep(0.1)

    def wait_url(self, prefix: str, timeout: float = 15.0) -> str:
        return self.wait_for(f"a page under {prefix}", lambda: (u := self.url).startswith(prefix) and u, timeout)

    def wait_element(self, css: str, timeout: float = 15.0) -> str:
        return self.wait_for(f"element {css!r}", lambda: self.find(css), timeout)

    def _safe_url(self) -> str:
        try:
            return self.url
        except (WebDriverError, requests.RequestException) as e:
            return f"<unknown: {e}>"

    @contextlib.contextmanager
    def screenshot_on_failure(self, path: pathlib.Path) -> Iterator[None]:
        """On any exception in the block: save a screenshot (and the page's URL and source beside
        it) and name the file in the exception."""
        try:
            yield
        except BaseException as e:
            try:
                self.screenshot(path)
                path.with_suffix(".html").write_text(f"<!-- {self._safe_url()} -->\n{self.source()}")
                e.add_note(f"screenshot: {path} (page source: {path.with_suffix('.html')})")
            except Exception as shot_error:
                e.add_note(f"no screenshot: {shot_error}")
            raise
