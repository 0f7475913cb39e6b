"""``compile``: a network that implements a program exactly, so extractors can be tested where the
answer is known: ``extract(compile(p, inputs))`` should give back a program equivalent to ``p``.

Functions become a threshold MLP: one hidden unit per input tuple (on exactly when every input matches,
through one-hot embeddings), written to the class of the program's answer there. Scans and folds become a
one-hot recurrent net: one saturated tanh unit per reachable (state, symbol) step of the program, on when
that step was the last one taken; the readout names the step's output.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from programs import Program, parse
from programs.interpreter import Machine
from programs.semantics import SCALAR

from .encoding import Encoding
from .models import MLP, Recurrent
from .train import Trained, TrainingError

MAX_UNITS = 8192
GAIN = 40.0  # tanh(0.5 * GAIN) is 1.0 in float32: the recurrent units are exactly +-1


class CompileError(TrainingError):
    """A program that cannot be compiled as asked (its domain or state space is too large)."""


def compile(program: Program | str, inputs: dict) -> Trained:  # noqa: A001  (the contract's name)
    """A ``Trained`` whose ``.model`` computes ``program`` on every input of ``inputs`` exactly."""
    import toy_tasks

    prog = parse(program) if isinstance(program, str) else program
    task = toy_tasks.from_program(f"compiled_{prog.name}", prog, inputs, family="compiled")
    if task.domain_size > 1_000_000:
        raise CompileError(f"the domain has {task.domain_size:,} inputs; compile builds tables, so keep it under a million")
    dom = task.examples(None)
    enc = Encoding.of(task, dom.outputs, dom.lengths)
    model = _mlp(task, prog, enc, dom) if not task.sequences else _rnn(task, prog, enc, dom)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    trained = Trained(model, task.problem(dom), 1.0, 1.0, 0, 0.0, params, 0.0, model.arch, enc, len(dom), None, "trained", (),
                      {"compiled": True}, prog)
    check = trained.predict(dom.inputs, dom.lengths)
    if not np.array_equal(check, dom.outputs):
        raise CompileError(f"the compiled network disagrees with {prog.name} on {int((check != dom.outputs).sum())} outputs")
    return trained


def _mlp(task, prog, enc: Encoding, dom) -> MLP:
    names = list(enc.scalars)
    k = len(names)
    width = max(size for _, size in enc.scalars.values())
    n = len(dom)
    if n > MAX_UNITS:
        raise CompileError(f"a threshold MLP needs one unit per input tuple: {n} is more than {MAX_UNITS}")
    model = MLP(enc, embed=width, hidden=n)
    with torch.no_grad():
        for name, (_, size) in enc.scalars.items():
            w = torch.zeros(size, width)
            w[torch.arange(size), torch.arange(size)] = 1.0
            model.embed[name].weight.copy_(w)
        hw = torch.zeros(n, k * width)
        for i, name in enumerate(names):
            lo = enc.scalars[name][0]
            hw[torch.arange(n), i * width + torch.as_tensor(dom.inputs[name] - lo)] = 1.0
        model.hidden.weight.copy_(hw)
        model.hidden.bias.fill_(-(k - 1.0))
        model.out.weight.zero_()
        model.out.bias.zero_()
        _write_classes(model.out.weight, enc, np.asarray(dom.outputs).reshape(n, -1), scale=1.0)
    return model


def _write_classes(weight: torch.Tensor, enc: Encoding, outputs: np.ndarray, scale: float) -> None:
    """weight[class of head j's answer for unit u, u] = scale."""
    offset = 0
    for j, vals in enumerate(enc.heads):
        idx = np.searchsorted(vals, outputs[:, j])
        weight[torch.as_tensor(offset + idx), torch.arange(outputs.shape[0])] = scale
        offset += len(vals)


def _rnn(task, prog, enc: Encoding, dom) -> Recurrent:
    mach = Machine(prog, SCALAR)
    live = prog.shape.live
    scal = [n for n in task.inputs if n not in task.sequences]
    seqs = list(task.sequences)
    alphabet = list(itertools.product(*[range(task.inputs[s].element.lo, task.inputs[s].element.hi) for s in seqs],
                                      *[range(task.inputs[s].lo, task.inputs[s].hi) for s in scal]))
    by_name = {n: i for i, n in enumerate(seqs + scal)}
    order = [by_name[n] for n in mach.iters]
    longest = task.inputs[seqs[0]].max_length

    def key(env):
        return tuple(env.get(n) for n in live)

    # every reachable step (state before, symbol) of inputs up to the longest length
    steps: dict[tuple, int] = {}
    info: list[tuple] = []  # (state after, output)
    frontier = {}
    for combo in itertools.product(*[range(task.inputs[s].lo, task.inputs[s].hi) for s in scal]):
        env = mach.start({n: v for n, v in zip(scal, combo) if n not in prog.shape.unused})
        frontier[(key(env), combo)] = env
    starts = {}
    for (k, combo), env in frontier.items():
        starts[combo] = k
    envs = {k: env for (k, _), env in frontier.items()}
    level = set(frontier)
    for _ in range(longest):
        nxt = set()
        for (k, combo) in level:
            for a in alphabet:
                if tuple(a[len(seqs):]) != combo:
                    continue
                if (k, a) in steps:
                    continue
                env2, y = mach.step(envs[k], tuple(a[i] for i in order))
                k2 = key(env2)
                envs.setdefault(k2, env2)
                out = y if task.kind == "scan" else mach.finish(env2)
                steps[(k, a)] = len(info)
                info.append((k2, out))
                nxt.add((k2, combo))
                if len(steps) > MAX_UNITS:
                    raise CompileError(f"the program reaches more than {MAX_UNITS} (state, symbol) steps within length {longest}")
        level = nxt
    n_units = len(steps) + 1  # + the start unit
    width = max(size for _, size in {**enc.sequences, **enc.scalars}.values())
    model = Recurrent(enc, cell="rnn", embed=width, hidden=n_units)
    names = list(enc.sequences) + list(enc.scalars)
    kin = len(names)
    with torch.no_grad():
        for name in names:
            lo, size = {**enc.sequences, **enc.scalars}[name]
            w = torch.zeros(size, width)
            w[torch.arange(size), torch.arange(size)] = 1.0
            model.embed[name].weight.copy_(w)
        w_ih = torch.zeros(n_units, kin * width)
        w_hh = torch.zeros(n_units, n_units)
        bias = torch.full((n_units,), -GAIN)  # the start unit (last) never comes back on
        preds: dict[tuple, list[int]] = {}
        for (k, a), u in steps.items():
            preds.setdefault(info[u][0], []).append(u)
        start_unit = n_units - 1
        for (k, a), u in steps.items():
            for i, name in enumerate(names):
                lo = {**enc.sequences, **enc.scalars}[name][0]
                w_ih[u, i * width + (a[i] - lo)] = GAIN
            # on iff the symbol matches (kin) and the previous step ended in state k (+1): threshold kin + 0.5
            sources = list(preds.get(k, []))
            if starts.get(tuple(a[len(seqs):])) == k:
                sources.append(start_unit)
            # h = +-1; (h + 1) / 2 is 1 for the one unit on
            for s in sources:
                w_hh[u, s] = GAIN / 2
            bias[u] = GAIN * (len(sources) / 2 - kin - 0.5)
        model.cell.weight_ih.copy_(w_ih)
        model.cell.weight_hh.copy_(w_hh)
        model.cell.bias_ih.copy_(bias)
        model.cell.bias_hh.zero_()
        h0 = -torch.ones(n_units)
        h0[start_unit] = 1.0
        model.h0.copy_(h0)
        outs = np.array([np.atleast_1d(np.asarray(o)) for _, o in info] + [np.atleast_1d(np.asarray(info[0][1]))])
        model.readout.weight.zero_()
        _write_classes(model.readout.weight, enc, outs.reshape(n_units, -1), scale=0.5)
        model.readout.weight[:, start_unit] = 0.0  # the state before any input is never read out
        # + bias: sum over a class's units of (h + 1) / 2
        counts = torch.zeros(enc.classes)
        for u in range(n_units - 1):
            counts += (model.readout.weight[:, u] > 0).float()
        model.readout.bias.copy_(0.5 * counts)
    return model



