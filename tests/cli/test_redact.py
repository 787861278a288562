"""``sso-router redact`` (routing/cli/redact.py) end to end: a capture made shareable explains the same.
The Redactor's own rules are tests/unit/test_redact.py."""

import base64
import json
import re
import zlib

import pytest

from . import captures
from .conftest import run


def _all_encodings(secret: str) -> list[bytes]:
    from urllib.parse import quote

    return [secret.encode(), quote(secret, safe="").encode()]


def _assert_clean(data: bytes) -> None:
    for s in (*captures.SECRETS, "idt-Secret-Claim-0009", "c2lnbmF0dXJlLXNlY3JldA"):
        for enc in _all_encodings(s):
            assert enc not in data, s
    # nothing that decodes to a secret either (base64 SAML, JWT payloads)
    for blob in re.findall(rb"[A-Za-z0-9+/_-]{40,}={0,2}", data):
        for dec in _decodings(blob):
            for s in captures.SECRETS:
                assert s.encode() not in dec, (s, blob[:40])


def _decodings(blob: bytes) -> list[bytes]:
    out = []
    for alt in (None, b"-_"):
        try:
            raw = base64.b64decode(blob + b"=" * (-len(blob) % 4), altchars=alt)
        except ValueError:
            continue
        out.append(raw)
        try:
            out.append(zlib.decompressobj(-15).decompress(raw, 1 << 20))
        except zlib.error:
            pass
    return out


@pytest.mark.parametrize("fixture", ["flow_file", "har_file"])
def test_redact_removes_secrets_and_explains_the_same(request, mapping, tmp_path, fixture):
    src = request.getfixturevalue(fixture)
    out = tmp_path / ("red" + src.suffix)
    r = run("redact", src, "-o", out, "--mapping", mapping)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    _assert_clean(data)
    a = run("explain", src, "--mapping", mapping, "--json")
    b = run("explain", out, "--mapping", mapping, "--json")
    assert b.returncode == 0, b.stderr

    def rows(out: str) -> list[dict]:  # the HAR's broken entry is left out, so indexes shift
        return [{k: v for k, v in json.loads(ln).items() if k != "index"} for ln in out.splitlines()]

    assert rows(a.stdout) == rows(b.stdout) and len(rows(a.stdout)) == len(captures.EXPECTED)
    assert "1 unreadable entries left out" in r.stderr or fixture == "flow_file"


def test_redacted_har_keeps_no_extras(har_file, tmp_path):
    out = tmp_path / "r.har"
    assert run("redact", har_file, "-o", out).returncode == 0
    doc = json.loads(out.read_text())
    assert "pages" not in doc["log"]
    assert all(not k.startswith("_") for e in doc["log"]["entries"] for k in e)


def test_redact_refuses_to_overwrite_and_bad_input(flow_file, tmp_path):
    assert run("redact", flow_file, "-o", flow_file).returncode == 2
    assert run("redact", flow_file).returncode == 2
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00garbage")
    assert run("redact", bad, "-o", tmp_path / "o").returncode == 1
