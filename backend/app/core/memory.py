"""Process-wide memory policy: large buffers go back to the OS when freed.

glibc's malloc raises its mmap threshold every time a large mapped block is freed (up to 32 MB);
after that, large buffers (upload chunks, decoded images, thumbnails) come from heap arenas that
keep the memory once it is freed, one arena per thread. Ten concurrent 13.4 MB uploads left the
process ~60 MB larger than the work needed (bench/uploads_memory.py). A fixed threshold keeps every
block of 128 KiB or more in a mapping of its own, unmapped on free. Same effect as the environment
variable MALLOC_MMAP_THRESHOLD_=131072, but it holds however the process is started.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
LARGE_BLOCK = 128 * 1024


def return_large_blocks_to_os(threshold: int = LARGE_BLOCK) -> bool:
    """Fix malloc's mmap threshold; False where there is no glibc ``mallopt`` to ask."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
