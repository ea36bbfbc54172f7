"""Keeping freed memory in the process, for the processes that train and evaluate.

Scoring a batch of users over a large catalogue and each training step allocate blocks of hundreds of
MB (a 984 × 54.5k score matrix is 215 MB; a logits block more). glibc serves blocks above 32 MB with a
fresh ``mmap`` and returns them on ``free``, so every batch faults its pages in again, and with
transparent huge pages the kernel compacts memory to find them: on the project machine (Amazon Beauty,
2 cores) that cost as much system time as the work itself — a GPT epoch took 35 s instead of 18 s and
evaluating the Markov chain 35 s instead of 16 s. Serving those blocks from the heap instead, and
keeping up to 2 GB of freed heap instead of trimming it, lets the next batch reuse the same pages.
numpy's advice to back large arrays with huge pages is turned off too: on this machine the kernel
compacts memory synchronously to honour it, which made the first pass over the heap twice as slow
(Markov's first evaluation on Beauty 13 s with it, 6.5 s without; later passes equal).
"""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

# From glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_KEEP_BYTES = 2**31 - 1  # mallopt takes an int: the most freed heap it can be told to keep


def reuse_freed_memory() -> bool:
    """Tell glibc's allocator to serve large blocks from the heap and keep what is freed (up to 2 GB)
    for reuse, and numpy not to ask for huge pages. True when the allocator took the settings; False
    where there is no glibc (macOS, Windows, musl), which changes nothing but speed.

    For a process that trains or evaluates in its main thread: other threads' large blocks still come
    from ``mmap``, and a long-lived server need not hold its peak."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed it
    set_hugepage = getattr(core.multiarray, "_set_madvise_hugepage", None)
    if set_hugepage is not None:  # numpy >= 1.20: what NUMPY_MADVISE_HUGEPAGE=0 sets at import
        set_hugepage(False)
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; both settings or neither matter, so both are tried.
    return bool(mallopt(_M_MMAP_MAX, 0)) & bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
