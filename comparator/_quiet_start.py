"""Preloaded first by the workers' forkserver (``executor._context``): a worker whose start-up finds its pool's
shared locks already gone exits without a traceback.

On Ctrl-C the parent tears its pool down at once, unlinking the pool's named semaphores; a worker the
forkserver forked a moment before may still be reading its state, and rebuilding a lock
(``multiprocessing.synchronize.SemLock.__setstate__``) then raises FileNotFoundError, which the forkserver's
child prints through ``sys.excepthook`` onto the terminal the user just interrupted. That worker had nothing
to run and nobody to report to; every other error at start-up (a bad pickle, an import that fails) is
printed as before.
"""
from __future__ import annotations

import sys

_default = sys.excepthook


def _rebuilding_a_lock(tb) -> bool:
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "__setstate__" and code.co_filename.endswith("synchronize.py"):
            return True
        tb = tb.tb_next
    return False


def _hook(kind, value, tb) -> None:
    if issubclass(kind, FileNotFoundError) and _rebuilding_a_lock(tb):
        return
    _default(kind, value, tb)


sys.excepthook = _hook
