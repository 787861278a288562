"""Keeping the mapping out of the cyclic GC's walks (bench/README.md has the cost it saves)."""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    """Move what is alive now (mitmproxy, the mapping) out of the cyclic GC's reach: each full
    collection otherwise walks the whole mapping again. Frozen objects are still freed by
    reference counting when a reload replaces them."""
    gc.freeze()


def thaw_heap() -> None:
    gc.unfreeze()
