"""``ramanujan``: the control that makes the motivating discussion's point measurable (Ramanujan et al.
2020). Randomly weighted networks hide subnetworks that compute a task; a part that does something *in
isolation* need not be what the network does *in context*.

It starts from the network training would start from (``extraction.untrained``: same architecture, sizes,
encoding and initial weights; no training is spent on it), searches an edge-popup mask over its frozen
weights that keeps ``keep`` of each layer until the masked network is exact on the problem's examples
(``extraction.subnetwork``, with ``share`` of the budget), and reads the subnetwork with ``reader`` (by
default ``auto``), whose own checks (F2 interchange, F2-D, F3 splice) run inside the subnetwork: in
isolation. ``extract`` then measures the program's agreement F1 with the *whole* random network: in
context. A subnetwork that works and a reading that is right with high in-isolation scores, beside an F1
far below 1, is the seed's point in numbers. It is a control: no route counts it
(``comparator.analysis.CONTROLS``); the report sets it against the trained networks' readings.
"""
from __future__ import annotations

from ..registry import Reading, extractor


@extractor("ramanujan", untrained=True)
def ramanujan(keep: float = 0.5, share: float = 0.5, reader: str = "auto"):
    """Edge-popup subnetwork of the untrained network, read by ``reader``; F1 against the whole network."""

    def run(trained, budget, rng) -> Reading:
        from ..extract import extract
        from ..subnetwork import subnetwork

        seed = int(rng.integers(2**31))
        sub = subnetwork(trained, keep=keep, seconds=max(0.05, share * budget.left), seed=seed)
        found = {"subnetwork": sub.status, "subnetwork_accuracy": sub.train_accuracy,
                 "subnetwork_seconds": sub.seconds, "subnetwork_steps": sub.steps, "keep": keep}
        if sub.status != "trained":
            why = f"no subnetwork keeping {keep:g} of each layer is exact on the examples ({sub.status}: "
            why += "; ".join(sub.reasons) + ")" if sub.reasons else ")"
            return Reading(None, (why,), status="timeout" if budget.expired else "abstained", details=found)
        if budget.left <= 0.05:
            return Reading(None, ("the budget ran out in the subnetwork search",), status="timeout", details=found)
        res = extract(sub, reader, seconds=budget.left, seed=seed)
        f = res.faithfulness
        reasons = (f"a subnetwork keeping {keep:g} of each layer is exact on the examples (searched in "
                   f"{sub.steps} steps); {reader} read it: {res.status}",) + tuple(res.reasons)
        return Reading(res.program, reasons, f.get("interchange"), f.get("splice"),
                       status=None if res.program is not None else ("timeout" if budget.expired else "abstained"),
                       details={**found, "isolation": dict(f), "method": res.details.get("method", reader)},
                       interchange_distributed=f.get("interchange_distributed"))

    return run
