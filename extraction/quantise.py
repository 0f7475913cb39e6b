"""Quantising a regressing ReLU MLP (and a ReLU Elman net) onto integer weights (MIPS's last normalisation, Michaud et al. 2024).

A numeric MLP that regresses its answer (``MLP(numeric=True, regress=True)``) computes
``value = sum_u c_u relu(w_u . x + b_u) + c_0`` and answers the known value nearest to it. Trained, its weights
are whatever the optimiser left: the answer is exact but the units' cuts sit anywhere between the lattice
points, and most units only add noise that rounding absorbs. ``quantise`` moves it, one exact step at a time
and only while it stays exact on every example, to the network a reader can write down:

1. **prune**: units that never fire on the examples or write nothing go; then the least important units go
   in blocks (halving the block on failure), the readout refitted by least squares each time;
2. **snap units**: each unit, rescaled (a positive factor: the same function), takes the nearest direction of
   small integers ``k w / max|w|`` (k = 1 first; 2, 3, 4, 6, 8 later) and an integer bias near
   ``k b / max|w|``, the readout refitted, the first that stays exact kept — all units at once if that is
   exact, else one at a time, nearest first (incremental quantisation, Zhou et al. 2017: when no unit can
   move, the free ones train on a few hundred steps with the snapped ones fixed; a unit snapped early to a
   form exact only beside the others' real weights can leave them none, so a failed pass starts again from
   the real units with every unit's forms nearest first over all multiples); units that then write nothing
   go too;
3. **snap the readout**: the least-squares readout, or the least-L1 one that keeps every example a quarter
   inside its rounding interval (a linear programme: sparse, its vertices small-denominator rationals), on
   the grid ``1/D`` for the smallest ``D`` in ``DENOMINATORS`` (the intercept on ``1/(4D)``) that keeps every
   value ``1/(8D)`` clear of a rounding edge, so that float32 weights name the same values; a unit's other
   integer form is taken where it allows a coarser grid.

A recurrent net (``quantise_rnn``, a numeric regressing ReLU Elman net) is handled likewise in its own
basis, ``h' = relu(W h + U x + b)`` on raw inputs: units pruned one at a time; a net linear on its examples
(every unit active at every step) moved to its observable form (``_observable``: the answer and what the state
adds to it 1, 2, ... steps on as coordinates, the update a companion matrix), any other net's units each
rescaled to read in the answer's units; every entry then rounded to an integer (all at once, else the nearest
half of the free entries at a time, the rest trained in between under a small L1 pull along the valleys of
exact nets).

Every step keeps the answers on the examples; none looks at anything else. If a step cannot be taken the
network is left as it was (``quantise`` returns None): a partly quantised net helps no reader. The
integer network ``quantise_mlp`` returns is a new MLP of the kept units only.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

MULTIPLIERS = (1, 2, 3, 4, 6, 8)
DENOMINATORS = (1, 2, 3, 4, 6, 8, 12, 16)
TOL = 1e-6
TUNE_ROUNDS = 8  # rounds of training the free units when none can be snapped
PLAIN_ROUNDS = 2  # of them, how many before a unit may take a multiple of a direction (2a - 3b)
TUNE_STEPS = 300


@dataclass(frozen=True)
class Quantised:
    """An integer ReLU layer and a rational readout: ``value = hidden @ readout + intercept`` with
    ``hidden = relu(x @ weight.T + bias)``, ``weight`` and ``bias`` integers (units that write nothing
    dropped), ``readout`` on the grid ``1/denom`` and ``intercept`` on ``1/(4 denom)``, every example's value
    at least ``1/(8 denom)`` from a rounding edge."""

    units: np.ndarray  # indices of the kept units in the network's hidden layer
    weight: np.ndarray  # [k, inputs] integers
    bias: np.ndarray  # [k] integers
    readout: np.ndarray  # [k, heads] floats on the grid 1/denom
    intercept: np.ndarray  # [heads] floats on the grid 1/(4 denom)
    denom: int


def _exact(h: np.ndarray, c: np.ndarray, c0: np.ndarray, targets: np.ndarray, known: list[np.ndarray],
           margin: float = 0.0) -> bool:
    """Whether the readout names every example's target (the nearest known value, ties to the lower), each
    value at least ``margin`` from the midpoints where the named value changes."""
    v = h @ c + c0
    for j, vals in enumerate(known):
        mids = (vals[:-1] + vals[1:]) / 2
        if not np.array_equal(np.searchsorted(mids, v[:, j], side="left"), targets[:, j]):
            return False
        if margin and mids.size and np.abs(v[:, j, None] - mids[None, :]).min() < margin:
            return False
    return True


def _refit(x, w, b, y):
    h = np.maximum(0.0, x @ w.T + b)
    a = np.hstack([h, np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return h, coef[:-1], coef[-1]


def _prune(x, w, b, y, ok) -> list[int]:
    """The units kept after removing the least important ones in blocks while ``ok`` holds on the refit."""
    h, c, _ = _refit(x, w, b, y)
    importance = np.abs(c).max(axis=1) * h.max(axis=0)
    keep = list(range(w.shape[0]))
    order = [int(u) for u in np.argsort(importance)]
    block = max(1, len(order) // 2)
    while order:
        trial_out = set(order[:block])
        trial = [u for u in keep if u not in trial_out]
        if ok(*_refit(x, w[trial], b[trial], y)):
            keep = trial
            order = order[block:]
            block = max(1, min(block, len(order)))
        elif block > 1:
            block //= 2
        else:
            order = order[1:]
    return keep


def quantise(x: np.ndarray, targets: np.ndarray, known: list[np.ndarray], weight: np.ndarray, bias: np.ndarray,
             readout: np.ndarray, intercept: np.ndarray, deadline: float | None = None) -> Quantised | None:
    """The integer network (``Quantised``) exact on every example, or None.

    ``x`` ``[n, inputs]`` the examples' inputs, ``targets`` ``[n, heads]`` the index of each answer among its
    head's ``known`` values; ``weight`` ``[units, inputs]``, ``bias``, ``readout`` ``[units, heads]`` and
    ``intercept`` ``[heads]`` the network's (the readout in value units). Past ``deadline`` (a
    ``time.perf_counter()`` reading) it gives up (None)."""
    x = np.asarray(x, dtype=np.float64)
    known = [np.asarray(k, dtype=np.float64) for k in known]
    y = np.stack([known[j][targets[:, j]] for j in range(len(known))], axis=1)

    def ok(h, c, c0):
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime
        return _exact(h, c, c0, targets, known)

    try:
        return _quantise(x, y, targets, known, weight, bias, readout, intercept, ok)
    except _OutOfTime:
        return None


class _OutOfTime(Exception):
    pass


def _quantise(x, y, targets, known, weight, bias, readout, intercept, ok) -> Quantised | None:
    w, b, c = (np.asarray(a, dtype=np.float64).copy() for a in (weight, bias, readout))
    h = np.maximum(0.0, x @ w.T + b)
    if not ok(h, c, np.asarray(intercept, dtype=np.float64)):
        return None
    live = np.flatnonzero((np.abs(c).max(axis=1) * h.max(axis=0) > TOL) & (np.abs(w).max(axis=1) > TOL))
    units = live
    w, b = w[live], b[live]
    scale = np.abs(w).max(axis=1)
    w, b = w / scale[:, None], b / scale
    if not ok(*_refit(x, w, b, y)):
        return None
    keep = _prune(x, w, b, y, ok)
    units, w, b = units[keep], w[keep], b[keep]
    # every unit at its nearest integer form at once (noisy units that compensate each other may only be
    # exact together); else one by one, a unit that cannot move yet tried again after the others have
    w0, b0 = np.rint(w), np.rint(b)
    if w.shape[0] == 0 or (np.abs(w0).max(axis=1).min() > 0 and ok(*_refit(x, w0, b0, y))):
        w, b = w0, b0
    else:
        # incremental quantisation (Zhou et al. 2017), plain multipliers first; a unit snapped early to a form
        # that is exact only beside the others' real weights can leave them no exact form (relu(-a + b + 1)
        # for relu(-2a + 2b + 1)): then again from the real units, every unit's forms nearest first over all
        # multipliers
        snapped = _incremental(x, y, w.copy(), b.copy(), ok, nearest=False)
        snapped = snapped or _incremental(x, y, w.copy(), b.copy(), ok, nearest=True)
        if snapped is None:
            return None
        w, b = snapped
    keep = _prune(x, w, b, y, ok)  # a snapped unit may now write nothing the others do not
    units, w, b = units[keep], w[keep], b[keep]
    best = _readout(x, w, b, y, targets, known)
    if best is None:
        return None
    # a unit whose other integer form gives a readout on a coarser grid (max(0, b - a) rather than
    # max(0, b - a + 1), say): the simpler network, as exact
    for u in range(w.shape[0]):
        if best[2] == 1:
            break
        for wk, bk in _candidates(w[u], b[u]):
            w2, b2 = w.copy(), b.copy()
            w2[u], b2[u] = wk, bk
            other = _readout(x, w2, b2, y, targets, known, below=best[2])
            if other is not None:
                w, b, best = w2, b2, other
    cq, c0q, d = best
    writes = np.abs(cq).max(axis=1) > 0 if cq.size else np.zeros(0, dtype=bool)  # the L1 readout drops units
    return Quantised(units[writes], w[writes].astype(np.int64), b[writes].astype(np.int64), cq[writes], c0q, d)


def _readout(x, w, b, y, targets, known, below: int | None = None):
    """The refitted readout snapped to the grid ``1/D`` (intercept ``1/(4D)``) for the smallest ``D`` (under
    ``below``, if given) that keeps every example clear of a rounding edge: ``(readout, intercept, D)`` or None."""
    h, c, c0 = _refit(x, w, b, y)
    sparse = None  # the linear programme, solved only once least squares fails to snap
    for d in DENOMINATORS:
        if below is not None and d >= below:
            return None
        found = _snapped(h, c, c0, y, targets, known, d)
        if found is None:
            sparse = _sparse_readout(h, targets, known) if sparse is None else sparse
            found = None if sparse is False else _snapped(h, *sparse, y, targets, known, d)
        if found is not None:
            return found
    return None


def _snapped(h, c, c0, y, targets, known, d: int):
    """``(readout, intercept, d)``: ``c`` on the grid ``1/d`` and an intercept on ``1/(4d)`` near ``c0`` (or
    the mean rest) that keep every value ``1/(8d)`` clear of a rounding edge (float32 weights then name the
    same values); None if none does."""
    cq = np.rint(c * d) / d
    rest = (y - h @ cq).mean(axis=0)
    for guess in {tuple(np.rint(c0 * 4 * d)), tuple(np.rint(rest * 4 * d))}:
        for shift in (0, -1, 1, -2, 2, -3, 3):
            c0q = (np.asarray(guess) + shift) / (4 * d)
            if _exact(h, cq, c0q, targets, known, margin=1 / (8 * d)):
                return cq, c0q, d
    return None


def _sparse_readout(h: np.ndarray, targets: np.ndarray, known: list[np.ndarray], margin: float = 0.25):
    """The readout of least L1 norm that names every example's target at least ``margin`` inside its
    rounding interval (a linear programme, HiGHS): ``(readout, intercept)`` or False when there is none. Its
    vertices are rationals of small denominators where least squares gives any real."""
    from scipy.optimize import linprog

    n, k = h.shape
    cs, c0s = [], []
    for j, vals in enumerate(known):
        mids = (vals[:-1] + vals[1:]) / 2
        t = targets[:, j]
        lo = np.where(t > 0, mids[np.maximum(t - 1, 0)] + margin, -np.inf) if mids.size else np.full(n, -np.inf)
        hi = np.where(t < len(vals) - 1, mids[np.minimum(t, max(len(mids) - 1, 0))] - margin, np.inf) if mids.size else np.full(n, np.inf)
        # variables: c+ (k), c- (k), c0 (free); minimise sum(c+ + c-)
        a = np.hstack([h, -h, np.ones((n, 1))])
        rows, bound = [], []
        up, down = np.isfinite(hi), np.isfinite(lo)
        if up.any():
            rows.append(a[up])
            bound.append(hi[up])
        if down.any():
            rows.append(-a[down])
            bound.append(-lo[down])
        if not rows:
            cs.append(np.zeros(k))
            c0s.append(float(vals[0]))
            continue
        cost = np.r_[np.ones(2 * k), 0.0]
        res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(bound),
                      bounds=[(0, None)] * (2 * k) + [(None, None)], method="highs")
        if res.status != 0:
            return False
        cs.append(res.x[:k] - res.x[k:2 * k])
        c0s.append(res.x[-1])
    return np.stack(cs, axis=1), np.asarray(c0s)


def _tune(x, y, w, b, free: list[int], steps: int = TUNE_STEPS):
    """The ``free`` units' weights and biases after ``steps`` of Adam on the squared error of the refitted
    readout (the others fixed), rescaled again to ``max|w| = 1``."""
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    wt, bt = torch.as_tensor(w).clone(), torch.as_tensor(b).clone()
    idx = torch.as_tensor(free)
    wf, bf = wt[idx].clone().requires_grad_(), bt[idx].clone().requires_grad_()
    _, c, c0 = _refit(x, w, b, y)
    ct, c0t = torch.as_tensor(c).clone().requires_grad_(), torch.as_tensor(c0).clone().requires_grad_()
    opt = torch.optim.Adam([wf, bf, ct, c0t], lr=1e-2)
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad()
            ww, bb = wt.index_put((idx,), wf), bt.index_put((idx,), bf)
            loss = ((torch.relu(xt @ ww.T + bb) @ ct + c0t - yt) ** 2).mean()
            loss.backward()
            opt.step()
    w, b = w.copy(), b.copy()
    w[free], b[free] = wf.detach().numpy(), bf.detach().numpy()
    scale = np.abs(w[free]).max(axis=1)
    scale[scale == 0] = 1.0
    w[free], b[free] = w[free] / scale[:, None], b[free] / scale
    return w, b


def _form_error(w: np.ndarray, b: float, wk: np.ndarray, bk: float) -> float:
    """How far integer form ``(wk, bk)`` is from unit ``(w, b)`` (``max|w| = 1``) taken ``max|wk|`` times (a larger
    multiple must come nearer to be preferred)."""
    k = np.abs(wk).max()
    return np.abs(k * w - wk).sum() + abs(k * b - bk)


def _candidates(w: np.ndarray, b: float, multipliers=MULTIPLIERS):
    """Integer forms of a unit ``(w, b)`` (``max|w| = 1``), nearest first within each multiplier."""
    for k in multipliers:
        wk = np.rint(w * k)
        if not wk.any():
            continue
        base = b * k
        for bk in sorted({np.floor(base), np.ceil(base), np.floor(base) - 1, np.ceil(base) + 1}, key=lambda v: abs(v - base)):
            yield wk, bk


def _incremental(x, y, w, b, ok, nearest: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Every unit snapped to an integer form, one at a time, the refitted network exact after each: the unit
    nearest its integer form first, a unit that cannot move yet tried again after the others have; when none
    can, the free units train on with the snapped ones fixed (``_tune``). With ``nearest`` False, multiples of a
    direction (2a - 3b) only after ``PLAIN_ROUNDS`` of that; with it, each unit's forms over all multipliers
    nearest first. Returns ``(w, b)`` or None after ``TUNE_ROUNDS``."""
    todo = list(range(w.shape[0]))
    tuned = 0
    while todo:
        multipliers = MULTIPLIERS[:1] if tuned < PLAIN_ROUNDS and not nearest else MULTIPLIERS
        order = sorted(todo, key=lambda u: min(_form_error(w[u], b[u], *f)
                                               for f in _candidates(w[u], b[u], multipliers if nearest else (1,))))
        snapped = next(((u, r) for u in order
                        if (r := _snap_unit(x, w, b, y, u, ok, multipliers, nearest)) is not None), None)
        if snapped is not None:
            u, (w[u], b[u]) = snapped
            todo.remove(u)
        elif tuned >= TUNE_ROUNDS:
            return None
        else:
            w, b = _tune(x, y, w, b, todo)
            tuned += 1
    return w, b


def _snap_unit(x, w, b, y, u, ok, multipliers=MULTIPLIERS, nearest: bool = False):
    """Unit ``u``'s nearest integer (direction, bias) that keeps the refitted network exact, or None; with
    ``nearest``, its forms over all ``multipliers`` nearest first."""
    forms = list(_candidates(w[u], b[u], multipliers))
    if nearest:
        forms.sort(key=lambda f: _form_error(w[u], b[u], *f))
    for wk, bk in forms:
        w2, b2 = w.copy(), b.copy()
        w2[u], b2[u] = wk, bk
        if ok(*_refit(x, w2, b2, y)):
            return wk, bk
    return None


def quantise_mlp(model, encoding, examples, seconds: float | None = None):
    """A numeric regressing ``MLP`` quantised on ``examples`` (a problem's ``Examples``): a new, narrower
    ``MLP`` whose hidden layer is the integer units (at least one: a constant answer keeps a silent unit) and
    whose readout is the rational one, with what was done (``{"units": k, "denominator": D, "from": width}``);
    None when the network could not be quantised within ``seconds`` (``model`` is never changed)."""
    from .models import MLP
    from .search import predicted

    if getattr(model, "arch", "") != "mlp" or not (model.numeric and getattr(model, "regress", False)):
        return None
    x = np.stack([np.asarray(examples.inputs[n]) for n in encoding.scalars], axis=1).astype(np.float64)
    targets = encoding.targets(examples.outputs).numpy().reshape(x.shape[0], -1)
    if (targets < 0).any():
        return None
    out = model.out
    with torch.no_grad():
        q = quantise(x, targets, [k.numpy() for k in out.known], model.hidden.weight.double().numpy(),
                     model.hidden.bias.double().numpy(), (out.scale * out.weight.double()).numpy().T,
                     (out.scale * out.bias.double()).numpy(),
                     None if seconds is None else time.perf_counter() + seconds)
        if q is None:
            return None
        k = max(1, q.units.size)
        small = MLP(encoding, hidden=k, numeric=True, regress=True)
        for p in small.parameters():
            p.zero_()
        n = q.units.size
        small.hidden.weight[:n] = torch.as_tensor(q.weight, dtype=torch.float32)
        small.hidden.bias[:n] = torch.as_tensor(q.bias, dtype=torch.float32)
        small.out.weight[:, :n] = torch.as_tensor(q.readout.T / small.out.scale, dtype=torch.float32)
        small.out.bias.copy_(torch.as_tensor(q.intercept / small.out.scale, dtype=torch.float32))
        named = predicted(small, encoding.batch(examples.inputs))
        if not bool((named == encoding.targets(examples.outputs).reshape(x.shape[0], -1)).all()):
            return None  # float32 moved a value across a rounding edge
    small.eval()
    return small, {"units": int(n), "denominator": int(q.denom), "from": int(model.width)}


# ---------------------------------------------------------------------------------------------------------------
# Recurrent networks: a ReLU Elman net that regresses its answers, onto integer weights

RNN_TUNE_ROUNDS = 6  # rounds of snapping the nearest half of the free weights, then training the rest
RNN_TUNE_STEPS = 150
RNN_TUNE_L1 = 1e-5
RNN_MAX_WIDTH = 64  # wider nets are not pruned one unit at a time


@dataclass
class _Cell:
    """A ReLU Elman net in its integer basis: ``h' = relu(W h + U x + b)`` on raw inputs ``x`` (not divided by
    their magnitude), ``value = A h + c`` (the readout's values, not scaled), ``h`` starting at ``h0``."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    A: np.ndarray
    c: np.ndarray
    h0: np.ndarray

    def take(self, keep: np.ndarray) -> "_Cell":
        return _Cell(self.W[np.ix_(keep, keep)], self.U[keep], self.b[keep], self.A[:, keep], self.c, self.h0[keep])

    def rescaled(self) -> "_Cell":
        """Each unit rescaled by a positive factor (the same function) so its largest readout weight, or for a
        unit the readout ignores its largest outgoing recurrent weight, has magnitude 1 (repeated until no factor
        moves: rescaling a unit changes the weights into it, which the units feeding it are scaled by)."""
        c = self
        for _ in range(max(1, 2 * self.W.shape[0])):
            out = np.abs(c.A).max(0) if c.A.size else np.zeros(c.W.shape[0])
            rec = np.abs(c.W).max(0) if c.W.size else np.zeros(0)
            f = np.where(out > TOL, out, np.where(rec > TOL, rec, 1.0))  # h_new = f * h
            c = _Cell(f[:, None] * c.W / f[None, :], f[:, None] * c.U, f * c.b, c.A / f[None, :], c.c, f * c.h0)
            if np.allclose(f, 1.0, rtol=1e-9, atol=0):
                break
        return c


def _magnitudes(model) -> np.ndarray:
    from .models import magnitude

    enc = model.encoding
    names = {**enc.sequences, **enc.scalars}
    order = list(enc.sequences) + list(enc.scalars)
    return np.array([magnitude(*names[n]) for n in order], dtype=np.float64)


def _cell_of(model) -> _Cell:
    cell, out = model.cell, model.readout
    with torch.no_grad():
        return _Cell(cell.weight_hh.double().numpy().copy(),
                     cell.weight_ih.double().numpy() / _magnitudes(model)[None, :],
                     (cell.bias_ih + cell.bias_hh).double().numpy().copy(),
                     (out.scale * out.weight.double()).numpy().copy(), (out.scale * out.bias.double()).numpy().copy(),
                     model.h0.double().numpy().copy())


def _net_of(model, c: _Cell):
    """A new net like ``model`` (a numeric regressing ReLU Elman net) with the weights of ``c``."""
    from .models import Recurrent

    k = max(1, c.W.shape[0])
    net = Recurrent(model.encoding, cell="rnn", hidden=k, numeric=True, regress=True, act="relu")
    n = c.W.shape[0]
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.h0.zero_()
        cell, out = net.cell, net.readout
        cell.weight_hh[:n, :n] = torch.as_tensor(c.W)
        cell.weight_ih[:n] = torch.as_tensor(c.U * _magnitudes(model)[None, :])
        cell.bias_ih[:n] = torch.as_tensor(c.b)
        out.weight[:, :n] = torch.as_tensor(c.A / out.scale)
        out.bias.copy_(torch.as_tensor(c.c / out.scale))
        net.h0[:n] = torch.as_tensor(c.h0)
    net.eval()
    return net


def _importance(model, c: _Cell, batch) -> np.ndarray:
    """How much each unit writes: its mean activation on the examples times its largest outgoing weight."""
    net = _net_of(model, c)
    with torch.no_grad():
        h = net.states(batch).double().numpy().reshape(-1, max(1, c.W.shape[0]))[:, :c.W.shape[0]]
    outgoing = np.abs(np.concatenate([c.A, c.W], axis=0)).max(0) if c.W.size else np.zeros(0)
    return np.abs(h).mean(0) * outgoing


def _tune_rnn(model, c: _Cell, free: dict[str, np.ndarray], batch, targets, steps: int, l1: float = 0.0) -> _Cell:
    """``steps`` full-batch Adam steps on the squared error over the free entries of W, U, b, A, c (the others
    fixed), from ``c``."""
    from .search import loss_of

    net = _net_of(model, c)
    net.train()
    out_scale = net.readout.scale
    n = c.W.shape[0]
    masks = {"cell.weight_hh": free["W"], "cell.weight_ih": free["U"], "cell.bias_ih": free["b"],
             "readout.weight": free["A"], "readout.bias": free["c"]}
    params = dict(net.named_parameters())
    live = []
    for name, mask in masks.items():
        full = torch.zeros_like(params[name], dtype=torch.bool)
        if name == "cell.weight_hh":
            full[:n, :n] = torch.as_tensor(mask)
        elif name in ("cell.weight_ih", "cell.bias_ih"):
            full[:n] = torch.as_tensor(mask)
        elif name == "readout.weight":
            full[:, :n] = torch.as_tensor(mask)
        else:
            full[:] = torch.as_tensor(mask)
        params[name].register_hook(lambda g, m=full: g * m)
        live.append(params[name])
    net.cell.bias_hh.requires_grad_(False)
    opt = torch.optim.Adam(live, lr=1e-3)
    mag = torch.as_tensor(_magnitudes(model), dtype=torch.float32)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_of(net, batch, targets)
        if l1:  # the pull along a valley of exact nets towards the sparse one (the gradient hooks keep it to free entries)
            loss = loss + l1 * (net.cell.weight_hh.abs().sum() + (net.cell.weight_ih / mag).abs().sum()
                                + (net.readout.weight * out_scale).abs().sum())
        loss.backward()
        opt.step()
    return dataclasses.replace(_cell_of(net).take(np.arange(n)), h0=c.h0.copy())


def _pruned(c: _Cell, order, exact) -> _Cell:
    """``c`` without each unit of ``order`` in turn whose removal keeps it ``exact`` (at least one unit left)."""
    keep = np.arange(c.W.shape[0])
    for u in order:
        trial = keep[keep != u]
        if trial.size and exact(c.take(trial)):
            keep = trial
    return c.take(keep)


def _traced_preactivations(model, c: _Cell, batch) -> tuple[np.ndarray, np.ndarray]:
    """``[steps, k]`` twice: every unit's pre-activation ``W h + U x + b`` at every step the examples take, and the
    state after it."""
    net = _net_of(model, c)
    k = c.W.shape[0]
    with torch.no_grad():
        xs = net.step_inputs(batch).double().numpy() * _magnitudes(model)[None, None, :]
        hs = net.states(batch).double().numpy()[..., :k]
    n, t = xs.shape[:2]
    prev = np.concatenate([np.broadcast_to(c.h0, (n, 1, k)), hs[:, :-1]], axis=1)
    pre = prev @ c.W.T + xs @ c.U.T + c.b
    lengths = np.full(n, t) if batch.lengths is None else batch.lengths.numpy()
    valid = np.arange(t)[None, :] < lengths[:, None]
    return pre[valid], hs[valid]


def _input_ranges(model) -> tuple[np.ndarray, np.ndarray]:
    """The least and greatest raw value of each input the cell reads (the domain's ranges, no answers)."""
    enc = model.encoding
    names = {**enc.sequences, **enc.scalars}
    order = list(enc.sequences) + list(enc.scalars)
    return (np.array([names[n][0] for n in order], dtype=np.float64),
            np.array([names[n][0] + names[n][1] - 1 for n in order], dtype=np.float64))


def _observable(model, c: _Cell, batch, steps: int) -> _Cell | None:
    """A net whose every unit is active at every step of the examples is the linear recurrence ``h' = W h + U x + b``
    there, and any invertible change of its coordinates is the same function (MIPS normalises a linear recurrence
    before rounding; a ReLU net's own units may mix roles: a delay spread over two units as ``0.607 x`` and
    ``1.646 h``). This is its observable form: coordinates ``z = O h + d`` with ``O``'s rows ``A, A W, A W², ...``
    (the readout and what the state adds to the answer 1, 2, ... steps on with no input; those independent,
    unobservable directions dropped), so the answer is ``z_1`` less a constant, and the update is the companion
    matrix of the recurrence, whose entries are integers when the answers are integer-linear in the inputs (a sum,
    a delay, a difference, a position under force). The shift ``d`` (integers) keeps every coordinate at zero or
    above over the domain: each coordinate is affine in the inputs read so far, its least value over the inputs'
    ranges and the lengths up to ``steps`` exact. None when some unit is inactive on a step or the form does not
    exist (no readout direction)."""
    k = c.W.shape[0]
    if k == 0:
        return None
    pre, states = _traced_preactivations(model, c, batch)
    if pre.min() < -1e-3 * max(1.0, np.abs(pre).max()):  # slightly below: the exact check of the new net decides
        return None
    basis = np.zeros((0, k))
    grow = c.A.copy()
    for _ in range(k):
        for r in grow:
            trial = np.vstack([basis, r])
            if np.linalg.matrix_rank(trial, tol=1e-6 * max(1.0, np.abs(trial).max())) > basis.shape[0]:
                basis = trial
        grow = grow @ c.W
    if basis.shape[0] == 0:
        return None
    O = basis
    pinv = np.linalg.pinv(O)
    M, v, e = O @ c.W @ pinv, O @ c.U, O @ c.b
    if not np.allclose(O @ c.W, M @ O, atol=1e-6 * max(1.0, np.abs(O @ c.W).max())):
        return None
    # each coordinate moved by the constant that puts the traced states on integers (their circular mean
    # fractional part): the answer's coordinate then is the answer itself
    turns = np.angle(np.exp(2j * np.pi * (states @ O.T)).mean(axis=0)) / (2 * np.pi)
    g = -turns
    e = e + g - M @ g
    z0 = O @ c.h0 + g
    lo_x, hi_x = _input_ranges(model)
    low = np.full(O.shape[0], np.inf)
    # z_t = M^t z0 + sum_s M^(t-s) (v x_s + e): its least value, term by term, over every length up to ``steps``
    power = np.eye(O.shape[0])
    least = np.zeros(O.shape[0])
    rest = np.zeros(O.shape[0])
    for t in range(1, steps + 1):
        coef = power @ v  # what x at the newest-but-(t-1) step adds
        least = least + np.minimum(coef * lo_x, coef * hi_x).sum(axis=1)
        rest = rest + power @ e
        power = power @ M
        low = np.minimum(low, power @ z0 + rest + least)
    d = np.ceil(np.maximum(0.0, -low) - 1e-9)
    return _Cell(M, v, e + d - M @ d, c.A @ pinv, c.c - (c.A @ pinv) @ (g + d), np.round(z0 + d))


def quantise_rnn(model, encoding, batch, targets, seconds: float | None = None):
    """A numeric regressing ReLU Elman net (``Recurrent(cell="rnn", act="relu", numeric=True, regress=True)``)
    exact on ``batch`` quantised onto integers: a new, narrower net whose units are the ones it needs (pruned one
    at a time, least important first), rescaled so each reads in the answer's units, every weight, bias and
    readout entry an integer on raw inputs (all at once, else the nearest half of the free entries at a time with
    the rest trained ``RNN_TUNE_STEPS`` Adam steps in between: incremental quantisation), and the net exact on
    ``batch`` after each step. Returns ``(net, {"units": k, "from": width})`` or None (``model`` is never changed)
    when it is no such net or could not be quantised within ``seconds``."""
    from .train import accuracy

    if not (getattr(model, "arch", "") == "rnn" and getattr(model, "act", "") == "relu" and model.numeric
            and getattr(model, "regress", False)) or model.width > RNN_MAX_WIDTH:
        return None
    deadline = None if seconds is None else time.perf_counter() + seconds

    def late() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    def exact(c: _Cell) -> bool:
        return accuracy(_net_of(model, c), encoding, batch, targets) == 1.0

    c = _cell_of(model)
    if not exact(c):
        return None
    # prune: the least important unit first, each removal kept only while the net stays exact
    c = _pruned(c, np.argsort(_importance(model, c, batch), kind="stable"), exact)
    steps = next(iter(batch.sequences.values())).shape[1] if batch.sequences else 1
    linear = _observable(model, c, batch, steps)
    c = linear if linear is not None and exact(linear) else c.rescaled()
    if late():
        return None
    names = ("W", "U", "b", "A", "c")
    snapped = {k: np.zeros_like(getattr(c, k), dtype=bool) for k in names}

    def rounded(c: _Cell, which: dict[str, np.ndarray]) -> _Cell:
        return _Cell(*(np.where(which[k], np.round(getattr(c, k)), getattr(c, k)) for k in names), c.h0)

    everything = {k: np.ones_like(v) for k, v in snapped.items()}
    for _ in range(RNN_TUNE_ROUNDS + 1):
        if late():
            return None
        whole = rounded(c, everything)
        if exact(whole):
            c = whole
            break
        # snap the nearest half of the free entries that keeps the net exact (halving on failure), train the rest
        free = [(abs(getattr(c, k).flat[i] - np.round(getattr(c, k).flat[i])), k, i)
                for k in names for i in range(getattr(c, k).size) if not snapped[k].flat[i]]
        free.sort()
        take = max(1, len(free) // 2)
        moved = False
        while take >= 1 and not late():
            which = {k: v.copy() for k, v in snapped.items()}
            for _, k, i in free[:take]:
                which[k].flat[i] = True
            trial = rounded(c, which)
            if exact(trial):
                c, snapped, moved = trial, which, True
                break
            take //= 2
        if late():
            return None
        left = {k: ~v for k, v in snapped.items()}
        if not any(v.any() for v in left.values()):
            break
        tuned = _tune_rnn(model, c, left, batch, targets, RNN_TUNE_STEPS, RNN_TUNE_L1)
        if exact(tuned):
            c = tuned
        elif not moved:
            return None
    else:
        return None
    if not all(np.allclose(getattr(c, k), np.round(getattr(c, k))) for k in names):
        return None
    c = rounded(c, everything)
    if not exact(c):  # float noise moved a value across a rounding edge
        return None
    c = _pruned(c, range(c.W.shape[0]), exact)  # units the integer net no longer needs (stuck at zero, unread)
    return _net_of(model, c), {"units": int(c.W.shape[0]), "from": int(model.width)}
