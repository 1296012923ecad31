"""How much Python memory a C function keeps after many calls: a missing DECREF grows it on
every call, so the tests of the C parts hold it under a small bound."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable


def memory_kept(work: Callable[[], None], rounds: int) -> int:
    """Bytes of Python memory still held after *rounds* calls of *work*, beyond a first call
    (which may fill caches and interned strings)."""
    work()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
