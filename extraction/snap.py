"""Finite states for a recurrent net trained on its examples: each new state replaced by the nearest row of a
codebook fitted to the states the net itself visits on its examples (k-means), the fewest rows that keep it exact
on every example.

Why. A GRU exact on its examples carries a finite-state task's state as a point that drifts a little at every
step; on the domain's longer or rarer inputs the drift adds up and a few answers go wrong (stream addition in bases
6-7 and running sums mod 7-8 at seed 0: wrong on 0.005-0.17% of the domain, BENCHMARKS.md). Snapped to a codebook
the state cannot drift: the net is a machine of at most ``k`` states, exact on thousands of examples, and on those
four tasks it was exact on the domain where the plain net was not (b7 at seed 0 the exception: 512 rows, wrong on
0.014% where the plain net was wrong on 0.05%). This is the quantised bottleneck of Koul et al. 2019 (Moore machine
networks: a quantiser inserted into a trained recurrent net's state, the net then a finite machine), with the
quantiser a codebook of the net's own states rather than a trained autoencoder, and the state regularisation of
Wang and Niepert 2019 (states pulled to centroids) applied after training, where it costs no training. The
codebook is fitted to the examples' states only (no answers beyond the examples'), and the snapped net is what is
read and checked.

The rungs (``RUNGS``): k-means with ``k`` rows for each rung in turn (the points capped at ``MAX_POINTS`` distinct
states, k-means++ from the run's seed), the first ``k`` whose snapped net is exact on every example is the
candidate (every row of it kept). It replaces a net exact on its examples only where the two answer some of the
domain's inputs differently (``changed_answers``, on up to ``COMPARED`` of ``problem.domain_inputs``: no answers):
there the plain
net's answers hang on its drift; elsewhere they agree on every input compared, and the plain net, whose
smooth state the recurrent F2-D learns through more easily, is kept. None exact (or the budget spent): the net is
returned as it was, and the record says what was tried.
"""
from __future__ import annotations

import copy
import time
import warnings
from typing import Any

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from torch import nn

from .basis import visited
from .encoding import Batch, Encoding
from .models import GRUStep

RUNGS = (8, 16, 32, 64, 128, 256, 512)
MAX_POINTS = 8192  # distinct traced states k-means is fitted to, at most (a random subset beyond)
KMEANS_ITER = 20
COMPARED = 50_000  # domain inputs (no answers) the snapped and the plain net are compared on, at most


def snap_applies(model: nn.Module, problem) -> bool:
    """A GRU (over tokens or numbers, classifying) whose examples are not the whole domain: where exact on the
    examples need not mean exact on the domain, and a finite-state cell is the GRU's own."""
    return (isinstance(getattr(model, "cell", None), GRUStep) and not getattr(model, "regress", False)
            and model.states_kept == 0 and bool(problem.sequences) and not problem.examples.complete)


def with_codebook(model: nn.Module, codebook: np.ndarray) -> nn.Module:
    """A copy of ``model`` whose GRU snaps every new state to the nearest row of ``codebook``."""
    out = copy.deepcopy(model)
    out.cell.register_buffer("codebook", torch.as_tensor(codebook, dtype=torch.float32))
    return out


CHUNK = 8192  # inputs run through a net at once


def answers(model: nn.Module, encoding: Encoding, inputs: dict[str, np.ndarray], lengths) -> np.ndarray:
    """``[inputs, outputs]``: the value each head names on each input (every step of a scan; -1 past a sequence's end),
    as the index of the value among the head's known ones: nets of one encoding name equal values by equal indices.
    Run in chunks; a regressing readout's nearest value is found by bisection (``search.predicted``), never through a
    logit per known value (hundreds of them over 50,000 inputs would take gigabytes)."""
    from .search import predicted

    n = len(next(iter(inputs.values())))
    out = []
    with torch.no_grad():
        for lo in range(0, n, CHUNK):
            part = {k: v[lo:lo + CHUNK] for k, v in inputs.items()}
            span = None if lengths is None else np.asarray(lengths)[lo:lo + CHUNK]
            named = predicted(model, encoding.batch(part, span)).cpu().numpy().astype(np.int64)
            if encoding.kind == "scan" and span is not None:
                named = np.where((np.arange(named.shape[1])[None, :] < span[:, None])[..., None], named, -1)
            out.append(named.reshape(len(named), -1))
    return np.concatenate(out, axis=0)


def changed_answers(model: nn.Module, other: nn.Module, encoding: Encoding, problem, seed: int) -> tuple[int, int]:
    """(inputs answered differently, inputs compared): the two nets on the domain's inputs (``problem.domain_inputs``,
    no answers; all of them, or ``COMPARED`` drawn with ``seed``: a drift error rarer than one in 20,000 inputs is
    still likely among them)."""
    inputs, lengths, _ = problem.domain_inputs(cap=COMPARED, seed=seed)
    differ = (answers(model, encoding, inputs, lengths) != answers(other, encoding, inputs, lengths)).any(axis=1)
    return int(differ.sum()), int(len(differ))


def snap_states(model: nn.Module, encoding: Encoding, problem, batch: Batch, targets: torch.Tensor, *,
                deadline: float, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """The net with its states snapped to the smallest codebook of ``RUNGS`` that keeps it exact on ``batch`` (every
    example) where that net answers some of the domain's inputs otherwise (``changed_answers``); else the net as
    it is (exact on ``batch`` itself: ``train`` snaps only such nets). And what was tried: ``{"tried": [[rows,
    share exact], ...], "points": distinct states fitted, "states": the codebook's rows or None, "visited": rows
    the examples reach, "changed": domain inputs answered otherwise, "compared": of how many, "kept": whether the
    snapped net is returned, "why": "exact", "none exact" or "budget", "passes": inputs run through a net (the
    examples once a rung and once more for the rows visited, the compared inputs twice), "seconds": ...}``. Every
    row is kept, visited on the examples or not: the net checked is the net returned."""
    from .search import predicted, share_exact

    began = time.perf_counter()
    distinct = np.unique(visited(model, batch)[1:], axis=0)  # the start is never snapped
    rng = np.random.default_rng(seed)
    if len(distinct) > MAX_POINTS:
        distinct = distinct[np.sort(rng.choice(len(distinct), MAX_POINTS, replace=False))]
    tried: list[list[float]] = []
    record: dict[str, Any] = {"tried": tried, "points": int(len(distinct)), "states": None, "kept": False,
                              "why": "none exact"}
    for k in RUNGS:
        if time.perf_counter() > deadline:
            record["why"] = "budget"
            break
        last = k >= len(distinct)
        if last:
            book = distinct
        else:
            with warnings.catch_warnings():  # kmeans2 warns of an empty cluster; its row stays, as every row does
                warnings.simplefilter("ignore")
                book, _ = kmeans2(distinct, k, iter=KMEANS_ITER, minit="++", seed=rng)
        snapped_net = with_codebook(model, book)
        with torch.no_grad():
            share = share_exact(predicted(snapped_net, batch), targets)
        tried.append([int(len(book)), share])
        if share == 1.0:  # every state reached is a row: the rows visited are the distinct states
            used = len(np.unique(visited(snapped_net, batch)[1:], axis=0))
            record.update(states=int(len(book)), visited=used, why="exact")
            break
        if last:  # the distinct states themselves, and still not exact
            break
    if record["states"] is not None:
        record["changed"], record["compared"] = changed_answers(model, snapped_net, encoding, problem, seed)
        record["kept"] = record["changed"] > 0
    record["passes"] = ((len(tried) + (record["states"] is not None)) * batch.size  # each rung, the rows visited
                        + 2 * int(record.get("compared", 0)))
    record["seconds"] = round(time.perf_counter() - began, 3)
    if not record["kept"]:
        return model, record
    snapped_net.eval()
    return snapped_net, record
