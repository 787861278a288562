"""Decisions at a glance, as a person sees them (issue 16 point 5): logins through a real ``mitmweb``
with the router and the suite's providers, then headless Chromium (``tests/e2e/chromium.py``) opens
mitmweb's own UI and reads its flow list: each login's requests show the decision in the comment
column and the provider's marker beside the path (the path cell starts with the marker: its text is the emoji, however a font draws it).
A failing test leaves a screenshot."""

from __future__ import annotations

import pytest

from .chromium import Chromium, missing
from .steps import login
from .test_mitmweb import Mitmweb
from .world import write_mapping

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no browser: {missing()}")

ROWS = """
return Array.from(document.querySelectorAll('tr')).map(tr => {
  const comment = tr.querySelector('td.col-comment'), path = tr.querySelector('td.col-path');
  const marker = path ? path.querySelector('.marker') : null;
  return comment && path ? {path: path.textContent, comment: comment.textContent,
                            marker: marker ? marker.textContent : '',
                            shown: comment.offsetWidth > 0 && comment.offsetHeight > 0} : null;
}).filter(Boolean);
"""
HEADERS = "return Array.from(document.querySelectorAll('th')).map(th => th.textContent.trim());"


@pytest.fixture
def web(world, tmp_path):
    mapping_path = tmp_path / "mapping.toml"
    write_mapping(mapping_path, world.base_mapping())
    m = Mitmweb(tmp_path, mapping_path, port=world.proxy_port)  # the port the peers know as the auth domain
    m.start()
    try:
        yield m
    finally:
        m.stop()


def test_the_flow_list_shows_each_decision_and_who_got_it(web, peers, tmp_path):
    newco = login(web.url, login_hint="bob@newcompany.com")
    assert newco.callback.peer == "scalekit" and newco.code, newco.callback
    mega = login(web.url, login_hint="alice@megasoft.com")
    assert mega.callback.peer == "legacy" and mega.code, mega.callback

    browser = Chromium(tmp_path / "chromium").start()
    try:
        with browser.screenshot_on_failure(tmp_path / "mitmweb-flow-list.png"):
            browser.get(f"{web.web}/?token={web.password}")
            rows = browser.wait_for(
                "the logins in mitmweb's flow list",
                lambda: (r := browser.execute(ROWS)) and len(r) >= 4 and r,
                timeout=20,
            )
            assert "Comment" in browser.execute(HEADERS)
            by_comment = {r["comment"]: r for r in rows}
            acs = by_comment.get("→ scalekit · correlation · org newcompany.com · SAML InResponseTo")
            assert acs is not None, rows
            assert acs["path"].endswith("/sso/v1/saml/conn_newco/acs") and acs["marker"] == "🔵", acs
            start = by_comment.get("→ legacy · org · org megasoft.com · login_hint domain")
            assert start is not None and "/authorize?" in start["path"] and start["marker"] == "🟠", rows
            assert acs["shown"] and start["shown"], rows  # a visible cell, not only in the DOM
            assert all(r["marker"] in ("🔵", "🟠", "⚪", "") for r in rows), rows
    finally:
        browser.stop()
