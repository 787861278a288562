"""Content-Encoding decoded within a bound; anything else is refused with ExtractError."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from routing.errors import ExtractError
from routing.extract.bodies import decode_body

DATA = b"email=a%40newcompany.com&x=" + b"y" * 1000
PACK = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("enc", sorted(PACK))
def test_roundtrip_and_bound(enc):
    packed = PACK[enc](DATA)
    assert decode_body(packed, enc.upper(), 10_000) == DATA
    with pytest.raises(ExtractError, match="max_body"):
        decode_body(PACK[enc](b"z" * 50_000), enc, 10_000)


def test_raw_deflate_is_accepted():
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert decode_body(c.compress(DATA) + c.flush(), "deflate", 10_000) == DATA


@pytest.mark.parametrize(
    "enc,raw,why",
    [
        ("gzip", b"not gzip at all", "malformed"),
        ("br", brotli.compress(DATA)[:10], "truncated|malformed"),
        ("zstd", b"\x28\xb5\x2f\xfd garbage", "malformed"),
        ("gzip, br", b"x", "several"),
        ("compress", b"x", "not supported"),
    ],
)
def test_refused(enc, raw, why):
    with pytest.raises(ExtractError, match=why):
        decode_body(raw, enc, 10_000)


def test_identity_passes_through():
    assert decode_body(DATA, "identity", 10) == DATA and decode_body(DATA, "", 10) == DATA
