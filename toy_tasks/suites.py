"""The named suites: ``quick`` (minutes on two cores: its modular tasks stay small, whole tables), ``standard``
(every task at its defaults: modular arithmetic at p = 37, the cube at 41, from part of its table), ``scaling`` (rising knobs)."""
from __future__ import annotations

from .registry import factories

QUICK = [
    ("modular_addition", {"p": 7}),
    ("modular_multiplication", {"p": 5}),
    ("parity", {"n": 4}),
    ("majority", {"n": 3}),
    ("multiplexer", {"k": 1}),
    ("maximum", {"bits": 3}),
    ("absolute_difference", {"bits": 3}),
    ("running_parity", {"length": 8}),
    ("running_sum_mod", {"k": 3, "length": 6}),
    ("binary_addition", {"length": 6}),
    ("first_index", {"values": 3, "length": 4}),
    ("contains", {"values": 3, "length": 4}),
]

# Modular arithmetic: the whole table below 31 (the Latin-square limit), then the grokking regime up to
# Nanda et al.'s p = 113, where each task states the share of its table given (``modular.grokking_fraction``).
GROKKED_MODULI = (31, 37, 43, 59, 79, 97, 113)

SCALING = (
    [("modular_addition", {"p": p}) for p in (5, 7, 11, 13, 17, 23, *GROKKED_MODULI)]
    + [("modular_multiplication", {"p": p}) for p in (5, 7, 11, 13, 17, *GROKKED_MODULI)]
    + [("parity", {"n": n}) for n in (3, 4, 6, 8, 10)]
    + [("majority", {"n": n}) for n in (3, 5, 7, 9)]
    + [("absolute_difference", {"bits": b}) for b in (2, 3, 4, 5, 6)]
    + [("median_of_three", {"bits": b}) for b in (2, 3, 4, 5)]
    + [("running_sum_mod", {"k": k, "length": 6}) for k in (2, 3, 4, 5, 7)]
    + [("divisibility", {"k": k, "length": 10}) for k in (2, 3, 5, 7)]
    + [("parity_last_k", {"k": k, "length": 10}) for k in (2, 3, 4, 5)]
    + [("first_index", {"values": 4, "length": n}) for n in (2, 3, 4, 5, 6)]
    + [("argmax", {"values": v, "length": 4}) for v in (2, 3, 4, 6)]
)


def _standard():
    return [(name, {}) for name in sorted(factories())]


SUITES = {"quick": QUICK, "standard": _standard, "scaling": SCALING}
