"""Grokked modular arithmetic: the scaling suite's modular family in the grokking regime (p from 31 to 113,
each task's stated share of its table as examples), trained by ``extraction.train`` with its defaults and
read by ``fourier``. Per task: training seconds and steps, held-out and whole-domain accuracy, whether the
reading is right (``task.verify``), the splice (F3), the distance irrelevance and the algorithm named (clock
or pizza, Zhong et al. 2023; "lookup" when the wave splice fails and the merge splice holds). One process,
one thread, tasks one after another:

    python bench/grokking.py --seconds 60 --out bench/results/grokking.md
    python bench/grokking.py --suite standard --seconds 60 --seeds 0,1,2 --out bench/results/grokking-standard.md
    python bench/grokking.py --pizza --seeds 0,1,2 --out bench/results/grokking-pizza.md
    python bench/grokking.py --released <Zhong et al.'s code/save> --out bench/results/grokking-released.md

``--pizza``: the clock/pizza naming on networks whose algorithm the literature knows (Zhong et al. 2023): their
one-layer transformer (``ZhongTransformer``: one embedding shared by both inputs, learned positions, no LayerNorm)
with constant attention (their model A: pizzas) for 1,500 steps and with learned attention (their model B:
clocks) for 3,000, trained as they train it (full batch on 80% of the (a + b) % 31 table, AdamW lr 1e-3, weight
decay 2.0; they run 20,000 steps at p = 59); ``extraction``'s transformer with its attention held constant and
learned (whole p = 13 table, 1,500 steps, lr 3e-3, weight decay 1.0); and the embedding MLP ``extraction.train``
grows, each read by ``fourier``.
"""
from __future__ import annotations

import argparse
from collections import Counter
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import extraction  # noqa: E402
import toy_tasks  # noqa: E402
from extraction.methods.fourier import FORM_EXPLAINS, algorithm_of  # noqa: E402
from extraction.train import one_thread, warm_up  # noqa: E402
from toy_tasks.suites import GROKKED_MODULI  # noqa: E402


def tasks(suite: str, moduli, names) -> list:
    """The scaling suite's modular tasks at the given moduli and names (in the suite's order), or every
    modular task of another suite."""
    if suite != "scaling":
        return [t for t in toy_tasks.suite(suite) if t.family == "modular"]
    return [t for t in toy_tasks.suite("scaling")
            if t.family == "modular" and t.params["p"] in moduli and t.name.split("[")[0] in names]


def run(task, seconds: float, seed: int) -> dict:
    net = extraction.train(task, seconds=seconds, seed=seed)
    began = time.perf_counter()
    reading = extraction.extract(net, "fourier", seconds=seconds, seed=seed)
    details = reading.details if hasattr(reading, "details") else {}
    right = reading.program is not None and task.verify(reading.program).equal
    return {"task": task.name, "p": task.params["p"], "fraction": task.example_fraction, "examples": net.examples,
            "status": net.status, "seconds": round(net.seconds, 2), "steps": net.steps,
            "heldout": net.heldout_accuracy, "domain": net.domain_accuracy, "reading": reading.status,
            "program": None if reading.program is None else str(reading.program).split("return", 1)[-1].strip(),
            "right": right, "splice": reading.faithfulness.get("splice"), "merge": details.get("merge_splice"),
            "seed": seed,
            "q": details.get("distance_irrelevance"), "algorithm": details.get("algorithm"),
            "keys": details.get("key_frequencies") if details.get("family") == "add"
            else details.get("multiplicative_key_frequencies"), "read_seconds": round(time.perf_counter() - began, 2)}


def _num(x, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def table(rows: list[dict]) -> str:
    """The results as a Markdown table, one row per task."""
    cols = ["task", "seed", "share", "examples", "train s", "steps", "held-out", "domain", "fourier right", "splice",
            "merge splice", "distance irrelevance", "algorithm", "key frequencies (a)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        keys = next(iter((r["keys"] or {}).values()), [])
        right = "yes" if r["right"] else f"no ({r['reading']})"
        cells = [r["task"], r["seed"], r["fraction"], r["examples"], r["seconds"], r["steps"], _num(r["heldout"], 3),
                 _num(r["domain"], 4), right, _num(r["splice"], 3), _num(r.get("merge"), 3), _num(r["q"], 3),
                 r["algorithm"] or "-", keys]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def attention_net(p: int, constant: bool, seed: int, steps: int = 1500) -> extraction.Trained:
    """``extraction``'s one-layer transformer trained on the whole (a + b) % p table; ``constant``: its query and
    key projections held at zero (every token the same attention). Its two inputs have separate embedding
    tables and it reads out at a third token."""
    task = toy_tasks.get("modular_addition", p=p)
    net = extraction.untrained(task, arch="transformer", seed=seed)
    model, enc, ex = net.model, net.encoding, net.problem.examples
    d = model.query.numel()
    keep = torch.ones_like(model.attn.in_proj_weight)
    if constant:
        keep[: 2 * d] = 0
        with torch.no_grad():
            model.attn.in_proj_weight.mul_(keep)
    hook = model.attn.in_proj_weight.register_hook(lambda g: g * keep)
    batch, target = enc.batch(ex.inputs), enc.targets(ex.outputs)[:, 0]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98))
    began = time.perf_counter()
    with one_thread():
        model.train()
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), target).backward()
            opt.step()
        model.eval()
    hook.remove()
    return dataclasses.replace(net, status="trained", steps=steps, seconds=time.perf_counter() - began)


class ZhongTransformer(torch.nn.Module):
    """Zhong et al. 2023's one-layer transformer (their ``code/train-main.py``): one token embedding shared by
    both inputs plus a learned position, attention whose pattern is ``attn_coeff * softmax + (1 - attn_coeff)``
    (1: learned attention, their model B; 0: every entry 1, their model A), a ReLU MLP of width 4 d_model, no
    LayerNorm, no unembedding bias, read out at the second token; their initialisation. ``embed`` holds one
    table per input (the same weights), so ``fourier`` reads it like ``extraction``'s networks."""

    arch = "transformer"

    def __init__(self, encoding, p: int, d_model: int = 128, heads: int = 4, attn_coeff: float = 0.0):
        super().__init__()
        import math

        self.encoding, self.attn_coeff, self.d_head = encoding, attn_coeff, d_model // heads
        a_name, b_name = list(encoding.scalars)
        table = torch.nn.Embedding(p, d_model)
        torch.nn.init.normal_(table.weight, std=1 / math.sqrt(d_model))
        other = torch.nn.Embedding(p, d_model)
        other.weight = table.weight
        self.embed = torch.nn.ModuleDict({a_name: table, b_name: other})
        shape = (heads, self.d_head, d_model)
        self.pos = torch.nn.Parameter(torch.randn(2, d_model) / math.sqrt(d_model))
        self.W_K, self.W_Q, self.W_V = (torch.nn.Parameter(torch.randn(shape) / math.sqrt(d_model)) for _ in range(3))
        self.W_O = torch.nn.Parameter(torch.randn(d_model, d_model) / math.sqrt(d_model))
        self.W_in = torch.nn.Parameter(torch.randn(4 * d_model, d_model) / math.sqrt(4 * d_model))
        self.b_in = torch.nn.Parameter(torch.zeros(4 * d_model))
        self.W_out = torch.nn.Parameter(torch.randn(d_model, 4 * d_model) / math.sqrt(d_model))
        self.b_out = torch.nn.Parameter(torch.zeros(d_model))
        self.W_U = torch.nn.Parameter(torch.randn(d_model, encoding.classes) / math.sqrt(encoding.classes))

    def forward(self, batch) -> torch.Tensor:
        x = torch.stack([self.embed[n](batch.scalars[n]) for n in self.embed], 1) + self.pos
        k, q, v = (torch.einsum("ihd,bpd->biph", w, x) for w in (self.W_K, self.W_Q, self.W_V))
        pattern = torch.softmax(torch.einsum("biph,biqh->biqp", k, q) / self.d_head**0.5, -1)
        pattern = pattern * self.attn_coeff + (1 - self.attn_coeff)
        z = torch.einsum("biph,biqp->bqih", v, pattern).reshape(x.shape[0], 2, -1)
        x = x + z @ self.W_O.T
        x = x + torch.relu(x @ self.W_in.T + self.b_in) @ self.W_out.T + self.b_out
        return x[:, -1] @ self.W_U


def zhong_net(p: int, constant: bool, seed: int, steps: int = 1500, fraction: float = 0.8) -> extraction.Trained:
    """Zhong et al.'s transformer (``ZhongTransformer``; ``constant``: their model A, else model B) trained as
    they train it (full batch on ``fraction`` of the (a + b) % p table, AdamW lr 1e-3, weight decay 2.0, betas
    (0.9, 0.98), a 10-step warm-up) for ``steps`` steps (they run 20,000 at p = 59). ``tests/extraction/
    test_fourier.py`` loads it from here."""
    task = toy_tasks.get("modular_addition", p=p)
    net = extraction.untrained(task, arch="transformer", seed=seed, examples=round(fraction * p * p))
    torch.manual_seed(seed)
    model = ZhongTransformer(net.encoding, p, attn_coeff=0.0 if constant else 1.0)
    ex = net.problem.examples
    batch, target = net.encoding.batch(ex.inputs), net.encoding.targets(ex.outputs)[:, 0]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=2.0, betas=(0.9, 0.98))
    warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(step / 10, 1))
    began = time.perf_counter()
    with one_thread():
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(batch).double(), target).backward()
            opt.step()
            warm.step()
    model.eval()
    return dataclasses.replace(net, model=model, status="trained", steps=steps, seconds=time.perf_counter() - began)


KINDS = {
    "Zhong et al.'s transformer, constant attention (their model A), p = 31": lambda s: zhong_net(31, True, s),
    "Zhong et al.'s transformer, learned attention (their model B), p = 31": lambda s: zhong_net(31, False, s, 3000),
    "extraction's transformer, constant attention, p = 13": lambda s: attention_net(13, True, s),
    "extraction's transformer, learned attention, p = 13": lambda s: attention_net(13, False, s),
    "embedding MLP (extraction.train), p = 13": lambda s: extraction.train(toy_tasks.get("modular_addition", p=13),
                                                                           seconds=60, seed=s),
}


def pizza(seeds: list[int]) -> str:
    """The clock/pizza table: per network kind and seed, Zhong et al.'s two measures, the circles and the
    algorithm named."""
    lines = [("| network | seed | train s | domain | fourier right | splice | distance irrelevance | gradient "
              "symmetricity | circles: pizza / clock / mixed / neither | pizza weight | algorithm |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind, make in KINDS.items():
        for seed in seeds:
            net = make(seed)
            task = toy_tasks.get("modular_addition", p=net.encoding.scalars["a"][1])
            reading = extraction.extract(net, "fourier", seconds=30, seed=seed)
            d = reading.details
            dom = task.examples(None)
            acc = float((net.predict(dom.inputs) == dom.outputs).mean())
            right = reading.program is not None and task.verify(reading.program).equal
            circles = list((d.get("circles") or {}).values())
            kinds = ["neither" if f is None or f["joint_fit"] < FORM_EXPLAINS else algorithm_of(f["pizza_weight"])
                     for f in circles]
            line = (f"| {kind} | {seed} | {net.seconds:.1f} | {acc:.4f} | {'yes' if right else 'no'} | "
                    f"{_num(reading.faithfulness.get('splice'), 3)} | {_num(d.get('distance_irrelevance'), 3)} | "
                    f"{_num(d.get('gradient_symmetricity'), 3)} | {kinds.count('pizza')} / {kinds.count('clock')} / "
                    f"{kinds.count('mixed')} / {kinds.count('neither')} | {_num(d.get('pizza_weight'), 2)} | {d.get('algorithm', '-')} |")
            print(line, flush=True)
            lines.append(line)
    return "\n".join(lines)


# Zhong et al.'s released networks (github.com/fjzzq2002/pizza, code/save; their eval-main.ipynb names these two)
RELEASED = {"model A (constant attention), p99zdpze5l": ("p99zdpze5l", 0.0),
            "model B (learned attention), l8k1hzciux": ("l8k1hzciux", 1.0)}


def released_net(directory: Path, run: str, attn_coeff: float, p: int = 59) -> extraction.Trained:
    """One of Zhong et al.'s released state dicts (``model_<run>.pt`` in ``directory``) put into
    ``ZhongTransformer``."""
    task = toy_tasks.get("modular_addition", p=p)
    net = extraction.untrained(task, arch="transformer", examples=round(0.8 * p * p))
    model = ZhongTransformer(net.encoding, p, attn_coeff=attn_coeff)
    state = torch.load(directory / f"model_{run}.pt", map_location="cpu", weights_only=True)
    with torch.no_grad():
        model.embed[next(iter(model.embed))].weight.copy_(state["embed.W_E"].T)
        model.pos.copy_(state["pos_embed.W_pos"])
        for name in ("W_K", "W_Q", "W_V", "W_O"):
            getattr(model, name).copy_(state[f"blocks.0.attn.{name}"])
        for name in ("W_in", "b_in", "W_out", "b_out"):
            getattr(model, name).copy_(state[f"blocks.0.mlp.{name}"])
        model.W_U.copy_(state["unembed.W_U"])
    return dataclasses.replace(net, model=model.eval(), status="trained")


def released(directory: Path) -> str:
    """The clock/pizza table on Zhong et al.'s released models A and B."""
    lines = [("| network | domain | splice | distance irrelevance | gradient symmetricity | circles (pizza weight, "
              "share explained) | pizza weight | algorithm |"), "|---|---|---|---|---|---|---|---|"]
    task = toy_tasks.get("modular_addition", p=59)
    dom = task.examples(None)
    for kind, (run, coeff) in RELEASED.items():
        net = released_net(directory, run, coeff)
        reading = extraction.extract(net, "fourier", seconds=30)
        d = reading.details
        circles = ", ".join(f"{k}: {f['pizza_weight']:.2f} / {f['joint_fit']:.2f}"
                            for k, f in sorted((d.get("circles") or {}).items()) if f is not None)
        line = (f"| {kind} | {float((net.predict(dom.inputs) == dom.outputs).mean()):.4f} | "
                f"{_num(reading.faithfulness.get('splice'), 3)} | {_num(d.get('distance_irrelevance'), 3)} | "
                f"{_num(d.get('gradient_symmetricity'), 3)} | {circles} | {_num(d.get('pizza_weight'), 2)} | "
                f"{d.get('algorithm', '-')} |")
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget per task (and reading budget)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, each task trained once per seed")
    parser.add_argument("--pizza", action="store_true", help="the clock/pizza check on known networks instead")
    parser.add_argument("--released", default=None, metavar="DIR",
                        help="the clock/pizza check on Zhong et al.'s released models in DIR (their code/save)")
    parser.add_argument("--suite", default="scaling",
                        help="scaling (the grokked moduli below) or standard (its modular tasks)")
    parser.add_argument("--moduli", default=",".join(str(p) for p in GROKKED_MODULI))
    parser.add_argument("--tasks", default="modular_addition,modular_multiplication")
    parser.add_argument("--out", default=None, help="write the Markdown table here")
    args = parser.parse_args()
    warm_up()
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.released:
        text = released(Path(args.released))
        if args.out:
            Path(args.out).write_text(f"Command: `python bench/grokking.py --released {args.released} --out {args.out}` "
                                      f"({time.strftime('%Y-%m-%d')}, one thread)\n\n{text}\n")
        return
    if args.pizza:
        text = pizza(seeds)
        if args.out:
            Path(args.out).write_text(f"Command: `python bench/grokking.py --pizza --seeds {args.seeds} --out {args.out}` "
                                      f"({time.strftime('%Y-%m-%d')}, one thread, a shared 2-core machine under load)"
                                      f"\n\n{text}\n")
        return
    moduli = {int(p) for p in args.moduli.split(",")}
    rows = []
    for task in tasks(args.suite, moduli, set(args.tasks.split(","))):
        for seed in seeds:
            rows.append(run(task, args.seconds, seed))
            print(rows[-1], flush=True)
    text = table(rows)
    grokked = [r for r in rows if r["status"] == "trained" and r["domain"] == 1.0]
    summary = (f"\n\n{len(grokked)} of {len(rows)} networks exact on the whole domain; fourier right on "
               f"{sum(r['right'] for r in rows)}; splice >= 0.99 on {sum((r['splice'] or 0) >= 0.99 for r in grokked)} "
               f"of the {len(grokked)} exact ones; median training {np.median([r['seconds'] for r in rows]):.1f} s "
               f"(budget {args.seconds:g} s, seeds {args.seeds}); algorithms named: "
               + ", ".join(f"{a} {n}" for a, n in sorted(Counter(r["algorithm"] or "-" for r in rows).items())) + ".")
    print(text + summary)
    if args.out:
        Path(args.out).write_text(f"Command: `python bench/grokking.py --suite {args.suite} --seconds {args.seconds:g} "
                                  f"--seeds {args.seeds} --out {args.out}` ({time.strftime('%Y-%m-%d')}, one thread, a "
                                  f"shared 2-core machine under load)\n\n{text}{summary}\n")


if __name__ == "__main__":
    main()
