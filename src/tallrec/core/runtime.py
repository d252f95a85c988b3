"""Process-wide settings that make torch faster on a CPU, applied by the `tallrec` command.

glibc's malloc gives large blocks (above a threshold that adapts up to 32 MiB) their own `mmap`,
and unmaps them when they are freed. A forward pass allocates and frees activations of a few MiB
per layer, so every batch maps fresh pages and the kernel zero-fills them on first touch: in
`studies/allocator/allocator_ab.py` a process that only scores took 0.5-0.8 million page faults per pass
over 64 prompts. Raising the mmap and trim thresholds makes malloc serve such blocks from the heap
and keep freed memory for the next batch: almost no faults, and 1.14-1.22x the speed there. (The
usual alternative, preloading jemalloc or tcmalloc, needs a library installed and set before the
process starts.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied = False


def keep_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 30) -> bool:
    """Tell glibc to keep freed memory for reuse (see the module docstring). Returns whether the
    setting took effect: False on other C libraries (macOS, musl), where nothing is changed."""
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    return _applied
