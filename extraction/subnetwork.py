"""``subnetwork``: a mask over a network's frozen weights, searched by edge-popup (Ramanujan et al. 2020)
until the masked network computes the task on its examples: the control that shows how much "this part
does the task" a network yields without ever changing a weight.

Algorithm. Every weight matrix and embedding table of the network (each a *layer*: ``embed.<name>.weight``,
``hidden.weight``, ``out.weight`` of an MLP; the embeddings, ``cell.weight_ih``, ``cell.weight_hh`` and
``readout.weight`` of a recurrent net) gets a real score per weight, drawn kaiming-uniform as the paper
does (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; only each score's magnitude ranks it). The forward pass uses
``weight * mask``, where the mask keeps, in every layer separately, the ``round(keep * size)`` weights of
largest ``|score|`` (at least one) and zeroes the rest. The top-k choice has no useful derivative, so the
scores are trained with the paper's straight-through estimator: the backward pass treats the mask as if it
were ``|score|`` itself, so a score's gradient is ``dL/d(weight * mask) * weight * sign(score)``: a kept
weight that helps rises, one that hurts sinks below the cut, and a dropped weight whose inclusion would
help climbs back. Loss and exactness are ``train``'s (summed cross-entropy over every head and step; an
example is right when every output is), full batch over the problem's examples, AdamW on the scores only,
one CPU thread, deterministic per seed; the search stops as soon as the masked forward pass is exact on
every example, or at ``seconds``.

Why it is sound. The weights are read, never written: the search calls the network functionally
(``torch.func.functional_call``) with ``weight.detach() * mask`` in place of each weight, so the given
network and its ``state_dict`` are untouched and no gradient reaches a weight. Biases (and buffers such as
a recurrent net's start state) are neither scored nor masked: they keep their given values, frozen, as in
the paper's networks, which have no biases to mask. The forward value of the straight-through mask is the
hard 0/1 mask exactly, so the logits the stopping test reads are those of the network that is returned:
a copy of the given one (same class, shapes and encoding) with ``weight * mask`` written into each layer.
Its every nonzero weight equals the given weight at that position, and each layer keeps ``round(keep *
size)`` positions (``settings["kept"]`` counts them; a kept weight that was already zero stays zero).
Every reader, ``predict``, ``extract`` and ``save`` then take it like any other network.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import replace

import torch
from torch import nn
from torch.func import functional_call

from .models import MLP, Recurrent
from .train import Trained, TrainingError, accuracy, loss_fn, one_thread, share_right

MASKABLE = (MLP, Recurrent)
LR = 0.01  # AdamW on the scores: a step of about 1% of the kaiming-uniform score range reorders a few at a time
WEIGHT_DECAY = 0.0


def subnetwork(trained: Trained, *, keep: float = 0.5, seconds: float = 60.0, seed: int = 0) -> Trained:
    """The network ``trained`` holds, its weights frozen, under an edge-popup mask that keeps the ``keep``
    fraction of each layer's weights, searched until the masked network is exact on the problem's examples
    (status "trained") or ``seconds`` pass (status "budget"). The given network is left as it was."""
    _check(trained, keep, seconds)
    start = time.perf_counter()
    model, enc, ex = trained.model, trained.encoding, trained.problem.examples
    layers = {name: p.detach() for name, p in model.named_parameters() if p.ndim >= 2}
    fixed = {name: p.detach() for name, p in model.named_parameters() if p.ndim < 2}
    kept = {name: max(1, round(keep * w.numel())) for name, w in layers.items()}
    with one_thread():
        scores = _initial_scores(layers, seed)
        batch = enc.batch(ex.inputs, ex.lengths)
        targets = enc.targets(ex.outputs, ex.lengths)
        opt = torch.optim.AdamW(scores.values(), lr=LR, weight_decay=WEIGHT_DECAY)
        steps, status, reasons = 0, "budget", []
        while True:
            masks = {name: _straight_through(s, kept[name]) for name, s in scores.items()}
            logits = functional_call(model, {**fixed, **{n: layers[n] * m for n, m in masks.items()}}, (batch,))
            if share_right(enc, logits.detach(), targets) == 1.0:
                status = "trained"
                break
            if time.perf_counter() - start > seconds:
                reasons.append(f"stopped at the {seconds:g} s budget after {steps} steps before a mask "
                               "exact on every example")
                break
            loss = loss_fn(enc, logits, targets)
            if not torch.isfinite(loss):
                status = "error"
                reasons.append(f"the search diverged: the loss became {loss.item()} at step {steps}")
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        masked = _baked(model, {n: _hard(scores[n], kept[n]) for n in layers})
        train_acc = accuracy(masked, enc, batch, targets)
    steps_len = ex.inputs[trained.problem.sequences[0]].shape[1] if trained.problem.sequences else 1
    settings = {"subnetwork": True, "keep": keep, "of": trained.status, "seed": seed, "arch": trained.arch,
                "optimizer": "adamw", "lr": LR, "weight_decay": WEIGHT_DECAY, "scores": "kaiming_uniform",
                "biases": "frozen", "kept": kept}
    return replace(trained, model=masked, train_accuracy=train_acc, domain_accuracy=None, steps=steps,
                   seconds=time.perf_counter() - start, flops=3.0 * model.flops() * len(ex) * steps_len * steps,
                   heldout_accuracy=None, status=status, reasons=tuple(reasons), settings=settings,
                   compiled_from=None, examples=len(ex))


def _check(trained, keep, seconds) -> None:
    if not isinstance(trained, Trained):
        raise TrainingError(f"subnetwork takes a Trained network (from extraction.untrained, train or compile), "
                            f"got {type(trained).__name__}")
    if not isinstance(trained.model, MASKABLE):
        raise TrainingError(f"subnetwork masks the MLP and the recurrent nets (gru, rnn), not a "
                            f"{type(trained.model).__name__}; train or build one of those")
    if not (isinstance(keep, (int, float)) and not isinstance(keep, bool) and 0 < keep <= 1):
        raise TrainingError(f"keep is the fraction of each layer's weights the mask keeps: a number in (0, 1], "
                            f"got {keep!r}")
    if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0
            and math.isfinite(seconds)):
        raise TrainingError(f"seconds must be a positive finite number, got {seconds!r}")


def _initial_scores(layers: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Kaiming-uniform scores (the paper's), one generator per search so the seed fixes them all."""
    gen = torch.Generator().manual_seed(seed)
    scores = {}
    for name, w in layers.items():
        bound = 1.0 / math.sqrt(w.shape[1])
        scores[name] = ((torch.rand(w.shape, generator=gen) * 2 - 1) * bound).requires_grad_(True)
    return scores


def _hard(score: torch.Tensor, k: int) -> torch.Tensor:
    """1 on the ``k`` entries of largest ``|score|``, 0 elsewhere."""
    flat = score.detach().abs().flatten()
    mask = torch.zeros_like(flat)
    mask[torch.topk(flat, k, sorted=False).indices] = 1.0
    return mask.view_as(score)


def _straight_through(score: torch.Tensor, k: int) -> torch.Tensor:
    """The hard mask in the forward pass, ``|score|``'s gradient in the backward pass."""
    soft = score.abs()
    return _hard(score, k) + soft - soft.detach()


def _baked(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``model`` (sharing its encoding) with each masked layer's ``weight * mask`` written in."""
    masked = copy.deepcopy(model, memo={id(model.encoding): model.encoding})
    params = dict(masked.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)
    masked.eval()
    return masked
