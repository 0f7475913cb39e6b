"""The affine form of a loop program, read symbolically from its AST: whether its state is a vector of
integers whose update and output are integer-affine in (state, input features), and if so the matrices.

A loop step of a scan or fold is ``s' = A s + B u + c`` and its output ``y = C s + D u + e`` when every
expression the body computes is, by induction over the AST:

- a constant, a state variable, or an input feature (below);
- a sum, difference or negation of affine ones, or an affine one times a constant;
- any operator (``==``, ``%``, ``min``, ``if`` ...) over operands that read no state: such a value is a
  function of the current inputs alone, tabulated over their alphabets and written back as a sum of one
  function per input (exactly, or not at all), each of which is linear in that input's features;
- ``c if cond else d`` with ``cond`` reading no state and ``c - d`` reading no state (a counter written
  as an if-expression).

Input features are what the network's cell sees of an input at each step: with ``numeric`` inputs its
value (so only affine functions of it are linear), with tokens its one-hot code (so every function of it
is: "x == v" is the feature ``[x == v]``). Scalar inputs enter every step, so they are features too; a
state variable whose start value depends on them is shifted (``d = s - g(scalars)``, ``d`` starts at a
constant), which keeps the update and output affine with ``g`` folded into the input terms.

Why symbolically and not by least squares over the reachable steps: the AST gives the maps exactly, for
any domain size (a running sum over values < 100 and length 7 has 10^14 inputs and ~70,000 reachable
steps), with no tolerance to choose, and says which expression is not affine when one is not. Soundness
is not taken on trust: ``compile`` checks the network built from these maps against the interpreter on
the whole domain (or its stated sample).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from programs import Int, Program
from programs.ast import Assign, Binary, Call, Const, Expr, IfExp, Tuple, Unary, Var, Yield, children
from programs.semantics import SCALAR

MAX_TABLE = 1 << 16  # input combinations tabulated for one operator over inputs alone


class NotAffine(ValueError):
    """The program's loop is not integer-affine in its state and input features (the message says where)."""


Key = tuple  # ("s", i): state variable i; ("v", name): an input's value; ("f", name, value): [input == value]


@dataclass(frozen=True)
class Affine:
    """``const + sum(coef[k] * k)`` over state and feature keys; coefficients are Python ints (exact)."""

    coef: tuple[tuple[Key, int], ...]
    const: int

    @staticmethod
    def of(coef: dict, const: int) -> Affine:
        return Affine(tuple(sorted((k, int(v)) for k, v in coef.items() if v)), int(const))

    @property
    def terms(self) -> dict:
        return dict(self.coef)

    def reads_state(self) -> bool:
        return any(k[0] == "s" for k, _ in self.coef)

    def inputs(self) -> list[str]:
        return sorted({k[1] for k, _ in self.coef if k[0] != "s"})

    def __add__(self, other: Affine) -> Affine:
        c = self.terms
        for k, v in other.coef:
            c[k] = c.get(k, 0) + v
        return Affine.of(c, self.const + other.const)

    def scale(self, m: int) -> Affine:
        return Affine.of({k: v * m for k, v in self.coef}, self.const * m)

    def __sub__(self, other: Affine) -> Affine:
        return self + other.scale(-1)

    def state_part(self) -> Affine:
        return Affine.of({k: v for k, v in self.coef if k[0] == "s"}, 0)

    def at(self, values: dict[str, int]) -> int:
        """The value where the inputs take ``values`` (no state terms)."""
        total = self.const
        for k, v in self.coef:
            if k[0] == "v":
                total += v * values[k[1]]
            elif k[0] == "f":
                total += v * (values[k[1]] == k[2])
            else:
                raise NotAffine("a value that reads the state was tabulated over the inputs")
        return total


@dataclass(frozen=True)
class AffineLoop:
    """A loop program as ``s' = A s + B u + c``, ``y = C s + D u + e`` (``u`` the feature vector, ``s`` the
    state after the shift by the scalar inputs, starting at ``start``)."""

    state: tuple[str, ...]
    features: tuple[Key, ...]
    a: np.ndarray  # [n, n] int
    b: np.ndarray  # [n, f]
    c: np.ndarray  # [n]
    out_s: np.ndarray  # [arity, n]
    out_u: np.ndarray  # [arity, f]
    out_c: np.ndarray  # [arity]
    start: np.ndarray  # [n]
    shifted: tuple[str, ...]  # state variables held less a function of the scalar inputs


def features(inputs: dict, numeric: bool) -> tuple[Key, ...]:
    """The feature keys of a signature, in its order: a value per numeric input, an indicator per token."""
    out: list[Key] = []
    for name, dom in inputs.items():
        d = dom if isinstance(dom, Int) else dom.element
        out += [("v", name)] if numeric else [("f", name, v) for v in range(d.lo, d.hi)]
    return tuple(out)


def affine_loop(program: Program, inputs: dict, numeric: bool) -> AffineLoop:
    """The affine form of ``program`` (a scan or fold) over ``inputs``; ``NotAffine`` saying why not."""
    shape = program.shape
    if shape.loop is None:
        raise NotAffine("a function has no loop state")
    alphabet = {n: ((d if isinstance(d, Int) else d.element).lo, (d if isinstance(d, Int) else d.element).hi)
                for n, d in inputs.items()}
    ev = _Evaluator(alphabet, numeric)
    env: dict[str, Affine] = {n: ev.feature(n) for n in shape.scalars}
    for stmt in shape.before:
        _assign(ev, env, stmt)
    state = tuple(shape.carried)
    shifts, start = {}, []
    for i, name in enumerate(state):
        init = env[name]
        start.append(init.const)
        shifts[name] = Affine.of(init.terms, 0)  # the part that depends on scalar inputs
        env[name] = Affine.of({("s", i): 1}, 0) + shifts[name]
    for t, seq in zip(shape.loop.targets, shape.loop.iters):
        env[t] = ev.feature(seq)
    outputs: list[Affine] | None = None
    for stmt in shape.loop.body:
        if isinstance(stmt, Assign):
            _assign(ev, env, stmt)
        elif isinstance(stmt, Yield):
            outputs = _items(ev, env, stmt.value)
    nxt = [env[name] - shifts[name] for name in state]
    if program.kind == "fold":
        after = dict(env)
        for stmt in shape.after:
            _assign(ev, after, stmt)
        outputs = _items(ev, after, shape.result)
    feats = features(inputs, numeric)
    fidx = {k: j for j, k in enumerate(feats)}
    n, f = len(state), len(feats)

    def rows(affs: list[Affine]):
        s = np.zeros((len(affs), n), dtype=object)
        u = np.zeros((len(affs), f), dtype=object)
        c = np.array([a.const for a in affs], dtype=object)
        for r, aff in enumerate(affs):
            for k, v in aff.coef:
                if k[0] == "s":
                    s[r, k[1]] = v
                else:
                    u[r, fidx[k]] = v
        return s, u, c

    a, b, c = rows(nxt)
    os_, ou, oc = rows(outputs)
    return AffineLoop(state, feats, a, b, c, os_, ou, oc, np.array(start, dtype=object),
                      tuple(n for n in state if shifts[n].coef))


def _items(ev, env, value: Expr) -> list[Affine]:
    return [ev.affine(e, env) for e in (value.items if isinstance(value, Tuple) else (value,))]


def _assign(ev, env: dict, stmt: Assign) -> None:
    values = _items(ev, env, stmt.value)
    for t, v in zip(stmt.targets, values):
        env[t] = v


class _Evaluator:
    def __init__(self, alphabet: dict[str, tuple[int, int]], numeric: bool):
        self.alphabet, self.numeric = alphabet, numeric

    def feature(self, name: str) -> Affine:
        if self.numeric:
            return Affine.of({("v", name): 1}, 0)
        lo, hi = self.alphabet[name]
        return Affine.of({("f", name, v): v for v in range(lo, hi)}, 0)

    def affine(self, e: Expr, env: dict) -> Affine:
        """The affine form of ``e`` over the names in ``env`` (``NotAffine`` where it has none)."""
        if isinstance(e, Const):
            return Affine.of({}, e.value)
        if isinstance(e, Var):
            return env[e.name]
        if isinstance(e, Unary) and e.op == "-":
            return self.affine(e.operand, env).scale(-1)
        if isinstance(e, Binary) and e.op in ("+", "-"):
            left, right = self.affine(e.left, env), self.affine(e.right, env)
            return left + right if e.op == "+" else left - right
        if isinstance(e, Binary) and e.op == "*":
            left, right = self.affine(e.left, env), self.affine(e.right, env)
            if not left.coef:
                return right.scale(left.const)
            if not right.coef:
                return left.scale(right.const)
        if isinstance(e, IfExp):
            cond, then, orelse = (self.affine(x, env) for x in (e.cond, e.then, e.orelse))
            if not cond.reads_state() and then.state_part() == orelse.state_part():
                s = then.state_part()
                return s + self.table(e, [cond, then - s, orelse - s])
        parts = [self.affine(x, env) for x in children(e)]
        if any(p.reads_state() for p in parts):
            raise NotAffine(f"`{_show(e)}` is not affine in the loop's state")
        return self.table(e, parts)

    def table(self, e: Expr, parts: list[Affine]) -> Affine:
        """The operator of ``e`` over ``parts`` (no state), tabulated over their inputs and written as a
        sum of one function per input."""
        op = _operator(e)
        names = sorted({n for p in parts for n in p.inputs()})
        ranges = [range(*self.alphabet[n]) for n in names]
        count = int(np.prod([len(r) for r in ranges])) if ranges else 1
        if count > MAX_TABLE:
            raise NotAffine(f"`{_show(e)}` is a function of {count} input combinations, more than {MAX_TABLE} to tabulate")
        ref = {n: r[0] for n, r in zip(names, ranges)}
        base = op(*(p.at(ref) for p in parts))
        per: dict[str, dict[int, int]] = {}
        for n, r in zip(names, ranges):
            per[n] = {v: op(*(p.at({**ref, n: v}) for p in parts)) - base for v in r}
        for combo in itertools.product(*ranges):
            values = dict(zip(names, combo))
            if op(*(p.at(values) for p in parts)) != base + sum(per[n][values[n]] for n in names):
                raise NotAffine(f"`{_show(e)}` does not split into one function per input ({', '.join(names)})")
        coef: dict = {}
        const = base
        for n in names:
            g = per[n]
            if self.numeric:
                lo = ref[n]
                slope = g.get(lo + 1, 0)  # g(lo) = 0
                if any(g[v] != slope * (v - lo) for v in g):
                    raise NotAffine(f"`{_show(e)}` is not affine in the value of {n} (numeric inputs see only values)")
                coef[("v", n)] = slope
                const -= slope * lo
            else:
                for v, w in g.items():
                    coef[("f", n, v)] = w
        return Affine.of(coef, const)


def _operator(e: Expr):
    """The function of ``e``'s operands (the ``if``-expression's too), with the language's semantics."""
    if isinstance(e, Unary):
        return SCALAR["neg" if e.op == "-" else "not"]
    if isinstance(e, Binary):
        return SCALAR[e.op]
    if isinstance(e, Call):
        return SCALAR[e.func]
    if isinstance(e, IfExp):
        return SCALAR["if"]
    raise NotAffine(f"`{_show(e)}` is not an expression of the loop")


def _show(e: Expr) -> str:
    from programs.printer import expr_source

    return expr_source(e)


__all__ = ["Affine", "AffineLoop", "NotAffine", "affine_loop", "features"]
