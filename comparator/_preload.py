"""Imported once by the local pool's server process, before it forks a process per run.

Everything here is start-up that a run would otherwise pay inside its process before its clock starts:
the synthesis route's libraries (`_preload_extraction` adds torch and its first-call costs, for grids with
extraction runs). It starts no threads.
A route whose extra is not installed is skipped; its runs then fail on their own, with their own message.
"""
from __future__ import annotations

import contextlib

import comparator.plugins  # noqa: F401
import comparator.runner  # noqa: F401

with contextlib.suppress(ImportError):
    import synthesis

    synthesis.names()  # loads every method module
