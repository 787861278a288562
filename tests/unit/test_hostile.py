"""Hostile inputs (tests/hostile, see its README.md) and fuzzing of the SAML and JWT extractors.

The contract: any input either yields a result or raises ``routing.errors.ExtractError`` — never another
exception — and no entity, external DTD or XInclude is ever resolved. Bombs must stay within the limits:
each call's own memory is measured (``tests/memory.py``: Python allocations, e.g. inflated bytes, and the
resident memory the call added at its peak, libxml2's included).
"""

from __future__ import annotations

import base64
import json
import random
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.errors import ExtractError
from routing.extract.jwt import read_jwt_claims
from routing.extract.saml import parse_saml
from routing.limits import Limits
from tests import memory
from tests.memory import Measured

HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saml"
MANIFEST: list[dict] = json.loads((HOSTILE / "manifest.json").read_text())
LIMITS = Limits()
FORBIDDEN = ("root:", "lol", "XXE", "AAAA", "xi:include", "/bin/", "127.0.0.1")


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def guarded(fn, *args, **kwargs):
    """Run one extractor call; return ("ok", result) or ("error", ExtractError). Fail on anything else/too big."""
    with Measured() as m:
        try:
            return_value = ("ok", fn(*args, **kwargs))
        except ExtractError as e:
            assert isinstance(e.kind, str) and e.kind, "ExtractError.kind must be a non-empty str"
            return_value = ("error", e)
        except BaseException as e:  # the point of the test
            pytest.fail(f"raised {type(e).__module__}.{type(e).__qualname__} instead of ExtractError: {e!r}"[:500])
    memory.check(m.growth)
    return return_value


def calls_for(entry: dict):
    """(label, fn, args, kwargs) for every way this hostile file is fed."""
    data = (HOSTILE / entry["file"]).read_bytes()
    feed = entry["feed"]
    if feed == "xml":
        yield "post", parse_saml, (base64.b64encode(data).decode("ascii"),), {"deflated": False, "limits": LIMITS}
        yield (
            "redirect",
            parse_saml,
            (base64.b64encode(raw_deflate(data)).decode("ascii"),),
            {"deflated": True, "limits": LIMITS},
        )
    elif feed in ("post", "redirect"):
        yield feed, parse_saml, (data.decode("ascii"),), {"deflated": feed == "redirect", "limits": LIMITS}
    elif feed == "value":
        for deflated in (False, True):
            b = "redirect" if deflated else "post"
            yield f"{b}-bytes", parse_saml, (data,), {"deflated": deflated, "limits": LIMITS}
            yield f"{b}-str", parse_saml, (data.decode("latin-1"),), {"deflated": deflated, "limits": LIMITS}
    elif feed == "jwt":
        yield "jwt", read_jwt_claims, (data.decode("utf-8"),), {"limits": LIMITS}
    else:  # pragma: no cover
        raise AssertionError(f"unknown feed {feed!r} in manifest")


def check_fields(label: str, result, fields: dict) -> None:
    for k, v in fields.items():
        got = getattr(result, k)
        if k == "audiences":
            got = list(got)
        assert got == v, f"{label}: {k}: expected {v!r}, got {got!r}"


def test_corpus_files_are_small_and_reproducible():
    import subprocess
    import sys

    for p in HOSTILE.iterdir():
        assert p.stat().st_size < 100 * 1024, f"{p.name} is {p.stat().st_size} bytes"
    listed = {e["file"] for e in MANIFEST}
    on_disk = {p.name for p in HOSTILE.iterdir()} - {"README.md", "manifest.json", "make_corpus.py", "__pycache__"}
    assert listed == on_disk
    r = subprocess.run(
        [sys.executable, str(HOSTILE / "make_corpus.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_hostile_file(entry: dict):
    for label, fn, args, kwargs in calls_for(entry):
        label = f"{entry['file']} [{label}]"
        status, value = guarded(fn, *args, **kwargs)
        expect = entry["expect"]
        if status == "ok":
            text = repr(value)
            for marker in FORBIDDEN:
                assert marker not in text, (
                    f"{label}: result contains {marker!r} (entity/XInclude resolved?): {text[:300]}"
                )
        if expect == "error":
            assert status == "error", f"{label}: expected ExtractError, got {value!r}"[:600]
        elif expect == "ok":
            assert status == "ok", f"{label}: expected a result, got {value!r}"
            check_fields(label, value, entry["fields"])
        elif expect == "error_or_ok":
            if status == "ok":
                check_fields(label, value, entry["fields"])
        elif expect == "safe":
            pass  # checked above: ExtractError, or a result with nothing resolved
        else:  # pragma: no cover
            raise AssertionError(f"unknown expectation {expect!r}")


def test_comment_never_truncates_issuer():
    """`http://idp<!-- x -->.evil` must never be read as `http://idp` (the SAML comment-truncation trick)."""
    for name in ("issuer-comment.xml", "issuer-pi.xml"):
        data = (HOSTILE / name).read_bytes()
        status, value = guarded(parse_saml, base64.b64encode(data).decode(), deflated=False, limits=LIMITS)
        if status == "ok":
            assert value.issuer not in ("http://idp", ".evil"), f"{name}: issuer read as {value.issuer!r}"


def test_oversize_post_value():
    """A 2 MiB SAML document (over max_xml) is refused, whatever its content."""
    xml = (
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_big" Version="2.0">'
        + b"<!-- "
        + b"x" * (2 * 1024 * 1024)
        + b" --></samlp:Response>"
    )
    status, value = guarded(parse_saml, base64.b64encode(xml).decode(), deflated=False, limits=LIMITS)
    assert status == "error", f"expected ExtractError for a {len(xml)}-byte document, got {value!r}"


def test_deflate_bomb_respects_a_small_limit():
    data = (HOSTILE / "deflate-bomb.b64").read_text()
    status, _value = guarded(parse_saml, data, deflated=True, limits=Limits(max_inflate=1024))
    assert status == "error"


def test_inflate_limit_boundary():
    """Whatever the DEFLATE block layout, an inflated size over max_inflate is refused; well under it is read."""
    lim = 4096
    head = (
        b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_b" Version="2.0">'
        b'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example.com</saml:Issuer>'
        b"</samlp:AuthnRequest>"
    )
    for level in (0, 1, 9):
        for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_RLE, zlib.Z_HUFFMAN_ONLY, zlib.Z_FIXED):
            for total in (lim - 64, lim + 1, lim + 7, lim + 5000, lim * 100):
                c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
                xml = head + b" " * (total - len(head))
                value = base64.b64encode(c.compress(xml) + c.flush()).decode()
                status, msg = guarded(parse_saml, value, deflated=True, limits=Limits(max_inflate=lim))
                where = f"level={level} strategy={strategy} inflated={total} limit={lim}"
                if total > lim:
                    assert status == "error", f"{where}: accepted {msg!r}"
                else:
                    assert status == "ok" and msg.issuer == "https://sp.example.com", f"{where}: {msg!r}"


def test_jwt_just_over_limit():
    hdr = base64.urlsafe_b64encode(b'{"alg":"RS256"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"iss": "x", "pad": "p" * 20000}).encode()).rstrip(b"=").decode()
    token = f"{hdr}.{body}.sig"
    assert len(token) > LIMITS.max_jwt
    status, _ = guarded(read_jwt_claims, token, limits=LIMITS)
    assert status == "error"
    status, claims = guarded(read_jwt_claims, token, limits=Limits(max_jwt=len(token) + 1))
    assert status == "ok" and claims["iss"] == "x"


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
CORPUS_XML = sorted(FIXTURES.glob("*.xml"))


def _b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _saml_ok_or_extract_error(value, deflated: bool) -> None:
    status, result = guarded(parse_saml, value, deflated=deflated, limits=LIMITS)
    if status == "ok":
        assert isinstance(result.kind, str)
        assert isinstance(result.audiences, tuple)


@FUZZ
@given(data=st.binary(max_size=4096), deflated=st.booleans())
def test_fuzz_parse_saml_random_bytes(data: bytes, deflated: bool):
    _saml_ok_or_extract_error(data, deflated)


@FUZZ
@given(text=st.text(max_size=4096), deflated=st.booleans())
def test_fuzz_parse_saml_random_text(text: str, deflated: bool):
    _saml_ok_or_extract_error(text, deflated)


@FUZZ
@given(payload=st.binary(max_size=4096), deflated=st.booleans())
def test_fuzz_parse_saml_valid_base64_of_random_bytes(payload: bytes, deflated: bool):
    body = raw_deflate(payload) if deflated else payload
    _saml_ok_or_extract_error(base64.b64encode(body).decode(), deflated)


@FUZZ
@given(
    idx=st.integers(min_value=0, max_value=len(CORPUS_XML) - 1),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 12),
    deflated=st.booleans(),
)
def test_fuzz_parse_saml_mutated_real_messages(idx: int, seed: int, n: int, deflated: bool):
    """Real messages with a few bytes flipped, inserted ('<', '&', ']]>' ...) or cut out."""
    rnd = random.Random(seed)
    data = bytearray(CORPUS_XML[idx].read_bytes())
    for _ in range(n):
        if not data:
            data = bytearray(b"<")
        pos = rnd.randrange(len(data))
        op = rnd.randrange(4)
        if op == 0:
            data[pos] = rnd.randrange(256)
        elif op == 1:
            data[pos:pos] = rnd.choice(
                [b"<", b">", b"&", b"]]>", b"<!--", b"<?", b"&#0;", b"\xff", b"\0", b"<!DOCTYPE x>"]
            )
        elif op == 2:
            del data[pos : pos + rnd.randrange(1, 64)]
        else:
            data = data[:pos]
    body = raw_deflate(bytes(data)) if deflated else bytes(data)
    _saml_ok_or_extract_error(base64.b64encode(body).decode(), deflated)


@FUZZ
@given(token=st.text(max_size=2048))
def test_fuzz_read_jwt_claims_random_text(token: str):
    status, result = guarded(read_jwt_claims, token, limits=LIMITS)
    if status == "ok":
        assert isinstance(result, dict)


@FUZZ
@given(parts=st.lists(st.binary(max_size=512), min_size=1, max_size=5))
def test_fuzz_read_jwt_claims_random_segments(parts: list[bytes]):
    status, result = guarded(read_jwt_claims, ".".join(_b64u(p) for p in parts), limits=LIMITS)
    if status == "ok":
        assert isinstance(result, dict)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(header=_json, payload=_json, sig=st.binary(max_size=64))
def test_fuzz_read_jwt_claims_json_segments(header, payload, sig: bytes):
    token = ".".join([_b64u(json.dumps(header).encode()), _b64u(json.dumps(payload).encode()), _b64u(sig)])
    status, result = guarded(read_jwt_claims, token, limits=LIMITS)
    if status == "ok":
        assert isinstance(header, dict) and isinstance(payload, dict), "non-object header/payload was accepted"
        assert isinstance(result, dict)


def test_doctype_text_inside_a_comment_or_cdata_is_not_a_dtd():
    from routing.extract.saml import read_saml_xml
    from routing.limits import Limits

    xml = (
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x"><!-- <!DOCTYPE html> -->'
        b"<saml:Issuer>http://idp.test/</saml:Issuer><saml:Assertion><saml:AttributeStatement>"
        b'<saml:Attribute Name="n"><saml:AttributeValue><![CDATA[<!ENTITY x "y">]]></saml:AttributeValue>'
        b"</saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"
    )
    assert read_saml_xml(xml, Limits()).issuer == "http://idp.test/"
