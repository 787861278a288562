"""Content-Encoding of untrusted bodies, decoded with a bound on the output.

mitmproxy's own decoder inflates without limit: a 1 MB brotli body can become gigabytes on the
event loop. A body that would exceed the bound, uses an unsupported coding, or is malformed is
not inspected (and is forwarded untouched, like any body over ``max_body``).
"""

from __future__ import annotations

import zlib

from ..errors import ExtractError


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """``raw`` decoded per its Content-Encoding, never more than ``limit`` bytes out."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return raw
    if "," in enc:
        raise ExtractError("body", "several content codings: not inspected")
    if enc in ("gzip", "x-gzip", "deflate"):
        for wbits in (47, -15):  # gzip or zlib header (auto), then raw DEFLATE as some clients send
            d = zlib.decompressobj(wbits)
            try:
                out: bytes = d.decompress(raw, limit + 1)
            except zlib.error:
                continue
            if len(out) > limit or d.unconsumed_tail:
                raise ExtractError("body", f"inflates past max_body ({limit} bytes): not inspected")
            return out
        raise ExtractError("body", f"malformed {enc} body")
    if enc == "br":
        import brotli

        d = brotli.Decompressor()
        try:
            out = d.process(raw, output_buffer_limit=limit + 1)
        except brotli.error as e:
            raise ExtractError("body", "malformed br body") from e
        if len(out) > limit:
            raise ExtractError("body", f"inflates past max_body ({limit} bytes): not inspected")
        if not d.is_finished():
            raise ExtractError("body", "truncated br body")
        return out
    if enc == "zstd":
        import zstandard

        try:
            out = zstandard.ZstdDecompressor().stream_reader(raw).read(limit + 1)
        except zstandard.ZstdError as e:
            raise ExtractError("body", "malformed zstd body") from e
        if len(out) > limit:
            raise ExtractError("body", f"inflates past max_body ({limit} bytes): not inspected")
        return out
    raise ExtractError("body", f"content coding {enc[:20]!r} not supported: not inspected")
