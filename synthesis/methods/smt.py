"""z3 CEGIS over straight-line component programs (Brahma-style component-based synthesis).

After Jha, Gulwani, Seshia and Tiwari (2010), "Oracle-guided component-based program synthesis",
and Gulwani et al. (2011), with the examples as the oracle.

**Encoding.** A *block* is a straight-line program of ``L`` lines in SSA form. Line ``i`` applies one
component (an operator of ``problem.operators``) to up to three operands; z3 picks, through small
bit-vector selector variables, the operator of each line and where each operand comes from: a
*source* (an input, a constant of ``problem.constants()``, optionally one free constant that z3
chooses in ``[-256, 256]``) or an earlier line. Every operator is instantiated on every line and a
selector picks one (``If`` chains); values are 64-bit bit-vectors under ``programs.smt.BV_OPS``, so
the z3 semantics is exactly the language's (wrap-around, floor division, ``x // 0 == 0``, clipped
shifts). Symmetry breaking: every line is used later (so block sizes are disjoint), unused operand
slots are 0, commutative operators take ordered operands, ``>``/``>=`` are left out when ``<``/``<=``
are available (mirror images), no two lines are the same.

- **Functions**: one block over the scalar inputs; the output is the last line (``L = 0``: an output
  selector picks a source). ``L`` grows 0, 1, ..., ``max_components``; the first ``L`` that fits wins.
- **Scans and folds**: a bounded-width state sketch. ``k`` state variables (1..``max_states``), each
  initialised to a scalar input or a free constant (``[-16, 16]`` or the constant pool); an update
  block over (states, loop elements, scalars, constants) whose ``k`` outputs are the next states; an
  output block over (states after the update, or before it for ``yield_first``, elements, scalars,
  constants) for scans, or over (final states, scalars, constants) for folds. The sketch is unrolled
  over each example's sequences. Sketches (``k``, update lines, output lines, yield placement) are
  tried smallest first, round-robin with per-check time slices that double every round, so that
  one hard sketch cannot starve the others.

**CEGIS.** Start from a few examples (diverse outputs; for loops, short sequences), ask z3 for a
model, build the candidate program (``synthesis.build``) and run it on *all* examples with the
vectorised interpreter; a failing example (for loops, the shortest) is added as a counterexample and
z3 is asked again, incrementally. Each model is one candidate. ``unsat`` for a size proves that no
program of that size (over those components and constants) fits the examples seen so far, hence none
fits them all: when every size is ``unsat`` the result is ``exhausted``. z3 timeouts follow the
budget; when it runs out the result is ``timeout``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import z3

from programs import Binary, Call, Const, IfExp, Unary, Var
from programs.ast import Expr
from programs.semantics import BITS, INT64_MAX, INT64_MIN, wrap
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


def bv(v: int) -> z3.BitVecRef:
    return z3.BitVecVal(int(v), BITS)


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
        a = args[0]
        return Const(wrap(-a.value)) if isinstance(a, Const) else Unary("-", a)
    if op == "not":
        return Unary("not", args[0])
    if op == "abs":
        return Call("abs", (args[0],))
    if op in ("min", "max"):
        return Call(op, tuple(args))
    if op == "if":
        return IfExp(args[0], args[1], args[2])
    return Binary(op, args[0], args[1])


def _value(model: z3.ModelRef, term) -> int:
    v = model.eval(term, model_completion=True)
    return v.as_signed_long() if v.size() == BITS else v.as_long()


def _signed(model: z3.ModelRef, term) -> int:
    return model.eval(term, model_completion=True).as_signed_long()


# --- arithmetic: exact 64-bit, or a narrow width that is exact wherever it claims a value ---------------


class Exact:
    """The language's semantics on 64-bit bit-vectors: ``programs.smt.BV_OPS``, nothing else."""

    width = BITS
    label = "64-bit"

    def fits(self, v: int) -> bool:
        return INT64_MIN <= v <= INT64_MAX

    def const(self, v: int) -> z3.BitVecRef:
        return z3.BitVecVal(int(v), BITS)

    def apply(self, op: str, args: list) -> tuple[z3.ExprRef, z3.BoolRef | None]:
        return BV_OPS[op](*args[: arity(op)]), None

    def divmod(self, args, name):
        return None


class Narrow:
    """``width``-bit bit-vectors standing for the 64-bit values they sign-extend to.

    ``apply`` returns the value and a side condition under which it is *exactly* the 64-bit result
    (``programs.semantics``) sign-extended: no signed overflow for ``+ - * // << neg abs``; the other
    operators commute with sign extension (bitwise, comparisons, ``>>`` with counts clipped to
    ``[0, 63]``, selections). A model found under these conditions is a true 64-bit fit; ``unsat``
    only says that no program whose values on the examples fit in ``width`` bits exists. Floor
    ``//`` and ``%`` share one quotient/remainder pair per line (``a == q * b + r``, ``r`` between 0
    and ``b``), which costs one multiplier instead of three dividers.
    """

    def __init__(self, width: int):
        self.width = width
        self.label = f"{width}-bit"
        self.lo, self.hi = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def fits(self, v: int) -> bool:
        return self.lo <= v <= self.hi

    def const(self, v: int) -> z3.BitVecRef:
        return z3.BitVecVal(int(v), self.width)

    def _bool(self, c):
        return z3.If(c, self.const(1), self.const(0))

    def _clip(self, n):
        zero, top = self.const(0), self.const(BITS - 1)
        return z3.If(n < zero, zero, z3.If(n > top, top, n))

    def apply(self, op: str, args: list) -> tuple[z3.ExprRef, z3.BoolRef | None]:
        a = args[0]
        b = args[1] if len(args) > 1 else None
        zero, low = self.const(0), self.const(self.lo)
        if op == "+":
            return a + b, z3.And(z3.BVAddNoOverflow(a, b, True), z3.BVAddNoUnderflow(a, b))
        if op == "-":
            return a - b, z3.And(z3.BVSubNoOverflow(a, b), z3.BVSubNoUnderflow(a, b, True))
        if op == "*":
            return a * b, z3.And(z3.BVMulNoOverflow(a, b, True), z3.BVMulNoUnderflow(a, b))
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

    def divmod(self, args, name):
        """A shared floor quotient/remainder: (constraint, ``//`` value, ``%`` value)."""
        a, b = args[0], args[1]
        q, r = z3.BitVec(f"{name}_q", self.width), z3.BitVec(f"{name}_r", self.width)
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


def _sel(model: z3.ModelRef, term) -> int:
    return model.eval(term, model_completion=True).as_long()


class Block:
    """``lines`` SSA lines over ``n_src`` sources with ``n_out`` outputs, all chosen by selectors.

    Sources with indices in ``constants`` are constants (an ``if`` never tests one).
    """

    def __init__(self, tag: str, ops: list[str], n_src: int, lines: int, n_out: int, *,
                 constants: range | set = (), last_out: bool = True):
        self.tag, self.ops, self.n_src, self.lines = tag, list(ops), n_src, lines
        self.constants = set(constants)
        self.width = max((arity(o) for o in self.ops), default=1) if lines else 0
        self.op = [z3.BitVec(f"{tag}_op{i}", SEL_BITS) for i in range(lines)]
        self.arg = [[z3.BitVec(f"{tag}_arg{i}_{j}", SEL_BITS) for j in range(self.width)] for i in range(lines)]
        if last_out and n_out == 1 and lines > 0:
            self.out = [z3.BitVecVal(n_src + lines - 1, SEL_BITS)]
        else:
            self.out = [z3.BitVec(f"{tag}_out{j}", SEL_BITS) for j in range(n_out)]

    def selectors(self) -> list:
        return self.op + [a for row in self.arg for a in row] + [o for o in self.out if not z3.is_bv_value(o)]

    def reads(self, index: int) -> list[z3.BoolRef]:
        """Conditions under which source ``index`` is an operand of some line."""
        return [a == index for row in self.arg for a in row]

    def structure(self) -> list[z3.BoolRef]:
        cs: list[z3.BoolRef] = []
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
                    rule += [args[1] != args[2]] + [args[0] != c for c in sorted(self.constants)]
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
        return cs

    def instance(self, arith, sources: list, name: str) -> tuple[list[z3.BoolRef], list]:
        """Constraints for one run of the block on ``sources`` (terms); returns (constraints, outputs)."""
        cs: list[z3.BoolRef] = []
        values = list(sources)
        division = [k for k, o in enumerate(self.ops) if o in ("//", "%")]
        for i in range(self.lines):
            operands = []
            for j in range(self.width):
                w = z3.BitVec(f"{name}_w{i}_{j}", arith.width)
                cs.append(w == mux(self.arg[i][j], values))
                operands.append(w)
            shared = arith.divmod(operands, f"{name}_l{i}") if division else None
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
            v = z3.BitVec(f"{name}_v{i}", arith.width)
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


# --- sketches: what z3 fills in, and how to read a program back ---------------------------------------


class FunctionSketch:
    def __init__(self, problem: Problem, arith, ops: list[str], pool: list[int], lines: int, free: bool):
        self.problem, self.arith, self.lines = problem, arith, lines
        self.pool = [c for c in pool if arith.fits(c)]
        self.free, self._free_cs = _free_constant("kappa", arith, *FREE_RANGE, self.pool) if free else (None, [])
        n_scalar = len(problem.scalars)
        n_src = n_scalar + len(self.pool) + (1 if free else 0)
        self.block = Block("f", ops, n_src, lines, problem.arity, constants=range(n_scalar, n_src))
        self.label = f"{lines} component(s), {arith.label}"

    def structure(self) -> list[z3.BoolRef]:
        return self.block.structure() + self._free_cs

    def selectors(self) -> list:
        return self.block.selectors() + ([self.free] if self.free is not None else [])

    def example(self, i: int) -> list[z3.BoolRef]:
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
    """``k`` states with initial values, an update block and an output block, unrolled per example."""

    def __init__(self, problem: Problem, arith, ops: list[str], pool: list[int], k: int, update: int, output: int,
                 yield_first: bool, free: bool):
        self.problem, self.arith, self.k, self.yield_first = problem, arith, k, yield_first
        self.pool = [c for c in pool if arith.fits(c)]
        self.names = LoopSketch.of(problem, k)
        self.scan = problem.kind == "scan"
        n_scalar, n_elem = len(problem.scalars), len(problem.sequences)
        self.free, self._free_cs = _free_constant("kappa", arith, *FREE_RANGE, self.pool) if free else (None, [])
        n_tail = n_scalar + len(self.pool) + (1 if free else 0)
        u_src = k + n_elem
        self.update = Block("u", ops if update else [], u_src + n_tail, update, k,
                            constants=range(u_src + n_scalar, u_src + n_tail), last_out=False)
        o_src = k + (n_elem if self.scan else 0)
        self.output = Block("o", ops if output else [], o_src + n_tail, output, problem.arity,
                            constants=range(o_src + n_scalar, o_src + n_tail))
        # Initial state j: a scalar input (selector < n_scalar) or the free value init_val[j].
        self.init_sel = [z3.BitVec(f"init_sel{j}", SEL_BITS) for j in range(k)]
        self.init_val = [z3.BitVec(f"init_val{j}", arith.width) for j in range(k)]
        where = "before" if yield_first else "after"
        self.label = (f"{k} state(s), update {update}, output {output} component(s)"
                      + (f", yield {where} the update" if self.scan else "") + f", {arith.label}")

    def structure(self) -> list[z3.BoolRef]:
        A = self.arith
        cs = self.update.structure() + self.output.structure() + self._free_cs
        n_scalar = len(self.problem.scalars)
        lo, hi = INIT_RANGE
        for j in range(self.k):
            sel, val = self.init_sel[j], self.init_val[j]
            cs.append(z3.ULE(sel, n_scalar))
            in_range = [z3.And(val >= A.const(lo), val <= A.const(hi))] if self.free is not None else []
            free_value = z3.Or(*in_range, *(val == A.const(c) for c in self.pool))
            cs.append(z3.If(sel == n_scalar, free_value, val == A.const(0)))
        if self.k > 1:  # every state is read somewhere (else fewer states would do)
            for j in range(self.k):
                reads = self.update.reads(j) + self.output.reads(j) + [o == j for o in self.output.out]
                reads += [o == j for i, o in enumerate(self.update.out) if i != j]
                cs.append(z3.Or(reads))
        return cs

    def selectors(self) -> list:
        sel = self.update.selectors() + self.output.selectors() + self.init_sel + self.init_val
        return sel + ([self.free] if self.free is not None else [])

    def example(self, i: int) -> list[z3.BoolRef]:
        p, A = self.problem, self.arith
        n = int(p.lengths[i]) if p.lengths is not None else p.example_inputs[p.sequences[0]].shape[1]
        scalars = [A.const(p.example_inputs[s][i]) for s in p.scalars]
        tail = scalars + [A.const(c) for c in self.pool] + ([self.free] if self.free is not None else [])
        states = [mux(self.init_sel[j], scalars + [self.init_val[j]]) for j in range(self.k)]
        want = p.outputs[i]
        cs: list[z3.BoolRef] = []
        for t in range(n):
            elems = [A.const(p.example_inputs[s][i, t]) for s in p.sequences]
            c, nxt = self.update.instance(A, states + elems + tail, f"e{i}_t{t}_u")
            cs += c
            new = [z3.BitVec(f"e{i}_t{t}_s{j}", A.width) for j in range(self.k)]
            cs += [a == b for a, b in zip(new, nxt)]
            if self.scan:
                seen = states if self.yield_first else new
                c, outs = self.output.instance(A, seen + elems + tail, f"e{i}_t{t}_o")
                cs += c + [o == A.const(y) for o, y in zip(outs, np.atleast_1d(want[t]))]
            states = new
        if not self.scan:
            c, outs = self.output.instance(A, states + tail, f"e{i}_o")
            cs += c + [o == A.const(y) for o, y in zip(outs, np.atleast_1d(want))]
        return cs

    def program(self, model: z3.ModelRef):
        p, names = self.problem, self.names
        tail: list[Expr] = [Var(s) for s in p.scalars] + [Const(c) for c in self.pool]
        if self.free is not None:
            tail.append(Const(_signed(model, self.free)))
        states = [Var(s) for s in names.states]
        elems = [Var(x) for x in names.elements]
        updates = Block.expressions(*self.update.decode(model), states + elems + tail)
        outputs = Block.expressions(*self.output.decode(model), states + (elems if self.scan else []) + tail)
        inits: list[Expr] = []
        for j in range(self.k):
            sel = _sel(model, self.init_sel[j])
            inits.append(Var(p.scalars[sel]) if sel < len(p.scalars) else Const(_signed(model, self.init_val[j])))
        return names.program(inits, updates, outputs, yield_first=self.yield_first)


# --- CEGIS ---------------------------------------------------------------------------------------------


@dataclass
class Pool:
    """The examples handed to z3 so far (shared by every sketch of one run)."""

    problem: Problem
    rng: np.random.Generator
    chosen: list[int] = field(default_factory=list)
    candidates: int = 0
    notes: list[str] = field(default_factory=list)

    def lengths(self) -> np.ndarray | None:
        if self.problem.lengths is None or not self.problem.sequences:
            return None
        return np.asarray(self.problem.lengths)

    def start(self, count: int) -> None:
        """A few first examples: distinct outputs first; for loops, short-to-middling sequences."""
        p = self.problem
        order = self.rng.permutation(p.size)
        lengths = self.lengths()
        if lengths is not None:
            cap = max(2, int(np.median(lengths)))
            order = np.concatenate([order[lengths[order] <= cap], order[lengths[order] > cap]])
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
        self.chosen.extend(first)

    def counterexample(self, bad: np.ndarray) -> int:
        """A failing example at random (for loops: among the shortest, to keep the unrolling small)."""
        idx = np.nonzero(bad)[0]
        lengths = self.lengths()
        if lengths is not None:
            idx = idx[lengths[idx] == lengths[idx].min()]
        return int(self.rng.choice(idx))


class Cegis:
    """CEGIS for one sketch; ``run`` may be called again (a later round) after a timeout."""

    def __init__(self, sketch, pool: Pool):
        self.sketch, self.pool = sketch, pool
        self.solver: z3.Solver | None = None
        self.added: set[int] = set()

    def _sync(self) -> None:
        if self.solver is None:
            self.solver = z3.Solver()
            self.solver.add(self.sketch.structure())
        for i in self.pool.chosen:
            if i not in self.added:
                self.added.add(i)
                self.solver.add(self.sketch.example(i))

    def run(self, budget: Budget, seconds: float):
        """("solved", program) | ("unsat", None) | ("unknown", reason)."""
        stop = budget.elapsed + seconds
        self._sync()
        problem = self.pool.problem
        while True:
            left = min(budget.left, stop - budget.elapsed)
            if left <= 0.001:
                return "unknown", "timeout"
            self.solver.set("timeout", max(1, int(left * 1000)))
            verdict = self.solver.check()
            if verdict == z3.unsat:
                return "unsat", None
            if verdict != z3.sat:
                return "unknown", self.solver.reason_unknown()
            model = self.solver.model()
            self.pool.candidates += 1
            program = self.sketch.program(model)
            bad = problem.mismatches(program)
            if not bad.any():
                return "solved", program
            i = self.pool.counterexample(bad)
            if i in self.added:
                # z3 and the interpreter disagree on an example z3 has: never expected; block this model.
                if len(self.pool.notes) < 5:
                    self.pool.notes.append(f"z3 and the interpreter disagree on example {i} for candidate "
                                           f"{str(program)!r} ({self.sketch.label}); candidate blocked")
                self.solver.add(z3.Or([s != model.eval(s, model_completion=True) for s in self.sketch.selectors()]))
                continue
            self.pool.chosen.append(i)
            self._sync()


def _timed_out(reason) -> bool:
    return "timeout" in str(reason) or "canceled" in str(reason)


def _search(sketches: list, pool: Pool, budget: Budget, first_slice: float | None):
    """Run the sketches smallest first. ``first_slice=None``: each to completion in turn; otherwise
    round-robin with per-sketch time slices that double every round.

    Returns ("solved", Attempt) | ("timeout", label) | ("exhausted", [sketches z3 gave up on]).
    """
    pending = [Cegis(s, pool) for s in sketches]
    slice_ = math.inf if first_slice is None else first_slice
    gave_up: list[str] = []
    while pending:
        still = []
        for c in pending:
            if budget.expired:
                return "timeout", c.sketch.label
            verdict, info = c.run(budget, min(slice_, max(budget.left, 0.0)))
            if verdict == "solved":
                return "solved", Attempt(info, "solved", pool.candidates, pool.notes + [f"found with {c.sketch.label}"])
            if verdict == "unknown":
                if not _timed_out(info):
                    gave_up.append(f"z3 gave up on {c.sketch.label}: {info}")
                    continue
                if budget.expired:
                    return "timeout", c.sketch.label
                still.append(c)
        pending = still
        slice_ *= 2
    return "exhausted", gave_up


def _narrow_width(problem: Problem, pool: list[int], margin: int) -> int | None:
    """A width that holds every example value and constant with ``margin`` bits to spare (None: >32)."""
    values = [np.asarray(problem.outputs).ravel()] + [np.asarray(v).ravel() for v in problem.example_inputs.values()]
    big = max([int(np.abs(v.astype(np.int64)).max()) if v.size else 0 for v in values] + [abs(c) for c in pool] + [16])
    width = max(8, big.bit_length() + 1 + margin)
    return width if width <= 32 else None


@synthesizer("smt")
def smt(max_components: int = 6, max_states: int = 2, update_components: int = 3, output_components: int = 3,
        free_constant: bool = True, initial_examples: int = 3, first_slice: float = 0.25, margin: int = 4,
        narrow: bool = True):
    """z3 CEGIS over straight-line component programs (functions; state sketches for scans and folds)."""

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        ops = components(problem.operators)
        consts = constant_pool(problem)
        pool = Pool(problem, rng)
        loops = problem.kind in ("scan", "fold") and bool(problem.sequences)
        pool.start(max(1, initial_examples - (1 if loops else 0)))
        width = _narrow_width(problem, consts, margin) if narrow else None
        # Fast and sound first (narrow widths: every model is a true fit), then a free constant, then
        # the exact 64-bit search whose unsat answers prove that nothing of the sketch fits.
        phases = [(Narrow(width), False)] + ([(Narrow(width), True)] if free_constant else []) if width else []
        phases.append((Exact(), False))
        opnames = ", ".join(ops) or "no operators"
        if loops:
            plans = []
            for k in range(1, max_states + 1):
                for u in range(0, update_components + (k - 1) + 1):
                    for o in range(0, output_components + 1):
                        if (u or o) and not ops:
                            continue
                        for yf in ((False, True) if problem.kind == "scan" else (False,)):
                            plans.append((u + o + 2 * (k - 1), k, u, o, yf))
            plans.sort()
            what = (f"loop sketch with at most {max_states} state(s), {update_components} update component(s) "
                    f"(one more per extra state) and {output_components} output component(s) over {{{opnames}}}")
            make_sketches = lambda A, free: [LoopSketchEncoding(problem, A, ops, consts, k, u, o, yf, free)
                                             for _, k, u, o, yf in plans]
            slice_ = max(first_slice, 0.01)
        else:
            sizes = [L for L in range(0, max_components + 1) if L == 0 or ops]
            what = (f"straight-line program of at most {max_components} components over {{{opnames}}} "
                    f"and constants {consts}")
            make_sketches = lambda A, free: [FunctionSketch(problem, A, ops, consts, L, free) for L in sizes
                                             if not (free and L == 0)]
            slice_ = None
        notes: list[str] = []
        for A, free in phases:
            verdict, info = _search(make_sketches(A, free), pool, budget, slice_)
            if verdict == "solved":
                info.reasons = notes + info.reasons
                return info
            if verdict == "timeout":
                return Attempt(None, "timeout", pool.candidates, notes + [
                    f"budget ran out while searching {info} ({what}); {pool.candidates} candidates, "
                    f"{len(pool.chosen)} examples given to z3"] + pool.notes)
            notes += info
            if isinstance(A, Narrow):
                notes.append(f"no {what}{' with a free constant' if free else ''} whose values fit in {A.width} bits "
                             f"fits the examples")
        return Attempt(None, "exhausted", pool.candidates, [
            f"no {what} fits the {len(pool.chosen)} examples z3 was given (so none fits all {problem.size}), "
            f"by exact 64-bit search"] + notes + pool.notes)

    return run
