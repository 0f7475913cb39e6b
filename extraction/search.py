"""The training loop behind ``train``: many candidate networks (widths x initial seeds) fitted in one batched
pass, the smallest exact one kept, then normalised for reading (MIPS, Michaud et al. 2024).

Why a batched pass equals training each candidate alone. Every candidate is built exactly as ``train``
builds a single network (its width, ``torch.manual_seed(seed)``), then zero-padded to the widest
candidate's shapes, hidden unit by hidden unit (a GRU's gate blocks padded each on its own). A padded unit
has no weight in or out, so it stays at zero (tanh, ReLU and a GRU with zero gates all map zero to zero),
every padded weight gets a zero gradient, and AdamW leaves a weight with zero gradient and zero value where
it is; the stacked weights are one leaf tensor per parameter and AdamW is elementwise, so each candidate
takes the same steps it would take alone on the same minibatches. ``torch.func.vmap`` over
``functional_call`` runs the stack with the models' own code. With state noise (the ``noise`` option,
``noisy_states``) each candidate draws its own noise and only on its own units (a padded unit stays at zero), so
it takes the steps it would take alone in law, not draw for draw; a candidate's annealed rate (``anneal``) is
its AdamW step scaled back (``scale_steps``), the step its own optimiser would take at that rate.

What a search costs. A stacked step costs what the candidates' steps cost one after another (the pass is
compute-bound on one core), so the search keeps a step's rows, not its candidates, at one training's: the
``batch`` rows of a step are shared, each candidate taking a step on ``batch / candidates`` of them (at least
``SEARCH_MIN_BATCH``; the same minibatch for all, drawn as one training draws them), and a candidate leaves the
stack as soon as it cannot win, the stack re-padded to the widest width left (AdamW's moments kept), so steps
get cheaper as candidates leave; a rung's survivors each get twice the rows (successive halving). Checks score
every candidate on a fixed probe of ``SEARCH_PROBE`` fitting (and a quarter as many held-out) examples; one
exact on the probe is checked on every example, and only that makes it exact. A candidate leaves when it is
exact (its weights kept), when a narrower width is exact or one of its own width is (it cannot be the
narrowest), when the narrower widths have had ``GRACE`` times the steps the first exact candidate needed, or,
while none is exact, at a rung (steps ``SEARCH_RUNG``, then 2x, 4x, ...) when it is in the less accurate half
(successive halving; among equally accurate regressing nets — whose accuracy stays 0 until their values come
within rounding of the answers — the larger squared error on the probe is the worse, and the polish that follows
a regressing race takes the candidate nearest to exact by the same order) — except the network ``search=False`` would train (the default width, the first seed),
which no rung drops: a rung that cannot tell learners from a plateau (divisibility's majority class) never
removes the network training alone would keep. So the pass costs about the steps of one training at one training's rows per step, and ``settings["search"]``
records who left when and why, and the steps and rows each candidate trained.

Stopping. The pass ends when no candidate trains on (the narrowest width is exact, or the grace is spent),
when the budget is spent, or when the accuracy trend over the last half of the elapsed time says no
candidate becomes exact within the budget — unless, with the option ``calm`` (off by default), the best candidate
is near exact and falling back (``unsettled``: AdamW oscillating at its rate, not a plateau), when the rate falls by
``CALM`` instead (at most ``CALM_TIMES``; a candidate waiting for the margin is not settled then either). With one candidate (``search=False``) ``fit`` trains it on full
``batch`` minibatches, checking every example, as before the search existed.

The margin (one candidate). A network trained alone counts as exact when every output of the fitting and
held-out examples is named with probability at least ``SURE`` (examples that are the whole domain need none). A
network exact only by argmax sits on a decision boundary for some example, and the domain's unseen inputs near
it are answered wrong: on the standard suite's running minimum and stream addition, networks stopped at their
first argmax-exact step (a worst example at probability 0.53) were wrong on 9 of 97,655 and 2 of 66,429 inputs,
and more steps made them exact on the whole domain, so no reading could be their mechanism before. Exact by
argmax alone is the fallback: the latest argmax-exact weights are taken when the margin is not reached within
``SETTLE`` times the steps the first argmax-exact check needed, when the budget runs out, or when the accuracy
trend stops the run (the reason says so). The width search waits the same way: a candidate exact by argmax alone
trains on until the margin (then it is exact) or until ``SETTLE`` times the steps the search's first
argmax-exact candidate needed (what one training waits), the budget or the trend (then it counts as exact with
its latest argmax-exact weights, "settled"). Counted from the candidate's own first argmax-exact step instead, a
narrow winner (exact later than the default width) waited up to twice as long as training alone, and on the
bench's scans it settled all the same. The drop rules read the widths exact by argmax (a candidate so far is
exact either way), and among the narrowest width's exact candidates one with the margin is kept before a settled
one. A settled network keeps, of its argmax-exact checks, the weights that named the most examples with the
margin (not the latest: AdamW at the training rate oscillates).

The margin of a regressing readout. A regressed value counts as named with the margin when it lies within
``REGRESS_SURE`` (a quarter) of the gap to its nearer known value. Stopped at the first check exact by nearest
value, counters and positions (count, first_index, last_index) erred on 1-7 of their domain's 5,456 inputs at
every seed 0-2; AdamW does not settle a value (its steps are the size of the learning rate), so a regressing net
exact by nearest value settles at once (``REGRESS_SETTLE``) and full-batch L-BFGS polishes it towards the margin
(``_settled``) for at most ``MARGIN_POLISH`` times the seconds it trained, keeping its most accurate weights (it
stays exact). Measured: 7 of 9 of those runs exact on the domain after, none before (BENCHMARKS.md, "Rare errors
on counters and positions").

Polish. A regressing readout must name values up to several hundred within half a unit (a relative error
under 1e-3 on every output), which AdamW at a useful learning rate cannot settle to: its steps are the size of
the learning rate whatever the gradient. So a regressing net trains with AdamW for ``POLISH_AFTER`` of the
budget (or until its trend is hopeless), then the kept candidate is polished by full-batch L-BFGS with a
strong-Wolfe line search (``_polish``): second-order steps on a loss that is near-quadratic there, which
measured on running sums, delayed values and sums of the last k values over 64-100 values reaches exact
in a few seconds where AdamW stalled. The polish stops when exact, at the budget, or when it stalls.

Normalisations (``normalise``) keep the function: a positive rescaling of each ReLU unit (the only change
of basis a ReLU layer commutes with), so that each unit's readout weights have largest magnitude 1, then
each weight tensor snapped to the coarsest of ``GRIDS`` that keeps the network exact on its examples.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from .encoding import Batch, Encoding

GRIDS = (1.0, 0.5, 0.25, 0.1)
GRACE = 1.5  # narrower candidates train this many times the steps the first exact one needed
GIVE_UP_AFTER = 0.25  # share of the budget before the accuracy trend may stop a run
POLISH_AFTER = 0.25  # share of the budget a regressing net spends on AdamW before the L-BFGS polish
POLISH_ROUNDS = 10  # L-BFGS iterations between two accuracy checks of the polish
POLISH_STALL = 3  # the polish gives up after this many checks in a row that cut the loss by less than 1%
SEARCH_MIN_BATCH = 64  # the fewest rows a candidate of the search takes a step on
SEARCH_PROBE = 256  # fitting examples (and a quarter as many held-out ones) every candidate is scored on at a check
SURE = 0.99  # a classifying head's probability for its named class, on every output, to count as exact (alone)
REGRESS_SURE = 0.25  # a regressing head's value within this share of the gap to its nearer known value, to count as exact (alone)
MARGIN_POLISH = 1.0  # a settled regressing net's L-BFGS polish towards the margin takes at most this many times the seconds trained
SETTLE = 5  # a network exact by argmax waits this many times the steps that took for the margin
REGRESS_SETTLE = 1  # a regressing one does not wait on AdamW: it settles at once, and L-BFGS polishes it towards the margin
CALM_FROM = 0.99  # a search the trend calls hopeless, this accurate and falling back, lowers its rate instead of stopping
CALM = 0.3  # ... by this factor
CALM_TIMES = 2  # ... at most this many times
SEARCH_RUNG = 40  # steps to the search's first rung (the less accurate half dropped); the next rungs at 2x, 4x, ...


@dataclass
class Fitted:
    """What the batched pass found: the kept network and how the search went."""

    model: nn.Module
    encoding: Encoding
    width: int
    seed: int
    status: str
    reasons: list[str]
    steps: int
    exact: list[list[bool]]  # per width, per seed
    candidate_steps: list[list[int | None]]  # steps at which each candidate became exact
    batch: Batch
    targets: torch.Tensor
    heldout: float | None
    fit_size: int
    extra: dict[str, Any] = field(default_factory=dict)
    work: float = 0.0  # forward passes trained, in one example's flops (``model.flops()``) each candidate's own width


class _Objective(nn.Module):
    """The training loss of ``model`` as a module, so ``functional_call`` can run it on stacked weights; with
    ``noise``, the training loss under state noise (``noisy_states``) on the units ``own`` marks (given ``own``:
    a training step, not a check)."""

    def __init__(self, model: nn.Module, noise: float = 0.0, late: bool = False):
        super().__init__()
        self.model = model
        self.noise = noise
        self.late = late

    def forward(self, batch: Batch, targets: torch.Tensor, own: torch.Tensor | None = None) -> torch.Tensor:
        with noisy_states(self.model, self.noise if own is not None else 0.0, own):
            return loss_of(self.model, batch, targets, self.late)


def state_noise(model: nn.Module, settings: dict[str, Any]) -> float:
    """The standard deviation of the noise ``noisy_states`` adds to ``model``'s state while it trains: the
    setting ``noise`` for a recurrent net over tokens, 0 for anything else."""
    if getattr(model, "numeric", True) or not hasattr(model, "cell"):
        return 0.0
    return float(settings.get("noise", 0.0))


@contextlib.contextmanager
def noisy_states(model: nn.Module, sigma: float, own: torch.Tensor | None = None):
    """Gaussian noise of standard deviation ``sigma`` added to a recurrent net's state after every step, inside
    the context (a forward hook on ``model.cell`` that always comes off); ``own`` (``[hidden]``, 0 or 1) keeps it
    off the zero padding of a narrower candidate in the width search, so a padded unit stays at zero."""
    if not sigma:
        yield
        return

    def hook(_m, _i, out):
        noise = sigma * torch.randn_like(out)
        return out + (noise if own is None else noise * own)

    handle = model.cell.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _Classes(nn.Module):
    """``predicted`` (with the margin ``sure``, if any) as a module, for ``functional_call`` on stacked weights."""

    def __init__(self, model: nn.Module, sure: float | None = None):
        super().__init__()
        self.model = model
        self.sure = sure

    def forward(self, batch: Batch) -> torch.Tensor:
        return predicted(self.model, batch, self.sure)


def predicted(model: nn.Module, batch: Batch, sure: float | None = None) -> torch.Tensor:
    """``[..., arity]``: the class each head names. A regressing readout's nearest known value is found by
    bisection, not through its ``[..., classes]`` logits (hundreds of classes at every step). With ``sure``, a
    classifying head's class named with probability below it comes as ``-1 - class`` (never a target;
    ``argmax_of`` recovers it), so one pass says both what is named and whether it is named with a margin."""
    if not getattr(model, "regress", False):
        logits = model(batch)
        named = classes(model.encoding, logits)
        if sure is None:
            return named
        top = torch.stack([part.softmax(-1).amax(-1) for part in model.encoding.split_logits(logits)], dim=-1)
        return torch.where(top >= sure, named, -1 - named)
    values = model.readout.values(model.read(batch))
    out = []
    for j, known in enumerate(model.readout.known):
        mids = (known[:-1] + known[1:]) / 2
        idx = torch.bucketize(values[..., j].contiguous(), mids)
        if sure is not None and len(known) > 1:
            gaps = known[1:] - known[:-1]
            room = torch.minimum(torch.cat([gaps[:1], gaps]), torch.cat([gaps, gaps[-1:]]))  # to the nearer neighbour
            off = (values[..., j] - known[idx]).abs()
            idx = torch.where(off <= REGRESS_SURE * room[idx], idx, -1 - idx)
        out.append(idx)
    return torch.stack(out, dim=-1)


def argmax_of(named: torch.Tensor) -> torch.Tensor:
    """The classes ``predicted(..., sure)`` names, sure or not."""
    return torch.where(named < 0, -1 - named, named)


def classes(encoding: Encoding, logits: torch.Tensor) -> torch.Tensor:
    """``[..., arity]``: the class each head's logits name."""
    return torch.stack([part.argmax(-1) for part in encoding.split_logits(logits)], dim=-1)


def share_exact(named: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of examples whose every output (every head, every step) ``named`` gets right."""
    if targets.shape[0] == 0:
        return 1.0
    right = ((named == targets) | (targets == -100)).all(dim=-1)
    if right.ndim == 2:
        right = right.all(dim=1)
    return float(right.float().mean())


def loss_of(model: nn.Module, batch: Batch, targets: torch.Tensor, late: bool = False) -> torch.Tensor:
    """Cross-entropy per head, or for a regressing readout the squared error of each head's value (in units
    of the heads' largest magnitude), averaged over the steps that have a target; with ``late``, a scan's
    cross-entropy at step t weighs t + 1 (``late_weighted``)."""
    from .train import loss_fn

    readout = getattr(model, "readout", None)
    if not getattr(model, "regress", False):
        if late and model.encoding.kind == "scan":
            return late_weighted(model.encoding, model(batch), targets)
        return loss_fn(model.encoding, model(batch), targets)
    values = readout.values(model.read(batch))
    total = 0.0
    for j, known in enumerate(readout.known):
        t = targets[..., j]
        valid = t != -100
        err = torch.where(valid, (values[..., j] - known[t.clamp(min=0)]) / readout.scale, 0.0)
        total = total + (err ** 2).sum() / valid.sum().clamp(min=1)
    return total


def late_weighted(encoding: Encoding, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A scan's cross-entropy per head with step t (from 0) weighing t + 1, normalised over the steps that have a
    target: a state read late has been carried through more steps, and it is there that a net exact on its
    examples drifts on unseen inputs."""
    total = 0.0
    weight = torch.arange(1, targets.shape[1] + 1, dtype=torch.float32)[None, :]
    for j, part in enumerate(encoding.split_logits(logits)):
        t = targets[..., j]
        each = nn.functional.cross_entropy(part.reshape(-1, part.shape[-1]), t.reshape(-1), ignore_index=-100,
                                           reduction="none").reshape(t.shape)
        w = weight * (t != -100)
        total = total + (each * w).sum() / w.sum().clamp(min=1)
    return total


def _pad(small: torch.Tensor, big_shape: torch.Size, width: int, full: int) -> torch.Tensor:
    """``small`` (a width-``width`` network's tensor) zero-padded to ``big_shape`` (the width-``full`` one's),
    each dimension that scales with the width padded block by block (a GRU stacks three gate blocks)."""
    out = small
    for d, (a, b) in enumerate(zip(small.shape, big_shape)):
        if a == b:
            continue
        blocks = a // width
        assert blocks * width == a and blocks * full == b, (small.shape, big_shape, width, full)
        shape = list(out.shape)
        out = out.reshape(*shape[:d], blocks, width, *shape[d + 1:])
        pad = torch.zeros(*shape[:d], blocks, full - width, *shape[d + 1:], dtype=out.dtype)
        out = torch.cat([out, pad], dim=d + 1).reshape(*shape[:d], b, *shape[d + 1:])
    return out


def _unpad(big: torch.Tensor, small_shape: torch.Size, width: int, full: int) -> torch.Tensor:
    """The inverse of ``_pad``: the width-``width`` network's tensor inside a padded one."""
    out = big
    for d, (a, b) in enumerate(zip(small_shape, big.shape)):
        if a == b:
            continue
        blocks = a // width
        shape = list(out.shape)
        out = out.reshape(*shape[:d], blocks, full, *shape[d + 1:]).narrow(d + 1, 0, width)
        out = out.reshape(*shape[:d], a, *shape[d + 1:])
    return out


def _share_each(classes: torch.Tensor, targets: torch.Tensor) -> list[float]:
    return [share_exact(classes[i], targets) for i in range(classes.shape[0])]


def _split(problem, settings: dict[str, Any], seed: int):
    """The encoding, the whole example batch and targets, and the fitting and held-out parts (a held-out tenth
    decides when to stop, unless the examples are the domain), with the generator minibatches are drawn from."""
    ex = problem.examples
    encoding = Encoding.of(problem, ex.outputs, ex.lengths)
    batch = encoding.batch(ex.inputs, ex.lengths)
    targets = encoding.targets(ex.outputs, ex.lengths)
    rng = np.random.default_rng(seed)
    if ex.complete or len(ex) < 20:
        fit_idx, val_idx = np.arange(len(ex)), np.arange(0)
    else:
        order = rng.permutation(len(ex))
        cut = max(1, len(ex) // 10)
        fit_idx, val_idx = np.sort(order[cut:]), np.sort(order[:cut])
    return encoding, batch, targets, rng, fit_idx, val_idx


def fit(problem, arch: str, settings: dict[str, Any], widths: list[int], seeds: list[int], *, seconds: float,
        seed: int, start: float) -> Fitted:
    """Train the network of ``widths[0]`` from ``seeds[0]``, or with several candidates run the width search
    (``_race``): keep the narrowest exact one or, if none is exact, the most accurate."""
    if len(widths) * len(seeds) > 1:
        return _race(problem, arch, settings, widths, seeds, seconds=seconds, seed=seed, start=start)
    from .models import build
    from .train import SIZE_KEYS, WIDTH_KEY, nonfinite

    encoding, batch, targets, rng, fit_idx, val_idx = _split(problem, settings, seed)
    fit_b, fit_t = batch.take(fit_idx), targets[torch.as_tensor(fit_idx)]
    val_b, val_t = batch.take(val_idx), targets[torch.as_tensor(val_idx)]
    size = settings.get("batch") or len(fit_idx)
    minibatch = len(fit_idx) > size
    w, s = widths[0], seeds[0]
    torch.manual_seed(s)
    model = build(arch, encoding, **{k: (w if k == WIDTH_KEY[arch] else settings[k]) for k in SIZE_KEYS[arch]})
    opt = torch.optim.AdamW(list(model.parameters()), lr=settings["lr"], weight_decay=settings["weight_decay"],
                            betas=(0.9, 0.98))
    every, regress, adam_until = _schedule(settings, start, seconds)
    wait = REGRESS_SETTLE if regress else SETTLE  # times the first argmax-exact step a network waits for the margin
    noise = state_noise(model, settings)
    anneal = 1.0 if regress else float(settings.get("anneal", 1.0))
    polish = False
    steps, status, reasons = 0, "budget", []
    exact_at = None
    margin = None if problem.examples.complete else SURE  # exact on the whole domain needs no margin
    loose_at, loose = None, None  # the first step exact by argmax alone, and its surest such weights
    loose_sure = -1.0  # the share of examples named with the margin by ``loose``
    history: list[tuple[float, float, float]] = []
    last_loss = float("inf")
    acc = 0.0
    perm, pos = None, 0
    work, per_example = 0.0, float(model.flops())

    settled_when = None

    def settle(when: str) -> None:
        nonlocal exact_at, status, settled_when
        model.load_state_dict(loose)
        exact_at, status, settled_when = loose_at, "trained", when

    while True:
        if steps % every == 0:
            with torch.no_grad():
                bad = nonfinite(model)
                if bad:  # a step can break weights the next loss would not show (a budget stop, unused rows)
                    status = "error"
                    reasons.append(f"training diverged: the weights ({', '.join(bad)}) became NaN or inf by step {steps}")
                    break
                model.eval()
                fit_named = predicted(model, fit_b, margin)
                val_named = predicted(model, val_b, margin) if val_b.size else None
                fit_acc = share_exact(argmax_of(fit_named), fit_t)
                val_acc = share_exact(argmax_of(val_named), val_t) if val_b.size else 1.0
                sure = min(share_exact(fit_named, fit_t), share_exact(val_named, val_t) if val_b.size else 1.0)
            acc = min(fit_acc, val_acc)
            if sure == 1.0:
                exact_at, status = steps, "trained"
                break
            if acc == 1.0 and sure >= loose_sure:
                if loose_at is None and anneal != 1.0:  # settle into the margin at a lower rate
                    for group in opt.param_groups:
                        group["lr"] = settings["lr"] * anneal
                loose_at = steps if loose_at is None else loose_at
                loose, loose_sure = {k: v.detach().clone() for k, v in model.state_dict().items()}, sure
            if loose is not None and steps >= wait * max(every, loose_at):
                settle(f"after {steps} steps")
                break
            elapsed = time.perf_counter() - start
            if elapsed > adam_until:
                if loose is not None:
                    settle("when the budget ran out")
                elif elapsed < seconds:
                    polish = True
                else:
                    reasons.append(f"stopped at the {seconds:g} s budget after {steps} steps before reaching 100%")
                break
            history.append((elapsed, acc, last_loss))
            why = _hopeless(history, seconds, settings.get("give_up_after", GIVE_UP_AFTER))
            if why and loose is not None:  # waiting for the margin, the accuracy stopped rising
                settle(f"when its accuracy stopped rising ({why})")
                break
            if why and regress:
                polish = True
                break
            if why:
                reasons.append(f"stopped early, at {elapsed:.3g} s of the {seconds:g} s budget after {steps} steps: {why}")
                break
        if minibatch:
            idx, perm, pos = _draw(rng, perm, pos, len(fit_idx), size)
            step_b, step_t = fit_b.take(idx), fit_t[idx]
        else:
            step_b, step_t = fit_b, fit_t
        opt.zero_grad(set_to_none=True)
        model.train()
        with noisy_states(model, noise):
            loss = loss_of(model, step_b, step_t, bool(settings.get("late")))
        if not torch.isfinite(loss):
            status = "error"
            reasons.append(f"training diverged: the loss became {loss.detach().item()} at step {steps}")
            break
        loss.backward()
        last_loss = float(loss.detach())
        opt.step()
        steps += 1
        work += len(step_t) * per_example
    extra: dict[str, Any] = {}
    exact = [[exact_at is not None]]
    if settled_when is not None:
        note = _settled(model, regress, settled_when, fit_b, fit_t, val_b, val_t, start + seconds, extra, margin, start)
        work += extra.get("margin_polish", {}).get("passes", 0) * len(fit_t) * per_example
        if note:
            reasons.append(note)
    if polish and status == "budget":
        ok, note, rounds, passes = _polish(model, fit_b, fit_t, val_b, val_t, start + seconds)
        work += passes * len(fit_t) * per_example
        extra["polish"] = {"rounds": rounds, "exact": ok}
        if ok:
            status, exact = "trained", [[True]]
        else:
            reasons.append(note)
    model.eval()
    with torch.no_grad():
        held = share_exact(predicted(model, val_b), val_t) if len(val_idx) else None
    return Fitted(model, encoding, w, s, status, reasons, steps, exact, [[exact_at]], batch, targets, held,
                  len(fit_idx), extra, work)


def scale_steps(params: dict[str, torch.Tensor], before: dict[str, torch.Tensor], rows: list[int],
                factors: list[float]) -> None:
    """Scale the step just taken by the stacked ``params`` at ``rows`` (from their values ``before`` it) by
    ``factors``: an AdamW step, its weight decay included, is proportional to the learning rate and its moments
    do not depend on it, so this is the step at ``factor`` times the rate, one candidate at a time."""
    f = torch.as_tensor(factors, dtype=torch.float32)
    with torch.no_grad():
        for k, p in params.items():
            b = before[k]
            p[rows] = b + f.view(-1, *[1] * (b.ndim - 1)) * (p[rows] - b)


# MIPS's search for the smallest network, one network at a time, for a numeric regressing ReLU Elman net
# (``ladder_applies``): narrowest first, each width from each initial seed, a network trained alone (AdamW, then the
# L-BFGS polish) for ``LADDER_SLICE`` of the budget, until one is exact. Measured on MIPS's integer streams (bench/
# mips_tasks.py, BENCHMARKS.md "Issue 16's MIPS list through the public API"): the batched race's first rung drops
# half its candidates while every regressing net is at accuracy 0, by squared error, which favours the widest, and
# only the kept candidate is polished; so it kept widths of 16-24 that were exact on the examples and wrong on
# 0.01-4% of the domain, where a 2-unit net trained alone for 3 s was exact on the whole domain (sum of the last 2,
# previous element). Widths past ``LADDER_WIDTHS`` and what the ladder leaves (``LADDER_SHARE``) go to the race.
LADDER_WIDTHS = (1, 2, 3, 4, 6, 8)
LADDER_SHARE = 0.7  # of the budget, the most the ladder takes before the race trains on the rest
LADDER_SLICE = 0.1  # of the budget, each network of the ladder
LADDER_MIN_SLICE = 1.0  # seconds: a shorter slice is not worth a network
LADDER_SEEDS = 3  # initial seeds per width (at least)
LADDER_CONTINUE = 0.9  # a rung at least this accurate on its examples, none exact: polished on, in place of the race


def ladder_applies(problem, arch: str, settings: dict[str, Any]) -> bool:
    """Whether the width search runs as a ladder (``fit_ladder``): a numeric ReLU Elman net that regresses answers
    the examples show to be affine in the inputs read so far (``affine_in_history``: a sum, a delay, a difference,
    a position under force). On running maxima, minima and absolute differences the ladder's short slices found no
    exact net and the race on what they left did worse than on the whole budget (BENCHMARKS.md), so those keep the race."""
    return (arch == "rnn" and bool(settings.get("numeric")) and bool(settings.get("regress")) and settings.get("act") == "relu"
            and affine_in_history(problem))


def affine_in_history(problem, tol: float = 1e-6) -> bool:
    """Whether every answer of a one-head sequence problem is, position by position, an affine function of the
    inputs read so far (least squares over the examples of each position leaves no residual): the answers of a
    linear recurrence. Only the examples are read."""
    ex = problem.examples
    if not problem.sequences or ex.lengths is None:
        return False
    out = np.asarray(ex.outputs, dtype=np.float64)
    lengths = np.asarray(ex.lengths)
    seqs = [np.asarray(ex.inputs[n], dtype=np.float64) for n in problem.sequences]
    scal = [np.asarray(ex.inputs[n], dtype=np.float64).reshape(len(lengths), -1) for n in ex.inputs if n not in problem.sequences]
    scan = problem.kind == "scan"
    if out.ndim != (2 if scan else 1) or any(s.ndim != 2 for s in seqs):
        return False
    for t in range(seqs[0].shape[1]):
        rows = lengths > t if scan else lengths == t + 1
        if rows.sum() == 0:
            continue
        feats = np.hstack([s[rows, :t + 1] for s in seqs] + [c[rows] for c in scal] + [np.ones((int(rows.sum()), 1))])
        y = out[rows, t] if scan else out[rows]
        coef, *_ = np.linalg.lstsq(feats, y, rcond=None)
        if np.abs(feats @ coef - y).max() > tol * max(1.0, np.abs(y).max()):
            return False
    return True


def fit_ladder(problem, arch: str, settings: dict[str, Any], widths: list[int], seeds: list[int], *, seconds: float,
               seed: int, start: float) -> Fitted:
    """The width search as a ladder: each of ``LADDER_WIDTHS`` (those within ``widths``), narrowest first, from each
    of ``seeds`` (extended to ``LADDER_SEEDS``), trained alone (``fit``) for ``LADDER_SLICE`` of ``seconds`` while
    the ladder's share (``LADDER_SHARE``) lasts; the first exact one is kept. If none is, the most accurate rung, if
    at least ``LADDER_CONTINUE`` accurate on its examples, is polished (``_polish``) for the rest of the budget
    (a 4-unit sum of the last 3 stood at 0.999 when its slice ran out); else the race (``_race``, over ``widths``
    and the seeds given) runs on what is left. ``extra["search"]["ladder"]`` records each rung (width, seed, status,
    steps, seconds, accuracy on the examples) and ``"continued"`` the polished one; with a ladder network kept,
    the search record's widths and seeds are the ladder's."""
    rungs = [w for w in LADDER_WIDTHS if w <= max(widths)]
    tried: list[dict[str, Any]] = []
    work = 0.0
    best = None  # the most accurate rung short of exact: (accuracy, fitted, width, seed)
    race_seeds, seeds = seeds, list(seeds) + [max(seeds) + 1 + i for i in range(LADDER_SEEDS - len(seeds))]
    until = start + LADDER_SHARE * seconds

    def record(**more) -> dict[str, Any]:  # the search record of a ladder network kept
        steps = [[next((t["steps"] for t in tried if (t["width"], t["seed"]) == (w_, s_)), 0) for s_ in seeds]
                 for w_ in rungs]
        return {"widths": rungs, "seeds": seeds, "ladder": tried, **more, "trained_steps": steps, "dropped": [],
                "networks": len(tried)}

    for w in rungs:
        for s in seeds:
            now = time.perf_counter()
            share = min(LADDER_SLICE * seconds, until - now)
            if share < LADDER_MIN_SLICE:
                break
            one = fit(problem, arch, settings, [w], [s], seconds=share, seed=seed, start=now)
            work += one.work
            tried.append({"width": w, "seed": s, "status": one.status, "steps": one.steps,
                          "seconds": round(time.perf_counter() - now, 3)})
            with torch.no_grad():
                acc = share_exact(predicted(one.model, one.batch), one.targets)
            tried[-1]["accuracy"] = round(acc, 5)
            if one.status != "trained" and (best is None or acc > best[0]):
                best = (acc, one, w, s)
            if one.status == "trained":
                exact = [[any(t["width"] == w_ and t["seed"] == s_ and t["status"] == "trained" for t in tried)
                          for s_ in seeds] for w_ in rungs]
                at = [[one.candidate_steps[0][0] if (w_, s_) == (w, s) else None for s_ in seeds] for w_ in rungs]
                one.extra["search"] = record()
                one.exact, one.candidate_steps, one.work = exact, at, work
                return one
    if best is not None and best[0] >= LADDER_CONTINUE:  # nearly exact: its L-BFGS polish takes the rest of the budget
        acc, one, w, s = best
        _, _, _, _, fit_idx, val_idx = _split(problem, settings, seed)
        fit_b, fit_t = one.batch.take(fit_idx), one.targets[torch.as_tensor(fit_idx)]
        val_b, val_t = one.batch.take(val_idx), one.targets[torch.as_tensor(val_idx)]
        ok, note, rounds, passes = _polish(one.model, fit_b, fit_t, val_b, val_t, start + seconds)
        work += passes * len(fit_t) * float(one.model.flops())
        one.model.eval()
        one.extra["polish"] = {"rounds": rounds, "exact": ok}
        one.reasons = [] if ok else [note]
        one.status = "trained" if ok else one.status
        with torch.no_grad():
            one.heldout = share_exact(predicted(one.model, val_b), val_t) if len(val_idx) else None
        one.extra["search"] = record(continued={"width": w, "seed": s, "from": acc})
        one.exact = [[ok and (w_, s_) == (w, s) for s_ in seeds] for w_ in rungs]
        one.candidate_steps = [[None for _ in seeds] for _ in rungs]
        one.work = work
        return one
    left = seconds - (time.perf_counter() - start)
    rest = _race(problem, arch, settings, widths, race_seeds, seconds=max(left, 1e-3), seed=seed, start=time.perf_counter())
    rest.extra.setdefault("search", {})["ladder"] = tried
    rest.work += work
    return rest


def _draw(rng, perm, pos: int, n: int, size: int):
    """The next ``size`` rows of a permutation of ``n`` (a fresh one when it runs out): (rows, perm, pos)."""
    if perm is None or pos + size > n:
        perm, pos = torch.as_tensor(rng.permutation(n)), 0
    return perm[pos:pos + size], perm, pos + size


def _schedule(settings: dict[str, Any], start: float, seconds: float) -> tuple[int, bool, float]:
    """(steps between checks, whether the net regresses, the elapsed seconds until which AdamW trains): a
    regressing net is polished after ``POLISH_AFTER`` of the budget left once training begins (the budget
    already spent building the encoding read only for it)."""
    regress = bool(settings.get("regress"))
    began = time.perf_counter() - start if regress else 0.0
    return settings["eval_every"], regress, (began + POLISH_AFTER * (seconds - began) if regress else seconds)


def on_stack(module: nn.Module, stack: dict[str, torch.Tensor], args: tuple) -> torch.Tensor:
    """``module`` run by ``functional_call`` on each row of ``stack`` (stacked parameters and buffers), the
    results stacked. One row (the margin's wait, the grace, a whole-set check of one candidate) runs on it
    directly: the same function and gradients as under ``vmap``, whose batching costs a GRU about twice the
    step there (BENCHMARKS.md, "Training plus reading per task: session 12")."""
    if next(iter(stack.values())).shape[0] == 1:
        return functional_call(module, {k: v[0] for k, v in stack.items()}, args)[None]
    return vmap(lambda p: functional_call(module, p, args))(stack)


def _restack(tensors: dict[str, torch.Tensor], rows: list[int], own: list[dict[str, torch.Size]], cands, old: int,
             new: int, shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """The stacked ``tensors`` (padded to width ``old``) kept at ``rows`` only, each re-padded to width ``new``
    (``shapes``: a width-``new`` network's); ``own[i]``: candidate ``rows[i]``'s own shapes."""
    return {k: torch.stack([_pad(_unpad(v.detach()[r], own[j][k], cands[r][0], old), shapes[k], cands[r][0], new)
                            for j, r in enumerate(rows)]) for k, v in tensors.items()}


def _race(problem, arch: str, settings: dict[str, Any], widths: list[int], seeds: list[int], *, seconds: float,
          seed: int, start: float) -> Fitted:
    """The width search: every (width, seed) candidate trained at once, candidates dropped as they lose, so the
    pass costs about what one training costs (see the module's docstring)."""
    from .models import build
    from .train import SIZE_KEYS, WIDTH_KEY

    encoding, batch, targets, rng, fit_idx, val_idx = _split(problem, settings, seed)
    fit_b, fit_t = batch.take(fit_idx), targets[torch.as_tensor(fit_idx)]
    val_b, val_t = batch.take(val_idx), targets[torch.as_tensor(val_idx)]
    probe = np.random.default_rng([seed, 1])  # its own generator: the minibatches stay those of ``rng``
    fit_p = np.sort(probe.permutation(len(fit_idx))[:SEARCH_PROBE])
    val_p = np.sort(probe.permutation(len(val_idx))[:SEARCH_PROBE // 4])
    probe_fb, probe_ft = fit_b.take(fit_p), fit_t[torch.as_tensor(fit_p)]
    probe_vb, probe_vt = val_b.take(val_p), val_t[torch.as_tensor(val_p)]
    size = settings.get("batch") or len(fit_idx)

    key = WIDTH_KEY[arch]
    cands = [(w, s) for w in widths for s in seeds]
    n = len(cands)
    # the network ``search=False`` trains (the default width, the first seed): no rung drops it
    incumbent = cands.index((settings[key], seeds[0])) if (settings[key], seeds[0]) in cands else None
    models = []
    for w, s in cands:
        torch.manual_seed(s)
        models.append(build(arch, encoding, **{k: (w if k == key else settings[k]) for k in SIZE_KEYS[arch]}))
    own_p = [{k: v.shape for k, v in m.named_parameters()} for m in models]
    own_b = [{k: v.shape for k, v in m.named_buffers()} for m in models]
    alive = list(range(n))  # the rows of the stack, in candidate order
    full = max(widths)
    widest = max(alive, key=lambda i: cands[i][0])
    params = {k: torch.stack([_pad(dict(m.named_parameters())[k].detach(), v, cands[i][0], full)
                              for i, m in enumerate(models)]).requires_grad_(True) for k, v in own_p[widest].items()}
    buffers = {k: torch.stack([_pad(dict(m.named_buffers())[k], v, cands[i][0], full) for i, m in enumerate(models)])
               for k, v in own_b[widest].items()}
    template = models[widest]  # functional_call takes its code; the shapes come from the stacked tensors
    margin = None if problem.examples.complete else SURE  # as ``fit`` alone: the whole domain needs no margin
    noise = state_noise(template, settings)
    objective, classes_of = _Objective(template, noise, bool(settings.get("late"))), _Classes(template, margin)

    def stacked(rows=None):
        pb = {**{"model." + k: v for k, v in params.items()}, **{"model." + k: v for k, v in buffers.items()}}
        return pb if rows is None else {k: v[rows] for k, v in pb.items()}

    def losses(b: Batch, t: torch.Tensor, noisy: bool = False) -> torch.Tensor:
        if not (noisy and noise):
            return on_stack(objective, stacked(), (b, t))
        own = torch.stack([(torch.arange(full) < cands[i][0]).float() for i in alive])  # no noise on the padding
        return vmap(lambda p, o: functional_call(objective, p, (b, t, o)), randomness="different")(stacked(), own)

    def named(b: Batch, rows=None) -> torch.Tensor:
        return on_stack(classes_of, stacked(rows), (b,))

    lr_now, calmed, calm_log = settings["lr"], 0, []  # the rate, lowered by ``CALM`` when the trend is unsettled

    def make_opt():
        return torch.optim.AdamW(list(params.values()), lr=lr_now, weight_decay=settings["weight_decay"],
                                 betas=(0.9, 0.98))

    opt = make_opt()
    rate = [1.0] * n  # each candidate's share of the learning rate (``anneal`` once it is exact by argmax)
    every, regress, adam_until = _schedule(settings, start, seconds)
    anneal = 1.0 if regress else float(settings.get("anneal", 1.0))
    wait = REGRESS_SETTLE if regress else SETTLE  # times the first argmax-exact step a network waits for the margin
    polish = False
    steps, status, reasons = 0, "budget", []
    kept: dict[int, dict[str, torch.Tensor]] = {}  # weights (own shapes) of exact and dropped candidates
    exact_at: list[int | None] = [None] * n  # the step a candidate counted as exact (the margin reached, or settled)
    loose_at: list[int | None] = [None] * n  # the first step it was exact by argmax alone
    loose: dict[int, dict[str, torch.Tensor]] = {}  # its surest weights exact by argmax (own shapes)
    loose_sure: dict[int, float] = {}  # the share of examples those weights name with the margin
    settled: dict[int, str] = {}  # exact by argmax alone (the margin's fallback): when it settled
    trained_steps: list[int] = [0] * n
    trained_rows: list[int] = [0] * n
    per_example = [float(m.flops()) for m in models]
    work = 0.0
    accs = [0.0] * n
    probe_loss = [math.inf] * n  # a regressing candidate's squared error on the probe at the last check
    dropped: list[dict[str, Any]] = []
    history: list[tuple[float, float, float]] = []
    last_loss = float("inf")
    rung = SEARCH_RUNG
    share = n  # a step's rows are split this many ways; halved at each rung, as successive halving doubles a survivor's
    perm, pos = None, 0

    def own_weights(i: int) -> dict[str, torch.Tensor]:
        row = alive.index(i)
        return {k: _unpad(v.detach()[row], own_p[i][k], cands[i][0], full).clone() for k, v in params.items()}

    def settle(i: int, when: str) -> None:
        """Candidate ``i`` counts as exact with its latest argmax-exact weights (the margin not reached)."""
        kept[i], exact_at[i], settled[i] = loose[i], loose_at[i], when

    def leave(gone: dict[int, str]) -> None:
        """Take candidates out of the stack (their weights kept), re-stacked at the widest width left."""
        nonlocal params, buffers, opt, full, alive
        if not gone:
            return
        for i, why in gone.items():
            kept.setdefault(i, own_weights(i))
            if why != "exact":
                dropped.append({"width": cands[i][0], "seed": cands[i][1], "step": steps, "why": why})
        rows = [r for r, i in enumerate(alive) if i not in gone]
        left = [alive[r] for r in rows]
        if not left:
            alive = []
            return
        new = max(cands[i][0] for i in left)
        wide = max(left, key=lambda i: cands[i][0])
        state = {name: opt.state[p] for name, p in params.items() if p in opt.state}
        params = {k: v.requires_grad_(True) for k, v in
                  _restack(params, rows, [own_p[i] for i in left], [cands[i] for i in alive], full, new, own_p[wide]).items()}
        buffers = _restack(buffers, rows, [own_b[i] for i in left], [cands[i] for i in alive], full, new, own_b[wide])
        fresh = make_opt()
        for name, p in params.items():
            if name in state:
                old = state[name]
                moved = {m: _restack({name: old[m]}, rows, [own_p[i] for i in left], [cands[i] for i in alive], full,
                                     new, own_p[wide])[name] for m in ("exp_avg", "exp_avg_sq")}
                fresh.state[p] = {"step": old["step"].clone(), **moved}
        opt, full, alive = fresh, new, left

    while True:
        if steps % every == 0:
            with torch.no_grad():
                finite = [all(bool(torch.isfinite(v[r]).all()) for v in params.values()) for r in range(len(alive))]
                fit_acc = _share_each(argmax_of(named(probe_fb)), probe_ft)
                val_acc = _share_each(argmax_of(named(probe_vb)), probe_vt) if len(val_p) else [1.0] * len(alive)
                # a regressing net's accuracy stays 0 until its values are within rounding of the answers: its
                # squared error on the probe (fitting and held-out rows) ranks it among equals
                err = ((losses(probe_fb, probe_ft) + (losses(probe_vb, probe_vt) if len(val_p) else 0.0)).tolist()
                       if regress else [0.0] * len(alive))
                gone: dict[int, str] = {}
                for r, i in enumerate(alive):
                    if not finite[r]:
                        gone[i], accs[i] = "diverged", 0.0
                        continue
                    accs[i] = min(fit_acc[r], val_acc[r])
                    probe_loss[i] = err[r] if math.isfinite(err[r]) else math.inf
                    if accs[i] == 1.0:  # exact on the probe: now on every example, and with the margin?
                        whole = [(named(b, [r])[0], t) for b, t in ((fit_b, fit_t), (val_b, val_t)) if b.size]
                        accs[i] = min(share_exact(argmax_of(x), t) for x, t in whole)
                        sure = min(share_exact(x, t) for x, t in whole)
                        if sure == 1.0:
                            exact_at[i], gone[i] = steps, "exact"
                        elif accs[i] == 1.0 and sure >= loose_sure.get(i, -1.0):
                            if loose_at[i] is None:
                                rate[i] = anneal
                            loose_at[i] = steps if loose_at[i] is None else loose_at[i]
                            loose[i], loose_sure[i] = own_weights(i), sure
            # a candidate exact by argmax waits for the margin, and counts as exact either way (its fallback):
            # the drop rules read the widths exact by argmax
            reached = [i for i in range(n) if exact_at[i] is not None or loose_at[i] is not None]
            first = min((exact_at[i] if loose_at[i] is None else loose_at[i] for i in reached), default=None)
            for i in alive:
                if i not in gone and loose_at[i] is not None and \
                        steps >= wait * max(every, first):
                    settle(i, f"after {steps} steps")
                    gone[i] = "exact"
            done = [i for i in range(n) if exact_at[i] is not None]
            if reached:
                narrowest = min(cands[i][0] for i in reached)
                there = any(cands[i][0] == narrowest for i in done)
                for i in alive:
                    if i in gone:
                        continue
                    if cands[i][0] > narrowest or (cands[i][0] == narrowest and there):
                        gone[i] = f"width {narrowest} is exact"
                    elif loose_at[i] is None and steps >= GRACE * first:
                        gone[i] = f"no exact width below {narrowest} after {GRACE:g}x the steps width {narrowest} needed"
            elif steps >= rung and len(alive) - len(gone) > 1:
                # ties go to the wider candidate: equal accuracy (a majority-class plateau) says nothing of who
                # learns, and a narrow net on a plateau is the likelier to stay there; a regressing net's accuracy
                # stays 0 until its values are within rounding of the answers, so there its squared error on the
                # probe (fitting and held-out rows) ranks first among equals
                left = sorted((i for i in alive if i not in gone),
                              key=lambda i: (-accs[i], probe_loss[i], -cands[i][0], cands[i][1]))
                for i in left[(len(left) + 1) // 2:]:
                    if i == incumbent:
                        continue
                    gone[i] = f"in the less accurate half at the rung of step {steps} ({accs[i]:.3f})"
                rung, share = 2 * rung, max(1, share // 2)
            leave(gone)
            if not alive:
                status = "trained" if done else "error"
                if not done:
                    reasons.append(f"training diverged: every candidate's weights became NaN or inf by step {steps}")
                break
            elapsed = time.perf_counter() - start
            waiting = [i for i in alive if loose_at[i] is not None]
            if elapsed > adam_until:
                for i in waiting:
                    settle(i, "when the budget ran out")
                if done or waiting:
                    status = "trained"
                elif elapsed < seconds:
                    polish = True
                else:
                    reasons.append(f"stopped at the {seconds:g} s budget after {steps} steps before reaching 100%")
                break
            history.append((elapsed, max(accs[i] for i in alive), last_loss))
            why = _hopeless(history, seconds, settings.get("give_up_after", GIVE_UP_AFTER))
            if why and not regress and settings.get("calm") and calmed < CALM_TIMES and unsettled(history):
                # near exact and falling back: AdamW at this rate oscillates, so the rate falls instead of the run
                # stopping (the trend starts over)
                calmed += 1
                lr_now *= CALM
                for group in opt.param_groups:
                    group["lr"] = lr_now
                calm_log.append({"step": steps, "seconds": round(elapsed, 3), "lr": lr_now})
                history.clear()
                why = None
            if why and waiting:  # waiting for the margin, the accuracy stopped rising
                for i in waiting:
                    settle(i, f"when its accuracy stopped rising ({why})")
                status = "trained"
                break
            if why and not done and regress:
                polish = True
                break
            if why and not done:
                reasons.append(f"stopped early, at {elapsed:.3g} s of the {seconds:g} s budget after {steps} steps: {why}")
                break
        # one training's rows per step shared among the candidates; one that leaves, exact or beaten by a narrower
        # width, frees its rows (the step gets cheaper), and only a rung gives the survivors more
        rows_per = min(size, max(SEARCH_MIN_BATCH, -(-size // share)))
        if len(fit_idx) > rows_per:
            idx, perm, pos = _draw(rng, perm, pos, len(fit_idx), rows_per)
            step_b, step_t = fit_b.take(idx), fit_t[idx]
        else:
            step_b, step_t = fit_b, fit_t
        opt.zero_grad(set_to_none=True)
        each = losses(step_b, step_t, noisy=True)
        finite_loss = torch.isfinite(each.detach())
        loss = torch.where(finite_loss, each, 0.0).sum()
        loss.backward()
        last_loss = float(loss.detach()) / len(alive)
        bad = [r for r in range(len(alive)) if not bool(finite_loss[r])]
        if bad:  # a diverged candidate stops moving (its NaNs must not reach the others' steps); it leaves at the check
            for p in params.values():
                if p.grad is not None:
                    p.grad[bad] = 0.0
            with torch.no_grad():
                for p in params.values():
                    p[bad] = float("nan")
        slow = [r for r, i in enumerate(alive) if rate[i] != 1.0]
        before = {k: p.detach()[slow].clone() for k, p in params.items()} if slow else None
        opt.step()
        if slow:
            scale_steps(params, before, slow, [rate[alive[r]] for r in slow])
        for i in alive:
            trained_steps[i] += 1
            trained_rows[i] += len(step_t)
        work += len(step_t) * sum(per_example[i] for i in alive)
        steps += 1

    for i in alive:  # still training at the end: kept as they are (a settled one with its argmax-exact weights)
        kept.setdefault(i, own_weights(i))
    done = [i for i in range(n) if exact_at[i] is not None]
    if status == "trained":  # the narrowest, one with the margin before one without, then the first, the lowest seed
        best = min(done, key=lambda i: (cands[i][0], i in settled, exact_at[i], seeds.index(cands[i][1])))
    elif regress:  # the polish takes the candidate nearest to exact: the most accurate, then the least error
        best = min(range(n), key=lambda i: (-accs[i], probe_loss[i], cands[i][0], seeds.index(cands[i][1])))
    else:
        best = max(range(n), key=lambda i: (accs[i], -cands[i][0], -seeds.index(cands[i][1])))
    w, s = cands[best]
    chosen = models[best]
    with torch.no_grad():
        for k, p in chosen.named_parameters():
            p.copy_(kept[best][k])
    def grid(values: list) -> list[list]:
        return [[values[widths.index(w_) * len(seeds) + j] for j in range(len(seeds))] for w_ in widths]

    extra: dict[str, Any] = {"search": {"dropped": dropped, "trained_steps": grid(trained_steps), "calmed": calm_log,
                                        "trained_rows": grid(trained_rows), "networks": n,
                                        "settled": grid([i in settled for i in range(n)]),
                                        "argmax_steps": grid([exact_at[i] if loose_at[i] is None else loose_at[i]
                                                              for i in range(n)])}}
    exact = [[exact_at[widths.index(w_) * len(seeds) + j] is not None for j in range(len(seeds))] for w_ in widths]
    at = [[exact_at[widths.index(w_) * len(seeds) + j] for j in range(len(seeds))] for w_ in widths]
    if status == "trained" and best in settled:
        note = _settled(chosen, regress, settled[best], fit_b, fit_t, val_b, val_t, start + seconds, extra, margin, start)
        work += extra.get("margin_polish", {}).get("passes", 0) * len(fit_t) * per_example[best]
        if note:
            reasons.append(note)
    if polish and status == "budget":
        ok, note, rounds, passes = _polish(chosen, fit_b, fit_t, val_b, val_t, start + seconds)
        work += passes * len(fit_t) * per_example[best]
        extra["polish"] = {"rounds": rounds, "exact": ok}
        if ok:
            status = "trained"
            exact[widths.index(w)][seeds.index(s)] = True
        else:
            reasons.append(note)
    chosen.eval()
    with torch.no_grad():
        held = share_exact(predicted(chosen, val_b), val_t) if len(val_idx) else None
    return Fitted(chosen, encoding, w, s, status, reasons, steps, exact, at, batch, targets, held, len(fit_idx), extra,
                  work)


def _polish(model: nn.Module, fit_b: Batch, fit_t: torch.Tensor, val_b: Batch, val_t: torch.Tensor,
            deadline: float, sure: float | None = None) -> tuple[bool, str, int, int]:
    """Full-batch L-BFGS on ``model``'s training loss (no weight decay) until it is exact on the fitting and
    held-out examples (with ``sure``, every value within the margin ``predicted`` reads it with), ``deadline``
    (a ``time.perf_counter`` reading) passes, or ``POLISH_STALL`` checks in a row cut the loss by under 1%. The
    most accurate weights seen are kept (exact by nearest value first, then with the margin, then the lowest
    loss), so a network exact when the polish begins stays exact.
    Returns whether it became exact, why it stopped if not, the checks it ran and the loss evaluations (each a
    forward and backward pass over the fitting examples) it took."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=POLISH_ROUNDS, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=0.0, tolerance_change=0.0)

    passes = 0

    def closure():
        nonlocal passes
        passes += 1
        opt.zero_grad(set_to_none=True)
        loss = loss_of(model, fit_b, fit_t)
        loss.backward()
        return loss

    def score() -> tuple[float, float, float]:
        """(share exact by nearest value, share exact with the margin, loss)."""
        model.eval()
        with torch.no_grad():
            parts = [(predicted(model, b, sure), t) for b, t in ((fit_b, fit_t), (val_b, val_t)) if b.size]
            near = min(share_exact(argmax_of(x), t) for x, t in parts)
            held = min(share_exact(x, t) for x, t in parts) if sure is not None else near
            return near, held, float(loss_of(model, fit_b, fit_t))

    def key(sc: tuple[float, float, float]) -> tuple[float, float, float]:
        return sc[0], sc[1], -sc[2]

    began = time.perf_counter()
    first = score()
    best = (key(first), {k: v.detach().clone() for k, v in model.state_dict().items()})
    stalled, rounds, last = 0, 0, first[2]
    why = "the budget ran out"
    what = "with the margin" if sure is not None else "exact"
    while time.perf_counter() < deadline:
        model.train()
        opt.step(closure)
        rounds += 1
        sc = score()
        loss = sc[2]
        if not np.isfinite(loss):
            why = f"the loss became {loss}"
            break
        if key(sc) > best[0]:
            best = (key(sc), {k: v.detach().clone() for k, v in model.state_dict().items()})
        if sc[1] == 1.0:
            return True, "", rounds, passes
        stalled = stalled + 1 if loss > 0.99 * last else 0
        last = loss
        if stalled >= POLISH_STALL:
            why = f"the loss fell by under 1% over {POLISH_STALL} checks of {POLISH_ROUNDS} iterations"
            break
    model.load_state_dict(best[1])
    b = best[0]
    return False, (f"stopped early, at {time.perf_counter() - began:.3g} s into an L-BFGS polish ({why}): accuracy "
                   f"{what} {first[1]:.3f} -> {b[1]:.3f}, loss {first[2]:.3g} -> {-b[2]:.3g}"
                   if why != "the budget ran out" else
                   f"stopped at the budget during an L-BFGS polish after {rounds} checks: accuracy {what} {first[1]:.3f} -> "
                   f"{b[1]:.3f}, loss {first[2]:.3g} -> {-b[2]:.3g}"), rounds, passes


def _settled(model: nn.Module, regress: bool, when: str, fit_b: Batch, fit_t: torch.Tensor, val_b: Batch,
             val_t: torch.Tensor, deadline: float, extra: dict[str, Any], sure: float | None, began: float) -> str:
    """A network kept exact by argmax alone (settled ``when``, its weights loaded): a regressing one is polished
    by L-BFGS towards the margin (``_polish`` with ``sure``: second-order steps settle a value where AdamW's
    steps, the size of the learning rate, oscillate around it) for at most ``MARGIN_POLISH`` times the seconds
    trained since ``began``, recorded in ``extra["margin_polish"]``; it stays exact by nearest value whatever
    the polish reaches. Returns the reason to record ("" when the polish reached the margin)."""
    if not regress:
        return f"exact on its examples, but some output named with probability under {SURE} {when}"
    now = time.perf_counter()
    ok, note, rounds, passes = _polish(model, fit_b, fit_t, val_b, val_t,
                                       min(deadline, now + MARGIN_POLISH * (now - began)), sure)
    extra["margin_polish"] = {"rounds": rounds, "passes": passes, "reached": ok}
    if ok:
        return ""
    return f"exact on its examples, but some value more than {REGRESS_SURE} of the gap from its named one {when}; {note}"


def unsettled(history: list[tuple[float, float, float]], near: float | None = None) -> bool:
    """Whether a run the trend calls hopeless is near exact and falling back (an oscillation, not a plateau): its
    best accuracy is at least ``near`` (``CALM_FROM``) and lower than at the start of the last half of the elapsed
    time, which is the window ``_hopeless`` reads."""
    near = CALM_FROM if near is None else near
    if len(history) < 2:
        return False
    now, acc, _ = history[-1]
    before = next(h for h in history if h[0] >= now / 2)[1]
    return max(acc, before) >= near and acc < before


def _hopeless(history: list[tuple[float, float, float]], seconds: float, after: float = GIVE_UP_AFTER) -> str | None:
    """Why the trend says no candidate becomes exact within ``seconds`` (None while it may): past
    ``after`` (``GIVE_UP_AFTER`` unless the settings say ``give_up_after``) of the budget, the best
    accuracy's rise over the last half of the elapsed time,
    continued at that rate to the end of the budget, stays short of 1, and the loss fell by less than a
    tenth over that half (a loss still falling may yet turn into accuracy)."""
    now, acc, loss = history[-1]
    if now < after * seconds or len(history) < 4:
        return None
    then, before, loss_before = next(h for h in history if h[0] >= now / 2)
    if now - then <= 0 or loss < 0.9 * loss_before:
        return None
    rate = (acc - before) / (now - then)
    reach = acc + rate * (seconds - now)
    if reach >= 1.0:
        return None
    return (f"over the last {now - then:.2g} s the best accuracy went from {before:.3f} to {acc:.3f} and the loss from "
            f"{loss_before:.3g} to {loss:.3g}; at that rate accuracy reaches {reach:.3f} by the end of the budget, not 1")


def normalise(model: nn.Module, encoding: Encoding, batch: Batch, targets: torch.Tensor) -> tuple[nn.Module, dict[str, Any]]:
    """``model`` rescaled and its weights snapped to round values, each change kept only if the network stays
    exact on ``batch``; returns the network and what applied (``{"rescaled": bool, "snapped": {name: grid}}``)."""
    from .train import accuracy

    applied: dict[str, Any] = {"rescaled": False, "snapped": {}}
    if accuracy(model, encoding, batch, targets) < 1.0:
        return model, applied
    from .basis import linear_state, normalise_state

    if linear_state(model):  # MIPS's cell: whitened, then on its integer lattice or its modes
        applied["state"] = normalise_state(model, batch, lambda m: accuracy(m, encoding, batch, targets) == 1.0)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if _rescale(model):
        if accuracy(model, encoding, batch, targets) == 1.0:
            applied["rescaled"] = True
            saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            model.load_state_dict(saved)
    with torch.no_grad():
        for name, p in model.named_parameters():
            before = p.detach().clone()
            for grid in GRIDS:
                p.copy_(torch.round(before / grid) * grid)
                if accuracy(model, encoding, batch, targets) == 1.0:
                    applied["snapped"][name] = grid
                    break
                p.copy_(before)
    return model, applied


def _rescale(model: nn.Module) -> bool:
    """Rescale each ReLU hidden unit by a positive factor so its outgoing (readout) weights have largest
    magnitude 1, compensating on its incoming weights: the same function in a basis where units carry
    output-sized values. Only where that is a change of basis (an MLP, a ReLU Elman net); False elsewhere."""
    with torch.no_grad():
        if model.arch == "mlp":
            c = model.out.weight.abs().amax(0)
            c = torch.where(c > 0, c, torch.ones_like(c))
            model.hidden.weight.mul_(c[:, None])
            model.hidden.bias.mul_(c)
            model.out.weight.div_(c[None, :])
            return True
        if model.arch == "rnn" and getattr(model, "act", "tanh") == "relu":
            c = model.readout.weight.abs().amax(0)
            c = torch.where(c > 0, c, torch.ones_like(c))
            cell = model.cell
            cell.weight_ih.mul_(c[:, None])
            cell.bias_ih.mul_(c)
            cell.bias_hh.mul_(c)
            cell.weight_hh.mul_(c[:, None]).div_(c[None, :])
            model.readout.weight.div_(c[None, :])
            model.h0.mul_(c)
            return True
    return False


# Sure on the domain's inputs (issues 15 and 16). A token recurrent net exact on its examples can be wrong on a small
# share of the domain; measured on stream addition in bases 6-7 and running sums mod 7-8 (BENCHMARKS.md, "Sure on
# the domain's inputs"), most of those errors are where the net is unsure (some output named with probability under
# ``SURE``), and training on with the examples' loss plus the net's own sure answers on the domain's inputs (no
# answers: ``problem.domain_inputs``) shrinks the unsure set and the errors with it.
DOMAIN_REFRESH = 50  # steps between two refreshes of the pseudo-labels (and checks) of the domain phase
DOMAIN_STALL = 8  # the domain phase stops after this many checks in a row without fewer unsure domain inputs
DOMAIN_ROWS = 1024  # rows of each kind (examples, domain inputs) in one step of the domain phase
DOMAIN_LR = 1e-2  # its AdamW rate at the start, falling linearly to the deadline
DOMAIN_FLOOR = 0.05  # the least share of ``DOMAIN_LR`` the rate falls to


def domain_phase_applies(model: nn.Module, problem) -> bool:
    """Whether ``sure_on_domain`` runs on ``model``: a recurrent net over tokens (not numeric) whose examples are
    not the whole domain."""
    return hasattr(model, "cell") and not getattr(model, "numeric", True) and not problem.examples.complete


def unsure_rows(named: torch.Tensor, lengths: np.ndarray | None, kind: str) -> torch.Tensor:
    """``[n]``: the inputs some of whose outputs ``predicted(..., sure)`` names without the margin (steps past a
    scan's end left out)."""
    unsure = named < 0
    if kind == "scan" and lengths is not None:
        unsure = unsure & torch.as_tensor(np.arange(named.shape[1])[None, :] < np.asarray(lengths)[:, None])[..., None]
    return unsure.reshape(len(named), -1).any(dim=1)


def pseudo_labels(named: torch.Tensor, lengths: np.ndarray | None, kind: str) -> torch.Tensor:
    """Targets from ``predicted(..., sure)``: each output named with the margin is its own target, every other
    (unsure, or past a scan's end) is -100 (no target)."""
    out = torch.where(named >= 0, named, -100)
    if kind == "scan" and lengths is not None:
        past = torch.as_tensor(np.arange(named.shape[1])[None, :] >= np.asarray(lengths)[:, None])
        out = torch.where(past[..., None], -100, out)
    return out


def sure_on_domain(model: nn.Module, problem, encoding: Encoding, fit_b: Batch, fit_t: torch.Tensor, val_b: Batch,
                   val_t: torch.Tensor, deadline: float, seed: int, weight_decay: float = 1e-3) -> dict[str, Any]:
    """Train ``model`` (exact on its examples) on until it names every output of the domain's inputs
    (``problem.domain_inputs``, no answers) and of its examples with the margin (``SURE``), ``deadline`` (a
    ``time.perf_counter`` reading) passes, or ``DOMAIN_STALL`` checks in a row find no fewer unsure domain inputs.
    A step (AdamW at ``DOMAIN_LR``) takes the loss on ``DOMAIN_ROWS`` rows of ``fit_b`` (``train`` passes every
    example, the held-out ones included, and checks those again as ``val_b``) plus the loss on as many
    domain inputs against the net's own answers where it is sure (refreshed every ``DOMAIN_REFRESH`` steps, unsure
    outputs without a target). The weights kept are those of the check exact on every example (fitting and
    held-out, by argmax) with the fewest unsure domain inputs (then the most examples named with the margin), so
    the net stays exact on its examples. Returns the record: steps, checks, unsure domain inputs before and after,
    the domain inputs' count and why it stopped."""
    inputs, lengths, _ = problem.domain_inputs()
    lengths = None if lengths is None else np.asarray(lengths)
    dom = encoding.batch(inputs, lengths)
    n = dom.size
    kind = encoding.kind
    rng = np.random.default_rng([seed, 2])
    parts = [(b, t) for b, t in ((fit_b, fit_t), (val_b, val_t)) if b.size]

    def check() -> tuple[tuple[bool, int, float], torch.Tensor]:
        model.eval()
        with torch.no_grad():
            named = torch.cat([predicted(model, dom.take(np.arange(i, min(i + 4096, n))), SURE) for i in range(0, n, 4096)])
            ex = [(predicted(model, b, SURE), t) for b, t in parts]
        exact = all(share_exact(argmax_of(x), t) == 1.0 for x, t in ex)
        sure = min(share_exact(x, t) for x, t in ex)
        unsure = int(unsure_rows(named, lengths, kind).sum())
        return (exact, unsure, sure), named

    began = time.perf_counter()
    score, named = check()
    record: dict[str, Any] = {"inputs": n, "unsure_before": score[1], "steps": 0, "checks": 1}
    best = ((score[0], -score[1], score[2]), {k: v.detach().clone() for k, v in model.state_dict().items()}, score)
    why = "sure on every domain input and example"
    if not score[0]:
        record.update(unsure_after=score[1], stopped="not exact on its examples", seconds=0.0)
        return record
    opt = torch.optim.AdamW(list(model.parameters()), lr=DOMAIN_LR, weight_decay=weight_decay, betas=(0.9, 0.98))
    stalled, steps = 0, 0
    while not (score[1] == 0 and score[2] == 1.0):
        if time.perf_counter() >= deadline:
            why = "the budget ran out"
            break
        labels = pseudo_labels(named, lengths, kind)
        for group in opt.param_groups:  # the rate falls linearly to the deadline: AdamW at a fixed rate oscillates
            group["lr"] = DOMAIN_LR * max(DOMAIN_FLOOR, (deadline - time.perf_counter()) / max(deadline - began, 1e-9))
        model.train()
        for _ in range(DOMAIN_REFRESH):
            i = torch.as_tensor(rng.choice(fit_b.size, min(DOMAIN_ROWS, fit_b.size), replace=False))
            j = torch.as_tensor(rng.choice(n, min(DOMAIN_ROWS, n), replace=False))
            loss = loss_of(model, fit_b.take(i), fit_t[i]) + loss_of(model, dom.take(j), labels[j])
            if not torch.isfinite(loss):
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        score, named = check()
        record["checks"] += 1
        key = (score[0], -score[1], score[2])
        if key > best[0]:
            better = score[0] and score[1] < best[2][1]
            best = (key, {k: v.detach().clone() for k, v in model.state_dict().items()}, score)
            stalled = 0 if better else stalled + 1
        else:
            stalled += 1
        if not torch.isfinite(loss) or any(not bool(torch.isfinite(p).all()) for p in model.parameters()):
            why = "the loss became non-finite"
            break
        if stalled >= DOMAIN_STALL:
            why = f"{DOMAIN_STALL} checks in a row found no fewer unsure domain inputs"
            break
    model.load_state_dict(best[1])
    model.eval()
    record.update(steps=steps, unsure_after=best[2][1], examples_sure=best[2][2], stopped=why,
                  seconds=round(time.perf_counter() - began, 3))
    return record
