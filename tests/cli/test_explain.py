import json
import pathlib

import pytest

from . import captures
from .conftest import rows, run

EXPECTED = [list(r) for r in captures.EXPECTED]


def test_flow_file_rows_and_rebuilt_correlations(mapping, flow_file):
    r = run("explain", flow_file, "--mapping", mapping, "--json")
    assert r.returncode == 0, r.stderr
    assert [list(x) for x in rows(r.stdout)] == EXPECTED
    assert "entry 7 skipped" in r.stderr and "evil.example.com" in r.stderr


def test_flow_file_table(mapping, flow_file):
    r = run("explain", flow_file, "--mapping", mapping)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:7] == ["#", "method", "path", "provider", "reason", "org", "identifier"]
    assert "/authorize?response_type&client_id&state&login_hint" in lines[1]
    assert "SAML InResponseTo" in r.stdout and "sticky cookie" in r.stdout
    assert len(lines) == 1 + len(EXPECTED)


def test_har_with_a_broken_entry(mapping, har_file):
    r = run("explain", har_file, "--mapping", mapping, "--json")
    assert r.returncode == 0, r.stderr
    assert [list(x) for x in rows(r.stdout)] == EXPECTED
    assert "entry 3 skipped: unreadable HAR entry" in r.stderr


@pytest.mark.parametrize("fmt", ["flow", "har"])
def test_explain_never_prints_secrets(mapping, flow_file, har_file, fmt):
    for args in (("--json",), ()):
        r = run("explain", flow_file if fmt == "flow" else har_file, "--mapping", mapping, *args)
        for s in captures.SECRETS:
            assert s not in r.stdout + r.stderr


def test_state_correlates_only_when_the_response_recorded_it(mapping, tmp_path):
    """Without the /authorize response's Location, the hosted page is not a correlation (its
    router cookie still makes it sticky)."""
    steps = captures.login_steps()
    del steps[0]["location"]
    p = tmp_path / "c.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[1][3] == "sticky"


def test_sticky_follows_recorded_cookies(mapping, tmp_path):
    """Only requests that carried the router's cookie present it (the cross-site POST and the back
    end's token call did not); a value that is not the router's is ignored, as the proxy ignores it."""
    steps = captures.login_steps()[:3]
    steps[1]["cookie"] = "sso_router=whatever-the-live-proxy-signed"
    steps[2]["cookie"] = "auth0=x"  # cookies recorded, not the router's
    p = tmp_path / "c.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[2][3] == "default"
    steps[2]["cookie"] = "auth0=x; " + captures.live_cookie()
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[2][2:] == ("legacy", "sticky", "megasoft.com")


def _browser(name: str, *steps: dict) -> list[dict]:
    return [dict(s, browser=name) for s in steps]


def _authorize(hint: str) -> dict:
    return dict(
        method="GET",
        path=f"/authorize?response_type=code&client_id=app-client&login_hint={hint}",
        status=302,
        location="https://idp.example/authorize?x=1",
    )


ASSET = dict(method="GET", path="/u/assets/app.css", status=200)


def test_a_request_that_carried_no_cookie_is_replayed_without_one(mapping, tmp_path):
    """Two browsers in one capture: the first logs in to newcompany (scalekit) and sends nothing
    more with its cookie; the second, with no cookie, fetches an asset. The proxy sent that to the
    default provider; it must not inherit the first browser's cookie in the replay."""
    steps = [_authorize("bob%40newcompany.com"), ASSET]
    p = tmp_path / "two.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got == [
        ("GET", "/authorize", "scalekit", "org", "newcompany.com"),
        ("GET", "/u/assets/app.css", "legacy", "default", None),
    ]


def test_each_carried_cookie_stands_for_its_own_browsers(mapping, tmp_path):
    """Three browsers from one address: a carried cookie is the one the replay set where the proxy
    set that browser's, not whichever the replay set last."""
    steps = [
        _authorize("bob%40newcompany.com"),
        ASSET,  # a browser without a cookie
        _authorize("eve%40megasoft.com"),
        dict(ASSET, cookie=captures.live_cookie("scalekit", "newcompany.com")),
        dict(ASSET, cookie="x=1; " + captures.live_cookie("legacy", "megasoft.com")),
    ]
    p = tmp_path / "three.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert [g[2:] for g in got] == [
        ("scalekit", "org", "newcompany.com"),
        ("legacy", "default", None),
        ("legacy", "org", "megasoft.com"),
        ("scalekit", "sticky", "newcompany.com"),
        ("legacy", "sticky", "megasoft.com"),
    ]
    run("migrate", "megasoft.com", "--mapping", mapping)  # a what-if: megasoft's browser follows its replayed login
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[4][2:] == ("scalekit", "sticky", "megasoft.com")


def test_a_cookie_set_before_the_capture_began_counts_as_what_it_says(mapping, tmp_path):
    steps = [
        dict(ASSET, cookie=captures.live_cookie("scalekit", "newcompany.com")),
        dict(ASSET, cookie=captures.live_cookie("scalekit", "newcompany.com", expires=1_600_000_000)),
    ]
    p = tmp_path / "late.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert [g[2:] for g in got] == [("scalekit", "sticky", "newcompany.com"), ("legacy", "default", None)]


def test_recorded_decisions_are_shown_and_every_difference_flagged(mapping, tmp_path):
    """CONTRACT "Command line": where the capture holds the proxy's own decision, a replayed one
    that differs is flagged on its row (``--json``: ``"recorded"``)."""
    steps = [
        dict(
            _authorize("bob%40newcompany.com"),
            recorded=("scalekit", "org", "newcompany.com"),
            identifier="login_hint domain",
        ),
        dict(ASSET, recorded=("scalekit", "sticky", "newcompany.com"), identifier="sticky cookie"),
        dict(ASSET),
    ]
    p = tmp_path / "rec.mitm"
    captures.write_flow_file(p, steps)
    r = run("explain", p, "--mapping", mapping, "--json")
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert got[0]["recorded"] == {
        "provider": "scalekit",
        "reason": "org",
        "org": "newcompany.com",
        "identifier": "login_hint domain",
        "forwarded_to": "scalekit",
        "shadow": False,
    }
    assert got[0]["differs"] == []
    # the proxy routed the asset by a cookie this capture does not show: the replay cannot
    assert got[1]["recorded"]["reason"] == "sticky" and got[1]["differs"] == [
        "provider",
        "reason",
        "org",
        "identifier",
        "forwarded_to",
    ]
    assert "recorded" not in got[2] and "differs" not in got[2]
    assert "1 of 2 requests decided otherwise than the proxy recorded" in r.stderr
    table = run("explain", p, "--mapping", mapping).stdout.splitlines()
    assert table[0].split()[-1] == "recorded"
    assert table[1].endswith(" =")
    assert (
        "≠ provider scalekit, reason sticky, org newcompany.com, identifier sticky cookie, forwarded_to scalekit"
        in table[2]
    )


def test_migrated_org_goes_to_scalekit_and_stays_there(mapping, flow_file):
    run("migrate", "megasoft.com", "--mapping", mapping)
    got = rows(run("explain", flow_file, "--mapping", mapping, "--json").stdout)
    assert {(r[2], r[4]) for r in got} == {("scalekit", "megasoft.com")}


def test_nothing_readable_exits_1(mapping, tmp_path):
    p = tmp_path / "x.har"
    p.write_text(json.dumps({"log": {"entries": [{"request": {}}, "junk"]}}))
    r = run("explain", p, "--mapping", mapping)
    assert r.returncode == 1 and "entry 1 skipped" in r.stderr and "entry 2 skipped" in r.stderr
    p.write_bytes(b"\x00\x01 not a capture")
    r = run("explain", p, "--mapping", mapping)
    assert r.returncode == 1 and "cannot read" in r.stderr
    r = run("explain", tmp_path / "missing.mitm", "--mapping", mapping)
    assert r.returncode == 1


def test_read_but_for_another_host_exits_0_and_says_so(mapping, tmp_path):
    """CONTRACT: exit 0 when the file was read; entries for a host the mapping does not serve are
    reported and skipped, never the whole file."""
    steps = [dict(s, host="other.example") for s in captures.login_steps()]
    p = tmp_path / "elsewhere.har"
    p.write_text(json.dumps(captures.har_document(steps, broken=False)))
    r = run("explain", p, "--mapping", mapping)
    assert r.returncode == 0, r.stderr
    assert "is not served by the mapping" in r.stderr and "right mapping" in r.stderr and r.stdout.strip() == ""


def test_usage_errors_exit_2(mapping):
    assert run("explain").returncode == 2
    assert run("explain", "x", "--bogus").returncode == 2
    assert run().returncode == 2


def test_a_sanitized_har_replays_no_cookie_and_says_so(mapping, tmp_path):
    """A HAR exported sanitized carries no cookies: no request presents the router's, and explain
    says why the sticky rows are missing."""
    p = tmp_path / "sanitized.har"
    p.write_text(json.dumps(captures.har_document(captures.login_steps(), cookies=False)))
    r = run("explain", p, "--mapping", mapping, "--json")
    assert rows(r.stdout)[2][2:] == ("legacy", "default", None)
    assert "no request in it carries a cookie" in r.stderr


FLOWS = pathlib.Path(__file__).parents[1] / "flows"


@pytest.mark.parametrize("capture", sorted([*FLOWS.glob("*.mitm"), *FLOWS.glob("*.har")]), ids=lambda p: p.name)
def test_recorded_e2e_flows_explain_as_expected(capture):
    expected = json.loads(capture.with_name(capture.stem + ".expected.json").read_text())
    r = run("explain", capture, "--mapping", capture.with_name(capture.stem + ".mapping.toml"), "--json")
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    got = [{k: row[k] for k in ("method", "path", "provider", "reason", "org")} for row in out]
    assert got == expected
    if capture.suffix == ".mitm":  # recorded through the router: its own decisions are in the file
        assert all(row["recorded"] is not None and row["differs"] == [] for row in out), out


def test_cli_and_offline_modules_do_not_import_mitmproxy():
    import subprocess
    import sys

    code = (
        "import sys, routing.cli, routing.har, routing.redact, routing.replay, routing.mapping_edit; "
        "from routing.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('mitmproxy')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=pathlib.Path(__file__).parents[2],
    ).stdout
    assert out.strip() == "[]"


def test_with_the_proxys_key_a_cookie_that_does_not_verify_is_ignored(mapping, tmp_path):
    """SSO_ROUTER_SECRET is the key the live proxy signed with: a cookie it does not verify (forged,
    or from another deployment) was ignored by the proxy, and is by the replay."""
    steps = [dict(ASSET, cookie=captures.live_cookie("scalekit", "newcompany.com"))]
    p = tmp_path / "forged.mitm"
    captures.write_flow_file(p, steps)
    got = rows(
        run("explain", p, "--mapping", mapping, "--json", env={"SSO_ROUTER_SECRET": captures.LIVE_KEY.decode()}).stdout
    )
    assert got[0][2:] == ("scalekit", "sticky", "newcompany.com")
    got = rows(run("explain", p, "--mapping", mapping, "--json", env={"SSO_ROUTER_SECRET": "another key"}).stdout)
    assert got[0][2:] == ("legacy", "default", None)
