"""Runs both routes on equal budgets, verifies, stores, analyses, reports; the tractbench CLI.

Kept light on import: every worker process imports this package before its memory cap applies.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Comparison", "CompareError", "Store", "StoreError", "compare", "grid", "write_report"]

_LAZY = {
    "Comparison": ("comparison", "Comparison"), "CompareError": ("comparison", "CompareError"),
    "compare": ("comparison", "compare"), "grid": ("comparison", "grid"), "Store": ("store", "Store"),
    "StoreError": ("store", "StoreError"), "write_report": ("report", "write_report"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module 'comparator' has no attribute {name!r}")
