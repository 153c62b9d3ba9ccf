"""Memory given back to the system once a worker is idle (glibc's allocator; elsewhere this does nothing).

Decoded pages are buffers of tens of megabytes. glibc raises its mmap threshold each time such a buffer is
freed, so later ones come from the heap, whose free pages it keeps; a trim returns them. (Fewer arenas or a
fixed mmap threshold would keep less under load too, but cost 6 % of page throughput on 2 cores, measured:
memory is given back when the load ends instead.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim() -> None:
    """Return the allocator's free memory, in every arena, to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
