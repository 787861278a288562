"""The cyclic GC and the router's long-lived objects.

The mapping keeps out of the GC's walks by its shape (``model.OrgRow``; nothing is frozen per
reload: that pinned whatever was in flight at that moment, for ever). What remains is mitmproxy's
own import-time objects, which every full collection would walk again (bench/README.md has the
pause this costs): they are frozen once per process, at the first ``running()``, after a
collection — before the proxy is ready, so no flow is in flight to be pinned.
"""

from __future__ import annotations

import gc

from .process import ProcessState


def freeze_startup(process: ProcessState) -> bool:
    """Freeze what the process started with, once (a script reload does not freeze again)."""
    if process.heap_frozen:
        return False
    gc.collect()
    gc.freeze()
    process.heap_frozen = True
    return True
