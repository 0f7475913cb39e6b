"""``compile``: a network that implements a program exactly, so extractors can be tested where the
answer is known: ``extract(compile(p, inputs))`` should give back a program equivalent to ``p``.

Functions become a threshold MLP: one hidden unit per input tuple (on exactly when every input matches,
through one-hot embeddings), written to the class of the program's answer there.

Scans and folds whose state is integer and whose update and output are integer-affine in (state, input
features) (``extraction.affine``: running sums, sums of the last k, delays, differences, counters of a
symbol, positions under constant force) become a *linear* recurrent net: a ReLU Elman cell whose units hold
the program's integer variables exactly, each lifted by a constant offset above the largest negative value
it takes on the domain, so no unit ever leaves the linear range of its ReLU there (bounds by interval
arithmetic over the longest length). Inputs enter as numbers where some alphabet is larger than
``NUMERIC_ALPHABET`` (as ``train`` chooses, unless the program needs a table of an input, such as
``x == v``, which only a token's one-hot code makes linear) and as one-hot tokens otherwise; outputs are
read by a ``ValueReadout`` where they take more than ``NUMERIC_ALPHABET`` values (or spread too wide for
exact class logits), else by class logits ``2 v y - v^2`` (the nearest value wins). Where the step's output
is not an affine function of the new state (a scan that yields before it updates, a fold whose answer
reads a scalar input), units holding the output are added. ``basis="random"`` draws a unimodular integer
change of basis of the hidden state (``seed``), so readers meet integer states that are not axis-aligned.

Why a ReLU net and not a linear cell: it is the network ``train`` builds for integer streams (a numeric
Elman net is a ReLU one), so the readers are tested on the class of networks they meet, every file and
reader that takes an Elman net takes it unchanged, and the offsets cost nothing but a bias.

Other scans and folds become a one-hot recurrent net: one saturated tanh unit per reachable (state,
symbol) step of the program, on when that step was the last one taken; the readout names the step's output.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from programs import Program, parse
from programs.interpreter import Machine
from programs.semantics import SCALAR

from .affine import AffineLoop, NotAffine, affine_loop
from .encoding import Encoding
from .models import MLP, Recurrent, ValueReadout
from .train import NUMERIC_ALPHABET, Trained, TrainingError, numeric_streams

MAX_UNITS = 8192
GAIN = 40.0  # tanh(0.5 * GAIN) is 1.0 in float32: the recurrent units are exactly +-1
MAX_DOMAIN = 1_000_000  # inputs a table construction (threshold MLP, one-hot RNN) enumerates
MAX_MAGNITUDE = 1 << 20  # a linear net's units and outputs stay below this (float32 holds integers to 2**24)
MAX_VALUES = 2048  # output values a linear net's readout names (one logit each)
CLASS_SPREAD = 256  # class logits 2 v y - v^2 are exact in float32 for outputs spread at most this wide
MAX_ENTRY = 3  # a random change of basis has entries of at most this size
MAX_CONDITION = 10.0  # ... and a condition number at most this (readers drop axes of under 1% of the spread)
CONSTRUCTIONS = ("auto", "linear", "one-hot")
BASES = ("program", "random")


class CompileError(TrainingError):
    """A program that cannot be compiled as asked (its domain or state space is too large)."""


def compile(program: Program | str, inputs: dict, *, construction: str = "auto", basis: str = "program",  # noqa: A001
            seed: int = 0, numeric: bool | None = None) -> Trained:  # (the contract's name)
    """A ``Trained`` whose ``.model`` computes ``program`` on every input of ``inputs`` exactly.

    ``construction`` (scans and folds): "linear" (integer-affine state, see the module's docstring), "one-hot"
    (one unit per reachable step) or "auto" (linear where the program is affine, else one-hot). ``basis``:
    "program" (the linear net's units are the program's variables) or "random" (a unimodular integer change
    of basis drawn with ``seed``). ``numeric`` (linear construction): inputs as numbers (True), tokens (False)
    or as ``train`` would choose (None). ``CompileError`` says why no construction applies."""
    import toy_tasks

    if construction not in CONSTRUCTIONS:
        raise CompileError(f"unknown construction {construction!r}; choose one of {', '.join(CONSTRUCTIONS)}")
    if basis not in BASES:
        raise CompileError(f"unknown basis {basis!r}; choose one of {', '.join(BASES)}")
    prog = parse(program) if isinstance(program, str) else program
    task = toy_tasks.from_program(f"compiled_{prog.name}", prog, inputs, family="compiled")
    record: dict = {"compiled": True}
    model = None
    if task.sequences and construction in ("auto", "linear"):
        try:
            model, enc, dom, record = _linear(task, prog, basis, seed, numeric)
        except NotAffine as err:
            why = str(err)
            if construction == "linear" or basis == "random":
                raise CompileError(f"no linear network for {prog.name}: {why}"
                                   + ("" if construction == "linear" else " (a random basis applies to the linear "
                                      "construction only)")) from None
    elif not task.sequences and (construction == "linear" or basis == "random"):
        raise CompileError(f"{prog.name} is a function: the linear construction (and its change of basis) is for "
                           "scans and folds; use construction='auto'")
    elif basis == "random":
        raise CompileError("a random basis applies to the linear construction only; use construction='linear' or "
                           "'auto'")
    if model is None:
        if task.domain_size > MAX_DOMAIN:
            lead = f"{prog.name} is not affine in its state ({why}), and " if task.sequences and construction == "auto" else ""
            raise CompileError(f"{lead}the domain has {task.domain_size:,} inputs; compile builds tables, so keep it "
                               "under a million")
        dom = task.examples(None)
        enc = Encoding.of(task, dom.outputs, dom.lengths)
        if not task.sequences:
            model, record = _mlp(task, prog, enc, dom), {**record, "construction": "threshold"}
        else:
            model, record = _rnn(task, prog, enc, dom), {**record, "construction": "one-hot"}
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    checked = () if dom.complete else (f"checked against the program on {dom.note}; exact on the rest by construction "
                                       "(every unit stays in its linear range on the whole domain)",)
    trained = Trained(model, task.problem(dom), 1.0, 1.0, 0, 0.0, params, 0.0, model.arch, enc, len(dom), None, "trained",
                      checked, record, prog)
    check = _predict(trained, dom)
    if not np.array_equal(check, dom.outputs):
        raise CompileError(f"the compiled network disagrees with {prog.name} on {int((check != dom.outputs).sum())} outputs")
    return trained


def _predict(trained: Trained, dom, chunk: int = 8192) -> np.ndarray:
    """The network's answers on ``dom``, a chunk of rows at a time. A ``ValueReadout``'s answer (the largest
    logit ``-(value - v)^2``) is the known value nearest the value it names, found by bisection here rather
    than through a logit per known value per step (a readout over hundreds of values)."""
    model, enc = trained.model, trained.encoding
    if not isinstance(getattr(model, "readout", None), ValueReadout):
        return trained.predict(dom.inputs, dom.lengths)
    parts = []
    for i in range(0, len(dom), chunk):
        rows = np.arange(i, min(len(dom), i + chunk))
        lengths = None if dom.lengths is None else dom.lengths[rows]
        with torch.no_grad():
            named = model.readout.values(model.read(enc.batch({k: v[rows] for k, v in dom.inputs.items()}, lengths)))
        named = named.numpy().astype(np.float64)
        heads = []
        for j, known in enumerate(enc.heads):
            at = np.clip(np.searchsorted(known, named[..., j]), 1, max(1, len(known) - 1))
            lower, upper = known[at - 1], known[np.minimum(at, len(known) - 1)]
            heads.append(np.where(np.abs(named[..., j] - lower) <= np.abs(upper - named[..., j]), lower, upper))
        out = np.stack(heads, axis=-1).astype(np.int64)
        if enc.kind == "scan":
            out = np.where((np.arange(out.shape[1])[None, :] < lengths[:, None])[..., None], out, 0)
        parts.append(out[..., 0] if enc.arity == 1 else out)
    return np.concatenate(parts)


def _linear(task, prog: Program, basis: str, seed: int, numeric: bool | None):
    """(model, encoding, domain examples, record) of the linear construction; ``NotAffine`` where it does not
    apply (the program, its magnitudes or its output values)."""
    use_numeric = numeric_streams(task) if numeric is None else bool(numeric)
    try:
        loop = affine_loop(prog, task.inputs, use_numeric)
    except NotAffine:
        if numeric is not None or not use_numeric:
            raise
        loop = affine_loop(prog, task.inputs, False)  # a table of an input: tokens make it linear
        use_numeric = False
    n_state, arity = len(loop.state), loop.out_s.shape[0]
    a, b, c = _floats(loop.a), _floats(loop.b), _floats(loop.c)
    ys, yu, yc = _floats(loop.out_s), _floats(loop.out_u), _floats(loop.out_c)
    # the output as an affine function of the new state, where it is one: y = M s' + m
    m_map = None
    if n_state:
        m_map = np.linalg.lstsq(np.hstack([a, b]).T, np.hstack([ys, yu]).T, rcond=None)[0].T  # [arity, n]
        if not np.allclose(m_map @ np.hstack([a, b]), np.hstack([ys, yu]), atol=1e-9):
            m_map = None
    k = n_state if m_map is not None else n_state + arity  # units in the program's basis: state, then outputs
    big_a = np.zeros((k, k))
    big_a[:n_state, :n_state] = a
    big_b = np.vstack([b] + ([] if m_map is not None else [yu]))
    big_c = np.concatenate([c] + ([] if m_map is not None else [yc]))
    if m_map is not None:
        read, read_c = np.hstack([m_map, np.zeros((arity, k - n_state))]), yc - m_map @ c
    else:
        big_a[n_state:, :n_state] = ys
        read, read_c = np.hstack([np.zeros((arity, n_state)), np.eye(arity)]), np.zeros(arity)
    start = np.concatenate([_floats(loop.start), np.zeros(k - n_state)])
    rng = np.random.default_rng(seed)
    change = _unimodular(k, rng) if basis == "random" else np.eye(k, dtype=np.int64)
    inverse = np.rint(np.linalg.inv(change)).astype(np.int64)
    # the units' ranges on the domain (interval arithmetic over every length), in the program's basis
    contrib_lo, contrib_hi = _input_ranges(task, loop, big_b, use_numeric)
    lo, hi = start.copy(), start.copy()
    box_lo, box_hi = start.copy(), start.copy()
    longest = task.inputs[task.sequences[0]].max_length
    pos, neg = np.clip(big_a, 0, None), np.clip(big_a, None, 0)
    for _ in range(longest):
        lo, hi = pos @ lo + neg @ hi + contrib_lo + big_c, pos @ hi + neg @ lo + contrib_hi + big_c
        box_lo, box_hi = np.minimum(box_lo, lo), np.maximum(box_hi, hi)
    p_pos, p_neg = np.clip(change, 0, None), np.clip(change, None, 0)
    unit_lo, unit_hi = p_pos @ box_lo + p_neg @ box_hi, p_pos @ box_hi + p_neg @ box_lo
    offset = 1.0 - unit_lo  # every unit at 1 or more on the domain: its ReLU is the identity there
    y_lo = np.clip(read, 0, None) @ box_lo + np.clip(read, None, 0) @ box_hi + read_c
    y_hi = np.clip(read, 0, None) @ box_hi + np.clip(read, None, 0) @ box_lo + read_c
    top = max(float(np.abs(unit_hi + offset).max(initial=0)), float(np.abs(np.concatenate([y_lo, y_hi])).max()))
    if not np.isfinite(top) or top > MAX_MAGNITUDE:
        raise NotAffine(f"its values reach {top:.3g} on the domain (interval bound), more than a float32 unit holds "
                        f"exactly ({MAX_MAGNITUDE})")
    dom = task.examples(None)
    if dom.complete:
        heads = Encoding.of(task, dom.outputs, dom.lengths).heads
    else:  # a sample may miss values the domain reaches: name every integer the bounds allow
        sizes = np.rint(y_hi - y_lo).astype(np.int64) + 1
        if sizes.sum() > MAX_VALUES:
            raise NotAffine(f"its outputs range over {int(sizes.sum())} values (interval bound), more than the "
                            f"{MAX_VALUES} a readout names")
        heads = tuple(np.arange(int(round(l)), int(round(h)) + 1, dtype=np.int64) for l, h in zip(y_lo, y_hi))
    seqs = {n: (d.element.lo, d.element.size) for n, d in task.inputs.items() if n in task.sequences}
    scal = {n: (d.lo, d.size) for n, d in task.inputs.items() if n not in task.sequences}
    enc = Encoding(scal, seqs, heads, task.kind)
    values = np.unique(np.concatenate(heads))
    regress = len(values) > NUMERIC_ALPHABET or any(int(h.max()) - int(h.min()) > CLASS_SPREAD for h in heads)
    names = list(seqs) + list(scal)
    width = max(size for _, size in {**seqs, **scal}.values())
    model = Recurrent(enc, cell="rnn", embed=width, hidden=k, numeric=use_numeric, regress=regress, act="relu")
    # h = P z + K: the cell's weights conjugated by P, the offsets K moved into the bias
    w_hh = change @ big_a @ inverse
    w_u = change @ big_b  # [k, features]
    bias = change @ big_c + offset - w_hh @ offset
    read_h = read @ inverse  # y = read_h @ (h - K) + read_c
    read_b = read_c - read_h @ offset
    with torch.no_grad():
        if use_numeric:
            from .models import magnitude

            cols = [w_u[:, loop.features.index(("v", n))] * magnitude(*{**seqs, **scal}[n]) for n in names]
            model.cell.weight_ih.copy_(torch.as_tensor(np.stack(cols, axis=1), dtype=torch.float32))
        else:
            w_ih = np.zeros((k, len(names) * width))
            for j, key in enumerate(loop.features):
                i, lo_n = names.index(key[1]), {**seqs, **scal}[key[1]][0]
                w_ih[:, i * width + key[2] - lo_n] = w_u[:, j]
            model.cell.weight_ih.copy_(torch.as_tensor(w_ih, dtype=torch.float32))
            for name in names:
                size = {**seqs, **scal}[name][1]
                eye = torch.zeros(size, width)
                eye[torch.arange(size), torch.arange(size)] = 1.0
                model.embed[name].weight.copy_(eye)
        model.cell.weight_hh.copy_(torch.as_tensor(w_hh, dtype=torch.float32))
        model.cell.bias_ih.copy_(torch.as_tensor(bias, dtype=torch.float32))
        model.cell.bias_hh.zero_()
        model.h0.copy_(torch.as_tensor(change @ start + offset, dtype=torch.float32))
        if regress:
            scale = model.readout.scale
            model.readout.weight.copy_(torch.as_tensor(read_h / scale, dtype=torch.float32))
            model.readout.bias.copy_(torch.as_tensor(read_b / scale, dtype=torch.float32))
        else:
            weight, bias_r, row = np.zeros((enc.classes, k)), np.zeros(enc.classes), 0
            for j, vals in enumerate(heads):
                centre = int(round((int(vals.min()) + int(vals.max())) / 2))
                for v in vals:  # logit 2 (v - c)(y - c) - (v - c)^2: largest for the v nearest y
                    d = float(v) - centre
                    weight[row] = 2 * d * read_h[j]
                    bias_r[row] = 2 * d * (read_b[j] - centre) - d * d
                    row += 1
            model.readout.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            model.readout.bias.copy_(torch.as_tensor(bias_r, dtype=torch.float32))
    record = {"compiled": True, "construction": "linear", "basis": basis, "basis_seed": int(seed),
              "numeric": bool(use_numeric), "regress": bool(regress), "act": "relu", "state": list(loop.state),
              "shifted": list(loop.shifted), "output_units": int(k - n_state),
              "change_of_basis": change.tolist()}
    return model, enc, dom, record


def _floats(m) -> np.ndarray:
    return np.asarray(m, dtype=np.float64)


def _input_ranges(task, loop: AffineLoop, big_b: np.ndarray, numeric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's least and largest input term over the alphabets (one value per input name at a time)."""
    lo, hi = np.zeros(big_b.shape[0]), np.zeros(big_b.shape[0])
    for name in task.inputs:
        cols = [j for j, key in enumerate(loop.features) if key[1] == name]
        dom = task.inputs[name]
        d = dom.element if name in task.sequences else dom
        if numeric:
            ends = np.outer(big_b[:, cols[0]], [d.lo, d.hi - 1])
        else:
            ends = big_b[:, cols]  # one-hot: the term is one column's entry
        lo += ends.min(axis=1)
        hi += ends.max(axis=1)
    return lo, hi


def _unimodular(k: int, rng: np.random.Generator) -> np.ndarray:
    """A random integer matrix of determinant +-1 with entries of at most ``MAX_ENTRY`` and condition number
    at most ``MAX_CONDITION``: a signed permutation times shears (add a multiple of one row to another), not
    axis-aligned when ``k >= 2``."""
    while True:
        m = np.eye(k, dtype=np.int64)[rng.permutation(k)] * rng.choice([-1, 1], size=(k, 1))
        for _ in range(2 * k):
            i, j = rng.choice(k, size=2, replace=False) if k >= 2 else (0, 0)
            if i != j:
                m[i] += int(rng.choice([-2, -1, 1, 2])) * m[j]
        if k < 2 or (np.abs(m).max() <= MAX_ENTRY and np.count_nonzero(m) > k and np.linalg.cond(m) <= MAX_CONDITION):
            return m


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



