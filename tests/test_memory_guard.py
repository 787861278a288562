"""The hostile-input memory guards (``tests/memory.py``) measure the call itself: a C allocation made
inside the measured block is seen even after the process has already peaked higher. (Reading
``ru_maxrss`` before and after, as the guards once did, reads zero growth then: it is the
process's peak since it started.)"""

from __future__ import annotations

import ctypes
import resource

import pytest

from tests.memory import Measured, rss_peak_supported

MiB = 2**20
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def touch_c_memory(size: int) -> None:
    """What libxml2 or zlib would do: malloc, write every page, free (tracemalloc sees none of it)."""
    p = libc.malloc(size)
    assert p
    libc.memset(p, 1, size)
    libc.free(p)


@pytest.mark.skipif(not rss_peak_supported(), reason="needs Linux's /proc/self/clear_refs")
def test_a_c_allocation_is_seen_after_a_higher_earlier_peak():
    touch_c_memory(300 * MiB)  # an earlier test raised the process's peak
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    touch_c_memory(150 * MiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 10 * 1024  # the old way: hidden
    with Measured() as m:
        touch_c_memory(150 * MiB)
    assert m.growth.rss_peak >= 140 * MiB, m.growth
    assert m.growth.python_peak < 1 * MiB, m.growth  # and it was no Python allocation


def test_python_allocations_are_seen():
    with Measured() as m:
        block = bytearray(20 * MiB)
        del block
    assert m.growth.python_peak >= 20 * MiB, m.growth
