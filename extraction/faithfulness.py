"""Faithfulness in context: does the program agree with the network (F1), does the network follow the
program when a named intermediate is set by intervention (F2), and can a component be replaced by the
sub-program without changing any output (F3)? And does a reading pass for the network's mechanism
(``is_mechanism``)?"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from programs import Program, evaluate

# A reading is the mechanism when its best interchange (F2 on units or F2-D) and its splice reach this...
MECHANISM = 0.99
# ...and the same search scores no more than this on each control (the untrained network, a rewrite).
CONTROL = 0.9


def network_outputs(trained, inputs: dict[str, np.ndarray], lengths: np.ndarray | None) -> np.ndarray:
    return trained.predict(inputs, lengths)


def same_rows(a: np.ndarray, b: np.ndarray, lengths: np.ndarray | None, scan: bool) -> np.ndarray:
    """Per example: are the two outputs equal (on every step that exists, for a scan)?"""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"outputs of shapes {a.shape} and {b.shape} cannot be compared")
    eq = a == b
    if scan:
        mask = np.arange(a.shape[1])[None, :] < np.asarray(lengths)[:, None]
        if eq.ndim == 3:
            mask = mask[..., None]
        eq = eq | ~mask
    return eq.reshape(eq.shape[0], -1).all(axis=1)


def agreement(trained, program: Program, inputs: dict[str, np.ndarray], lengths: np.ndarray | None,
              net: np.ndarray | None = None) -> float:
    """F1: the share of inputs on which the program and the network give the same output (the network's
    own mistakes included: the program is to describe the network, not the task)."""
    net = network_outputs(trained, inputs, lengths) if net is None else net
    ours = evaluate(program, inputs, lengths if program.sequences else None)
    if ours.shape != net.shape:
        return 0.0
    return float(same_rows(ours, net, lengths, trained.problem.kind == "scan").mean())


def lookup_size(task) -> int:
    """The size of a program that spells out the domain entry by entry; a program this large explains
    nothing and is reported as ``table``."""
    k = max(1, len(task.inputs))
    return int(min(task.domain_size, 10**9)) * (4 * k + 1)


def is_mechanism(faithfulness: Mapping[str, Any]) -> bool:
    """Does a faithfulness record (``extraction.extract.faithfulness_record``) say the reading is the network's
    mechanism? It must agree with the network everywhere (F1 = 1); the better of its unit interchange (F2)
    and distributed interchange (F2-D) must reach ``MECHANISM``, its splice (F3) too, and each control of the
    alignment search stay at or below ``CONTROL`` — each where it was measured: a check a reading could not
    run (a reading that names no intermediate has no F2) does not fail it. The comparator applies the same
    rule to its runs table (``comparator.analysis.mechanism_checks``)."""
    if faithfulness.get("agreement") != 1.0:
        return False
    scores = [faithfulness.get(k) for k in ("interchange", "interchange_distributed")]
    scores = [s for s in scores if s is not None]
    if scores and max(scores) < MECHANISM:
        return False
    splice = faithfulness.get("splice")
    if splice is not None and splice < MECHANISM:
        return False
    controls = faithfulness.get("controls") or {}
    return all(c <= CONTROL for c in controls.values() if c is not None)
