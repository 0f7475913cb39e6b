"""Imported once by the local pool's server process when a grid has extraction runs: torch, the readers'
libraries, and torch's one-off first-call costs (see `comparator._preload`). Torch runs on one thread, so
no thread pool exists when the server forks."""
from __future__ import annotations

import contextlib

with contextlib.suppress(ImportError):
    from extraction.train import warm_up

    warm_up()
