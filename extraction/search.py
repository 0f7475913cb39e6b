"""The training loop behind ``train``: many candidate networks (widths x initial seeds) fitted in one batched
pass, the smallest exact one kept, then normalised for reading (MIPS, Michaud et al. 2024).

Why a batched pass equals training each candidate alone. Every candidate is built exactly as ``train``
builds a single network (its width, ``torch.manual_seed(seed)``), then zero-padded to the widest
candidate's shapes, hidden unit by hidden unit (a GRU's gate blocks padded each on its own). A padded unit
has no weight in or out, so it stays at zero (tanh, ReLU and a GRU with zero gates all map zero to zero),
every padded weight gets a zero gradient, and AdamW leaves a weight with zero gradient and zero value where
it is; the stacked weights are one leaf tensor per parameter and AdamW is elementwise, so each candidate
takes the same steps it would take alone, on the same minibatches. ``torch.func.vmap`` over
``functional_call`` runs the stack with the models' own code.

Stopping. A candidate is kept (a copy of its weights) the first time it is exact on the fitting and
held-out examples *with a margin*: every output named with probability at least ``SURE`` (examples that
are the whole domain need none). A network exact only by argmax sits on a decision boundary for some
example, and the domain's unseen inputs near it are answered wrong: on the standard suite's running
minimum and stream addition, networks stopped at their first argmax-exact step (a worst example at
probability 0.53) were wrong on 9 of 97,655 and 2 of 66,429 inputs, and more steps made them exact on
the whole domain, so that no reading could be their mechanism before. A candidate exact by argmax alone
is the fallback: its latest argmax-exact weights are taken when no candidate reaches the margin within
``SETTLE`` times the steps its first argmax-exact check needed, or within the budget. The pass ends when
the narrowest width is exact, when the narrower widths have had half as many steps again as the first
exact candidate needed, when the budget is spent, or when the accuracy trend over the last half of the
elapsed time says no candidate becomes exact within the budget.

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

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .encoding import Batch, Encoding

GRIDS = (1.0, 0.5, 0.25, 0.1)
GRACE = 1.5  # narrower candidates train this many times the steps the first exact one needed
GIVE_UP_AFTER = 0.25  # share of the budget before the accuracy trend may stop a run
POLISH_AFTER = 0.25  # share of the budget a regressing net spends on AdamW before the L-BFGS polish
POLISH_ROUNDS = 10  # L-BFGS iterations between two accuracy checks of the polish
POLISH_STALL = 3  # the polish gives up after this many checks in a row that cut the loss by less than 1%
SURE = 0.99  # a classifying head's probability for its named class, on every output, to count as exact
SETTLE = 5  # a candidate exact by argmax waits this many times the steps that took for the margin


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


class _Objective(nn.Module):
    """The training loss of ``model`` as a module, so ``functional_call`` can run it on stacked weights."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, targets: torch.Tensor) -> torch.Tensor:
        return loss_of(self.model, batch, targets)


class _Classes(nn.Module):
    """``predicted`` as a module, for ``functional_call`` on stacked weights."""

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
        out.append(torch.bucketize(values[..., j].contiguous(), mids))
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


def loss_of(model: nn.Module, batch: Batch, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per head, or for a regressing readout the squared error of each head's value (in units
    of the heads' largest magnitude), averaged over the steps that have a target."""
    from .train import loss_fn

    readout = getattr(model, "readout", None)
    if not getattr(model, "regress", False):
        return loss_fn(model.encoding, model(batch), targets)
    values = readout.values(model.read(batch))
    total = 0.0
    for j, known in enumerate(readout.known):
        t = targets[..., j]
        valid = t != -100
        err = torch.where(valid, (values[..., j] - known[t.clamp(min=0)]) / readout.scale, 0.0)
        total = total + (err ** 2).sum() / valid.sum().clamp(min=1)
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


def _settle(exact_at: list, kept: dict, loose_at: list, loose: dict, reasons: list[str], when: str) -> list[int]:
    """The wait for the margin is over: every candidate exact by argmax counts as exact, with its latest
    argmax-exact weights; returns the exact candidates."""
    for i, at in enumerate(loose_at):
        if at is not None and exact_at[i] is None:
            exact_at[i], kept[i] = at, loose[i]
    reasons.append(f"exact on its examples, but some output named with probability under {SURE} {when}")
    return [i for i, at in enumerate(exact_at) if at is not None]


def _share_each(classes: torch.Tensor, targets: torch.Tensor) -> list[float]:
    return [share_exact(classes[i], targets) for i in range(classes.shape[0])]


def fit(problem, arch: str, settings: dict[str, Any], widths: list[int], seeds: list[int], *, seconds: float,
        seed: int, start: float) -> Fitted:
    """Train every (width, seed) candidate at once; keep the narrowest exact one (lowest seed among equals),
    or, if none is exact, the most accurate (narrowest, lowest seed among equals)."""
    from .models import build
    from .train import SIZE_KEYS, WIDTH_KEY, nonfinite

    ex = problem.examples
    encoding = Encoding.of(problem, ex.outputs, ex.lengths)
    batch = encoding.batch(ex.inputs, ex.lengths)
    targets = encoding.targets(ex.outputs, ex.lengths)
    rng = np.random.default_rng(seed)  # A held-out tenth decides when to stop, unless the examples are the domain.
    if ex.complete or len(ex) < 20:
        fit_idx, val_idx = np.arange(len(ex)), np.arange(0)
    else:
        order = rng.permutation(len(ex))
        cut = max(1, len(ex) // 10)
        fit_idx, val_idx = np.sort(order[cut:]), np.sort(order[:cut])
    fit_b, fit_t = batch.take(fit_idx), targets[torch.as_tensor(fit_idx)]
    val_b, val_t = batch.take(val_idx), targets[torch.as_tensor(val_idx)]
    size = settings.get("batch") or len(fit_idx)
    margin = None if ex.complete else SURE  # exact on the whole domain needs no margin to generalise
    minibatch = len(fit_idx) > size

    key = WIDTH_KEY[arch]
    cands = [(w, s) for w in widths for s in seeds]
    models = []
    for w, s in cands:
        torch.manual_seed(s)
        models.append(build(arch, encoding, **{k: (w if k == key else settings[k]) for k in SIZE_KEYS[arch]}))
    n, full = len(cands), max(widths)
    single = n == 1
    if single:
        model = models[0]
        params = dict(model.named_parameters())
        objective = None
    else:
        torch.manual_seed(seeds[0])
        template = build(arch, encoding, **{k: (full if k == key else settings[k]) for k in SIZE_KEYS[arch]})
        big = dict(template.named_parameters())
        params = {k: torch.stack([_pad(dict(m.named_parameters())[k].detach(), v.shape, w, full)
                                  for m, (w, _) in zip(models, cands)]).requires_grad_(True) for k, v in big.items()}
        buffers = {k: torch.stack([_pad(dict(m.named_buffers())[k], v.shape, w, full) for m, (w, _) in zip(models, cands)])
                   for k, v in template.named_buffers()}
        objective, classes_of = _Objective(template), _Classes(template, margin)

        def losses(b: Batch, t: torch.Tensor) -> torch.Tensor:
            pb = {**{"model." + k: v for k, v in params.items()}, **{"model." + k: v for k, v in buffers.items()}}
            return vmap(lambda p: functional_call(objective, p, (b, t)))(pb)

        def classes(b: Batch) -> torch.Tensor:
            pb = {**{"model." + k: v for k, v in params.items()}, **{"model." + k: v for k, v in buffers.items()}}
            return vmap(lambda p: functional_call(classes_of, p, (b,)))(pb)

    opt = torch.optim.AdamW(list(params.values()), lr=settings["lr"], weight_decay=settings["weight_decay"],
                            betas=(0.9, 0.98))
    every = settings["eval_every"]
    regress = bool(settings.get("regress"))
    # the budget already spent (building the encoding); read only for a regressing net
    began = time.perf_counter() - start if regress else 0.0
    # a regressing net is polished after POLISH_AFTER of the budget that is left once training begins
    adam_until = began + POLISH_AFTER * (seconds - began) if regress else seconds
    polish = False
    steps, status, reasons = 0, "budget", []
    kept: dict[int, dict[str, torch.Tensor]] = {}
    exact_at: list[int | None] = [None] * n  # exact with the margin (``SURE``)
    loose: dict[int, dict[str, torch.Tensor]] = {}  # the fallback: the latest weights exact by argmax alone
    loose_at: list[int | None] = [None] * n  # ... and the step they first were
    alive = [True] * n
    history: list[tuple[float, float, float]] = []
    last_loss = float("inf")
    accs = [0.0] * n
    perm, pos = None, 0
    while True:
        if steps % every == 0:
            with torch.no_grad():
                if single:
                    bad = nonfinite(model)
                    if bad:  # a step can break weights the next loss would not show (a budget stop, unused rows)
                        status = "error"
                        reasons.append(f"training diverged: the weights ({', '.join(bad)}) became NaN or inf by step {steps}")
                        break
                    model.eval()
                    fit_named, val_named = predicted(model, fit_b, margin)[None], predicted(model, val_b, margin)[None]
                else:
                    for i in range(n):
                        if alive[i] and not all(bool(torch.isfinite(p[i]).all()) for p in params.values()):
                            alive[i] = False
                    fit_named, val_named = classes(fit_b), classes(val_b)
                fit_acc = _share_each(argmax_of(fit_named), fit_t)
                val_acc = _share_each(argmax_of(val_named), val_t) if val_b.size else [1.0] * n
                fit_sure = _share_each(fit_named, fit_t)
                val_sure = _share_each(val_named, val_t) if val_b.size else [1.0] * n
            for i in range(n):
                accs[i] = min(fit_acc[i], val_acc[i]) if alive[i] else 0.0
                if alive[i] and exact_at[i] is None and fit_acc[i] == 1.0 and val_acc[i] == 1.0:
                    loose_at[i] = steps if loose_at[i] is None else loose_at[i]
                    loose[i] = {k: (v.detach() if single else v.detach()[i]).clone() for k, v in params.items()}
                if alive[i] and exact_at[i] is None and fit_sure[i] == 1.0 and val_sure[i] == 1.0:
                    exact_at[i] = steps
                    kept[i] = {k: v.detach()[i].clone() for k, v in params.items()} if not single else {}
            done = [i for i in range(n) if exact_at[i] is not None]
            if not done and any(a is not None for a in loose_at) and steps >= SETTLE * max(every, min(
                    a for a in loose_at if a is not None)):
                done = _settle(exact_at, kept, loose_at, loose, reasons, f"after {steps} steps")
            if done:
                narrowest = min(cands[i][0] for i in done)
                first = min(exact_at[i] for i in done)
                if narrowest == widths[0] or steps >= GRACE * first or not any(
                        alive[i] and cands[i][0] < narrowest for i in range(n)):
                    status = "trained"
                    break
            elapsed = time.perf_counter() - start
            if not any(alive):
                status = "error"
                reasons.append(f"training diverged: every candidate's weights became NaN or inf by step {steps}")
                break
            if elapsed > adam_until and not done and any(a is not None for a in loose_at):
                done = _settle(exact_at, kept, loose_at, loose, reasons, "when the budget ran out")
            if elapsed > adam_until:
                if done:
                    status = "trained"
                elif elapsed < seconds:
                    polish = True
                else:
                    reasons.append(f"stopped at the {seconds:g} s budget after {steps} steps before reaching 100%")
                break
            history.append((elapsed, max(accs), last_loss))
            why = _hopeless(history, seconds)
            if why and not done and any(a is not None for a in loose_at):
                # waiting for the margin, the accuracy fell back below exact: the argmax-exact weights stand
                done = _settle(exact_at, kept, loose_at, loose, reasons, f"when its accuracy stopped rising ({why})")
                status = "trained"
                break
            if why and not done and regress:
                polish = True
                break
            if why and not done:
                reasons.append(f"stopped early, at {elapsed:.3g} s of the {seconds:g} s budget after {steps} steps: {why}")
                break
        if minibatch:
            if perm is None or pos + size > len(fit_idx):
                perm, pos = torch.as_tensor(rng.permutation(len(fit_idx))), 0
            idx = perm[pos:pos + size]
            pos += size
            step_b, step_t = fit_b.take(idx), fit_t[idx]
        else:
            step_b, step_t = fit_b, fit_t
        opt.zero_grad(set_to_none=True)
        if single:
            model.train()
            loss = loss_of(model, step_b, step_t)
            if not torch.isfinite(loss):
                status = "error"
                reasons.append(f"training diverged: the loss became {loss.detach().item()} at step {steps}")
                break
        else:
            each = losses(step_b, step_t)
            finite = torch.isfinite(each.detach())
            for i in range(n):
                if alive[i] and not bool(finite[i]):
                    alive[i] = False
            if not any(alive):
                status = "error"
                reasons.append(f"training diverged: every candidate's loss became NaN or inf at step {steps}")
                break
            loss = torch.where(finite, each, 0.0).sum()
        loss.backward()
        last_loss = float(loss.detach()) / n
        if not single:
            for p in params.values():  # a diverged candidate stops moving (its NaNs must not reach the others' steps)
                if p.grad is not None and not all(alive):
                    p.grad[[i for i in range(n) if not alive[i]]] = 0.0
        opt.step()
        steps += 1

    exact = [[exact_at[widths.index(w) * len(seeds) + seeds.index(s)] is not None for s in seeds] for w in widths]
    at = [[exact_at[widths.index(w) * len(seeds) + seeds.index(s)] for s in seeds] for w in widths]
    done = [i for i in range(n) if exact_at[i] is not None]
    if status == "trained":
        best = min(done, key=lambda i: (cands[i][0], seeds.index(cands[i][1])))
    else:
        best = max(range(n), key=lambda i: (accs[i], -cands[i][0], -seeds.index(cands[i][1])))
    w, s = cands[best]
    chosen = models[best]
    if single and kept.get(best):  # the argmax-exact fallback, not the weights training ended with
        with torch.no_grad():
            for k, v in kept[best].items():
                params[k].copy_(v)
    if not single:
        state = kept.get(best) or {k: v.detach()[best].clone() for k, v in params.items()}
        own = dict(chosen.named_parameters())
        with torch.no_grad():
            for k, v in state.items():
                own[k].copy_(_unpad(v, own[k].shape, w, full))
    extra: dict[str, Any] = {}
    if polish and status == "budget":
        ok, note, rounds = _polish(chosen, fit_b, fit_t, val_b, val_t, start + seconds)
        extra["polish"] = {"rounds": rounds, "exact": ok}
        if ok:
            status = "trained"
            exact[widths.index(w)][seeds.index(s)] = True
        else:
            reasons.append(note)
    chosen.eval()
    with torch.no_grad():
        held = share_exact(predicted(chosen, val_b), val_t) if len(val_idx) else None
    return Fitted(chosen, encoding, w, s, status, reasons, steps, exact, at, batch, targets, held, len(fit_idx), extra)


def _polish(model: nn.Module, fit_b: Batch, fit_t: torch.Tensor, val_b: Batch, val_t: torch.Tensor,
            deadline: float) -> tuple[bool, str, int]:
    """Full-batch L-BFGS on ``model``'s training loss (no weight decay) until it is exact on the fitting and
    held-out examples, ``deadline`` (a ``time.perf_counter`` reading) passes, or ``POLISH_STALL`` checks in a
    row cut the loss by under 1%. The most accurate weights seen (lowest loss among equals) are kept.
    Returns whether it became exact, why it stopped if not, and the checks it ran."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=POLISH_ROUNDS, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_of(model, fit_b, fit_t)
        loss.backward()
        return loss

    def score() -> tuple[float, float, float]:
        model.eval()
        with torch.no_grad():
            fit_acc = share_exact(predicted(model, fit_b), fit_t)
            val_acc = share_exact(predicted(model, val_b), val_t) if val_b.size else 1.0
            return min(fit_acc, val_acc), fit_acc, float(loss_of(model, fit_b, fit_t))

    began = time.perf_counter()
    acc, _, loss = first = score()
    best = (acc, -loss, {k: v.detach().clone() for k, v in model.state_dict().items()})
    stalled, rounds, last = 0, 0, loss
    why = "the budget ran out"
    while time.perf_counter() < deadline:
        model.train()
        opt.step(closure)
        rounds += 1
        acc, _, loss = score()
        if not np.isfinite(loss):
            why = f"the loss became {loss}"
            break
        if (acc, -loss) > best[:2]:
            best = (acc, -loss, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if acc == 1.0:
            return True, "", rounds
        stalled = stalled + 1 if loss > 0.99 * last else 0
        last = loss
        if stalled >= POLISH_STALL:
            why = f"the loss fell by under 1% over {POLISH_STALL} checks of {POLISH_ROUNDS} iterations"
            break
    model.load_state_dict(best[2])
    return False, (f"stopped early, at {time.perf_counter() - began:.3g} s into an L-BFGS polish ({why}): accuracy "
                   f"{first[0]:.3f} -> {best[0]:.3f}, loss {first[2]:.3g} -> {-best[1]:.3g}"
                   if why != "the budget ran out" else
                   f"stopped at the budget during an L-BFGS polish after {rounds} checks: accuracy {first[0]:.3f} -> "
                   f"{best[0]:.3f}, loss {first[2]:.3g} -> {-best[1]:.3g}"), rounds


def _hopeless(history: list[tuple[float, float, float]], seconds: float) -> str | None:
    """Why the trend says no candidate becomes exact within ``seconds`` (None while it may): past
    ``GIVE_UP_AFTER`` of the budget, the best accuracy's rise over the last half of the elapsed time,
    continued at that rate to the end of the budget, stays short of 1, and the loss fell by less than a
    tenth over that half (a loss still falling may yet turn into accuracy)."""
    now, acc, loss = history[-1]
    if now < GIVE_UP_AFTER * seconds or len(history) < 4:
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
