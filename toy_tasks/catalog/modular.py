"""Modular arithmetic on two residues: ``(a op b) % p``; the knob is the modulus ``p``.

The grokking regime. From a modulus of ``GROK_FROM`` on, a task states the share of its table given as
examples (``Spec.example_fraction``, honoured by ``Task.example_set``'s default, so both routes get the same
inputs): a network trained on part of the table under weight decay generalises to the rest (grokking,
Nanda et al. 2023), and its mechanism is the known one (key frequencies of the embeddings) that ``fourier``
reads. Below it the whole table is given: at p <= 13 no network can generalise from half of it (a Latin
square: a held-out label may never appear in its row or column), and between 13 and ``GROK_FROM`` grokking
was not measured here. The share falls as p grows, because what grokking needs is enough
examples, not a share: measured on one loaded core (BENCHMARKS.md, "Grokked modular arithmetic"), an
embedding MLP from 60% of the table was exact on the whole domain at p = 31 for 1 seed of 3 (the others
settled a few inputs short) and at p = 37 and 43 for 3 of 3 in 3-7 s; from 70% at p = 31, 2 of 3 (the third
one input short); at p = 59, 40% left (a+b) one input short at seed 0 after 43 s, 50% was exact at seeds 0
and 1 in 4-5 s; from p = 79 on, 40% was exact for (a+b) and (a*b) up to p = 113 (30% did not within 15 s).
So the standard suite's modulus is 37, the smallest at which three seeds grokked; the cube's is 41
(``CUBIC_P``), where a^3 is a bijection.

A map that merges residues (a square: two to one; a cube at p = 1 mod 3: three to one) needs a larger share
to be exact (``many_to_one``), and with it the table over the merged values is nearly all given: each of its
cells has two to four chances to be drawn. At p = 37 the squares' networks then look (a^2, b^2) up rather
than grow a clock over a^2 (``fourier`` names them "lookup"); fewer examples (30-50% at p = 37) were not
exact within 40 s. At p = 79 from 40%, 2 of 6 networks (squares and difference of squares, seeds 0-2) were
exact on the whole table within 60 s, both clocks over a^2 with the splice >= 0.99, the others 1-19 inputs
short; from 50% (sum of squares, seeds 0-2) 2 clocks with the splice 1.000, the third exact but one input on
a near-tie. The squares keep p = 37 (synthesis already times out there; a 79 x 79 table costs both routes more).
"""
from __future__ import annotations

import math
from typing import Callable

from programs import Int

from ..problem import MAX_ENUMERATED
from ..registry import FAMILY_OPERATORS, Spec, task_family
from ._util import at_least, program

FAMILY_OPERATORS["modular"] = ("+", "-", "*", "%")

GROK_FROM = 31  # the smallest modulus whose table is given in part (the grokking regime)
# (smallest modulus, share of the table given as examples) for moduli from GROK_FROM on; measured, see above
GROK_FRACTIONS = ((31, 0.7), (37, 0.6), (59, 0.5), (79, 0.4))
DEFAULT_P = 37  # the standard suite's modulus: the smallest prime at which every seed tried grokked
# The cube's: at p = 1 mod 3 (37 among them) a^3 takes (p - 1) / 3 + 1 values, 13 at p = 37, and its grokked
# networks look (a^3, b) up in a table the examples nearly cover, with no few waves over a^3 to read (splice
# 0.41-0.42, seeds 0-2); at p = 2 mod 3 the cube is a bijection, and at 41 every seed tried (0-2, 60% of the
# table) grew a clock over a^3 with the splice 1.000 in 5.5-6.8 s. BENCHMARKS.md, "Grokked modular arithmetic".
CUBIC_P = 41


def grokking_fraction(p: int, many_to_one: int = 1) -> float | None:
    """The share of the p x p table a modular task states as its examples: None (the whole table) below
    ``GROK_FROM``, else the share s of the largest ``GROK_FRACTIONS`` entry at or below p; None again when the
    table is too large to enumerate (the default examples are then a sample, ``Task.example_set``).

    ``many_to_one``: how many residues an input's map sends to one value (2 for a square, gcd(3, p - 1) for a
    cube): the unseen share 1 - s is divided by it. Measured at p = 37 (seed 0): from 60%, (a^2 + b^2),
    (a^2 - b^2) and (a^3 + b) stopped 1-24 inputs short of exact; from 80% the squares were exact, the cube
    one input short; from 90% the cube was exact."""
    if p < GROK_FROM or p * p > MAX_ENUMERATED:
        return None
    share = [share for start, share in GROK_FRACTIONS if start <= p][-1]
    return round(1.0 - (1.0 - share) / many_to_one, 3)


# the largest modulus at which the grokking shares were measured (Nanda et al.'s): a user's table larger than
# this keeps the rule by size (``Task.example_set``)
GROK_MEASURED_UP_TO = 113


def signature_fraction(inputs, kind: str, arity: int) -> float | None:
    """The share of its table a user's task (``from_program``, ``from_function``) states when it states none:
    ``grokking_fraction(m)`` for a function with one answer of two scalar inputs over the same residues
    0..m-1, ``GROK_FROM <= m <= GROK_MEASURED_UP_TO``; None (the rule by size) otherwise.

    Chosen from the signature alone, never from the answers: the default example set is what both routes
    get, so it must not depend on the function (which neither route may see). A function of that signature
    need not be modular arithmetic (max(a, b) is not); it then gets part of its table too, which a
    synthesizer that needs a handful of examples does not miss, and the verdict is taken on the whole table
    all the same. A modular one gets the share at which a network groks into the mechanism ``fourier``
    reads; trained on the whole table it stops as soon as it is exact, before weight decay has cleaned its
    embeddings (BENCHMARKS.md, "Grokked modular arithmetic"). Pass ``example_fraction=1.0`` for the whole
    table."""
    scalars = [d for d in inputs.values() if isinstance(d, Int)]
    if kind != "function" or arity != 1 or len(scalars) != 2 or len(inputs) != 2:
        return None
    m = scalars[0].size
    if any(d.lo != 0 or d.size != m for d in scalars) or not GROK_FROM <= m <= GROK_MEASURED_UP_TO:
        return None
    return grokking_fraction(m)


def _modular(name: str, p: int, expr: str, definition: Callable[[int, int], int], many_to_one: int = 1) -> Spec:
    at_least(name, "p", p, 2, 1 << 15)
    return Spec(program(name, ["a", "b"], [f"return ({expr}) % {p}"]), {"a": Int(0, p), "b": Int(0, p)}, difficulty=p,
                definition=definition, example_fraction=grokking_fraction(p, many_to_one))


@task_family("modular", p=DEFAULT_P)
def modular_addition(p: int) -> Spec:
    """(a + b) mod p."""
    return _modular("modular_addition", p, "a + b", lambda a, b: (a + b) % p)


@task_family("modular", p=DEFAULT_P)
def modular_subtraction(p: int) -> Spec:
    """(a - b) mod p."""
    return _modular("modular_subtraction", p, "a - b", lambda a, b: (a - b) % p)


@task_family("modular", p=DEFAULT_P)
def modular_multiplication(p: int) -> Spec:
    """(a * b) mod p."""
    return _modular("modular_multiplication", p, "a * b", lambda a, b: (a * b) % p)


@task_family("modular", p=DEFAULT_P)
def modular_sum_of_squares(p: int) -> Spec:
    """(a^2 + b^2) mod p."""
    return _modular("modular_sum_of_squares", p, "a * a + b * b", lambda a, b: (a**2 + b**2) % p, many_to_one=2)


@task_family("modular", p=DEFAULT_P)
def modular_difference_of_squares(p: int) -> Spec:
    """(a^2 - b^2) mod p."""
    return _modular("modular_difference_of_squares", p, "a * a - b * b", lambda a, b: (a**2 - b**2) % p, many_to_one=2)


@task_family("modular", p=DEFAULT_P)
def modular_linear_combination(p: int) -> Spec:
    """(2a + 3b) mod p."""
    return _modular("modular_linear_combination", p, "2 * a + 3 * b", lambda a, b: (2 * a + 3 * b) % p)


@task_family("modular", p=CUBIC_P)
def modular_cubic(p: int) -> Spec:
    """(a^3 + b) mod p."""
    return _modular("modular_cubic", p, "a * a * a + b", lambda a, b: (a**3 + b) % p, many_to_one=math.gcd(3, p - 1))
