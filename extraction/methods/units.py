"""``boolean`` and ``linear``: read a straight-line program out of a network's hidden units.

trace (hidden pre-activations over the domain, through hooks) → group (units writing the same output
direction act as one) → discretise (a ReLU unit is on or off) → select (the fewest units whose on/off
pattern fixes the network's answer) → program (each kept unit a named step: a minimised formula of its
truth table, or a rounded affine threshold; the answer an expression over the steps) → check in context
(interchange on each step, splice of the hidden layer by the steps).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

import numpy as np
import torch

from programs import Assign, Binary, Call, Const, IfExp, Program, Return, Tuple, Unary, Var, evaluate
from programs.ast import size_of
from programs.budget import Budget
from programs.printer import to_source
from programs.semantics import INT64_MIN, wrap
from programs.simplify import simplify_expr

from ..alignment import (Alignment, Interchanges, dimension, initial_network, mean_accuracy, rewritten, step_pairs,
                         stratified_pairs)
from ..hooks import patching, recording
from ..machine import SUB_SEARCH_CANDIDATES
from ..registry import Reading, extractor

MAX_STEPS = 12
# sympy's minimisation (Quine-McCluskey, over every row of the truth table) is not bounded by the budget:
# 8 variables take under a second, 9 about 9 s, 10 more than 30 s.
MAX_SOP_VARIABLES = 8


def hidden_layer(model) -> tuple[str, str] | None:
    """(pre-activation module, activation module) of the network's ReLU hidden layer."""
    arch = getattr(model, "arch", "")
    if arch == "mlp":
        return "hidden", "act"
    if arch == "transformer":
        return "mlp.hidden", "mlp.act"
    return None


def feedforward_only(trained) -> list[str]:
    if hidden_layer(trained.model) is None:
        return [f"this method reads the ReLU hidden layer of an MLP or transformer; this network is a "
                f"{getattr(trained.model, 'arch', '?')} (use fsm or lstar)"]
    return []


class UnitTrace:
    """Hidden units over the domain: pre-activations, on/off, the network's answer, and its readout weights."""

    def __init__(self, trained, cap: int = 20_000):
        self.inputs, self.lengths, self.complete = trained.problem.domain_inputs(cap)
        model, enc = trained.model, trained.encoding
        pre_path, act_path = hidden_layer(model)
        batch = enc.batch(self.inputs, None)
        with torch.no_grad(), recording(model, pre_path) as pre, recording(model, act_path) as act:
            logits = model(batch)
        self.pre = pre[0].numpy().astype(np.float64)
        self.act = act[0].numpy().astype(np.float64)
        self.net = enc.decode(logits)
        self.net2 = self.net.reshape(self.net.shape[0], -1)
        self.act_path = act_path
        # what each unit writes towards the output (the readout, or the MLP's output projection)
        w = model.out.weight if getattr(model, "arch", "") == "mlp" else model.mlp.out.weight
        self.write = w.detach().numpy().astype(np.float64).T  # [units, out]

    @property
    def n(self) -> int:
        return self.pre.shape[0]


@dataclass(frozen=True)
class Feature:
    """A named step: a group of units that are on together, and the predicate over the inputs that says when."""

    units: tuple[int, ...]
    values: np.ndarray  # 0/1 over the traced inputs
    expr: object = None  # the predicate as an expression over the inputs


def features(tr: UnitTrace, tol: float = 1e-4, *, merge: bool = True) -> list[Feature]:
    """Discretise the units (on when the pre-activation is positive), merging units whose readout
    directions coincide into one feature (on when any is on; with ``merge=False`` each unit stands alone),
    and dropping constant and repeated ones."""
    live = [u for u in range(tr.pre.shape[1]) if (tr.pre[:, u] > 0).any() and np.abs(tr.write[u]).sum() > tol]
    groups: list[list[int]] = []
    dirs: list[np.ndarray] = []
    for u in live:
        if not merge:
            groups.append([u])
            continue
        d = tr.write[u] / (np.linalg.norm(tr.write[u]) + 1e-12)
        for g, gd in zip(groups, dirs):
            if float(d @ gd) > 1 - 1e-6:
                g.append(u)
                break
        else:
            groups.append([u])
            dirs.append(d)
    seen: dict[bytes, int] = {}
    out: list[Feature] = []
    for g in groups:
        on = (tr.pre[:, g] > 0).any(axis=1).astype(np.int64)
        if on.min() == on.max():
            continue
        key = on.tobytes()
        if key in seen:  # the same truth table: one feature, all its units
            i = seen[key]
            out[i] = Feature(out[i].units + tuple(g), out[i].values)
            continue
        seen[key] = len(out)
        out.append(Feature(tuple(g), on))
    return out


# Pairs of features tried when no single one helps (XOR-like answers), at most.
MAX_PAIRS = 2000


def select(feats: list[Feature], answer: np.ndarray, max_steps: int = MAX_STEPS) -> list[int]:
    """Greedily the features whose joint on/off pattern leaves the least uncertainty (conditional entropy)
    about the network's answer, until the pattern fixes it, looking two features ahead where one does
    not lower it. Returns their indices (possibly leaving the answer undetermined)."""
    ans = np.unique(answer, axis=0, return_inverse=True)[1].reshape(-1)
    chosen, _ = greedy(feats, answer.shape[0], lambda block: _entropy(block, ans), max_steps, pairs=MAX_PAIRS)
    return chosen


def greedy(feats: list[Feature], n: int, score, max_steps: int, *, pairs: int = 0) -> tuple[list[int], float]:
    """Add, one at a time, the feature whose split of the inputs most lowers ``score(blocks)``, until the
    score is 0, nothing lowers it, or ``max_steps`` are taken. When no single feature lowers it (the
    answer an XOR of two features, say: each alone says nothing), the best of up to ``pairs`` pairs is
    added at once. Returns (chosen, final score)."""
    chosen: list[int] = []
    block = np.zeros(n, dtype=np.int64)
    current = score(block)
    while current > 1e-12 and len(chosen) < max_steps:
        singles = []
        for i, f in enumerate(feats):
            if i not in chosen:
                singles.append((score(split(block, f.values)), i))
        best = min(singles, default=None)
        if best is not None and best[0] < current - 1e-12:
            add, current = [best[1]], best[0]
        else:
            pair = best_pair(feats, block, score, [i for _, i in sorted(singles)], current, pairs) \
                if len(chosen) + 2 <= max_steps else None
            if pair is None:
                break
            add, current = pair
        for i in add:
            chosen.append(i)
            block = split(block, feats[i].values)
    return chosen, current


def split(block: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The blocks of inputs refined by one more on/off feature, renumbered 0.."""
    return np.unique(block * 2 + values, return_inverse=True)[1].reshape(-1)


def best_pair(feats: list[Feature], block: np.ndarray, score, order: list[int], current: float, pairs: int):
    """([i, j], score) for the pair of features (from the first of ``order``, at most ``pairs`` pairs)
    that lowers ``score`` the most, or None when none lowers it."""
    m = 0  # the first m features make at most ``pairs`` pairs
    while m < len(order) and (m + 1) * m // 2 <= pairs:
        m += 1
    best = None
    for a in range(m):
        first = split(block, feats[order[a]].values)
        for b in range(a + 1, m):
            v = score(split(first, feats[order[b]].values))
            if v < current - 1e-12 and (best is None or v < best[1]):
                best = ([order[a], order[b]], v)
    return best


def _entropy(block: np.ndarray, ans: np.ndarray) -> float:
    """H(answer | block) in bits."""
    pairs, counts = np.unique(np.stack([block, ans], axis=1), axis=0, return_counts=True)
    totals = np.zeros(pairs[:, 0].max() + 1)
    np.add.at(totals, pairs[:, 0], counts)
    p = counts / counts.sum()
    return float(-(p * np.log2(counts / totals[pairs[:, 0]])).sum())


# --- predicates ------------------------------------------------------------------------------------

def boolean_predicate(names: list[str], inputs: dict[str, np.ndarray], values: np.ndarray, *, operators, seconds: float):
    """The truth table as a minimised sum of products (sympy) when every input is a bit, or else as the
    smallest expression synthesis finds; whichever is smaller."""
    from synthesis import fit_expression

    cands = []
    cols = [np.asarray(inputs[n]) for n in names]
    if all(set(np.unique(c)) <= {0, 1} for c in cols) and len(names) <= MAX_SOP_VARIABLES:
        cands.append(_sop(names, cols, values))
    fit = fit_expression({n: c for n, c in zip(names, cols)}, values, operators=operators, seconds=seconds, max_size=9,
                         max_candidates=4 * SUB_SEARCH_CANDIDATES)
    if fit is not None:
        cands.append(fit)
    cands = [c for c in cands if c is not None]
    return min(cands, key=size_of) if cands else None


def _sop(names, cols, values):
    """The smaller of the minimal sum of products and product of sums of a truth table (synthesis's
    ``two_level_forms``, unseen rows as don't-cares)."""
    from synthesis.methods.logic import two_level_forms

    return min((e for e, _ in two_level_forms(names, np.stack(cols, axis=1), values)), key=size_of)


def lattice_predicate(names: list[str], inputs: dict[str, np.ndarray], pre: np.ndarray, on: np.ndarray, *,
                      coef: int = 4, max_inputs: int = 4):
    """``c·x > d`` with small integers for a unit's on/off table: from its pre-activation's affine fit when
    that is exact enough, else, for a few inputs, the smallest integer half-plane (|c_i| <= ``coef``)
    that cuts the domain exactly where the unit switches on."""
    e = affine_predicate(names, inputs, pre, on)
    if e is not None or len(names) > max_inputs:
        return e
    import itertools

    x = np.stack([np.asarray(inputs[n]) for n in names], axis=1)
    cs = np.array([c for c in itertools.product(range(-coef, coef + 1), repeat=len(names)) if any(c)], dtype=np.int64)
    cs = cs[np.argsort(np.abs(cs).sum(1), kind="stable")]
    z = x @ cs.T  # [N, C]
    off = on == 0
    lo = np.where(off[:, None], z, np.iinfo(np.int64).min).max(0)
    hi = np.where(~off[:, None], z, np.iinfo(np.int64).max).min(0)
    ok = np.nonzero(lo < hi)[0]
    if ok.size == 0:
        return None
    c = cs[ok[0]]
    return _halfplane(names, c, int(lo[ok[0]]))


def _halfplane(names, c, d):
    return simplify_expr(Binary(">", affine_expr(names, c, 0), Const(d)))


def affine_predicate(names: list[str], inputs: dict[str, np.ndarray], pre: np.ndarray, on: np.ndarray,
                     *, max_den: int = 4, r2: float = 0.999):
    """``c·x > d`` with small integers c, d when the unit's pre-activation is an affine map of the inputs
    (to within 1 - r2 of its variance) whose rounded integer-lattice form gives the same on/off table."""
    x = np.stack([np.asarray(inputs[n], dtype=np.float64) for n in names], axis=1)
    a = np.hstack([x, np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, pre, rcond=None)
    resid = pre - a @ coef
    var = pre.var()
    if var <= 0 or 1 - resid.var() / var < r2:
        return None
    w = coef[:-1]
    if np.abs(w).max() < 1e-9:
        return None
    scale = np.abs(w).max()
    fr = [Fraction(float(v / scale)).limit_denominator(max_den) for v in w]
    den = lcm(*(f.denominator for f in fr))
    c = np.array([int(f * den) for f in fr], dtype=np.int64)
    if not c.any():
        return None
    z = (np.stack([np.asarray(inputs[n]) for n in names], axis=1) * c).sum(1)
    # the integer threshold d with (c·x > d) == on on every point, if there is one
    lo = z[on == 0].max() if (on == 0).any() else z.min() - 1
    hi = z[on == 1].min() if (on == 1).any() else z.max() + 1
    if lo >= hi:
        return None
    return _halfplane(names, c, int(lo))


# --- piecewise-affine answers ----------------------------------------------------------------------------

def affine_map(x: np.ndarray, y: np.ndarray, max_coef: int = 64):
    """Integer ``(c, c0)`` with ``x @ c + c0 == y`` exactly on every row, in the programs' int64 arithmetic
    (wrapping around), or None. The coefficients are at most ``max_coef`` in size; the intercept is read
    exactly, whatever its size, as the answer less ``x @ c`` at one row."""
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    if x.shape[0] == 0:
        return np.zeros(x.shape[1], dtype=np.int64), 0
    # the answers less the first row's (int64 differences wrap, as the interpreter's do), fitted without an
    # intercept: small numbers even when the intercept is near 2**63
    rise = (y - y[0]).astype(np.float64)
    run = (x - x[0]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(run, rise, rcond=None)
    if not np.isfinite(coef).all() or np.abs(coef).max(initial=0.0) > max_coef + 0.5:
        return None
    c = np.rint(coef).astype(np.int64)
    c0 = wrap(int(y[0]) - sum(int(a) * int(b) for a, b in zip(x[0], c)))
    if not np.array_equal(x @ c + np.int64(c0), y):
        return None
    return c, c0


def _not_affine(block: np.ndarray, x: np.ndarray, ys: np.ndarray) -> int:
    """Points in blocks where some output is not an integer affine map of the inputs."""
    bad = 0
    for b in np.unique(block):
        sel = block == b
        if any(affine_map(x[sel], ys[sel, j]) is None for j in range(ys.shape[1])):
            bad += int(sel.sum())
    return bad


def select_affine(feats: list[Feature], x: np.ndarray, ys: np.ndarray, max_steps: int = MAX_STEPS) -> tuple[list[int], int]:
    """Greedily the features that split the domain into regions where the answer is affine in the inputs.
    Returns (chosen, points still not covered)."""
    chosen, bad = greedy(feats, x.shape[0], lambda block: _not_affine(block, x, ys), max_steps)
    return chosen, int(bad)


def affine_expr(names: list[str], c: np.ndarray, c0: int):
    terms = None
    for n, ci in zip(names, c):
        if ci == 0:
            continue
        t = Var(n) if abs(ci) == 1 else Binary("*", Const(int(abs(ci))), Var(n))
        terms = (t if ci > 0 else Unary("-", t)) if terms is None else Binary("+" if ci > 0 else "-", terms, t)
    if terms is None:
        return Const(c0)
    if c0:  # -2**63 has no positive counterpart in int64: it is added as it is
        terms = Binary("+", terms, Const(c0)) if c0 > 0 or c0 == INT64_MIN else Binary("-", terms, Const(-c0))
    return terms


def decision(step_names: list[str], bits: list[np.ndarray], names: list[str], x: np.ndarray, y: np.ndarray, sel=None):
    """A nested conditional over the named steps whose leaves are the affine maps of each region."""
    sel = np.ones(x.shape[0], dtype=bool) if sel is None else sel
    fit = affine_map(x[sel], y[sel])
    if fit is not None or not step_names:
        return affine_expr(names, *fit) if fit is not None else None
    on = sel & (bits[0] == 1)
    off = sel & (bits[0] == 0)
    if not on.any():
        return decision(step_names[1:], bits[1:], names, x, y, off)
    if not off.any():
        return decision(step_names[1:], bits[1:], names, x, y, on)
    a = decision(step_names[1:], bits[1:], names, x, y, on)
    b = decision(step_names[1:], bits[1:], names, x, y, off)
    if a is None or b is None:
        return None
    return a if a == b else IfExp(Var(step_names[0]), a, b)


# --- the extractor -----------------------------------------------------------------------------------

# The largest factor that makes a unit's weights integers, and denominator of a readout coefficient, that a
# transcription takes (a quantised net, ``extraction.quantise``, needs at most 8 and 2 * 16).
MAX_UNIT_FACTOR = 16
MAX_DENOMINATOR = 64


def _integral(v: np.ndarray, tol: float = 1e-4) -> bool:
    return bool(np.all(np.abs(v - np.rint(v)) <= tol * np.maximum(1.0, np.abs(v))))


def integer_units(trained, tr: UnitTrace):
    """The network written out, when it is an integer one (``extraction.quantise``): every live hidden unit
    ``h = max(0, w . x + b)`` with integer ``w``, ``b`` (the unit rescaled by a factor up to ``MAX_UNIT_FACTOR``),
    and a regressing readout with rational coefficients, so that each answer is the nearest integer to an
    affine map of the units (ties to the lower, as the readout's nearest value does), clamped to the values
    the head knows. Returns ``(units, factors, weights, biases, names, values, answers)``: the step names
    ``h0..``, each step's integer values on the traced domain ``[n, steps]``, and one expression per head over
    the steps; None when the network is not such a one or the expression disagrees with it anywhere on the
    traced domain."""
    model = trained.model
    if getattr(model, "arch", "") != "mlp" or not (model.numeric and getattr(model, "regress", False)):
        return None
    w = model.hidden.weight.detach().double().numpy()
    b = model.hidden.bias.detach().double().numpy()
    out = model.out
    c = (out.scale * out.weight.detach().double()).numpy()  # [heads, units]
    c0 = (out.scale * out.bias.detach().double()).numpy()
    live = [u for u in range(w.shape[0]) if np.abs(c[:, u]).max() > 1e-9 and (tr.pre[:, u] > 0).any()]
    factors = []
    for u in live:
        k = next((k for k in range(1, MAX_UNIT_FACTOR + 1) if _integral(k * w[u]) and _integral(k * b[u])), None)
        if k is None:
            return None
        factors.append(k)
    units = np.asarray(live, dtype=np.int64)
    ws = np.rint(w[units] * np.asarray(factors)[:, None]).astype(np.int64)
    bs = np.rint(b[units] * np.asarray(factors)).astype(np.int64)
    x = np.stack([np.asarray(tr.inputs[n]) for n in trained.encoding.scalars], axis=1).astype(np.int64)
    h = np.maximum(0, x @ ws.T + bs)  # the steps' values, integers
    if not np.allclose(h, tr.act[:, units] * np.asarray(factors), atol=1e-3):
        return None
    names = _step_names(len(live), set(tr.inputs))
    answers = []
    for j in range(c.shape[0]):
        coef = [Fraction(float(c[j, u]) / k).limit_denominator(MAX_DENOMINATOR) for u, k in zip(live, factors)]
        const = Fraction(float(c0[j])).limit_denominator(2 * MAX_DENOMINATOR)
        if any(abs(float(f) - float(c[j, u]) / k) > 1e-4 for f, u, k in zip(coef, live, factors)) or \
                abs(float(const) - float(c0[j])) > 1e-4:
            return None
        d = lcm(*(f.denominator for f in coef), const.denominator)
        num = np.array([int(f * d) for f in coef], dtype=np.int64)
        n0 = int(const * d)
        total = h @ num + n0
        known = trained.encoding.heads[j]
        lo, hi = int(known.min()), int(known.max())
        target = tr.net2[:, j]
        if d == 1:
            expr, value = affine_expr(names, num, n0), total
        else:  # the nearest integer to total / d, ties to the lower: floor((2 total + d - 1) / (2 d))
            expr = Binary("//", affine_expr(names, 2 * num, 2 * n0 + d - 1), Const(2 * d))
            value = (2 * total + d - 1) // (2 * d)
        if not np.array_equal(np.clip(value, lo, hi), target):
            return None
        # the readout names no value outside what its head knows: where the steps, each over its own range
        # (an interchange mixes them), could take the expression outside that, the program clamps as the net does
        reach = [n0 + sum(int(v) * int(h[:, u].max() if (v > 0) == top else h[:, u].min()) for u, v in enumerate(num))
                 for top in (False, True)]
        if d > 1:
            reach = [(2 * r + d - 1) // (2 * d) for r in reach]
        if reach[0] < lo or reach[1] > hi:
            expr = Call("max", (Const(lo), Call("min", (Const(hi), expr))))
        answers.append(simplify_expr(expr))
    return units, factors, ws, bs, names, h, answers


def _transcribed(trained, tr: UnitTrace, budget: Budget, rng, pairs: int) -> Reading | None:
    """The reading of an integer network (``integer_units``): one step per unit, the answer over them. Its
    interchange sets a unit to its value on another input; its splice writes the steps' values into the
    hidden layer; its distributed interchange aligns each step with one direction (a number, not a code)."""
    found = integer_units(trained, tr)
    if found is None:
        return None
    units, factors, ws, bs, step_names, h, answers = found
    task = trained.problem
    names = list(task.inputs)
    steps = [Assign((n,), Call("max", (Const(0), affine_expr(names, w, int(b))))) for n, w, b in zip(step_names, ws, bs)]
    answer = answers[0] if len(answers) == 1 else Tuple(tuple(answers))
    from .fsm import signature

    program = Program(signature(task).name, tuple(names), tuple(steps) + (Return(answer),))
    details = {"units": int(tr.pre.shape[1]), "steps": len(steps), "integer_units": [int(u) for u in units],
               "factors": [int(k) for k in factors]}
    if not steps:
        details["note"] = "the answer is a constant: no hidden unit writes it"
        return Reading(program, ("the network's answer is a constant; no hidden unit was read",), details=details)
    values = list(h.T)
    head = Program("g", tuple(step_names) + tuple(names), (Return(answer),))
    groups = [np.array([u], dtype=np.int64) for u in units]
    inter = interchange(trained, tr, values, groups, step_names, head, names, rng, pairs)
    written = np.zeros_like(tr.act)
    written[:, units] = h / np.asarray(factors)  # each unit as its step says (a unit scaled by k holds h / k)
    repl = torch.as_tensor(written, dtype=torch.float32)
    model, enc = trained.model, trained.encoding
    with torch.no_grad(), patching(model, tr.act_path, lambda call, out: repl):
        got = enc.decode(model(enc.batch(tr.inputs, None))).reshape(tr.n, -1)
    splice = float((got == tr.net2).all(axis=1).mean())
    details["named"] = {n: [int(u)] for n, u in zip(step_names, units)}
    seed = int(rng.integers(2**31))
    dims = [1] * len(steps)
    aligned, scores, details["controls"], seconds = checks(trained, tr, values, step_names, head, names, program, seed,
                                                           budget, dims)
    details["interchange_distributed"] = {n: dataclasses.asdict(a) for n, a in zip(step_names, aligned)}
    details["alignment_seconds"], details["controls_seconds"] = seconds["alignment"], seconds["controls"]
    return Reading(program, (), inter, splice, details=details, interchange_distributed=mean_accuracy(aligned),
                   controls=scores)


def _read(trained, budget: Budget, rng, *, style: str, pairs: int) -> Reading:
    task = trained.problem
    tr = UnitTrace(trained)
    names = list(task.inputs)
    feats = features(tr)
    x = np.stack([np.asarray(tr.inputs[n]) for n in names], axis=1)
    details = {"units": int(tr.pre.shape[1])}
    if style == "linear":
        written = _transcribed(trained, tr, budget, rng, pairs)
        if written is not None:
            return written
        kept = []
        for f in feats:
            e = lattice_predicate(names, tr.inputs, tr.pre[:, f.units[0]], f.values) if len(f.units) == 1 else None
            if e is not None:
                kept.append(Feature(f.units, f.values, e))
        feats = kept
        chosen, bad = select_affine(feats, x, tr.net2)
        details.update({"features": len(feats), "steps": len(chosen)})
        if bad:
            return Reading(None, (f"{len(feats)} unit(s) read as integer-lattice thresholds; on {bad} inputs the answer "
                                  f"is still not affine within the regions they cut",), status="abstained", details=details)
    else:
        ans = np.unique(tr.net2, axis=0, return_inverse=True)[1].reshape(-1)
        chosen = select(feats, tr.net2)
        if _entropy(_pattern(feats, chosen, tr.n), ans) > 1e-12:
            # units writing one direction (all of them, near enough, with one output bit under weight decay)
            # merge into too few features: read the units one by one instead
            alone = features(tr, merge=False)
            if len(alone) > len(feats):
                feats, chosen = alone, select(alone, tr.net2)
                details["merged"] = False
        details.update({"features": len(feats), "steps": len(chosen)})
        if _entropy(_pattern(feats, chosen, tr.n), ans) > 1e-12:
            return Reading(None, (f"the on/off pattern of {len(chosen)} hidden feature(s) does not fix the network's answer",),
                           status="abstained", details=details)
    steps = []
    for i in chosen:
        f = feats[i]
        e = f.expr
        if e is None:
            e = boolean_predicate(names, tr.inputs, f.values, operators=task.operators,
                                  seconds=max(0.2, budget.left))  # limited by work, not time
        if e is None:
            return Reading(None, (f"no formula found for the truth table of hidden feature {i}",), status="abstained",
                           details=details)
        steps.append((f, simplify_expr(e)))
        if budget.expired:
            return Reading(None, ("the budget ran out while reading hidden features",), status="timeout", details=details)
    step_names = _step_names(len(steps), set(names))
    bits = [np.asarray(f.values) for f, _ in steps]
    outs = []
    for j in range(tr.net2.shape[1]):
        target = tr.net2[:, j]
        if style == "linear":
            o = decision(step_names, bits, names, x, target)
        else:
            o = _answer(step_names, bits, target, task.operators, budget, rng, tr.net2.shape[1])
            if o is None and not budget.expired:
                # the features fix the answer (checked above) but no small formula of them was found (values
                # such as 0, -1, -4, -9 that need constants the search does not build): the table itself, a
                # decision over the features with the inputs' affine maps at its leaves
                o = decision(step_names, bits, names, x, target)
        if o is None:
            return Reading(None, ("no expression over the hidden features gives the network's answer",),
                           status="timeout" if budget.expired else "abstained", details=details)
        outs.append(simplify_expr(o))
    answer = outs[0] if len(outs) == 1 else Tuple(tuple(outs))
    body = [Assign((n,), e) for n, (_, e) in zip(step_names, steps)] + [Return(answer)]
    from .fsm import signature

    program = Program(signature(task).name, tuple(task.inputs), tuple(body))
    if not steps:
        details["note"] = "the answer is affine in the inputs: no hidden unit was needed"
        return Reading(program, ("the network's answer is one affine map of the inputs; no hidden feature was read",),
                       details=details)
    head = Program("g", tuple(step_names) + tuple(names), (Return(answer),))
    # a linear step is a region: the units whose on/off gates follow it realise it, and only their gates
    # are interchanged; a Boolean step is realised by the units whose activations follow it
    groups = align(tr, bits, gates=style == "linear")
    inter = interchange(trained, tr, bits, groups, step_names, head, names, rng, pairs, gate=style == "linear")
    splice = spliced(trained, tr, bits, x if style == "linear" else None)
    details["named"] = {n: [int(u) for u in g] for n, g in zip(step_names, groups)}
    # one seed for the reading's search and its controls: the same pairs, splits and starting rotations
    seed = int(rng.integers(2**31))
    found, scores, details["controls"], seconds = checks(trained, tr, bits, step_names, head, names, program, seed,
                                                         budget)
    details["interchange_distributed"] = {n: dataclasses.asdict(a) for n, a in zip(step_names, found)}
    details["alignment_seconds"], details["controls_seconds"] = seconds["alignment"], seconds["controls"]
    return Reading(program, (), inter, splice, details=details, interchange_distributed=mean_accuracy(found),
                   controls=scores)


def _answer(step_names, bits, target, operators, budget, rng, arity):
    """The answer as a formula of the steps: a minimised sum of products for a bit, else synthesized."""
    from synthesis import fit_expression

    o = None
    if len(np.unique(target)) == 1:
        return Const(int(target[0]))
    if set(np.unique(target)) <= {0, 1} and 0 < len(step_names) <= MAX_SOP_VARIABLES:
        o = _sop(step_names, bits, target)
    # synthesis builds constants from -1..3: an answer far from those (max(a, b) + 255, say) is fitted
    # less its least value, which is added back, with its span offered as a constant too
    base = int(target.min())
    shift = not -1 <= base <= 3
    constants = (-1, 0, 1, 2, 3)
    if shift:
        target = target - np.int64(base)  # int64 differences wrap, as the program's sum does
        span = int(target.max())
        constants += (span,) if span > 3 else ()
    fit = fit_expression(dict(zip(step_names, bits)), target, operators=operators, constants=constants,
                         seconds=max(0.2, budget.left), seed=int(rng.integers(2**31)),
                         max_candidates=4 * SUB_SEARCH_CANDIDATES)  # limited by work, not time: the same on any load
    if fit is not None and shift:
        fit = Binary("+", fit, Const(base))
    return fit if o is None or (fit is not None and size_of(fit) < size_of(o)) else o


def align(tr: UnitTrace, bits: list[np.ndarray], min_r2: float = 0.5, *, gates: bool = False) -> list[np.ndarray]:
    """Which units realise each named step: every live unit goes to the step whose on/off explains most of
    its activation (or, with ``gates``, of its own on/off) with R² at least ``min_r2``; units explained by
    none stay unaligned."""
    groups: list[list[int]] = [[] for _ in bits]
    for u in range(tr.act.shape[1]):
        a = (tr.pre[:, u] > 0).astype(np.float64) if gates else tr.act[:, u]
        if a.var() <= 1e-12:
            continue
        best, best_r2 = None, min_r2
        for j, b in enumerate(bits):
            if b.min() == b.max():
                continue
            r2 = np.corrcoef(a, b)[0, 1] ** 2
            if r2 >= best_r2:
                best, best_r2 = j, r2
        if best is not None:
            groups[best].append(u)
    return [np.array(g, dtype=np.int64) for g in groups]


def _pattern(feats, chosen, n: int) -> np.ndarray:
    block = np.zeros(n, dtype=np.int64)
    for i in chosen:
        block = np.unique(block * 2 + feats[i].values, return_inverse=True)[1].reshape(-1)
    return block


def _step_names(k: int, taken: set[str]) -> list[str]:
    out, i = [], 0
    while len(out) < k:
        name = f"h{i}"
        if name not in taken:
            out.append(name)
        i += 1
    return out


def interchange(trained, tr, bits, groups, step_names, head, names, rng, pairs: int, *, gate: bool = False) -> float | None:
    """F2: for each named step, set the units aligned with it on a base input to their values on a source
    input; the network's answer must be what the program gives with that step taken from the source and
    the others from the base. The share of (step, pair) trials that agree; None when no unit is aligned.

    With ``gate``, only the units' on/off state comes from the source (activation = base pre-activation
    where the source unit is on, else 0): the step is a region, the affine map inside it the base's."""
    model, enc = trained.model, trained.encoding
    base = rng.integers(tr.n, size=pairs)
    src = rng.integers(tr.n, size=pairs)
    batch = enc.batch({k: v[base] for k, v in tr.inputs.items()}, None)
    hits = []
    for j, units in enumerate(groups):
        if units.size == 0:
            continue
        idx = torch.as_tensor(units)
        if gate:
            source = torch.as_tensor(np.where(tr.pre[src][:, units] > 0, tr.pre[base][:, units], 0.0), dtype=torch.float32)
        else:
            source = torch.as_tensor(tr.act[src][:, units], dtype=torch.float32)

        def patch(call, out, idx=idx, source=source):
            out = out.clone()
            out[:, idx] = source
            return out

        with torch.no_grad(), patching(model, tr.act_path, patch):
            got = enc.decode(model(batch)).reshape(pairs, -1)
        env = {sn: b[base] for sn, b in zip(step_names, bits)}
        env[step_names[j]] = bits[j][src]
        env.update({k: np.asarray(tr.inputs[k])[base] for k in names})
        want = evaluate(head, env).reshape(pairs, -1)
        hits.append((got == want).all(axis=1).mean())
    return float(np.mean(hits)) if hits else None


def _add_steps(joint: Interchanges, tr, bits, step_names, head, names, rng, dims=None, *, on=None) -> None:
    """Add to ``joint`` one search per named step (its stratified pairs, then its split and rotation, drawn from
    ``rng`` in turn), on network ``on`` (by default the joint's own)."""
    env = {sn: b for sn, b in zip(step_names, bits)}
    env.update({k: np.asarray(tr.inputs[k]) for k in names})
    answer = evaluate(head, env)
    for j, name in enumerate(step_names):

        def counterfactual(base, source, j=j):
            cf = {sn: b[base] for sn, b in zip(step_names, bits)}
            cf[step_names[j]] = bits[j][source]
            cf.update({k: np.asarray(tr.inputs[k])[base] for k in names})
            return evaluate(head, cf)

        pairs = stratified_pairs(bits[j], answer, counterfactual, rng)
        joint.add(pairs, dimension(bits[j]) if dims is None else dims[j], rng, trained=on)


def distributed(trained, tr, bits, step_names, head, names, rng, budget: Budget, dims=None) -> list[Alignment]:
    """F2-D for each named step: the step aligned with a learned subspace of the hidden layer
    (``extraction.alignment``; ``dims`` its dimension per step, by default one less than the step's values: a
    one-hot code), scored on held-out pairs where the step and the program's answer both change; the steps'
    searches learned together (``Interchanges``)."""
    joint = Interchanges(trained, tr.act_path, tr.inputs)
    _add_steps(joint, tr, bits, step_names, head, names, rng, dims)
    return joint.run(budget)


def checks(trained, tr, bits, step_names, head, names, program: Program, seed: int, budget: Budget,
           dims=None) -> tuple[list[Alignment], dict[str, float | None], dict, dict[str, float]]:
    """F2-D of the reading's steps (``distributed``) and its controls, each the mean over its steps, with the
    per-step alignments (or why a control was not run) for the details: ``untrained``, the same search
    (pairs, ``k``, steps, seed) on the network training started from; ``rewritten``, the search for the steps
    of a program equal to the reading on the domain that names other intermediates, on this network. Every
    search, the controls' included, is learned in one joint loop (``Interchanges``), each with the draws it
    would make alone (a generator per search set, seeded by ``seed``). Returns the reading's alignments, the
    controls' scores and details, and the seconds: ``alignment`` (the reading's pairs and the joint loop),
    ``controls`` (the controls' pairs)."""
    clock = time.perf_counter()
    joint = Interchanges(trained, tr.act_path, tr.inputs)
    _add_steps(joint, tr, bits, step_names, head, names, np.random.default_rng(seed), dims)
    aside = time.perf_counter()
    scores: dict[str, float | None] = {"untrained": None, "rewritten": None}
    details: dict = {}
    start = initial_network(trained)
    if start is None:
        details["untrained"] = "the network's record does not say how it was initialised"
    else:
        _add_steps(joint, tr, bits, step_names, head, names, np.random.default_rng(seed), dims, on=start)
    other = rewritten(program, trained.problem.inputs)
    others = []
    if other is None:
        details["rewritten"] = "no rewrite of the reading names other intermediates"
    else:
        rng = np.random.default_rng(seed)
        for stmt in other.body:
            if isinstance(stmt, Assign):
                (step,) = stmt.targets
                values, pairs = step_pairs(other, step, tr.inputs, rng)
                joint.add(pairs, dimension(values), rng)
                others.append(step)
    aside = time.perf_counter() - aside
    found = joint.run(budget)
    ours, found = found[:len(step_names)], found[len(step_names):]
    if start is not None:
        theirs, found = found[:len(step_names)], found[len(step_names):]
        scores["untrained"] = mean_accuracy(theirs)
        details["untrained"] = {n: dataclasses.asdict(a) for n, a in zip(step_names, theirs)}
    if other is not None:
        scores["rewritten"] = mean_accuracy(found)
        details["rewritten"] = {"program": to_source(other), **{n: dataclasses.asdict(a) for n, a in zip(others, found)}}
    seconds = {"alignment": time.perf_counter() - clock - aside, "controls": aside}
    return ours, scores, {k: details[k] for k in ("untrained", "rewritten")}, seconds


def spliced(trained, tr, bits, x: np.ndarray | None = None) -> float:
    """F3: replace the hidden layer by what the named steps say. For a Boolean reading each unit's
    activation becomes its mean over the inputs sharing the steps' on/off pattern; for a piecewise-affine
    one (``x`` given), its least-squares affine map of the inputs within that region. The share of inputs
    whose answer does not change."""
    model, enc = trained.model, trained.encoding
    pattern = np.zeros(tr.n, dtype=np.int64)
    for b in bits:
        pattern = pattern * 2 + b
    ids, inv = np.unique(pattern, return_inverse=True)
    pred = np.zeros_like(tr.act)
    for k in range(ids.size):
        sel = inv == k
        if x is None:
            pred[sel] = tr.act[sel].mean(0)
        else:
            a = np.hstack([x[sel].astype(np.float64), np.ones((int(sel.sum()), 1))])
            coef, *_ = np.linalg.lstsq(a, tr.act[sel], rcond=None)
            pred[sel] = a @ coef
    repl = torch.as_tensor(pred, dtype=torch.float32)
    with torch.no_grad(), patching(model, tr.act_path, lambda call, out: repl):
        got = enc.decode(model(enc.batch(tr.inputs, None))).reshape(tr.n, -1)
    return float((got == tr.net2).all(axis=1).mean())


@extractor("boolean", applies=feedforward_only)
def boolean(pairs: int = 500):
    """Hidden units as on/off features: each a minimised formula of its truth table; the answer a formula of them."""

    def run(trained, budget, rng):
        return _read(trained, budget, rng, style="boolean", pairs=pairs)

    return run


@extractor("linear", applies=feedforward_only)
def linear(pairs: int = 500):
    """Hidden units whose pre-activation is affine in the inputs, rounded to integer-lattice thresholds;
    the answer an expression over those steps and the inputs."""

    def run(trained, budget, rng):
        return _read(trained, budget, rng, style="linear", pairs=pairs)

    return run
