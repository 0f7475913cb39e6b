"""``integer``: MIPS's integer read-off (Michaud et al. 2024) for recurrent networks whose state is an
integer that need not be finite (a running sum, a delay line, a counter, a position).

trace (the network's hidden states after every prefix of the domain's sequences, as ``fsm`` traces them)
→ whiten (the states less the start state, in the principal axes of their spread; axes whose spread is
below ``RANK_TOL`` of the largest are noise and dropped, and more than ``max_dim`` axes is an abstention)
→ lattice (``integer_lattice``: a basis ``B`` of the lattice the whitened states lie on, found from their
shortest differences and refined with rational coordinates through a Hermite normal form, then
LLL-reduced; each state's coordinates ``z = B⁻¹ y`` must be within ``TOL`` of integers) → tables (the
update ``z' = F(z, x)`` and the output ``y = G(z)`` must be functions on the traced steps: one successor
per (state, symbol), one output per state) → synthesis (each coordinate of ``F`` and each output of ``G``
as an integer affine map where one fits exactly, else the smallest expression ``synthesis.fit_expression``
finds over the traced table) → a loop program with one integer variable per coordinate, starting at 0
(the start state is the origin) → checks in context: interchange on each coordinate (unit level: the
network's state set to the source's; distributed: a learned direction per coordinate, with its
controls) and a splice of the program's states, mapped back onto the lattice, in place of the cell.

Why it is sound. Whitening and the lattice basis are changes of coordinates of the states the network
visits; nothing is fitted to the task's answers. The tables are read from the network (its states and
its outputs), and a table that is not a function on the traced steps is an abstention, never settled by
majority: a network whose states are not an integer lattice is not read here (``fsm`` or ``lstar`` may
read it as a finite machine). Exactness on the domain is the comparator's verdict, as for every reader.
"""
from __future__ import annotations

import dataclasses
import math
import time
from fractions import Fraction

import numpy as np
import torch

from programs.ast import Assign, Binary, Const, Expr, For, Return, Tuple, Var, Yield
from programs.budget import Budget
from programs.interpreter import Machine
from programs.printer import to_source
from programs.program import Program
from programs.semantics import SCALAR

from ..machine import fresh
from ..registry import Reading, extractor
from ..machine import _singular
from .fsm import (StateTrace, distributed_state, interchange_holds, recurrent_only, signature, state_pairs,
                  unchanged)
from .units import affine_expr, affine_map

MAX_DIM = 3  # integer coordinates read at most
RANK_TOL = 1e-2  # an axis of the states' spread below this share of the largest is noise
TOL = 0.2  # a state's coordinates must be within this of integers
MAX_DENOMINATOR = 12  # a finer lattice than the first basis: coordinates of this denominator at most
MAX_COEF = 64  # integer affine maps with coefficients up to this size
MAX_TABLE = 16  # a symbol of at most this many values may enter an update through a table of its values
SUB_SEARCH_CANDIDATES = 200_000
MAX_STATES_TRACED = 5_000
OUTLIERS = 0.005  # the share of states that may lie off the lattice (a regressing net's outputs near a rounding edge)
LINEAR_SHARE = 0.9  # ... on at least this share of them (the rest: units at the edge of their range; the
# coordinates read must still be integers on all but OUTLIERS of the states, and the tables functions)
LINEAR_TOL = 1e-3  # a recurrence is linear on its steps when least squares leaves less than this of the spread


@dataclasses.dataclass(frozen=True)
class Lattice:
    """Integer coordinates of hidden states: ``z ≈ to_z @ (h - origin) + offset`` is integer on the traced
    states (``origin`` the start state ``h0``, whose own coordinates round to 0); ``coords`` those of every
    traced state (``[n, T, r]``, 0 past the end); ``residual`` the largest distance of a traced state's
    coordinate from its integer, ``outliers`` the share of states farther than ``TOL``."""

    origin: np.ndarray
    to_z: np.ndarray
    offset: np.ndarray
    coords: np.ndarray
    residual: float
    outliers: float
    initial: tuple[int, ...] = ()  # the program's start values (0 for every coordinate when empty)
    how: str = "whitened"  # which coordinates: "whitened", "observable" (linear recurrence) or "behaviour"
    known: np.ndarray | None = None  # [n, T]: states whose coordinates were read inside the domain (None: all)

    @property
    def dim(self) -> int:
        return int(self.to_z.shape[0])

    def embed(self, z: np.ndarray) -> np.ndarray:
        """A hidden vector with integer coordinates ``z`` (the start state moved along the read axes)."""
        return self.origin + (np.asarray(z, dtype=np.float64) - self.offset) @ np.linalg.pinv(self.to_z).T


def whiten(points: np.ndarray, origin: np.ndarray, max_dim: int = MAX_DIM,
           rank_tol: float = RANK_TOL) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """(the points less ``origin`` in their principal axes ``[N, r]``, the axes ``[h, r]``, None), or
    (None, None, why) when the spread has more than ``max_dim`` axes above ``rank_tol`` of the largest."""
    d = points - origin
    if not np.isfinite(d).all():
        return None, None, "the hidden states are not finite"
    _, s, vt = np.linalg.svd(d, full_matrices=False)
    if s.size == 0 or s[0] <= 0:
        return None, None, "the hidden state never moves from the start: no integer state to read"
    r = int((s > rank_tol * s[0]).sum())
    if r > max_dim:
        return None, None, (f"the hidden states spread over {r} axes (above {rank_tol:g} of the largest), more "
                            f"than the {max_dim} integer coordinates this reader reads")
    axes = vt[:r].T
    return d @ axes, axes, None


def integer_lattice(y: np.ndarray, steps: np.ndarray | None = None, *, tol: float = TOL,
                    max_denominator: int = MAX_DENOMINATOR, outliers: float = 0.02) -> tuple[np.ndarray | None, str | None]:
    """A basis ``B`` ([r, r], columns the basis vectors) of a lattice holding every row of ``y`` ([N, r],
    the origin among them) within ``tol`` of its points (in units of the lattice), or (None, why).

    The first basis is the shortest independent vectors among the rows and their ``steps`` (differences
    between consecutive states: the shortest lattice vectors a sequence takes). Where some vector has a
    fractional coordinate in it, the lattice is refined: the coordinates, as fractions of denominator at
    most ``max_denominator``, generate with the unit vectors a finer integer lattice, whose Hermite normal
    form is the new basis. A share ``outliers`` of the (distinct) vectors may stay off the lattice (a
    regressing network's states near a rounding edge). The basis is then LLL-reduced (short, nearly
    orthogonal vectors)."""
    from sympy import Matrix
    from sympy.matrices.normalforms import hermite_normal_form

    r = y.shape[1]
    vecs = y if steps is None else np.vstack([y, steps])
    norms = np.linalg.norm(vecs, axis=1)
    scale = norms.max(initial=0.0)
    if scale <= 0:
        return None, "the states do not move"
    vecs = vecs[norms > 1e-6 * scale]
    # distinct up to rounding, but kept as they are: a basis vector rounded to 1e-6 of the largest would be
    # off by a share of a step at coordinates in the hundreds (a running sum over values < 100)
    vecs = vecs[np.unique(np.round(vecs / scale, 6), axis=0, return_index=True)[1]]
    vecs = vecs[np.argsort(np.linalg.norm(vecs, axis=1), kind="stable")]
    basis: list[np.ndarray] = []
    for v in vecs:
        trial = np.stack(basis + [v], axis=1)
        if np.linalg.matrix_rank(trial, tol=1e-3 * np.linalg.norm(v)) == len(basis) + 1:
            basis.append(v)
            if len(basis) == r:
                break
    if len(basis) < r:
        return None, "the states' differences do not span their axes"
    b = np.stack(basis, axis=1)
    for _ in range(2 * r + 4):
        c = np.linalg.solve(b, vecs.T).T  # [M, r]
        off = (np.abs(c - np.rint(c)) > tol / 2).any(axis=1)
        if off.mean() <= outliers:
            return _lll(b), None
        # the most common fractional part among the vectors off the lattice (mod 1) refines it, when enough
        # vectors share it: a pattern of a few outliers is noise, not a finer lattice
        patterns: dict[tuple, int] = {}
        for row in c[off]:
            fr = tuple(Fraction(float(v)).limit_denominator(max_denominator) for v in row)
            if all(abs(float(f) - v) <= tol / 2 for f, v in zip(fr, row)):
                key = tuple(f - math.floor(f) for f in fr)
                patterns[key] = patterns.get(key, 0) + 1
        if not patterns or max(patterns.values()) < outliers * len(c):
            return None, (f"{off.mean():.1%} of the states' differences are off the lattice of the shortest basis "
                          f"and share no fraction of denominator <= {max_denominator}: the states are not on an "
                          "integer lattice")
        gens = [max(patterns, key=lambda k: (patterns[k], [-f.denominator for f in k]))]
        den = math.lcm(*(f.denominator for f in gens[0]))
        cols = [[den if i == j else 0 for j in range(r)] for i in range(r)]
        cols += [[int(f * den) for f in fr] for fr in gens]
        h = hermite_normal_form(Matrix(cols).T)  # columns: a basis of the lattice they generate
        if h.shape != (r, r):
            return None, "the refined lattice is degenerate"
        b = b @ np.array(h.tolist(), dtype=np.float64) / den
    return None, ("the lattice refinement did not converge in so many steps: the states are not on an integer "
                  "lattice")


def _lll(b: np.ndarray, delta: float = 0.75) -> np.ndarray:
    """LLL reduction of the columns of ``b`` (real, small ``r``)."""
    b = b.copy()
    r = b.shape[1]

    def gso(m):
        q = np.zeros_like(m)
        mu = np.zeros((r, r))
        for i in range(r):
            q[:, i] = m[:, i]
            for j in range(i):
                mu[i, j] = m[:, i] @ q[:, j] / (q[:, j] @ q[:, j])
                q[:, i] -= mu[i, j] * q[:, j]
        return q, mu

    q, mu = gso(b)
    k, guard = 1, 0
    while k < r and guard < 1000:
        guard += 1
        for j in range(k - 1, -1, -1):
            m = round(mu[k, j])
            if m:
                b[:, k] -= m * b[:, j]
                q, mu = gso(b)
        if q[:, k] @ q[:, k] >= (delta - mu[k, k - 1] ** 2) * (q[:, k - 1] @ q[:, k - 1]):
            k += 1
        else:
            b[:, [k - 1, k]] = b[:, [k, k - 1]]
            q, mu = gso(b)
            k = max(k - 1, 1)
    return b


def observable_axes(trained, tr: StateTrace, max_dim: int = MAX_DIM,
                    tol: float = LINEAR_TOL) -> tuple[np.ndarray | None, str | None]:
    """The observable subspace of a recurrence that is linear on its traced steps (MIPS's Krylov basis):
    where ``h_t = A h_(t-1) + U x_t + c`` holds on every traced step (least squares, residual below ``tol``
    of the states' spread) and the readout is linear (a regressing network's ``ValueReadout``, weights
    ``R``), the states differ in what any later output can see only along the rows of ``R, R A, R A², ...``;
    other directions are memory the outputs never read (a ReLU net that keeps old inputs it need not).
    Returns those rows (``[h, m]``, ``m`` up to ``2 * max_dim + 1`` per output): the states' coordinates on
    them are what the outputs can see, in the outputs' units; or (None, why)."""
    from ..models import ValueReadout

    readout = getattr(trained.model, "readout", None)
    if not isinstance(readout, ValueReadout):
        return None, "the readout is not linear (the network classifies its outputs)"
    pts, valid = tr.states, tr.valid
    prev = np.concatenate([np.broadcast_to(tr.h0, (pts.shape[0], 1, pts.shape[2])), pts[:, :-1]], axis=1)
    x = np.concatenate([prev[valid], tr.symbols[valid].astype(np.float64), np.ones((int(valid.sum()), 1))], axis=1)
    y = pts[valid]
    # a ReLU net is linear where its units keep one pattern of being on after the step: fit on the steps of
    # the most common pattern, which must be nearly all of them
    pattern = y > 0
    kinds, which, counts = np.unique(pattern, axis=0, return_inverse=True, return_counts=True)
    main = which.reshape(-1) == int(np.argmax(counts))
    if main.mean() < LINEAR_SHARE:
        return None, (f"the recurrence is not linear on its traced steps (its most common pattern of active units "
                      f"holds on {main.mean():.1%} of them)")
    coef, *_ = np.linalg.lstsq(x[main], y[main], rcond=None)
    spread = float(np.abs(y - tr.h0).max(initial=0.0)) or 1.0
    err = float(np.abs(x[main] @ coef - y[main]).max(initial=0.0))
    if err > tol * spread:
        return None, f"the recurrence is not linear on its traced steps (residual {err / spread:.2g} of the spread)"
    a = coef[:pts.shape[2]].T  # h_t = a @ h_(t-1) + ...
    rows = [readout.weight.detach().numpy().astype(np.float64)]
    for _ in range(2 * max_dim):
        rows.append(rows[-1] @ a)
    return np.vstack(rows).T, None


def lattice_of(tr: StateTrace, max_dim: int = MAX_DIM, trained=None) -> tuple[Lattice | None, str | None]:
    """The traced states' integer coordinates (``Lattice``), by the first way that finds them: the whitened
    states on a lattice (``_whitened``); the observable directions of a recurrence linear on its steps
    (``observable_axes``); what the network says from each state (``behaviour``). (None, why) when none
    does, with each one's reason."""
    found, why = _whitened(tr, max_dim)
    if found is not None or trained is None:
        return found, why
    reasons = [why]
    obs, other = observable_axes(trained, tr, max_dim)
    if obs is not None:
        found, other = _observed(tr, obs * trained.model.readout.scale, max_dim)
        if found is not None:
            return found, None
    reasons.append(other)
    found, third = behaviour(trained, tr, max_dim)
    if found is not None:
        return found, None
    return None, "; ".join(reasons + [third])


def _whitened(tr: StateTrace, max_dim: int) -> tuple[Lattice | None, str | None]:
    """The states less the start in their principal axes, on a lattice (``integer_lattice``), the start
    at the origin (up to its rounding), each axis oriented so its coordinates are mostly non-negative."""
    pts = tr.states[tr.valid]
    y, axes, why = whiten(pts, tr.h0, max_dim)
    if why is not None:
        return None, why
    n, t = tr.valid.shape
    idx = -np.ones(tr.valid.shape, dtype=np.int64)
    idx[tr.valid] = np.arange(pts.shape[0])
    prev = np.full(tr.valid.shape, -1, dtype=np.int64)
    prev[:, 1:] = idx[:, :-1]
    inner = prev[tr.valid] >= 0  # steps between traced states (the start need not be on their lattice)
    anchor = y[0]
    b, why = integer_lattice(y - anchor, (y - y[np.maximum(prev[tr.valid], 0)])[inner])
    if why is not None:
        return None, why
    z = np.linalg.solve(b, (y - anchor).T).T
    off = np.abs(z - np.rint(z)).max(axis=1)
    outliers = float((off > TOL).mean())
    if outliers > OUTLIERS:
        return None, (f"{outliers:.1%} of the states are more than {TOL} of a lattice step from the nearest lattice "
                      f"point (at most {OUTLIERS:.1%} may be)")
    zi = np.rint(z).astype(np.int64)
    z0 = np.linalg.solve(b, -anchor)  # the start state's coordinates
    start = np.rint(z0).astype(np.int64)
    zi -= start
    flip = np.where((zi < 0).sum(0) > (zi > 0).sum(0), -1, 1)
    zi = zi * flip
    coords = np.zeros((n, t, b.shape[1]), dtype=np.int64)
    coords[tr.valid] = zi
    to_z = flip[:, None] * np.linalg.solve(b, axes.T)  # [r, h]
    offset = flip * (z0 - start)  # z = to_z @ (h - h0) + offset: 0 at the start, up to its rounding
    return Lattice(tr.h0.copy(), to_z, offset, coords, float(off.max(initial=0.0)), outliers), None


def _observed(tr: StateTrace, obs: np.ndarray, max_dim: int) -> tuple[Lattice | None, str | None]:
    """Integer coordinates in the observable directions (MIPS's Krylov lattice): the states' coordinates
    along ``obs`` are what later outputs see, in the outputs' own units, so they differ by integers; the
    first ``max_dim`` independent ones (in the order ``R, R A, ...``) are the state."""
    pts = tr.states[tr.valid]
    p = (pts - tr.h0) @ obs  # [N, m]
    frac = p - p[0]
    near = np.rint(frac)
    off = np.abs(frac - near).max(axis=1)
    outliers = float((off > TOL).mean())
    if outliers > OUTLIERS:
        return None, (f"{outliers:.1%} of the states are more than {TOL} of an output unit from integer coordinates in "
                      f"the directions the outputs see (at most {OUTLIERS:.1%} may be)")
    chosen: list[int] = []
    for j in range(near.shape[1]):
        if np.linalg.matrix_rank(near[:, chosen + [j]].astype(np.float64)) == len(chosen) + 1:
            chosen.append(j)
    if len(chosen) > max_dim:
        return None, f"the outputs see {len(chosen)} independent integer coordinates, more than {max_dim}"
    if not chosen:
        return None, "the outputs see no coordinate of the state that moves"
    z0 = -(p[0] + 0)[chosen] + 0.0  # the start's coordinates relative to the first state (h - h0 = 0 there)
    start = np.rint(z0)
    zi = near[:, chosen] - start
    flip = np.where((zi < 0).sum(0) > (zi > 0).sum(0), -1, 1)
    zi = (zi * flip).astype(np.int64)
    n, t = tr.valid.shape
    coords = np.zeros((n, t, len(chosen)), dtype=np.int64)
    coords[tr.valid] = zi
    to_z = flip[:, None] * obs[:, chosen].T
    offset = flip * (z0 - start)
    return Lattice(tr.h0.copy(), to_z, offset, coords, float(off.max(initial=0.0)), outliers,
                   how="observable"), None


def behaviour(trained, tr: StateTrace, max_dim: int = MAX_DIM) -> tuple[Lattice | None, str | None]:
    """Integer coordinates read from what the network says from each state: its output there and after
    reading one symbol (the commonest) once, twice, ... (``2 * max_dim`` times), each state's own scalar
    inputs kept. These are integers by construction (the network's answers), the observable coordinates
    of a network that is not linear (MIPS reads the Krylov basis of a linear one); the first ``max_dim``
    independent ones are the state. The start's own are the program's start values."""
    from .fsm import _values

    model, enc = trained.model, trained.encoding
    seqs = trained.problem.sequences
    letters = tr.symbols[tr.valid][:, :len(seqs)]
    kinds, counts = np.unique(letters, axis=0, return_counts=True)
    letter = kinds[int(np.argmax(counts))]
    rows = np.concatenate([[0], np.nonzero(tr.valid)[0]])
    states = np.vstack([tr.h0[None, :], tr.states[tr.valid]])
    scal = {name: v[rows] for name, v in tr.inputs.items() if v.ndim == 1}
    start = torch.as_tensor(states, dtype=torch.float32)
    cols, ahead = [], []
    with torch.no_grad():
        cols.append(_values(enc, model.readout(start)))
        ahead += [0] * cols[-1].shape[1]
        for k in range(1, 2 * max_dim + 1):
            inputs = {name: np.full((states.shape[0], k), letter[i]) for i, name in enumerate(seqs)}
            inputs.update(scal)
            hs = model.states(enc.batch(inputs, np.full(states.shape[0], k)), start)
            cols.append(_values(enc, model.readout(hs[:, -1])))
            ahead += [k] * cols[-1].shape[1]
    v = np.concatenate(cols, axis=1).astype(np.int64)
    chosen: list[int] = []
    depth = np.concatenate([[0], np.nonzero(tr.valid)[1] + 1])
    longest = int(tr.lengths.max())
    for j in range(v.shape[1]):
        inside = depth + max([ahead[c] for c in chosen] + [ahead[j]]) <= longest  # answers the network was trained for
        inside[0] = False  # nor the start: it need not be a state the network reaches again
        if inside.sum() >= 2 and not _follows(v[inside][:, chosen], v[inside, j]):
            chosen.append(j)
            if len(chosen) > max_dim:
                break
    if not chosen:
        return None, "nothing the network says from its states varies"
    if len(chosen) > max_dim:
        return None, f"what the network says from its states has {len(chosen)} independent integer coordinates, more than {max_dim}"
    z = v[:, chosen]
    n, t = tr.valid.shape
    coords = np.zeros((n, t, len(chosen)), dtype=np.int64)
    coords[tr.valid] = z[1:]
    # a state whose continuation leaves the domain (longer than its longest sequence) was read where the
    # network was never trained: its coordinates are not used to write the program
    reach = max(ahead[j] for j in chosen)
    known = (np.arange(t)[None, :] + 1 + reach <= int(tr.lengths.max())) & tr.valid
    # a linear probe of the coordinates in the hidden states, for states the splice needs and no trace saw
    x = np.hstack([states - tr.h0, np.ones((states.shape[0], 1))])
    k, *_ = np.linalg.lstsq(x, z.astype(np.float64), rcond=None)
    return Lattice(tr.h0.copy(), k[:-1].T, k[-1], coords, 0.0, 0.0, tuple(int(q) for q in z[0]),
                   how="behaviour", known=known), None


def _mostly_affine(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int] | None:
    """An integer affine map that fits ``y`` on all but ``OUTLIERS`` of the rows (a network's rare wrong
    answers, which the agreement on the domain then reports), by least squares on every row, rounded and
    checked; None when none does."""
    if x.shape[0] < 8:
        return None
    a = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    if not np.isfinite(coef).all() or np.abs(coef[:-1]).max(initial=0.0) > MAX_COEF + 0.5:
        return None
    c = np.rint(coef[:-1]).astype(np.int64)
    c0 = int(np.rint(np.median(y - x @ c)))
    return (c, c0) if float(np.mean(x @ c + c0 != y)) <= OUTLIERS else None


def _follows(x: np.ndarray, y: np.ndarray) -> bool:
    """Is ``y`` an integer affine function of the columns of ``x`` on all but ``OUTLIERS`` of the rows (a
    network's rare wrong answers)?"""
    a = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, y.astype(np.float64), rcond=None)
    coef[:-1] = np.rint(coef[:-1])
    c0 = np.median(y - x @ coef[:-1].astype(np.int64)) if x.shape[1] else np.median(y)
    return float(np.mean(x @ coef[:-1].astype(np.int64) + np.rint(c0) != y)) <= OUTLIERS


def tables(tr: StateTrace, lat: Lattice):
    """(keys ``[M, r + k]``: each traced step's previous coordinates and symbols, next ``[M, r]``; states
    ``[N, r]`` and outputs ``[N, arity]``; the first steps' symbols and next coordinates), or a reason when
    the update or output is not a function."""
    prev = np.zeros_like(lat.coords)
    prev[:, 0] = lat.initial or 0  # the start
    prev[:, 1:] = lat.coords[:, :-1]
    known = tr.valid if lat.known is None else lat.known
    before = np.ones_like(known)
    before[:, 1:] = known[:, :-1]
    steps = known & before  # both ends of the step read inside the domain
    # steps from the start are kept apart: the start need not be a state the network reaches again (a
    # running minimum starts above every value), so its coordinates are chosen after the update is written
    first = np.zeros_like(steps)
    first[:, 0] = steps[:, 0]
    if (steps & ~first).any():
        starts = (tr.symbols[first], lat.coords[first])
        steps &= ~first
    else:
        starts = (tr.symbols[first][:0], lat.coords[first][:0])
    keys = np.concatenate([prev[steps], tr.symbols[steps]], axis=1)
    nxt = lat.coords[steps]
    uk, image, bad = _majority(keys, nxt)
    if bad > OUTLIERS * len(nxt):
        return None, (f"the update is not a function of the integer state and the symbol: {bad} of {len(nxt)} traced "
                      "steps disagree with the most common successor of their state and symbol")
    notes = [f"{bad} of {len(nxt)} traced steps disagree with the most common successor of their state and symbol "
             "(settled by majority)"] if bad else []
    states, outs = lat.coords[known], tr.outputs[known]
    us, o, wrong = _majority(states, outs)
    if wrong > OUTLIERS * len(outs):
        return None, f"the output is not a function of the integer state: {wrong} of {len(outs)} traced states disagree"
    if wrong:
        notes.append(f"{wrong} of {len(outs)} traced states' outputs disagree with the most common at their "
                     "coordinates (settled by majority)")
    return (uk, image, us, o, starts, notes), None


def _majority(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(distinct keys, the most common value of each, how many rows disagree with theirs)."""
    uk, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    pairs, counts = np.unique(np.concatenate([inv[:, None], values], axis=1), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))
    top = np.unique(pairs[order, 0], return_index=True)[1]
    best = pairs[order][top]
    return uk, best[:, 1:], int(len(values) - counts[order][top].sum())


def _tabled(names: list[str], x: np.ndarray, target: np.ndarray, symbols, outliers: float = OUTLIERS) -> Expr | None:
    """An integer affine map of the leaves plus, for each symbol leaf (index in ``symbols``) of at most
    ``MAX_TABLE`` values, an integer table of its values written as ``c * (x == v)`` terms (a token's one-hot
    code makes any function of it linear: a counter of one symbol is ``s + (x == v)``), fitting all but
    ``outliers`` of the rows; None when none does. A table that is affine in the symbol is written as such."""
    tabled = [j for j in symbols if len(np.unique(x[:, j])) <= MAX_TABLE]
    if not tabled or x.shape[0] < 8:
        return None
    plain = [j for j in range(x.shape[1]) if j not in tabled]
    levels = {j: np.unique(x[:, j]) for j in tabled}
    cols = [x[:, plain].astype(np.float64)] + [(x[:, j][:, None] == levels[j][None, 1:]).astype(np.float64)
                                                for j in tabled]
    a = np.hstack(cols + [np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, target.astype(np.float64), rcond=None)
    if not np.isfinite(coef).all() or np.abs(coef[:-1]).max(initial=0.0) > MAX_COEF + 0.5:
        return None
    r = np.rint(coef).astype(np.int64)
    if float(np.mean(a.astype(np.int64) @ r != target)) > outliers:
        return None
    lin = {j: int(c) for j, c in zip(plain, r)}
    c0, at, indicators = int(r[-1]), len(plain), []
    for j in tabled:
        vals = levels[j]
        g = np.concatenate([[0], r[at:at + len(vals) - 1]])
        at += len(vals) - 1
        slope = (g[1] - g[0]) // (vals[1] - vals[0]) if len(vals) > 1 else 0
        if np.array_equal(g, slope * (vals - vals[0])):  # affine in the symbol's value
            lin[j] = int(slope)
            c0 -= int(slope * vals[0])
            continue
        kinds, counts = np.unique(g, return_counts=True)
        base = int(kinds[np.argmax(counts)])  # the commonest entry goes to the constant
        c0 += base
        indicators += [(names[j], int(v), int(w - base)) for v, w in zip(vals, g) if w != base]
    expr = affine_expr([names[j] for j in sorted(lin)], np.array([lin[j] for j in sorted(lin)]), c0)
    for name, v, w in indicators:
        term = Binary("==", Var(name), Const(v))
        term = term if abs(w) == 1 else Binary("*", Const(abs(w)), term)
        expr = Binary("+" if w > 0 else "-", expr, term)
    return expr


def _expression(names: list[str], x: np.ndarray, target: np.ndarray, operators, budget: Budget, seed: int,
                why: list[str], symbols=()):
    """An integer affine map of the leaves where one fits exactly (plus tables of the ``symbols`` leaves'
    values, ``_tabled``), else the smallest expression found."""
    from synthesis import fit_expression

    fit = affine_map(x, target, MAX_COEF)
    if fit is not None:
        return affine_expr(names, *fit)
    fit = _mostly_affine(x, target)
    if fit is not None:
        return affine_expr(names, *fit)
    tabled = _tabled(names, x, target, symbols)
    if tabled is not None:
        return tabled
    exact = _exact(names, x, target, symbols, len(names) - len(symbols)) if len(symbols) else None
    if exact is not None:
        return exact
    extra = tuple(int(v) for v in np.unique(target) if not -1 <= v <= 3)
    constants = (-1, 0, 1, 2, 3) + (extra if len(extra) <= 4 else ())
    return fit_expression({n: x[:, i] for i, n in enumerate(names)}, target, operators=operators, constants=constants,
                          seconds=max(0.1, budget.left), seed=seed, max_candidates=SUB_SEARCH_CANDIDATES, why=why)


def _through_start(leaves: list[str], keys: np.ndarray, nxt: np.ndarray, starts, guess: tuple[int, ...],
                   dim: int) -> list | None:
    """Updates fitted exactly on every traced step, the steps from the start (at ``guess``) included, as
    integer affine maps (with tables of the symbols, ``_tabled``); None unless every coordinate has one. The
    steps after the first need not pin an update down (after one step a unit may equal a function of the
    inputs, such as a fold's answer that reads a scalar input, and a fit may read either); the start's steps
    do. Where the start is not on the lattice, or not a state the update leads from, this finds nothing and
    the start is chosen after the update instead (``start_values``)."""
    symbols, after = starts
    if not len(after):
        return None
    rows = np.vstack([keys, np.hstack([np.tile(np.asarray(guess, dtype=np.int64), (len(after), 1)), symbols])])
    targets = np.vstack([nxt, after])
    out = []
    for i in range(dim):
        e = _exact(leaves, rows, targets[:, i], range(dim, len(leaves)), dim)
        if e is None:
            return None
        out.append(e)
    return out


def _integer_in_nullspace(x: np.ndarray, target: np.ndarray, reach: int = 3) -> tuple[np.ndarray, int] | None:
    """An integer ``(c, c0)`` with ``x @ c + c0 == target`` on every row where the columns obey one linear
    relation: every exact map is the least-squares one plus a multiple of the relation, and the multiples
    that make some coefficient an integer within ``reach`` of it are tried. None when none is integral."""
    a = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(a, target.astype(np.float64), rcond=None)
    if not np.isfinite(coef).all() or np.abs(a @ coef - target).max(initial=0.0) > 1e-6:
        return None
    _, sv, vt = np.linalg.svd(a, full_matrices=False)
    null = vt[sv <= 1e-9 * sv[0]]
    if len(null) != 1:
        return None
    n = null[0]
    for j in np.nonzero(np.abs(n) > 1e-6)[0]:
        for step in range(-reach, reach + 1):
            c = coef + (np.rint(coef[j]) + step - coef[j]) / n[j] * n
            r = np.rint(c)
            if np.abs(c - r).max() < 1e-6 and np.abs(r[:-1]).max(initial=0) <= MAX_COEF:
                r = r.astype(np.int64)
                if np.array_equal(x.astype(np.int64) @ r[:-1] + r[-1], target):
                    return r[:-1], int(r[-1])
    return None


def _exact(names: list[str], x: np.ndarray, target: np.ndarray, symbols, dim: int) -> Expr | None:
    """An integer affine map (with tables of the ``symbols``, ``_tabled``) that fits every row exactly; where
    the traced coordinates obey a linear relation (after one step a unit may be a function of others),
    least squares spreads the map over the related ones in fractions, so maps that leave out some of the
    first ``dim`` columns (the state's) are tried too, fewest left out first. None when none fits."""
    import itertools

    fit = _integer_in_nullspace(x, target)
    if fit is not None:
        return affine_expr(names, *fit)
    for k in range(dim + 1):
        for dropped in itertools.combinations(range(dim), k):
            keep = [j for j in range(x.shape[1]) if j not in dropped]
            sub = [names[j] for j in keep]
            fit = affine_map(x[:, keep], target, MAX_COEF)
            if fit is not None:
                return affine_expr(sub, *fit)
            e = _tabled(sub, x[:, keep], target, [keep.index(j) for j in symbols if j in keep], outliers=0.0)
            if e is not None:
                return e
    return None


def write(task, lat: Lattice, table, budget: Budget, seed: int) -> tuple[Program | None, list[str], list[str]]:
    """The loop program: (program, its state variables, reasons)."""
    sig = signature(task)
    taken = set(sig.params)
    elems = [fresh(_singular(s), taken) for s in sig.sequences]
    state = [fresh("s" if lat.dim == 1 else f"s{i}", taken) for i in range(lat.dim)]
    keys, nxt, states, outs, starts, _ = table
    leaves = state + elems + list(sig.scalars)
    why: list[str] = []
    guess = tuple(int(q) for q in (lat.initial or (0,) * lat.dim))
    through = _through_start(leaves, keys, nxt, starts, guess, lat.dim)
    updates = through or []
    for i in range(lat.dim if through is None else 0):
        e = _expression(leaves, keys, nxt[:, i], task.operators, budget, seed, why, range(lat.dim, len(leaves)))
        if e is None:
            return None, state, [f"no expression for state coordinate {i}'s update was found"] + why[:1]
        updates.append(e)
    results = []
    for j in range(outs.shape[1]):
        e = _expression(state, states, outs[:, j], task.operators, budget, seed, why)
        if e is None:
            return None, state, [f"no expression for output {j} over the integer state was found"] + why[:1]
        results.append(e)
    out = results[0] if len(results) == 1 else Tuple(tuple(results))
    update = updates[0] if len(updates) == 1 else Tuple(tuple(updates))
    first = guess if through is not None else start_values(updates, state, elems + list(sig.scalars), starts, states,
                                                            guess)
    if first is None:
        return None, state, ["no integer start state takes the update to the network's states after the first "
                             "step"]
    start = Const(first[0]) if lat.dim == 1 else Tuple(tuple(Const(q) for q in first))
    body = [Assign(tuple(state), update)]
    tail = []
    if sig.kind == "scan":
        body.append(Yield(out))
    else:
        tail.append(Return(out))
    program = Program(sig.name, sig.params, (Assign(tuple(state), start), For(tuple(elems), sig.sequences, tuple(body)),
                                             *tail))
    return program, state, []


def start_values(updates, state: list[str], names: list[str], starts, states: np.ndarray,
                 guess: tuple[int, ...], reach: int = 3, most: int = 4096) -> tuple[int, ...] | None:
    """The start's integer coordinates: the nearest to ``guess`` (what the network says at its start state)
    from which the written update takes every traced first symbol to the state the network reached, among
    the coordinates' traced range widened by ``reach``; None when none does."""
    from programs.interpreter import compile_expr

    symbols, after = starts
    if not len(after):
        return tuple(int(q) for q in guess)
    fs = [compile_expr(u, SCALAR) for u in updates]
    lo, hi = states.min(axis=0) - reach, states.max(axis=0) + reach
    axes = [sorted(range(int(a), int(b) + 1), key=lambda v, g=g: (abs(v - g), v)) for a, b, g in zip(lo, hi, guess)]
    rows = [dict(zip(names, (int(v) for v in sym))) for sym in symbols]
    import itertools

    for tried, cand in enumerate(itertools.product(*axes)):
        if tried >= most:
            break
        env0 = dict(zip(state, cand))
        if all(tuple(int(f({**env0, **row})) for f in fs) == tuple(int(q) for q in nxt)
               for row, nxt in zip(rows, after)):
            return tuple(int(q) for q in cand)
    return None


def run_program(tr: StateTrace, mach: Machine, state: list[str]) -> np.ndarray:
    """The program's state coordinates after every traced step (``[n, T, r]``)."""
    n, t = tr.lengths.size, tr.states.shape[1]
    z = np.zeros((n, t, len(state)), dtype=np.int64)
    scal = [s for s in mach.program.scalars if s not in mach.program.shape.unused]
    for r in range(n):
        env = mach.start({s: int(tr.inputs[s][r]) for s in scal})
        for i in range(int(tr.lengths[r])):
            env, _ = mach.step(env, tuple(int(tr.inputs[s][r, i]) for s in mach.iters))
            z[r, i] = [int(env[v]) for v in state]
    return z


def spliced(trained, tr: StateTrace, lat: Lattice, z: np.ndarray) -> float:
    """F3: the program's states, as their lattice points (the mean traced state where the network visited
    that point), read out by the network's own readout in place of the cell; the share of inputs whose
    outputs do not change."""
    keys, inv = np.unique(lat.coords[tr.valid], axis=0, return_inverse=True)
    sums = np.zeros((keys.shape[0], tr.states.shape[-1]))
    np.add.at(sums, inv.reshape(-1), tr.states[tr.valid])
    means = {tuple(k): s / c for k, s, c in zip(keys, sums, np.bincount(inv.reshape(-1)))}
    vectors = np.zeros_like(tr.states)
    for (r, i) in zip(*np.nonzero(tr.valid)):
        key = tuple(z[r, i])
        vectors[r, i] = means[key] if key in means else lat.embed(z[r, i])
    return unchanged(trained, tr, vectors)


def interchange(trained, tr: StateTrace, mach: Machine, state: list[str], rng, pairs: int) -> float | None:
    """F2 on the whole state: the network's cell output at a base step set to a source's state; the
    program's coordinates set to the source's; outputs from there on must agree. Pairs are drawn among
    steps whose program states differ and rows with the same scalar inputs, the source's step one from which
    the base's rest stays within the domain's lengths (beyond them the network was never trained)."""
    z = run_program(tr, mach, state)
    longest = int(tr.lengths.max())
    rows = np.nonzero(tr.lengths >= 1)[0]
    if rows.size < 2:
        return None
    scal = [n for n in tr.inputs if tr.inputs[n].ndim == 1]
    key = np.stack([tr.inputs[n] for n in scal], axis=1) if scal else np.zeros((tr.lengths.size, 0), dtype=np.int64)
    hits = total = 0
    for _ in range(pairs * 4):
        if total >= pairs:
            break
        b = int(rng.choice(rows))
        same = rows[(key[rows] == key[b]).all(axis=1)]
        s = int(rng.choice(same))
        i = int(rng.integers(tr.lengths[b]))
        j = int(rng.integers(min(int(tr.lengths[s]), longest - int(tr.lengths[b]) + i + 1)))
        if np.array_equal(z[b, i], z[s, j]):
            continue
        ok = interchange_holds(trained, tr, mach, b, i, tr.states[s, j], {v: int(q) for v, q in zip(state, z[s, j])})
        hits += ok
        total += 1
    return hits / total if total else None


def alignments(trained, tr: StateTrace, mach: Machine, state: list[str], seed: int, budget: Budget):
    """F2-D per state coordinate (one learned direction each: an integer coordinate is one axis of the
    lattice), with its controls on the untrained network (same search, same seed)."""
    from ..alignment import initial_network

    found = {}
    for v in state:
        _, pairs = state_pairs(tr, mach, v, trained.problem.kind, np.random.default_rng(seed))
        found[v] = distributed_state(trained, tr, pairs, k=1, rng=np.random.default_rng(seed), budget=budget)
    scores = {"untrained": None, "rewritten": None}
    details: dict = {"rewritten": "an integer state is not rewritten (its code is the lattice, not a numbering)"}
    start = initial_network(trained)
    if start is None:
        details["untrained"] = "the network's record does not say how it was initialised"
    else:
        utr = StateTrace(start)
        per = {}
        for v in state:
            _, pairs = state_pairs(utr, mach, v, trained.problem.kind, np.random.default_rng(seed))
            per[v] = distributed_state(start, utr, pairs, k=1, rng=np.random.default_rng(seed), budget=budget)
        accs = [a.accuracy for a in per.values()]
        scores["untrained"] = None if any(a is None for a in accs) else min(accs)
        details["untrained"] = {v: dataclasses.asdict(a) for v, a in per.items()}
    accs = [a.accuracy for a in found.values()]
    best = None if any(a is None for a in accs) else min(accs)
    return best, {v: dataclasses.asdict(a) for v, a in found.items()}, scores, details


@extractor("integer", applies=recurrent_only)
def integer(max_dim: int = MAX_DIM, pairs: int = 300):
    """Read the recurrent state as integer coordinates of a lattice and synthesize its update and output."""

    def run(trained, budget: Budget, rng: np.random.Generator) -> Reading:
        task = trained.problem
        tr = StateTrace(trained, cap=MAX_STATES_TRACED)
        lat, why = lattice_of(tr, max_dim, trained)
        if lat is None:
            return Reading(None, (why,), status="abstained")
        details = {"dimensions": lat.dim, "coordinates": lat.how, "residual": lat.residual, "outliers": lat.outliers,
                   "range": [[int(lat.coords[..., i][tr.valid].min()), int(lat.coords[..., i][tr.valid].max())]
                             for i in range(lat.dim)]}
        table, why = tables(tr, lat)
        if table is None:
            return Reading(None, (why,), status="abstained", details=details)
        program, state, reasons = write(task, lat, table, budget, int(rng.integers(2**31)))
        reasons = list(table[-1]) + list(reasons)
        if program is None:
            return Reading(None, tuple(reasons), status="timeout" if budget.expired else "abstained", details=details)
        mach = Machine(program, SCALAR)
        z = run_program(tr, mach, state)
        inter = interchange(trained, tr, mach, state, rng, pairs)
        splice = spliced(trained, tr, lat, z)
        clock = time.perf_counter()
        best, per, scores, control_details = alignments(trained, tr, mach, state, int(rng.integers(2**31)), budget)
        details.update({"program": to_source(program), "interchange_pairs": pairs, "interchange_distributed": per,
                        "controls": control_details, "alignment_seconds": time.perf_counter() - clock})
        return Reading(program, tuple(reasons), inter, splice, details=details, interchange_distributed=best,
                       controls=scores)

    return run
