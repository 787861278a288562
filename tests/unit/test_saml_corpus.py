"""parse_saml against real IdPs'/SPs' SAML messages (tests/fixtures/saml, see SOURCES.md there).

Each fixture is sent the ways a browser carries it: HTTP-POST (base64, as text and as bytes, also wrapped at
76 columns with CRLF the way some IdPs emit it) and HTTP-Redirect (raw DEFLATE, then base64). The expected
fields in expected.json were read from the XML by hand, not computed by this code.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from pathlib import Path

import pytest

from routing.errors import ExtractError
from routing.extract.saml import parse_saml
from routing.limits import Limits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "saml"
EXPECTED: dict[str, dict] = {
    k: v for k, v in json.loads((FIXTURES / "expected.json").read_text()).items() if not k.startswith("_")
}
FIELDS = ("kind", "id", "in_response_to", "issuer", "destination", "audiences", "name_id")
LIMITS = Limits()


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def wrap76(b64: bytes) -> bytes:
    return b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)) + b"\r\n"


BINDINGS = {
    "post-str": (lambda xml: base64.b64encode(xml).decode("ascii"), False),
    "post-bytes-crlf76": (lambda xml: wrap76(base64.b64encode(xml)), False),
    "redirect-str": (lambda xml: base64.b64encode(raw_deflate(xml)).decode("ascii"), True),
    # a careless form encoder sends '+' unescaped: the form decoder hands over spaces
    "post-plus-as-space": (lambda xml: base64.b64encode(xml).replace(b"+", b" ").decode("ascii"), False),
    "post-crlf76-plus-as-space": (lambda xml: wrap76(base64.b64encode(xml)).replace(b"+", b" "), False),
    "redirect-plus-as-space": (lambda xml: base64.b64encode(raw_deflate(xml)).replace(b"+", b" ").decode(), True),
}


def _with_pluses(n: int) -> tuple[bytes, bytes]:
    """(XML, its base64) where the base64 has exactly ``n`` '+' signs."""
    import random

    rng = random.Random(n)
    for i in range(100_000):
        noise = "".join(rng.choice("~>?{}|abc/=") for _ in range(48))
        xml = (
            f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_{i}" Version="2.0">'
            f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://idp.example/{noise}'
            f"</saml:Issuer></samlp:Response>"
        ).encode()
        b64 = base64.b64encode(xml)
        if b64.count(b"+") == n:
            return xml, b64
    raise AssertionError(f"no sample with {n} '+'")


@pytest.mark.parametrize("n", range(1, 13))
def test_plus_signs_turned_into_spaces_decode_whatever_their_count(n: int):
    """Today's 4 and 8 (any multiple of 4) decoded strictly, into garbage, once the spaces were
    dropped: every space inside the text is read as the '+' it was."""
    xml, b64 = _with_pluses(n)
    issuer = xml.split(b"<saml:Issuer", 1)[1].split(b">", 1)[1].split(b"<", 1)[0].decode()
    spaced = b64.replace(b"+", b" ")
    assert parse_saml(spaced.decode(), deflated=False, limits=LIMITS).issuer == issuer
    indented = b"\n".join(b"    " + spaced[i : i + 64] for i in range(0, len(spaced), 64))  # and wrapped, indented
    assert parse_saml(indented, deflated=False, limits=LIMITS).issuer == issuer


def as_dict(msg) -> dict:
    got = {f: getattr(msg, f) for f in FIELDS}
    assert isinstance(got["audiences"], tuple), f"audiences should be a tuple, got {type(got['audiences']).__name__}"
    got["audiences"] = list(got["audiences"])
    return got


def test_corpus_is_complete():
    on_disk = sorted(p.name for p in FIXTURES.glob("*.xml"))
    assert on_disk == sorted(EXPECTED), "expected.json and the *.xml fixtures disagree"
    assert len(on_disk) >= 20
    for name, exp in EXPECTED.items():
        assert set(exp) == set(FIELDS), name


@pytest.mark.parametrize("binding", sorted(BINDINGS))
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str, binding: str):
    encode, deflated = BINDINGS[binding]
    xml = (FIXTURES / name).read_bytes()
    msg = parse_saml(encode(xml), deflated=deflated, limits=LIMITS)
    got = as_dict(msg)
    exp = EXPECTED[name]
    mismatches = {f: (exp[f], got[f]) for f in FIELDS if got[f] != exp[f]}
    assert not mismatches, f"{name} via {binding}: field: (expected, got) = {mismatches}"


REDIRECT_VALUES = sorted((FIXTURES / "redirect").glob("*.b64"))


@pytest.mark.parametrize("path", REDIRECT_VALUES, ids=lambda p: p.name)
def test_real_redirect_values(path: Path):
    """The HTTP-Redirect values exactly as the source libraries published them (deflated by real SPs/IdPs)."""
    name = path.name[: -len(".b64")] + ".xml"
    value = path.read_text().strip()
    # fixture integrity: the stored XML is exactly this value inflated
    assert zlib.decompress(base64.b64decode(value), -15) == (FIXTURES / name).read_bytes()
    got = as_dict(parse_saml(value, deflated=True, limits=LIMITS))
    exp = EXPECTED[name]
    mismatches = {f: (exp[f], got[f]) for f in FIELDS if got[f] != exp[f]}
    assert not mismatches, f"{path.name}: field: (expected, got) = {mismatches}"


def test_result_is_frozen():
    name = "adfs-response-1.xml"
    msg = parse_saml(base64.b64encode((FIXTURES / name).read_bytes()).decode(), deflated=False, limits=LIMITS)
    assert dataclasses.is_dataclass(msg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.issuer = "https://evil.example/"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["google-response-1.xml", "python3saml-authnrequest-1.xml"])
@pytest.mark.parametrize("sent_as", ["post value read as deflated", "redirect value read as plain"])
def test_a_value_read_with_the_wrong_binding_is_a_saml_parse_failure(name: str, sent_as: str):
    """A POST value read as if deflated (or a Redirect value as if not) never yields a message: it is
    an ``ExtractError`` of kind ``saml`` (counted as a parse failure; the request is routed by
    whatever else names its org), never a half-read Issuer."""
    xml = (FIXTURES / name).read_bytes()
    if sent_as == "post value read as deflated":
        value, deflated = base64.b64encode(xml).decode(), True
    else:
        value, deflated = base64.b64encode(raw_deflate(xml)).decode(), False
    with pytest.raises(ExtractError) as e:
        parse_saml(value, deflated=deflated, limits=LIMITS)
    assert e.value.kind == "saml"


def test_limits_are_honoured_on_real_messages():
    xml = (FIXTURES / "okta-response-2.xml").read_bytes()  # ~11 KB
    assert len(xml) > 8192
    small = Limits(max_inflate=4096, max_xml=4096)
    with pytest.raises(ExtractError):
        parse_saml(base64.b64encode(raw_deflate(xml)).decode(), deflated=True, limits=small)
    with pytest.raises(ExtractError):
        parse_saml(base64.b64encode(xml).decode(), deflated=False, limits=small)
    # and the same message is fine under the defaults
    assert parse_saml(base64.b64encode(xml).decode(), deflated=False, limits=LIMITS).kind == "Response"
