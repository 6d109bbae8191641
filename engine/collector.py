"""Pausing Python's cyclic garbage collector while a burst of long-lived objects is built (a
command's imports, the console's first paint, a file's rows): its full passes over the whole
heap ran again and again and freed nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[bool]:
    """The collector off inside; yields whether it was on before, and turns it back on after
    only if it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield was_enabled
    finally:
        if was_enabled:
            gc.enable()
