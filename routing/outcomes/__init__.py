"""Login outcomes from what providers answer: pure functions, no I/O.

- ``exchange_of(view, kind)``: is this request a login exchange (login start, ACS post, IdP callback,
  the provider's continuation, token exchange)?
- ``classify(kind, exchange, response)``: success, failure with an error kind, or None.
- ``departure_keys`` / ``returning_keys``: logins that left for an IdP, and IdP answers coming back.

Each provider kind's shapes, with the documentation they come from, are in ``shapes.SHAPES``.
"""

from __future__ import annotations

from .classify import (
    LOGIN_GRANTS,
    SILENT,
    Exchange,
    Outcome,
    Stage,
    classify,
    classify_upstream_error,
    error_kind,
    exchange_of,
    peek_size,
)
from .departures import departure_keys, returning_candidate_keys, returning_keys
from .shapes import SHAPES, Shapes, shapes_for

__all__ = [
    "LOGIN_GRANTS",
    "SHAPES",
    "SILENT",
    "Exchange",
    "Outcome",
    "Shapes",
    "Stage",
    "classify",
    "classify_upstream_error",
    "departure_keys",
    "error_kind",
    "exchange_of",
    "peek_size",
    "returning_candidate_keys",
    "returning_keys",
    "shapes_for",
]
