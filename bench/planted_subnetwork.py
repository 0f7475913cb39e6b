"""Does edge-popup recover a *planted* subnetwork? The compiled ``(a + b) % 3`` MLP (one-hot embeddings, nine
hidden units, one per input pair, a readout to the answer's class) is planted in a network of the same shape
whose other weights are fillers that make the whole network wrong; the planted weights are an exact mask
with their share of each layer (relabellings of it are others: embeddings permuted with the readout). Edge-popup runs on its frozen weights with
each layer keeping exactly the planted share, and the table says, per construction, variant and seed,
whether the search found an exact mask (any), whether it is the planted one, and how many planted weights it kept.

Constructions:
  threshold   the compiled net as ``extraction.compile`` writes it (a unit fires when both its one-hot inputs
              are on: weights 1, bias -1); every zero weight becomes 0.5.
  inhibitory  the same units written as inhibition (bias +1, weight -1 from each input that does not match:
              the unit is on unless a mismatch switches it off), so a unit that lost a weight still fires and
              passes gradient; zero weights become 0.5 (embeddings, readout) or -0.5 (hidden, at the match).
Variants: ``plain`` (the paper's edge-popup, as ``extraction.subnetwork`` runs it), ``annealed`` (the kept
share falls linearly from every weight to the planted share over the first 500 steps), ``surrogate``
(ReLU's backward pass lets a tenth of the gradient through where the unit is off).

    python bench/planted_subnetwork.py --seconds 30 --seeds 4
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import torch  # noqa: E402
from torch.func import functional_call  # noqa: E402

import extraction  # noqa: E402
from extraction.train import loss_fn, one_thread, share_right  # noqa: E402
from programs import Int, parse  # noqa: E402

edge_popup = importlib.import_module("extraction.subnetwork")  # the module (the package exports the function)
SUM3 = parse("def f(a, b):\n    return (a + b) % 3\n")
ANNEAL_STEPS = 500


def planted(construction: str):
    """The network and, per masked layer, the planted weights' positions."""
    net = extraction.compile(SUM3, {"a": Int(0, 3), "b": Int(0, 3)})
    model = net.model
    params = dict(model.named_parameters())
    support = {name: (p != 0).clone() for name, p in params.items() if p.ndim >= 2}
    with torch.no_grad():
        if construction == "inhibitory":
            match = support["hidden.weight"]
            params["hidden.weight"].copy_(torch.where(match, torch.full_like(match, -0.5, dtype=torch.float32),
                                                      -torch.ones_like(match, dtype=torch.float32)))
            params["hidden.bias"].fill_(1.0)
            support["hidden.weight"] = ~match
        for name in support:
            p = params[name]
            p[p == 0] = 0.5
    return net, support


class _LeakyBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.where(x > 0, 1.0, 0.1)


class _Surrogate(torch.nn.Module):
    def forward(self, x):
        return _LeakyBackward.apply(x)


def search(net, support, variant: str, seed: int, seconds: float):
    """Edge-popup with the paper's scores, optimiser and straight-through estimator (``extraction.subnetwork``'s
    own helpers), each layer keeping its planted share. Returns (exact, planted, steps, kept planted weights)."""
    model = net.model
    if variant == "surrogate":
        model.act = _Surrogate()
    layers = {n: p.detach() for n, p in model.named_parameters() if p.ndim >= 2}
    fixed = {n: p.detach() for n, p in model.named_parameters() if p.ndim < 2}
    kept = {n: int(support[n].sum()) for n in layers}
    enc, ex = net.encoding, net.problem.examples
    batch, targets = enc.batch(ex.inputs, ex.lengths), enc.targets(ex.outputs, ex.lengths)
    scores = edge_popup._initial_scores(layers, seed)
    opt = torch.optim.AdamW(scores.values(), lr=edge_popup.LR, weight_decay=edge_popup.WEIGHT_DECAY)
    start, steps, exact = time.perf_counter(), 0, False
    while time.perf_counter() - start < seconds:
        now = kept
        if variant == "annealed":
            share = min(1.0, steps / ANNEAL_STEPS)
            now = {n: max(kept[n], round(w.numel() - (w.numel() - kept[n]) * share)) for n, w in layers.items()}
        masks = {n: edge_popup._straight_through(s, now[n]) for n, s in scores.items()}
        logits = functional_call(model, {**fixed, **{n: layers[n] * m for n, m in masks.items()}}, (batch,))
        if now == kept and share_right(enc, logits.detach(), targets) == 1.0:
            exact = True
            break
        opt.zero_grad(set_to_none=True)
        loss_fn(enc, logits, targets).backward()
        opt.step()
        steps += 1
    hard = {n: edge_popup._hard(scores[n], kept[n]).bool() for n in layers}
    found = all(torch.equal(hard[n], support[n]) for n in layers)
    return exact, found, steps, {n: f"{int((hard[n] & support[n]).sum())}/{kept[n]}" for n in layers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    print("| construction | variant | seed | exact mask | planted mask | steps | planted weights kept (per layer) |")
    print("|---|---|---|---|---|---|---|")
    with one_thread():
        for construction in ("threshold", "inhibitory"):
            for variant in ("plain", "annealed", "surrogate"):
                for seed in range(args.seeds):
                    net, support = planted(construction)
                    exact, found, steps, kept = search(net, support, variant, seed, args.seconds)
                    print(f"| {construction} | {variant} | {seed} | {'yes' if exact else 'no'} | "
                          f"{'yes' if found else 'no'} | {steps} | "
                          + ", ".join(f"{n.split('.')[-2]} {v}" for n, v in kept.items()) + " |", flush=True)


if __name__ == "__main__":
    main()
