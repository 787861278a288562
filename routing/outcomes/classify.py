"""Which exchanges are login outcomes, and what the provider's answer says about them.

``exchange_of(view, kind)`` reads the request (cheap: the path, and whether the query or a small
posted body names a handful of fields); ``classify(kind, exchange, response)`` reads the answer (status, ``Location``, content
type, and — only where ``peek_size`` asks for it — the head of the body). What comes out is a stage,
success or failure, and an error *kind*: a short code such as ``access_denied``. Never a
description, a code, a token or a body.
"""

from __future__ import annotations

import json
import re
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from ..extract.html_form import read_form
from ..view import RequestView, ResponseView
from .shapes import matchers_for, shapes_for

Exchange = Literal["login_start", "acs", "idp_callback", "continuation", "token"]
Stage = Literal["login", "token"]


class Outcome(NamedTuple):
    stage: Stage
    ok: bool
    kind: str | None = None  # on failure: a short error code (sanitised), else None


LOGIN_OK, TOKEN_OK = Outcome("login", True), Outcome("token", True)  # the common answers, built once
LOGIN_GRANTS = frozenset({"authorization_code", "client_credentials", "password"})  # a refresh is not a login
SILENT = frozenset({"login_required", "interaction_required", "consent_required", "account_selection_required"})
MAX_FIELDS_BODY = 65_536  # a posted form/JSON larger than this is not read for field names
PEEK_JSON = 4096  # head of a token error answer read for its error code
PEEK_HTML = 65_536  # head of an HTML answer to an ACS post / IdP callback read for an auto-post form
_KIND = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,47}")
_LOGIN_START_TAILS = ("/authorize", "/sso-login")


def error_kind(raw: object) -> str:
    """A provider's error code as a bounded, safe label (``INVALID_IDP_RESPONSE : text`` → its code)."""
    if not isinstance(raw, str):
        return "unrecognised_error"
    code = raw.strip().split(" ", 1)[0].split(":", 1)[0].lower()
    return code if _KIND.fullmatch(code) else "unrecognised_error"


# -- the request -------------------------------------------------------------------------------
# Runs for every routed request, so it reads no more than it must: parameter *names* by substring
# (a name is never percent-encoded by a browser or an SDK; one that is merely goes uncounted), a
# value only for ``grant_type``, and a JSON body only when it names one of the fields below.
_FIELDS = ("SAMLResponse", "response_type", "code", "error", "id_token", "state")
_IN_QUERY = tuple((n, n + "=", f"&{n}=") for n in _FIELDS)
_IN_FORM = tuple((n, n.encode() + b"=", f"&{n}=".encode()) for n in _FIELDS)


def exchange_of(view: RequestView, kind: str) -> Exchange | None:
    """What kind of login exchange ``view`` is at a provider of ``kind``; None when it is none."""
    m = matchers_for(kind)
    path = view.path
    names: set[str] = set()
    if view.method == "POST":
        if m.token(path):
            return "token"
        body = view.body
        if body.startswith(b"SAMLResponse=") or body.find(b"&SAMLResponse=", 0, 4096) >= 0:
            return "acs"  # the field leads an IdP's auto-post form; a big body is still an ACS post
        if body and len(body) <= MAX_FIELDS_BODY:
            grant, names = _posted(view, body)
            if grant is not None:
                return "token" if grant in LOGIN_GRANTS else None
    if path.endswith(_LOGIN_START_TAILS):
        return "login_start"
    if query := view.query:
        names.update(n for n, first, later in _IN_QUERY if query.startswith(first) or later in query)
    if not names:
        return "continuation" if m.continuations(path) else None
    if "SAMLResponse" in names:
        return "acs"
    if "response_type" in names:
        return "login_start"
    if ("code" in names or "error" in names or "id_token" in names) and ("state" in names or m.callbacks(path)):
        return "idp_callback"
    return "continuation" if m.continuations(path) else None


def _posted(view: RequestView, body: bytes) -> tuple[str | None, set[str]]:
    """(``grant_type``'s value, if posted; the ``_FIELDS`` a form or JSON body carries)."""
    ct = view.content_type
    if ct == "application/x-www-form-urlencoded":
        if body.startswith(b"grant_type=") or b"&grant_type=" in body:
            value = body.split(b"grant_type=", 1)[1].split(b"&", 1)[0].decode("latin-1")
            return (unquote_plus(value) if "%" in value or "+" in value else value), set()
        return None, {n for n, first, later in _IN_FORM if body.startswith(first) or later in body}
    if ct.endswith("json") and (b'"grant_type"' in body or any(f'"{n}"'.encode() in body for n in _FIELDS)):
        try:
            obj = json.loads(body)
        except (ValueError, RecursionError):
            return None, set()
        if isinstance(obj, dict):
            grant = obj.get("grant_type")
            return (grant if isinstance(grant, str) else None), {n for n in _FIELDS if n in obj}
    return None, set()


# -- the response ------------------------------------------------------------------------------
def peek_size(exchange: Exchange | None, status: int, content_type: str) -> int:
    """How many bytes of the response body ``classify`` needs (0: none)."""
    if exchange == "token" and status >= 400 and content_type.endswith("json"):
        return PEEK_JSON
    if exchange in ("acs", "idp_callback") and 200 <= status < 300 and content_type == "text/html":
        return PEEK_HTML
    return 0


def classify(kind: str, exchange: Exchange | None, resp: ResponseView) -> Outcome | None:
    """The outcome a provider's answer carries, or None when it carries none (yet)."""
    if exchange is None:
        return None
    if exchange == "token":
        return _token_answer(resp)
    status = resp.status
    if 300 <= status < 400:
        return _redirect(resp.location) if resp.location else None
    if exchange == "continuation":
        return None
    if status >= 500:
        return Outcome("login", False, "http_5xx")
    if status >= 400:
        return Outcome("login", False, "http_4xx")
    if 200 <= status < 300 and exchange in ("acs", "idp_callback") and resp.content_type == "text/html":
        return _html_answer(kind, resp.body)
    return None


def classify_upstream_error(exchange: Exchange | None) -> Outcome | None:
    """A login exchange whose provider could not be reached (connect, TLS, timeout) failed."""
    if exchange is None:
        return None
    return Outcome("token" if exchange == "token" else "login", False, "upstream_error")


def _redirect(location: str) -> Outcome | None:
    if "error=" not in location and "code=" not in location:
        return None  # most redirects (to an IdP with a SAMLRequest, to a hosted page): nothing to parse
    try:
        u = urlsplit(location)
    except ValueError:
        return None
    params = dict(parse_qsl(u.query, max_num_fields=200))
    if u.fragment:  # response_mode=fragment
        params.update(parse_qsl(u.fragment, max_num_fields=200))
    if "error" in params:
        k = error_kind(params["error"])
        return None if k in SILENT else Outcome("login", False, k)
    if params.get("code") and "SAMLRequest" not in params and "response_type" not in params:
        return LOGIN_OK
    return None  # to the provider's own next step, to an IdP, or idp_initiated_login: not decided here


def _html_answer(kind: str, body: bytes) -> Outcome | None:
    _, fields = read_form(body, max_size=PEEK_HTML) if b"<form" in body.lower() else (None, {})
    if "error" in fields:  # response_mode=form_post
        k = error_kind(fields["error"])
        return None if k in SILENT else Outcome("login", False, k)
    if fields.get("code"):
        return LOGIN_OK
    if fields:
        return None  # a form posting on (to an IdP, to the app's SAML ACS): its outcome is not readable here
    answer = shapes_for(kind).html_answer
    return Outcome("login", False, "provider_error_page") if answer == "error_page" else None


def _token_answer(resp: ResponseView) -> Outcome | None:
    status = resp.status
    if 200 <= status < 300:
        return TOKEN_OK
    if status >= 500:
        return Outcome("token", False, "http_5xx")
    if status < 400:
        return None
    kind = "http_4xx"
    if resp.body and resp.content_type.endswith("json"):
        try:
            obj = json.loads(resp.body[:PEEK_JSON])
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            err = obj.get("error")
            if isinstance(err, dict):  # Google APIs: {"error": {"code": 400, "message": "INVALID_IDP_RESPONSE : ..."}}
                err = err.get("message")
            if err is not None:
                kind = error_kind(err)
    return Outcome("token", False, kind)
