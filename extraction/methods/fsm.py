"""``fsm``: read a finite machine out of a recurrent network's hidden states.

trace (states over the domain, through a hook on the cell) → discretise (partition refinement of the
traced states by the network's behaviour on continuations, until transitions and outputs are
deterministic, tolerating a network's rare errors where the exact refinement cannot settle them, and
each block's successors asked of the network; k-means with rising k where that leaves conflicts) → minimise (Moore partition refinement) → program (state
update and output synthesized over the state table) → check in context (interchange on the state,
splice of the machine in place of the cell).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from torch import nn

from programs.budget import Budget
from programs.interpreter import Machine
from programs.printer import to_source
from programs.semantics import SCALAR, VECTOR

from ..alignment import (LR, MIN_PAIRS, TRAIN_SHARE, Alignment, Subspaces, dimension, learn_jointly, moved,
                         rotation, segment_means, split_pairs, too_few)
from ..faithfulness import same_rows
from ..hooks import patching, recording
from ..machine import CASE_SPLIT_STATES, Moore, Signature, merge_compatible, minimise, to_program
from ..registry import Reading, extractor

# (base, source) pairs drawn for the F2-D of a recurrent state: the gate rests on it for recurrent readings (the
# whole-state swap is no test), and 0.99 of the ~60 held out from 256 turns on one mistake; ~250 held out of 1024
STATE_PAIRS = 1024
# Suffixes (columns) the behavioural refinement may add before it settles conflicts by majority
MAX_SUFFIXES = 256
# ... and the most blocks it may reach before it stops (four times the largest machine ``machine.py``
# writes out: an exact network's blocks are its machine's states)
MAX_BLOCKS = 4 * CASE_SPLIT_STATES
# Noise-tolerant refinement: the share of a signature's columns (beyond the output) a state may get
# wrong and still join a block, and how many times more states that block must hold
SLACK = 0.1
DOMINANCE = 8
# Traced states per block from which the network is asked each letter (``_successors``)
MEMBERS = 8
# ... and the most (member, letter) successors asked in all (fewer members per block above it)
QUERIES = 50_000
# k-means: the largest k tried, and the most points a fit sees; whether it runs after the refinement by
# behaviour has left conflicts (measured useless there: BENCHMARKS.md, "The width search as the default")
K_MAX = 64
MAX_POINTS_FIT = 4000
KMEANS_AFTER = False
# F2-D on the state: candidate interchanges drawn to find the stratified ones, and Adam steps (a work
# limit: a GRU is unrolled per step, so fewer than the MLPs' ``alignment.STEPS``)
CANDIDATES = 4000
STATE_STEPS = 60


def recurrent_only(trained) -> list[str]:
    if getattr(trained.model, "arch", "") not in ("gru", "rnn"):
        arch = getattr(trained.model, "arch", "?")
        return [f"this method reads the states of a recurrent network (fsm, lstar, integer); this network is a {arch}"]
    return []


class StateTrace:
    """Hidden states of every prefix of the domain's sequences (or of a stated sample of ``cap`` of
    them), with the symbol read at each step."""

    def __init__(self, trained, cap: int = 5_000):
        task, model, enc = trained.problem, trained.model, trained.encoding
        self.inputs, self.lengths, self.complete = task.domain_inputs(cap)
        batch = enc.batch(self.inputs, self.lengths)
        with torch.no_grad(), recording(model, "cell") as seen:
            model(batch)
        self.states = torch.stack(seen, dim=1).numpy().astype(np.float64)  # [n, T, h]
        n, t, h = self.states.shape
        self.h0 = model.h0.detach().numpy().astype(np.float64)
        cols = [self.inputs[s] for s in task.sequences]
        cols += [np.repeat(self.inputs[s][:, None], t, axis=1) for s in task.scalars] if hasattr(task, "scalars") else \
            [np.repeat(self.inputs[s][:, None], t, axis=1) for s in task.inputs if s not in task.sequences]
        self.symbols = np.stack(cols, axis=-1)  # [n, T, k]
        self.valid = np.arange(t)[None, :] < self.lengths[:, None]
        with torch.no_grad():
            logits = model.readout(torch.as_tensor(self.states, dtype=torch.float32))
        self.outputs = _values(enc, logits)  # [n, T, arity]

    def readout(self, trained, vectors: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return _values(trained.encoding, trained.model.readout(torch.as_tensor(vectors, dtype=torch.float32)))


def _values(enc, logits) -> np.ndarray:
    parts = [vals[p.argmax(-1).numpy()] for vals, p in zip(enc.heads, enc.split_logits(logits))]
    return np.stack(parts, axis=-1).astype(np.int64)


def discretise(tr: StateTrace, trained, budget: Budget, rng: np.random.Generator | None = None, *,
               k_max: int = K_MAX, max_suffixes: int = MAX_SUFFIXES, kmeans_after: bool | None = None,
               info: dict | None = None):
    """The traced states abstracted into the blocks of a machine: first partition refinement by
    behaviour (``refine``), then, when it leaves the traced transitions in conflict, k-means with rising k
    (``cluster``); the result with fewer conflicting points (the refinement on a tie). On the standard
    suite's scans and the fsm acceptance tasks the refinement alone read every machine k-means read, and
    more, in less time; k-means stays as the last try. When the exact refinement leaves conflicts, it is
    run again tolerating noise (``slack``): a network exact on its examples but not on the whole domain
    answers some continuations wrong, and every wrong answer is a signature of its own to the exact
    refinement (stream addition in base 6 and 7: 1% of the traced states answer one of 36 one-step
    continuations wrong, and the exact refinement splits them into thousands of blocks).
    ``max_suffixes`` 0 skips the refinement, ``k_max`` 0 k-means. After the refinement k-means runs only with
    ``kmeans_after`` (None: ``KMEANS_AFTER``): measured, it never found fewer conflicts than the noise-tolerant
    refinement and took 1-5 s, so by default it is the abstraction only where the refinement is off.
    ``info``, when given, receives what k-means took ("kmeans_seconds") and whether it won ("kmeans_won").
    Returns (labels [n, T], start label,
    number of blocks, conflicting points, the network's answers on the blocks' successors (``refine``;
    none for k-means), how: "behaviour", "behaviour, noise-tolerant" or "k-means"), or None when
    neither ran."""
    rng = np.random.default_rng(0) if rng is None else rng
    best = None
    if max_suffixes > 0:
        best = (*refine(tr, trained, budget, max_suffixes), "behaviour")
        if best[3] > 0 and not budget.expired:
            found = refine(tr, trained, budget, max_suffixes, slack=SLACK)
            if found[3] < best[3]:
                best = (*found, "behaviour, noise-tolerant")
    after = KMEANS_AFTER if kmeans_after is None else kmeans_after
    if k_max > 0 and (best is None or (best[3] > 0 and after)) and not budget.expired:
        clock = time.perf_counter()
        found = cluster(tr, rng, budget, k_max)
        won = found is not None and (best is None or found[3] < best[3])
        if won:
            best = (*found, {}, "k-means")
        if info is not None:
            info.update(kmeans_seconds=time.perf_counter() - clock, kmeans_won=won)
    return best


def cluster(tr: StateTrace, rng: np.random.Generator, budget: Budget, k_max: int = K_MAX, patience: int = 6):
    """Cluster the states with k = (distinct outputs) ... k_max until the clusters form a deterministic
    machine whose every state has one output; failing that (no better k in ``patience`` more), the k
    whose clusters conflict on the fewest points. Returns (labels [n, T], start label, k, conflicting
    points), or None when the budget runs out before the first k."""
    pts = tr.states[tr.valid]  # [N, h]
    allp = np.vstack([tr.h0[None, :], pts])
    out_ids = _distinct(list(tr.outputs[tr.valid].T))[1]
    sym_ids = _distinct(list(tr.symbols[tr.valid].T))[1]
    n_sym = int(sym_ids.max()) + 1
    # the state before each valid step: h0 at position 0, else the previous position's state
    flat_index = -np.ones(tr.valid.shape, dtype=np.int64)
    flat_index[tr.valid] = np.arange(pts.shape[0]) + 1  # +1: row 0 of allp is h0
    prev = np.zeros(tr.valid.shape, dtype=np.int64)
    prev[:, 1:] = flat_index[:, :-1]
    prev = prev[tr.valid]
    uniq = np.unique(np.round(allp, 5), axis=0)
    k0 = max(2, len(np.unique(out_ids)))
    best = None
    for k in range(k0, min(k_max, uniq.shape[0]) + 1):
        if budget.expired or (best is not None and k - best[1] > patience):
            break
        fit = allp if allp.shape[0] <= MAX_POINTS_FIT else allp[rng.choice(allp.shape[0], MAX_POINTS_FIT, replace=False)]
        init = _plus_plus(fit, k, rng)
        cent, _ = kmeans2(fit, init, iter=30, minit="matrix")
        labels = np.argmin(((allp[:, None, :] - cent[None, :, :]) ** 2).sum(-1), axis=1)
        lab = labels[1:]
        v = _conflicts(labels[prev] * n_sym + sym_ids, lab) + _conflicts(lab, out_ids)
        if best is None or v < best[3]:
            best = (labels, k, cent, v)
        if v == 0:
            break
    if best is None:
        return None
    labels, k, cent, v = best
    grid = -np.ones(tr.valid.shape, dtype=np.int64)
    grid[tr.valid] = labels[1:]
    return grid, int(labels[0]), k, v


def _plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with our generator (deterministic per seed)."""
    centers = [x[rng.integers(x.shape[0])]]
    d = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d.sum()
        i = rng.choice(x.shape[0], p=d / total) if total > 0 else rng.integers(x.shape[0])
        centers.append(x[i])
        d = np.minimum(d, ((x - x[i]) ** 2).sum(1))
    return np.array(centers)


def refine(tr: StateTrace, trained, budget: Budget, max_suffixes: int = MAX_SUFFIXES, patience: int = 3,
           slack: float = 0.0):
    """States abstracted by behaviour: Moore partition refinement of the traced states, with the network
    queried on continuations (the rows and columns of L*'s observation table, the rows being every traced
    state rather than access words).

    A traced state's *signature* is the network's output there (the start's is never read) and after each
    suffix of a set ``E``, run from that state with the row's own scalar inputs. Continuations that would
    leave the domain (longer than its longest sequence) are not asked: their answers are unknown. The
    states that know every column (*known* states: not too deep for the longest suffix) form a block per
    signature; the start (every row's ``h0``) is a block of its own. The others are placed by running
    that machine along their row (``_place``). While some block, on one symbol, leads known states to two
    blocks, a suffix ``a·e`` is added to ``E``, ``e`` a suffix on which those two successor blocks differ:
    the network's answer to ``a·e`` from a state is its answer to ``e`` from the state's successor, so
    the block splits. It ends when the known states' transitions are deterministic, or when the budget,
    ``max_suffixes`` or ``patience`` rounds without fewer conflicts run out; the partition with the
    fewest conflicting points over all states is kept, and what conflicts remain is settled by majority
    (``machine_of``). Outputs are deterministic from the start (the empty suffix is a column). Nothing is
    random: the same network gives the same machine; minimisation merges the start where it behaves like
    another state. It also stops when the blocks outnumber ``MAX_BLOCKS``: an exact network's blocks
    are states of its machine, so so many say that the network's errors are being split on.

    With ``slack`` > 0 the refinement tolerates a network's errors: a signature joins a block held by at
    least ``DOMINANCE`` times as many known states when it has the same output and differs from it in at
    most ``slack`` of the other columns (``_signature_blocks``), and a state that is not known is placed
    by the same rule. Then every block's successor on every letter is asked of the network from a few of
    its states (``_successors``), so that a (block, symbol) pair the trace took rarely or never is not
    left to chance.

    Returns (labels [n, T], start label, number of blocks, conflicting points, the asked successors'
    votes ``{(block, symbol): {block: count}}``)."""
    points = tr.states[tr.valid]  # [N, h]
    rows = np.nonzero(tr.valid)[0]
    seq_width = len(trained.problem.sequences)
    scal = [name for name in tr.inputs if tr.inputs[name].ndim == 1]
    flat_index = -np.ones(tr.valid.shape, dtype=np.int64)
    flat_index[tr.valid] = np.arange(points.shape[0])
    prev = np.full(tr.valid.shape, -1, dtype=np.int64)  # -1: the start
    prev[:, 1:] = flat_index[:, :-1]
    prev = prev[tr.valid]
    nxt = flat_index[tr.valid]
    sym_ids = _distinct(list(tr.symbols[tr.valid].T))[1]
    n_sym = int(sym_ids.max()) + 1
    letters = tr.symbols[tr.valid][:, :seq_width]
    depth = np.nonzero(tr.valid)[1] + 1
    longest = int(tr.lengths.max())
    out_values, out_ids = _distinct(list(tr.outputs[tr.valid].T))[:2]
    columns: list[np.ndarray] = [out_ids.reshape(-1)]
    answers: list[np.ndarray] = [out_values]  # each column's distinct outputs, in the order of their ids
    suffixes: list[tuple] = [()]
    best, stale = None, 0
    while True:
        sig = np.stack(columns, axis=1)
        known = (sig >= 0).all(axis=1)
        block, reps = _place(sig, known, prev, sym_ids, depth, n_sym, slack)
        keys = np.where(prev < 0, 0, block[np.maximum(prev, 0)]) * n_sym + sym_ids
        conflicts = _conflicts(keys, block[nxt])
        inner = known & ((prev < 0) | known[np.maximum(prev, 0)])
        inner_conflicts = _conflicts(keys[inner], block[inner]) if inner.any() else 0
        if best is not None and len(reps) > MAX_BLOCKS:
            break  # splitting on the network's errors: more blocks than any machine written out has states
        if best is None or conflicts < best[1]:
            best, stale = (block, conflicts, np.stack(reps), len(columns)), 0
        else:
            stale += 1
        if conflicts == 0 or budget.expired or len(suffixes) >= max_suffixes or stale >= patience:
            break
        added = []
        # splitting suffixes from the known states' conflicts first, then from everyone's
        for sel in (inner, np.ones_like(inner)) if inner_conflicts else (np.ones_like(inner),):
            for key in _conflicting_keys(keys[sel], block[sel]):
                here = sel & (keys == key)
                targets = np.unique(block[here])
                a, b = reps[targets[0]], reps[targets[1]]
                letter = tuple(int(v) for v in letters[np.argmax(here)])
                differ = np.nonzero((a != b) & (a >= 0) & (b >= 0))[0]
                fresh = [(letter,) + suffixes[c] for c in differ]
                fresh = [f for f in fresh if f not in suffixes and f not in added and len(f) < longest]
                if fresh:
                    added.append(min(fresh, key=len))
                if len(suffixes) + len(added) >= max_suffixes:
                    break
            if added:
                break
        if not added:
            break  # every splitting suffix is asked already: what is left lies beyond the domain's lengths
        for suffix in added:
            if budget.expired:
                break
            column, values = _answers(trained, points, {n: tr.inputs[n][rows] for n in scal}, suffix,
                                      depth + len(suffix) <= longest)
            columns.append(column)
            answers.append(values)
            suffixes.append(suffix)
    block, conflicts, table, width = best
    grid = -np.ones(tr.valid.shape, dtype=np.int64)
    grid[tr.valid] = block
    asked = {} if budget.expired else _successors(
        trained, tr, points, block, depth, table, suffixes[:width], answers[:width], int(slack * (width - 1)))
    return grid, 0, int(block.max()) + 1, conflicts, asked


def _successors(trained, tr: StateTrace, points: np.ndarray, block: np.ndarray, depth: np.ndarray, table: np.ndarray,
                suffixes: list[tuple], answers: list[np.ndarray], allowed: int,
                members: int = MEMBERS) -> dict[tuple[int, tuple], dict[int, int]]:
    """Each block's successor on every letter, asked of the network (L*'s closing of the table, with the
    network as the oracle): from up to ``members`` of the block's traced states (shallowest first: their
    successors are asked the most columns), the network reads the letter, and each successor's
    signature (``suffixes``, the columns of ``table``) names its block: the one it is within ``allowed``
    differences of with the fewest, a successor within none not counting. Returns votes
    ``{(block, symbol): {successor block: count}}``, which ``machine_of`` adds to the traced transitions':
    a (block, symbol) pair the trace never took, or took from a few states alone, gets its successor from
    the network rather than from chance."""
    model, enc = trained.model, trained.encoding
    seq_width = len(trained.problem.sequences)
    longest = int(tr.lengths.max())
    rows = np.nonzero(tr.valid)[0]
    scal = [name for name in tr.inputs if tr.inputs[name].ndim == 1]
    symbols = tr.symbols[tr.valid]
    alphabet = np.unique(symbols[:, :seq_width], axis=0)
    members = min(members, QUERIES // max(1, (table.shape[0] - 1) * alphabet.shape[0]))
    if members < 1:
        return {}
    chosen = []
    for q in range(1, table.shape[0]):
        here = np.nonzero((block == q) & (depth < longest))[0]
        chosen.append(here[np.lexsort((here, depth[here]))][:members])
    base = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    if not base.size:
        return {}
    src = np.repeat(base, alphabet.shape[0])  # every member with every letter
    letter = np.tile(alphabet, (base.size, 1))
    inputs = {name: letter[:, i:i + 1] for i, name in enumerate(trained.problem.sequences)}
    inputs.update({name: tr.inputs[name][rows[src]] for name in scal})
    with torch.no_grad():
        after = model.states(enc.batch(inputs, np.ones(src.size, dtype=np.int64)),
                             torch.as_tensor(points[src], dtype=torch.float32))[:, -1].numpy().astype(np.float64)
    scalars = {name: tr.inputs[name][rows[src]] for name in scal}
    sig = np.stack([_answers(trained, after, scalars, sfx, depth[src] + 1 + len(sfx) <= longest, values)[0]
                    for sfx, values in zip(suffixes, answers)], axis=1)
    target = np.zeros(src.size, dtype=np.int64)
    fits = np.zeros(src.size, dtype=bool)
    for lo in range(0, src.size, 1024):
        part = sig[lo:lo + 1024, None, :]
        differ = (part != table[None, 1:, :]) & (part >= 0) & (table[None, 1:, :] >= 0)
        count = np.where(differ[:, :, 0], allowed + 1, differ[:, :, 1:].sum(axis=2))
        target[lo:lo + 1024] = np.argmin(count, axis=1) + 1
        fits[lo:lo + 1024] = count.min(axis=1) <= allowed
    votes: dict = {}
    for i in np.nonzero(fits)[0]:
        key = (int(block[src[i]]), tuple(int(v) for v in letter[i]) + tuple(int(v) for v in symbols[src[i], seq_width:]))
        votes.setdefault(key, {}).setdefault(int(target[i]), 0)
        votes[key][int(target[i])] += 1
    return votes


def _place(sig: np.ndarray, known: np.ndarray, prev: np.ndarray, sym_ids: np.ndarray, depth: np.ndarray,
           n_sym: int, slack: float = 0.0) -> tuple[np.ndarray, list[np.ndarray]]:
    """Blocks (1, 2, ...; 0 the start) for every state: the states that know their whole signature form
    a block per signature, and their transitions (by majority) a machine. Every other state, in order of
    depth, is placed where that machine takes its predecessor's block on its symbol, when what is known of
    it agrees with that block; else in the first block it agrees with wherever both are known (a greedy
    rule), else in a block of its own. The transitions of each depth's placed states then define the
    machine where the known states' leave it undefined: on a bounded domain a block's only known states
    may be too deep for any known successor (the one prefix that opens five brackets in a domain of
    length ten), and its deeper members must still follow it (to the block of four open brackets) rather
    than the first block they agree with on the few columns they know (the sink's). With ``slack``, signatures within ``slack`` of the columns of a
    much more common one join its block (``_signature_blocks``), and "agrees" allows as many differences.
    Returns the blocks and each block's signature (-1 unknown)."""
    block = np.full(sig.shape[0], -1, dtype=np.int64)
    allowed = int(slack * (sig.shape[1] - 1))
    if known.any():
        uniq, inv = _signature_blocks(sig[known], allowed)
        block[known] = inv + 1
        reps = [np.full(sig.shape[1], -1, dtype=np.int64)] + [u.copy() for u in uniq]
    else:
        reps = [np.full(sig.shape[1], -1, dtype=np.int64)]

    def before(sel):
        return np.where(prev[sel] < 0, 0, block[np.maximum(prev[sel], 0)])

    inner = known & ((prev < 0) | known[np.maximum(prev, 0)])
    delta = np.full(len(reps) * n_sym, -1, dtype=np.int64)
    if inner.any():
        _extend(delta, before(inner) * n_sym + sym_ids[inner], block[inner])
    for d in np.unique(depth[~known]):
        here = np.nonzero(~known & (depth == d))[0]
        b = before(here)
        key = b * n_sym + sym_ids[here]
        cand = np.where(key < delta.size, delta[np.minimum(key, delta.size - 1)], -1)
        ok = cand > 0
        if ok.any():
            rep = np.stack(reps)[cand[ok]]
            s = sig[here[ok]]
            agree = _within(s, rep, allowed)
            ok[np.nonzero(ok)[0][~agree]] = False
        block[here[ok]] = cand[ok]
        table = np.stack(reps)
        for i in here[~ok]:
            u = sig[i]
            agree = _within(u[None, :], table, allowed)
            agree[0] = False  # the start's block is for the start alone
            if agree.any():
                block[i] = int(np.argmax(agree))
            else:
                block[i] = len(reps)
                reps.append(u.copy())
                table = np.vstack([table, u[None, :]])
        # the transitions just placed extend the machine where the known states leave it undefined, so a
        # deeper state follows the machine rather than the first block it happens to agree with
        delta = np.concatenate([delta, np.full(len(reps) * n_sym - delta.size, -1, dtype=np.int64)])
        _extend(delta, before(here) * n_sym + sym_ids[here], block[here])
    return block, reps


def _extend(delta: np.ndarray, keys: np.ndarray, targets: np.ndarray) -> None:
    """Set ``delta[key]`` to the most common target of each key where it is still undefined (-1)."""
    pairs, _, _, counts = _distinct([keys, targets])
    order = np.lexsort((-counts, pairs[:, 0]))
    first = np.unique(pairs[order, 0], return_index=True)[1]
    key, target = pairs[order][first, 0], pairs[order][first, 1]
    undefined = delta[key] < 0
    delta[key[undefined]] = target[undefined]


def _within(a: np.ndarray, b: np.ndarray, allowed: int) -> np.ndarray:
    """Rows of ``a`` and ``b`` (signatures, -1 unknown) that agree on the output (column 0) and differ
    in at most ``allowed`` of the other columns both know."""
    differ = (a != b) & (a >= 0) & (b >= 0)
    return ~differ[:, 0] & (differ[:, 1:].sum(axis=1) <= allowed)


def _signature_blocks(sig: np.ndarray, allowed: int) -> tuple[np.ndarray, np.ndarray]:
    """(each block's signature, each row's block): a block per distinct signature when ``allowed`` is 0;
    else the signatures, most common first, each join the first block (the most common) they are
    within ``allowed`` differences of, when it is held by at least ``DOMINANCE`` times as many states,
    and start one of their own otherwise."""
    uniq, inv, _, counts = _distinct(list(sig.T))
    if allowed == 0:
        return uniq, inv
    order = np.lexsort((np.arange(uniq.shape[0]), -counts))
    core: list[int] = []
    joined = np.empty(uniq.shape[0], dtype=np.int64)
    for u in order:
        if core:
            c = np.array(core)
            ok = _within(uniq[u][None, :], uniq[c], allowed) & (counts[c] >= DOMINANCE * counts[u])
            if ok.any():
                joined[u] = joined[c[np.argmax(ok)]]
                continue
        joined[u] = len(core)
        core.append(u)
    return uniq[core], joined[inv]


def _conflicting_keys(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The keys whose points go to more than one value."""
    pairs = _distinct([keys, values])[0]
    uniq, counts = np.unique(pairs[:, 0], return_counts=True)
    return uniq[counts > 1]


def _answers(trained, states: np.ndarray, scalars: dict[str, np.ndarray], suffix: tuple,
             inside: np.ndarray, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The network's output after reading ``suffix`` from each state, with each state's own scalar
    inputs, as an id: its index among ``values`` (a column's distinct outputs; one past the end for an
    output not there), or, without them, among the distinct outputs given here. Only states where the
    continued input stays inside the domain (``inside``: no longer than its longest sequence) are asked:
    beyond it the network was never trained, and its answers there would split states that behave alike
    on every input of the domain. The others' answers are unknown (-1). Returns (ids, values)."""
    model, enc = trained.model, trained.encoding
    n, length = states.shape[0], len(suffix)
    asked = np.nonzero(inside)[0]
    answer = np.full(n, -1, dtype=np.int64)
    if not asked.size:
        return answer, (np.zeros((0, enc.arity), dtype=np.int64) if values is None else values)
    start = torch.as_tensor(states[asked], dtype=torch.float32)
    with torch.no_grad():
        if length:
            inputs = {name: np.broadcast_to(np.array([[a[i] for a in suffix]]), (asked.size, length))
                      for i, name in enumerate(trained.problem.sequences)}
            inputs.update({name: v[asked] for name, v in scalars.items()})
            last = model.states(enc.batch(inputs, np.full(asked.size, length)), start)[:, -1]
        else:
            last = start
        out = _values(enc, model.readout(last))
    if values is None:
        values, ids = np.unique(out, axis=0, return_inverse=True)
        answer[asked] = ids.reshape(-1)
    else:
        found = (out[:, None, :] == values[None, :, :]).all(axis=2)
        answer[asked] = np.where(found.any(axis=1), np.argmax(found, axis=1), values.shape[0])
    return answer, values


def _conflicts(keys: np.ndarray, values: np.ndarray) -> int:
    """Points that disagree with the most common value of their key (0 when keys determine values)."""
    pairs, _, _, counts = _distinct([keys, values])
    order = np.lexsort((-counts, pairs[:, 0]))
    first = np.unique(pairs[order, 0], return_index=True)[1]
    return int(counts.sum() - counts[order][first].sum())


def machine_of(tr: StateTrace, grid: np.ndarray, start: int, k: int, asked: dict | None = None) -> Moore:
    """The machine the clusters define: transitions and outputs by majority where they disagree, the
    votes of the network's answers (``asked``: ``{(block, symbol): {block: count}}``) added to the
    trace's. A tie goes to the candidate voted for first (the network's answers before the trace, the trace
    in order of rows then steps). The trace's votes are counted with numpy over its (block, symbol,
    successor) triples: the same machine as visiting every traced step in turn, at a fraction of the time."""
    votes: dict = {key: dict(v) for key, v in (asked or {}).items()}
    outs: dict = {}
    n, t = grid.shape
    valid = np.arange(t)[None, :] < np.asarray(tr.lengths)[:, None]
    steps = int(valid.sum())
    if steps:
        came = np.concatenate([np.full((n, 1), start, dtype=np.int64), np.asarray(grid[:, :-1], dtype=np.int64)], axis=1)
        prev, nxt = came[valid], np.asarray(grid, dtype=np.int64)[valid]
        letters, letter = _codes(np.asarray(tr.symbols)[valid].reshape(steps, -1))
        values, value = _codes(np.asarray(tr.outputs)[valid].reshape(steps, -1))
        for (q, a, r), count in _first_seen([prev, letter, nxt]):
            row = votes.setdefault((q, letters[a]), {})
            row[r] = row.get(r, 0) + count
        for (r, o), count in _first_seen([nxt, value]):
            outs.setdefault(r, {})[values[o]] = count
    delta = {key: max(v, key=v.get) for key, v in votes.items()}
    output = tuple(max(outs[q], key=outs[q].get) if q in outs else None for q in range(k))
    return Moore(k, start, delta, output)


def _codes(rows: np.ndarray) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """The distinct rows of an integer ``[n, d]`` array as tuples, and each row's index among them."""
    distinct, index, _, _ = _distinct(list(rows.astype(np.int64).T))
    return [tuple(x) for x in distinct.tolist()], index


def _distinct(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of the integer ``columns`` read side by side, in lexicographic order (``[m, d]``, as
    ``np.unique(..., axis=0)`` gives them), with each row's index among them, and each distinct row's first
    position and count. The rows are packed into one int64 key each (mixed radix over the columns' ranges,
    which keeps the order) where that fits, which ``np.unique`` sorts far faster than rows."""
    columns = [np.asarray(c) for c in columns]
    packable = len(columns[0]) > 0 and all(c.dtype.kind in "iu" for c in columns)
    if packable:
        lows = [int(c.min()) for c in columns]
        spans = [int(c.max()) - lo + 1 for c, lo in zip(columns, lows)]
        packable = float(np.prod([float(x) for x in spans])) < 2.0 ** 62
    if packable:
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for c, lo, span in zip(columns, lows, spans):
            key = key * span + (c.astype(np.int64) - lo)
        _, first, index, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    else:
        _, first, index, counts = np.unique(np.stack(columns, axis=1), axis=0, return_index=True,
                                            return_inverse=True, return_counts=True)
    distinct = np.stack([c[first] for c in columns], axis=1)
    return distinct, index.reshape(-1), first, counts


def _first_seen(columns: list[np.ndarray]) -> list[tuple[tuple[int, ...], int]]:
    """The distinct rows of the integer ``columns`` read side by side, with how often each occurs, in order of
    first occurrence."""
    distinct, _, first, counts = _distinct(columns)
    order = np.argsort(first, kind="stable")
    return [(tuple(row), int(c)) for row, c in zip(distinct[order].tolist(), counts[order].tolist())]


def signature(task) -> Signature:
    scalars = tuple(n for n in task.inputs if n not in task.sequences)
    return Signature(_name(task), tuple(task.inputs), task.sequences, scalars, task.kind)


def _name(task) -> str:
    import re

    name = re.sub(r"\W+", "_", task.name).strip("_") or "f"
    return name if not name[0].isdigit() else "f_" + name


@extractor("fsm", applies=recurrent_only)
def fsm(k_max: int = K_MAX, max_suffixes: int = MAX_SUFFIXES, pairs: int = 300, kmeans_after: bool | None = None):
    """Abstract recurrent states into a finite machine (by behaviour; k-means where the refinement is off,
    or with ``kmeans_after`` also where it leaves conflicts) and write it as a loop program."""

    def run(trained, budget: Budget, rng: np.random.Generator) -> Reading:
        task = trained.problem
        tr = StateTrace(trained)
        info: dict = {}
        found = discretise(tr, trained, budget, rng, k_max=k_max, max_suffixes=max_suffixes, kmeans_after=kmeans_after,
                           info=info)
        if found is None:
            return Reading(None, ("the budget ran out before the states were abstracted",), status="timeout")
        grid, start, k, violations, asked, how = found
        raw = machine_of(tr, grid, start, k, asked)
        exact, to_exact = minimise(raw)
        m, to_merged = merge_compatible(exact, budget=budget)
        to_min = {q: to_merged[r] for q, r in to_exact.items()}
        details = {"blocks": k, "abstraction": how, "violations": int(violations), "states": m.n, **info}
        reasons = []
        if violations:
            ran = ([f"{max_suffixes} suffixes of behaviour"] if max_suffixes > 0 else []) + \
                ([f"k-means (k <= {k_max})"] if "kmeans_seconds" in info else [])
            why = ("the budget ran out before the refinement by behaviour or k-means" if budget.expired else
                   "neither " + " nor ".join(ran) if len(ran) > 1 else f"no {ran[0]}" if ran else "nothing")
            reasons.append(f"{why} made the traced states' transitions deterministic; best: {how}, {k} blocks "
                           f"with {violations} states conflicting (settled by majority)")
        program, why = to_program(m, signature(task), operators=task.operators, budget=budget, seed=int(rng.integers(2**31)))
        if program is None:
            return Reading(None, tuple(reasons + why), status="timeout" if budget.expired else "abstained", details=details)
        # hidden vector standing for each program state: the mean of the network states it covers
        state_var = program.body[0].targets[0]
        mach = Machine(program, SCALAR)
        table = program_states(tr, mach, state_var)  # the program on the trace: for the numbering, the splice, F2-D
        number = _numbering(tr, grid, to_min, table)
        centroids = _centroids(tr, grid, to_min, number, m.n)
        # F2 on units would set the whole state: once the program agrees with the network on the domain, the
        # source's prefix and the base's rest are a domain input on which they agree, so it cannot fail. It is
        # kept for inspection, not reported as evidence; F2-D (a learned subspace for the state) is.
        whole = interchange(trained, tr, mach, state_var, number, grid, to_min, rng, pairs)
        splice = spliced(trained, tr, mach, state_var, centroids, table)
        details.update({"interchange_pairs": pairs, "interchange_whole_state": whole})
        seed = int(rng.integers(2**31))
        found, scores, details["controls"], seconds = state_checks(trained, tr, mach, state_var, seed, budget, table=table)
        details["interchange_distributed"] = {state_var: dataclasses.asdict(found)}
        details["alignment_seconds"], details["controls_seconds"] = seconds["alignment"], seconds["controls"]
        return Reading(program, tuple(reasons), None, splice, details=details,
                       interchange_distributed=found.accuracy, controls=scores)

    return run


def _numbering(tr, grid, to_min, run: ProgramRun, rows: int = 2000) -> dict[int, int]:
    """Minimised machine state -> the program's state value, read off the program's run on the domain: where
    each state is first met (row by row, step by step) among the first ``rows`` rows."""
    valid = tr.valid[:rows]
    keys = np.array([to_min.get(int(g), -1) for g in grid[:rows][valid]], dtype=np.int64)
    firsts = np.unique(keys, return_index=True)
    values = run.state[:rows][valid]
    return {int(k): int(values[i]) for k, i in zip(*firsts)}


def _scalars(tr, r, mach) -> dict[str, int]:
    return {s: int(tr.inputs[s][r]) for s in mach.program.scalars if s not in mach.program.shape.unused}


def _centroids(tr, grid, to_min, number, n_states) -> dict[int, np.ndarray]:
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    for c in np.unique(grid[tr.valid]):
        sel = grid == c
        v = number.get(to_min.get(int(c), -1))
        if v is None:
            continue
        sums[v] = sums.get(v, 0) + tr.states[sel].sum(0)
        counts[v] = counts.get(v, 0) + int(sel.sum())
    return {v: sums[v] / counts[v] for v in sums}


def interchange(trained, tr, mach, state_var, number, grid, to_min, rng, pairs: int) -> float | None:
    """F2: set the network's state at a step of one input to its state at a step of another (one from which
    the first input's rest stays within the domain's lengths, ``continues``); the program gets the
    matching state value; the outputs from there on must agree."""
    rows = np.nonzero(tr.lengths >= 1)[0]
    if rows.size < 2:
        return None
    base = rng.choice(rows, size=min(pairs, rows.size * 4))
    # the source shares the base's scalar inputs (a fold's target): the intervention is on the state alone
    scal = [n for n in tr.inputs if tr.inputs[n].ndim == 1]
    key = np.stack([tr.inputs[n] for n in scal], axis=1) if scal else np.zeros((tr.lengths.size, 0), dtype=np.int64)
    src = np.array([rng.choice(rows[(key[rows] == key[b]).all(axis=1)]) for b in base])
    longest = int(tr.lengths.max())
    asked = []
    for b, s in zip(base, src):
        i = int(rng.integers(tr.lengths[b]))
        # a source step from which the base's rest stays within the domain's lengths (``continues``)
        j = int(rng.integers(min(int(tr.lengths[s]), longest - int(tr.lengths[b]) + i + 1)))
        q = number.get(to_min.get(int(grid[s, j]), -1))
        if q is None:
            continue
        asked.append((int(b), i, tr.states[s, j], {state_var: q}))
    held = interchanges_hold(trained, tr, mach, asked)
    hits, total = int(sum(held)), len(held)
    return hits / total if total else None


def interchanges_hold(trained, tr, mach, asked: list[tuple[int, int, np.ndarray, dict]]) -> list[bool]:
    """``interchange_holds`` for each ``(b, i, vec, values)`` of ``asked``, the network run once on all of them
    (a batch of the base rows, each row's cell output set at its own step)."""
    if not asked:
        return []
    model, enc = trained.model, trained.encoding
    rows = np.array([a[0] for a in asked], dtype=np.int64)
    when = torch.as_tensor(np.array([a[1] for a in asked], dtype=np.int64))
    vecs = torch.as_tensor(np.stack([a[2] for a in asked]), dtype=torch.float32)
    lengths = tr.lengths[rows]
    batch = enc.batch({k: v[rows] for k, v in tr.inputs.items()}, lengths)

    def patch(call, out):
        hit = when == call
        if not bool(hit.any()):
            return None
        return torch.where(hit[:, None], vecs, out)

    with torch.no_grad(), patching(model, "cell", patch):
        got = enc.decode(model(batch), lengths)
    scan = trained.problem.kind == "scan"
    out = []
    for k, (b, i, _, values) in enumerate(asked):
        want = program_rest(tr, mach, b, i, values)
        if scan:
            length = int(tr.lengths[b])
            out.append(bool(np.array_equal(np.asarray(got[k])[:length].reshape(length, -1)[i:], want)))
        else:
            out.append(bool(np.array_equal(np.atleast_1d(got[k]), want)))
    return out


def interchange_holds(trained, tr, mach, b: int, i: int, vec: np.ndarray, values: dict) -> bool:
    """One interchange: the network's cell output at step ``i`` of row ``b`` set to ``vec``, the program's
    state variables set to ``values`` after that step; do the outputs from there on (a fold's result) agree?"""
    model, enc = trained.model, trained.encoding
    state = torch.as_tensor(vec, dtype=torch.float32)
    batch = enc.batch({k: v[b:b + 1] for k, v in tr.inputs.items()}, tr.lengths[b:b + 1])

    def patch(call, out):
        if call == i:
            out = out.clone()
            out[0] = state
            return out
        return None

    with torch.no_grad(), patching(model, "cell", patch):
        got = enc.decode(model(batch), tr.lengths[b:b + 1])[0]
    want = program_rest(tr, mach, b, i, values)
    if trained.problem.kind == "scan":
        length = int(tr.lengths[b])
        return bool(np.array_equal(np.asarray(got)[:length].reshape(length, -1)[i:], want))
    return bool(np.array_equal(np.atleast_1d(got), want))


def program_rest(tr, mach, b: int, i: int, values: dict) -> np.ndarray:
    """The program's answers on row ``b`` with its state variables set to ``values`` after step ``i``: a scan's
    from step ``i`` on (``[length - i, arity]``), a fold's result (``[arity]``)."""
    env = mach.start(_scalars(tr, b, mach))
    want = []
    length = int(tr.lengths[b])
    for t in range(length):
        env, y = mach.step(env, tuple(int(tr.inputs[n][b, t]) for n in mach.iters))
        if t == i:
            env = {**env, **values}
            y = mach._body and _yield_again(mach, env)
        want.append(y)
    if mach.program.kind == "scan":
        return np.asarray([np.atleast_1d(v) for v in want[i:]]).reshape(length - i, -1)
    return np.atleast_1d(mach.finish(env))


def _yield_again(mach, env):
    """The output of a scan at a state already reached (the yield after the update reads only the state)."""
    for kind, item in mach._body:
        if kind == "yield":
            return item(env)
    return None


def spliced(trained, tr, mach, state_var, centroids, run: ProgramRun | None = None) -> float | None:
    """F3: replace the recurrent cell by the program's state machine, each state standing as the mean
    hidden vector of the network states it covers, read out by the network's own readout; the share of
    inputs whose outputs do not change. ``run``: the program's ``program_states`` on ``tr``, if already run."""
    run = run if run is not None else program_states(tr, mach, state_var)
    values = run.state[tr.valid]
    if any(int(v) not in centroids for v in np.unique(values)):
        return 0.0
    vectors = np.zeros_like(tr.states)
    keys = sorted(centroids)
    table = np.stack([centroids[k] for k in keys])
    vectors[tr.valid] = table[np.searchsorted(keys, values)]
    return unchanged(trained, tr, vectors)


def unchanged(trained, tr, vectors: np.ndarray) -> float:
    """The share of traced inputs whose outputs do not change when the network's states are ``vectors``
    (read out by its own readout): a scan's every output, a fold's last."""
    outs = tr.readout(trained, vectors)
    if trained.problem.kind == "scan":
        a, b = outs, tr.outputs
        if trained.encoding.arity == 1:
            a, b = a[..., 0], b[..., 0]
        return float(same_rows(a, b, tr.lengths, True).mean())
    n, idx = tr.lengths.size, tr.lengths - 1
    return float((outs[np.arange(n), idx] == tr.outputs[np.arange(n), idx]).all(axis=1).mean())


@dataclass(frozen=True)
class StatePairs:
    """(base row, step; source row, step) interchanges on the recurrent state, with the program's
    counterfactual answer for each: ``[n, T(, arity)]`` for a scan (the base's outputs with the state set
    to the source's after step ``i``; steps before ``i`` and padding are not scored), ``[n(, arity)]`` for
    a fold."""

    base: np.ndarray
    step: np.ndarray
    source: np.ndarray
    source_step: np.ndarray
    counterfactual: np.ndarray

    def __len__(self) -> int:
        return int(self.base.shape[0])


@dataclass(frozen=True)
class ProgramRun:
    """A program run on every row of a trace at once (``program_states``): ``env``, each variable's value
    after each step (``[n, T]``, held past a row's end); ``state``, the state variable's (-1 past the end);
    ``yields``, a scan's output per step (``[n, T, arity]``, 0 past the end; None for a fold); ``finals``, a
    fold's result (``[n, arity]``; None for a scan)."""

    env: dict[str, np.ndarray]
    state: np.ndarray
    yields: np.ndarray | None
    finals: np.ndarray | None


def _rows(value, n: int) -> np.ndarray:
    """A vectorised value (a number, an array or a tuple of them) as ``[n, arity]`` int64."""
    parts = value if isinstance(value, tuple) else (value,)
    return np.stack([np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)) for v in parts], axis=1)


def program_states(tr: StateTrace, mach, state_var: str) -> ProgramRun:
    """The program (``mach``'s) run on every row of the trace, all rows at once by the vectorised interpreter
    (``programs.semantics``' ``VECTOR`` table, the same meaning as the scalar one), one loop step at a time
    with the rows past their end held."""
    vm = Machine(mach.program, VECTOR)
    n, t = tr.lengths.size, tr.states.shape[1]
    scan = mach.program.kind == "scan"
    with np.errstate(all="ignore"):
        env = {k: np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
               for k, v in vm.start({s: tr.inputs[s] for s in _scalar_names(mach)}).items()}
        steps, outs = [], np.zeros((n, t, mach.program.arity), dtype=np.int64) if scan else None
        for i in range(t):
            active = i < tr.lengths
            new, y = vm.step(env, tuple(tr.inputs[s][:, i] for s in vm.iters))
            env = {k: np.where(active, np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)), env[k]) if k in env
                   else np.broadcast_to(np.asarray(v, dtype=np.int64), (n,)) for k, v in new.items()}
            steps.append(env)
            if scan and y is not None:
                outs[active, i] = _rows(y, n)[active]
        finals = _rows(vm.finish(env), n) if vm._result is not None else None
    names = steps[-1].keys() if steps else env.keys()
    table = {k: np.stack([e[k] for e in steps], axis=1) if steps else np.zeros((n, 0), dtype=np.int64) for k in names}
    state = np.where(tr.valid, table[state_var], -1) if steps else np.full((n, t), -1, dtype=np.int64)
    return ProgramRun(table, state, outs, finals)


def _scalar_names(mach) -> list[str]:
    return [s for s in mach.program.scalars if s not in mach.program.shape.unused]


def continues(source_step, base_length, base_step, longest: int):
    """Does an interchange ask only about the domain: the source's prefix up to ``source_step`` followed by
    the base's rest after ``base_step`` no longer than the domain's longest sequence? The network's state
    after the source's prefix is then asked about continuations that some input of the domain makes from
    it, and the program's state there is the one that answers for them. Beyond, neither the network (never
    trained there) nor the reading (a machine over the domain, whose states need agree only on the
    continuations the domain has: a count of five open brackets after seven steps is the sink in a
    domain of length ten) is bound to anything, and a mismatch says nothing about the mechanism."""
    return np.asarray(source_step) + np.asarray(base_length) - np.asarray(base_step) <= longest


def state_pairs(tr: StateTrace, mach, state_var: str, kind: str, rng: np.random.Generator,
                count: int = STATE_PAIRS, candidates: int = CANDIDATES, table=None) -> tuple[np.ndarray, StatePairs]:
    """(the program's state per (row, step), up to ``count`` stratified interchanges): a base step and a
    source step of rows with the same scalar inputs, whose composite stays within the domain's lengths
    (``continues``), where the program's state differs and setting the
    base's state to the source's after that step changes the program's answer (a scan's outputs from
    that step on, a fold's result). Candidates are drawn at random (``candidates`` of them, duplicates
    dropped) and kept in their drawn order until ``count`` pass: a uniform sample of the stratified
    interchanges, deterministic per ``rng``."""
    run = table if table is not None else program_states(tr, mach, state_var)
    values = np.where(tr.valid, run.env[state_var], -1) if state_var in run.env else run.state
    n, t = values.shape
    rows = np.nonzero(tr.lengths >= 1)[0]
    empty = StatePairs(*(np.zeros(0, dtype=np.int64) for _ in range(5)))
    if rows.size < 2:
        return values, empty
    scal = [name for name in tr.inputs if tr.inputs[name].ndim == 1]
    key = np.stack([tr.inputs[name] for name in scal], axis=1) if scal else np.zeros((n, 0), dtype=np.int64)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.reshape(-1)
    members = {g: rows[group[rows] == g] for g in np.unique(group[rows])}
    base = rng.choice(rows, size=candidates)
    step = (rng.random(candidates) * tr.lengths[base]).astype(np.int64)
    pick = rng.random(candidates)
    source = np.array([members[group[b]][int(p * members[group[b]].size)] for b, p in zip(base, pick)], dtype=np.int64)
    source_step = (rng.random(candidates) * tr.lengths[source]).astype(np.int64)
    q = values[source, source_step]
    keep = np.nonzero((values[base, step] != q) & continues(source_step, tr.lengths[base], step, int(tr.lengths.max())))[0]
    # the program's counterfactual for each distinct (base, step, state) among them, all at once
    asked, slot = np.unique(np.stack([base[keep], step[keep], q[keep]], axis=1), axis=0, return_inverse=True)
    changed, cfs = _counterfactuals(mach, tr, run, state_var, kind, asked[:, 0], asked[:, 1], asked[:, 2])
    slot = slot.reshape(-1)
    seen, chosen, picked = set(), [], []
    for c, a in zip(keep.tolist(), slot.tolist()):
        b, i, s, j = int(base[c]), int(step[c]), int(source[c]), int(source_step[c])
        if (b, i, s, j) in seen:
            continue
        seen.add((b, i, s, j))
        if not changed[a]:
            continue
        chosen.append((b, i, s, j))
        picked.append(a)
        if len(chosen) >= count:
            break
    if not chosen:
        return values, empty
    cols = np.array(chosen, dtype=np.int64).T
    return values, StatePairs(cols[0], cols[1], cols[2], cols[3], cfs[np.array(picked)])


def _counterfactuals(mach, tr, run: ProgramRun, state_var, kind, b, i, q) -> tuple[np.ndarray, np.ndarray]:
    """The program's answer on rows ``b`` with its state set to ``q`` after steps ``i`` (a scan's outputs as
    ``[m, T, arity]``, the base's own before ``i`` and 0 past the row's end; a fold's result ``[m, arity]``),
    all ``m`` at once by the vectorised interpreter, and whether each differs from the base's answer."""
    m, t = b.shape[0], tr.states.shape[1]
    if m == 0:  # no pairs to run: nothing differs
        shape = (0,) + (run.yields.shape[1:] if kind == "scan" else run.finals.shape[1:])
        return np.zeros(0, dtype=bool), np.zeros(shape, dtype=np.int64)
    vm = Machine(mach.program, VECTOR)
    lengths = tr.lengths[b]
    env = {k: v[b, i] for k, v in run.env.items()}
    env[state_var] = q.astype(np.int64)
    with np.errstate(all="ignore"):
        if kind == "scan":
            full = run.yields[b].copy()
            full[np.arange(m), i] = _rows(_yield_again(vm, env), m)
        for step in range(1, t):
            active = (step > i) & (step < lengths)
            if not active.any():
                continue
            new, y = vm.step(env, tuple(tr.inputs[s][b, step] for s in vm.iters))
            env = {k: np.where(active, np.broadcast_to(np.asarray(v, dtype=np.int64), (m,)), env[k]) if k in env
                   else np.broadcast_to(np.asarray(v, dtype=np.int64), (m,)) for k, v in new.items()}
            if kind == "scan":
                full[active, step] = _rows(y, m)[active]
        if kind == "scan":
            return (full != run.yields[b]).reshape(m, -1).any(axis=1), full
        got = _rows(vm.finish(env), m)
    return (got != run.finals[b]).any(axis=1), got


@dataclass
class _StateSearch:
    """One search of ``StateInterchanges``: its pairs and ``k``, and once drawn its split and starting rotation
    (or its result, when it cannot run)."""

    pairs: StatePairs
    k: int
    parts: dict[str, np.ndarray] | None = None
    rot: nn.Module | None = None
    result: Alignment | None = None


class StateInterchanges:
    """Several F2-D searches on the recurrent state (``distributed_state``) of one network over one trace,
    learned together as ``alignment.Interchanges`` learns a layer's: every search's pairs rows of one batch
    (one unrolled forward and backward pass per step), each row's state at its step patched through its own
    search's subspace, the sum of the searches' losses minimised by one Adam loop; each search draws its split
    and starting rotation from its generator when added, and learns from its own loss alone. If the budget runs
    out, every search still learning is None."""

    def __init__(self, trained, tr: StateTrace, *, steps: int = STATE_STEPS, lr: float = LR,
                 train_share: float = TRAIN_SHARE):
        self.trained, self.tr, self.steps, self.lr, self.train_share = trained, tr, steps, lr, train_share
        self.searches: list[_StateSearch] = []

    def add(self, pairs: StatePairs, k: int, rng: np.random.Generator) -> None:
        """A search for one state variable: its stratified interchanges and its subspace's dimension ``k``."""
        found = _StateSearch(pairs, k)
        self.searches.append(found)
        if len(pairs) < MIN_PAIRS:
            found.result = Alignment(None, k, reasons=(f"only {len(pairs)} interchanges change both the state and the "
                                                       f"answer; F2-D needs {MIN_PAIRS}",))
            return
        parts = split_pairs(pairs.base, pairs.source, self.train_share, rng)  # by row: held-out sequences
        if (why := too_few(parts)) is not None:
            found.result = Alignment(None, k, len(parts["train"]), len(parts["test"]), reasons=(why,))
            return
        width = self.tr.states.shape[-1]
        found.k = min(k, width)
        found.parts, found.rot = parts, rotation(width, found.k, rng)

    def run(self, budget: Budget | None = None) -> list[Alignment]:
        """Learn the searches' rotations together; each search's ``Alignment``, in the order added."""
        live = [s for s in self.searches if s.result is None]
        if live:
            self._learn(live, budget)
        return [s.result for s in self.searches]

    def _learn(self, live: list[_StateSearch], budget: Budget | None) -> None:
        trained, tr = self.trained, self.tr
        model, enc = trained.model, trained.encoding
        scan = trained.problem.kind == "scan"
        spaces = Subspaces([s.rot for s in live])
        targets, scored = [], []
        for s in live:
            pairs, cf = s.pairs, s.pairs.counterfactual
            lengths = tr.lengths[pairs.base]
            if scan:
                t = enc.targets(cf if enc.arity > 1 else cf[..., 0], lengths)  # [n, T, arity]
                before = np.arange(cf.shape[1])[None, :] < pairs.step[:, None]
                t[torch.as_tensor(before)] = -100
                scored.append(~before & (np.arange(cf.shape[1])[None, :] < lengths[:, None]))
            else:
                t = enc.targets(cf if enc.arity > 1 else cf[..., 0]).reshape(len(pairs), -1)
            targets.append(t)
        sides = {}
        for side in ("train", "test"):
            rows = [s.parts[side] for s in live]
            base = np.concatenate([s.pairs.base[r] for s, r in zip(live, rows)])
            lengths = tr.lengths[base]
            search = np.repeat(np.arange(len(live)), [len(r) for r in rows])
            source = [(s.pairs.source[r], s.pairs.source_step[r]) for s, r in zip(live, rows)]
            sides[side] = {
                "batch": enc.batch({name: v[base] for name, v in tr.inputs.items()}, lengths),
                "source": torch.as_tensor(np.concatenate([tr.states[a, b] for a, b in source]), dtype=torch.float32),
                "when": torch.as_tensor(np.concatenate([s.pairs.step[r] for s, r in zip(live, rows)])),
                "search": search, "search_t": torch.as_tensor(search), "mask": spaces.own(search),
                "targets": torch.cat([t[torch.as_tensor(r)] for t, r in zip(targets, rows)]),
                "want": np.concatenate([s.pairs.counterfactual[r] for s, r in zip(live, rows)]),
                "scored": np.concatenate([m[r] for m, r in zip(scored, rows)]) if scan else None}

        def run(side: str) -> torch.Tensor:
            """The logits on every search's pairs of ``side`` (one unrolled forward pass)."""
            got = sides[side]
            src, when = got["source"], got["when"]
            q, mask = spaces(), got["mask"]  # once per forward pass: the parametrisation recomputes it at each call

            def patch(call, out):
                hit = when == call
                if not bool(hit.any()):
                    return None
                return torch.where(hit[:, None], out + moved(src - out, q, mask), out)

            with patching(model, "cell", patch):
                return model(got["batch"])

        def accuracy(side: str) -> list[float]:
            with torch.no_grad():
                got = enc.decode(run(side))
            info = sides[side]
            got = got.reshape(*got.shape[:2 if scan else 1], -1)
            want = info["want"].reshape(got.shape)
            if scan:
                ok = ((got == want).all(axis=2) | ~info["scored"]).all(axis=1)
            else:
                ok = (got == want).all(axis=1)
            return segment_means(ok, info["search"], len(live))

        # a scan's targets are -100 before the interchanged step too: only a fold's say what no head can name
        learn_jointly(spaces, model, live, enc, run, sides["train"], accuracy, targets, steps=self.steps, lr=self.lr,
                      budget=budget, sayable=not scan)


def distributed_state(trained, tr: StateTrace, pairs: StatePairs, *, k: int = 1, rng: np.random.Generator,
                      steps: int = STATE_STEPS, lr: float = LR, train_share: float = TRAIN_SHARE,
                      budget: Budget | None = None) -> Alignment:
    """F2-D of the machine's state on the recurrent cell: learn ``k`` orthonormal rows ``Q``
    (``alignment.rotation``) such that at the base's step ``i`` the cell's output ``h`` becomes
    ``h + (h_source - h) Qᵀ Q``, ``h_source`` the recorded state at the source's step ``j``, and the
    network then gives the program's counterfactual answer. Trained on a ``train_share`` of ``pairs`` by
    cross-entropy (steps before ``i`` and padding not scored), the score is the share of the held-out
    rest whose every counterfactual output is right. (``StateInterchanges`` with one search.)"""
    joint = StateInterchanges(trained, tr, steps=steps, lr=lr, train_share=train_share)
    joint.add(pairs, k, rng)
    return joint.run(budget)[0]


def state_checks(trained, tr: StateTrace, mach, state_var: str, seed: int, budget: Budget | None, *,
                 table: ProgramRun | None = None) -> tuple[Alignment, dict, dict, dict]:
    """The reading's F2-D on its state (``state_alignment``) and its controls, each the same search (each with its
    own generator seeded by ``seed``: the same draw of pairs, split and starting rotation): ``untrained``, on
    the network training started from; ``rewritten``, on this network for the state of the program equal to
    the reading whose state's code flips every other step (``alignment.rewritten_state``). The reading's
    search and the rewritten control's (both on this network's trace) are learned together
    (``StateInterchanges``); the untrained network is traced over the same inputs, so ``table`` serves it too.
    ``table``: the reading's ``program_states`` on ``tr``, if already run. Returns the reading's alignment,
    the controls' scores and details, and the seconds spent: ``alignment`` (the reading's pairs and the joint
    search), ``controls`` (the rewrite's pairs and the untrained network's search)."""
    from ..alignment import initial_network, rewritten_state

    clock = time.perf_counter()
    kind = trained.problem.kind
    joint = StateInterchanges(trained, tr)
    rng = np.random.default_rng(seed)
    values, pairs = state_pairs(tr, mach, state_var, kind, rng, table=table)
    joint.add(pairs, dimension(values[tr.valid]) if tr.valid.any() else 1, rng)
    aside = time.perf_counter()
    scores: dict = {"untrained": None, "rewritten": None}
    details: dict = {}
    other = rewritten_state(mach.program, state_var, trained.problem.inputs)
    if other is None:
        details["rewritten"] = "the reading is not a loop with one state assigned once before it and once in it"
    else:
        program, state = other
        rng = np.random.default_rng(seed)
        values, pairs = state_pairs(tr, Machine(program, SCALAR), state, kind, rng)
        joint.add(pairs, dimension(values[tr.valid]) if tr.valid.any() else 1, rng)
    aside = time.perf_counter() - aside
    learned = joint.run(budget)
    found = learned[0]
    if other is not None:
        scores["rewritten"] = learned[1].accuracy
        details["rewritten"] = {"program": to_source(other[0]), other[1]: dataclasses.asdict(learned[1])}
    seconds = {"alignment": time.perf_counter() - clock - aside}
    clock = time.perf_counter()
    start = initial_network(trained)
    if start is None:
        details["untrained"] = "the network's record does not say how it was initialised"
    else:
        alone = state_alignment(start, StateTrace(start), mach, state_var, np.random.default_rng(seed), budget,
                                table=table)
        scores["untrained"] = alone.accuracy
        details["untrained"] = {state_var: dataclasses.asdict(alone)}
    seconds["controls"] = time.perf_counter() - clock + aside
    return found, scores, {k: details[k] for k in ("untrained", "rewritten")}, seconds


def state_alignment(trained, tr: StateTrace, mach, state_var: str, rng: np.random.Generator,
                    budget: Budget | None = None, table=None) -> Alignment:
    """F2-D of the program's state (``state_pairs`` then ``distributed_state``), ``k`` one less than the
    number of values the state takes on the trace."""
    values, pairs = state_pairs(tr, mach, state_var, trained.problem.kind, rng, table=table)
    k = dimension(values[tr.valid]) if tr.valid.any() else 1
    return distributed_state(trained, tr, pairs, k=k, rng=rng, budget=budget)
