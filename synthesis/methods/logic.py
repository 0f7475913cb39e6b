"""Two-level logic minimisation for functions of bits: the examples as a truth table, unseen rows as
don't-cares, each answer bit minimised by Quine-McCluskey (sympy's ``SOPform`` and ``POSform``), the
smaller of the two forms written as a program.

The direct-synthesis counterpart of the ``boolean`` extractor, which minimises the truth tables of a
network's hidden units with the same tool: with it, a Boolean task's comparison asks whether reading
the network helped, not whether one route happened to have a logic minimiser. It applies to
functions whose inputs and answers are all 0/1, of at most ``max_variables`` inputs (Quine-McCluskey
is exponential in them; sympy cannot be interrupted, so the limit, not the clock, bounds its time), and
abstains when a minimal form has more than ``max_terms`` products or sums: such a form (parity's
2^(n-1) terms) is a lookup table written out, not a program anyone would read.
"""
from __future__ import annotations

import itertools

import numpy as np

from programs import Binary, Const, Unary, Var
from programs.ast import Expr, size_of

from ..build import function
from ..problem import Budget, Int, Problem
from ..registry import Attempt, synthesizer


@synthesizer("logic")
def logic(max_variables: int = 8, max_terms: int = 16):
    """Two-level logic minimisation (Quine-McCluskey via sympy) of 0/1 functions of bits."""

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        why = _not_applicable(problem, max_variables)
        if why:
            return Attempt(None, "abstained", reasons=[why])
        ops = _operators(problem.operators)
        if ops is None:
            return Attempt(None, "abstained", reasons=["the task's operators have no conjunction, disjunction and "
                                                       "negation (and/or/not, or &, | and ^ / -) to write a formula"])
        names = list(problem.params)
        rows = np.stack([np.asarray(problem.example_inputs[n]).astype(np.int64) for n in names], axis=1)
        outputs = np.asarray(problem.outputs).astype(np.int64)
        outputs = outputs.reshape(len(rows), -1)
        answers, candidates = [], 0
        for j in range(outputs.shape[1]):
            if budget.expired:
                return Attempt(None, "timeout", candidates, ["the budget ran out between answer bits"])
            expr, terms = _minimal(names, rows, outputs[:, j], ops)
            candidates += 2
            if terms > max_terms:
                return Attempt(None, "abstained", candidates,
                               [f"the minimal two-level form of answer bit {j} has {terms} terms (more than {max_terms}); "
                                "that is a table written out, not a program"])
            answers.append(expr)
        return Attempt(function(problem, answers), "solved", candidates)

    return run


def _not_applicable(problem: Problem, max_variables: int) -> str:
    if problem.kind != "function" or problem.sequences:
        return f"logic minimisation reads functions of bits; this task is a {problem.kind} over sequences"
    wide = [n for n, d in problem.inputs.items() if not (isinstance(d, Int) and d.lo >= 0 and d.hi <= 2)]
    if wide:
        return f"inputs {', '.join(wide)} are not bits (0/1); logic minimisation reads functions of bits"
    if len(problem.inputs) > max_variables:
        return (f"{len(problem.inputs)} inputs is more than max_variables={max_variables} (Quine-McCluskey is "
                "exponential in them and cannot be interrupted)")
    values = np.unique(np.asarray(problem.outputs))
    if not set(values.tolist()) <= {0, 1}:
        return "the answers are not bits (0/1); logic minimisation writes 0/1 formulas"
    return ""


def _operators(allowed) -> dict | None:
    """How to write and, or and not with the task's operators (on 0/1 values ``&`` is ``and``, ``|`` is
    ``or``, ``x ^ 1`` and ``1 - x`` are ``not x``)."""
    allowed = set(allowed)
    conj = "and" if "and" in allowed else "&" if "&" in allowed else None
    disj = "or" if "or" in allowed else "|" if "|" in allowed else None
    if "not" in allowed:
        neg = lambda e: Unary("not", e)  # noqa: E731
    elif "^" in allowed:
        neg = lambda e: Binary("^", e, Const(1))  # noqa: E731
    elif "-" in allowed:
        neg = lambda e: Binary("-", Const(1), e)  # noqa: E731
    else:
        neg = None
    if conj is None or disj is None or neg is None:
        return None
    return {"and": conj, "or": disj, "not": neg}


def _minimal(names: list[str], rows: np.ndarray, values: np.ndarray, ops: dict) -> tuple[Expr, int]:
    """The form with the fewest terms (then the smaller) of ``two_level_forms``, with its number of terms."""
    return min(two_level_forms(names, rows, values, ops), key=lambda form: (form[1], size_of(form[0])))


def two_level_forms(names: list[str], rows: np.ndarray, values: np.ndarray, ops: dict | None = None) -> list[tuple[Expr, int]]:
    """The minimal sum of products and product of sums (sympy's Quine-McCluskey) of the 0/1 ``values`` over
    the bit ``rows`` (one column per name), unseen rows as don't-cares, as (expression, number of terms):
    a constant alone when the values are. ``ops`` says how to write and, or and not (``_operators``);
    by default with ``and``, ``or`` and ``not``. Shared with the ``boolean`` extractor, which minimises the
    truth tables of hidden units with it."""
    from sympy import And, Not, Or, Symbol
    from sympy.logic import POSform, SOPform

    ops = ops or _operators(("and", "or", "not"))
    seen = {tuple(int(v) for v in r): int(y) for r, y in zip(rows, values)}
    ones = [list(r) for r, y in seen.items() if y]
    if not ones:
        return [(Const(0), 0)]
    if all(seen.values()):
        return [(Const(1), 0)]
    dont = [list(r) for r in itertools.product((0, 1), repeat=len(names)) if r not in seen]
    syms = [Symbol(n) for n in names]

    def conv(e) -> Expr:
        if isinstance(e, Symbol):
            return Var(e.name)
        if isinstance(e, Not):
            return ops["not"](conv(e.args[0]))
        if isinstance(e, (And, Or)):
            op = ops["and"] if isinstance(e, And) else ops["or"]
            args = sorted((conv(a) for a in e.args), key=str)
            acc = args[0]
            for a in args[1:]:
                acc = Binary(op, acc, a)
            return acc
        return Const(1 if bool(e) else 0)

    # terms: the products of a sum, the sums of a product (a single literal or clause is one)
    return [(conv(form), len(form.args) if isinstance(form, outer) else 1)
            for form, outer in ((SOPform(syms, ones, dont), Or), (POSform(syms, ones, dont), And))]
