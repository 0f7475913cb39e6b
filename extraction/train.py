"""``train``: fit a toy network to a task's examples on one CPU thread, full batch, until it is exact."""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from toy_tasks import Int, Problem, Task, TaskError, as_problem

from .encoding import Batch, Encoding
from .models import ARCHS, build
from .search import GIVE_UP_AFTER

# Per-architecture defaults, measured on one core (see BENCHMARKS.md).
DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"lr": 3e-2, "weight_decay": 1.0, "embed": 32, "hidden": 128, "numeric": False, "regress": False, "eval_every": 10,
            "give_up_after": GIVE_UP_AFTER},
    "gru": {"lr": 3e-2, "weight_decay": 1e-3, "embed": 8, "hidden": 16, "numeric": False, "regress": False,
            "eval_every": 10, "batch": 1024, "noise": 0.0, "anneal": 1.0, "late": False, "domain": False,
            "calm": False, "snap": True, "committee": True},
    "rnn": {"lr": 1e-2, "weight_decay": 1e-3, "embed": 8, "hidden": 32, "numeric": False, "regress": False,
            "act": "tanh", "inner": 32, "eval_every": 10, "batch": 1024, "noise": 0.0, "anneal": 1.0, "late": False,
            "domain": False, "calm": False, "committee": True},
    "transformer": {"lr": 1e-3, "weight_decay": 1.0, "d_model": 64, "heads": 4, "d_mlp": 256, "eval_every": 10},
}
SIZE_KEYS = {"mlp": ("embed", "hidden", "numeric", "regress"), "gru": ("embed", "hidden", "numeric", "regress"),
             "rnn": ("embed", "hidden", "numeric", "regress", "act", "inner"),
             "transformer": ("d_model", "heads", "d_mlp")}


WIDTH_KEY = {"mlp": "hidden", "gru": "hidden", "rnn": "hidden", "transformer": "d_mlp"}
SEARCH_WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
# The narrowest width the search tries on a network over tokens (numeric nets try them all): on the standard
# suite's scans and the finite-state user tasks no token GRU narrower than 4 was ever the narrowest exact one
# (BENCHMARKS.md, "The width search as the default"), and each took a share of the rows until the first rung.
SEARCH_TOKEN_FLOOR = 4
# An input alphabet larger than this enters a recurrent net as numbers (MIPS), not one token per value; an
# output with more distinct values than this is regressed (one value per head), not classified.
NUMERIC_ALPHABET = 16
# Arithmetic on residues (``residues``) trains in the grokking regime: an MLP over token embeddings, full
# batch, weight decay 1.0 (Nanda et al. 2023). Measured on one loaded core on (a+b)%p at p = 31, 59 and 113
# (BENCHMARKS.md, "Grokked modular arithmetic"): embed 16 / hidden 64 grokked where 32 / 128 had not in the same
# seconds (p = 31 from half the table: 1,600 steps against none in 8 s; p = 59 from 40%: 1,380 steps against 66%
# held-out in 10 s); lr 3e-2 beat 1e-2 and 3e-3; weight decay 0.3 memorised and 3-5 was slower. The accuracy
# trend may never stop it (``give_up_after`` 1.0): a grokking net sits at chance on held-out inputs until it
# jumps, so its trend says nothing.
RESIDUE_MLP: dict[str, Any] = {"numeric": False, "embed": 16, "hidden": 64, "lr": 3e-2, "weight_decay": 1.0,
                               "give_up_after": 1.0}
# The most of its budget a training run spends quantising a regressing numeric MLP (``extraction.quantise``)
# once it is exact: depth-two maps (a clamp, a median of three) have no small integer one-layer net, and the
# search for one would otherwise take what reading needs.
QUANTISE_SHARE = 0.25
# A regressing head names at most this many values once widened to the network's own range (``lattice_heads``).
LATTICE_MAX_VALUES = 4096
# Whether ``train`` runs the width search unless told (``search=None``), per architecture (BENCHMARKS.md, "The width
# search as the default"): on for recurrent nets, where it costs about one training and finds the narrow machines
# ``fsm`` reads; off for MLPs (2-8x one network's seconds there, and narrow MLPs whose features do not fix the
# answer read worse; a numeric MLP is pruned by its quantisation instead) and transformers (not covered by the search).
SEARCH_BY_DEFAULT: dict[str, bool] = {"mlp": False, "gru": True, "rnn": True, "transformer": False}


class TrainingError(ValueError):
    """A training request that cannot run: an architecture that does not fit the task, bad settings."""


@dataclass(frozen=True, eq=False)
class Trained:
    """A network fitted to a problem's examples, with how well and how fast.

    It keeps the ``problem`` it was trained on (signature and examples), never the task: every reader and
    check downstream sees only what the route may see. ``domain_accuracy`` (the share of the whole domain
    the network gets right) needs the answers, so it is measured only when ``train`` was given the task
    itself; it is None when it was given a problem (as in the comparator's worker processes).

    ``status`` is "trained" (stopped exact on the training and held-out examples), "budget" (ran out of
    time before that), "error" (training diverged; ``reasons`` names the step) or "untrained" (the
    initial network, from ``untrained``). ``flops`` estimates the
    training compute: forward and backward passes (3x a forward pass) over the rows each network really took a
    step on, at its own width, every candidate of a width search and every attempt included.
    """

    model: nn.Module
    problem: Problem
    train_accuracy: float
    domain_accuracy: float | None
    steps: int
    seconds: float
    params: int = 0
    flops: float = 0.0
    arch: str = ""
    encoding: Encoding | None = None
    examples: int = 0
    heldout_accuracy: float | None = None
    status: str = "trained"
    reasons: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    compiled_from: Any = None  # the program a compiled network implements (None for trained ones)

    @property
    def task(self) -> Problem:
        """The problem trained on (the contract's older name for it)."""
        return self.problem

    def predict(self, inputs: dict[str, np.ndarray], lengths: np.ndarray | None = None) -> np.ndarray:
        """The network's answers, in the task's output layout."""
        with torch.no_grad():
            return self.encoding.decode(self.model(self.encoding.batch(inputs, lengths)), lengths)


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread (faster than two for these sizes), restoring the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def family_defaults(task, arch: str) -> dict[str, Any]:
    """Settings measured here, chosen from the problem's signature and examples, never its family label:
    arithmetic on residues (``residues``) trains token embeddings in the grokking regime (``RESIDUE_MLP``:
    what ``fourier`` reads); other functions of integers, bits included, train an MLP on the input values
    themselves (each hidden pre-activation affine in them, 5-20x faster than embeddings) that regresses its
    answer, to be quantised onto integer weights (``extraction.quantise``) and transcribed by ``linear``. A recurrent net takes its inputs as numbers when some alphabet
    is larger than ``NUMERIC_ALPHABET``, regresses an output that is a quantity (``quantity``: more distinct
    values than the inputs' alphabet, or than ``NUMERIC_ALPHABET``; a token net then at ``REGRESS_LR``), and a
    numeric Elman net is a ReLU one (it can hold a sum, a maximum or a delayed value exactly)."""
    if arch == "mlp" and residues(task) is not None:
        return dict(RESIDUE_MLP)
    if arch == "mlp":
        return {"numeric": True, "regress": True, "lr": 1e-2, "weight_decay": 0.1}
    if arch in ("gru", "rnn") and numeric_streams(task):
        out = {"numeric": True, "regress": quantity(task), "lr": 1e-2, "weight_decay": 1e-4}
        return {**out, "act": "relu"} if arch == "rnn" else out
    if arch in ("gru", "rnn") and quantity(task):
        return {"regress": True, "lr": REGRESS_LR}
    return {}


# Training a recurrent net over tokens robust to its own drift, by request (off by default): Gaussian noise of
# standard deviation ``noise`` on its state after every step (``extraction.search.noisy_states``; robust
# attractors), a scan's loss weighing step t as t + 1 (``late``: domain errors sit at long inputs' late steps),
# and once a network is exact by argmax its learning rate times ``anneal`` while it waits for the margin.
# Measured on one loaded core (BENCHMARKS.md, "Exact on the domain: state noise"): noise 0.1 with ``late`` and
# ``anneal`` 0.1 cut the domain errors of stream addition in bases 6-7 and running sums mod 7-8 about 3x over seeds
# 0-2 (exact in 2 of 12 runs against 1), but made bracket_balance and running_majority inexact on their domain
# (1 -> 0.9976, 0.9971) and the finite-state tasks 2-5x slower; at noise 0.2-0.3 training stalled short of exact.
# The noise never applies to a numeric net (``search.state_noise``) and ``anneal`` never to a regressing one (the
# margin polish settles it); asked for on first_index the noise made the kept net worse (0.9998 -> 0.9984, seed 0).
# A token recurrent net that regresses its output trains at this rate (BENCHMARKS.md, "Counters and positions"):
# at the token default 3e-2 first_index generalised to the domain for neither seed 0 nor 1 (0.998), at 1e-2 for
# seeds 0-2 (count, first and last index at seed 0: 5, 6, 8 s; see BENCHMARKS.md).
REGRESS_LR = 1e-2


def quantity(task) -> bool:
    """Whether a recurrent net should regress ``task``'s output (one value per head, ``ValueReadout``) rather than
    classify it: the output takes more values than the largest input alphabet (or than ``NUMERIC_ALPHABET``), so it
    is a quantity the state accumulates (a count, a position, a sum, a position under constant force), not a copy
    or a label of the symbols read. A regressed value lies on the number line: a count of 5 that the examples show
    once (for one target) is the counter's next value for every target, where a classifier meets a class it saw
    once."""
    return output_values(task) > min(alphabet(task), NUMERIC_ALPHABET)


def residues(task) -> int | None:
    """The modulus m when ``task`` (a problem or task) reads as arithmetic on residues, else None: two
    scalar inputs over the same range 0..m-1 (m >= 3), one answer, every example's answer in 0..m-1, and the
    answers wrap: between two examples one step apart along an input the answer jumps by more than m / 2
    somewhere. A sum, difference or product taken mod m wraps (a + b at a = m-1 steps from m-1 to 0); a
    function of the inputs that moves by at most one per step (|a - b|, max(a, b), min, a clamp), which a
    numeric MLP writes exactly, never does."""
    scal = [d for d in task.inputs.values() if isinstance(d, Int)]
    if task.sequences or len(scal) != 2 or task.arity != 1 or task.kind != "function":
        return None
    m = scal[0].size
    if any(d.lo != 0 or d.size != m for d in scal) or m < 3:
        return None
    ex = task.examples
    out = np.asarray(ex.outputs).reshape(-1)
    if len(out) == 0 or out.min() < 0 or out.max() >= m:
        return None
    a_name, b_name = list(task.inputs)
    grid = np.full((m, m), -1, dtype=np.int64)
    grid[np.asarray(ex.inputs[a_name]), np.asarray(ex.inputs[b_name])] = out
    steps = [np.abs(g[1:] - g[:-1])[(g[:-1] >= 0) & (g[1:] >= 0)] for g in (grid, grid.T)]
    return m if any(s.size and s.max() > m / 2 for s in steps) else None


def alphabet(task) -> int:
    """The largest input alphabet of ``task`` (elements of a sequence, values of a scalar)."""
    return max((d.element.size if hasattr(d, "element") else d.size) for d in task.inputs.values())


def numeric_streams(task) -> bool:
    """Whether a sequence task's inputs are integers over alphabets too large for a token per value."""
    return bool(task.sequences) and alphabet(task) > NUMERIC_ALPHABET


def output_values(task) -> int:
    """How many distinct output values the examples hold (the classes a classifier head would need)."""
    ex = task.examples
    out = np.asarray(ex.outputs)
    if ex.lengths is not None and task.kind == "scan":
        out = out[np.arange(out.shape[1])[None, :] < np.asarray(ex.lengths)[:, None]]
    return int(len(np.unique(out)))


def choose_arch(task) -> str:
    """MLP for fixed-arity functions (modular included: it groks far faster than a transformer here),
    GRU for anything that reads a sequence, a ReLU Elman net for integer streams over large alphabets."""
    if not task.sequences:
        return "mlp"
    return "rnn" if numeric_streams(task) else "gru"


def check_arch(task, arch: str) -> None:
    """Refuse an architecture that cannot take the task's inputs, saying which would."""
    if arch not in ARCHS:
        raise TrainingError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)} or 'auto'")
    if arch in ("mlp", "transformer") and task.sequences:
        raise TrainingError(f"{arch} takes fixed-arity integer inputs, but task {task.name} reads the sequence(s) "
                            f"{', '.join(task.sequences)}; use arch='gru' or 'rnn'")
    if arch in ("gru", "rnn") and not task.sequences:
        raise TrainingError(f"{arch} steps over a sequence, but task {task.name} has none; use arch='mlp' or 'transformer'")
    if arch == "transformer" and len(task.inputs) < 1:
        raise TrainingError(f"task {task.name} has no inputs")
    big = [n for n, d in task.inputs.items() if (d.size if not hasattr(d, "element") else d.element.size) > 1 << 16]
    if big:
        raise TrainingError(f"inputs {', '.join(big)} of task {task.name} range over more than 65536 values; "
                            "a token embedding per value does not fit; narrow the domain")


def check_settings(arch: str, settings: dict[str, Any]) -> None:
    """Refuse settings no network can train with (a NaN or negative rate, a width of zero), naming them."""
    for key, value in settings.items():
        if key == "give_up_after":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value <= 1.0
            want = "a share of the budget in (0, 1]"
        elif key == "anneal":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 < value <= 1.0
            want = "a share of the learning rate in (0, 1]"
        elif key in ("lr", "weight_decay", "noise"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
                value > 0 if key == "lr" else value >= 0)
            want = "a finite number above 0" if key == "lr" else "a finite number, 0 or more"
        elif key in ("numeric", "regress", "late", "domain", "calm", "snap", "committee"):
            ok, want = isinstance(value, bool), "True or False"
        elif key == "act":
            ok, want = value in ("tanh", "relu", "mlp"), "'tanh', 'relu' or 'mlp' (MIPS's cell: an MLP updates a linear state)"
        else:
            ok, want = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1, "an integer, 1 or more"
        if not ok:
            raise TrainingError(f"{arch} option {key}={value!r} is not usable: it must be {want}")
    if arch == "transformer" and settings["d_model"] % settings["heads"]:
        raise TrainingError(f"transformer d_model={settings['d_model']} must be a multiple of heads={settings['heads']}")


def nonfinite(model: nn.Module) -> list[str]:
    """Names of the network's parameters and buffers holding a NaN or an infinity."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return [name for name, t in tensors if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def accuracy(model, encoding: Encoding, batch: Batch, targets: torch.Tensor) -> float:
    """Share of examples whose every output (every head, every step) the network gets right."""
    if batch.size == 0:
        return 1.0
    from .search import predicted, share_exact

    with torch.no_grad():
        return share_exact(predicted(model, batch), targets)


def share_right(encoding: Encoding, logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of examples whose every output (every head, every step) ``logits`` gets right."""
    from .search import classes, share_exact

    return share_exact(classes(encoding, logits), targets)


def loss_fn(encoding: Encoding, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    total = 0.0
    for j, part in enumerate(encoding.split_logits(logits)):
        total = total + nn.functional.cross_entropy(part.reshape(-1, part.shape[-1]), targets[..., j].reshape(-1),
                                                    ignore_index=-100)
    return total


def _settings(task, arch: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The architecture ``arch`` stands for on ``task`` and its settings, refusing what cannot train."""
    arch = choose_arch(task) if arch == "auto" else arch
    check_arch(task, arch)
    unknown = set(options) - set(DEFAULTS[arch])
    if unknown:
        raise TrainingError(f"unknown option(s) {', '.join(sorted(unknown))} for {arch}; known: {', '.join(DEFAULTS[arch])}")
    settings = {**DEFAULTS[arch], **family_defaults(task, arch), **options}
    check_settings(arch, settings)
    return arch, settings


def problem_of(task, examples, seed: int) -> Problem:
    """The front door: a task reduced to its problem (``examples`` read as ``Task.example_set`` reads them,
    the same set ``synthesis.solve`` draws), or a problem as it is; TrainingError for what cannot be."""
    try:
        problem = as_problem(task, examples, seed)
    except TaskError as err:
        raise TrainingError(str(err)) from None
    if problem.size == 0:
        raise TrainingError(f"no examples to train on for task {problem.name}; pass a positive count")
    return problem


def _initial(problem: Problem, arch: str, settings: dict[str, Any], seed: int):
    """The encoding and the initial network of a training run (the seed fixes the weights)."""
    ex = problem.examples
    encoding = Encoding.of(problem, ex.outputs, ex.lengths)
    with one_thread():
        torch.manual_seed(seed)
        model = build(arch, encoding, **{k: settings[k] for k in SIZE_KEYS[arch]})
    return encoding, model


def untrained(task, arch: str = "auto", *, examples=None, seed: int = 0, **options) -> Trained:
    """The network ``train`` would start from (same architecture, settings, encoding and initial weights),
    with status "untrained": what an extractor's ``applies`` needs to say, before any training is spent,
    whether it can read the network at all. ``task`` is a task or a problem, as for ``train``.

    With the width search (the default for recurrent nets) training starts from several networks at once; this
    is the one ``train(..., search=False)`` trains alone: the default width (or ``hidden`` among the options)
    from ``seed``. The search always trains it among its candidates and no rung drops it, so it is where
    training starts whatever the search keeps. The network a searched run kept started from
    ``untrained(problem, arch, seed=trained.settings["seed"], hidden=trained.settings["hidden"])`` (its own
    width and seed, both in its record; ``extraction.alignment.initial_network`` builds it so)."""
    problem = problem_of(task, examples, seed)
    arch, settings = _settings(problem, arch, options)
    encoding, model = _initial(problem, arch, settings, seed)
    model.eval()
    return Trained(model, problem, 0.0, None, 0, 0.0, sum(p.numel() for p in model.parameters()), 0.0, arch, encoding,
                   problem.size, None, "untrained", (), {"arch": arch, **settings, "seed": seed})


FALLBACK_MIN_SECONDS = 1.0  # the least budget left worth a token-embedding attempt after a numeric net stalls


def _attempt(path: str, arch: str, settings: dict[str, Any], fitted, seconds: float) -> dict[str, Any]:
    """One training attempt as ``settings["attempts"]`` records it."""
    from .search import predicted, share_exact

    with torch.no_grad():
        fit_acc = share_exact(predicted(fitted.model, fitted.batch), fitted.targets)
    return {"path": path, "arch": arch, "numeric": bool(settings.get("numeric")), "status": fitted.status,
            "seconds": round(seconds, 3), "steps": fitted.steps, "train_accuracy": fit_acc, "heldout": fitted.heldout,
            "reasons": list(fitted.reasons), **({"polish": fitted.extra["polish"]} if fitted.extra.get("polish") else {})}


def _rank(attempt: dict[str, Any]) -> tuple[bool, float]:
    """How an attempt (as ``_attempt`` records it) ranks against another: exact first, then its worse accuracy
    (examples, held-out)."""
    held = attempt["heldout"]
    return attempt["status"] == "trained", min(attempt["train_accuracy"], 1.0 if held is None else held)


def search_widths(arch: str, settings: dict[str, Any]) -> list[int]:
    """The widths the search tries unless told: ``SEARCH_WIDTHS`` up to the default width, from
    ``SEARCH_TOKEN_FLOOR`` for a recurrent net over tokens."""
    floor = SEARCH_TOKEN_FLOOR if arch in ("gru", "rnn") and not settings.get("numeric") else 1
    return [w for w in SEARCH_WIDTHS if floor <= w <= settings["hidden"]] or [settings["hidden"]]


def search_default(arch: str) -> bool:
    """Whether ``train`` runs the width search on ``arch`` (a concrete architecture) when not told."""
    return SEARCH_BY_DEFAULT[arch]


def train(task, arch: str = "auto", *, examples=None, seconds: float = 60.0, seed: int = 0, search: bool | None = None,
          widths=None, seeds=None, **options) -> Trained:
    """Fit ``arch`` to the examples until it is exact on them and on a held-out tenth, or ``seconds`` pass.

    ``task`` is a ``Task`` (reduced to its problem at once: ``examples`` an ``Examples``, a count, a fraction
    of the domain, or None for the default set that ``synthesis.solve`` draws too) or a ``Problem`` (which
    carries its examples). Options override the architecture's defaults (``lr``, ``weight_decay``, sizes
    such as ``hidden``). Deterministic per seed.

    ``search=True`` (MIPS's search for the smallest network) trains every width in ``widths`` (default
    ``search_widths``: ``SEARCH_WIDTHS`` up to ``hidden``, from ``SEARCH_TOKEN_FLOOR`` over tokens) from every initial seed in ``seeds`` (default ``seed`` and
    ``seed + 1``) at once, in one batched pass (``extraction.search``) that shares one training's rows per step
    and drops candidates as they lose, and keeps the narrowest width exact on every example (the first exact
    at that width, the lowest seed among those exact at the same check); ``settings["search"]`` records what
    was tried (widths, seeds, which were exact and at which step, the step each was first exact by argmax,
    which counted as exact without the margin, steps and rows each trained, who left when and why, networks,
    the chosen width). ``search=None`` (the default) means the architecture's default, ``SEARCH_BY_DEFAULT``: on
    for recurrent nets (gru, rnn), off for MLPs and transformers; pass ``search=False`` for the one network of the
    default width (the network ``untrained`` returns). A numeric regressing ReLU Elman net whose examples' answers
    are affine in the inputs read so far searches, unless ``widths`` are given, as a ladder instead
    (``extraction.search.fit_ladder``: narrowest first, each network alone). A run whose
    accuracy trend says it cannot become exact within ``seconds`` stops early and says so in ``reasons``.
    After training, an exact numeric network is normalised (``extraction.search.normalise``: unit rescaling where
    it is a change of basis, weights snapped to round values) only as far as it stays exact on its
    examples, and a regressing numeric MLP is then quantised (``extraction.quantise``: pruned to the units it
    needs, onto integer weights and a rational readout, within ``QUANTISE_SHARE`` of the budget), the network
    returned being the narrower integer one; ``settings["normalised"]`` names what applied. Last, an exact
    regressing net's heads name every value of their examples' lattice over the range it regresses on the domain's
    inputs (``lattice_heads``; ``settings["lattice"]``: values known before and after, per head).

    ``domain=True`` (off by default; recurrent nets over tokens whose examples are not the whole domain): once exact,
    the net trains on for what the budget leaves on its examples plus its own sure answers on the domain's inputs
    (``extraction.search.sure_on_domain``, no answers), kept exact on its examples; ``settings["domain_phase"]``
    records the domain inputs it was unsure on before and after, its steps and why it stopped.

    ``snap=True`` (the default; a classifying GRU whose examples are not the whole domain): once exact, the net's
    states are snapped to the smallest k-means codebook of its own states that keeps it exact on every example, and
    that net replaces it where the two answer some of the domain's inputs differently (``extraction.snap``: the
    plain net's answers there hang on its drift); ``settings["snapped"]`` records what was tried and whether it was
    kept.

    ``committee=True`` (the default; a recurrent net over tokens that regresses its answer, its examples not the
    whole domain): once exact, nets of its width from other seeds train alone and the one answering the domain's
    inputs as their majority does is kept (``extraction.committee``: no answers beyond the examples are read);
    ``settings["elected"]`` records the members, the one kept and why.

    ``calm=True`` (off by default; a classifying net's width search): where the accuracy trend would stop the search
    (or settle a candidate waiting for the margin) while its best candidate is near exact and falling back
    (``extraction.search.unsettled``), the rate falls by ``search.CALM`` instead, at most ``search.CALM_TIMES`` times
    (``settings["search"]["calmed"]``).

    Fallback. When ``arch`` is "auto" and the problem made the net numeric (a recurrent net's alphabet larger
    than ``NUMERIC_ALPHABET``, or an MLP over integers that are not residues; ``numeric`` not among the
    options), and the numeric net stops short of exact (its trend hopeless, or its polish stalled) with at
    least ``FALLBACK_MIN_SECONDS`` of the budget left, the rest of the budget trains token embeddings (the
    GRU's defaults before numeric inputs; for an MLP, ``RESIDUE_MLP``) on the same examples, and
    the better of the two is kept (exact first, then accuracy); ``settings["attempts"]`` records each attempt
    (path, arch, status, seconds, steps, accuracy, reasons, which was kept) and ``reasons`` are the kept one's.
    """
    from .committee import committee_applies, elect
    from .quantise import quantise_mlp, quantise_rnn
    from .search import (DOMAIN_ROWS, _split, domain_phase_applies, fit, fit_ladder, ladder_applies, normalise,
                         sure_on_domain)
    from .snap import snap_applies, snap_states

    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise TrainingError(f"seconds must be positive, got {seconds!r}")
    problem = problem_of(task, examples, seed)
    requested = arch
    arch, settings = _settings(problem, arch, options)
    if search is None:
        search = search_default(arch)
    elif not isinstance(search, bool):
        raise TrainingError(f"search must be True, False or None (the architecture's default), got {search!r}")
    if search and arch == "transformer":
        raise TrainingError("the width search covers mlp, gru and rnn; train a transformer with search=False")
    given = widths is not None
    if search:
        widths = sorted({int(w) for w in (widths or search_widths(arch, settings))})
        seeds = list(dict.fromkeys(int(s) for s in (seeds if seeds is not None else (seed, seed + 1))))
        if not widths or widths[0] < 1 or not seeds:
            raise TrainingError(f"search needs widths of 1 or more and at least one seed, got widths={widths}, seeds={seeds}")
    else:
        widths, seeds = [settings[WIDTH_KEY[arch]]], [seed]
    start = time.perf_counter()
    # the numeric net was chosen from the signature (arch "auto", numeric not asked for): tokens are the fallback
    fallback = requested == "auto" and "numeric" not in options and bool(settings.get("numeric"))
    with one_thread():
        if search and not given and ladder_applies(problem, arch, settings):  # MIPS's smallest network, narrowest first
            fitted = fit_ladder(problem, arch, settings, widths, seeds, seconds=seconds, seed=seed, start=start)
        else:
            fitted = fit(problem, arch, settings, widths, seeds, seconds=seconds, seed=seed, start=start)
        work = fitted.work
        attempts = None
        if fallback:
            attempts = [_attempt("numeric", arch, settings, fitted, time.perf_counter() - start)]
            left = seconds - (time.perf_counter() - start)
            if fitted.status != "trained" and left >= FALLBACK_MIN_SECONDS:
                t_arch = "gru" if arch in ("gru", "rnn") else "mlp"
                tokens_mlp = RESIDUE_MLP if t_arch == "mlp" else {}
                t_settings = {**DEFAULTS[t_arch], **tokens_mlp,
                              **{k: v for k, v in options.items() if k in DEFAULTS[t_arch]}}
                t_widths = (([w for w in widths if w <= t_settings["hidden"]] or [t_settings["hidden"]]) if given
                            else search_widths(t_arch, t_settings)) if search else [t_settings[WIDTH_KEY[t_arch]]]
                began = time.perf_counter()
                tokens = fit(problem, t_arch, t_settings, t_widths, seeds, seconds=left, seed=seed, start=began)
                work += tokens.work
                attempts.append(_attempt("tokens", t_arch, t_settings, tokens, time.perf_counter() - began))
                if _rank(attempts[-1]) > _rank(attempts[0]):
                    fitted, arch, settings, widths = tokens, t_arch, t_settings, t_widths
            for a in attempts:
                a["kept"] = a["arch"] == arch and a["numeric"] == bool(settings.get("numeric"))
        committee, race = None, fitted  # the search's record stays the race's when a committee member is kept
        if fitted.status == "trained" and settings.get("committee") and committee_applies(fitted.model, problem, arch,
                                                                                         settings):
            spent: list[float] = []

            def member(s: int, share: float):
                one = fit(problem, arch, settings, [fitted.width], [s], seconds=share, seed=seed,
                          start=time.perf_counter())
                spent.append(one.work)
                return one

            fitted, committee = elect(fitted, problem, fitted.encoding, member, seed=seed,
                                      first_seconds=time.perf_counter() - start, deadline=start + seconds)
            work += sum(spent) + committee["passes"] * float(fitted.model.flops()) / 3.0  # forward passes only
        domain = None
        if fitted.status == "trained" and settings.get("domain") and domain_phase_applies(fitted.model, problem):
            # every example is fitted, the held-out tenth included (it decided when the search stopped; kept apart,
            # a net settled without the margin could not stay exact on it and grow surer on the domain)
            _, _, _, _, _, val_idx = _split(problem, settings, seed)
            vi = torch.as_tensor(val_idx)
            domain = sure_on_domain(fitted.model, problem, fitted.encoding, fitted.batch, fitted.targets,
                                    fitted.batch.take(val_idx), fitted.targets[vi], start + seconds, seed,
                                    settings["weight_decay"])
            work += 2 * DOMAIN_ROWS * domain["steps"] * float(fitted.model.flops())
        model, encoding = fitted.model, fitted.encoding
        settings = {**settings, WIDTH_KEY[arch]: fitted.width} if arch in WIDTH_KEY else settings
        record = {"arch": arch, **settings, "seed": fitted.seed}
        if fitted.status == "trained" and settings.get("snap") and snap_applies(model, problem):
            model, record["snapped"] = snap_states(model, encoding, problem, fitted.batch, fitted.targets,
                                                   deadline=start + seconds, seed=seed)
            work += record["snapped"]["passes"] * float(model.flops()) / 3.0  # forward passes only
        if committee is not None:
            record["elected"] = committee
        if attempts is not None:
            record["attempts"] = attempts
        if domain is not None:
            record["domain_phase"] = domain
        if fitted.extra.get("polish"):
            record["polish"] = fitted.extra["polish"]
        if fitted.extra.get("margin_polish"):
            record["margin_polish"] = fitted.extra["margin_polish"]
        if search:
            record["search"] = {"widths": widths, "seeds": seeds, "exact": race.exact, "steps": race.candidate_steps,
                                **race.extra.get("search", {"trained_steps": [[race.steps]], "dropped": [], "networks": 1}),
                                "chosen": fitted.width if fitted.status == "trained" else None}
        if fitted.status == "trained" and settings.get("numeric"):  # MIPS's integer networks, what integer readings take
            model, applied = normalise(model, encoding, fitted.batch, fitted.targets)
            left = seconds - (time.perf_counter() - start)
            share = max(0.0, min(left, QUANTISE_SHARE * seconds))
            quantised = (quantise_mlp(model, encoding, problem.examples, share) if arch == "mlp" else
                         quantise_rnn(model, encoding, fitted.batch, fitted.targets, share))
            if quantised is not None:  # the integer network, as wide as the units it kept
                model, applied["quantised"] = quantised
                record["hidden"] = model.width
            record["normalised"] = applied
        targets = fitted.targets
        if fitted.status == "trained":  # an exact regressing net names what it regresses past its examples' values
            model, encoding, targets, widened = lattice_heads(model, encoding, problem, fitted.batch, targets)
            if widened is not None:
                record["lattice"] = widened
        model.eval()
        train_acc = accuracy(model, encoding, fitted.batch, targets)
        held = fitted.heldout
    ex = problem.examples
    steps_len = ex.inputs[problem.sequences[0]].shape[1] if problem.sequences else 1
    # forward and backward (3x a forward pass) over the rows each candidate really trained on, at its own width
    flops = 3.0 * work * steps_len
    params = sum(p.numel() for p in model.parameters())
    trained = Trained(model, problem, train_acc, None, fitted.steps, time.perf_counter() - start, params, flops, arch,
                      encoding, len(ex), held, fitted.status, tuple(fitted.reasons), record)
    if isinstance(task, Task):  # the caller holds the answers: for the record, how right the network is on them
        trained = replace(trained, domain_accuracy=domain_accuracy(trained, task))
    return trained


def lattice_heads(model: nn.Module, encoding: Encoding, problem: Problem, batch: Batch,
                  targets: torch.Tensor) -> tuple[nn.Module, Encoding, torch.Tensor, list[list[int]] | None]:
    """An exact regressing net's heads widened to answer as MIPS rounds: each head names every value of its examples'
    lattice (their least value plus multiples of their spacing, the gcd of their differences) from the least to
    the greatest the network regresses on the domain's inputs (``problem.domain_inputs``: no answers), not only the
    values its examples show. A running sum whose totals pass the examples' largest is then named as the network
    regresses it, and an answer the network regresses past the examples' range is its own, not clamped to the
    nearest example value. Kept only where the network stays as right on ``batch`` as it was (a value filled in
    between the examples' values could otherwise take an example's answer), else the lattice only beyond the
    examples' range, else nothing; at most ``LATTICE_MAX_VALUES`` values a head. Returns the network (a copy with
    the wider readout), the encoding, ``targets`` renumbered, and ``[examples' values, named values]`` per head
    (None when nothing changed)."""
    from .search import predicted, share_exact

    if not getattr(model, "regress", False):
        return model, encoding, targets, None
    inputs, lengths, _ = problem.domain_inputs()
    dom = encoding.batch(inputs, lengths)
    with torch.no_grad():
        chunks = [model.readout.values(model.read(dom.take(np.arange(i, min(i + 4096, dom.size)))))
                  for i in range(0, dom.size, 4096)]
    if not chunks:
        return model, encoding, targets, None
    values = torch.cat(chunks).double().numpy()
    if encoding.kind == "scan":
        values = values[np.arange(values.shape[1])[None, :] < np.asarray(lengths)[:, None]]
    values = values.reshape(-1, encoding.arity)
    values = values[np.isfinite(values).all(axis=1)]
    with torch.no_grad():
        before = share_exact(predicted(model, batch), targets)

    def heads_of(inside: bool) -> tuple[np.ndarray, ...]:
        out = []
        for j, known in enumerate(encoding.heads):
            known = np.asarray(known, dtype=np.int64)
            step = int(np.gcd.reduce(np.diff(known))) if len(known) > 1 else 1
            step = step or 1
            k = np.rint((values[:, j] - known[0]) / step) if len(values) else np.zeros(0)
            lo = min(int(k.min(initial=0)), 0)
            hi = max(int(k.max(initial=0)), (int(known[-1]) - int(known[0])) // step)
            if hi - lo + 1 > LATTICE_MAX_VALUES:
                out.append(known)
                continue
            grid = known[0] + step * np.arange(lo, hi + 1, dtype=np.int64)
            if not inside:
                grid = grid[(grid < known[0]) | (grid > known[-1])]
            out.append(np.union1d(known, grid))
        return tuple(out)

    for inside in (True, False):
        heads = heads_of(inside)
        if all(len(h) == len(k) for h, k in zip(heads, encoding.heads)):
            return model, encoding, targets, None
        wide = replace(encoding, heads=heads)
        net = copy.deepcopy(model)
        net.encoding = wide
        if hasattr(net, "out"):
            net.out = model.out.widened(wide)
        else:
            net.readout = model.readout.widened(wide)
        renumbered = targets.clone()
        for j, (old, new) in enumerate(zip(encoding.heads, heads)):
            where = np.searchsorted(new, old)
            t = targets[..., j]
            renumbered[..., j] = torch.where(t >= 0, torch.as_tensor(where)[t.clamp(min=0)], t)
        with torch.no_grad():
            if share_exact(predicted(net, batch), renumbered) >= before:
                return net, wide, renumbered, [[len(k), len(h)] for k, h in zip(encoding.heads, heads)]
    return model, encoding, targets, None


def domain_accuracy(trained: Trained, task: Task) -> float:
    """The share of ``task``'s whole domain (or its stated sample) on which the network is right. An input whose
    answer (at some step) is no value the network's heads know is one it gets wrong: a head names only the values
    of its examples."""
    from .search import predicted

    dom = task.examples(None)
    enc = trained.encoding
    targets = enc.targets(dom.outputs, dom.lengths)  # -100: no step there, or a value no head knows
    if targets.shape[0] == 0:
        return 1.0
    unknown = (targets == -100).reshape(len(targets), -1, enc.arity).any(dim=2)  # [n, steps]
    if enc.kind == "scan":  # past a sequence's end -100 is padding
        unknown &= torch.as_tensor(np.arange(targets.shape[1])[None, :] < np.asarray(dom.lengths)[:, None])
    with one_thread(), torch.no_grad():
        named = predicted(trained.model, enc.batch(dom.inputs, dom.lengths))
    right = ((named == targets) | (targets == -100)).reshape(len(targets), -1).all(dim=1) & ~unknown.any(dim=1)
    return float(right.float().mean())


def with_model(trained: Trained, model: nn.Module) -> Trained:
    """The same record around another network (a spliced or randomised copy)."""
    return replace(trained, model=model)


def warm_up() -> None:
    """Take torch's one-off first-call costs (kernel dispatch set-up, about a second on this machine) on a
    throwaway network, so that a timed run measures training, not process start-up."""
    import aalpy.learning_algs  # noqa: F401  (the readers' libraries: imports are start-up too)
    import scipy.cluster.vq  # noqa: F401
    import sympy  # noqa: F401

    from programs import Int, Seq

    from .models import MLP, Recurrent
    from .registry import registry

    registry()

    with one_thread():
        for inputs, kind in (({"a": Int(0, 3)}, "function"), ({"xs": Seq(Int(0, 2), length=2)}, "scan")):
            scal = {n: (d.lo, d.size) for n, d in inputs.items() if isinstance(d, Int)}
            seqs = {n: (d.element.lo, d.element.size) for n, d in inputs.items() if isinstance(d, Seq)}
            enc = Encoding(scal, seqs, (np.arange(2),), kind)
            model = MLP(enc) if scal else Recurrent(enc)
            batch = enc.batch({n: np.zeros((4, 2) if n in seqs else 4, dtype=np.int64) for n in inputs},
                              np.full(4, 2) if seqs else None)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
            for _ in range(3):
                opt.zero_grad()
                model(batch).sum().backward()
                opt.step()
