"""A committee for a regressing recurrent net trained on part of its domain: more nets of the same width from other
seeds, and the member that answers the domain's inputs as the others' majority does is kept.

Why. A token net that regresses a counter or a position (count, first_index, last_index, ...) and is exact on its
examples may still be wrong on an input its examples lack: first_index at seed 0 answers -1 for ``xs=[3], t=3``
(no length-1 input with its target first is among its 2,728 examples), read faithfully by ``fsm``. Nothing in
one net tells where: its value there sits well inside its rounding interval (0.16 of the gap from -1, inside the
quarter ``REGRESS_SURE`` allows), and its states are no finite set a codebook can snap (``extraction.snap``
applies to classifying nets only). Nets from other seeds err elsewhere, if at all (first_index, width 16, eight
trainings from seeds 2-5: six exact on the domain, two wrong on 1 and 3 of its 5,456 inputs), so their majority on
the domain's inputs (``problem.domain_inputs``: no answers) marks an answer that hangs on one net's seed, and the
member closest to that majority is the one least likely to carry such an error (six standard counters and
positions, seeds 0-2: 7 of the 41 nets trained wrong on one input, no majority wrong; BENCHMARKS.md). This is model
selection by agreement on unlabelled inputs (the disagreement of independently trained nets estimates their error,
Jiang et al. 2022, "Assessing generalization of SGD via disagreement"); the answers beyond the examples are never
read.

How (``elect``). The net trained first is the first member. Members from seeds ``seed + 2``, ``seed + 3``, ...
(the width search used ``seed`` and ``seed + 1``) train alone at its width, each for at most ``MEMBER_TIMES`` times
what the first took (and what the budget leaves), until ``SEATS`` members are exact on every example or
``TRIES`` have trained. Two exact members that answer every compared input alike end it early: the first net is
kept (no input is in doubt). With ``SEATS`` exact members, each output of each compared input is decided by the
members' most common answer, and the member with the fewest inputs off that majority is kept (the first net on a
tie). Fewer exact members, or the budget spent: the first net is kept and the record says why.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .encoding import Encoding
from .snap import COMPARED, answers

SEATS = 3  # exact members a majority is taken over
TRIES = 5  # trainings at most, the first net's included
MEMBER_TIMES = 2.0  # a member's budget, in multiples of the first net's training seconds
MIN_MEMBER_SECONDS = 1.0  # a member given less than this is not trained


def committee_applies(model: nn.Module, problem, arch: str, settings: dict[str, Any]) -> bool:
    """A recurrent net over tokens that regresses its answer, trained on examples that are not its whole domain
    (a classifying GRU's answers past its examples are settled by ``extraction.snap`` instead; a numeric net's by
    ``extraction.quantise``)."""
    return (arch in ("gru", "rnn") and bool(getattr(model, "regress", False)) and not settings.get("numeric")
            and not problem.examples.complete)


def off_majority(votes: np.ndarray) -> np.ndarray:
    """``votes``: ``[members, inputs, outputs]`` answers. How many inputs each member answers off the majority at some
    output (an output with no strict majority counts against every member)."""
    m = votes.shape[0]
    counts = (votes[:, None] == votes[None, :]).sum(axis=1)  # [members, inputs, outputs]: members agreeing with each
    off = counts * 2 <= m
    return off.any(axis=2).sum(axis=1)


def elect(first, problem, encoding: Encoding, fit_member: Callable[[int, float], Any], *, seed: int,
          first_seconds: float, deadline: float) -> tuple[Any, dict[str, Any]]:
    """The member to keep (``first`` or one of the fitted members ``fit_member(seed, seconds)`` returns, all at the
    first net's width) and the record: ``{"members": [{"seed", "status", "seconds", "off"}], "compared": inputs,
    "kept": index of the member kept, "why": "agreed", "majority", "too few exact" or "budget", "passes": inputs run
    through a member, "seconds"}``."""
    began = time.perf_counter()
    inputs, lengths, _ = problem.domain_inputs(cap=COMPARED, seed=seed)
    members = [{"seed": first.seed, "status": first.status, "seconds": round(first_seconds, 3)}]
    fitted = [first]
    votes = [answers(first.model, encoding, inputs, lengths)]
    record: dict[str, Any] = {"members": members, "compared": int(votes[0].shape[0]), "kept": 0, "why": "too few exact"}
    next_seed = seed + 2
    while len(votes) < SEATS and len(members) < TRIES:
        share = min(MEMBER_TIMES * first_seconds, deadline - time.perf_counter())
        if share < MIN_MEMBER_SECONDS:
            record["why"] = "budget"
            break
        t0 = time.perf_counter()
        one = fit_member(next_seed, share)
        members.append({"seed": next_seed, "status": one.status, "seconds": round(time.perf_counter() - t0, 3)})
        next_seed += 1
        if one.status != "trained":
            continue
        fitted.append(one)
        votes.append(answers(one.model, encoding, inputs, lengths))
        if len(votes) == 2 and np.array_equal(votes[0], votes[1]):
            record["why"] = "agreed"
            break
    if len(votes) >= SEATS:
        off = off_majority(np.stack(votes))
        for member, n in zip((m for m in members if m["status"] == "trained"), off):
            member["off"] = int(n)
        best = int(np.argmin(off))  # the first on a tie
        record["kept"] = [i for i, m in enumerate(members) if m["status"] == "trained"][best]
        record["why"] = "majority"
        chosen = fitted[best]
    else:
        chosen = first
    record["passes"] = record["compared"] * len(votes)
    record["seconds"] = round(time.perf_counter() - began, 3)
    return chosen, record
