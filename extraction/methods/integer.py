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
finds over the traced table, else ``piecewise_affine``: affine or reset) → a loop program with one integer
variable per coordinate → checks in context: interchange (unit level: the network's whole state set to the
source's; distributed, per coordinate: ``coordinate_interchange``, the coordinate moved inside its own
subspace, with its control on the untrained network) and a splice of the program's states, mapped back
onto the lattice, in place of the cell. Where no lattice is found in the states, the coordinates are read
from what the network says (``behaviour``: its answers now, after each common letter, and the letters it
takes to change them; the steps read and the last letter), the smallest set that is a state. Where the
coordinates found give no program that gives the network's traced answers (on all but ``OUTLIERS`` of them),
the whitened states are read again, before ``behaviour`` (``other_lattices``, each within
``OTHER_SHARE`` of the budget left): with the start among the lattice's points (a start off the lattice of the
states the inputs reach, or off their span: a unit -1 on every state reached and 0 at the start), and at finer
tolerances where an axis dropped as noise holds states a lattice step away from the kept ones.

Why it is sound. Whitening and the lattice basis are changes of coordinates of the states the network
visits; nothing is fitted to the task's answers. The tables are read from the network (its states and
its outputs); a table that is not a function on all but ``OUTLIERS`` (0.5%) of the traced steps is an
abstention, and the rest is settled by majority (a network's rare wrong answers, which the agreement on
the domain then reports): a network whose states are not an integer state is not read here (``fsm`` or
``lstar`` may read it as a finite machine). Exactness on the domain is the comparator's verdict, as for every reader.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import time
from fractions import Fraction

import numpy as np
import torch

from programs.ast import Assign, Binary, Const, Expr, For, Return, Tuple, Var, Yield
from programs.budget import Budget
from programs.domains import Int
from programs.interpreter import Machine
from programs.printer import to_source
from programs.program import Program
from programs.semantics import SCALAR

from ..machine import _singular, fresh
from ..registry import Reading, extractor
from .fsm import (StateInterchanges, StateTrace, interchanges_hold, program_rest, program_states, recurrent_only,
                  signature, state_pairs, unchanged)
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
ONE_WRONG_START = 8  # first steps traced, at least, for the start to be chosen though one of them misses
OTHER_SHARE = 0.25  # of the reading's budget left, what each further lattice (``other_lattices``) is read within
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
    once: np.ndarray | None = None  # [n, T]: the states the tables count (``first_of_prefix``; None: every row)

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
                    max_denominator: int = MAX_DENOMINATOR, outliers: float = 0.02,
                    fine: bool = False) -> tuple[np.ndarray | None, str | None]:
    """A basis ``B`` ([r, r], columns the basis vectors) of a lattice holding every row of ``y`` ([N, r],
    the origin among them) within ``tol`` of its points (in units of the lattice), or (None, why).

    The first basis is the shortest independent vectors among the rows and their ``steps`` (differences
    between consecutive states: the shortest lattice vectors a sequence takes): a vector is independent of
    those chosen when its rank is above 1e-3 of its length, or with ``fine`` when its distance from their span is
    above ``tol / 2`` of the shortest (a thin axis, one lattice step wide, beside a wide one). Where some vector has a
    fractional coordinate in it, the lattice is refined: the coordinates, as fractions of denominator at
    most ``max_denominator``, generate with the unit vectors a finer integer lattice, whose Hermite normal
    form is the new basis. A share ``outliers`` of the (distinct) vectors may stay off the lattice (a
    regressing network's states near a rounding edge). The basis is then LLL-reduced (short, nearly
    orthogonal vectors)."""
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
        if fine and basis:  # its distance from the basis's span, against the shortest vector
            b0 = trial[:, :-1]
            independent = np.linalg.norm(v - b0 @ np.linalg.lstsq(b0, v, rcond=None)[0]) > tol / 2 * np.linalg.norm(basis[0])
        else:
            independent = np.linalg.matrix_rank(trial, tol=1e-3 * np.linalg.norm(v)) == len(basis) + 1
        if independent:
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
        b = refined(b, max(patterns, key=lambda k: (patterns[k], [-f.denominator for f in k])))
        if b is None:
            return None, "the refined lattice is degenerate"
    return None, ("the lattice refinement did not converge in so many steps: the states are not on an integer "
                  "lattice")


def refined(b: np.ndarray, fractions) -> np.ndarray | None:
    """The basis of the lattice generated by ``b``'s and the point of coordinates ``fractions`` (Fractions) in
    it: the coordinates with the unit vectors generate a finer integer lattice, whose Hermite normal form is
    the new basis (None when degenerate)."""
    from sympy import Matrix
    from sympy.matrices.normalforms import hermite_normal_form

    r = b.shape[1]
    den = math.lcm(*(f.denominator for f in fractions))
    cols = [[den if i == j else 0 for j in range(r)] for i in range(r)] + [[int(f * den) for f in fractions]]
    h = hermite_normal_form(Matrix(cols).T)  # columns: a basis of the lattice they generate
    if h.shape != (r, r):
        return None
    return b @ np.array(h.tolist(), dtype=np.float64) / den


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


def lattices(tr: StateTrace, max_dim: int = MAX_DIM, trained=None, budget: Budget | None = None):
    """The traced states' integer coordinates (``Lattice``s) to read, in turn, as (lattice, None), or one
    (None, why) when none is found: the first way that finds them — the whitened states on a lattice
    (``_whitened``), else the observable directions of a recurrence linear on its steps (``observable_axes``)
    — then the whitened states again where that one reads no program (``other_lattices``: the start held, thin
    axes kept), and last what the network says from each state (``behaviour``: the set of its columns
    ``sufficient`` finds first, then the one with the fewest answers read ahead where that is another), its
    traced states counted once per row through them, then once each (``once``). The caller stops at the first
    lattice whose program the network agrees with, so the behaviour is read only where no lattice of the states
    gave one: the states of an exact width-2 running maximum lie on a lattice (the maximum before the step and
    how far the new value exceeds it) whose update ``max(x - s0 - s1, 0)`` the expression search does not reach
    in its work limit, while its answers give the maximum itself, ``max(s, x)``."""
    first, why = _whitened(tr, max_dim)
    reasons = [why]
    if first is None and trained is not None:
        obs, other = observable_axes(trained, tr, max_dim)
        if obs is not None:
            first, other = _observed(tr, obs * trained.model.readout.scale, max_dim)
        if first is None:
            reasons.append(other)
    found_any = first is not None
    if first is not None:
        yield first, None
    for lat in other_lattices(tr, first, max_dim):
        found_any = True
        yield lat, None
    if trained is not None:  # reached only where no lattice before read a program the net agrees with
        columns = None  # what the network says from each state, probed once for every reading of it
        for once in (False, True):  # then each traced state counted once: one wrong answer at a short prefix
            if budget is not None and budget.expired:
                break
            columns = columns or probe(trained, tr, max_dim)
            found, third = behaviour(trained, tr, max_dim, budget, once=once, columns=columns)
            if found is not None:
                found_any = True
                yield found, None
                # the coordinates with the fewest answers read ahead, where they are others
                other, _ = behaviour(trained, tr, max_dim, budget, once=once, lookahead_last=True, columns=columns)
                if other is not None and not np.array_equal(other.coords, found.coords):
                    yield other, None
            elif not once:
                reasons.append(third)
    if not found_any:
        yield None, "; ".join(r for r in reasons if r)


def _whitened(tr: StateTrace, max_dim: int, rank_tol: float = RANK_TOL,
              hold_start: bool = False) -> tuple[Lattice | None, str | None]:
    """The states less the start in their principal axes (those above ``rank_tol`` of the largest spread), on a
    lattice (``integer_lattice``), the start at the origin (up to its rounding), each axis oriented so its
    coordinates are mostly non-negative. With ``hold_start`` the start is one of the lattice's points: its
    difference from the states spans an axis where theirs do not (a unit that is -1 on every state the inputs
    reach and 0 at the start), and the lattice is refined, where it must be, to hold it (a fraction of
    denominator at most ``MAX_DENOMINATOR`` of the states' lattice: a unit odd on every state reached, 0 at the
    start)."""
    pts = tr.states[tr.valid]
    y, axes, why = whiten(pts, tr.h0, max_dim, rank_tol)
    if why is not None:
        return None, why
    n, t = tr.valid.shape
    idx = -np.ones(tr.valid.shape, dtype=np.int64)
    idx[tr.valid] = np.arange(pts.shape[0])
    prev = np.full(tr.valid.shape, -1, dtype=np.int64)
    prev[:, 1:] = idx[:, :-1]
    inner = prev[tr.valid] >= 0  # steps between traced states (the start need not be on their lattice)
    anchor = y[0]
    points = np.vstack([y - anchor, -anchor[None]]) if hold_start else y - anchor  # the start among the points
    b, why = integer_lattice(points, (y - y[np.maximum(prev[tr.valid], 0)])[inner],
                             fine=hold_start or rank_tol != RANK_TOL)
    if why is not None:
        return None, why
    z0 = np.linalg.solve(b, -anchor)  # the start state's coordinates
    if hold_start and np.abs(z0 - np.rint(z0)).max() > TOL / 2:
        fr = [Fraction(float(v)).limit_denominator(MAX_DENOMINATOR) for v in z0]
        if any(abs(float(f) - v) > TOL / 2 for f, v in zip(fr, z0)):
            return None, f"the start is on no lattice of denominator <= {MAX_DENOMINATOR} holding the states"
        b = refined(b, [f - math.floor(f) for f in fr])
        if b is None:
            return None, "the lattice holding the start too is degenerate"
        b = _lll(b)
        z0 = np.linalg.solve(b, -anchor)
    z = np.linalg.solve(b, (y - anchor).T).T
    off = np.abs(z - np.rint(z)).max(axis=1)
    outliers = float((off > TOL).mean())
    if outliers > OUTLIERS:
        return None, (f"{outliers:.1%} of the states are more than {TOL} of a lattice step from the nearest lattice "
                      f"point (at most {OUTLIERS:.1%} may be)")
    zi = np.rint(z).astype(np.int64)
    start = np.rint(z0).astype(np.int64)
    zi -= start
    flip = np.where((zi < 0).sum(0) > (zi > 0).sum(0), -1, 1)
    zi = zi * flip
    coords = np.zeros((n, t, b.shape[1]), dtype=np.int64)
    coords[tr.valid] = zi
    to_z = flip[:, None] * np.linalg.solve(b, axes.T)  # [r, h]
    offset = flip * (z0 - start)  # z = to_z @ (h - h0) + offset: 0 at the start, up to its rounding
    return Lattice(tr.h0.copy(), to_z, offset, coords, float(off.max(initial=0.0)), outliers), None


def other_lattices(tr: StateTrace, lat: Lattice | None, max_dim: int):
    """Whitened lattices to read when ``lat`` (what ``lattices`` found first, if anything) gave no program, in turn:
    the lattice holding the start (``_whitened``'s ``hold_start``), where the start is off ``lat`` or ``lat`` is not
    the whitened one; the states whitened at finer tolerances, without and with the start held, where the axes
    dropped as noise are not (an integer axis of small spread beside a wide one: a scalar input beside a running
    sum over 0..114), i.e. ``lat`` is not the whitened one or more than ``OUTLIERS`` of the states lie farther than
    ``TOL`` of its shortest step from its axes."""
    whitened = lat is not None and lat.how == "whitened"
    off_start = not whitened or bool(np.abs(lat.offset).max(initial=0.0) > TOL / 2)
    if off_start:
        found, _ = _whitened(tr, max_dim, hold_start=True)
        if found is not None:
            yield found
    d = tr.states[tr.valid] - tr.h0
    dim = 0
    if whitened:
        step = float(np.linalg.norm(np.linalg.pinv(lat.to_z), axis=0).min())  # the lattice's shortest basis vector
        kept = np.linalg.pinv(lat.to_z) @ lat.to_z  # projection onto the kept axes
        if (np.linalg.norm(d - d @ kept.T, axis=1) > TOL * step).mean() <= OUTLIERS:
            return
        dim = lat.dim
    sv = np.linalg.svd(d, compute_uv=False)
    if sv.size == 0 or sv[0] <= 0:
        return
    kept_at = int((sv > RANK_TOL * sv[0]).sum())
    for tol in sorted({float(v / sv[0]) / 2 for v in sv[max(dim, kept_at):max_dim] if v > 1e-9 * sv[0]}, reverse=True):
        for hold in ((False, True) if off_start else (False,)):
            found, _ = _whitened(tr, max_dim, tol, hold_start=hold)
            if found is not None:
                yield found


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


def behaviour(trained, tr: StateTrace, max_dim: int = MAX_DIM, budget: Budget | None = None,
              once: bool = False, lookahead_last: bool = False, columns=None) -> tuple[Lattice | None, str | None]:
    """Integer coordinates read from what the network says from each state (``probe``): its output there, after
    reading each of the commonest letters once, twice, ... (up to a horizon), and how many of a letter it takes
    before the output changes (a depth, a count to a threshold); beside them two coordinates of the input's
    history, the steps read so far and the last letter (a position, a delay), which a state may need that no
    answer shows yet. These are integers by construction (the network's answers), the observable coordinates
    of a network that is not linear (MIPS reads the Krylov basis of a linear one). The state is the smallest
    set of them (``sufficient``) that determines every answer probed (with the scalar inputs) and its own next
    value; where an integer combination of it (and the outputs) is one coordinate with an affine update, that
    one (``compress``). The start's own are the program's start values. With ``once`` each traced state counts
    once (``first_of_prefix``), here and in the tables read on the lattice (``Lattice.once``); ``lookahead_last``
    orders the candidate sets as ``sufficient`` says; ``columns``: ``probe``'s result where the caller has it."""
    v, ahead, probed, depth, why = columns if columns is not None else probe(trained, tr, max_dim)
    if why is not None:
        return None, why
    rows = np.concatenate([[0], np.nonzero(tr.valid)[0]])
    scal = np.stack([tr.inputs[n][rows] for n in tr.inputs if tr.inputs[n].ndim == 1], axis=1) \
        if any(tr.inputs[n].ndim == 1 for n in tr.inputs) else np.zeros((rows.size, 0), dtype=np.int64)
    n, t = tr.valid.shape
    idx = np.zeros((n, t), dtype=np.int64)
    idx[tr.valid] = np.arange(1, int(tr.valid.sum()) + 1)
    prev = np.zeros_like(idx)
    prev[:, 1:] = idx[:, :-1]
    step_rows = tr.valid & (prev > 0)  # steps between traced states (the start kept apart, as ``tables`` does)
    steps = (prev[step_rows], idx[step_rows], tr.symbols[step_rows])
    mask = first_of_prefix(tr) if once else None
    rows_once = np.concatenate([[True], mask[tr.valid]]) if once else None
    chosen, why = sufficient(v, ahead, probed, depth, scal, steps, int(tr.lengths.max()), max_dim, budget, rows_once,
                             lookahead_last)
    if chosen is None:
        return None, why
    reach = max(ahead[j] for j in chosen)
    z = v[:, chosen]
    z = compress(v, chosen, ahead, probed, depth, steps, int(tr.lengths.max())) if len(chosen) > 1 else z
    coords = np.zeros((n, t, z.shape[1]), dtype=np.int64)
    coords[tr.valid] = z[1:]
    # a state whose continuation leaves the domain (longer than its longest sequence) was read where the
    # network was never trained: its coordinates are not used to write the program
    known = (np.arange(t)[None, :] + 1 + reach <= int(tr.lengths.max())) & tr.valid
    # a linear probe of the coordinates in the hidden states, for states the splice needs and no trace saw
    states = np.vstack([tr.h0[None, :], tr.states[tr.valid]])
    x = np.hstack([states - tr.h0, np.ones((states.shape[0], 1))])
    k, *_ = np.linalg.lstsq(x, z.astype(np.float64), rcond=None)
    return Lattice(tr.h0.copy(), k[:-1].T, k[-1], coords, 0.0, 0.0, tuple(int(q) for q in z[0]),
                   how="behaviour", known=known, once=mask), None


MAX_LETTERS = 6  # the commonest letters probed
MAX_COLUMNS = 20  # columns a state is chosen among (the probes of least reach first)


def probe(trained, tr: StateTrace, max_dim: int = MAX_DIM):
    """(``v`` ``[1 + N, C]``: per state, the start first, integer columns; ``ahead``: how many letters past the
    state each column reads; ``probed``: whether the column is an answer of the network (else a coordinate of
    the input's history); ``depth``: letters read to reach each state; None) or (…, why). Columns: the
    output now; after ``k`` of each of the commonest letters (``k`` up to a horizon of ``2 * max_dim`` that
    stays inside the domain's lengths for at least half of them); the first ``k`` within the horizon at which
    the output differs from now (0: never); the steps read; the last letter of each sequence (-1 at the
    start). Each state's own scalar inputs are kept."""
    from .fsm import _values

    model, enc = trained.model, trained.encoding
    seqs = trained.problem.sequences
    longest = int(tr.lengths.max())
    horizon = max(1, min(2 * max_dim, longest // 2))
    letters = tr.symbols[tr.valid][:, :len(seqs)]
    kinds, counts = np.unique(letters, axis=0, return_counts=True)
    letters = kinds[np.argsort(-counts, kind="stable")[:MAX_LETTERS]]
    rows = np.concatenate([[0], np.nonzero(tr.valid)[0]])
    states = np.vstack([tr.h0[None, :], tr.states[tr.valid]])
    depth = np.concatenate([[0], np.nonzero(tr.valid)[1] + 1])
    scal = {name: v[rows] for name, v in tr.inputs.items() if v.ndim == 1}
    start = torch.as_tensor(states, dtype=torch.float32)
    cols, ahead, probed = [], [], []
    with torch.no_grad():
        now = _values(enc, model.readout(start))
        for a in range(now.shape[1]):
            cols.append(now[:, a]), ahead.append(0), probed.append(True)
        changes = []
        for letter in letters:
            inputs = {name: np.full((states.shape[0], horizon), letter[i]) for i, name in enumerate(seqs)}
            inputs.update(scal)
            hs = model.states(enc.batch(inputs, np.full(states.shape[0], horizon)), start)
            outs = _values(enc, model.readout(hs))  # [N, horizon, arity]
            for k in range(horizon):
                for a in range(outs.shape[2]):
                    cols.append(outs[:, k, a]), ahead.append(k + 1), probed.append(True)
            differs = (outs != now[:, None, :]).any(axis=2)
            changes.append(np.where(differs.any(axis=1), differs.argmax(axis=1) + 1, 0))
    # a count to a change is trusted only where the change can come within the horizon: a state no deeper than
    # it (a counter moves at most one step per letter), so ``ahead`` keeps the others from the tables
    for c in changes:
        cols.append(c), ahead.append(max(horizon, longest - horizon + 1)), probed.append(True)
    for c in changing_letters(trained, states, scal, now):
        cols.append(c), ahead.append(1), probed.append(True)
    cols.append(depth), ahead.append(0), probed.append(False)
    for i in range(len(seqs)):
        last = np.concatenate([[-1], tr.symbols[tr.valid][:, i]])
        cols.append(last), ahead.append(0), probed.append(False)
    v = np.stack(cols, axis=1).astype(np.int64)
    if not any(len(np.unique(v[1:, j])) > 1 for j in range(v.shape[1]) if probed[j]):
        return v, ahead, probed, depth, "nothing the network says from its states varies"
    return v, ahead, probed, depth, None


MAX_ALPHABET_PROBED = 16  # a sequence's letters are each read once from every state up to this alphabet


def changing_letters(trained, states: np.ndarray, scal: dict[str, np.ndarray], now: np.ndarray) -> list[np.ndarray]:
    """Two columns for a network over one sequence of at most ``MAX_ALPHABET_PROBED`` integer letters: from each
    state, the lowest and the highest letter whose reading changes the output (``hi`` and ``lo - 1`` where none
    does). A value the state holds that no answer shows yet is shown by where reading one more letter starts to
    matter: after argmax's state (position of the largest so far, its value ``m``), a letter changes the answer
    exactly when it exceeds ``m``, so the lowest such letter is ``m + 1`` (argmin: the highest is ``m - 1``), and the
    update is a comparison of the letter with that coordinate (``t if x >= s else i``)."""
    from .fsm import _values

    seqs = trained.problem.sequences
    if len(seqs) != 1:
        return []
    element = trained.problem.inputs[seqs[0]].element
    if not isinstance(element, Int) or element.size > MAX_ALPHABET_PROBED:
        return []
    model, enc = trained.model, trained.encoding
    n = states.shape[0]
    start = torch.as_tensor(states, dtype=torch.float32)
    values = np.arange(element.lo, element.lo + element.size)
    lowest = np.full(n, element.lo + element.size, dtype=np.int64)
    highest = np.full(n, element.lo - 1, dtype=np.int64)
    with torch.no_grad():
        for v in values:
            inputs = {seqs[0]: np.full((n, 1), v), **scal}
            out = _values(enc, model.readout(model.states(enc.batch(inputs, np.ones(n, dtype=np.int64)), start)))
            changed = (out[:, 0, :] != now).any(axis=1)
            lowest = np.where(changed & (lowest > v), v, lowest)
            highest = np.where(changed, v, highest)
    return [lowest, highest]


def _disagreeing(groups: np.ndarray, values: np.ndarray) -> int:
    """How many rows disagree with the most common value of their group (``groups``, ``values``: int arrays)."""
    if groups.size == 0:
        return 0
    span = int(values.max() - values.min()) + 1
    codes, counts = np.unique(groups.astype(np.int64) * span + (values - values.min()), return_counts=True)
    owner = codes // span
    starts = np.concatenate([[0], np.nonzero(np.diff(owner))[0] + 1])
    return int(groups.size - np.maximum.reduceat(counts, starts).sum())


def _groups(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 0:
        return np.zeros(x.shape[0], dtype=np.int64)
    return np.unique(x, axis=0, return_inverse=True)[1].reshape(-1)


def sufficient(v: np.ndarray, ahead: list[int], probed: list[bool], depth: np.ndarray, scal: np.ndarray, steps,
               longest: int, max_dim: int = MAX_DIM, budget: Budget | None = None,
               once: np.ndarray | None = None, lookahead_last: bool = False) -> tuple[list[int] | None, str | None]:
    """The first set of at most ``max_dim`` columns of ``v`` (fewest columns, then fewest of the input's history,
    then least reach) that is a state: on the states whose reads stay inside the domain's lengths, every probed
    column is a function of it and the scalar inputs (the outputs now of it alone), and its value after each
    traced step a function of its value before and the letters read; all but ``OUTLIERS`` of the rows (a
    network's rare wrong answers); with ``once``, a mask of the rows, only those rows and the steps into them
    count, and one wrong state per column is allowed however few its rows. With ``lookahead_last`` the sets with
    fewest columns read ahead of the state come first (then fewest of the history): argmin's (the answer, the
    highest letter that changes it, the steps read), whose updates are comparisons of the letter, where the first
    order takes the answer after one more letter, whose update no expression search reaches. (None, why) when no
    set is, or when ``budget`` runs out first."""
    allowed = 0.0 if once is None else 1.0  # counting each state once, one wrong answer may be a network's
    once = np.ones(v.shape[0], dtype=bool) if once is None else once

    outputs = [j for j in range(v.shape[1]) if ahead[j] == 0 and probed[j]]
    # columns equal to an earlier one on every state say nothing new
    keep: list[int] = []
    seen: set[bytes] = set()
    for j in sorted(range(v.shape[1]), key=lambda j: (j not in outputs, not probed[j], ahead[j], j)):
        key = np.unique(v[1:, j], return_inverse=True)[1].reshape(-1).astype(np.int64).tobytes()
        if key not in seen and len(np.unique(v[1:, j])) > 1:
            seen.add(key)
            keep.append(j)
    keep = keep[:MAX_COLUMNS]
    prev, nxt, symbols = steps
    subsets = [c for r in range(1, max_dim + 1) for c in itertools.combinations(keep, r)]
    if lookahead_last:  # fewest answers read ahead of the state, then fewest of the history
        subsets.sort(key=lambda c: (len(c), sum(ahead[j] > 0 for j in c), sum(not probed[j] for j in c),
                                    max(ahead[j] for j in c), c))
    else:
        subsets.sort(key=lambda c: (len(c), sum(not probed[j] for j in c), max(ahead[j] for j in c), c))
    closest = None
    for n, c in enumerate(subsets):
        if budget is not None and n % 16 == 0 and budget.expired:
            return None, f"the budget ran out after {n} of {len(subsets)} candidate states"
        cols = list(c)
        reach = max(ahead[j] for j in cols)
        inside = (depth >= 1) & (depth + reach <= longest)
        ok_step = inside[prev] & inside[nxt] & once[nxt]
        if ok_step.sum() < 2:
            continue
        key = _groups(np.concatenate([v[prev[ok_step]][:, cols], symbols[ok_step]], axis=1))
        bad = sum(_disagreeing(key, v[nxt[ok_step], j]) for j in cols)
        if bad > OUTLIERS * ok_step.sum():
            closest = closest or (c, f"{bad} of {int(ok_step.sum())} steps' successors disagree")
            continue
        alone = _groups(v[:, cols])
        withscal = _groups(np.concatenate([v[:, cols], scal], axis=1))
        fails = None
        for j in outputs + [j for j in range(v.shape[1]) if probed[j] and j not in outputs]:
            rows = (depth >= 1) & (depth + max(reach, ahead[j]) <= longest) & once
            if not rows.any():
                continue
            g = alone if j in outputs else withscal
            wrong = _disagreeing(g[rows], v[rows, j])
            if wrong > max(allowed, OUTLIERS * rows.sum()):
                fails = f"{wrong} of {int(rows.sum())} states' answers are not a function of it"
                break
        if fails is None:
            return cols, None
    return None, (f"no {max_dim} or fewer of the network's answers from its states and of the input's history (steps "
                  "read, last letter) are a state whose update is a function and that determines the answers"
                  + (f" (closest: {closest[1]})" if closest else ""))


def compress(v: np.ndarray, chosen: list[int], ahead: list[int], probed: list[bool], depth: np.ndarray, steps,
             longest: int, span: int = 2) -> np.ndarray:
    """One integer combination (coefficients up to ``span``) of the chosen columns and the outputs now that
    separates the states they separate, with an integer affine update on the traced steps: that one column
    (the fewest coefficients, then the smallest); else the chosen columns as they are. A depth that the
    outputs show only as a threshold and the probes as "how far to the threshold" is one counter."""

    outputs = [j for j in range(v.shape[1]) if ahead[j] == 0 and probed[j] and j not in chosen]
    cols = chosen + outputs
    x = v[:, cols]
    reach = max(ahead[j] for j in chosen)
    inside = (depth >= 1) & (depth + reach <= longest)
    prev, nxt, symbols = steps
    ok = inside[prev] & inside[nxt]
    distinct = np.unique(v[inside][:, chosen], axis=0).shape[0]
    tries = sorted((w for w in itertools.product(range(-span, span + 1), repeat=len(cols))
                    if any(w) and next(q for q in w if q) > 0), key=lambda w: (sum(q != 0 for q in w), sum(map(abs, w)), w))
    for w in tries:
        z = x @ np.asarray(w, dtype=np.int64)
        if np.unique(np.stack([z[inside]], axis=1), axis=0).shape[0] != distinct or \
                np.unique(np.concatenate([v[inside][:, chosen], z[inside, None]], axis=1), axis=0).shape[0] != distinct:
            continue
        keys = np.concatenate([z[prev[ok], None], symbols[ok]], axis=1)
        if _mostly_affine(keys, z[nxt[ok]]) is not None:
            return z[:, None]
    return v[:, chosen]


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


def first_of_prefix(tr: StateTrace) -> np.ndarray:
    """``[n, T]``: True at the first traced state of each distinct prefix (its letters and scalar inputs so far).
    The trace holds a state once per sequence through it, so a short prefix is counted as often as the
    sequences that start with it; the tables and the state's checks count each state once, so that one wrong
    answer of the network at a short prefix is one outlier, not the hundreds of rows through it."""
    n, t = tr.valid.shape
    first = np.zeros((n, t), dtype=bool)
    node = np.zeros(n, dtype=np.int64)  # each row's prefix, numbered per position
    for p in range(t):
        rows = np.nonzero(tr.valid[:, p])[0]
        if not rows.size:
            break
        keys = np.concatenate([node[rows, None], tr.symbols[rows, p].reshape(rows.size, -1)], axis=1)
        _, at, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        first[rows[at], p] = True
        node[rows] = inv.reshape(-1)
    return first


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
    distinct = np.ones_like(known) if lat.once is None else lat.once
    steps = known & before & distinct  # both ends of the step read inside the domain (each once, with ``once``)
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
    uk, image, bad, kcount = _majority(keys, nxt)
    if bad > OUTLIERS * len(nxt):
        return None, (f"the update is not a function of the integer state and the symbol: {bad} of {len(nxt)} traced "
                      "steps disagree with the most common successor of their state and symbol")
    notes = [f"{bad} of {len(nxt)} traced steps disagree with the most common successor of their state and symbol "
             "(settled by majority)"] if bad else []
    states, outs = lat.coords[known & distinct], tr.outputs[known & distinct]
    us, o, wrong, scount = _majority(states, outs)
    if wrong > OUTLIERS * len(outs):
        return None, f"the output is not a function of the integer state: {wrong} of {len(outs)} traced states disagree"
    if wrong:
        notes.append(f"{wrong} of {len(outs)} traced states' outputs disagree with the most common at their "
                     "coordinates (settled by majority)")
    return (uk, image, us, o, starts, kcount, scount, notes), None


def _majority(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """(distinct keys, the most common value of each, how many rows disagree with theirs, rows per key)."""
    uk, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    pairs, counts = np.unique(np.concatenate([inv[:, None], values], axis=1), axis=0, return_counts=True)
    order = np.lexsort((-counts, pairs[:, 0]))
    top = np.unique(pairs[order, 0], return_index=True)[1]
    best = pairs[order][top]
    return uk, best[:, 1:], int(len(values) - counts[order][top].sum()), np.bincount(inv, minlength=len(uk))


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
                why: list[str], support: np.ndarray | None = None, symbols=()):
    """An integer affine map of the leaves where one fits exactly (plus tables of the ``symbols`` leaves'
    values, ``_tabled``), else the smallest expression found; where none fits every row, the same on the
    rows left when the rarest are set aside, as many as hold at most ``OUTLIERS`` of the traced steps
    (``support``: steps per row), whose majority may be a network's rare wrong answer (the agreement on the
    domain then reports it)."""
    found = _fit(names, x, target, operators, budget, seed, why, symbols)
    if found is not None or support is None or budget.expired:
        return found
    order = np.argsort(support, kind="stable")
    dropped = order[np.cumsum(support[order]) <= OUTLIERS * support.sum()]
    if dropped.size == 0:
        return None
    rest = np.setdiff1d(np.arange(len(target)), dropped)
    return _fit(names, x[rest], target[rest], operators, budget, seed, why, symbols)


def _fit(names: list[str], x: np.ndarray, target: np.ndarray, operators, budget: Budget, seed: int, why: list[str],
         symbols=()):
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
    found = fit_expression({n: x[:, i] for i, n in enumerate(names)}, target, operators=operators, constants=constants,
                           seconds=max(0.1, budget.left), seed=seed, max_candidates=SUB_SEARCH_CANDIDATES, why=why)
    return found if found is not None else piecewise_affine(names, x, target, operators, budget)


MAX_ATOMS = 160  # comparisons a piecewise map's condition is chosen among


def piecewise_affine(names: list[str], x: np.ndarray, target: np.ndarray, operators,
                     budget: Budget | None = None):
    """``a if c else b``: integer affine maps ``a`` and ``b`` of the leaves on the two sides of a condition
    ``c`` (a comparison of two leaves, or of a leaf and one of its values; then two such joined by ``and``),
    exact on every row: an update that is affine or reset, or switches on an event (a position set where a
    letter first appears). The condition with the fewest comparisons, then the maps with the fewest terms;
    None when none holds, or the operators have no ``if`` or comparison."""
    from programs.ast import IfExp

    ops = set(operators)
    if "if" not in ops or x.shape[0] < 2:
        return None
    x = np.asarray(x, dtype=np.int64)
    atoms: list[tuple[object, np.ndarray]] = []
    for i in range(x.shape[1]):
        for j in range(i + 1, x.shape[1]):
            for op in ("==", "<", ">"):
                if op in ops:
                    atoms.append((Binary(op, Var(names[i]), Var(names[j])), _compare(op, x[:, i], x[:, j])))
        vals = np.unique(x[:, i])
        if vals.size <= 12:
            for v in vals:
                for op in ("==", "<"):
                    if op in ops:
                        atoms.append((Binary(op, Var(names[i]), Const(int(v))), _compare(op, x[:, i], v)))
    atoms = [(e, m) for e, m in atoms if m.any() and not m.all()][:MAX_ATOMS]
    conds = list(atoms)
    if "and" in ops:
        conds += [(Binary("and", a, b), ma & mb) for k, (a, ma) in enumerate(atoms) for b, mb in atoms[k + 1:]
                  if (ma & mb).any() and not (ma & mb).all()]
    best = None
    for n, (cond, mask) in enumerate(conds):
        if budget is not None and n % 256 == 0 and budget.expired:
            break
        if best is not None and n >= len(atoms) and best[0] < 2 * len(names) + 2:
            break  # a single comparison held: a conjunction is not looked at
        then, orelse = _affine_on(x[mask], target[mask]), _affine_on(x[~mask], target[~mask])
        if then is None or orelse is None:
            continue
        cost = int((then[0] != 0).sum() + (orelse[0] != 0).sum() + (then[1] != 0) + (orelse[1] != 0)) + \
            (0 if n < len(atoms) else 2 * len(names) + 2)
        if best is None or cost < best[0]:
            best = (cost, IfExp(cond, affine_expr(names, *then), affine_expr(names, *orelse)))
    return None if best is None else best[1]


SMALL_MAP_LEAVES = 4  # up to this many leaves, a side too small to pin its map down tries small integer maps


def _affine_on(x: np.ndarray, y: np.ndarray):
    """``affine_map`` on the rows of one side of a condition, where leaves may be equal or constant (``x == t``
    on that side): fitted on each set of independent leaves in turn (the others' coefficients 0), the first
    with integer coefficients."""
    fit = affine_map(x, y, MAX_COEF)
    if fit is not None or x.shape[0] == 0:
        return fit

    run = (x - x[0]).astype(np.float64)
    rank = int(np.linalg.matrix_rank(run)) if run.size else 0
    for cols in itertools.combinations(range(x.shape[1]), rank):
        if np.linalg.matrix_rank(run[:, list(cols)]) < rank:
            continue
        fit = affine_map(x[:, list(cols)], y, MAX_COEF)
        if fit is not None:
            c = np.zeros(x.shape[1], dtype=np.int64)
            c[list(cols)] = fit[0]
            return c, fit[1]
    if x.shape[1] <= SMALL_MAP_LEAVES:
        # too few rows to pin a map down, and no independent leaves alone carry it: the smallest integer map
        # (coefficients -2..2, fewest and smallest first) that is exact on them
        grid = sorted(itertools.product(range(-2, 3), repeat=x.shape[1]), key=lambda c: (sum(map(abs, c)), c))
        for c in grid:
            c = np.asarray(c, dtype=np.int64)
            c0 = int(y[0]) - int(x[0] @ c)
            if np.array_equal(x @ c + c0, y):
                return c, c0
    return None


def _compare(op: str, a, b) -> np.ndarray:
    return a == b if op == "==" else a < b if op == "<" else a > b


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


def read_lattice(task, tr: StateTrace, lat: Lattice, budget: Budget, seed: int) -> tuple[Program | None, list[str], list[str]]:
    """The loop program on ``lat``'s coordinates (``tables``, then ``write``): (program or None, its state
    variables, reasons)."""
    table, why = tables(tr, lat)
    if table is None:
        return None, [], [why]
    program, state, reasons = write(task, lat, table, budget, seed)
    return program, state, list(table[-1]) + list(reasons)


def write(task, lat: Lattice, table, budget: Budget, seed: int) -> tuple[Program | None, list[str], list[str]]:
    """The loop program: (program, its state variables, reasons)."""
    sig = signature(task)
    taken = set(sig.params)
    elems = [fresh(_singular(s), taken) for s in sig.sequences]
    state = [fresh("s" if lat.dim == 1 else f"s{i}", taken) for i in range(lat.dim)]
    keys, nxt, states, outs, starts, kcount, scount, _ = table
    leaves = state + elems + list(sig.scalars)
    why: list[str] = []
    guess = tuple(int(q) for q in (lat.initial or (0,) * lat.dim))
    through = _through_start(leaves, keys, nxt, starts, guess, lat.dim)
    updates = through or []
    for i in range(lat.dim if through is None else 0):
        e = _expression(leaves, keys, nxt[:, i], task.operators, budget, seed, why, kcount, range(lat.dim, len(leaves)))
        if e is None:
            return None, state, [f"no expression for state coordinate {i}'s update was found"] + why[:1]
        updates.append(e)
    results = []
    for j in range(outs.shape[1]):
        e = _expression(state, states, outs[:, j], task.operators, budget, seed, why, scount)
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
    the coordinates' traced range widened by ``reach``; else, among at least ``ONE_WRONG_START`` first symbols,
    the nearest that misses one (a network's wrong answer after one letter: first_index answering -1 for
    ``xs=[3], t=3``, its state right); None when none does."""
    from programs.interpreter import compile_expr

    symbols, after = starts
    if not len(after):
        return tuple(int(q) for q in guess)
    fs = [compile_expr(u, SCALAR) for u in updates]
    lo, hi = states.min(axis=0) - reach, states.max(axis=0) + reach
    axes = [sorted(range(int(a), int(b) + 1), key=lambda v, g=g: (abs(v - g), v)) for a, b, g in zip(lo, hi, guess)]
    rows = [dict(zip(names, (int(v) for v in sym))) for sym in symbols]

    best = None  # (first steps missed, candidate): one missed of at least ``ONE_WRONG_START`` may be the network's
    for tried, cand in enumerate(itertools.product(*axes)):
        if tried >= most:
            break
        env0 = dict(zip(state, cand))
        missed = 0
        for row, nxt in zip(rows, after):
            if tuple(int(f({**env0, **row})) for f in fs) != tuple(int(q) for q in nxt):
                missed += 1
                if missed > 1 or best is not None or len(rows) < ONE_WRONG_START:
                    break
        if missed == 0:
            return tuple(int(q) for q in cand)
        if missed == 1 and len(rows) >= ONE_WRONG_START and best is None:
            best = tuple(int(q) for q in cand)
    return best


def traced_agreement(tr: StateTrace, run) -> float:
    """The share of the network's traced answers (every step of a scan, the last of a fold) that the program's run
    over the trace (``fsm.program_states``) gives."""
    net = tr.outputs.reshape(tr.outputs.shape[0], tr.outputs.shape[1], -1)
    if run.yields is not None:
        return float((run.yields == net).all(axis=2)[tr.valid].mean())
    last = net[np.arange(len(tr.lengths)), np.asarray(tr.lengths) - 1]
    return float((np.asarray(run.finals).reshape(last.shape) == last).all(axis=1).mean())


def run_program(tr: StateTrace, mach: Machine, state: list[str], run=None) -> np.ndarray:
    """The program's state coordinates after every traced step (``[n, T, r]``; 0 past a row's end), all rows at
    once by the vectorised interpreter (``fsm.program_states``; ``run``, that run if already made)."""
    run = (program_states(tr, mach, state[0]) if state else None) if run is None else run
    n, t = tr.lengths.size, tr.states.shape[1]
    z = np.zeros((n, t, len(state)), dtype=np.int64)
    for c, v in enumerate(state):
        z[..., c] = np.where(tr.valid, run.env[v], 0)
    return z


def spliced(trained, tr: StateTrace, lat: Lattice, z: np.ndarray) -> float:
    """F3: the program's states, as their lattice points (the mean traced state where the network visited
    that point), read out by the network's own readout in place of the cell; the share of inputs whose
    outputs do not change. States whose coordinates were not read (``Lattice.known``: their probes would leave
    the domain) are placed at the program's state there."""
    known = tr.valid if lat.known is None else lat.known
    where = np.where(known[..., None], lat.coords, z)
    keys, inv = np.unique(where[tr.valid], axis=0, return_inverse=True)
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
    asked = []
    for _ in range(pairs * 4):
        if len(asked) >= pairs:
            break
        b = int(rng.choice(rows))
        same = rows[(key[rows] == key[b]).all(axis=1)]
        s = int(rng.choice(same))
        i = int(rng.integers(tr.lengths[b]))
        j = int(rng.integers(min(int(tr.lengths[s]), longest - int(tr.lengths[b]) + i + 1)))
        if np.array_equal(z[b, i], z[s, j]):
            continue
        asked.append((b, i, tr.states[s, j], {v: int(q) for v, q in zip(state, z[s, j])}))
    held = interchanges_hold(trained, tr, mach, asked)  # the network run once on all of them
    return sum(held) / len(held) if held else None


COORDINATE_PAIRS = 100  # interchanges per integer coordinate
MAX_SUBSPACE = 4  # the most dimensions a coordinate's subspace may have
SUBSPACE_SHARE = 0.999  # ... enough of them to hold this share of the spread of its class means


def coordinate_subspace(tr: StateTrace, values: np.ndarray, others: np.ndarray | None = None,
                        most: int = MAX_SUBSPACE) -> np.ndarray:
    """``[h, k]`` orthonormal: the directions along which the traced states' means differ between the values
    of one coordinate (``values``, per traced state) with the other coordinates (``others``, ``[N, d - 1]``)
    held fixed, fewest that hold ``SUBSPACE_SHARE`` of the spread of those means (weighted by how many states
    each holds), at most ``most`` and at most one fewer than the values. The means are compared within each
    setting of the others: where coordinates are correlated on the trace (a sum and the last value read),
    the marginal means of one would differ along the other's directions too. Read from the states, not
    learned: nothing is fitted to the interchanges it is tested on."""
    pts = tr.states[tr.valid]
    others = np.zeros((len(values), 0), dtype=np.int64) if others is None else others
    _, group = np.unique(others, axis=0, return_inverse=True)
    _, cell, counts = np.unique(np.column_stack([group.reshape(-1), values]), axis=0, return_inverse=True,
                                return_counts=True)
    cell = cell.reshape(-1)
    means = np.zeros((counts.size, pts.shape[1]))
    np.add.at(means, cell, pts)
    means /= counts[:, None]
    cell_group = np.zeros(counts.size, dtype=np.int64)
    cell_group[cell] = group.reshape(-1)
    rows = []
    for g in np.unique(cell_group):
        members = np.nonzero(cell_group == g)[0]
        if members.size < 2:
            continue  # one value of the coordinate at this setting of the others: nothing to compare
        w = counts[members][:, None]
        centre = (w * means[members]).sum(0) / w.sum()
        rows.append(np.sqrt(w) * (means[members] - centre))
    if not rows:
        return np.zeros((pts.shape[1], 0))
    _, sv, vt = np.linalg.svd(np.vstack(rows), full_matrices=False)
    if sv.size == 0 or sv[0] <= 0:
        return np.zeros((pts.shape[1], 0))
    share = np.cumsum(sv ** 2) / (sv ** 2).sum()
    k = min(int(np.searchsorted(share, SUBSPACE_SHARE) + 1), most, np.unique(values).size - 1)
    return vt[:k].T


def coordinate_interchange(trained, tr: StateTrace, mach: Machine, state: list[str], rng: np.random.Generator,
                           pairs: int = COORDINATE_PAIRS, z: np.ndarray | None = None) -> dict[str, float | None]:
    """F2 per integer coordinate, through a subspace: at a base step, the coordinate set to a source's value
    and the others kept. The network's state there moves, inside the coordinate's subspace only
    (``coordinate_subspace``, ``U``), to a traced state (a donor) at which the program's state is that
    composite: ``h + U Uᵀ (h_donor - h)`` (the donor with the same scalar inputs, at the same step: composites
    no sequence reaches there are not tried); the program's state is set to the composite. The share of interchanges after which the network's answers (a scan's from that
    step on, a fold's result) are the program's, among those that change the program's answer (None when
    fewer than 10 do).

    Why a subspace and not the whole donor: moving the whole state to a donor is no test at all once the
    program agrees with the network on the domain (the donor's prefix followed by the base's rest is a
    domain input, on which they agree). Moving only the coordinate's few directions fails where the network
    does not keep the coordinate apart from the rest of its state in them: where it carries another
    intermediate, or none (an untrained network). ``z``: ``run_program`` on ``tr``, if already run. The
    interchanges of a coordinate are drawn first, then run through the network in one batch."""
    z = run_program(tr, mach, state) if z is None else z
    scal = [n for n in tr.inputs if tr.inputs[n].ndim == 1]
    srow = np.stack([tr.inputs[n] for n in scal], axis=1) if scal else np.zeros((tr.lengths.size, 0), dtype=np.int64)
    donors: dict[tuple, list[int]] = {}  # (scalar inputs, step, program state) -> rows
    for r, i in zip(*np.nonzero(tr.valid)):
        donors.setdefault((tuple(srow[r]), int(i), tuple(z[r, i])), []).append(int(r))
    where = np.argwhere(tr.valid)
    out: dict[str, float | None] = {}
    for c, v in enumerate(state):
        values = np.unique(z[tr.valid][:, c])
        u = coordinate_subspace(tr, z[tr.valid][:, c], np.delete(z[tr.valid], c, axis=1))
        asked = []
        for _ in range(pairs * 20):
            if len(asked) >= pairs or values.size < 2 or u.shape[1] == 0:
                break
            b, i = (int(q) for q in where[rng.integers(len(where))])
            target = z[b, i].copy()
            target[c] = values[rng.integers(values.size)]
            if target[c] == z[b, i, c]:
                continue
            # the donor at the base's step: a composite no sequence reaches there (a count above the steps read)
            # would take the network where it was never trained
            found = donors.get((tuple(srow[b]), i, tuple(target)), [])
            if not found:
                continue
            r, k = found[int(rng.integers(len(found)))], i
            composite = {n: int(q) for n, q in zip(state, target)}
            if np.array_equal(program_rest(tr, mach, b, i, composite),
                              program_rest(tr, mach, b, i, {n: int(q) for n, q in zip(state, z[b, i])})):
                continue  # the program's answer does not change: the interchange says nothing
            h = tr.states[b, i]
            asked.append((b, i, h + u @ (u.T @ (tr.states[r, k] - h)), composite))
        held = interchanges_hold(trained, tr, mach, asked)
        out[v] = sum(held) / len(held) if len(held) >= 10 else None
    return out


def coordinate_control(trained, mach: Machine, state: list[str], seed: int, z: np.ndarray | None = None,
                       tr: StateTrace | None = None) -> dict[str, float]:
    """The per-coordinate interchange (``coordinate_interchange``) of the program read, on the network training
    started from (same draws): what the check gives where no coordinate was learned. Empty when the record
    does not say how the network was initialised (a compiled network) or no coordinate was measured. ``z``:
    ``run_program`` on ``tr``, the trained network's trace, if already run (the untrained network is traced
    over the same inputs)."""
    from ..alignment import initial_network

    start = initial_network(trained)
    if start is None:
        return {}
    utr = StateTrace(start, cap=MAX_STATES_TRACED)
    found = coordinate_interchange(start, utr, mach, state, np.random.default_rng(seed),
                                   z=z if tr is not None and _same_inputs(tr, utr) else None)
    return {v: q for v, q in found.items() if q is not None}


def _same_inputs(a: StateTrace, b: StateTrace) -> bool:
    """Were two traces taken over the same inputs (so a program's run on one is its run on the other)?"""
    return np.array_equal(a.lengths, b.lengths) and a.inputs.keys() == b.inputs.keys() and all(
        np.array_equal(a.inputs[n], b.inputs[n]) for n in a.inputs)


def alignments(trained, tr: StateTrace, mach: Machine, state: list[str], seed: int, budget: Budget):
    """F2-D per state coordinate (one learned direction each: an integer coordinate is one axis of the
    lattice), with its controls on the untrained network (same search, same seed). The coordinates' searches
    on one network are learned together (``fsm.StateInterchanges``), each with its own generator from
    ``seed`` (the draws it makes alone), over one run of the program on the trace."""
    from ..alignment import initial_network

    run = program_states(tr, mach, state[0]) if state else None
    joint = StateInterchanges(trained, tr)
    for v in state:  # a generator for the pairs, another (from the same seed) for the split and rotation
        _, pairs = state_pairs(tr, mach, v, trained.problem.kind, np.random.default_rng(seed), table=run)
        joint.add(pairs, 1, np.random.default_rng(seed))
    found = dict(zip(state, joint.run(budget)))
    scores = {"untrained": None, "rewritten": None}
    details: dict = {"rewritten": "an integer state is not rewritten (its code is the lattice, not a numbering)"}
    start = initial_network(trained)
    if start is None:
        details["untrained"] = "the network's record does not say how it was initialised"
    else:
        utr = StateTrace(start)
        shared = run if _same_inputs(tr, utr) else None
        joint = StateInterchanges(start, utr)
        for v in state:
            _, pairs = state_pairs(utr, mach, v, trained.problem.kind, np.random.default_rng(seed), table=shared)
            joint.add(pairs, 1, np.random.default_rng(seed))
        per = dict(zip(state, joint.run(budget)))
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
        write_seed = int(rng.integers(2**31))
        lat, program, state, reasons, best, kept_run = None, None, [], [], -1.0, None
        for i, (other, why) in enumerate(lattices(tr, max_dim, trained, budget)):
            if other is None:
                reasons = [why]
                break
            if budget.expired:
                break
            got = read_lattice(task, tr, other, budget if i == 0 else Budget(OTHER_SHARE * budget.left), write_seed)
            if lat is None:
                lat, reasons = other, got[2]  # the first lattice found names the reading when none is written
            if got[0] is None:
                continue
            ran = program_states(tr, Machine(got[0], SCALAR), got[1][0])
            agree = traced_agreement(tr, ran)
            if agree > best:
                lat, (program, state, reasons), best, kept_run = other, got, agree, ran
            if agree >= 1 - OUTLIERS:  # as right on the traced states as its tables: no other needed
                break
        if lat is None:
            return Reading(None, tuple(reasons), status="timeout" if budget.expired else "abstained")
        details = {"dimensions": lat.dim, "coordinates": lat.how, "residual": lat.residual, "outliers": lat.outliers,
                   "range": [[int(lat.coords[..., i][tr.valid].min()), int(lat.coords[..., i][tr.valid].max())]
                             for i in range(lat.dim)]}
        if program is None:
            return Reading(None, tuple(reasons), status="timeout" if budget.expired else "abstained", details=details)
        mach = Machine(program, SCALAR)
        z = run_program(tr, mach, state, kept_run)
        # the whole state set to a donor's: no test once the program agrees with the network (see fsm); kept
        # for inspection, not reported as F2
        whole = interchange(trained, tr, mach, state, rng, pairs)
        splice = spliced(trained, tr, lat, z)
        clock = time.perf_counter()
        coord_seed = int(rng.integers(2**31))
        per_coordinate = coordinate_interchange(trained, tr, mach, state, np.random.default_rng(coord_seed), z=z)
        learned, per, scores, control_details = alignments(trained, tr, mach, state, int(rng.integers(2**31)), budget)
        measured = [q for q in per_coordinate.values() if q is not None]
        # F2-D: each coordinate through its own subspace (the weakest); the one learned direction per coordinate
        # only where no coordinate's subspace interchange changes the program's answer often enough to count
        distributed = min(measured) if measured else learned
        untrained_coordinates = coordinate_control(trained, mach, state, coord_seed, z=z, tr=tr)
        if untrained_coordinates:
            worst = max(untrained_coordinates.values())
            scores["untrained"] = worst if scores["untrained"] is None else max(scores["untrained"], worst)
        details.update({"program": to_source(program), "interchange_pairs": pairs, "interchange_whole_state": whole,
                        "interchange_learned": per,
                        "interchange_learned_score": learned, "interchange_coordinates": per_coordinate,
                        "controls_coordinates": untrained_coordinates,
                        "controls": control_details, "alignment_seconds": time.perf_counter() - clock})
        return Reading(program, tuple(reasons), None, splice, details=details, interchange_distributed=distributed,
                       controls=scores)

    return run
