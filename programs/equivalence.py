"""``equivalent(p, q, inputs)``: do two programs agree on every input of a domain, and how we know.

The method is chosen by what the domain allows, strongest first:

- ``exhaustive``: every input tuple of a finite domain, evaluated in vectorised chunks;
- ``product-machine``: for programs with a loop, breadth-first search over the pairs of states the
  two loops can reach together, step by step, comparing outputs on every transition (scans) or on
  every state at a valid length (folds). Exact over the domain; when the set of reachable pairs
  becomes periodic it is a proof for sequences of *every* length (``bound=None``);
- ``z3``: a proof (or counterexample) over a wide scalar domain, in 64-bit bit-vector semantics;
- ``bounded-z3``: z3 over the loop unrolled for each length up to ``bound``;
- ``sampled``: random inputs only, when nothing stronger finished; ``equal`` then means "no
  difference found", and ``proved`` is False.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .budget import Budget
from .domains import Domain, Int, Seq, check_signature, domain_size, sample_domain
from .errors import InputError
from .interpreter import Machine, evaluate
from .program import Program
from .semantics import VECTOR

METHODS = ("exhaustive", "z3", "bounded-z3", "product-machine", "sampled")


@dataclass(frozen=True)
class Verification:
    """The answer to "are these equal on the domain?", with the method that gave it.

    ``counterexample`` is an input (ints, lists for sequences) on which the two differ, with
    ``outputs`` holding both programs' outputs there. ``bound`` is the longest sequence length
    covered when the method covered fewer lengths than "all" (None: all lengths, or no sequences).
    ``checked`` counts the inputs (or state pairs) examined.
    """

    equal: bool
    method: str
    counterexample: dict[str, Any] | None = None
    outputs: tuple[Any, Any] | None = None
    bound: int | None = None
    checked: int = 0
    detail: str = ""

    @property
    def proved(self) -> bool:
        """True when ``equal`` holds for every input of the domain (not merely for samples)."""
        return self.equal and self.method != "sampled"

    def __bool__(self) -> bool:
        return self.equal


def equivalent(
    p: Program | str,
    q: Program | str,
    inputs: Mapping[str, Domain],
    *,
    seconds: float = 30.0,
    max_exhaustive: int = 1 << 22,
    max_states: int = 1 << 18,
    samples: int = 100_000,
    seed: int = 0,
) -> Verification:
    """Decide whether ``p`` and ``q`` compute the same outputs on every input of ``inputs``."""
    from .parser import parse

    p = parse(p) if isinstance(p, str) else p
    q = parse(q) if isinstance(q, str) else q
    inputs = check_signature(dict(inputs))
    for prog in (p, q):
        _fits(prog, inputs)
    budget = Budget(seconds)
    structural = _structural_difference(p, q, inputs)
    if structural is not None:
        return structural
    seqs = [n for n, d in inputs.items() if isinstance(d, Seq)]
    looping = p.kind != "function" or q.kind != "function"
    if not looping:
        scalar_inputs = {n: d for n, d in inputs.items() if isinstance(d, Int)}
        if not scalar_inputs:
            scalar_inputs = {}
        size = domain_size(scalar_inputs) if scalar_inputs else 1
        if size <= max_exhaustive:
            return _exhaustive_scalars(p, q, inputs, scalar_inputs)
        verdict = _z3_scalars(p, q, inputs, scalar_inputs, budget)
        if isinstance(verdict, Verification):
            return verdict
        return _sampled(p, q, inputs, samples, seed, detail=f"z3 did not decide ({verdict})")
    verdict = _product_machine(p, q, inputs, seqs, budget, max_states)
    if verdict is not None:
        return verdict
    verdict = _bounded_z3(p, q, inputs, budget)
    if isinstance(verdict, Verification):
        return verdict
    return _sampled(p, q, inputs, samples, seed,
                    detail=f"state space too large and z3 did not decide ({verdict})")


# --- preconditions ---------------------------------------------------------------------------


def _fits(prog: Program, inputs: Mapping[str, Domain]) -> None:
    if set(prog.params) != set(inputs):
        raise InputError(
            f"program {prog.name}({', '.join(prog.params)}) does not take the inputs {list(inputs)}; "
            "rename its parameters to match"
        )
    for name in prog.sequences:
        if not isinstance(inputs[name], Seq):
            raise InputError(f"program {prog.name} loops over {name!r}, but the domain gives it {inputs[name]}")
    for name in prog.scalars:
        if isinstance(inputs[name], Seq) and name not in prog.shape.unused:
            raise InputError(f"program {prog.name} reads {name!r} as an integer, but the domain says {inputs[name]}")


def _first_input(inputs: Mapping[str, Domain]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, d in inputs.items():
        out[n] = d.lo if isinstance(d, Int) else [d.element.lo] * d.min_length
    return out


def _structural_difference(p: Program, q: Program, inputs) -> Verification | None:
    scan_p, scan_q = p.kind == "scan", q.kind == "scan"
    if scan_p == scan_q and p.arity == q.arity:
        return None
    x = _first_input(inputs)
    why = (
        f"{p.name} is a {p.kind} and {q.name} a {q.kind}"
        if scan_p != scan_q
        else f"{p.name} has {p.arity} output(s), {q.name} has {q.arity}"
    )
    return Verification(False, "exhaustive", x, (p(**x), q(**x)), checked=1, detail=f"outputs of different shapes: {why}")


def _plain(value) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def _row(arrays: Mapping[str, np.ndarray], lengths, i: int) -> dict[str, Any]:
    out = {}
    for n, a in arrays.items():
        v = a[i]
        if a.ndim == 2:
            v = v[: int(lengths[i])] if lengths is not None else v
        out[n] = _plain(v)
    return out


def _counterexample(p, q, x: dict[str, Any], method: str, checked: int, detail: str = "") -> Verification:
    x = {n: x[n] for n in p.params}  # parameter order, whatever order it was built in
    return Verification(False, method, x, (p(**x), q(**x)), checked=checked, detail=detail)


# --- scalars: exhaustive, z3 -------------------------------------------------------------------


def _scalar_chunk(scalar_inputs: Mapping[str, Int], start: int, stop: int) -> dict[str, np.ndarray]:
    idx = np.arange(start, stop, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for name, dom in reversed(list(scalar_inputs.items())):
        out[name] = dom.lo + idx % dom.size
        idx = idx // dom.size
    return out


def _exhaustive_scalars(p, q, inputs, scalar_inputs, chunk: int = 1 << 18) -> Verification:
    size = domain_size(scalar_inputs) if scalar_inputs else 1
    for start in range(0, size, chunk):
        stop = min(size, start + chunk)
        arrays = _scalar_chunk(scalar_inputs, start, stop) if scalar_inputs else {}
        full = _with_unused_sequences(arrays, inputs, stop - start)
        a, b = evaluate(p, full), evaluate(q, full)
        diff = _differs(a, b)
        if diff.any():
            i = int(np.argmax(diff))
            return _counterexample(p, q, _row(full, None, i), "exhaustive", start + i + 1)
    return Verification(True, "exhaustive", checked=size)


def _with_unused_sequences(arrays, inputs, n: int) -> dict[str, np.ndarray]:
    """Programs without loops ignore sequence inputs; give them the shortest all-lo sequence."""
    full = dict(arrays)
    for name, dom in inputs.items():
        if isinstance(dom, Seq):
            full[name] = np.full((n, dom.min_length), dom.element.lo, dtype=np.int64)
    return full


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a != b
    while d.ndim > 1:
        d = d.any(axis=-1)
    return d


def _z3_check(solver) -> tuple[object, str]:
    """``solver.check()`` and, when it is neither sat nor unsat, why: z3's own reason, or its error."""
    import z3

    try:
        answer = solver.check()
    except z3.Z3Exception as err:  # an internal failure is an undecided query, not the caller's crash
        return z3.unknown, f"z3 failed: {err}"
    return answer, "" if answer in (z3.sat, z3.unsat) else f"z3 answered unknown: {solver.reason_unknown()}"


def _z3_scalars(p, q, inputs, scalar_inputs, budget: Budget) -> Verification | str:
    """A proof or a counterexample by z3; otherwise a string saying why z3 did not decide."""
    import z3

    from .smt import to_z3, z3_value

    if budget.left <= 0:
        return "no time left for z3"
    symbols = {n: z3.BitVec(n, 64) for n in scalar_inputs}
    solver = z3.Solver()
    solver.set("timeout", max(1, int(budget.left * 1000)))
    for n, d in scalar_inputs.items():
        solver.add(symbols[n] >= d.lo, symbols[n] <= d.hi - 1)
    outs_p = to_z3(p, {n: symbols[n] for n in p.params if n in symbols}, mode="bv")
    outs_q = to_z3(q, {n: symbols[n] for n in q.params if n in symbols}, mode="bv")
    solver.add(z3.Or([a != b for a, b in zip(outs_p, outs_q)]))
    answer, why = _z3_check(solver)
    if answer == z3.unsat:
        return Verification(True, "z3", checked=domain_size(scalar_inputs), detail="no input makes the outputs differ (64-bit bit-vector proof)")
    if answer == z3.sat:
        model = solver.model()
        x = {n: z3_value(model.eval(symbols[n], model_completion=True)) for n in scalar_inputs}
        for n, d in inputs.items():
            if isinstance(d, Seq):
                x[n] = [d.element.lo] * d.min_length
        return _counterexample(p, q, x, "z3", 1)
    return why


# --- loops: product machine ----------------------------------------------------------------------


class _Side:
    """One program as a machine over a fixed list of live names (a function is a loop that ignores its input)."""

    def __init__(self, prog: Program):
        self.prog = prog
        self.machine = Machine(prog, VECTOR)
        self.looping = prog.kind != "function"
        self.live = list(prog.shape.live) if self.looping else []

    def start(self, scalars: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, dict]:
        used = {k: v for k, v in scalars.items() if k in self.prog.scalars and k not in self.prog.shape.unused}
        env = self.machine.start(used)
        if not self.looping:
            self._const_env = used
            return np.zeros((n, 0), dtype=np.int64), env
        return _pack(env, self.live, n), env

    def step(self, state: np.ndarray, symbols: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        if not self.looping:
            return state, None
        env = _unpack(state, self.live)
        new, y = self.machine.step(env, tuple(symbols[it] for it in self.machine.iters))
        return _pack(new, self.live, state.shape[0]), y

    def finish(self, state: np.ndarray, scalars: dict[str, np.ndarray]) -> Any:
        if not self.looping:
            used = {k: v for k, v in scalars.items() if k in self.prog.scalars and k not in self.prog.shape.unused}
            env = self.machine.start(used)
            return self.machine.finish(env)
        return self.machine.finish(_unpack(state, self.live))


def _pack(env, names, n) -> np.ndarray:
    if not names:
        return np.zeros((n, 0), dtype=np.int64)
    return np.stack([np.broadcast_to(np.asarray(env[k], dtype=np.int64), (n,)) for k in names], axis=1)


def _unpack(state: np.ndarray, names) -> dict[str, np.ndarray]:
    return {k: state[:, i] for i, k in enumerate(names)}


def _as_matrix(value, n: int) -> np.ndarray:
    if isinstance(value, tuple):
        return np.stack([np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)) for v in value], axis=1)
    return np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))[:, None]


def _product_machine(p, q, inputs, seqs, budget: Budget, max_states: int, shortcut: bool = True) -> Verification | None:
    scalar_inputs = {n: d for n, d in inputs.items() if isinstance(d, Int)}
    n_scalar = domain_size(scalar_inputs) if scalar_inputs else 1
    elements = {n: inputs[n].element for n in seqs}
    alphabet = math.prod(d.size for d in elements.values())
    if n_scalar > max_states or alphabet > max_states:
        return None
    first = inputs[seqs[0]]
    lmin, lmax = first.min_length, first.max_length
    scan = p.kind == "scan"
    sides = (_Side(p), _Side(q))
    # Rows of the search: the scalar inputs (constant along a path) and both machines' live values.
    scalars = _scalar_chunk(scalar_inputs, 0, n_scalar) if scalar_inputs else {}
    sym_grid = _scalar_chunk(elements, 0, alphabet)
    state_p, _ = sides[0].start(scalars, n_scalar)
    state_q, _ = sides[1].start(scalars, n_scalar)
    names_s = list(scalars)
    frontier = np.concatenate([_pack(scalars, names_s, n_scalar), state_p, state_q], axis=1)
    kp, ks = state_p.shape[1], len(names_s)
    frontier, _ = _unique_rows(frontier)
    history: list[np.ndarray] = []  # frontier at each depth
    parents: list[tuple[np.ndarray, np.ndarray]] = []  # for depth d+1: (parent row at d, symbol index)
    seen: dict[bytes, int] = {}
    checked = 0

    def split(rows):
        return _unpack(rows[:, :ks], names_s), rows[:, ks : ks + kp], rows[:, ks + kp :]

    def check_finish(rows: np.ndarray, depth: int) -> Verification | None:
        sc, sp, sq = split(rows)
        n = rows.shape[0]
        a = _as_matrix(sides[0].finish(sp, sc), n)
        b = _as_matrix(sides[1].finish(sq, sc), n)
        bad = (a != b).any(axis=1)
        if bad.any():
            return _reconstruct(int(np.argmax(bad)), depth)
        return None

    def _reconstruct(row: int, depth: int, last_symbol: int | None = None) -> Verification:
        symbols_rev = [] if last_symbol is None else [last_symbol]
        r = row
        for d in range(depth, 0, -1):
            parent, sym = parents[d - 1]
            symbols_rev.append(int(sym[r]))
            r = int(parent[r])
        root = history[0][r]
        x: dict[str, Any] = {n: int(root[i]) for i, n in enumerate(names_s)}
        steps = list(reversed(symbols_rev))
        length = max(len(steps), lmin)
        while len(steps) < length:  # a scan difference at an early step shows on any longer sequence
            steps.append(0)
        for n in seqs:
            x[n] = [int(sym_grid[n][s]) for s in steps]
        return _counterexample(p, q, x, "product-machine", checked)

    depth = 0
    history.append(frontier)
    while True:
        if budget.left <= 0:
            return None
        key = frontier.tobytes() + bytes(str(frontier.shape), "ascii")
        if shortcut and key in seen:  # periodic from here on: every later depth repeats an earlier frontier
            start = seen[key]
            period = depth - start
            if not scan:
                for j in range(start, depth):
                    reachable = [D for D in range(max(j, lmin), lmax + 1) if (D - j) % period == 0]
                    if reachable:
                        bad = check_finish(history[j], j)
                        if bad is not None:
                            return _product_counterexample_at(p, q, inputs, reachable[0], budget, max_states) or bad
            cycle_ok = True
            if not scan:
                cycle_ok = all(check_finish(history[j], j) is None for j in range(start, depth))
            return Verification(
                True, "product-machine", bound=None if cycle_ok else lmax, checked=checked,
                detail=f"reachable state pairs repeat with period {period} from depth {start}"
                + ("; a proof for sequences of every length" if cycle_ok else ""),
            )
        seen[key] = depth
        if not scan and lmin <= depth <= lmax:
            bad = check_finish(frontier, depth)
            if bad is not None:
                return bad
        if depth == lmax:
            return Verification(True, "product-machine", bound=lmax, checked=checked,
                                detail=f"every reachable state pair checked up to length {lmax}")
        n = frontier.shape[0]
        if n * alphabet > max_states * 16:
            return None
        rows = np.repeat(frontier, alphabet, axis=0)
        sym_idx = np.tile(np.arange(alphabet), n)
        symbols = {k: v[sym_idx] for k, v in sym_grid.items()}
        sc, sp, sq = split(rows)
        with np.errstate(all="ignore"):
            np_, yp = sides[0].step(sp, symbols)
            nq_, yq = sides[1].step(sq, symbols)
        checked += rows.shape[0]
        if scan:
            bad = (_as_matrix(yp, rows.shape[0]) != _as_matrix(yq, rows.shape[0])).any(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                return _reconstruct(int(i // alphabet), depth, last_symbol=int(sym_idx[i]))
        nxt = np.concatenate([rows[:, :ks], np_, nq_], axis=1)
        nxt, first_index = _unique_rows(nxt)
        if nxt.shape[0] > max_states:
            return None
        parents.append((first_index // alphabet, sym_idx[first_index]))
        frontier = nxt
        depth += 1
        history.append(frontier)


def _product_counterexample_at(p, q, inputs, length, budget, max_states):
    """A concrete counterexample of a given length, by plain search restricted to that length."""
    fixed = {n: (Seq(d.element, length=length) if isinstance(d, Seq) else d) for n, d in inputs.items()}
    seqs = [n for n, d in fixed.items() if isinstance(d, Seq)]
    v = _product_machine(p, q, fixed, seqs, Budget(max(budget.left, 1.0)), max_states, shortcut=False)
    return v if v is not None and not v.equal else None


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique rows and, for each, the index of its first occurrence in ``a``."""
    if a.shape[1] == 0:
        return a[:1], np.zeros(1, dtype=np.int64)
    view = np.ascontiguousarray(a).view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()
    _, idx = np.unique(view, return_index=True)  # sorted by content: a canonical order for the set
    return a[idx], idx


# --- loops: bounded z3 -------------------------------------------------------------------------------


def _bounded_z3(p, q, inputs, budget: Budget, max_unroll: int = 64) -> Verification | str:
    """A proof up to a length bound or a counterexample by z3; otherwise a string saying why not."""
    import z3

    from .smt import to_z3, z3_value

    seqs = [n for n, d in inputs.items() if isinstance(d, Seq)]
    first = inputs[seqs[0]]
    top = min(first.max_length, max_unroll)
    for length in range(first.min_length, top + 1):
        if budget.left <= 0:
            return f"no time left for z3 at length {length}"
        scalars = {n: z3.BitVec(n, 64) for n, d in inputs.items() if isinstance(d, Int)}
        sequences = {n: [z3.BitVec(f"{n}_{i}", 64) for i in range(length)] for n in seqs}
        solver = z3.Solver()
        solver.set("timeout", max(1, int(budget.left * 1000)))
        for n, d in inputs.items():
            if isinstance(d, Int):
                solver.add(scalars[n] >= d.lo, scalars[n] <= d.hi - 1)
            else:
                for s in sequences[n]:
                    solver.add(s >= d.element.lo, s <= d.element.hi - 1)
        env = {**scalars, **sequences}
        outs_p = to_z3(p, {n: env[n] for n in p.params if n in p.sequences or n not in p.shape.unused}, mode="bv")
        outs_q = to_z3(q, {n: env[n] for n in q.params if n in q.sequences or n not in q.shape.unused}, mode="bv")
        solver.add(z3.Or([a != b for a, b in zip(outs_p, outs_q)]))
        answer, why = _z3_check(solver)
        if answer == z3.sat:
            model = solver.model()
            x: dict[str, Any] = {n: z3_value(model.eval(s, model_completion=True)) for n, s in scalars.items()}
            for n in seqs:
                x[n] = [z3_value(model.eval(s, model_completion=True)) for s in sequences[n]]
            return _counterexample(p, q, x, "bounded-z3", 1)
        if answer != z3.unsat:
            return f"{why} at length {length}"
    detail = f"proved for every length {first.min_length}..{top}"
    if top < first.max_length:
        detail += f"; lengths above {top} were not checked"
    return Verification(True, "bounded-z3", bound=top, checked=top - first.min_length + 1, detail=detail)


# --- last resort ---------------------------------------------------------------------------------------


def _sampled(p, q, inputs, samples: int, seed: int, detail: str) -> Verification:
    rng = np.random.default_rng(seed)
    arrays, lengths = sample_domain(inputs, samples, rng)
    a = evaluate(p, arrays, lengths) if p.sequences else evaluate(p, arrays)
    b = evaluate(q, arrays, lengths) if q.sequences else evaluate(q, arrays)
    diff = _differs(a, b)
    if diff.any():
        i = int(np.argmax(diff))
        return _counterexample(p, q, _row(arrays, lengths, i), "sampled", i + 1, detail)
    return Verification(True, "sampled", checked=samples, detail=f"no difference on {samples} random inputs (not a proof): {detail}")
