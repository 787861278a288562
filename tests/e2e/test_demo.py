"""``sso-router demo`` as a newcomer runs it: one command, one URL, both logins, the flip, Ctrl-C.

The demo runs as a subprocess from the console script; a browser (``Browser``: one hop at a time,
forms submitted as a browser submits them, the IdP's auto-post cross-site without cookies) clicks
through the pages it serves. After SIGINT, every process the demo started is gone.
"""

from __future__ import annotations

import html.parser
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from .browser import Browser, Hop

pytestmark = pytest.mark.slow  # the whole demo: its peers, its mitmdump, its logins

SSO_ROUTER = pathlib.Path(sys.executable).with_name("sso-router")
START_TIMEOUT = 90.0


class _Forms(html.parser.HTMLParser):
    """Every form of a page: (method, action, fields, ids of its buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str], list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(((a.get("method") or "get").lower(), a.get("action") or "", {}, []))
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1][2][a["name"]] = a.get("value") or ""
        elif self.forms and tag == "button" and a.get("id"):
            self.forms[-1][3].append(a["id"])


def click(b: Browser, page: Hop, button_id: str, **typed: str) -> Hop:
    """Submits the form holding ``button_id`` (with ``typed`` into its fields) and follows redirects."""
    parser = _Forms()
    parser.feed(page.text)
    found = [f for f in parser.forms if button_id in f[3] or (button_id == "" and f)]
    assert found, f"no button {button_id!r} on {page.url}: {page.text[:500]}"
    method, action, fields, _ = found[0]
    url = urllib.parse.urljoin(page.url, action)
    fields.update(typed)
    if method == "post":
        hop = b.request("POST", url, data=fields)
    else:
        hop = b.get(url + "?" + urllib.parse.urlencode(fields))
    return b.follow(hop)


class RunningDemo:
    def __init__(self, tmp: pathlib.Path) -> None:
        self.out_path = tmp / "demo.out"
        self._out = open(self.out_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.proc = subprocess.Popen(
            [str(SSO_ROUTER), "demo"],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=tmp,
            env=env,
            start_new_session=True,
        )
        self.url, self.workdir = self._wait_for_url()

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def _wait_for_url(self) -> tuple[str, pathlib.Path]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.output()
            url = re.search(r"Open (http://127\.0\.0\.1:\d+/) in a browser", text)
            files = re.search(r"files\s+(\S+) \(", text)
            if url and files:
                return url.group(1), pathlib.Path(files.group(1))
            assert self.proc.poll() is None, f"the demo exited with {self.proc.returncode}:\n{text}"
            time.sleep(0.2)
        raise AssertionError(f"no URL printed within {START_TIMEOUT}s:\n{self.output()}")

    def descendants(self) -> set[int]:
        """PIDs whose parent chain leads to the demo (from /proc)."""
        parents: dict[int, int] = {}
        for d in pathlib.Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                parents[int(d.name)] = int(stat.rpartition(")")[2].split()[1])
        found, frontier = set(), {self.proc.pid}
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
            found |= frontier
        return found

    def kill(self) -> None:
        """Last resort when a test failed: the whole session, by its process group."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._out.close()


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path):
    d = RunningDemo(tmp_path)
    try:
        yield d
    finally:
        d.kill()


def to_idp(b: Browser, home: Hop, org: str) -> Hop:
    """Clicks "log in as …" for ``org`` up to the IdP's sign-in page (the login is then in flight)."""
    page = click(b, home, f"login-{org}")
    assert page.status == 200 and "Sign in" in page.text, (page, page.text[:500])
    return page


def finish(b: Browser, idp_page: Hop) -> Hop:
    """Signs in at the IdP and lets its auto-post form go to the ACS (cross-site: no cookies)."""
    posted = b.submit_form(idp_page, cross_site=False)
    assert posted.status == 200 and "SAMLResponse" in posted.text, (posted, posted.text[:500])
    return b.follow(b.submit_form(posted, cross_site=True))


def provider_of(result: Hop) -> str:
    m = re.search(r'id=provider data-provider="(\w+)"', result.text)
    assert result.status == 200 and m, (result, result.text[:800])
    return m.group(1)


def test_demo_logins_flip_and_ctrl_c(demo):
    b = Browser(timeout=20)
    home = b.get(demo.url)
    assert home.status == 200
    assert "log in as bob@megasoft.com" in home.text and "log in as carol@newcompany.com" in home.text
    assert "flip megasoft.com" in home.text
    children = demo.descendants()
    cmdlines = [pathlib.Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in children]
    assert any(b"-s" in c and any(a.endswith(b"sso_router_addon.py") for a in c) for c in cmdlines), cmdlines

    # carol, migrated: the router sends her login to Scalekit, and her IdP's post there too
    carol = finish(b, to_idp(b, home, "newcompany.com"))
    assert provider_of(carol) == "scalekit"
    assert "login start" in carol.text and "names org newcompany.com" in carol.text
    assert "scalekit; reason=correlation" in carol.text  # the app's token exchange, routed by its code

    # bob, not migrated: legacy
    bob = finish(b, to_idp(b, b.get(demo.url), "megasoft.com"))
    assert provider_of(bob) == "legacy"
    assert "not migrated" in bob.text

    # a bob login in flight at the IdP, then the flip, then a new bob login
    in_flight = to_idp(b, b.get(demo.url), "megasoft.com")
    after_flip = click(b, b.get(demo.url), "flip-megasoft.com")
    assert after_flip.status == 200, after_flip
    assert "migrated = true" in after_flip.text and "the router has loaded the new mapping" in after_flip.text, (
        after_flip.text[-1500:]
    )
    assert "migrated = true" in (demo.workdir / "mapping.toml").read_text().split('[orgs."megasoft.com"]')[1]
    new = to_idp(b, after_flip, "megasoft.com")
    start = next(h for h in reversed(b.history) if "/authorize?" in h.url)
    assert start.route == "scalekit; reason=org", start

    late = finish(b, in_flight)  # started at legacy before the flip: finishes at legacy
    assert provider_of(late) == "legacy"
    assert "id=in-flight" in late.text and "InResponseTo" in late.text
    assert provider_of(finish(b, new)) == "scalekit"

    # Ctrl-C: everything the demo started stops
    children |= demo.descendants()
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(timeout=30) == 0, demo.output()[-3000:]
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)], f"left running: {children}\n{demo.output()[-2000:]}"
    assert not demo.workdir.exists()
    assert "sso-router demo: stopped" in demo.output()


def test_a_taken_router_port_is_retried(tmp_path, monkeypatch):
    """The port picked for mitmdump is taken by the time it binds (EADDRINUSE): another one is used."""
    import socket
    import threading

    from routing.demo import run as demo_run
    from routing.demo.router import Router, free_port

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    monkeypatch.setattr(demo_run, "free_port", lambda: next(ports, None) or free_port())
    demo = demo_run.build(tmp_path)
    router = Router(tmp_path, demo.mapping, demo.decision_log, "s", None)
    try:
        demo_run.start_router(router, demo, threading.Event())
        assert router.port != taken.getsockname()[1] and router.alive
        assert f"127.0.0.1:{router.port}" in demo.mapping.read_text()  # public_url follows the port
    finally:
        router.stop()
        taken.close()
    assert not router.alive
