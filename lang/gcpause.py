"""Pausing Python's cycle collector while a big tree is built.

Compiling a program with 100,000s of literals creates millions of objects
and no garbage cycles worth collecting; the generational collector would
still scan the growing heap again and again (a third of the compile time
of a megabyte of data). `gc_paused()` turns it off for the body and back on
when the last overlapping pause ends (threads compile concurrently while
filling), if it was on to begin with.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextmanager
def gc_paused():
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()
