"""Passive automata learning (RPNI, via aalpy) for scans and folds over a finite alphabet.

The examples become labelled words: at each step the input symbol is the tuple of the scalar inputs
(folded into every symbol) and the elements of every sequence at that step. A scan gives one word per
prefix, labelled with the output at its last step (prefix-closed data); a fold gives one word per
example, labelled with its answer. aalpy's RPNI (generalised state merging) learns the smallest
machine it can by merging the states of the prefix-tree acceptor while the merged machine still
agrees with every word: a Mealy machine (output read on the transition) or a Moore machine (output
read on the state reached) for scans, a Moore machine for folds.

The state table is then written as a program of the language:

    s = <initial state>
    for x0, x1 in zip(xs, ys):
        yield <output of (s, x0, x1)>     # Mealy: from the old state, before the update
        s = <next state of (s, x0, x1)>

Each table (next state, output) becomes one expression over the state, the symbol components and
derived tests between components (``x == t``, ``x < t``): first a small pool of closed forms
(``s ^ x``, ``x``, ``s + (x == t)``, ``(s + x) % m``, ...); otherwise a chain
``v1 if C1 else (v2 if C2 else ... v)`` whose leaves are constants, variables or pool expressions and
whose conditions are unions of cubes (per variable a set of values, written as ``==``, ``!=``, ``<=``,
``>=`` tests), found greedily with the unobserved (state, symbol) pairs left as don't-cares. The
result goes through ``programs.simplify``. Several machines (Mealy and Moore for a scan) and state
numberings (learning order; by output, so the output is the state; by the element that enters a
state, so a state that remembers an element is that element) are tried, smaller machines first, and
the smallest program that fits every example is returned.

The learning loop is aalpy's GSM RPNI (its prefix tree, merge test and automaton construction) driven
step for step as ``aalpy.learning_algs.run_RPNI`` drives it, with the budget checked before each
merge and red-state membership kept in a set (aalpy's own loop scans a list, quadratic in the states).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from programs import Binary, Call, Const, IfExp, Int, Program, Seq, Var
from programs.ast import Expr
from programs.simplify import simplify

from ..build import LoopSketch
from ..problem import Budget, Problem
from ..registry import Attempt, synthesizer

POOL_OPS = ("^", "&", "|", "+", "-", "*", "==", "!=", "<", "<=", "min", "max")
LEAF_OPS = ("^", "&", "|", "+", "-", "min", "max")  # pool expressions also offered as chain leaves
MODULI = range(2, 10)
TOP_LEAVES = 6  # candidate leaves costed at each step of a chain


class OutOfTime(Exception):
    pass


# --- the machine --------------------------------------------------------------------------------


@dataclass
class Machine:
    """A learned machine as plain tables over state numbers and symbol codes."""

    kind: str  # "mealy" | "moore"
    n_states: int
    initial: int
    transitions: dict[tuple[int, int], int]
    outputs: dict  # mealy: (state, code) -> value | None; moore: state -> value | None
    merged: int  # prefix-tree nodes merged away


def _tables(model, kind: str) -> tuple[int, dict, dict]:
    states = list(model.states)
    states.remove(model.initial_state)
    states.insert(0, model.initial_state)
    index = {id(q): i for i, q in enumerate(states)}
    trans: dict[tuple[int, int], int] = {}
    outs: dict = {}
    for i, q in enumerate(states):
        for sym, nxt in q.transitions.items():
            trans[(i, sym)] = index[id(nxt)]
            if kind == "mealy":
                outs[(i, sym)] = q.output_fun.get(sym)
        if kind == "moore":
            outs[i] = q.output
    return len(states), trans, outs


def _learn(words: dict[tuple, object], kind: str, pta_nodes: int, budget: Budget) -> Machine | None:
    """RPNI by generalised state merging (aalpy's ``GsmRPNI``: its prefix tree, merge test and automaton).

    The red/blue loop is aalpy's ``run_rpni`` step for step (same order, so the same machine as
    ``run_RPNI(data, kind)``), except that red membership is an identity set instead of a list scan
    (aalpy's loop is quadratic in the states) and the budget is checked before each merge attempt.
    """
    from aalpy.learning_algs.deterministic_passive.GsmRPNI import GsmRPNI  # only this method needs aalpy
    from aalpy.learning_algs.deterministic_passive.rpni_helper_functions import to_automaton

    data = [[list(w), label] for w, label in words.items()]
    rpni = GsmRPNI(data, kind, print_info=False)
    if rpni.root_node is None:
        return None
    red = [rpni.root_node]
    red_ids = {id(rpni.root_node)}
    blue = list(rpni.root_node.children.values())
    while blue:
        if budget.expired:
            raise OutOfTime
        node = min(blue)  # shortest prefix first, ties in discovery order (as aalpy)
        partition, target = None, None
        for target in red:
            partition = rpni._partition_from_merge(target, node)
            if partition is not None:
                break
        if partition is None:
            red.append(node)
            red_ids.add(id(node))
        else:
            for n, block in partition.items():
                n.output = block.output
                n.children = block.children
            parent = rpni.root_node.get_child_by_prefix(node.prefix[:-1])
            parent.children[node.prefix[-1]] = target
        blue = [c for r in red for c in r.children.values() if id(c) not in red_ids]
    model = to_automaton(red, kind)
    n, trans, outs = _tables(model, kind)
    return Machine(kind, n, 0, trans, outs, max(0, pta_nodes - n))


# --- tables to expressions -------------------------------------------------------------------------


def _set_cost(mask: np.ndarray, values: list[int]) -> int:
    """Literals needed to say ``v in {values[i] : mask[i]}`` given v ranges over ``values``."""
    k, n = int(mask.sum()), len(mask)
    if k == n:
        return 0
    if k == 1 or k == n - 1:
        return 1
    idx = np.flatnonzero(mask)
    if idx[-1] - idx[0] + 1 == k:  # contiguous
        return 1 if idx[0] == 0 or idx[-1] == n - 1 else 2
    return min(k, n - k)


def _set_expr(var: Expr, mask: np.ndarray, values: list[int]) -> Expr | None:
    k, n = int(mask.sum()), len(mask)
    if k == n:
        return None
    idx = np.flatnonzero(mask)
    if k == 1:
        return Binary("==", var, Const(values[idx[0]]))
    if k == n - 1:
        return Binary("!=", var, Const(values[int(np.flatnonzero(~mask)[0])]))
    if idx[-1] - idx[0] + 1 == k:
        lo, hi = values[idx[0]], values[idx[-1]]
        if idx[0] == 0:
            return Binary("<=", var, Const(hi))
        if idx[-1] == n - 1:
            return Binary(">=", var, Const(lo))
        return Binary("and", Binary(">=", var, Const(lo)), Binary("<=", var, Const(hi)))
    if k <= n - k:
        terms = [Binary("==", var, Const(values[i])) for i in idx]
        op = "or"
    else:
        terms = [Binary("!=", var, Const(values[i])) for i in np.flatnonzero(~mask)]
        op = "and"
    out = terms[0]
    for t in terms[1:]:
        out = Binary(op, out, t)
    return out


def _join(op: str, items: list[Expr]) -> Expr:
    out = items[0]
    for it in items[1:]:
        out = Binary(op, out, it)
    return out


class TableWriter:
    """Writes a partial function over finite variables as a compact expression."""

    def __init__(self, var_exprs: list[Expr], domains: list[list[int]], budget: Budget):
        self.vars = var_exprs
        self.domains = [list(d) for d in domains]
        self.budget = budget

    def _tick(self) -> None:
        if self.budget.elapsed > 0.9 * self.budget.seconds:  # leave time to simplify and check
            raise OutOfTime

    # closed forms over the points' values: (expr, values) pairs
    def _pool(self, P: np.ndarray, leaves_only: bool = False):
        m = P.shape[1]
        for j in range(m):
            yield self.vars[j], P[:, j]
        ops = LEAF_OPS if leaves_only else POOL_OPS
        for a, b in itertools.permutations(range(m), 2):
            x, y = P[:, a], P[:, b]
            for op in ops:
                if a > b and op in ("^", "&", "|", "+", "*", "==", "!=", "min", "max"):
                    continue  # commutative: one order suffices
                if op in ("min", "max"):
                    yield Call(op, (self.vars[a], self.vars[b])), (np.minimum if op == "min" else np.maximum)(x, y)
                    continue
                yield Binary(op, self.vars[a], self.vars[b]), _numpy_op(op, x, y)
        if leaves_only:
            return
        for a, b in itertools.permutations(range(m), 2):
            x, y = P[:, a], P[:, b]
            for mod in MODULI:
                if a < b:
                    yield Binary("%", Binary("+", self.vars[a], self.vars[b]), Const(mod)), (x + y) % mod
                yield Binary("%", Binary("-", self.vars[a], self.vars[b]), Const(mod)), (x - y) % mod
                yield (Binary("%", Binary("+", Binary("*", Const(2), self.vars[a]), self.vars[b]), Const(mod)),
                       (2 * x + y) % mod)

    def write(self, points: list[tuple[int, ...]], values: list[int]) -> Expr:
        """An expression over ``self.vars`` equal to ``values[i]`` at ``points[i]`` (elsewhere: anything)."""
        if not points:
            return Const(0)
        P = np.asarray(points, dtype=np.int64).reshape(len(points), len(self.vars))
        V = np.asarray(values, dtype=np.int64)
        if (V == V[0]).all():
            return Const(int(V[0]))
        for expr, got in self._pool(P):
            if np.array_equal(got, V):
                return expr
        self._tick()
        return self._chain(P, V)

    def _chain(self, P: np.ndarray, V: np.ndarray) -> Expr:
        idx = np.stack([np.searchsorted(np.asarray(d), P[:, j]) for j, d in enumerate(self.domains)], axis=1)
        leaves: list[tuple[Expr, np.ndarray]] = [(Const(int(v)), V == v) for v in np.unique(V)]
        leaves += [(e, got == V) for e, got in self._pool(P, leaves_only=True)]
        exprs, rows, seen = [], [], set()
        for e, c in leaves:  # one leaf per behaviour on the points, the first (simplest) kept
            key = np.packbits(c).tobytes()
            if c.any() and key not in seen:
                seen.add(key)
                exprs.append(e)
                rows.append(c)
        C = np.stack(rows)  # [leaves, points]: leaf i gives the right value at point j
        live = np.ones(len(V), dtype=bool)
        branches: list[tuple[Expr, Expr]] = []
        while True:
            self._tick()
            counts = (C & live).sum(axis=1)
            total = int(live.sum())
            done = np.flatnonzero(counts == total)
            if len(done):
                default = exprs[int(done[0])]
                break
            order = [i for i in np.argsort(-counts, kind="stable")[:TOP_LEAVES] if counts[i]]
            best = None
            for i in order:
                cons = C[i]
                must, forb = live & cons, live & ~cons
                cubes, cost = self._cover(idx[must], idx[forb])
                rest = live & ~must
                finishes = bool(((C & rest).sum(axis=1) == rest.sum()).any())
                score = cost / (total if finishes else counts[i])
                if best is None or score < best[0]:
                    best = (score, i, cubes, must)
            _, i, cubes, must = best
            branches.append((self._cubes_expr(cubes), exprs[i]))
            live &= ~must
        out = default
        for cond, leaf in reversed(branches):
            out = IfExp(cond, leaf, out)
        return out

    def _cover(self, must: np.ndarray, forb: np.ndarray) -> tuple[list[list[np.ndarray]], int]:
        """Cubes (one value mask per variable) covering every row of ``must`` and no row of ``forb``."""
        sizes = [len(d) for d in self.domains]
        m = len(sizes)

        def inside(cube, rows):
            ok = np.ones(len(rows), dtype=bool)
            for v in range(m):
                ok &= cube[v][rows[:, v]]
            return ok

        uncovered = np.ones(len(must), dtype=bool)
        cubes = []
        while uncovered.any():
            self._tick()
            p = must[int(np.argmax(uncovered))]
            cube = [np.zeros(sizes[v], dtype=bool) for v in range(m)]
            for v in range(m):
                cube[v][p[v]] = True
            todo = must[uncovered]
            free: set[int] = set()
            while True:  # drop whole variables, the one that covers most first
                best = None
                for v in range(m):
                    if v in free:
                        continue
                    trial = list(cube)
                    trial[v] = np.ones(sizes[v], dtype=bool)
                    if inside(trial, forb).any():
                        continue
                    gain = int(inside(trial, todo).sum())
                    if best is None or gain > best[0]:
                        best = (gain, v, trial)
                if best is None:
                    break
                free.add(best[1])
                cube = best[2]
            for v in range(m):  # then widen each remaining test by the values that stay clear of forb
                if v in free:
                    continue
                others = list(cube)
                others[v] = np.ones(sizes[v], dtype=bool)
                blocked = np.zeros(sizes[v], dtype=bool)
                blocked[forb[inside(others, forb), v]] = True
                useful = np.zeros(sizes[v], dtype=bool)
                useful[todo[inside(others, todo), v]] = True
                widest = ~blocked
                gained = cube[v] | (useful & widest)
                now = _set_cost(cube[v], self.domains[v])
                options = [(o, _set_cost(o, self.domains[v])) for o in (widest, gained)]
                options = [(o, c) for o, c in options if c <= now or (o & useful).sum() > (cube[v] & useful).sum()]
                if options:
                    o, _ = min(options, key=lambda oc: (oc[1], -int(oc[0].sum())))
                    cube = list(cube)
                    cube[v] = o | cube[v]
            cubes.append(cube)
            uncovered &= ~inside(cube, must)
        # irredundant: drop a cube whose rows the others cover
        covers = [inside(c, must) for c in cubes]
        keep = list(range(len(cubes)))
        for i in sorted(range(len(cubes)), key=lambda i: covers[i].sum()):
            others = [j for j in keep if j != i]
            if others and np.logical_or.reduce([covers[j] for j in others]).all():
                keep = others
        cubes = [cubes[i] for i in keep]
        cost = sum(_set_cost(c[v], self.domains[v]) for c in cubes for v in range(m)) + len(cubes) - 1
        return cubes, cost

    def _cubes_expr(self, cubes) -> Expr:
        terms = []
        for cube in cubes:
            lits = [e for v, mask in enumerate(cube) if (e := _set_expr(self.vars[v], mask, self.domains[v])) is not None]
            terms.append(_join("and", lits) if lits else Const(1))
        return _join("or", terms)


def _numpy_op(op: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if op == "^":
        return x ^ y
    if op == "&":
        return x & y
    if op == "|":
        return x | y
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "==":
        return (x == y).astype(np.int64)
    if op == "!=":
        return (x != y).astype(np.int64)
    if op == "<":
        return (x < y).astype(np.int64)
    if op == "<=":
        return (x <= y).astype(np.int64)
    raise ValueError(op)


# --- the method -----------------------------------------------------------------------------------


@dataclass
class Symbols:
    names: list[str]  # parameter names (scalars) and loop variables, in symbol order
    domains: list[Int]
    codes: np.ndarray  # [n, width] symbol codes
    lengths: np.ndarray  # [n]

    def decode(self, code: int) -> tuple[int, ...]:
        out = []
        for d in reversed(self.domains):
            code, r = divmod(code, d.hi - d.lo)
            out.append(r + d.lo)
        return tuple(reversed(out))


def _symbols(problem: Problem, sketch: LoopSketch) -> Symbols:
    n = problem.size
    seqs = [problem.example_inputs[s] for s in problem.sequences]
    width = seqs[0].shape[1] if seqs[0].ndim == 2 else 0
    lengths = problem.lengths if problem.lengths is not None else np.full(n, width, dtype=np.int64)
    names, domains, cols = [], [], []
    for name in problem.scalars:
        names.append(name)
        domains.append(problem.inputs[name])
        cols.append(np.broadcast_to(np.asarray(problem.example_inputs[name]).reshape(n, 1), (n, width)))
    for name, var in zip(problem.sequences, sketch.elements):
        names.append(var)
        domains.append(problem.inputs[name].element)
        cols.append(np.asarray(problem.example_inputs[name]).reshape(n, width))
    codes = np.zeros((n, width), dtype=np.int64)
    for d, c in zip(domains, cols):
        codes = codes * (d.hi - d.lo) + np.clip(c - d.lo, 0, d.hi - d.lo - 1)
    return Symbols(names, domains, codes, np.asarray(lengths, dtype=np.int64))


def _words(problem: Problem, sym: Symbols) -> tuple[dict[tuple, object] | None, int, str]:
    """Labelled words (None with a reason when two labels clash) and the prefix-tree size."""
    words: dict[tuple, object] = {}
    prefixes: set[tuple] = set()
    codes = sym.codes.tolist()
    lengths = sym.lengths.tolist()
    outputs = problem.outputs.tolist()
    plain = problem.arity == 1
    for i in range(problem.size):
        word = tuple(codes[i][: lengths[i]])
        if problem.kind == "scan":
            row = outputs[i]
            for t in range(1, len(word) + 1):
                label = row[t - 1] if plain else tuple(row[t - 1])
                if words.setdefault(word[:t], label) != label:
                    return None, 0, f"the output at step {t} is not a function of the inputs so far: not a scan machine"
        else:
            words[word] = outputs[i] if plain else tuple(outputs[i])
            prefixes.update(word[:t] for t in range(len(word) + 1))
    nodes = len(words) + 1 if problem.kind == "scan" else len(prefixes)
    return words, nodes, ""


def _components(value, arity: int) -> list:
    if arity == 1:
        return [value]
    return [None] * arity if value is None else list(value)


def _write(writer: TableWriter, table: dict, arity: int, key) -> list[Expr]:
    """One expression per output component for ``table`` (None values are don't-cares)."""
    exprs = []
    for k in range(arity):
        pts, vals = [], []
        for point, value in table.items():
            v = _components(value, arity)[k]
            if v is not None:
                pts.append(key(point))
                vals.append(int(v))
        exprs.append(writer.write(pts, vals))
    return exprs


def _program(problem: Problem, sketch: LoopSketch, sym: Symbols, machine: Machine, numbering: list[int],
             budget: Budget) -> Program:
    state = Var(sketch.states[0])
    comp_vars = [Var(n) for n in sym.names]
    comp_domains = [list(range(d.lo, d.hi)) for d in sym.domains]
    # derived tests between symbol components (x == t, x < t, ...): a table that depends on the symbol
    # only through them is written, and generalises, in their terms
    features = []
    for a, b in itertools.combinations(range(len(comp_vars)), 2):
        da, db = sym.domains[a], sym.domains[b]
        if max(da.lo, db.lo) < min(da.hi, db.hi):  # the ranges overlap
            features += [("==", a, b), ("<", a, b), ("<", b, a)]
    feature_vars = [Binary(op, comp_vars[a], comp_vars[b]) for op, a, b in features]
    state_domain = sorted(set(numbering))
    full = TableWriter([state] + comp_vars + feature_vars, [state_domain] + comp_domains + [[0, 1]] * len(features), budget)

    def key(point):
        s, code = point
        comps = sym.decode(code)
        derived = tuple(int(comps[a] == comps[b]) if op == "==" else int(comps[a] < comps[b]) for op, a, b in features)
        return (numbering[s],) + comps + derived

    next_tab = {p: t for p, t in machine.transitions.items()}
    (update,) = _write(full, {p: numbering[t] for p, t in next_tab.items()}, 1, key)
    if machine.kind == "mealy":
        outs = _write(full, machine.outputs, problem.arity, key)
    else:
        only_state = TableWriter([state], [state_domain], budget)
        outs = _write(only_state, machine.outputs, problem.arity, lambda s: (numbering[s],))
    program = sketch.program([Const(numbering[machine.initial])], [update], outs, yield_first=machine.kind == "mealy")
    small = simplify(program)
    return small if problem.fits(small) else program


def _by_label(labels: list) -> list[int] | None:
    """Each state numbered by its label, when the known labels are distinct integers (others: spare numbers)."""
    known = [v for v in labels if v is not None]
    if not known or len(set(known)) != len(known) or not all(isinstance(v, int) for v in known):
        return None
    used = set(known)
    spare = (v for v in itertools.count() if v not in used)
    return [v if v is not None else next(spare) for v in labels]


def _numberings(machine: Machine, arity: int, sym: Symbols) -> list[list[int]]:
    """State numberings to try: learning order (initial state 0); each state numbered by its output
    (a Moore state's output, or a Mealy state's output when it does not depend on the symbol), so
    that the output is the state itself; and each state numbered by the value of one symbol component
    on every transition into it (a state that remembers the last element is that element)."""
    n = machine.n_states
    out = [list(range(n))]
    if arity == 1:
        if machine.kind == "moore":
            labels = [machine.outputs[q] for q in range(n)]
        else:
            seen: list[set] = [set() for _ in range(n)]
            for (q, _), v in machine.outputs.items():
                if v is not None:
                    seen[q].add(v)
            labels = [next(iter(v)) if len(v) == 1 else None for v in seen]
            if any(len(v) > 1 for v in seen):
                labels = []
        out.append(_by_label(labels) if labels else None)
    for j in range(len(sym.domains)):
        entering: list[set] = [set() for _ in range(n)]
        for (_, code), q in machine.transitions.items():
            entering[q].add(sym.decode(code)[j])
        if all(len(e) <= 1 for e in entering):
            out.append(_by_label([next(iter(e)) if e else None for e in entering]))
    unique = []
    for numbering in out:
        if numbering is not None and numbering not in unique:
            unique.append(numbering)
    return unique


@synthesizer("rpni", validation=0.2)
def rpni(max_alphabet: int = 64, max_states: int = 256, models: tuple[str, ...] = ("mealy", "moore")):
    """Passive automata learning (RPNI via aalpy): a Mealy/Moore machine from the examples, as a loop."""

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        if problem.kind not in ("scan", "fold") or not problem.sequences:
            return Attempt(None, "abstained", reasons=[f"rpni learns machines over sequences; {problem.name} is a plain function without sequences"])
        alphabet = 1
        for name, d in problem.inputs.items():
            e = d.element if isinstance(d, Seq) else d
            alphabet *= e.hi - e.lo
        if alphabet > max_alphabet:
            return Attempt(None, "abstained", reasons=[
                f"the input alphabet (scalars x elements per step) has {alphabet} symbols, more than {max_alphabet}"])
        sketch = LoopSketch.of(problem, 1)
        sym = _symbols(problem, sketch)
        words, nodes, why = _words(problem, sym)
        if words is None:
            return Attempt(None, "exhausted", reasons=[why])
        if budget.expired:
            return Attempt(None, "timeout", reasons=["out of time reading the examples as words"])
        kinds = [k for k in models if k in ("mealy", "moore")] if problem.kind == "scan" else ["moore"]
        best: Program | None = None
        candidates = 0
        reasons: list[str] = []
        machines: list[Machine] = []
        for kind in kinds:
            if budget.expired:
                break
            try:
                machine = _learn(words, kind, nodes, budget)
            except OutOfTime:
                reasons.append(f"{kind}: out of time merging states")
                break
            if machine is None:
                reasons.append(f"{kind}: aalpy found the data non-deterministic")
                continue
            candidates += max(1, machine.merged)
            if machine.n_states > max_states:
                reasons.append(f"{kind}: {machine.n_states} states, more than {max_states}")
                continue
            machines.append(machine)
        chosen = ""
        smallest = None
        for machine in sorted(machines, key=lambda q: q.n_states):  # the smaller machine first
            if best is not None and machine.n_states > 4 * smallest:
                reasons.append(f"{machine.kind}: {machine.n_states} states, not written (a {smallest}-state machine fits)")
                continue
            for numbering in _numberings(machine, problem.arity, sym):
                try:
                    program = _program(problem, sketch, sym, machine, numbering, budget)
                except OutOfTime:
                    reasons.append(f"{machine.kind}: out of time writing a {machine.n_states}-state table as a program")
                    break
                if not problem.fits(program):
                    reasons.append(f"{machine.kind}: the {machine.n_states}-state machine's program does not fit the examples")
                    continue
                if best is None or program.size < best.size:
                    best = program
                    smallest = machine.n_states if smallest is None else min(smallest, machine.n_states)
                    chosen = f"chosen: {machine.kind} machine with {machine.n_states} states"
        if chosen:
            reasons.append(chosen)
        if best is not None:
            return Attempt(best, "solved", candidates, reasons)
        if budget.expired:
            return Attempt(None, "timeout", candidates, reasons or ["out of time"])
        return Attempt(None, "exhausted", candidates, reasons or ["no machine learned"])

    return run
