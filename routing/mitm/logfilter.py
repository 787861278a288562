"""Secrets out of every log record, mitmproxy's own included (its protocol errors quote request
lines and headers: ``Bad HTTP request line: b'GET /cb?code=…'``).

One ``logging.Filter`` rewrites a record's message through ``routing.logsafe.redact`` before any
handler formats it. It sits on the root logger's handlers (mitmdump's terminal log, mitmweb's event
store, the startup error check), where every logger's records end up: a handler's filter runs only
for a record the handler takes, so the DEBUG records nobody shows cost nothing (a filter on each
``mitmproxy`` logger ran for every one of them on the hot path). Installed at load and again at
``running`` (handlers added since), removed in ``done``.
"""

from __future__ import annotations

import logging

from ..logsafe import redact

_DONE = "_sso_router_redacted"


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 — a record whose args don't fit its format: keep it as text
            msg = str(record.msg)
        if record.exc_info:  # a traceback can quote a request too: it joins the message, redacted
            msg = f"{msg}\n{logging.Formatter().formatException(record.exc_info)}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = redact(msg), ()
        setattr(record, _DONE, True)
        return True


FILTER = RedactingFilter("sso-router")


def _targets() -> list[logging.Filterer]:
    return list(logging.getLogger().handlers)


def install() -> None:
    """Idempotent; call again after handlers may have been added (``running``)."""
    for target in _targets():
        if FILTER not in target.filters:
            target.addFilter(FILTER)


def uninstall() -> None:
    for target in _targets():
        target.removeFilter(FILTER)
