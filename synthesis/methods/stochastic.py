"""Stochastic search: Metropolis–Hastings MCMC over expression trees (STOKE, Schkufza et al. 2013).

A candidate is a set of expression *slots*: the one output expression of a function (one chain per
output for tuple outputs, each output being independent), or, for a scan or fold, a state sketch
(:class:`synthesis.build.LoopSketch`, one or two states) whose init expressions, update expressions
and output expression(s) are mutated jointly, plus the scan's choice of yielding before or after the
update.

Cost, lowest first: the fraction of mismatching examples (for a scan: of the steps where
``problem.mask()`` is set; for a fold: of the final outputs), then program size with a small weight::

    cost = mismatches / units + size_weight * size

Proposals: replace a random subtree by a fresh random one; change an operator for another of the
same arity; change a leaf (variable or constant, or nudge a constant by one); insert a node above a
subtree; delete a node (keep one of its children); swap two operands. A proposal is accepted with
probability ``min(1, exp(-beta * Δcost))``; with probability ``compound`` a proposal carries another
mutation (repeatedly), which helps a chain across a ridge of worse programs. When a chain has not
improved its best cost for ``patience`` proposals it restarts from a fresh random program, under a
size cap drawn per restart (a half, three quarters or all of ``max_size``). On reaching zero
mismatches the chain spends up to ``polish`` more proposals shrinking the program without losing an
example; a loop state that no output depends on is then dropped.

Evaluation is vectorised over the examples: each expression is compiled once with
``programs.interpreter.compile_expr`` over ``VECTOR`` and cached. A scan or fold is simulated step
by step over all example sequences at once (rows sorted by length, so the rows still running are a
prefix; a row past its length keeps its state); a scan's outputs are then computed in one call over
every (row, step). Loop searches start on ``sample`` examples; a candidate that fits them but not
all examples adds a few of the examples it gets wrong (as in CEGIS) and the chain goes on.

Everything random is drawn from the ``rng`` passed in, and the budget only decides when to stop, so
runs with the same seed follow the same path.
"""
from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass

import numpy as np

from programs import Binary, Call, Const, IfExp, ProgramError, Unary, Var
from programs.ast import BINARY_OPS, Expr, children, negate, size_of, substitute, variables, with_children
from programs.interpreter import compile_expr
from programs.semantics import VECTOR, wrap

from ..build import LoopSketch, function
from ..problem import Budget, Problem
from ..registry import Attempt, synthesizer

UNARY = ("neg", "not", "abs")
CALL2 = ("min", "max")
MOVES = ("subtree", "operator", "leaf", "insert", "delete", "swap")
MOVE_CUMULATIVE = list(itertools.accumulate([0.22, 0.2, 0.22, 0.14, 0.14, 0.08]))
CACHE_LIMIT = 50_000


class Draw:
    """Uniform draws from a numpy ``Generator``, taken a block at a time (a numpy call per draw is slow)."""

    def __init__(self, rng: np.random.Generator, block: int = 4096):
        self.rng = rng
        self.block = block
        self.buffer: list[float] = []
        self.i = 0

    def random(self) -> float:
        if self.i >= len(self.buffer):
            self.buffer = self.rng.random(self.block).tolist()
            self.i = 0
        self.i += 1
        return self.buffer[self.i - 1]

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return min(int(self.random() * n), n - 1)

    def pick(self, items):
        return items[self.below(len(items))]

    def weighted(self, cumulative: list[float]) -> int:
        """An index drawn with the weights whose running sums are ``cumulative``."""
        return min(bisect.bisect_right(cumulative, self.random() * cumulative[-1]), len(cumulative) - 1)


# --- the grammar of candidate expressions -------------------------------------------------------


def op_of(e: Expr) -> str | None:
    """The operator name of an inner node (as in ``problem.operators``); None for a leaf."""
    if isinstance(e, Binary):
        return e.op
    if isinstance(e, Unary):
        return "neg" if e.op == "-" else "not"
    if isinstance(e, Call):
        return e.func
    if isinstance(e, IfExp):
        return "if"
    return None


def nodes(e: Expr, path: tuple[int, ...] = ()):
    """Every (path, node) of ``e`` in pre-order; a path lists child indices from the root."""
    out = [(path, e)]
    for i, c in enumerate(children(e)):
        out.extend(nodes(c, path + (i,)))
    return out


def replace(e: Expr, path: tuple[int, ...], new: Expr) -> Expr:
    if not path:
        return new
    kids = list(children(e))
    kids[path[0]] = replace(kids[path[0]], path[1:], new)
    return with_children(e, kids)


def make(op: str, args) -> Expr:
    """The node ``op(args)``; the negation of a constant is folded into the constant."""
    if op == "neg":
        (x,) = args
        return negate(x)
    if op == "not":
        return Unary("not", args[0])
    if op in ("abs", "min", "max"):
        return Call(op, tuple(args))
    if op == "if":
        return IfExp(*args)
    return Binary(op, args[0], args[1])


class Grammar:
    """Operators and constants a problem allows, and random expressions over them."""

    def __init__(self, operators, constants):
        self.binary = [op for op in BINARY_OPS if op in operators] + [f for f in CALL2 if f in operators]
        self.unary = [op for op in UNARY if op in operators]
        self.ternary = ["if"] if "if" in operators else []
        self.by_arity = {1: self.unary, 2: self.binary, 3: self.ternary}
        self.ops = self.unary + self.binary + self.ternary
        self.arities = [a for a in (2, 1, 3) if self.by_arity[a]]
        self.arity_cumulative = list(itertools.accumulate({2: 0.7, 1: 0.18, 3: 0.12}[a] for a in self.arities))
        self.constants = tuple(int(c) for c in constants)

    def leaf(self, rng: Draw, names: tuple[str, ...], p_var: float = 0.7) -> Expr:
        if names and (not self.constants or rng.random() < p_var):
            return Var(rng.pick(names))
        return Const(rng.pick(self.constants))

    def random(self, rng: Draw, names: tuple[str, ...], depth: int) -> Expr:
        if depth <= 0 or not self.ops or rng.random() < 0.3:
            return self.leaf(rng, names)
        # Binary operators are the bulk of most operator sets; pick an arity first so that unary
        # and ternary nodes are neither drowned out nor over-represented.
        arity = self.arities[rng.weighted(self.arity_cumulative)]
        op = rng.pick(self.by_arity[arity])
        return make(op, [self.random(rng, names, depth - 1) for _ in range(arity)])

    def mutate(self, rng: Draw, e: Expr, size: int, names: tuple[str, ...],
               max_size: int) -> tuple[Expr, int] | None:
        """One random proposal on ``e`` (of ``size`` nodes): the new expression and its size; None when
        the chosen move does not apply or would exceed ``max_size``."""
        move = MOVES[rng.weighted(MOVE_CUMULATIVE)]
        all_nodes = nodes(e)
        path, node = rng.pick(all_nodes)
        op = op_of(node)
        if move == "subtree":
            new = self.random(rng, names, rng.below(3) + (1 if rng.random() < 0.5 else 0))
        elif move == "operator":
            if op is None:
                return None
            kids = list(children(node))
            same = [o for o in self.by_arity[len(kids)] if o != op]
            if not same:
                return None
            new = make(rng.pick(same), kids)
        elif move == "leaf":
            leaves = [(p, n) for p, n in all_nodes if op_of(n) is None]
            path, node = rng.pick(leaves)
            if isinstance(node, Const) and rng.random() < 0.25:
                new = Const(wrap(node.value + (1 if rng.random() < 0.5 else -1)))
            else:
                new = self.leaf(rng, names)
        elif move == "insert":
            if not self.ops:
                return None
            op = rng.pick(self.ops)
            arity = 1 if op in UNARY else (3 if op == "if" else 2)
            args = [self.random(rng, names, rng.below(2)) for _ in range(arity)]
            # The old subtree goes to a random operand (of an ``if``, more often a branch than the test).
            slot = rng.below(arity) if arity < 3 or rng.random() < 0.5 else 1 + rng.below(2)
            args[slot] = node
            new = make(op, args)
        elif move == "delete":
            kids = children(node)
            if not kids:
                return None
            new = rng.pick(kids)
        else:  # swap two operands
            kids = list(children(node))
            if len(kids) < 2:
                return None
            i = rng.below(len(kids))
            j = (i + 1 + rng.below(len(kids) - 1)) % len(kids)
            kids[i], kids[j] = kids[j], kids[i]
            new = make(op, kids)
        if new == node:
            return None
        if size - size_of(node) + size_of(new) > max_size:
            return None
        out = replace(e, path, new)
        return out, size_of(out)  # counted again: a negated constant folds into the constant


# --- candidates and their evaluation ---------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A program under search: ``slots`` of expressions (inits, updates, outputs for a loop)."""

    slots: tuple[Expr, ...]
    sizes: tuple[int, ...]
    yield_first: bool = False

    @property
    def size(self) -> int:
        return sum(self.sizes)

    @classmethod
    def of(cls, slots, yield_first: bool = False) -> "Candidate":
        return cls(tuple(slots), tuple(size_of(e) for e in slots), yield_first)


class Compiled:
    """``compile_expr`` over the vectorised operators, cached by expression."""

    def __init__(self):
        self.cache: dict[Expr, object] = {}

    def __call__(self, e: Expr):
        f = self.cache.get(e)
        if f is None:
            if len(self.cache) > CACHE_LIMIT:
                self.cache.clear()
            f = self.cache[e] = compile_expr(e, VECTOR)
        return f


class FunctionTarget:
    """One output column of a function problem: mismatches of an expression over the scalar inputs."""

    def __init__(self, problem: Problem, column: int | None):
        self.env = {n: np.asarray(problem.example_inputs[n], dtype=np.int64) for n in problem.scalars}
        out = np.asarray(problem.outputs, dtype=np.int64)
        self.want = out if column is None else out[:, column]
        self.units = int(self.want.shape[0])
        self.compiled = Compiled()
        self.names = tuple(problem.scalars)

    def layout(self):
        return [(self.names, None)]  # (names in scope, max size: None = the method's max_size)

    def wrong(self, cand: Candidate) -> np.ndarray:
        """Boolean per example: does the candidate get it wrong?"""
        with np.errstate(all="ignore"):
            got = self.compiled(cand.slots[0])(self.env)
            return np.broadcast_to(got != self.want, self.want.shape)

    def mismatches(self, cand: Candidate) -> float:
        return float(np.count_nonzero(self.wrong(cand)))


class LoopTarget:
    """A scan or fold sketch with ``k`` states, simulated over example sequences ``rows`` at once.

    Rows are kept sorted by length, longest first, so the rows still running at step ``t`` are a
    prefix: each step computes on that prefix alone, with no masking (a row past its length keeps
    its state, and for a scan its later steps are not compared).
    """

    def __init__(self, problem: Problem, k: int, rows: np.ndarray | None = None):
        self.problem = problem
        self.k = k
        self.sketch = LoopSketch.of(problem, k)
        self.scan = problem.kind == "scan"
        self.arity = problem.arity
        rows = np.arange(problem.size) if rows is None else np.asarray(rows)
        seqs = [np.asarray(problem.example_inputs[s], dtype=np.int64)[rows] for s in problem.sequences]
        width = seqs[0].shape[1] if seqs else 0
        lengths = np.full(len(rows), width, dtype=np.int64) if problem.lengths is None else problem.lengths[rows]
        order = np.argsort(-lengths, kind="stable")
        self.rows = rows[order]
        self.n = n = len(rows)
        lengths = lengths[order]
        seqs = [a[order] for a in seqs]
        self.scalars = {s: np.asarray(problem.example_inputs[s], dtype=np.int64)[self.rows] for s in problem.scalars}
        out = np.asarray(problem.outputs, dtype=np.int64)[self.rows]
        if self.arity == 1:
            out = out[..., None]  # [n, T, arity] for a scan, [n, arity] for a fold
        self.steps = []  # per time step: (rows still running, their env entries, offset in the flat arrays)
        offset = 0
        flat: dict[str, list[np.ndarray]] = {name: [] for name in (*self.sketch.elements, *self.scalars)}
        want: list[list[np.ndarray]] = [[] for _ in range(self.arity)]
        for t in range(width):
            m = int(np.count_nonzero(lengths > t))
            if m == 0:
                break
            env = {x: np.ascontiguousarray(a[:m, t]) for x, a in zip(self.sketch.elements, seqs)}
            env.update({name: v[:m] for name, v in self.scalars.items()})
            for name, v in env.items():
                flat[name].append(v)
            for j in range(self.arity):
                want[j].append(out[:m, t, j] if self.scan else out[:0, j])
            self.steps.append((m, env, offset))
            offset += m
        # A scan's outputs are computed once, after the states: over every (row, step) laid end to end.
        self.flat = {name: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for name, v in flat.items()}
        self.total = offset
        if self.scan:
            self.want = [np.concatenate(w) if w else np.zeros(0, dtype=np.int64) for w in want]
            self.units = offset * self.arity
        else:
            self.want = [np.ascontiguousarray(out[:, j]) for j in range(self.arity)]
            self.units = n * self.arity
        self.compiled = Compiled()
        scal = tuple(problem.scalars)
        self.init_names = scal
        self.update_names = tuple(self.sketch.states) + tuple(self.sketch.elements) + scal
        self.output_names = self.update_names if self.scan else tuple(self.sketch.states) + scal

    def layout(self):
        return ([(self.init_names, 3)] * self.k + [(self.update_names, None)] * self.k
                + [(self.output_names, None)] * self.arity)

    def mismatches(self, cand: Candidate) -> float:
        """Mismatching units: steps of a scan (each output), or outputs of a fold."""
        k, n = self.k, self.n
        c = self.compiled
        inits = [c(e) for e in cand.slots[:k]]
        updates = [c(e) for e in cand.slots[k : 2 * k]]
        outputs = [c(e) for e in cand.slots[2 * k :]]
        states = self.sketch.states
        scan, first = self.scan, cand.yield_first
        with np.errstate(all="ignore"):
            values = [_full(f(self.scalars), n) for f in inits]
            if scan:  # the state each step's output reads, for every (row, step)
                seen = [np.empty(self.total, dtype=np.int64) for _ in range(k)]
            else:  # a fold: each row's state when its sequence ends
                done = [v.copy() for v in values]
            live = n
            for m, env, offset in self.steps:
                if m < live:
                    if not scan:
                        for d, v in zip(done, values):
                            d[m:live] = v[m:live]
                    values = [v[:m] for v in values]
                    live = m
                if scan and first:
                    for b, v in zip(seen, values):
                        b[offset : offset + m] = v
                env = dict(env)
                env.update(zip(states, values))
                values = [_full(f(env), m) for f in updates]
                if scan and not first:
                    for b, v in zip(seen, values):
                        b[offset : offset + m] = v
            if scan:
                env = dict(self.flat)
                env.update(zip(states, seen))
            else:
                for d, v in zip(done, values):
                    d[:live] = v
                env = dict(self.scalars)
                env.update(zip(states, done))
            return float(sum(int(np.count_nonzero(f(env) != w)) for f, w in zip(outputs, self.want)))

    def program(self, cand: Candidate):
        return loop_program(self.sketch, cand)


def loop_program(sketch: LoopSketch, cand: Candidate):
    """The program of a loop candidate: ``cand.slots`` are the inits, the updates, then the outputs."""
    k = len(sketch.states)
    return sketch.program(list(cand.slots[:k]), list(cand.slots[k : 2 * k]), list(cand.slots[2 * k :]),
                          yield_first=cand.yield_first)


def _full(v, n: int) -> np.ndarray:
    """``v`` as an int64 array of ``n`` rows (a constant expression gives a scalar)."""
    a = np.asarray(v, dtype=np.int64)
    return np.full(n, a, dtype=np.int64) if a.ndim == 0 else a


# --- the chain --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    best: Candidate | None
    mismatches: int  # examples the best candidate gets wrong, over all examples
    candidates: int
    restarts: int
    stopped: str  # "solved" | "timeout" | "exhausted"
    target: object = None  # the target (sketch) that ``best`` belongs to


class Chain:
    """MCMC with restarts; for loops, against a working set of examples that grows on failures.

    ``build(rows)`` gives ``{key: target}`` (one loop sketch per state count, or one function
    column) over the example rows ``rows``; ``verify(target, candidate)`` says which of all the
    examples the candidate gets wrong. The chain starts on ``sample`` rows (all of them when None);
    a candidate that fits the working set but not every example adds a few of the examples it gets
    wrong to the set (CEGIS-style) and the chain goes on.
    """

    def __init__(self, build, verify, n: int, grammar: Grammar, rng: np.random.Generator, budget: Budget, *,
                 max_size: int, beta: float, size_weight: float, patience: int, restarts: int | None,
                 polish: int, compound: float = 0.0, sample: int | None = None, grow: int = 8, scan: bool = False):
        self.build = build
        self.verify = verify
        self.n = n
        self.grammar = grammar
        self.np_rng = rng
        self.rng = Draw(rng)
        self.budget = budget
        self.max_size = max_size
        # Each restart draws its size cap from these: small caps keep a chain among small programs,
        # where most solutions are; the full cap lets it reach the larger ones.
        self.caps = sorted({max(1, max_size // 2), max(1, (3 * max_size) // 4), max_size})
        self.cap = max_size
        self.beta = beta
        self.size_weight = size_weight
        self.patience = patience
        self.restarts = restarts
        self.polish = polish
        self.compound = compound
        self.sample = sample
        self.grow = grow
        self.scan = scan
        self.candidates = 0
        self.cache: dict[tuple[int, Candidate], float] = {}

    def _eval(self, target, key: int, cand: Candidate) -> float:
        """Mismatches of ``cand`` on the working set (each call is one candidate, cached or not)."""
        self.candidates += 1
        hit = self.cache.get((key, cand))
        if hit is None:
            if len(self.cache) > CACHE_LIMIT:
                self.cache.clear()
            hit = self.cache[(key, cand)] = target.mismatches(cand)
        return hit

    def _fresh(self, layout) -> Candidate:
        slots = []
        for names, cap in layout:
            if cap is not None and cap <= 3:
                slots.append(self.grammar.leaf(self.rng, names, p_var=0.3))
                continue
            while True:
                e = self.grammar.random(self.rng, names, 1 + self.rng.below(3))
                if size_of(e) <= (cap or self.cap):
                    break
            slots.append(e)
        return Candidate.of(slots, bool(self.rng.random() < 0.5) if self.scan else False)

    def _propose(self, cand: Candidate, layout) -> Candidate | None:
        """One to a few mutations at once (several help a chain across a ridge of worse programs)."""
        prop = self._mutate(cand, layout)
        while prop is not None and self.rng.random() < self.compound:
            prop = self._mutate(prop, layout) or prop
        return prop

    def _mutate(self, cand: Candidate, layout) -> Candidate | None:
        if self.scan and self.rng.random() < 0.03:
            return Candidate(cand.slots, cand.sizes, not cand.yield_first)
        if len(cand.slots) == 1:
            i = 0
        else:  # a slot with probability by its size: every node about equally likely, as in STOKE
            i = self.rng.weighted(list(itertools.accumulate(n + 1 for n in cand.sizes)))
        names, cap = layout[i]
        out = self.grammar.mutate(self.rng, cand.slots[i], cand.sizes[i], names, cap or self.cap)
        if out is None:
            return None
        new, size = out
        return Candidate(cand.slots[:i] + (new,) + cand.slots[i + 1 :], cand.sizes[:i] + (size,) + cand.sizes[i + 1 :],
                         cand.yield_first)

    def run(self) -> Outcome:
        rng, budget = self.rng, self.budget
        if self.sample is None or self.sample >= self.n:
            rows = np.arange(self.n)
        else:
            rows = np.sort(self.np_rng.choice(self.n, size=self.sample, replace=False))
        targets = self.build(rows)
        keys = sorted(targets)
        best: tuple[float, int] = (math.inf, 0)  # (fraction of the working set wrong, size)
        best_cand, best_key = None, keys[0]
        restarts = -1
        while not budget.expired:
            if self.restarts is not None and restarts >= self.restarts:
                return self._missed(best_cand, targets[best_key], restarts, "exhausted")
            restarts += 1
            # The fewest states in two restarts out of three; more states in the rest (when offered).
            key = keys[0] if len(keys) == 1 or rng.random() < 2 / 3 else rng.pick(keys[1:])
            self.cap = rng.pick(self.caps)
            target = targets[key]
            layout = target.layout()
            cur = self._fresh(layout)
            cur_m = self._eval(target, key, cur)
            scale = 1.0 / max(1, target.units)
            cur_cost = cur_m * scale + self.size_weight * cur.size
            chain_best, stale = cur_cost, 0
            if (cur_m * scale, cur.size) < best:
                best, best_cand, best_key = (cur_m * scale, cur.size), cur, key
            while not budget.expired:
                if cur_m == 0:
                    wrong = self.verify(target, cur)
                    if not wrong.any():
                        cur = self._shrink(target, key, cur, layout)
                        return Outcome(cur, 0, self.candidates, restarts, "solved", target)
                    # Fits the working set only: add some of the examples it gets wrong, and go on.
                    bad = np.flatnonzero(wrong)
                    if len(bad) > self.grow:
                        bad = self.np_rng.choice(bad, size=self.grow, replace=False)
                    rows = np.union1d(rows, bad)
                    targets = self.build(rows)
                    target = targets[key]
                    self.cache.clear()
                    cur_m = self._eval(target, key, cur)
                    scale = 1.0 / max(1, target.units)
                    cur_cost = cur_m * scale + self.size_weight * cur.size
                    chain_best, stale, best = cur_cost, 0, (math.inf, 0)
                    if cur_m == 0:  # cannot happen (a wrong example was added); never loop on it
                        break
                if stale >= self.patience:
                    break
                prop = self._propose(cur, layout)
                if prop is None:
                    continue
                stale += 1
                # Metropolis: accept when cost <= cur_cost - log(u) / beta, i.e. with probability
                # min(1, exp(-beta * (cost - cur_cost))).
                max_cost = cur_cost - math.log(max(rng.random(), 1e-300)) / self.beta
                m = self._eval(target, key, prop)
                cost = m * scale + self.size_weight * prop.size
                if cost <= max_cost:
                    cur, cur_m, cur_cost = prop, m, cost
                    if (m * scale, prop.size) < best:
                        best, best_cand, best_key = (m * scale, prop.size), prop, key
                    if cost < chain_best - 1e-12:
                        chain_best, stale = cost, 0
        return self._missed(best_cand, targets[best_key], max(restarts, 0), "timeout")

    def _missed(self, best: Candidate | None, target, restarts: int, stopped: str) -> Outcome:
        wrong = self.n if best is None else int(np.count_nonzero(self.verify(target, best)))
        return Outcome(best, wrong, self.candidates, restarts, stopped, target)

    def _shrink(self, target, key, cand: Candidate, layout) -> Candidate:
        """Up to ``polish`` proposals that keep the working set and never grow the program; the
        smallest program found is kept if it still fits every example."""
        fit, smallest = cand, cand
        for _ in range(self.polish):
            if self.budget.expired:
                break
            prop = self._propose(cand, layout)
            if prop is None or prop.size > cand.size:
                continue
            if self._eval(target, key, prop) == 0:
                cand = prop
                if cand.size < smallest.size:
                    smallest = cand
        if smallest is not fit and not self.verify(target, smallest).any():
            return smallest
        return fit


@synthesizer("stochastic")
def stochastic(max_size: int = 16, restarts: int | None = None, beta: float = 100.0, size_weight: float = 0.01,
               patience: int = 3000, polish: int = 400, compound: float = 0.3, sample: int = 64,
               states: tuple[int, ...] = (1, 2)):
    """MCMC over expression trees (STOKE-style): mutate, accept by exp(-beta * Δcost), restart when stuck.

    ``max_size``: most nodes in one expression; ``restarts``: most restarts (None: until the budget
    ends); ``beta``: inverse temperature, on the fraction of mismatching examples; ``size_weight``:
    the cost of one node on that scale; ``patience``: proposals without a better cost before a
    restart; ``polish``: proposals spent shrinking a program that fits; ``sample``: examples a scan
    or fold search starts from (more are added from counterexamples); ``states``: state counts of
    the loop sketches tried for scans and folds.
    """
    if max_size < 1:
        raise ValueError(f"max_size must be at least 1, got {max_size}")
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    if restarts is not None and restarts < 0:
        raise ValueError(f"restarts must be None or at least 0, got {restarts}")
    states = tuple(sorted({int(k) for k in states}))
    if not states or states[0] < 1:
        raise ValueError(f"states must be positive state counts, got {states}")

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        grammar = Grammar(problem.operators, problem.constants())
        settings = dict(max_size=max_size, beta=beta, size_weight=size_weight, patience=patience,
                        restarts=restarts, polish=polish, compound=compound)
        if problem.kind == "function":
            # MCMC cannot show that nothing fits; a short, complete enumeration of what the operators can
            # produce on the examples sometimes can (it is charged to this method's budget).
            from .enumerative import inexpressible

            why = inexpressible(problem, min(0.5, 0.05 * budget.left))
            if why is not None:
                return Attempt(None, "exhausted", 0, [why])
            return _function(problem, budget, rng, grammar, settings)

        def build(rows):
            return {k: LoopTarget(problem, k, rows) for k in states}

        def verify(target, cand):
            return problem.mismatches(target.program(cand))

        chain = Chain(build, verify, problem.size, grammar, rng, budget, sample=sample,
                      scan=problem.kind == "scan", **settings)
        out = chain.run()
        if out.stopped == "solved":
            program, k = _prune(problem, out.target, out.best, states)
            return Attempt(program, "solved", out.candidates,
                           [f"stochastic: fits all {problem.size} examples with {k} state(s) after "
                            f"{out.restarts} restart(s) and {out.candidates} candidates"])
        return Attempt(None, out.stopped, out.candidates, [_missed(out, problem)])

    return run


def _prune(problem: Problem, target: "LoopTarget", cand: Candidate, states: tuple[int, ...]):
    """The program of a solved loop candidate, without states that no output depends on."""
    k = target.k
    names = target.sketch.states
    inits, updates, outputs = cand.slots[:k], cand.slots[k : 2 * k], cand.slots[2 * k :]
    need: set[str] = set()
    for e in outputs:
        need |= {n for n in variables(e) if n in names}
    while True:  # a needed state needs the states its update reads
        more = set(need)
        for i, n in enumerate(names):
            if n in need:
                more |= {v for v in variables(updates[i]) if v in names}
        if more == need:
            break
        need = more
    keep = [i for i, n in enumerate(names) if n in need]
    program = target.program(cand)
    smaller = max(1, len(keep))  # a loop keeps at least one state (with no state needed, a constant one)
    if smaller >= k or smaller not in states:
        return program, k
    sketch = LoopSketch.of(problem, smaller)
    mapping = {names[i]: Var(sketch.states[j]) for j, i in enumerate(keep)}
    if keep:
        slots = [inits[i] for i in keep] + [substitute(updates[i], mapping) for i in keep]
    else:
        slots = [Const(0), Const(0)]
    pruned = Candidate.of(slots + [substitute(e, mapping) for e in outputs], cand.yield_first)
    try:
        candidate = loop_program(sketch, pruned)
    except ProgramError:  # a program the language rejects: keep the one that was verified
        return program, k
    if problem.mismatches(candidate).any():
        return program, k
    return candidate, smaller


def _function(problem: Problem, budget: Budget, rng, grammar: Grammar, settings) -> Attempt:
    """One chain per output: the outputs of a function are independent expressions."""
    columns = [None] if problem.arity == 1 else list(range(problem.arity))
    exprs, candidates, restarts = [], 0, 0
    for col in columns:
        target = FunctionTarget(problem, col)
        chain = Chain(lambda rows: {0: target}, lambda t, c: t.wrong(c), problem.size, grammar, rng, budget, **settings)
        out = chain.run()
        candidates += out.candidates
        restarts += out.restarts
        if out.stopped != "solved":
            which = "" if col is None else f" (output {col + 1} of {problem.arity})"
            return Attempt(None, out.stopped, candidates, [_missed(out, problem) + which])
        exprs.append(out.best.slots[0])
    program = function(problem, exprs if len(exprs) > 1 else exprs[0])
    return Attempt(program, "solved", candidates,
                   [f"stochastic: fits all {problem.size} examples after {restarts} restart(s) "
                    f"and {candidates} candidates"])


def _missed(out: Outcome, problem: Problem) -> str:
    why = "the budget ran out" if out.stopped == "timeout" else "the restart limit was reached"
    if out.best is None:
        return f"stochastic: {why} before any candidate was evaluated ({out.candidates} candidates)"
    shape = f" with {out.target.k} state(s)" if isinstance(out.target, LoopTarget) else ""
    return (f"stochastic: {why}; the best {problem.kind} found{shape} (size {out.best.size}) still gets "
            f"{out.mismatches} of {problem.size} examples wrong, after {out.restarts} restart(s) and "
            f"{out.candidates} candidates")
