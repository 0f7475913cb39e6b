"""Distributed interchange (F2-D): is a program's named variable a linear subspace of a hidden layer?

Distributed alignment search (DAS; Geiger et al. 2023, pyvene's ``RotatedSpaceIntervention``) for the
networks here. A variable of the program is aligned with the first ``k`` coordinates of ``R·h``, where
``h`` is the hidden layer at ``path`` and ``R`` an orthogonal matrix. Only the first ``k`` rows ``Q``
of ``R`` enter the swap, so only they are learned: torch's ``orthogonal`` parametrisation (Householder)
of a bias-free ``Linear(width, k)``, orthonormal rows; a square one costs ~25 ms a step at width 128
(matrix exponential), the rows ~2 ms. An interchange on a (base, source) pair runs the
base input, swaps those ``k`` coordinates of ``R·h_base`` for the source's, rotates back with ``Rᵀ`` and
finishes the forward pass. With ``Q`` the first ``k`` rows of ``R`` that is
``h_base + Qᵀ Q (h_source - h_base)``: the base's activation with its component in the subspace taken
from the source, which is how it is computed. ``R`` is trained by cross-entropy towards the program's
counterfactual answer (the base's answer with the variable taken from the source) on the pairs among a
training part of the inputs; the score is the interchange accuracy (IIA) on the pairs among the held-out
inputs: the share whose decoded answer is the counterfactual one. The split is by input, not by pair
(``split_pairs``): on a domain of a few dozen inputs and a layer of 128 units the hidden vectors of the
inputs are linearly independent, so a rotation can fit any labelling of the inputs it has seen, in a
random network as well as a trained one (measured: the untrained control scored 0.77–1.00 on the Boolean
family with pairs split at random, 0.16–0.89 split by input, the trained readings unchanged).

Why linear, orthogonal and small. Sutter et al. 2025 show that with nonlinear alignment maps any
network aligns with any algorithm, randomly initialised ones included: the map then does the
computing. A rotation cannot compute; the subspace is as small as the variable allows, ``k = v - 1``
for a variable with ``v`` values (the least dimension in which any ``v`` points are affinely
independent, so no layout of the values is assumed; ``k = 1`` for a Boolean step), at most the
layer's width. Even so a high score is evidence only beside its controls (the same search on an
untrained network, and on another program equal on the domain); Makelov et al. 2024 show a subspace
patch may act through a dormant pathway.

The controls. ``initial_network`` is the network training started from (same architecture, sizes,
encoding and seed): its score says what the search finds where nothing was learned. ``rewritten`` is a
program equal to the reading on the whole domain whose every named step is another variable: each step
``h = e`` becomes ``r = e ^ m`` (or ``e + m`` when the mask is not Boolean), ``m`` an input or the
combination of two, and each later use of ``h`` reads ``(r ^ m)`` (or ``(r - m)``); XOR is an involution
and int64 addition wraps, so the two programs agree everywhere, which ``programs.equivalent`` checks.
The mask is the first whose step varies and partitions the domain otherwise than every step of the
reading, every input and every step already rewritten: a constant has nothing to interchange, a relabelling of a variable's values (``not h`` for ``h``) is the
same variable to an interchange, and an input is no intermediate. The search scoring high on both the
reading and its rewrite says the alignment cannot tell the two apart (Méloux et al. 2025): a reading is
the network's mechanism only when its controls stay low (``extraction.faithfulness.is_mechanism``).

Why stratified. A pair where the variable has the same value in base and source, or where changing it
leaves the program's answer as it was, is passed by leaving the network alone: such pairs inflate IIA
for free. Only pairs where the variable differs *and* the counterfactual answer differs from the base
answer are drawn; when fewer than ``MIN_PAIRS`` exist the score is None, with the reason.

The search is a fixed number of full-batch Adam steps (work, not time, so the score does not depend on
the machine's load), from a rotation drawn from the caller's generator: deterministic per seed. A
``Budget`` that runs out stops it with None and the reason.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from itertools import combinations
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

from programs import Assign, Binary, Const, Domain, For, Program, Return, Var, equivalent, evaluate
from programs.ast import substitute, variables
from programs.budget import Budget
from programs.domains import domain_size, enumerate_domain, sample_domain

from .hooks import patching, recording
from .train import SIZE_KEYS, one_thread, untrained

# Pairs drawn per variable, at most; half train the rotation, half score it.
PAIRS = 256
# Fewer stratified pairs than this and the variable is not scored (half of them would be held out).
MIN_PAIRS = 8
# Candidate pairs looked at to find the stratified ones: every ordered pair when the domain has at most
# this many, else this many drawn at random.
CANDIDATES = 20_000
STEPS = 200
LR = 0.05
TRAIN_SHARE = 0.5


@dataclass(frozen=True)
class Pairs:
    """(base, source) pairs as indices into a table of inputs, with the program's counterfactual answer
    (the base's answer with the variable taken from the source) for each."""

    base: np.ndarray
    source: np.ndarray
    counterfactual: np.ndarray

    def __len__(self) -> int:
        return int(self.base.shape[0])


@dataclass(frozen=True)
class Alignment:
    """F2-D of one variable: held-out interchange accuracy (None when not measured, with the reasons),
    the subspace's dimension and the pairs it was trained and scored on."""

    accuracy: float | None
    k: int
    train: int = 0
    test: int = 0
    train_accuracy: float | None = None
    reasons: tuple[str, ...] = ()


def dimension(values: np.ndarray) -> int:
    """``k`` for a variable taking ``values``: one less than the number of distinct values (1 for a bit)."""
    return max(1, len(np.unique(values)) - 1)


def stratified_pairs(variable: np.ndarray, answer: np.ndarray,
                     counterfactual: Callable[[np.ndarray, np.ndarray], np.ndarray], rng: np.random.Generator,
                     count: int = PAIRS) -> Pairs:
    """Up to ``count`` distinct (base, source) pairs over a table of ``N`` inputs where ``variable`` (its
    value per input, ``[N]``) differs between base and source and ``counterfactual(base, source)`` (the
    program's answer for the base with the variable from the source) differs from ``answer[base]`` (the
    program's answer, ``[N]`` or ``[N, arity]``)."""
    variable, answer = np.asarray(variable), np.asarray(answer)
    n = variable.shape[0]
    if n * n <= CANDIDATES:
        base, source = (g.reshape(-1) for g in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    else:
        flat = np.unique(rng.integers(n * n, size=CANDIDATES))
        base, source = flat // n, flat % n
    keep = variable[base] != variable[source]
    base, source = base[keep], source[keep]
    cf = np.asarray(counterfactual(base, source))
    changed = cf != answer[base]
    changed = changed.any(axis=tuple(range(1, changed.ndim))) if changed.ndim > 1 else changed  # no reshape: 0 pairs
    base, source, cf = base[changed], source[changed], cf[changed]
    pick = np.sort(rng.permutation(base.shape[0])[:count])
    return Pairs(base[pick], source[pick], cf[pick])


def step_pairs(program: Program, step: str, inputs: dict[str, np.ndarray], rng: np.random.Generator,
               count: int = PAIRS) -> tuple[np.ndarray, Pairs]:
    """(the step's value per input, stratified pairs) for the named step ``step`` (a one-target
    assignment of a straight-line ``program``) over a table of ``inputs``. The counterfactual runs
    ``program`` on the base with that assignment replaced by the source's value."""
    at = [i for i, s in enumerate(program.body) if isinstance(s, Assign) and s.targets == (step,)]
    if len(at) != 1 or not all(isinstance(s, (Assign, Return)) for s in program.body):
        raise ValueError(f"{step!r} is not assigned exactly once in a straight-line program")
    upto = Program(program.name, program.params, program.body[:at[0] + 1] + (Return(Var(step)),))
    values = np.asarray(evaluate(upto, inputs))
    intervened = Program(program.name, program.params + (step,), program.body[:at[0]] + program.body[at[0] + 1:])

    def counterfactual(base, source):
        return evaluate(intervened, {**{n: np.asarray(v)[base] for n, v in inputs.items()}, step: values[source]})

    return values, stratified_pairs(values, evaluate(program, inputs), counterfactual, rng, count)


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """The network's own weights take no gradient inside (only the rotation learns), restored after."""
    before = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in before:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in before:
            p.requires_grad_(flag)


def rotation(width: int, k: int, rng: np.random.Generator) -> nn.Module:
    """The first ``k`` rows of a rotation of ``width`` dimensions: an orthogonally parametrised bias-free
    ``Linear(width, k)`` (orthonormal rows), starting at those of a random rotation drawn from ``rng``."""
    q, r = np.linalg.qr(rng.standard_normal((width, width)))
    q = q * np.sign(np.diag(r))  # Haar-distributed
    layer = nn.Linear(width, k, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(q[:k], dtype=torch.float32))
    # Householder reflections from the weight itself: the default (trivialisation) would complete the
    # rows to a square matrix with torch's global generator, and the search would depend on its state
    return orthogonal(layer, orthogonal_map="householder", use_trivialization=False)


def split_pairs(base: np.ndarray, source: np.ndarray, train_share: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Indices of the pairs ``(base[i], source[i])`` (ids of inputs) split by input, not by pair: the inputs met
    in any pair are cut at random into a training part (``train_share`` of them, at least one) and a held-out
    part; a pair trains the alignment when its base and source are both training inputs and scores it when
    both are held out; a pair across the cut is dropped. A rotation fitted to some inputs' hidden vectors is
    so scored on inputs it never saw: with more units than inputs any labelling of the seen ones is linear
    in a random layer, and only a variable the network holds carries over to new inputs."""
    base, source = np.asarray(base), np.asarray(source)
    ids = np.unique(np.concatenate([base, source]))
    order = rng.permutation(ids.size)
    cut = min(ids.size - 1, max(1, int(round(train_share * ids.size))))
    training = np.zeros(ids.size, dtype=bool)
    training[order[:cut]] = True
    b, s = training[np.searchsorted(ids, base)], training[np.searchsorted(ids, source)]
    return {"train": np.nonzero(b & s)[0], "test": np.nonzero(~b & ~s)[0]}


def too_few(parts: dict[str, np.ndarray]) -> str | None:
    """Why a split cannot score an alignment (fewer than ``MIN_PAIRS // 2`` pairs on a side), or None."""
    if min(len(parts["train"]), len(parts["test"])) < MIN_PAIRS // 2:
        return (f"split by input, {len(parts['train'])} pairs train and {len(parts['test'])} score the alignment; "
                f"F2-D needs {MIN_PAIRS // 2} on each side")
    return None


def learn(rot: nn.Module, model: nn.Module, objective: Callable[[], torch.Tensor], *, steps: int, lr: float,
          budget: Budget | None) -> bool:
    """``steps`` full-batch Adam steps on the rotation's rows toward ``objective`` (the network frozen, one
    thread); False if ``budget`` ran out first. ``rot`` may hold several searches' rotations (an
    ``nn.ModuleList``) with ``objective`` the sum of their losses: Adam updates each parameter from its own
    gradient, and each rotation's gradient comes from its own loss alone, so they are learned as if one by one."""
    opt = torch.optim.Adam(rot.parameters(), lr=lr)
    with frozen(model), one_thread():
        for _ in range(steps):
            if budget is not None and budget.expired:
                return False
            opt.zero_grad()
            objective().backward()
            opt.step()
    return True


class Subspaces(nn.Module):
    """The rows of several searches' rotations (``rotation``), learned as one parameter per dimension ``k``
    through the same orthogonal parametrisation: ``forward()`` gives every search's rows at once, ``[R,
    width]`` (``R`` the sum of the ``k``, the searches of one ``k`` together), ``columns[s]`` the rows of search
    ``s``. Adam updates each entry from its own gradient, so a stack learns as its rotations would one by one."""

    def __init__(self, rots: list[nn.Module]):
        super().__init__()
        originals = [r.parametrizations.weight.original.detach() for r in rots]
        self.orthogonal = rots[0].parametrizations.weight[0]  # stateless: the map from a parameter to its rows
        ks = sorted({int(x.shape[0]) for x in originals})
        groups = [[i for i, x in enumerate(originals) if x.shape[0] == k] for k in ks]
        self.stacks = nn.ParameterList([nn.Parameter(torch.stack([originals[i] for i in g])) for g in groups])
        self.columns: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(rots)
        at = 0
        for k, g in zip(ks, groups):
            for i in g:
                self.columns[i] = np.arange(at, at + k)
                at += k
        self.count = at

    def forward(self) -> torch.Tensor:
        return torch.cat([self.orthogonal(x).reshape(-1, x.shape[-1]) for x in self.stacks])

    def own(self, search: np.ndarray) -> torch.Tensor:
        """The ``mask`` of ``moved`` for rows of searches ``search``: one on each row's own search's rows."""
        mask = np.zeros((search.shape[0], self.count), dtype=np.float32)
        for s in np.unique(search):
            mask[np.ix_(search == s, self.columns[s])] = 1.0
        return torch.as_tensor(mask)


def moved(delta: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[n, width]``: each row of ``delta`` projected onto its own search's subspace, ``delta_i Q_sᵀ Q_s``, with
    ``q`` every search's rows ``[R, width]`` (``Subspaces``) and ``mask`` ``[n, R]`` one on the row's own
    search's rows (``Subspaces.own``): two products over all the rows at once."""
    return ((delta @ q.T) * mask) @ q


def segment_losses(enc, logits: torch.Tensor, targets: torch.Tensor, search: torch.Tensor, count: int) -> torch.Tensor:
    """The sum over ``count`` searches of each one's loss on its rows (``search``: the search of each row of
    ``logits`` and ``targets``): per head, the mean cross-entropy over its targets that are not -100 (a search
    with none adds nothing), summed over heads, as ``nn.functional.cross_entropy`` on the search's rows alone."""
    total = logits.new_zeros(())
    for j, part in enumerate(enc.split_logits(logits)):
        want = targets[..., j].reshape(-1)
        per = want.numel() // max(1, search.numel())
        which = search.repeat_interleave(per)
        ce = nn.functional.cross_entropy(part.reshape(want.numel(), -1), want, ignore_index=-100, reduction="none")
        sums = logits.new_zeros(count).index_add(0, which, ce)
        said = torch.bincount(which[want != -100], minlength=count).clamp(min=1)
        total = total + (sums / said).sum()
    return total


def segment_means(ok: np.ndarray, search: np.ndarray, count: int) -> list[float]:
    """The share of true ``ok`` per search (``search``: each row's)."""
    return (np.bincount(search, weights=ok, minlength=count) / np.maximum(1, np.bincount(search, minlength=count))).tolist()


def learn_jointly(spaces: Subspaces, model: nn.Module, live: list, enc, run: Callable[[str], torch.Tensor],
                  train: dict, accuracy: Callable[[str], list[float]], targets: list[torch.Tensor], *, steps: int,
                  lr: float, budget: Budget | None, sayable: bool = True) -> None:
    """The loop a joint F2-D search shares (``Interchanges``, ``fsm.StateInterchanges``): the ``live`` searches'
    subspaces learned by one Adam loop on the sum of their losses (``run("train")``'s logits against ``train``'s
    targets, per search), then each search's ``result``: its held-out and training interchange accuracy, or None
    for all when the budget runs out; with ``sayable``, a search whose counterfactual answers the heads cannot
    name says on how many pairs (``targets``: each search's, -100 where no head knows the value)."""

    def loss() -> torch.Tensor:
        return segment_losses(enc, run("train"), train["targets"], train["search_t"], len(live))

    if not learn(spaces, model, loss, steps=steps, lr=lr, budget=budget):
        for s in live:
            s.result = Alignment(None, s.k, len(s.parts["train"]), len(s.parts["test"]),
                                 reasons=("the budget ran out while learning the alignment",))
        return
    for s, want, test, got in zip(live, targets, accuracy("test"), accuracy("train")):
        reasons = ()
        unsayable = int((want.reshape(len(want), -1) < 0).any(dim=1).sum()) if sayable else 0
        if unsayable:  # the program's counterfactual is no answer the network's heads can give: a miss, and why
            reasons = (f"on {unsayable} of {len(s.pairs)} pairs the counterfactual answer is no value the network "
                       f"can output",)
        s.result = Alignment(test, s.k, len(s.parts["train"]), len(s.parts["test"]), got, reasons)


@dataclass
class _Search:
    """One search of ``Interchanges``: its pairs and ``k``, the network it runs on (an index into the joint's
    networks), and once drawn its split and starting rotation (or its result, when it cannot run)."""

    pairs: Pairs
    k: int
    net: int = 0
    parts: dict[str, np.ndarray] | None = None
    rot: nn.Module | None = None
    result: Alignment | None = None


def _after_layer(model, path: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """What the network computes from layer ``path``'s output on, when that is one module: an MLP's readout
    after its hidden activation (``MLP.forward`` is ``out(read(batch))``, ``read`` ending in ``act``). A patch
    that sets the whole layer then needs no pass through the layers before it. None for other layers."""
    if getattr(model, "arch", "") == "mlp" and path == "act":
        return model.readout
    return None


class Interchanges:
    """Several F2-D searches (``distributed_interchange``) on layer ``path`` over one table of ``inputs``, on
    one network or on several of the same layer width (a reading's and its untrained control's), learned
    together: each search's pairs are rows of one batch per network, each row patched with its own search's
    subspace (``Subspaces``), and one Adam loop of ``steps`` steps minimises the sum of the searches' losses.
    Each search draws its split and starting rotation from the generator passed to ``add``, when added (the
    draws of ``distributed_interchange`` in turn), and its rows learn from its own loss alone: the scores are
    those of the searches run one by one (up to float rounding), at the cost of about one. Only the budget
    is shared: if it runs out, every search still learning is None."""

    def __init__(self, trained, path: str, inputs: dict[str, np.ndarray], *, steps: int = STEPS, lr: float = LR,
                 train_share: float = TRAIN_SHARE):
        self.path, self.inputs, self.steps, self.lr, self.train_share = path, inputs, steps, lr, train_share
        self.nets: list[dict] = []
        self.searches: list[_Search] = []
        self._net(trained)

    def _net(self, trained) -> int:
        for i, net in enumerate(self.nets):
            if net["trained"] is trained:
                return i
        self.nets.append({"trained": trained, "batch": trained.encoding.batch(self.inputs, None), "hidden": None})
        return len(self.nets) - 1

    def _hidden(self, i: int) -> torch.Tensor:
        net = self.nets[i]
        if net["hidden"] is None:
            with torch.no_grad(), recording(net["trained"].model, self.path) as seen:
                net["trained"].model(net["batch"])
            net["hidden"] = seen[0]
        return net["hidden"]

    def add(self, pairs: Pairs, k: int, rng: np.random.Generator, *, trained=None) -> None:
        """A search for one variable: ``pairs`` (indices into the inputs) and its subspace's dimension ``k``, on
        ``trained`` (by default the network the joint was made with)."""
        found = _Search(pairs, k, self._net(trained) if trained is not None else 0)
        self.searches.append(found)
        if len(pairs) < MIN_PAIRS:
            found.result = Alignment(None, k, reasons=(f"only {len(pairs)} (base, source) pairs change both the variable "
                                                       f"and the answer; F2-D needs {MIN_PAIRS}",))
            return
        parts = split_pairs(pairs.base, pairs.source, self.train_share, rng)
        if (why := too_few(parts)) is not None:
            found.result = Alignment(None, k, len(parts["train"]), len(parts["test"]), reasons=(why,))
            return
        width = self._hidden(found.net).shape[-1]
        found.k = min(k, width)
        found.parts, found.rot = parts, rotation(width, found.k, rng)

    def run(self, budget: Budget | None = None) -> list[Alignment]:
        """Learn the searches' rotations together; each search's ``Alignment``, in the order added."""
        live = [s for s in self.searches if s.result is None]
        if live:
            if len({self._hidden(s.net).shape[-1] for s in live}) > 1:
                raise ValueError("the networks of one joint F2-D search must have layers of one width")
            self._learn(live, budget)
        return [s.result for s in self.searches]

    def _learn(self, live: list[_Search], budget: Budget | None) -> None:
        enc = self.nets[0]["trained"].encoding
        spaces = Subspaces([s.rot for s in live])
        targets = [enc.targets(s.pairs.counterfactual).reshape(len(s.pairs), -1) for s in live]
        sides = {}
        for side in ("train", "test"):
            parts, order = [], []
            for n, net in enumerate(self.nets):
                mine = [j for j, s in enumerate(live) if s.net == n]
                if not mine:
                    continue
                rows = [live[j].parts[side] for j in mine]
                base = np.concatenate([live[j].pairs.base[r] for j, r in zip(mine, rows)])
                source = np.concatenate([live[j].pairs.source[r] for j, r in zip(mine, rows)])
                search = np.repeat(mine, [len(r) for r in rows])
                hidden = self._hidden(n)
                parts.append((net["trained"].model, net["batch"].take(base), hidden[base], hidden[source],
                              spaces.own(search)))
                order += [(j, r) for j, r in zip(mine, rows)]
            search = np.repeat([j for j, _ in order], [len(r) for _, r in order])
            sides[side] = {"nets": parts, "search": search, "search_t": torch.as_tensor(search),
                           "targets": torch.cat([targets[j][torch.as_tensor(r)] for j, r in order]),
                           "want": np.concatenate([np.asarray(live[j].pairs.counterfactual)[r].reshape(len(r), -1)
                                                   for j, r in order])}

        def run(side: str) -> torch.Tensor:
            """The logits on every search's pairs of ``side`` (one forward pass per network)."""
            q = spaces()  # the subspaces: once per forward pass (the parametrisation recomputes them)
            logits = []
            for model, batch, h_base, h_source, mask in sides[side]["nets"]:
                patched = h_base + moved(h_source - h_base, q, mask)
                after = _after_layer(model, self.path)
                if after is not None:
                    logits.append(after(patched))
                    continue
                with patching(model, self.path, lambda _call, _out, patched=patched: patched):
                    logits.append(model(batch))
            return torch.cat(logits)

        def accuracy(side: str) -> list[float]:
            with torch.no_grad():
                got = enc.decode(run(side))
            want, search = sides[side]["want"], sides[side]["search"]
            return segment_means((got.reshape(want.shape) == want).all(axis=1), search, len(live))

        models = {id(net["trained"].model): net["trained"].model for net in self.nets}.values()
        with contextlib.ExitStack() as stack:
            for model in list(models)[1:]:
                stack.enter_context(frozen(model))
            learn_jointly(spaces, self.nets[0]["trained"].model, live, enc, run, sides["train"], accuracy, targets,
                          steps=self.steps, lr=self.lr, budget=budget)


def distributed_interchange(trained, path: str, inputs: dict[str, np.ndarray], pairs: Pairs, *, k: int = 1,
                            rng: np.random.Generator, steps: int = STEPS, lr: float = LR,
                            train_share: float = TRAIN_SHARE, budget: Budget | None = None) -> Alignment:
    """F2-D of one variable on ``trained``'s layer ``path``: learn a rotation whose first ``k`` coordinates
    carry the variable on a ``train_share`` of ``pairs`` (indices into ``inputs``, a table of the
    network's inputs), and return the interchange accuracy on the rest. (``Interchanges`` with one search.)"""
    joint = Interchanges(trained, path, inputs, steps=steps, lr=lr, train_share=train_share)
    joint.add(pairs, k, rng)
    return joint.run(budget)[0]


def mean_accuracy(found: list[Alignment]) -> float | None:
    """The mean held-out accuracy over the variables that were scored; None when none was."""
    scored = [a.accuracy for a in found if a.accuracy is not None]
    return float(np.mean(scored)) if scored else None


def program_interchange(trained, path: str, program: Program, inputs: dict[str, np.ndarray], rng: np.random.Generator,
                        *, budget: Budget | None = None) -> dict[str, Alignment]:
    """F2-D of every named step of a straight-line ``program`` on ``trained``'s layer ``path``, over a table of
    ``inputs``, each with its stratified pairs and ``k`` from its values, learned together (``Interchanges``)."""
    joint, steps = Interchanges(trained, path, inputs), []
    for stmt in program.body:
        if isinstance(stmt, Assign):
            (step,) = stmt.targets
            values, pairs = step_pairs(program, step, inputs, rng)
            joint.add(pairs, dimension(values), rng)
            steps.append(step)
    return dict(zip(steps, joint.run(budget)))


def initial_network(trained):
    """The network ``trained``'s training started from (``extraction.untrained`` with its architecture, sizes
    and seed), or None when the record does not say how it was initialised (a compiled network, say)."""
    keys = SIZE_KEYS.get(trained.arch, ())
    if "seed" not in trained.settings or not keys or any(k not in trained.settings for k in keys):
        return None
    return untrained(trained.problem, trained.arch, seed=trained.settings["seed"],
                     **{k: trained.settings[k] for k in keys})


# Inputs over which a rewrite's steps are told apart from the original's when the domain is larger.
SAMPLE = 20_000


def same_variable(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two value tables (one value per input) cut the inputs into the same classes? Then they are one
    variable up to relabelling its values, and an interchange cannot tell them apart."""
    pairs = np.unique(np.stack([a, b], axis=1), axis=0).shape[0]
    return pairs == len(np.unique(a)) == len(np.unique(b))


def rewritten(program: Program, inputs: Mapping[str, Domain]) -> Program | None:
    """A program equal to the straight-line ``program`` on every input of ``inputs`` whose named steps are all
    other variables (see the module's docstring); None when ``program`` is not straight-line with one-target
    steps assigned once, or when no mask makes some step another variable."""
    body = program.body
    if not body or not isinstance(body[-1], Return) or not all(
            isinstance(s, Assign) and len(s.targets) == 1 for s in body[:-1]):
        return None
    steps = [s.targets[0] for s in body[:-1]]
    if not steps or len(set(steps)) != len(steps) or set(steps) & set(program.params):
        return None
    domains = dict(inputs)
    if domain_size(domains) <= SAMPLE:
        table, _ = enumerate_domain(domains)
    else:
        table, _ = sample_domain(domains, SAMPLE, np.random.default_rng(0))

    def values(upto: list, last) -> np.ndarray:
        prog = Program(program.name, program.params, tuple(upto) + (Return(last),))
        return np.broadcast_to(np.asarray(evaluate(prog, table)), (len(next(iter(table.values()))),))

    params = [n for n in program.params if np.ndim(table[n]) == 1]
    boolean = {n for n in params if set(np.unique(table[n]).tolist()) <= {0, 1}}
    masks = [Var(n) for n in params] + [Binary("^" if {x, y} <= boolean else "+", Var(x), Var(y))
                                        for x, y in combinations(params, 2)]
    seen = [np.asarray(table[n]) for n in params] + [values(list(body[:i + 1]), Var(h)) for i, h in enumerate(steps)]
    taken = set(program.params) | set(steps) | {v for s in body for v in variables(s)}
    fresh = (f"r{i}" for i in range(len(taken) + len(steps) + 1) if f"r{i}" not in taken)
    new_body, uses = [], {}
    for stmt, h in zip(body[:-1], steps):
        e = substitute(stmt.value, uses)
        name = next(fresh)
        for m in masks:
            xor = not (variables(m) - boolean)
            step = Assign((name,), Binary("^" if xor else "+", e, m))
            got = values(new_body + [step], Var(name))
            if len(np.unique(got)) > 1 and not any(same_variable(got, v) for v in seen):
                break
        else:
            return None
        new_body.append(step)
        seen.append(got)
        uses[h] = Binary("^" if xor else "-", Var(name), m)
    new = Program(program.name, program.params, tuple(new_body) + (Return(substitute(body[-1].value, uses)),))
    return new if equivalent(program, new, domains).equal else None


def rewritten_state(program: Program, state: str, inputs: Mapping[str, Domain]) -> tuple[Program, str] | None:
    """(a loop program equal to ``program`` on every input of ``inputs`` whose state is another variable,
    its state's name), or None when ``program`` is not a loop assigning ``state`` once before it and once
    (alone) in it.

    A machine's state cannot be renamed into another variable at one step (any equal machine's states
    refine the minimal one's, and a relabelling is the same variable), so the rewrite varies the code
    from step to step: ``r = s ^ p`` with ``p`` the parity of the steps taken (a second state, flipped
    right after the state's update), every read of ``s`` becoming ``(r ^ p)``. At one step ``r`` is a
    relabelling of ``s``; between steps of unlike parity it is not, and the interchanges draw the
    source's step independently of the base's, so a network holding ``s`` in one code for every step
    scores about the share of like-parity pairs on the rewrite. Equality is checked
    (``programs.equivalent``)."""
    body = list(program.body)
    loops = [i for i, s in enumerate(body) if isinstance(s, For)]
    before = [i for i, s in enumerate(body) if isinstance(s, Assign) and state in s.targets]
    if len(loops) != 1 or len(before) != 1 or before[0] > loops[0] or body[before[0]].targets != (state,):
        return None
    loop = body[loops[0]]
    inside = [i for i, s in enumerate(loop.body) if isinstance(s, Assign) and state in s.targets]
    if len(inside) != 1 or loop.body[inside[0]].targets != (state,):
        return None
    taken = set(program.params) | set(loop.targets) | {v for s in program.body for v in _names(s)}
    fresh = (n for i in range(len(taken) + 2) for n in (f"r{i}",) if n not in taken)
    r, p = next(fresh), next(fresh)
    masked = {state: Binary("^", Var(r), Var(p))}
    flip = Assign((p,), Binary("^", Var(p), Const(1)))

    def rewrite(stmt):
        if isinstance(stmt, Assign):
            return Assign(stmt.targets, substitute(stmt.value, masked))
        if isinstance(stmt, Return):
            return Return(substitute(stmt.value, masked))
        return type(stmt)(substitute(stmt.value, masked))  # Yield

    new_loop = []
    for i, stmt in enumerate(loop.body):
        if i == inside[0]:  # r' = s' ^ p' with p' = p ^ 1, written before p flips
            update = substitute(stmt.value, masked)
            new_loop += [Assign((r,), Binary("^", update, Binary("^", Var(p), Const(1)))), flip]
        else:
            new_loop.append(rewrite(stmt))
    new_body = []
    for i, stmt in enumerate(body):
        if i == before[0]:
            new_body += [Assign((r,), substitute(stmt.value, masked)), Assign((p,), Const(0))]
        elif i == loops[0]:
            new_body.append(For(loop.targets, loop.iters, tuple(new_loop)))
        else:
            new_body.append(rewrite(stmt))
    new = Program(program.name, program.params, tuple(new_body))
    return (new, r) if equivalent(program, new, dict(inputs)).equal else None


def _names(stmt) -> set[str]:
    """Every name a statement reads or assigns, loops included."""
    found = set(variables(stmt))
    if isinstance(stmt, Assign):
        found |= set(stmt.targets)
    if isinstance(stmt, For):
        found |= set(stmt.targets) | set(stmt.iters)
        for s in stmt.body:
            found |= _names(s)
    return found
