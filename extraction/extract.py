"""``extract``: run one extractor on a trained network within a budget, then check the program in context."""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch

from programs import Program
from programs.budget import Budget

from .faithfulness import agreement, lookup_size, network_outputs
from .registry import Reading, registry
from .train import nonfinite

ExtractionStatus = Literal["solved", "partial", "unfaithful", "table", "timeout", "abstained", "error"]
STATUSES: tuple[ExtractionStatus, ...] = get_args(ExtractionStatus)
# Agreement at or above this (but below 1) is "partial": most of the network is explained.
PARTIAL = 0.9


class ExtractionError(ValueError):
    """A request ``extract`` cannot run: an unknown method, a bad budget."""


@dataclass(frozen=True)
class ExtractionResult:
    """A program read out of a network, with how faithful it is in context.

    status: ``solved`` (the program agrees with the network on every input of the domain), ``partial``
    (agreement >= 0.9), ``unfaithful`` (less), ``table`` (agrees, but is no smaller than a lookup
    table of the domain), ``timeout``, ``abstained`` (the method cannot read this network, with the
    reason), ``error``. Whether the program is right for the *task* is for ``task.verify`` to say.
    """

    program: Program | None
    status: ExtractionStatus
    faithfulness: dict[str, Any]  # see ``faithfulness_record()``: the same five keys for every status
    seconds: float
    reasons: tuple[str, ...] = ()
    method: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def solved(self) -> bool:
        return self.status == "solved"


def names() -> list[str]:
    """The registered extraction methods."""
    return sorted(registry())


def extract(trained, method: str = "auto", *, seconds: float = 60.0, seed: int = 0, **options) -> ExtractionResult:
    """Read a program out of ``trained`` with ``method`` in ``seconds``, and measure its faithfulness:
    F1 agreement with the network over the whole domain (or a stated sample), and, where the method
    names internal parts, F2 interchange (on units, and F2-D on learned linear subspaces) and F3 splice."""
    entries = registry()
    if method not in entries:
        raise ExtractionError(f"unknown extraction method {method!r}; the methods are {', '.join(sorted(entries))}")
    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ExtractionError(f"seconds must be positive, got {seconds!r}")
    entry = entries[method]
    settings = {**entry.defaults, **options}
    start = time.perf_counter()
    empty = faithfulness_record()

    def result(program, status, reasons, faith=empty, details=None):
        return ExtractionResult(program, status, faith, time.perf_counter() - start, tuple(reasons), method,
                                settings, details or {})

    if getattr(trained, "status", "trained") == "error":
        return result(None, "error", ["the network's training failed: " + "; ".join(trained.reasons)])
    inputs, lengths, complete = trained.problem.domain_inputs()
    broken = not_finite(trained, inputs, lengths)
    if broken:
        return result(None, "error", broken)
    why = entry.applies(trained)
    if why:
        return result(None, "abstained", why)
    budget = Budget(float(seconds), start)
    try:
        reading: Reading = entry.factory(**options)(trained, budget, np.random.default_rng(seed))
    except MemoryError:  # out of memory is the run's fate (memout), for whoever runs it to record
        raise
    except Exception as err:  # a method's crash is a recorded outcome, not the caller's crash
        last = traceback.extract_tb(err.__traceback__)[-1]
        return result(None, "error", [f"{type(err).__name__}: {err} (at {last.filename}:{last.lineno})"])
    reasons = list(reading.reasons)
    if reading.program is None:
        status = reading.status or ("timeout" if budget.expired else "abstained")
        return result(None, status if status in STATUSES else "error", reasons or ["no program found"],
                      details=reading.details)
    task = trained.problem
    try:
        program = task.check_program(reading.program)
    except Exception as err:
        return result(None, "error", reasons + [f"the method built a program the task cannot take: {err}"])
    f1 = agreement(trained, program, inputs, lengths, network_outputs(trained, inputs, lengths))
    faith = faithfulness_record(f1, reading.interchange, reading.splice, reading.interchange_distributed,
                                reading.controls)
    if not complete:
        reasons.append(f"agreement measured on a sample of {len(next(iter(inputs.values())))} inputs")
    if f1 == 1.0:
        if program.size >= lookup_size(task):
            return result(program, "table", reasons + [f"the program has {program.size} nodes, no fewer than a lookup "
                                                       f"table of the domain ({lookup_size(task)})"], faith, reading.details)
        return result(program, "solved", reasons, faith, reading.details)
    status = "partial" if f1 >= PARTIAL else "unfaithful"
    n = len(next(iter(inputs.values())))
    wrong = n - round(f1 * n)
    return result(program, status, reasons + [f"the program agrees with the network on {percent(f1)} of the domain: "
                                              f"it disagrees on {wrong} of {n} inputs"], faith, reading.details)


def faithfulness_record(agreement: float | None = None, interchange: float | None = None, splice: float | None = None,
                        interchange_distributed: float | None = None,
                        controls: dict[str, float | None] | None = None) -> dict[str, Any]:
    """The faithfulness record every ``ExtractionResult`` carries, None where not measured: F1 ``agreement``,
    F2 ``interchange`` on units, F3 ``splice``, F2-D ``interchange_distributed`` (learned linear subspaces,
    ``extraction.alignment``) and its ``controls``, the same search on the untrained network
    (``untrained``) and on a program equal on the domain that names other intermediates
    (``rewritten``). ``extraction.faithfulness.is_mechanism`` reads it."""
    given = controls or {}
    return {"agreement": agreement, "interchange": interchange, "splice": splice,
            "interchange_distributed": interchange_distributed,
            "controls": {"untrained": given.get("untrained"), "rewritten": given.get("rewritten")}}


def not_finite(trained, inputs: dict[str, np.ndarray], lengths: np.ndarray | None) -> list[str]:
    """Why nothing can be read from a network whose weights or outputs hold NaN or infinity (its answers
    are then an artefact of argmax, not a computation); [] for a usable one."""
    bad = nonfinite(trained.model)
    if bad:
        return [f"the network's weights are not finite (NaN or inf in {', '.join(bad)}); nothing can be read "
                "from it: retrain it (with a lower lr, say)"]
    with torch.no_grad():
        logits = trained.model(trained.encoding.batch(inputs, lengths))
    wrong = ~torch.isfinite(logits).reshape(logits.shape[0], -1).all(dim=1)
    if bool(wrong.any()):
        return [f"the network's outputs are NaN or inf on {int(wrong.sum())} of {logits.shape[0]} inputs (its weights "
                "are too large for float32 arithmetic); nothing can be read from it: retrain it (with a lower lr, say)"]
    return []


def percent(share: float) -> str:
    """``share`` as a percentage with as many decimals as it takes (one at least) not to read as 100%
    or 0% when it is neither."""
    for decimals in range(1, 13):
        text = f"{share:.{decimals}%}"
        if (share == 1.0 or not text.startswith("100.")) and (share == 0.0 or text.strip("0.%")):
            return text
    return text
