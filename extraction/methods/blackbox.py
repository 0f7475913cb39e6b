"""``blackbox``: synthesis on the network's own answers, never its internals — the control that shows
whether reading the internals helped at all."""
from __future__ import annotations

import numpy as np

from ..registry import Reading, extractor


@extractor("blackbox")
def blackbox(method: str = "enumerative", queries: int = 1000):
    """Query the network on up to ``queries`` inputs of the domain and synthesize from its answers."""

    def run(trained, budget, rng) -> Reading:
        from synthesis import solve
        from toy_tasks import Examples

        task = trained.problem
        inputs, lengths, _ = task.domain_inputs()
        n = len(next(iter(inputs.values())))
        if n > queries:
            idx = np.sort(rng.choice(n, size=queries, replace=False))
            inputs = {k: v[idx] for k, v in inputs.items()}
            lengths = None if lengths is None else lengths[idx]
        answers = trained.predict(inputs, lengths)
        ex = Examples(inputs, answers, lengths, False, "the network's answers", task.kind == "scan")
        res = solve(task.with_examples(ex), method, seconds=max(0.1, budget.left), seed=int(rng.integers(2**31)))
        status = None if res.program is not None else ("timeout" if res.status == "timeout" else "abstained")
        return Reading(res.program, tuple(res.reasons), None, None, status=status,
                       details={"synthesizer": method, "queries": int(len(answers)), "candidates": res.candidates})

    return run
