"""Decisions at a glance in mitmweb: its flow list gets the ``comment`` column (the decision in
words) unless the user chose ``web_columns``, and each flow is marked (``flow.marked``) by the
provider that got it, so a misroute stands out in a list of hundreds."""

from __future__ import annotations

from typing import Any

from ..model import Decision, Reason, RouterSettings
from . import mitm12

# mitmproxy's emoji names (``mitmproxy.utils.emoji``): mitmweb and the console show the emoji for a
# name, and their default marker (🔴) for anything else, a bare emoji included.
LEGACY = ":orange_circle:"  # 🟠 default_provider
TARGET = ":large_blue_circle:"  # 🔵 migration_target
DEFAULT = ":white_circle:"  # ⚪ a `default` decision: nothing named an org
OTHER = ":purple_circle:"  # 🟣 any other provider


def mark(d: Decision, s: RouterSettings) -> str:
    if d.reason is Reason.DEFAULT:
        return DEFAULT
    if d.forward_to == s.migration_target:
        return TARGET
    return LEGACY if d.forward_to == s.default_provider else OTHER


def under_mitmweb(opts: Any) -> bool:
    """True under mitmweb (it declares ``web_columns``); then, unless the user set ``web_columns``,
    the ``comment`` column is added to mitmweb's default ones (mitmweb hides comments otherwise)."""
    if "web_columns" not in opts:
        return False
    if mitm12.option_is_default("web_columns") and "comment" not in opts.web_columns:
        opts.update(web_columns=[*opts.web_columns, "comment"])
    return True
