"""The mapping watcher: polls the file's stat on the event loop, reloads it in a thread."""

from __future__ import annotations

import asyncio
import logging

from ..metrics import Metrics
from ..reload import MappingHolder

log = logging.getLogger("sso_router")
RELOAD_INTERVAL = 0.5  # seconds between mapping mtime polls


async def watch_mapping(holder: MappingHolder, metrics: Metrics) -> None:
    while True:
        await asyncio.sleep(RELOAD_INTERVAL)
        if not holder.changed():
            continue  # the common case: a stat on the loop, no thread hand-off
        try:
            result = await asyncio.to_thread(holder.reload_if_changed)
        except Exception as e:  # noqa: BLE001 — the watcher must outlive any one bad read
            log.warning(f"sso-router: mapping reload failed: {type(e).__name__}: {e}")
            continue
        if result.status == "ok":
            metrics.mapping_reload("ok")
            metrics.set_gauge("sso_router_mapping_last_reload_ok", 1)
            log.info(f"sso-router: mapping {holder.path} reloaded: {result.message}")
        elif result.status == "rejected":
            metrics.mapping_reload("failed")
            metrics.set_gauge("sso_router_mapping_last_reload_ok", 0)
            log.warning(f"sso-router: mapping {holder.path} NOT reloaded, keeping the last good one: {result.message}")
