import json
import pathlib

import pytest

from routing.har import read_har
from routing.mapping_loader import load_mapping
from routing.replay import Row, Skipped, replay

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
    """A proxy-side capture that records cookies: only requests that carried the router's cookie
    present it (the cross-site POST and the back end's token call did not)."""
    steps = captures.login_steps()[:3]
    steps[1]["cookie"] = "sso_router=whatever-the-live-proxy-signed"
    steps[2]["cookie"] = "auth0=x"  # cookies recorded, not the router's
    p = tmp_path / "c.mitm"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[2][3] == "default"
    steps[2]["cookie"] = "auth0=x; sso_router=live-value"
    captures.write_flow_file(p, steps)
    got = rows(run("explain", p, "--mapping", mapping, "--json").stdout)
    assert got[2][2:] == ("legacy", "sticky", "megasoft.com")


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


def test_replay_directly():
    m = load_mapping(captures.MAPPING.encode())
    data = json.dumps(captures.har_document(captures.login_steps())).encode()
    out = list(replay(read_har(data), m, secret=b"k"))
    got = [(o.method, o.path, o.decision.provider, o.decision.reason.value, o.decision.org)
           for o in out if isinstance(o, Row)]
    assert got == captures.EXPECTED
    assert [o.index for o in out if isinstance(o, Skipped)] == [3, 8]


def test_har_cookies_not_recorded_lax_cookie_skips_cross_site_post():
    """http:// public_url: the router's cookie is SameSite=Lax, so a browser leaves it off a
    cross-site POST; with no cookies in the HAR, the jar follows browser rules."""
    text = captures.MAPPING.replace("https://auth.yourapp.com", "http://auth.yourapp.com")
    m = load_mapping(text.encode())
    steps = [captures.login_steps()[0],
             dict(method="POST", path="/x", body=b"a=b", content_type="application/x-www-form-urlencoded",
                  sec_fetch_site="cross-site", status=200),
             dict(method="POST", path="/x", body=b"a=b", content_type="application/x-www-form-urlencoded",
                  sec_fetch_site="same-origin", status=200)]
    for s in steps:
        s.pop("cookie", None)
    doc = captures.har_document(steps, broken=False)
    for e in doc["log"]["entries"]:
        e["request"]["url"] = e["request"]["url"].replace("https://", "http://")
    out = [o for o in replay(read_har(json.dumps(doc).encode()), m, secret=b"k") if isinstance(o, Row)]
    assert [o.decision.reason.value for o in out] == ["org", "default", "sticky"]


FLOWS = pathlib.Path(__file__).parents[1] / "flows"


@pytest.mark.parametrize("capture", sorted([*FLOWS.glob("*.mitm"), *FLOWS.glob("*.har")]), ids=lambda p: p.name)
def test_recorded_e2e_flows_explain_as_expected(capture):
    expected = json.loads(capture.with_name(capture.stem + ".expected.json").read_text())
    r = run("explain", capture, "--mapping", capture.with_name(capture.stem + ".mapping.toml"), "--json")
    assert r.returncode == 0, r.stderr
    got = [{k: row[k] for k in ("method", "path", "provider", "reason", "org")} for row in map(json.loads, r.stdout.splitlines())]
    assert got == expected


def test_cli_and_offline_modules_do_not_import_mitmproxy():
    import subprocess
    import sys
    code = ("import sys, routing.cli, routing.har, routing.redact, routing.replay, routing.mapping_edit; "
            "from routing.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('mitmproxy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).parents[2]).stdout
    assert out.strip() == "[]"
