"""Which exchanges are login outcomes, and what the provider's answer says about them.

``exchange_of(view, kind)`` reads the request (cheap: the path, the query, the names of a posted
form's fields); ``classify(kind, exchange, response)`` reads the answer (status, ``Location``, content
type, and — only where ``peek_size`` asks for it — the head of the body). What comes out is a stage,
success or failure, and an error *kind*: a short code such as ``access_denied``. Never a
description, a code, a token or a body.
"""

from __future__ import annotations

import json
import re
from typing import Literal, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from ..extract.html_form import read_form
from ..view import RequestView, ResponseView
from .shapes import path_matches, shapes_for

Exchange = Literal["login_start", "acs", "idp_callback", "continuation", "token"]
Stage = Literal["login", "token"]


class Outcome(NamedTuple):
    stage: Stage
    ok: bool
    kind: str | None = None  # on failure: a short error code (sanitised), else None


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
def exchange_of(view: RequestView, kind: str) -> Exchange | None:
    """What kind of login exchange ``view`` is at a provider of ``kind``; None when it is none."""
    shapes = shapes_for(kind)
    path = view.path
    post = view.method == "POST"
    body = view.body if post and len(view.body) <= MAX_FIELDS_BODY else b""
    if post and path_matches(shapes.token, path):
        return "token"
    if body and b"grant_type" in body:
        grant = _posted_fields(view, body).get("grant_type")
        if isinstance(grant, str):
            return "token" if grant in LOGIN_GRANTS else None
    if post and b"SAMLResponse" in view.body[:4096]:  # the field name leads an IdP's auto-post form
        return "acs"
    names = _query_names(view.query)
    if body and (view.content_type == "application/x-www-form-urlencoded" or view.content_type.endswith("json")):
        names |= set(_posted_fields(view, body))
    if "SAMLResponse" in names:
        return "acs"
    if path.endswith(_LOGIN_START_TAILS) or "response_type" in names:
        return "login_start"
    answer = "code" in names or "error" in names or "id_token" in names
    if answer and ("state" in names or path_matches(shapes.callbacks, path)):
        return "idp_callback"
    if path_matches(shapes.continuations, path):
        return "continuation"
    return None


def _query_names(query: str) -> set[str]:
    if not query:
        return set()
    return {k for k, _ in parse_qsl(query, keep_blank_values=True, max_num_fields=200)}


def _posted_fields(view: RequestView, body: bytes) -> dict[str, object]:
    try:
        if view.content_type.endswith("json"):
            obj = json.loads(body)
            return obj if isinstance(obj, dict) else {}
        return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=200))
    except (ValueError, RecursionError):
        return {}


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
        return Outcome("login", True)
    return None  # to the provider's own next step, to an IdP, or idp_initiated_login: not decided here


def _html_answer(kind: str, body: bytes) -> Outcome | None:
    _, fields = read_form(body, max_size=PEEK_HTML) if b"<form" in body.lower() else (None, {})
    if "error" in fields:  # response_mode=form_post
        k = error_kind(fields["error"])
        return None if k in SILENT else Outcome("login", False, k)
    if fields.get("code"):
        return Outcome("login", True)
    if fields:
        return None  # a form posting on (to an IdP, to the app's SAML ACS): its outcome is not readable here
    answer = shapes_for(kind).html_answer
    return Outcome("login", False, "provider_error_page") if answer == "error_page" else None


def _token_answer(resp: ResponseView) -> Outcome | None:
    status = resp.status
    if 200 <= status < 300:
        return Outcome("token", True)
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
