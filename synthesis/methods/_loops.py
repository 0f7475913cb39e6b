"""Enumerative synthesis of scans and folds: state updates by bottom-up enumeration, checked by
vectorised simulation over every example sequence at once, then the output as a function of state.

Three sketches, tried in order within the budget:

1. *the output is the state* (scans): ``s = f(s, x, scalars); yield s``. The examples then give
   every step's state, so ``f`` is a plain function synthesis over (previous output, element)
   pairs, for each initial value in the constant pool. Integer-valued state works here.
2. *one hidden state*: ``s = f(s, x, scalars)`` enumerated over a grid of small state values (two
   updates with equal values on the grid are one); each distinct ``f`` and initial value is
   simulated on all sequences, kept only if the examples' outputs are a function of (state,
   element) — before or after the update — or, for a fold, of the final state; the output
   expression is then synthesized on those pairs.
3. *two hidden states* with small updates (shift registers, counters with a flag), the same way.
"""
from __future__ import annotations

import itertools

import numpy as np

from programs import Var
from programs.ast import Expr

from ..build import LoopSketch
from ..problem import Budget, Problem
from ..registry import Attempt
from .enumerative import Enumerator, Exhausted, OutOfTime

STATE_RANGE = range(-1, 8)  # hidden state values enumerated on the grid


def search_loops(problem: Problem, budget: Budget, seed: int, *, max_size: int, max_bytes: int, state_size: int) -> Attempt:
    data = _Data(problem)
    counter = [0]
    reasons: list[str] = []
    sketches = [lambda: _output_is_state(problem, data, budget, seed, max_size, max_bytes, counter)] if problem.kind == "scan" else []
    sketches += [
        lambda: _hidden_states(problem, data, budget, seed, 1, state_size, max_bytes, counter),
        lambda: _hidden_states(problem, data, budget, seed, 2, min(state_size, 3), max_bytes, counter),
    ]
    for sketch in sketches:
        try:
            program = sketch()
        except OutOfTime:
            return Attempt(None, "timeout", counter[0], reasons + ["budget ran out"])
        if program is not None:
            return Attempt(program, "solved", counter[0], reasons)
        if budget.expired:
            return Attempt(None, "timeout", counter[0], reasons + ["budget ran out"])
    return Attempt(None, "exhausted", counter[0], reasons + [
        f"no scan/fold with one state (updates up to size {state_size}) or two states (up to size 3) fits"])


class _Data:
    """The examples as step-wise arrays: elements ``x[name]`` [N, T], ``valid`` [N, T], scalars [N]."""

    def __init__(self, problem: Problem, rows: np.ndarray | None = None):
        self.problem = problem
        if rows is not None:  # a subset of the examples, sharing the full set's symbol and scalar tables
            problem = _subset(problem, rows)
        first = problem.example_inputs[problem.sequences[0]]
        self.N, self.T = first.shape
        lengths = problem.lengths if problem.lengths is not None else np.full(self.N, self.T)
        self.lengths = lengths
        self.valid = np.arange(self.T)[None, :] < lengths[:, None]
        self.seqs = {n: problem.example_inputs[n] for n in problem.sequences}
        self.scalars = {n: problem.example_inputs[n] for n in problem.scalars}
        out = problem.outputs
        self.y = out if problem.arity > 1 else out[..., None]  # [N, T, k] (scan) or [N, k] (fold)
        # Distinct symbols (tuples of elements) and scalar rows, for grids and keys.
        stacked = np.stack([self.seqs[n] for n in problem.sequences], axis=-1)  # [N, T, m]
        self.symbols, inverse = np.unique(stacked.reshape(-1, stacked.shape[-1]), axis=0, return_inverse=True)
        self.sym_idx = inverse.reshape(self.N, self.T)
        if self.scalars:
            sc = np.stack([self.scalars[n] for n in problem.scalars], axis=-1)
            self.scalar_rows, sinv = np.unique(sc, axis=0, return_inverse=True)
            self.sc_idx = sinv.reshape(-1)
        else:
            self.scalar_rows, self.sc_idx = np.zeros((1, 0), dtype=np.int64), np.zeros(self.N, dtype=np.int64)
        # Outputs as small codes, for the "is the output a function of the state" test.
        ys = self.y[self.valid] if problem.kind == "scan" else self.y
        _, code = np.unique(ys, axis=0, return_inverse=True)
        self.ycode, self.n_y = code.reshape(-1), int(code.max()) + 1 if code.size else 1
        self.sym_flat = self.sym_idx[self.valid]
        self.sc_flat = np.broadcast_to(self.sc_idx[:, None], self.valid.shape)[self.valid]

    def head(self, n: int) -> "_Data":
        """The first ``n`` examples, with symbols and scalar rows numbered as in the full set."""
        if n >= self.N:
            return self
        part = _Data(self.problem, np.arange(n))
        sub_sym = self.sym_idx[:n]
        part.symbols, part.sym_idx = self.symbols, sub_sym
        part.scalar_rows, part.sc_idx = self.scalar_rows, self.sc_idx[:n]
        part.sym_flat = sub_sym[part.valid]
        part.sc_flat = np.broadcast_to(part.sc_idx[:, None], part.valid.shape)[part.valid]
        return part


def _subset(problem: Problem, rows: np.ndarray) -> Problem:
    return problem.with_examples(problem.examples.take(rows))


def _element_names(sketch: LoopSketch) -> dict[str, str]:
    return dict(zip(sketch.problem.sequences, sketch.elements))


# --- 1. the output is the state ------------------------------------------------------------------------


def _output_is_state(problem, data: _Data, budget, seed, max_size, max_bytes, counter):
    if problem.arity != 1:
        return None
    sketch = LoopSketch.of(problem, 1)
    s = sketch.states[0]
    names = _element_names(sketch)
    y = data.y[..., 0]
    prev = np.concatenate([np.zeros((data.N, 1), dtype=np.int64), y[:, :-1]], axis=1)
    for init in problem.constants():
        if budget.expired:
            raise OutOfTime()
        state_before = prev.copy()
        state_before[:, 0] = init
        rows = data.valid
        leaves = {s: state_before[rows]}
        for seq, elem in names.items():
            leaves[elem] = data.seqs[seq][rows]
        for n, v in data.scalars.items():
            leaves[n] = np.broadcast_to(v[:, None], rows.shape)[rows]
        leaves, target = _distinct_rows(leaves, y[rows])
        if target is None:
            continue  # the same (state, element) leads to two outputs: the output is not the state
        en = Enumerator(leaves, problem.constants(), problem.operators, max_size=min(max_size, 9), budget=budget,
                        seed=seed, max_bytes=max_bytes // 4)
        try:
            update = en.search(target)
        except Exhausted:
            counter[0] += en.bank.evaluated
            continue
        counter[0] += en.bank.evaluated
        program = sketch.program([_const(init)], [update], Var(s))
        if problem.fits(program):
            return program
    return None


def _const(v: int) -> Expr:
    from programs import Const

    return Const(int(v))


def _distinct_rows(leaves: dict[str, np.ndarray], target: np.ndarray):
    """Drop repeated input rows; None as target if a repeated row has two different outputs."""
    names = list(leaves)
    table = np.stack([leaves[n] for n in names] + [target], axis=1)
    uniq = np.unique(table, axis=0)
    keys = uniq[:, :-1]
    _, counts = np.unique(keys, axis=0, return_counts=True)
    if (counts > 1).any():
        return leaves, None
    return {n: uniq[:, i].copy() for i, n in enumerate(names)}, uniq[:, -1].copy()


# --- 2 and 3. hidden states ------------------------------------------------------------------------------


def _hidden_states(problem, data: _Data, budget, seed, k, size, max_bytes, counter):
    """Updates for ``k`` state variables enumerated on a grid, simulated, output synthesized."""
    sketch = LoopSketch.of(problem, k)
    names = _element_names(sketch)
    values = np.array(list(STATE_RANGE), dtype=np.int64)
    n_sym, n_sc = data.symbols.shape[0], data.scalar_rows.shape[0]
    if n_sym * n_sc * len(values) ** k > 20_000:
        return None
    # The grid: every combination of state values, symbol and scalar row.
    grid = np.array(list(itertools.product(range(len(values)), repeat=k)), dtype=np.int64)  # [G_s, k]
    gs, gy, gc = np.meshgrid(np.arange(grid.shape[0]), np.arange(n_sym), np.arange(n_sc), indexing="ij")
    gs, gy, gc = gs.ravel(), gy.ravel(), gc.ravel()
    leaves = {sketch.states[i]: values[grid[gs, i]] for i in range(k)}
    for j, elem in enumerate(names.values()):
        leaves[elem] = data.symbols[gy, j]
    for j, n in enumerate(problem.scalars):
        leaves[n] = data.scalar_rows[gc, j]
    en = Enumerator(leaves, problem.constants(), problem.operators, max_size=size, budget=budget, seed=seed,
                    max_bytes=max_bytes // 4)
    inits = [c for c in problem.constants() if c in STATE_RANGE]
    probe = data.head(64)  # a cheap first filter on a few sequences; survivors are checked on all
    pool_ids: list[int] = []  # global ids (in the bank) of updates that keep every state on the grid
    pool_tables: list[np.ndarray] = []  # each one's table: grid point -> index of the next state value

    def check(combos: np.ndarray):
        tables = np.stack(pool_tables)
        batch = max(1, 400_000 // max(1, probe.N * probe.T))
        for init in itertools.product(inits, repeat=k):
            for i0 in range(0, combos.shape[0], batch):
                if budget.expired:
                    raise OutOfTime()
                chunk = combos[i0 : i0 + batch]
                counter[0] += chunk.shape[0]
                for j in _functional(problem, probe, values, tables, chunk, init, n_sym, n_sc):
                    combo = tuple(int(c) for c in chunk[j])
                    program = _try(problem, data, sketch, en, values, tables, pool_ids, combo, init, n_sym, n_sc, budget, seed, counter)
                    if program is not None:
                        raise _Found(program)

    def collect(block):
        start = len(pool_ids)
        _collect(block, values, pool_ids, pool_tables, limit=400 if k > 1 else 1 << 20)
        if k == 1 and len(pool_ids) > start:  # one state: check each new update as it arrives
            check(np.arange(start, len(pool_ids), dtype=np.int64)[:, None])
        return None

    try:
        try:
            en.search(None, accept=collect)
        except Exhausted:
            pass
        if k > 1 and pool_ids:  # several states: every combination of the small updates, smallest first
            m = len(pool_ids)
            combos = np.array(sorted(itertools.product(range(m), repeat=k), key=lambda c: (max(c), c)), dtype=np.int64)
            check(combos)
    except _Found as found:
        return found.program
    finally:
        counter[0] += en.bank.evaluated
    return None


class _Found(Exception):
    def __init__(self, program):
        self.program = program


def _simulate(data: _Data, values, tables, chunk: np.ndarray, init, n_sym, n_sc):
    """State codes before and after each step, for a batch of update combinations: [B, N, T] each."""
    B, k = chunk.shape
    V = len(values)
    radix = V ** np.arange(k - 1, -1, -1)
    state = np.broadcast_to(np.array([int(np.searchsorted(values, c)) for c in init]), (B, data.N, k)).copy()
    before = np.zeros((B, data.N, data.T), dtype=np.int64)
    after = np.zeros((B, data.N, data.T), dtype=np.int64)
    for t in range(data.T):
        code = state @ radix
        before[:, :, t] = code
        g = (code * n_sym + data.sym_idx[None, :, t]) * n_sc + data.sc_idx[None, :]
        new = np.stack([tables[chunk[:, i][:, None], g] for i in range(k)], axis=-1)
        state = np.where(data.valid[None, :, t, None], new, state)
        after[:, :, t] = state @ radix
    return before, after, state @ radix


def _is_function(keys: np.ndarray, ycode: np.ndarray, n_y: int) -> np.ndarray:
    """Per row of ``keys`` [B, P]: are the outputs ``ycode`` [P] a function of the keys?"""
    pairs = np.sort(keys * n_y + ycode[None, :], axis=1)
    k = pairs // n_y
    clash = (k[:, 1:] == k[:, :-1]) & (pairs[:, 1:] != pairs[:, :-1])
    return ~clash.any(axis=1)


def _functional(problem, data, values, tables, chunk, init, n_sym, n_sc):
    """Indices (into ``chunk``) of update combinations under which the outputs are a function of the state."""
    before, after, final = _simulate(data, values, tables, chunk, init, n_sym, n_sc)
    if problem.kind == "scan":
        ok = np.zeros(chunk.shape[0], dtype=bool)
        for codes in (after, before):
            keys = (codes[:, data.valid] * n_sym + data.sym_flat[None, :]) * n_sc + data.sc_flat[None, :]
            ok |= _is_function(keys, data.ycode, data.n_y)
    else:
        ok = _is_function(final * n_sc + data.sc_idx[None, :], data.ycode, data.n_y)
    return [int(j) for j in np.nonzero(ok)[0]]


def _collect(block, values, ids, tables, limit):
    """Keep the global id and table of state indices of each new update that stays on the grid."""
    if block.start < 0:
        return  # rows the bank could not keep cannot be rebuilt later by id
    inside = np.nonzero(np.isin(block.values, values).all(axis=1))[0][: max(0, limit - len(ids))]
    ids.extend(block.start + int(i) for i in inside)
    tables.extend(np.searchsorted(values, block.values[inside]))


def _try(problem, data, sketch, en, values, tables, gids, combo, init, n_sym, n_sc, budget, seed, counter):
    """Synthesize the output for one update combination, and check the whole program on the examples."""
    k = len(combo)
    before, after, final = (a[0] for a in _simulate(data, values, tables, np.array([combo]), init, n_sym, n_sc))
    updates = [en.expr(gids[c]) for c in combo]
    inits = [_const(c) for c in init]
    if problem.kind == "scan":
        for order, codes in (("after", after), ("before", before)):
            key = (codes * n_sym + data.sym_idx) * n_sc + data.sc_idx[:, None]
            out = _output(problem, data, sketch, values, k, key[data.valid], data.y[data.valid], n_sym, n_sc, budget, seed, counter)
            if out is not None:
                program = sketch.program(inits, updates, out, yield_first=(order == "before"))
                if problem.fits(program):
                    return program
        return None
    key = final * n_sc + data.sc_idx
    out = _output(problem, data, sketch, values, k, key, data.y, 1, n_sc, budget, seed, counter, fold=True)
    if out is not None:
        program = sketch.program(inits, updates, out)
        if problem.fits(program):
            return program
    return None


def _output(problem, data, sketch, values, k, keys, ys, n_sym, n_sc, budget, seed, counter, fold=False):
    """An output expression over (state, element, scalars), if the outputs are a function of them."""
    order = np.argsort(keys, kind="stable")
    keys_sorted, ys_sorted = keys[order], ys[order]
    same = keys_sorted[1:] == keys_sorted[:-1]
    if (same & (ys_sorted[1:] != ys_sorted[:-1]).any(axis=-1)).any():
        return None
    uniq, first = np.unique(keys_sorted, return_index=True)
    targets = ys_sorted[first]  # [u, arity]
    sc = uniq % n_sc
    rest = uniq // n_sc
    sym = rest % n_sym
    code = rest // n_sym
    leaves = {}
    digits = [(code // (len(values) ** (k - 1 - i))) % len(values) for i in range(k)]
    for i, s in enumerate(sketch.states):
        leaves[s] = values[digits[i]]
    if not fold:
        for j, elem in enumerate(_element_names(sketch).values()):
            leaves[elem] = data.symbols[sym, j]
    for j, n in enumerate(problem.scalars):
        leaves[n] = data.scalar_rows[sc, j]
    outs = []
    for a in range(targets.shape[1]):
        sub = Enumerator(leaves, problem.constants(), problem.operators, max_size=7, budget=budget, seed=seed,
                         max_bytes=1 << 26)
        try:
            outs.append(sub.search(targets[:, a]))
        except Exhausted:
            counter[0] += sub.bank.evaluated
            return None
        counter[0] += sub.bank.evaluated
    return outs
