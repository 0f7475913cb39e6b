"""``auto``: choose extractors by the network's architecture and the task's family, and keep the first
that explains the network exactly (else the most faithful reading). A reading that explains the network
exactly but is not its mechanism (``faithfulness.is_mechanism``: an interchange or a splice under the gate)
lets the extractors after it try, each within ``MECHANISM_SHARE`` of the budget left, and the first that is the
mechanism is kept instead: a regressing net's counter or position is read by ``integer`` first (argmax:
``integer`` solved, F2-D 0.95), where ``fsm`` reads the same program as the mechanism in a second."""
from __future__ import annotations

from ..faithfulness import is_mechanism
from ..registry import Reading, extractor

MECHANISM_SHARE = 0.25  # of the budget left, each later extractor's once a reading is exact but not the mechanism


def plan(trained) -> list[str]:
    """The extractors worth trying on this network, in order."""
    arch = getattr(trained.model, "arch", "")
    task = trained.problem
    if arch in ("gru", "rnn"):
        # a net that regresses its outputs (numbers, not classes) carries integers: read them first; a
        # classifying net's state is read as a finite machine first
        if getattr(trained.model, "regress", False):
            return ["integer", "fsm", "lstar"]
        return ["fsm", "lstar", "integer"]
    binary = all(d.size <= 2 for d in task.inputs.values())
    if task.family == "modular":
        return ["fourier", "linear", "boolean"]
    if binary and not getattr(trained.model, "regress", False):
        return ["boolean", "linear"]
    return ["linear", "fourier", "boolean"]


def applicable(trained) -> list[str]:
    from ..registry import registry

    if any(not registry()[name].applies(trained) for name in plan(trained)):
        return []
    return [f"none of {', '.join(plan(trained))} can read this {getattr(trained.model, 'arch', '?')}"]


@extractor("auto", applies=applicable)
def auto():
    """Try the extractors that fit the network in turn; the first with agreement 1 wins, unless a later one (each
    within ``MECHANISM_SHARE`` of the budget left) reads the network's mechanism where it did not."""

    def run(trained, budget, rng) -> Reading:
        from ..extract import extract
        from ..registry import registry

        tried, best, exact = [], None, False  # exact: a reading with agreement 1 is kept, not the mechanism
        for name in plan(trained):
            if budget.left <= 0.05:
                break
            entry = registry()[name]
            if entry.applies(trained):
                tried.append(f"{name}: {entry.applies(trained)[0]}")
                continue
            seconds = MECHANISM_SHARE * budget.left if exact else budget.left
            res = extract(trained, name, seconds=seconds, seed=int(rng.integers(2**31)))
            tried.append(f"{name}: {res.status}" + (f" ({res.reasons[0]})" if res.reasons else ""))
            if exact:  # looking past an exact reading for the mechanism
                if res.status == "solved" and is_mechanism(res.faithfulness):
                    best = (name, res)
                    break
                continue
            if res.program is not None and (best is None or (res.faithfulness["agreement"] or 0) > (best[1].faithfulness["agreement"] or 0)):
                best = (name, res)
            if res.status == "solved":
                if is_mechanism(res.faithfulness):
                    break
                exact = True
        if best is None:
            return Reading(None, tuple(tried), status="timeout" if budget.expired else "abstained",
                           details={"tried": tried})
        name, res = best
        return Reading(res.program, tuple(tried), res.faithfulness["interchange"], res.faithfulness["splice"],
                       details={**res.details, "method": name, "tried": tried},
                       interchange_distributed=res.faithfulness["interchange_distributed"],
                       controls=res.faithfulness["controls"])

    return run
