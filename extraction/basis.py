"""MIPS's normalisations of a recurrent network's state (Michaud et al. 2024), for cells whose state is linear
(``models.MLPStep``: ``h' = A h + B x + W_out relu(W_ih x + W_hh h + b) + b_out``, read out linearly).

Any invertible affine change of such a state's coordinates, ``z = M (h - h0)`` with ``h = h0 + P z``, is the
same network with other weights (``rebase``), so a reader can be handed the state in the coordinates that
make it plain:

- whitening: the states the network visits, less the start state, in their principal axes scaled to unit
  spread; axes the states never move along are dropped (the state shrinks to its rank);
- the integer lattice: where the whitened states lie on a lattice (``methods.integer.integer_lattice``),
  its basis, so every state visited is an integer vector;
- otherwise diagonalising ``A``, the linear part of the update, where its eigenvalues are real and distinct
  (the recurrence's modes as coordinates).

A change that leaves the states in a subspace is exact only on the states the network visits (those it was
traced on); ``normalise_state`` keeps each change only if the network stays exact on its examples.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .models import MLPStep

# an axis whose spread is below this share of the largest is one the states never move along: the coarsest
# share that keeps the network exact is taken
RANK_TOLS = (1e-2, 1e-3, 1e-4)
GRAIN = 1e-3  # whitened states closer than this are taken as one point when looking for their lattice


def linear_state(model: nn.Module) -> bool:
    """Whether ``model``'s state can be re-based: a recurrent net with MIPS's cell."""
    return isinstance(getattr(model, "cell", None), MLPStep)


def rebase(model: nn.Module, m: np.ndarray, p: np.ndarray) -> None:
    """Rewrite ``model`` (a ``linear_state`` net) in place so its state is ``z = M (h - h0)`` (``M`` ``[r, d]``,
    ``P`` ``[d, r]`` with ``h = h0 + P z`` on the states it visits), starting at ``z = 0``."""
    cell: MLPStep = model.cell
    dt = cell.weight_hh.dtype
    mt, pt = torch.as_tensor(m, dtype=torch.float64), torch.as_tensor(p, dtype=torch.float64)
    h0 = model.h0.detach().double()
    a, b = cell.weight_lin_h.detach().double(), cell.weight_lin_x.detach().double()
    with torch.no_grad():
        new = {
            "weight_hh": cell.weight_hh.detach().double() @ pt,
            "bias_ih": cell.bias_ih.detach().double() + cell.weight_hh.detach().double() @ h0,
            "weight_lin_h": mt @ a @ pt,
            "weight_lin_x": mt @ b,
            "weight_out": mt @ cell.weight_out.detach().double(),
            "bias_out": mt @ (cell.bias_out.detach().double() + a @ h0 - h0),
        }
        for name, value in new.items():
            setattr(cell, name, nn.Parameter(value.to(dt)))
        cell.hidden_size = int(m.shape[0])
        ro = model.readout
        w = ro.weight.detach().double()
        bias = ro.bias.detach().double() + w @ h0
        ro.weight = nn.Parameter((w @ pt).to(dt))
        ro.bias = nn.Parameter(bias.to(dt))
        if isinstance(ro, nn.Linear):
            ro.in_features = int(m.shape[0])
        model.h0 = torch.zeros(int(m.shape[0]), dtype=model.h0.dtype)


def visited(model: nn.Module, batch) -> np.ndarray:
    """``[N, d]``: the start state and every state the network visits on ``batch`` (each prefix's)."""
    with torch.no_grad():
        hs = model.states(batch).double().numpy()
    if batch.lengths is not None:
        mask = np.arange(hs.shape[1])[None, :] < batch.lengths.numpy()[:, None]
        hs = hs[mask]
    else:
        hs = hs.reshape(-1, hs.shape[-1])
    return np.vstack([model.h0.detach().double().numpy()[None, :], hs])


def whitening(states: np.ndarray, h0: np.ndarray, rank_tol: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(M, P) taking ``states`` less ``h0`` onto their principal axes at unit spread, dropping axes whose spread
    is below ``rank_tol`` of the largest; None when they never move."""
    d = states - h0
    _, s, vt = np.linalg.svd(d, full_matrices=False)
    if s.size == 0 or s[0] <= 0:
        return None
    r = int((s > rank_tol * s[0]).sum())
    q = vt[:r].T  # [d, r]
    spread = (d @ q).std(0)
    spread = np.where(spread > 0, spread, 1.0)
    return (q / spread).T, q * spread


def lattice(states: np.ndarray) -> np.ndarray | None:
    """The basis of the integer lattice the (whitened, origin-at-start) ``states`` lie on, or None."""
    from .methods.integer import integer_lattice

    # states within a thousandth of their (unit) spread are one point: a trained cell's states carry noise of
    # that order, and near-duplicates would pass for the lattice's shortest vectors
    _, group = np.unique(np.round(states / GRAIN), axis=0, return_inverse=True)
    group = group.ravel()
    points = np.zeros((group.max() + 1, states.shape[1]))
    np.add.at(points, group, states)
    points /= np.bincount(group)[:, None]  # each point the mean of the states taken as one
    basis, _ = integer_lattice(points)
    if basis is None:
        return None
    # the basis from the shortest vectors carries their error; refit it to every point's integer coordinates
    k = np.rint(np.linalg.solve(basis, points.T).T)
    fit, *_ = np.linalg.lstsq(k, points, rcond=None)
    return fit.T if np.linalg.matrix_rank(fit) == basis.shape[0] else basis


def diagonal(a: np.ndarray) -> np.ndarray | None:
    """Eigenvectors of ``a`` as columns when its eigenvalues are real and distinct, else None."""
    vals, vecs = np.linalg.eig(a)
    if np.abs(vals.imag).max(initial=0.0) > 1e-9 * max(1.0, np.abs(vals).max(initial=0.0)):
        return None
    vals = vals.real
    if len(vals) > 1 and np.min(np.diff(np.sort(vals))) < 1e-6:
        return None
    vecs = vecs.real
    return vecs / np.abs(vecs).max(0)


def normalise_state(model: nn.Module, batch, keeps_exact) -> dict[str, Any]:
    """Whiten ``model``'s state, then put it on its integer lattice or, failing that, on the eigenvectors of its
    linear update, from the states it visits on ``batch``: each step applied to ``model`` in place and kept only
    when ``keeps_exact(model)`` (the network still exact on its examples). Returns what applied:
    ``{"whitened": r or None, "basis": "lattice" | "eigen" | None}`` (r: the state's new size, its rank at the
    coarsest of ``RANK_TOLS`` that keeps the network exact)."""
    applied: dict[str, Any] = {"whitened": None, "basis": None}
    if not linear_state(model):
        return applied

    def attempt(change) -> bool:
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        size = model.cell.hidden_size
        rebase(model, *change)
        if keeps_exact(model):
            return True
        _restore(model, saved, size)
        return False

    states = visited(model, batch)
    for tol in RANK_TOLS:
        white = whitening(states, states[0], tol)
        if white is not None and attempt(white):
            applied["whitened"] = int(white[0].shape[0])
            break
    else:
        return applied
    z = visited(model, batch)
    basis = lattice(z)
    if basis is not None and attempt((np.linalg.inv(basis), basis)):
        applied["basis"] = "lattice"
        return applied
    vecs = diagonal(model.cell.weight_lin_h.detach().double().numpy())
    if vecs is not None and abs(np.linalg.det(vecs)) > 1e-9 and attempt((np.linalg.inv(vecs), vecs)):
        applied["basis"] = "eigen"
    return applied


def _restore(model: nn.Module, saved: dict[str, torch.Tensor], size: int) -> None:
    cell = model.cell
    for name in ("weight_hh", "bias_ih", "weight_lin_h", "weight_lin_x", "weight_out", "bias_out"):
        setattr(cell, name, nn.Parameter(saved[f"cell.{name}"].clone()))
    cell.hidden_size = size
    model.readout.weight = nn.Parameter(saved["readout.weight"].clone())
    model.readout.bias = nn.Parameter(saved["readout.bias"].clone())
    if isinstance(model.readout, nn.Linear):
        model.readout.in_features = size
    model.h0 = saved["h0"].clone()
