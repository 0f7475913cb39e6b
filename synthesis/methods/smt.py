"""z3 CEGIS over straight-line component programs (Brahma-style component-based synthesis).

After Jha, Gulwani, Seshia and Tiwari (2010), "Oracle-guided component-based program synthesis",
and Gulwani et al. (2011), with the examples as the oracle.

**Encoding.** A *block* is a straight-line program of ``L`` lines in SSA form. Line ``i`` applies one
component (an operator of ``problem.operators``) to up to three operands; z3 picks, through small
bit-vector selector variables, the operator of each line and where each operand comes from: a
*source* (an input, a constant of ``problem.constants()``, optionally one free constant that z3
chooses) or an earlier line. Every operator is instantiated on every line and per example, and the
selector picks one (``If`` chains). Symmetry breaking, all of it sound (a program it excludes has an
equivalent one that is searched, at the same or a smaller size): every line is used later (so
sizes are disjoint), unused operand slots are 0, commutative operators take ordered operands,
``>``/``>=`` are dropped when ``<``/``<=`` are there, no line twice, adjacent independent lines in
one order, no operand that makes a line trivial (``x + 0``, ``x & x``, ``c and x``, an ``if`` on a
constant ...).

**Arithmetic.** Two ways of reading values, both exact:

- *exact*: 64-bit bit-vectors under ``programs.smt.BV_OPS``, i.e. the language's semantics itself.
  Its ``unsat`` answers are proofs. It is slow (64-bit multipliers and dividers in every line).
- *narrow*: ``w``-bit vectors (``w`` = twice the bits of the largest example value or constant)
  standing for the 64-bit values they sign-extend to; each operator comes with a side condition
  (no overflow) under which its result *is* the 64-bit result (:class:`Narrow`; the tests prove it
  against ``BV_OPS``). Every model is therefore a true fit; ``unsat`` only says that no program whose
  values fit in ``w`` bits fits. Lines on constants alone are left out here (constant folding).

**Programs.** Functions: one block over the scalar inputs, output the last line (``L = 0``: a
selected source), ``L = 0 .. max_components``. Scans and folds: a bounded-width state sketch, ``k =
1 .. max_states`` states, each initialised to a scalar input or a constant of the pool (or, with the
free constant, of ``[-16, 16]``); a step block over (states, loop elements, scalars, constants) of
at most ``update_components`` lines whose outputs are the next states and, for a scan, the value
yielded (computed from the states before the update: this covers yielding before and after the
update, and a yield equal to a new state is written after it); for a fold, an output block of at
most ``output_components`` lines over (final states, scalars, constants). Examples are unrolled.

**Search.** Sketches of all sizes and three phases (narrow; narrow with one free constant in
``[-256, 256]``; exact) share one schedule: round ``r`` gives the sketches of level ``l`` (size plus
a lag per phase) ``first_slice * 2 ** (r - (l - smallest pending level))`` seconds each, so that small
sizes get most of the time while larger ones already run, and no hard query starves the rest; a
query that times out is retried later with a new random seed (runtimes are heavy-tailed).

**CEGIS.** Start from a few examples (distinct outputs; for loops the shortest sequences), ask z3 for
a model (a fresh solver per query: z3's non-incremental bit-blasting path is much faster here than
its incremental core), build the candidate with ``synthesis.build`` and run it on *all* examples
with the vectorised interpreter. A failing example (for loops the shortest; for scans only the
prefix up to the first wrong step, itself an example) joins the examples z3 sees, for every sketch.
Each model is a candidate. When every exact sketch is ``unsat`` on the examples z3 was given, no
program of the search space fits: ``exhausted``. When the budget runs out: ``timeout``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import z3

from programs import Binary, Call, Const, IfExp, Unary, Var
from programs.ast import Expr, negate
from programs.semantics import BITS, INT64_MAX, INT64_MIN
from programs.smt import BV_OPS

from ..build import LoopSketch, fresh, function
from ..problem import Budget, Problem
from ..registry import Attempt, synthesizer

ARITY = {"neg": 1, "not": 1, "abs": 1, "if": 3}  # every other component takes two operands
COMMUTATIVE = {"+", "*", "&", "|", "^", "==", "!=", "min", "max"}
MIRRORED = {">": "<", ">=": "<="}  # a > b is b < a, a >= b is b <= a
SEL_BITS = 8  # selector width: at most 255 sources + lines
FREE_RANGE = (-256, 256)  # where the free constant of a block lives
INIT_RANGE = (-16, 16)  # free initial state values (besides the constant pool)


def arity(op: str) -> int:
    return ARITY.get(op, 2)


def components(operators) -> list[str]:
    """The problem's operators that have a z3 meaning, with mirror images dropped."""
    ops = [op for op in dict.fromkeys(operators) if op in BV_OPS]
    return [op for op in ops if not (op in MIRRORED and MIRRORED[op] in ops)]


def constant_pool(problem: Problem) -> list[int]:
    return [int(c) for c in problem.constants() if INT64_MIN <= int(c) <= INT64_MAX]


def mux(sel, values: list):
    """``values[sel]`` as an If chain (``sel`` is constrained to the range elsewhere)."""
    if len(values) == 1:
        return values[0]
    if z3.is_bv_value(sel):
        return values[sel.as_long()]
    out = values[-1]
    for i in range(len(values) - 2, -1, -1):
        out = z3.If(sel == i, values[i], out)
    return out


def make(op: str, args: list[Expr]) -> Expr:
    """The AST node for ``op`` applied to ``args``."""
    if op == "neg":
        return negate(args[0])
    if op == "not":
        return Unary("not", args[0])
    if op == "abs":
        return Call("abs", (args[0],))
    if op in ("min", "max"):
        return Call(op, tuple(args))
    if op == "if":
        return IfExp(args[0], args[1], args[2])
    return Binary(op, args[0], args[1])


def _signed(model: z3.ModelRef, term) -> int:
    return model.eval(term, model_completion=True).as_signed_long()


# --- arithmetic: exact 64-bit, or a narrow width that is exact wherever it claims a value ---------------


class Exact:
    """The language's semantics on 64-bit bit-vectors: ``programs.smt.BV_OPS``, nothing else."""

    width = BITS
    label = "64-bit"
    shared_division = False

    def fits(self, v: int) -> bool:
        return INT64_MIN <= v <= INT64_MAX

    def const(self, v: int) -> z3.BitVecRef:
        return z3.BitVecVal(int(v), BITS)

    def apply(self, op: str, args: list) -> tuple[z3.ExprRef, z3.BoolRef | None]:
        return BV_OPS[op](*args[: arity(op)]), None


class Narrow:
    """``width``-bit bit-vectors standing for the 64-bit values they sign-extend to.

    ``apply`` returns the value and a side condition under which it is *exactly* the 64-bit result
    (``programs.semantics``) sign-extended: operands of ``+ -`` fit in one bit less and those of
    ``*`` in half the width (so that nothing overflows, more cheaply than overflow checks), no
    ``MIN // -1``, ``neg MIN`` or ``abs MIN``, no bits shifted out by ``<<``; the other operators
    commute with sign extension (bitwise, comparisons, ``>>`` with counts clipped to ``[0, 63]``,
    selections). A model found under these conditions is a true 64-bit fit; ``unsat`` only says that
    no program whose values on the examples meet them exists. Floor ``//`` and ``%`` share one
    quotient/remainder pair per line (``a == q * b + r``, ``r`` between 0 and ``b``), which costs one
    multiplier instead of three dividers.
    """

    shared_division = True

    def __init__(self, width: int):
        self.width = width
        self.label = f"{width}-bit"
        self.lo, self.hi = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def fits(self, v: int) -> bool:
        return self.lo <= v <= self.hi

    def const(self, v: int) -> z3.BitVecRef:
        return z3.BitVecVal(int(v), self.width)

    def _fits(self, a, bits: int):
        """``a`` is a ``bits``-bit signed number (its top bits are copies of its sign)."""
        return z3.SignExt(self.width - bits, z3.Extract(bits - 1, 0, a)) == a

    def _bool(self, c):
        return z3.If(c, self.const(1), self.const(0))

    def _clip(self, n):
        """Shift counts clipped to [0, 63] (below 8 bits no count exceeds 63)."""
        zero = self.const(0)
        n = z3.If(n < zero, zero, n)
        return z3.If(n > self.const(BITS - 1), self.const(BITS - 1), n) if self.hi > BITS - 1 else n

    def apply(self, op: str, args: list) -> tuple[z3.ExprRef, z3.BoolRef | None]:
        a = args[0]
        b = args[1] if len(args) > 1 else None
        zero, low = self.const(0), self.const(self.lo)
        if op in ("+", "-"):  # operands one bit narrower: the result always fits
            ok = z3.And(self._fits(a, self.width - 1), self._fits(b, self.width - 1))
            return (a + b if op == "+" else a - b), ok
        if op == "*":  # operands of half the width: the product always fits (cheaper than overflow checks)
            h = self.width // 2
            a2, b2 = z3.SignExt(self.width - h, z3.Extract(h - 1, 0, a)), z3.SignExt(self.width - h, z3.Extract(h - 1, 0, b))
            return a2 * b2, z3.And(a == a2, b == b2)
        if op == "//":  # Python's floor division, 0 for a zero divisor
            q, r = a / b, z3.SRem(a, b)
            adjust = z3.And(r != zero, (r < zero) != (b < zero))
            return z3.If(b == zero, zero, z3.If(adjust, q - 1, q)), z3.Not(z3.And(a == low, b == self.const(-1)))
        if op == "%":  # Python's modulo (the divisor's sign), a for a zero divisor
            return z3.If(b == zero, a, a % b), None
        if op in ("&", "|", "^"):
            return {"&": a & b, "|": a | b, "^": a ^ b}[op], None
        if op == "<<":
            n = self._clip(b)
            v = a << n  # 0 for counts past the width: exact only when a == 0, which the check demands
            return v, (v >> n) == a
        if op == ">>":
            return a >> self._clip(b), None  # counts past the width give the sign, as in 64 bits
        if op in ("<", "<=", ">", ">=", "==", "!="):
            return self._bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]), None
        if op == "and":
            return z3.If(a != zero, b, zero), None
        if op == "or":
            return z3.If(a != zero, a, b), None
        if op == "not":
            return self._bool(a == zero), None
        if op == "neg":
            return -a, a != low
        if op == "abs":
            return z3.If(a < zero, -a, a), a != low
        if op == "min":
            return z3.If(b < a, b, a), None
        if op == "max":
            return z3.If(b > a, b, a), None
        if op == "if":
            return z3.If(a != zero, b, args[2]), None
        raise KeyError(op)

    def divmod(self, args, q, r):
        """A floor quotient/remainder shared by ``//`` and ``%`` (``q``, ``r``: fresh variables):
        (constraint, ``//`` value, ``%`` value)."""
        a, b = args[0], args[1]
        zero = self.const(0)
        prod = q * b
        exact = z3.And(z3.BVMulNoOverflow(q, b, True), z3.BVMulNoUnderflow(q, b),
                       z3.BVAddNoOverflow(prod, r, True), z3.BVAddNoUnderflow(prod, r), prod + r == a,
                       z3.If(b > zero, z3.And(r >= zero, r < b), z3.And(r <= zero, r > b)))
        return z3.Implies(b != zero, exact), z3.If(b == zero, zero, q), z3.If(b == zero, a, r)


# --- a block of SSA lines ----------------------------------------------------------------------------

# Operators whose two operands may be the same source only when that means something new: x + x,
# x * x, x // x (0 or 1), shifts. For the rest, op(x, x) is x or a constant from the pool, so a
# smaller program does the same.
SAME_OPERANDS_USELESS = {"-", "%", "<", "<=", ">", ">=", "==", "!=", "^", "&", "|", "and", "or", "min", "max"}
# Constant operands that make a line equal to its other operand or to a constant of the pool (0, 1 and
# -1 are always in it), so that a smaller program does the same: (position or None for either, value).
USELESS_CONSTANTS = {
    "+": [(None, 0)], "-": [(1, 0)], "*": [(None, 0), (None, 1)], "//": [(0, 0), (1, 0), (1, 1)],
    "%": [(0, 0), (1, 0), (1, 1)], "&": [(None, 0), (None, -1)], "|": [(None, 0), (None, -1)], "^": [(None, 0)],
    "<<": [(0, 0), (1, 0)], ">>": [(0, 0), (0, -1), (1, 0)], "and": [(1, 0)], "or": [(1, 0)],
}
FIRST_NOT_CONSTANT = {"and", "or", "if"}  # c and x, c or x, x if c else y: x, c or 0 for any constant c


def _sel(model: z3.ModelRef, term) -> int:
    return model.eval(term, model_completion=True).as_long()


class Block:
    """``lines`` SSA lines over ``n_src`` sources with ``n_out`` outputs, all chosen by selectors.

    ``constants`` maps the indices of constant sources to their values (``None``: a free constant).
    A line never has an operand that makes it trivial (``x + 0``, ...); with ``fold``, nor only
    constant operands (constant folding: a smaller space, whose constants are the sources themselves).
    """

    def __init__(self, tag: str, ops: list[str], n_src: int, lines: int, n_out: int, *,
                 constants: dict[int, int | None] | None = None, last_out: bool = True, fold: bool = True):
        self.tag, self.ops, self.n_src, self.lines = tag, list(ops), n_src, lines
        self.constants = dict(constants or {})
        self.fold = fold
        self.width = max((arity(o) for o in self.ops), default=1) if lines else 0
        self.bits = max(2, (max(n_src + lines, len(self.ops)) - 1).bit_length() + 1)
        self.op = [z3.BitVec(f"{tag}_op{i}", self.bits) for i in range(lines)]
        self.arg = [[z3.BitVec(f"{tag}_arg{i}_{j}", self.bits) for j in range(self.width)] for i in range(lines)]
        if last_out and n_out == 1 and lines > 0:
            self.out = [z3.BitVecVal(n_src + lines - 1, self.bits)]
        else:
            self.out = [z3.BitVec(f"{tag}_out{j}", self.bits) for j in range(n_out)]
        self._templates: dict = {}

    def structure(self) -> list[z3.BoolRef]:
        cs: list[z3.BoolRef] = []
        const = sorted(self.constants)
        by_value: dict[int, list[int]] = {}
        for idx, v in self.constants.items():
            if v is not None:
                by_value.setdefault(v, []).append(idx)

        def is_const(a):
            return z3.Or([a == c for c in const]) if const else z3.BoolVal(False)

        for i in range(self.lines):
            op, args = self.op[i], self.arg[i]
            cs.append(z3.ULT(op, len(self.ops)))
            for k, name in enumerate(self.ops):
                n = arity(name)
                rule = [z3.ULT(args[j], self.n_src + i) if j < n else args[j] == 0 for j in range(self.width)]
                if name in COMMUTATIVE:
                    rule.append(z3.ULT(args[0], args[1]) if name in SAME_OPERANDS_USELESS else z3.ULE(args[0], args[1]))
                elif name in SAME_OPERANDS_USELESS:
                    rule.append(args[0] != args[1])
                if name == "if":
                    rule.append(args[1] != args[2])
                if name in FIRST_NOT_CONSTANT:
                    rule.append(z3.Not(is_const(args[0])))
                if self.fold:
                    rule.append(z3.Not(z3.And([is_const(args[j]) for j in range(n)])))
                for pos, value in USELESS_CONSTANTS.get(name, ()):
                    for c in by_value.get(value, ()):
                        rule += [args[j] != c for j in ((0, 1) if pos is None else (pos,))]
                cs.append(z3.Implies(op == k, z3.And(rule)))
        for o in self.out:
            if not z3.is_bv_value(o):
                cs.append(z3.ULT(o, self.n_src + self.lines))
        for i in range(self.lines):  # every line is used: each size is searched once
            idx = self.n_src + i
            uses = [a == idx for j in range(i + 1, self.lines) for a in self.arg[j]] + [o == idx for o in self.out]
            cs.append(z3.Or(uses) if uses else z3.BoolVal(False))
        for i, j in itertools.combinations(range(self.lines), 2):  # no line twice
            cs.append(z3.Or(self.op[i] != self.op[j], *(a != b for a, b in zip(self.arg[i], self.arg[j]))))
        for i in range(self.lines - 1):  # adjacent independent lines in one order only
            idx = self.n_src + i
            cs.append(z3.Or(z3.Or([a == idx for a in self.arg[i + 1]]), z3.ULE(self.op[i], self.op[i + 1])))
        return cs

    def selectors(self) -> list:
        return self.op + [a for row in self.arg for a in row] + [o for o in self.out if not z3.is_bv_value(o)]

    def reads(self, index: int) -> list[z3.BoolRef]:
        """Conditions under which source ``index`` is an operand of some line."""
        return [a == index for row in self.arg for a in row]

    def instance(self, arith, sources: list, name: str) -> tuple[list[z3.BoolRef], list]:
        """Constraints for one run of the block on ``sources`` (terms); returns (constraints, outputs).

        The block is built once over placeholder sources (a template) and each run substitutes its
        sources and fresh names for the template's inner values: z3 does that in C, far faster than
        building the terms again through the Python API.
        """
        key = (arith.width, len(sources))
        if key not in self._templates:
            placeholders = [z3.BitVec(f"{self.tag}_src{j}", arith.width) for j in range(len(sources))]
            inner: list[tuple[z3.ExprRef, str]] = []
            cs, outs = self._build(arith, placeholders, f"{self.tag}_tpl", inner)
            self._templates[key] = (z3.And(cs) if cs else z3.BoolVal(True), outs, placeholders, inner)
        constraint, outs, placeholders, inner = self._templates[key]
        pairs = [(p, v) for p, v in zip(placeholders, sources)]
        pairs += [(var, z3.BitVec(f"{name}{suffix}", arith.width)) for var, suffix in inner]
        return [z3.substitute(constraint, *pairs)], [z3.substitute(o, *pairs) for o in outs]

    def _build(self, arith, sources: list, name: str, inner: list) -> tuple[list[z3.BoolRef], list]:
        cs: list[z3.BoolRef] = []
        values = list(sources)
        division = [k for k, o in enumerate(self.ops) if o in ("//", "%")]

        def fresh_var(suffix: str):
            var = z3.BitVec(f"{name}{suffix}", arith.width)
            inner.append((var, suffix))
            return var

        for i in range(self.lines):
            operands = []
            for j in range(self.width):
                w = fresh_var(f"_w{i}_{j}")
                cs.append(w == mux(self.arg[i][j], values))
                operands.append(w)
            shared = None
            if division and arith.shared_division:
                shared = arith.divmod(operands, fresh_var(f"_q{i}"), fresh_var(f"_r{i}"))
            if shared is not None:
                cs.append(z3.Implies(z3.Or([self.op[i] == k for k in division]), shared[0]))
            cases = []
            for k, o in enumerate(self.ops):
                if shared is not None and o in ("//", "%"):
                    value, ok = shared[1] if o == "//" else shared[2], None
                else:
                    value, ok = arith.apply(o, operands)
                if ok is not None:
                    cs.append(z3.Implies(self.op[i] == k, ok))
                cases.append(value)
            v = fresh_var(f"_v{i}")
            cs.append(v == mux(self.op[i], cases))
            values.append(v)
        return cs, [mux(o, values) for o in self.out]

    def decode(self, model: z3.ModelRef) -> tuple[list[tuple[str, list[int]]], list[int]]:
        """The chosen lines as (operator, operand indices) and the output indices."""
        lines = []
        for i in range(self.lines):
            op = self.ops[_sel(model, self.op[i])]
            lines.append((op, [_sel(model, a) for a in self.arg[i][: arity(op)]]))
        return lines, [_sel(model, o) for o in self.out]

    @staticmethod
    def expressions(lines, outs, sources: list[Expr]) -> list[Expr]:
        exprs = list(sources)
        for op, args in lines:
            exprs.append(make(op, [exprs[a] for a in args]))
        return [exprs[o] for o in outs]


def _free_constant(name: str, arith, lo: int, hi: int, pool: list[int]):
    """A constant z3 chooses in [lo, hi] (within the width), other than the pool's."""
    if isinstance(arith, Narrow):
        lo, hi = max(lo, arith.lo // 2), min(hi, arith.hi // 2)
    k = z3.BitVec(name, arith.width)
    return k, [k >= arith.const(lo), k <= arith.const(hi)] + [k != arith.const(c) for c in pool]


def _constant_sources(start: int, pool: list[int], free: bool) -> dict[int, int | None]:
    out: dict[int, int | None] = {start + j: c for j, c in enumerate(pool)}
    if free:
        out[start + len(pool)] = None
    return out


# --- sketches: what z3 fills in, and how to read a program back ---------------------------------------


class FunctionSketch:
    def __init__(self, problem: Problem, arith, ops: list[str], pool: list[int], lines: int, free: bool):
        self.problem, self.arith, self.lines = problem, arith, lines
        self.pool = [c for c in pool if arith.fits(c)]
        self.free, self._free_cs = _free_constant("kappa", arith, *FREE_RANGE, self.pool) if free else (None, [])
        n_scalar = len(problem.scalars)
        n_src = n_scalar + len(self.pool) + (1 if free else 0)
        self.block = Block("f", ops, n_src, lines, problem.arity, constants=_constant_sources(n_scalar, self.pool, free),
                           fold=isinstance(arith, Narrow))
        self.key = (lines,)
        self.label = f"{lines} component(s), {arith.label}" + (", free constant" if free else "")

    def structure(self) -> list[z3.BoolRef]:
        return self.block.structure() + self._free_cs

    def selectors(self) -> list:
        return self.block.selectors() + ([self.free] if self.free is not None else [])

    def example(self, i: int, start: int = 0, stop: int = 1) -> list[z3.BoolRef]:
        p, A = self.problem, self.arith
        sources = [A.const(p.example_inputs[s][i]) for s in p.scalars] + [A.const(c) for c in self.pool]
        if self.free is not None:
            sources.append(self.free)
        cs, outs = self.block.instance(A, sources, f"e{i}")
        return cs + [o == A.const(y) for o, y in zip(outs, np.atleast_1d(p.outputs[i]))]

    def program(self, model: z3.ModelRef):
        p = self.problem
        sources: list[Expr] = [Var(s) for s in p.scalars] + [Const(c) for c in self.pool]
        if self.free is not None:
            sources.append(Const(_signed(model, self.free)))
        lines, outs = self.block.decode(model)
        # Lines read more than once become named steps; the rest are inlined.
        n_src = len(sources)
        reads = [0] * len(lines)
        for i in [a for _, args in lines for a in args] + outs:
            if i >= n_src:
                reads[i - n_src] += 1
        taken = set(p.params)
        exprs, steps = list(sources), []
        for i, (op, args) in enumerate(lines):
            e = make(op, [exprs[a] for a in args])
            if reads[i] > 1 and not isinstance(e, (Const, Var)):
                name = fresh("t", taken)
                steps.append((name, e))
                e = Var(name)
            exprs.append(e)
        return function(p, [exprs[o] for o in outs], steps)


class LoopSketchEncoding:
    """``k`` states with initial values and a step block, unrolled over each example's sequences.

    Scans: one block over (states, elements, scalars, constants) whose outputs are the ``k`` next
    states and the value yielded at this step (from the states before the update; a yield that is
    one of the new states is written after the update). Folds: the block gives the next states, and
    an output block over (final states, scalars, constants) gives the result.
    """

    def __init__(self, problem: Problem, arith, ops: list[str], pool: list[int], k: int, update: int, output: int,
                 free: bool):
        self.problem, self.arith, self.k = problem, arith, k
        self.pool = [c for c in pool if arith.fits(c)]
        self.names = LoopSketch.of(problem, k)
        self.scan = problem.kind == "scan"
        n_scalar, n_elem = len(problem.scalars), len(problem.sequences)
        self.free, self._free_cs = _free_constant("kappa", arith, *FREE_RANGE, self.pool) if free else (None, [])
        n_tail = n_scalar + len(self.pool) + (1 if free else 0)
        u_src = k + n_elem
        outs = k + (problem.arity if self.scan else 0)
        fold = isinstance(arith, Narrow)
        self.update = Block("u", ops if update else [], u_src + n_tail, update, outs,
                            constants=_constant_sources(u_src + n_scalar, self.pool, free), last_out=False, fold=fold)
        self.output = None
        if not self.scan:
            self.output = Block("o", ops if output else [], k + n_tail, output, problem.arity,
                                constants=_constant_sources(k + n_scalar, self.pool, free), fold=fold)
        # Initial state j: a scalar input (selector < n_scalar) or the value init_val[j].
        self.init_sel = [z3.BitVec(f"init_sel{j}", SEL_BITS) for j in range(k)]
        self.init_val = [z3.BitVec(f"init_val{j}", arith.width) for j in range(k)]
        sizes = f"step {update}" + ("" if self.scan else f", output {output}")
        self.key = (k, update, output)
        self.label = f"{k} state(s), {sizes} component(s), {arith.label}" + (", free constant" if free else "")

    def blocks(self) -> list[Block]:
        return [self.update] + ([self.output] if self.output is not None else [])

    def structure(self) -> list[z3.BoolRef]:
        A = self.arith
        cs = [c for b in self.blocks() for c in b.structure()] + self._free_cs
        n_scalar = len(self.problem.scalars)
        lo, hi = INIT_RANGE
        if isinstance(A, Narrow):
            lo, hi = max(lo, A.lo // 2), min(hi, A.hi // 2)
        for j in range(self.k):
            sel, val = self.init_sel[j], self.init_val[j]
            cs.append(z3.ULE(sel, n_scalar))
            in_range = [z3.And(val >= A.const(lo), val <= A.const(hi))] if self.free is not None else []
            free_value = z3.Or(*in_range, *(val == A.const(c) for c in self.pool))
            cs.append(z3.If(sel == n_scalar, free_value, val == A.const(0)))
        if self.k > 1:  # every state is read somewhere (else fewer states would do)
            for j in range(self.k):
                reads = self.update.reads(j) + [o == j for i, o in enumerate(self.update.out) if i != j]
                if self.output is not None:
                    reads += self.output.reads(j) + [o == j for o in self.output.out]
                cs.append(z3.Or(reads))
        return cs

    def selectors(self) -> list:
        sel = [v for b in self.blocks() for v in b.selectors()] + self.init_sel + self.init_val
        return sel + ([self.free] if self.free is not None else [])

    def example(self, i: int, start: int = 0, stop: int | None = None) -> list[z3.BoolRef]:
        """Steps ``start`` to ``stop`` of example ``i`` (a scan may be encoded a stretch at a time;
        a fold is encoded whole)."""
        p, A = self.problem, self.arith
        n = int(p.lengths[i]) if p.lengths is not None else p.example_inputs[p.sequences[0]].shape[1]
        if not self.scan:
            start, stop = 0, n
        stop = n if stop is None else min(stop, n)
        scalars = [A.const(p.example_inputs[s][i]) for s in p.scalars]
        tail = scalars + [A.const(c) for c in self.pool] + ([self.free] if self.free is not None else [])
        if start == 0:
            states = [mux(self.init_sel[j], scalars + [self.init_val[j]]) for j in range(self.k)]
        else:  # the states after step start - 1, as named when that step was encoded
            states = [z3.BitVec(f"e{i}_t{start - 1}_s{j}", A.width) for j in range(self.k)]
        want = p.outputs[i]
        cs: list[z3.BoolRef] = []
        for t in range(start, stop):
            elems = [A.const(p.example_inputs[s][i, t]) for s in p.sequences]
            c, outs = self.update.instance(A, states + elems + tail, f"e{i}_t{t}")
            cs += c
            new = [z3.BitVec(f"e{i}_t{t}_s{j}", A.width) for j in range(self.k)]
            cs += [a == b for a, b in zip(new, outs[: self.k])]
            if self.scan:
                cs += [o == A.const(y) for o, y in zip(outs[self.k:], np.atleast_1d(want[t]))]
            states = new
        if not self.scan and stop == n:
            c, outs = self.output.instance(A, states + tail, f"e{i}_o")
            cs += c + [o == A.const(y) for o, y in zip(outs, np.atleast_1d(want))]
        return cs

    def program(self, model: z3.ModelRef):
        p, names, k = self.problem, self.names, self.k
        tail: list[Expr] = [Var(s) for s in p.scalars] + [Const(c) for c in self.pool]
        if self.free is not None:
            tail.append(Const(_signed(model, self.free)))
        states = [Var(s) for s in names.states]
        elems = [Var(x) for x in names.elements]
        lines, outs = self.update.decode(model)
        exprs = Block.expressions(lines, outs, states + elems + tail)
        inits: list[Expr] = []
        for j in range(k):
            sel = _sel(model, self.init_sel[j])
            inits.append(Var(p.scalars[sel]) if sel < len(p.scalars) else Const(_signed(model, self.init_val[j])))
        if not self.scan:
            output = Block.expressions(*self.output.decode(model), states + tail)
            return names.program(inits, exprs, output, yield_first=False)
        updates, yields = exprs[:k], exprs[k:]
        # A yielded value that is a new state (and not an old one) reads better after the update.
        after = []
        for o in outs[k:]:
            j = outs[:k].index(o) if o in outs[:k] else None
            after.append(None if j is None or o < k else states[j])
        if all(a is not None for a in after):
            return names.program(inits, updates, after, yield_first=False)
        return names.program(inits, updates, yields, yield_first=True)


# --- CEGIS ---------------------------------------------------------------------------------------------


@dataclass
class Pool:
    """The examples handed to z3 so far (shared by every sketch of one run).

    ``steps[i]`` is how many steps of example ``i`` z3 must match: all of them for functions and
    folds; for scans, the prefix up to the first step some candidate got wrong (a scan's output at a
    step depends on the elements up to that step only, so a prefix is an example of its own).
    """

    problem: Problem
    rng: np.random.Generator
    seed: int = 0
    steps: dict[int, int] = field(default_factory=dict)
    candidates: int = 0
    queries: int = 0
    notes: list[str] = field(default_factory=list)
    unknowns: int = 0  # queries z3 answered "unknown" (a timeout, or z3 giving up)
    last_unknown: str = ""  # z3's reason for the last of them

    def lengths(self) -> np.ndarray | None:
        if self.problem.lengths is None or not self.problem.sequences:
            return None
        return np.asarray(self.problem.lengths)

    def full(self, i: int) -> int:
        """Steps that make example ``i`` whole (1 for an example without steps)."""
        lengths = self.lengths()
        return max(1, int(lengths[i])) if lengths is not None else 1

    def start(self, count: int) -> None:
        """A few first examples: distinct outputs first; for loops, the shortest sequences."""
        p = self.problem
        order = self.rng.permutation(p.size)
        lengths = self.lengths()
        if lengths is not None:  # the shortest sequences first (random among equals)
            order = order[np.argsort(lengths[order], kind="stable")]
        seen: set[bytes] = set()
        first: list[int] = []
        for i in order:
            key = np.ascontiguousarray(p.outputs[i]).tobytes()
            if key not in seen:
                seen.add(key)
                first.append(int(i))
            if len(first) >= count:
                break
        for i in order:
            if len(first) >= count:
                break
            if int(i) not in first:
                first.append(int(i))
        for i in first:
            self.steps[i] = self.full(i)

    def check(self, program) -> tuple[int, int] | None:
        """None if ``program`` fits every example; else a counterexample (index, steps to match):
        random among those that fail earliest (for loops: shortest; for scans: first wrong step)."""
        p = self.problem
        if p.kind != "scan" or p.lengths is None:
            bad = p.mismatches(program)
            if not bad.any():
                return None
            idx = np.nonzero(bad)[0]
            lengths = self.lengths()
            if lengths is not None:
                idx = idx[lengths[idx] == lengths[idx].min()]
            i = int(self.rng.choice(idx))
            return i, self.full(i)
        diff = p.run(program) != p.outputs
        while diff.ndim > 2:
            diff = diff.any(axis=-1)
        diff &= p.mask()
        bad = diff.any(axis=1)
        if not bad.any():
            return None
        first = np.where(bad, np.argmax(diff, axis=1), np.iinfo(np.int64).max)
        idx = np.nonzero(first == first.min())[0]
        i = int(self.rng.choice(idx))
        return i, int(first[i]) + 1


class Cegis:
    """CEGIS for one sketch; ``run`` may be called again (a later round) after a timeout.

    Every query goes to a fresh solver: z3's non-incremental path (bit-blasting, then SAT) is an
    order of magnitude faster on these problems than its incremental core. The constraint terms are
    built once per example (and per stretch of steps) and kept.
    """

    def __init__(self, sketch, pool: Pool):
        self.sketch, self.pool = sketch, pool
        self.constraints: list[z3.BoolRef] | None = None
        self.added: dict[int, int] = {}  # example -> steps encoded

    def _sync(self) -> None:
        if self.constraints is None:
            self.constraints = list(self.sketch.structure())
        for i, steps in self.pool.steps.items():
            done = self.added.get(i, 0)
            if steps > done:
                self.constraints.extend(self.sketch.example(i, done, steps))
                self.added[i] = steps

    def run(self, budget: Budget, seconds: float):
        """("solved", program) | ("unsat", None) | ("unknown", reason)."""
        stop = budget.elapsed + seconds
        self._sync()
        while True:
            left = min(budget.left, stop - budget.elapsed)
            if left <= 0.001:
                return "unknown", "timeout"
            solver = z3.Solver()
            solver.set("timeout", max(1, int(left * 1000)))
            # A new seed for every query: runtimes are heavy-tailed, and a retry after a timeout is a restart.
            self.pool.queries += 1
            solver.set("random_seed", self.pool.seed + self.pool.queries)
            solver.add(self.constraints)
            try:
                verdict = solver.check()
            except z3.Z3Exception as err:  # an internal z3 failure: this sketch is undecided, the search goes on
                return "unknown", f"z3 failed: {err}"
            if verdict == z3.unsat:
                return "unsat", None
            if verdict != z3.sat:
                self.pool.unknowns += 1
                self.pool.last_unknown = solver.reason_unknown()
                return "unknown", f"z3 answered unknown ({self.pool.last_unknown})"
            model = solver.model()
            self.pool.candidates += 1
            program = self.sketch.program(model)
            failure = self.pool.check(program)
            if failure is None:
                return "solved", program
            i, steps = failure
            if self.added.get(i, 0) >= steps:
                # z3 and the interpreter disagree on an example z3 has: never expected; block this model.
                if len(self.pool.notes) < 5:
                    self.pool.notes.append(f"z3 and the interpreter disagree on example {i} for candidate "
                                           f"{str(program)!r} ({self.sketch.label}); candidate blocked")
                self.constraints.append(z3.Or([s != model.eval(s, model_completion=True) for s in self.sketch.selectors()]))
                continue
            self.pool.steps[i] = max(steps, self.pool.steps.get(i, 0))
            self._sync()


def _timed_out(reason) -> bool:
    return "timeout" in str(reason) or "canceled" in str(reason)


def _search(sketches: list[tuple[int, object]], pool: Pool, budget: Budget, first_slice: float):
    """Run (level, sketch) pairs, smaller levels first and longer.

    Round ``r`` runs every pending sketch whose level is at most ``r`` above the smallest pending
    level, for ``first_slice * 2 ** (r - offset)`` seconds (``offset``: its level minus that smallest
    level): the smallest pending sizes get most of the time, larger ones start early with short
    slices, and no single hard sketch starves the rest. A sketch that times out is retried in a later
    round (from scratch, with every example found meanwhile, under a new seed).

    An exact sketch proven unsat also settles the narrow sketch of the same shape without a free
    constant (its programs are among the exact sketch's). Returns ("solved", Attempt) |
    ("timeout", label) | ("exhausted", [(sketch, why) for the sketches z3 gave up on]).
    """
    pending = [(level, Cegis(s, pool)) for level, s in sketches]
    gave_up: list[tuple[object, str]] = []
    settled: set = set()
    r = 0
    while pending:
        pending = [(level, c) for level, c in pending if not _covered(c.sketch, settled)]
        if not pending:
            break
        base = min(level for level, _ in pending)
        still = []
        for level, c in pending:
            offset = level - base
            if offset > r or _covered(c.sketch, settled):
                if not _covered(c.sketch, settled):
                    still.append((level, c))
                continue
            if budget.expired:
                return "timeout", c.sketch.label
            verdict, info = c.run(budget, min(first_slice * 2.0 ** (r - offset), max(budget.left, 0.0)))
            if verdict == "solved":
                return "solved", Attempt(info, "solved", pool.candidates, pool.notes + [f"found with {c.sketch.label}"])
            if verdict == "unsat" and isinstance(c.sketch.arith, Exact) and c.sketch.free is None:
                settled.add(c.sketch.key)
            if verdict == "unknown":
                if not _timed_out(info):
                    gave_up.append((c.sketch, f"z3 gave up on {c.sketch.label}: {info}"))
                    continue
                if budget.expired:
                    return "timeout", c.sketch.label
                still.append((level, c))
        pending = still
        r += 1
    return "exhausted", gave_up


def _covered(sketch, settled: set) -> bool:
    return sketch.free is None and isinstance(sketch.arith, Narrow) and sketch.key in settled


def _narrow_width(problem: Problem, pool: list[int], factor: int) -> int | None:
    """``factor`` times the bits of the largest example value or constant (so that a product or sum of
    two such values fits); None when that is more than 32 (the exact search alone is used then)."""
    values = [np.asarray(problem.outputs).ravel()] + [np.asarray(v).ravel() for v in problem.example_inputs.values()]
    big = max([max(abs(int(v.max())), abs(int(v.min()))) for v in values if v.size] + [abs(c) for c in pool])
    width = max(4, factor * (big.bit_length() + 1))
    return width if width <= 32 else None


@synthesizer("smt")
def smt(max_components: int = 6, max_states: int = 2, update_components: int = 3, output_components: int = 3,
        free_constant: bool = True, initial_examples: int = 3, first_slice: float = 0.25, width_factor: int = 2,
        narrow: bool = True):
    """z3 CEGIS over straight-line component programs (functions; state sketches for scans and folds)."""

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        ops = components(problem.operators)
        consts = constant_pool(problem)
        pool = Pool(problem, rng, seed=int(rng.integers(1 << 20)))
        loops = problem.kind in ("scan", "fold") and bool(problem.sequences)
        pool.start(max(1, initial_examples - (1 if loops else 0)))
        width = _narrow_width(problem, consts, width_factor) if narrow else None
        # Phases, all in one schedule (a phase's sketches start ``lag`` levels late): narrow widths
        # first (fast, and every model is a true fit), then narrow with a free constant, and the
        # exact 64-bit search, whose unsat answers prove that nothing of a sketch fits.
        phases: list[tuple[object, bool, int]] = []
        if width:
            phases.append((Narrow(width), False, 0))
            if free_constant:
                phases.append((Narrow(width), True, 1))
        phases.append((Exact(), False, (5 if loops else 3) if width else 0))  # unrolled 64-bit loops: slowest
        opnames = ", ".join(ops) or "no operators"
        if loops:
            plans = []
            for k in range(1, max_states + 1):
                for u in range(0, update_components + 1):
                    for o in ((0,) if problem.kind == "scan" else range(0, output_components + 1)):
                        if (u or o) and not ops:
                            continue
                        plans.append((u + o + 2 * (k - 1), k, u, o))
            what = (f"loop sketch with at most {max_states} state(s), a step of at most {update_components} "
                    f"component(s)"
                    + ("" if problem.kind == "scan" else f" and an output of at most {output_components}")
                    + f" over {{{opnames}}} and constants {consts}")
            sketches = [(level + lag, LoopSketchEncoding(problem, A, ops, consts, k, u, o, free))
                        for A, free, lag in phases for level, k, u, o in plans]
        else:
            sizes = [L for L in range(0, max_components + 1) if L == 0 or ops]
            what = (f"straight-line program of at most {max_components} components over {{{opnames}}} "
                    f"and constants {consts}")
            sketches = [(L + lag, FunctionSketch(problem, A, ops, consts, L, free))
                        for A, free, lag in phases for L in sizes if not (free and L == 0)]
        sketches.sort(key=lambda pair: pair[0])
        verdict, info = _search(sketches, pool, budget, max(first_slice, 0.01))
        if verdict == "solved":
            return info
        if verdict == "timeout":
            undecided = (f"; z3 answered unknown {pool.unknowns} time(s), last: {pool.last_unknown}"
                         if pool.unknowns else "")
            return Attempt(None, "timeout", pool.candidates, [
                f"budget ran out while searching {info} ({what}); {pool.candidates} candidates, "
                f"{len(pool.steps)} examples given to z3{undecided}"] + pool.notes)
        unproven = [why for sketch, why in info if isinstance(sketch.arith, Exact) and sketch.free is None]
        if unproven:  # no proof, and no budget problem either
            return Attempt(None, "abstained", pool.candidates, unproven + pool.notes)
        return Attempt(None, "exhausted", pool.candidates, [
            f"no {what} fits the {len(pool.steps)} examples z3 was given (so none fits all {problem.size}); "
            f"proven by exact 64-bit search"] + [why for _, why in info] + pool.notes)

    return run
