"""Writes the hostile-input corpus next to this file, deterministically.

    python tests/hostile/make_corpus.py          # (re)write every file + manifest.json
    python tests/hostile/make_corpus.py --check  # exit 1 if a file on disk differs

Every file stays under 100 KB; the deflate bombs are ~16 KB of base64 that inflate to 12 MiB.
``README.md`` (the table of what each file is) is written from the same list.
``manifest.json`` tells tests/unit/test_hostile.py how to feed each file and what to expect:

feed
    ``xml``       raw XML bytes: the test base64-encodes them (POST) and deflates+base64s them (Redirect)
    ``post``      the file *is* the SAMLResponse/SAMLRequest value: parse_saml(..., deflated=False)
    ``redirect``  the file *is* the SAMLRequest value: parse_saml(..., deflated=True)
    ``value``     the file is a parameter value of unknown binding: fed to both bindings as-is
    ``jwt``       the file is a compact JWT: read_jwt_claims()
expect
    ``error``     must raise ExtractError
    ``safe``      ExtractError, or a result that resolved no entity (no ``root:``/``lol``/``XXE`` in it)
    ``ok``        must parse, and the listed ``fields`` must match
    ``error_or_ok``  ExtractError or a result whose listed ``fields`` match (a policy choice, see README)
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAX_FILE = 100 * 1024

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def response(issuer_xml: str, *, rid: str = "_hostile1", doctype: str = "", prolog: bool = True) -> bytes:
    """A minimal SAML Response with a plaintext assertion; ``issuer_xml`` is the raw Issuer content."""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if prolog else ""
    return (
        f"{head}{doctype}"
        f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
        f'IssueInstant="2024-01-01T00:00:00Z" Destination="https://sp.example.com/acs" InResponseTo="_req1">'
        f"<saml:Issuer>{issuer_xml}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f'<saml:Assertion ID="_a1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z">'
        f"<saml:Issuer>{issuer_xml}</saml:Issuer>"
        f"<saml:Subject><saml:NameID>user@example.com</saml:NameID></saml:Subject>"
        f"<saml:Conditions><saml:AudienceRestriction><saml:Audience>https://sp.example.com</saml:Audience>"
        f"</saml:AudienceRestriction></saml:Conditions>"
        f"</saml:Assertion></samlp:Response>"
    ).encode()


def authn_request(extra: str = "") -> bytes:
    return (
        f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_bomb" Version="2.0" '
        f'IssueInstant="2024-01-01T00:00:00Z" Destination="https://idp.example.com/sso">'
        f"<saml:Issuer>https://sp.example.com</saml:Issuer>{extra}</samlp:AuthnRequest>"
    ).encode()


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return c.compress(data) + c.flush()


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def b64u(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OK_FIELDS = {
    "kind": "Response",
    "id": "_hostile1",
    "in_response_to": "_req1",
    "issuer": "https://idp.example.com/",
    "destination": "https://sp.example.com/acs",
    "audiences": ["https://sp.example.com"],
    "name_id": "user@example.com",
}


def build() -> tuple[dict[str, bytes], list[dict]]:
    files: dict[str, bytes] = {}
    manifest: list[dict] = []

    def add(name: str, data: bytes, feed: str, expect: str, what: str, fields: dict | None = None) -> None:
        assert len(data) < MAX_FILE, (name, len(data))
        files[name] = data
        entry = {"file": name, "feed": feed, "expect": expect, "what": what}
        if fields is not None:
            entry["fields"] = fields
        manifest.append(entry)

    # --- entities / DTDs -------------------------------------------------------------
    add(
        "xxe-file.xml",
        response("&xxe;", doctype='<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'),
        "xml",
        "safe",
        "XXE: external entity file:///etc/passwd used as the Issuer",
    )
    add(
        "xxe-http.xml",
        response("&xxe;", doctype='<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/xxe">]>\n'),
        "xml",
        "safe",
        "XXE: external entity http://127.0.0.1:1/ (closed port) used as the Issuer",
    )
    add(
        "xxe-parameter-entity.xml",
        response(
            "&send;",
            doctype='<!DOCTYPE samlp:Response [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd">'
            '%remote;<!ENTITY send "XXE">]>\n',
        ),
        "xml",
        "safe",
        "XXE via an external parameter entity (out-of-band DTD fetch)",
    )
    add(
        "xxe-external-dtd.xml",
        response("https://idp.example.com/", doctype='<!DOCTYPE samlp:Response SYSTEM "file:///etc/passwd">\n'),
        "xml",
        "safe",
        "external DTD subset pointing at file:///etc/passwd",
    )
    laughs = ['<!ENTITY lol "lol">', '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">']
    laughs += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(2, 10)]
    add(
        "billion-laughs.xml",
        response("&lol9;", doctype="<!DOCTYPE samlp:Response [" + "".join(laughs) + "]>\n"),
        "xml",
        "safe",
        "billion laughs: 10^9 'lol' by nested internal entities, in the Issuer",
    )
    add(
        "quadratic-blowup.xml",
        response("&a;" * 2000, doctype='<!DOCTYPE samlp:Response [<!ENTITY a "' + "A" * 20000 + '">]>\n'),
        "xml",
        "safe",
        "quadratic blowup: one 20 KB entity referenced 2000 times (40 MB expanded)",
    )
    add(
        "doctype-only.xml",
        b'<?xml version="1.0"?>\n<!DOCTYPE samlp:Response>\n',
        "xml",
        "error",
        "a DOCTYPE and nothing else (no root element)",
    )
    add(
        "doctype-benign.xml",
        response("https://idp.example.com/", doctype="<!DOCTYPE samlp:Response []>\n"),
        "xml",
        "error_or_ok",
        "a well-formed Response carrying an empty internal DTD subset",
        fields=OK_FIELDS,
    )
    add(
        "xinclude.xml",
        response('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>'),
        "xml",
        "safe",
        "XInclude of file:///etc/passwd inside the Issuer (must not be processed)",
    )

    # --- size / depth ----------------------------------------------------------------
    bomb_xml = authn_request() + b" " * (12 * 1024 * 1024)  # valid XML + 12 MiB trailing whitespace
    add(
        "deflate-bomb.b64",
        b64(deflate(bomb_xml)) + b"\n",
        "redirect",
        "error",
        "SAMLRequest (Redirect): ~16 KB of base64 (12 KB DEFLATE) that inflates to 12 MiB (valid AuthnRequest + whitespace)",
    )
    zero_bomb = b"<" + b"\0" * (12 * 1024 * 1024)
    add(
        "deflate-bomb-zeros.b64",
        b64(deflate(zero_bomb)) + b"\n",
        "redirect",
        "error",
        "raw DEFLATE of 12 MiB of NUL bytes",
    )
    zc = zlib.compressobj(9, zlib.DEFLATED, 15, 9)
    add(
        "deflate-bomb-zlib-wrapped.b64",
        b64(zc.compress(bomb_xml) + zc.flush()) + b"\n",
        "redirect",
        "error",
        "zlib-wrapped (not raw) DEFLATE bomb, 12 MiB, for parsers that also accept zlib headers",
    )
    depth = 10_000
    add(
        "deep-nesting.xml",
        f'<samlp:Response xmlns:samlp="{SAMLP}" ID="_deep" Version="2.0" IssueInstant="2024-01-01T00:00:00Z">'.encode()
        + b"<x>" * depth
        + b"</x>" * depth
        + b"</samlp:Response>",
        "xml",
        "error_or_ok",
        "10,000 nested elements under a Response root",
        fields={"kind": "Response", "id": "_deep", "issuer": None, "audiences": [], "name_id": None},
    )
    add("deep-nesting-bare.xml", b"<a>" * depth + b"</a>" * depth, "xml", "error", "10,000 nested non-SAML elements")

    # --- encoding / transport defects ------------------------------------------------
    good = b64(response("https://idp.example.com/"))
    add(
        "truncated-base64.b64",
        good[: len(good) // 2 + 1] + b"\n",
        "value",
        "error",
        "base64 of a Response cut mid-quantum (length not a multiple of 4)",
    )
    cut = len(good) // 2 // 4 * 4
    add(
        "truncated-base64-aligned.b64",
        good[:cut] + b"\n",
        "value",
        "error",
        "base64 cut on a 4-char boundary: decodes, but the XML is truncated",
    )
    add(
        "non-utf8.bin",
        bytes([0xFF, 0xFE, 0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0xF0, 0x28, 0x8C, 0x28, 0x80]) * 4,
        "value",
        "error",
        "raw invalid UTF-8 bytes as the parameter value",
    )
    add(
        "non-utf8-in-xml.xml",
        response("https://idp.\xff\xfe.example/").replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe"),
        "xml",
        "error",
        "XML declared UTF-8 with raw 0xFF 0xFE bytes in the Issuer",
    )
    add(
        "unknown-encoding.xml",
        response("https://idp.example.com/").replace(b'encoding="UTF-8"', b'encoding="x-bogus-8"'),
        "xml",
        "error",
        "XML declaration naming an unknown encoding",
    )
    add("nul-byte.xml", response("https://idp.example.com/\0evil"), "xml", "error", "NUL byte inside the Issuer text")
    add(
        "base64-of-png.b64",
        b64(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256))) + b"\n",
        "value",
        "error",
        "valid base64 of binary (PNG header + bytes)",
    )
    add(
        "base64-of-json.b64",
        b64(b'{"SAMLResponse": "nope", "iss": "https://idp.example.com/"}') + b"\n",
        "value",
        "error",
        "valid base64 of JSON",
    )
    add(
        "base64-of-html.b64",
        b64(b"<html><body><form><input name=x></form></body></html>") + b"\n",
        "value",
        "error",
        "valid base64 of HTML (well-formed-ish markup, not SAML)",
    )
    add("base64-empty.b64", b"", "value", "error", "empty parameter value")
    add("base64-whitespace.b64", b"   \r\n\t  \n", "value", "error", "parameter value of whitespace only")
    add(
        "saml11-response.xml",
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol" ResponseID="_s11" '
        b'MajorVersion="1" MinorVersion="1"><samlp:Status><samlp:StatusCode Value="samlp:Success"/>'
        b"</samlp:Status></samlp:Response>",
        "xml",
        "error",
        "SAML 1.1 Response (wrong protocol namespace)",
    )
    add(
        "no-namespace-response.xml",
        b'<Response ID="_nons" Version="2.0"><Issuer>https://idp.example.com/</Issuer></Response>',
        "xml",
        "error",
        "a <Response> in no namespace",
    )
    add(
        "trailing-garbage.xml",
        response("https://idp.example.com/") + b"<samlp:Response/>",
        "xml",
        "error",
        "a second root element after the Response",
    )

    # --- Issuer content tricks -------------------------------------------------------
    add(
        "issuer-comment.xml",
        response("http://idp<!-- x -->.evil"),
        "xml",
        "error_or_ok",
        "comment inside Issuer: http://idp<!-- x -->.evil (must never read as 'http://idp')",
        fields={"issuer": "http://idp.evil"},
    )
    add(
        "issuer-pi.xml",
        response("http://idp<?x y?>.evil"),
        "xml",
        "error_or_ok",
        "processing instruction inside Issuer: http://idp<?x y?>.evil",
        fields={"issuer": "http://idp.evil"},
    )
    add(
        "issuer-comment-and-pi-prolog.xml",
        b'<?xml version="1.0"?>\n<?xml-stylesheet href="file:///etc/passwd"?>\n<!-- lead -->\n'
        + response("https://idp.example.com/", prolog=False)
        + b"\n<!-- tail --><?tail pi?>\n",
        "xml",
        "ok",
        "processing instructions and comments before and after the root",
        fields=OK_FIELDS,
    )
    add(
        "issuer-whitespace.xml",
        response("\n   \t https://idp.example.com/ \r\n  \n"),
        "xml",
        "ok",
        "Issuer with surrounding spaces, tabs and newlines (must be trimmed)",
        fields=OK_FIELDS,
    )
    add(
        "issuer-cdata.xml",
        response("<![CDATA[https://idp.example.com/]]>"),
        "xml",
        "ok",
        "Issuer given as a CDATA section",
        fields=OK_FIELDS,
    )
    add(
        "crlf-76.b64",
        b"\r\n".join(good[i : i + 76] for i in range(0, len(good), 76)) + b"\r\n",
        "post",
        "ok",
        "valid Response, base64 wrapped at 76 columns with CRLF (MIME style)",
        fields=OK_FIELDS,
    )
    red = b64(deflate(response("https://idp.example.com/")))
    add(
        "crlf-76-redirect.b64",
        b"\r\n".join(red[i : i + 76] for i in range(0, len(red), 76)) + b"\r\n",
        "redirect",
        "ok",
        "valid deflated Response, base64 wrapped at 76 columns with CRLF",
        fields=OK_FIELDS,
    )

    # --- JWTs ------------------------------------------------------------------------
    hdr = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    claims = {"iss": "https://idp.example.com/", "aud": "client-1", "sub": "user-1", "exp": 4102444800}
    sig = b64u(b"\x01" * 32)
    add("jwt-one-segment.txt", b64u(hdr).encode(), "jwt", "error", "JWT with one segment")
    add(
        "jwt-two-segments.txt",
        f"{b64u(hdr)}.{b64u(claims)}".encode(),
        "jwt",
        "error",
        "JWT with two segments (no signature part)",
    )
    add("jwt-four-segments.txt", f"{b64u(hdr)}.{b64u(claims)}.{sig}.{sig}".encode(), "jwt", "error", "four segments")
    add("jwt-empty-segments.txt", b"..", "jwt", "error", "three empty segments")
    add(
        "jwt-bad-base64.txt",
        f"{b64u(hdr)}.%%%%not*base64%%%%.{sig}".encode(),
        "jwt",
        "error",
        "payload segment outside the base64url alphabet",
    )
    add(
        "jwt-bad-base64-length.txt",
        f"{b64u(hdr)}.{b64u(claims)}A.{sig}".encode(),
        "jwt",
        "error",
        "payload segment of impossible length (4n+1)",
    )
    add(
        "jwt-alg-none.txt",
        f"{b64u({'alg': 'none', 'typ': 'JWT'})}.{b64u(claims)}.".encode(),
        "jwt",
        "safe",
        "alg: none with an empty signature (claims may be read unverified; must not crash)",
    )
    big = dict(claims, pad="x" * 17000)
    add("jwt-huge.txt", f"{b64u(hdr)}.{b64u(big)}.{sig}".encode(), "jwt", "error", "a 22 KB JWT (> 16 KB limit)")
    add(
        "jwt-header-array.txt",
        f"{b64u([1, 2, 3])}.{b64u(claims)}.{sig}".encode(),
        "jwt",
        "error",
        "header is a JSON array, not an object",
    )
    add(
        "jwt-header-string.txt",
        (b64u(b'"RS256"') + "." + b64u(claims) + "." + sig).encode(),
        "jwt",
        "error",
        "header is a JSON string",
    )
    add(
        "jwt-payload-not-json.txt",
        f"{b64u(hdr)}.{b64u(b'this is not json')}.{sig}".encode(),
        "jwt",
        "error",
        "payload is not JSON",
    )
    add(
        "jwt-payload-array.txt",
        f"{b64u(hdr)}.{b64u([claims])}.{sig}".encode(),
        "jwt",
        "error",
        "payload is a JSON array",
    )
    add(
        "jwt-payload-non-utf8.txt",
        (b64u(hdr) + "." + b64u(b'{"iss":"\xff\xfe"}') + "." + sig).encode(),
        "jwt",
        "error",
        "payload bytes are not UTF-8",
    )
    add(
        "jwt-payload-deep.txt",
        f"{b64u(hdr)}.{b64u(b'[' * 5000 + b']' * 5000)}.{sig}".encode(),
        "jwt",
        "error",
        "payload is 5000 nested JSON arrays",
    )
    add(
        "jwt-non-ascii.txt",
        f"{b64u(hdr)}.{b64u(claims)}é.{sig}".encode(),
        "jwt",
        "error",
        "non-ASCII character inside a segment",
    )
    return files, manifest


README_HEAD = """# Hostile inputs for the SAML / JWT extractors

Generated deterministically by `make_corpus.py` (`python tests/hostile/make_corpus.py` rewrites every file,
`--check` verifies them); `manifest.json` is the machine-readable form of the table below and drives
`tests/unit/test_hostile.py`. Every file is < 100 KB; the DEFLATE bombs are ~12 KB compressed and inflate to 12 MiB.

**feed**: `xml` = raw XML, sent base64-encoded (POST) *and* deflated+base64 (Redirect); `post` / `redirect` = the
file is the parameter value for that binding; `value` = a parameter value sent to both bindings as-is;
`jwt` = a compact JWT for `read_jwt_claims`.

**expect**: `error` = must raise `ExtractError`; `safe` = `ExtractError`, or a result in which no entity / XInclude
was resolved (no `root:`, `lol`, `XXE`, `AAAA`, `xi:include` text in it); `ok` = must parse with the listed fields;
`error_or_ok` = either `ExtractError` or the listed fields (a policy choice, e.g. a harmless empty DTD may be refused).

Nothing may raise anything but `ExtractError`; the bombs are checked to stay under 50 MB peak (`tracemalloc`).

| file | bytes | feed | expect | what it is |
| --- | ---: | --- | --- | --- |
"""


def readme(files: dict[str, bytes], manifest: list[dict]) -> bytes:
    rows = []
    for e in manifest:
        what = e["what"].replace("|", "\\|")
        if "fields" in e:
            what += (
                " (expected: "
                + ", ".join(f"`{k}`={json.dumps(v)}" for k, v in e["fields"].items() if k in ("id", "issuer"))
                + ")"
            )
        rows.append(f"| `{e['file']}` | {len(files[e['file']])} | {e['feed']} | {e['expect']} | {what} |")
    return (README_HEAD + "\n".join(rows) + "\n").encode()


def main(argv: list[str]) -> int:
    files, manifest = build()
    files["README.md"] = readme(files, manifest)
    files["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    check = "--check" in argv
    bad = 0
    for name, data in files.items():
        p = HERE / name
        if check:
            if not p.exists() or p.read_bytes() != data:
                print(f"differs: {name}")
                bad += 1
        else:
            p.write_bytes(data)
    if not check:
        print(f"wrote {len(files)} files to {HERE}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
