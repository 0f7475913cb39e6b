"""The task registry: ``@task_family`` factories, built-in names, ``get``, and user tasks."""
from __future__ import annotations

import difflib
import inspect
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from programs import Int, Program, Seq, parse
from programs.domains import DomainError, sample_domain

from .errors import TaskError
from .tabulate import Progress, TimeLimit, check_seconds, normalise_output
from .task import ALL_OPERATORS, Task, signature_errors


@dataclass(frozen=True)
class Spec:
    """What a factory returns: the reference program and the signature it reads."""

    source: str
    inputs: dict[str, Int | Seq]
    difficulty: float
    operators: tuple[str, ...] | None = None
    description: str = ""
    # The same task written as plain Python (ints and lists), independently of ``source``:
    # ``tractbench tasks --verify`` checks the reference program against it over the whole domain.
    definition: Callable[..., Any] | None = None
    # The share of the domain given as examples by default (``Task.example_fraction``); None: the rule by size.
    example_fraction: float | None = None


@dataclass(frozen=True)
class Factory:
    name: str
    family: str
    defaults: dict[str, int]
    build: Callable[..., Spec]
    doc: str


_FACTORIES: dict[str, Factory] = {}
FAMILY_OPERATORS: dict[str, tuple[str, ...]] = {}


def task_family(family: str, **defaults: int) -> Callable[[Callable[..., Spec]], Callable[..., Spec]]:
    """Register a task factory under its function name, in ``family``, with default parameters."""

    def register(fn: Callable[..., Spec]) -> Callable[..., Spec]:
        params = list(inspect.signature(fn).parameters)
        if sorted(params) != sorted(defaults):
            raise TypeError(f"factory {fn.__name__}: parameters {params} must match the defaults {sorted(defaults)}")
        if fn.__name__ in _FACTORIES:
            raise TypeError(f"task {fn.__name__!r} is registered twice")
        doc = (inspect.getdoc(fn) or "").strip()
        _FACTORIES[fn.__name__] = Factory(fn.__name__, family, dict(defaults), fn, doc)
        return fn

    return register


def factories() -> dict[str, Factory]:
    _load_builtins()
    return dict(_FACTORIES)


def families() -> list[str]:
    return sorted({f.family for f in factories().values()})


def instance_name(base: str, params: Mapping[str, int]) -> str:
    defaults = _FACTORIES[base].defaults
    if all(params.get(k) == v for k, v in defaults.items()):
        return base
    return f"{base}[{','.join(f'{k}={params[k]}' for k in defaults)}]"


_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(.*)\])?$")


def _split_name(name: str) -> tuple[str, dict[str, int]]:
    m = _NAME.match(name.strip()) if isinstance(name, str) else None
    if not m:
        raise TaskError(f"{name!r} is not a task name; task names look like 'modular_addition' or 'modular_addition[p=7]'")
    base, inner = m.group(1), m.group(2)
    params: dict[str, int] = {}
    if inner:
        for part in inner.split(","):
            key, _, value = part.partition("=")
            try:
                params[key.strip()] = int(value.strip())
            except ValueError:
                raise TaskError(f"in task name {name!r}: parameter {part!r} must be written key=integer") from None
    return base, params


def get(name: str, **params: int) -> Task:
    """A built-in task by name, with parameters (``get("modular_addition", p=13)``)."""
    _load_builtins()
    base, from_name = _split_name(name)
    factory = _FACTORIES.get(base)
    if factory is None:
        close = difflib.get_close_matches(base, list(_FACTORIES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; toy_tasks.names() lists them"
        raise TaskError(f"unknown task {base!r}{hint}")
    merged = {**factory.defaults, **from_name, **params}
    unknown = sorted(set(merged) - set(factory.defaults))
    if unknown:
        knobs = ", ".join(f"{k}={v}" for k, v in factory.defaults.items()) or "none"
        raise TaskError(f"task {base!r} has no parameter {', '.join(map(repr, unknown))}; its parameters (with defaults) are {knobs}")
    for k, v in merged.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise TaskError(f"task {base!r}: parameter {k} must be an integer, got {v!r}")
    return _build(base, tuple(sorted(merged.items())))


@lru_cache(maxsize=None)
def _build(base: str, items: tuple[tuple[str, int], ...]) -> Task:
    factory = _FACTORIES[base]
    params = dict(items)
    ordered = {k: params[k] for k in factory.defaults}
    try:
        spec = factory.build(**ordered)
    except DomainError as err:
        raise TaskError(f"task {base!r} with {ordered}: {err}") from None
    program = parse(spec.source)
    return _program_task(
        instance_name(base, ordered), program, spec.inputs, family=factory.family, params=ordered,
        difficulty=spec.difficulty, operators=spec.operators or FAMILY_OPERATORS.get(factory.family, ALL_OPERATORS),
        description=spec.description or (factory.doc.splitlines()[0] if factory.doc else ""),
        definition=spec.definition, example_fraction=spec.example_fraction,
    )


def names(suite: str | None = None) -> list[str]:
    """Built-in task names: every registered task (``suite=None``), or the tasks of a suite."""
    _load_builtins()
    if suite is None:
        return sorted(_FACTORIES)
    from .suites import SUITES

    if suite not in SUITES:
        raise TaskError(f"unknown suite {suite!r}; the suites are {', '.join(SUITES)}")
    return [t.name for t in _suite_tasks(suite)]


def suite(name: str) -> list[Task]:
    """The tasks of a suite: ``quick``, ``standard`` or ``scaling``."""
    _load_builtins()
    from .suites import SUITES

    if name not in SUITES:
        raise TaskError(f"unknown suite {name!r}; the suites are {', '.join(SUITES)}")
    return _suite_tasks(name)


def _suite_tasks(name: str) -> list[Task]:
    from .suites import SUITES

    entries = SUITES[name]() if callable(SUITES[name]) else SUITES[name]
    return [get(base, **params) for base, params in entries]


# --- user tasks ---------------------------------------------------------------------------------------


def _default_difficulty(inputs) -> float:
    from programs.domains import domain_size

    return round(math.log2(max(2, domain_size(inputs))), 3)


def _signature_fraction(inputs, kind: str, arity: int) -> float | None:
    """The share a user's task states when it states none: modular arithmetic's grokking share for two
    inputs over the same residues 0..m-1 from m = 31 (``catalog.modular.signature_fraction``), else None."""
    _load_builtins()
    from .catalog.modular import signature_fraction

    return signature_fraction(inputs, kind, arity)


def _program_task(name, program: Program, inputs, *, family, params, difficulty, operators, description, definition=None,
                  example_fraction=None) -> Task:
    inputs = signature_errors(inputs)
    if example_fraction is None:
        example_fraction = _signature_fraction(inputs, program.kind, program.arity)
    task = Task(
        name=name, family=family, params=dict(params), inputs=dict(inputs), difficulty=float(difficulty),
        kind=program.kind, arity=program.arity, operators=tuple(operators), reference=program,
        description=description, definition=definition, example_fraction=example_fraction,
    )
    task.check_program(program)  # parameters must be the inputs
    return task


def from_program(
    name: str,
    source: str | Program,
    inputs: Mapping[str, Int | Seq],
    *,
    family: str = "user",
    difficulty: float | None = None,
    operators: tuple[str, ...] = ALL_OPERATORS,
    description: str = "",
    example_fraction: float | None = None,
) -> Task:
    """A task whose ground truth is a program of the language, over the given input domains.

    ``example_fraction``: the share of the domain both routes get as examples by default; None gives, for a
    function of two inputs over the same residues 0..m-1 with 31 <= m <= 113, modular arithmetic's grokking
    share (``catalog.modular.signature_fraction``: 0.6 at m = 37, 0.4 from 79; chosen from the signature,
    never the answers), else the rule by size (``Task.example_set``). 1.0 asks for the whole domain."""
    if not isinstance(name, str) or not name:
        raise TaskError("a task needs a non-empty name")
    program = parse(source) if isinstance(source, str) else source
    if not isinstance(program, Program):
        raise TaskError(f"from_program takes program text or a Program, got {type(source).__name__}")
    inputs = signature_errors(inputs)
    if set(program.params) != set(inputs):
        raise TaskError(f"the program's parameters {list(program.params)} must be exactly the inputs {list(inputs)}")
    return _program_task(
        name, program, inputs, family=family, params={},
        difficulty=_default_difficulty(inputs) if difficulty is None else difficulty,
        operators=operators, description=description, example_fraction=example_fraction,
    )


def from_function(
    name: str,
    fn: Callable[..., Any],
    inputs: Mapping[str, Int | Seq],
    *,
    family: str = "user",
    difficulty: float | None = None,
    operators: tuple[str, ...] = ALL_OPERATORS,
    description: str = "",
    seconds: float = 60.0,
    progress: Progress | None = None,
    example_fraction: float | None = None,
) -> Task:
    """A task whose ground truth is a Python function of plain ints (lists for sequences).

    ``fn`` returns an int or a tuple of ints (a function, or a fold over sequences), or a list with one
    output per step (a scan). It is called on the whole domain now when the domain is enumerable (so an
    input on which it fails is named at once), else on a sample.

    ``seconds`` limits each computation of the ground truth (the truth table now, a sample later): a
    function that takes longer is a ``TaskError`` naming the input it was on. In the main thread a
    call that hangs is interrupted (by SIGALRM); in other threads the time is checked between calls,
    so a slow function is stopped but a call that never returns cannot be.

    Over large domains the truth table is computed faster than by one call per input where that gives
    the same answer (``toy_tasks.tabulate``): a function of integers only may be called once on whole
    numpy arrays (its answer is used only if it matches calls per input on a sample, and Python's own
    arithmetic everywhere), and the calls may be spread over worker processes forked from this one.
    ``progress(done, total)`` is told how far the truth table has got, lastly ``(total, total)``.
    ``example_fraction`` as for ``from_program``.
    """
    if not isinstance(name, str) or not name:
        raise TaskError("a task needs a non-empty name")
    if not callable(fn):
        raise TaskError(f"from_function needs a callable, got {type(fn).__name__}")
    seconds = check_seconds(seconds)
    inputs = signature_errors(inputs)
    first = {n: d.lo if isinstance(d, Int) else [d.element.lo] * d.min_length for n, d in inputs.items()}  # the domain's first input, without enumerating it
    with TimeLimit(name, seconds) as limit:
        y = limit.call(fn, first)
    has_seq = any(isinstance(d, Seq) for d in inputs.values())
    if isinstance(y, list):
        if not has_seq:
            raise TaskError(f"task {name}: the function returned a list, but no input is a sequence; return an int or a tuple")
        kind = "scan"
    else:
        kind = "fold" if has_seq else "function"
    seq_len = len(next(v for v in first.values() if isinstance(v, list))) if has_seq else None
    out = normalise_output(name, y, first, kind, None, seq_len)
    arity = (len(out[0]) if out and isinstance(out[0], tuple) else 1) if kind == "scan" else (len(out) if isinstance(out, tuple) else 1)
    task = Task(
        name=name, family=family, params={}, inputs=dict(inputs),
        difficulty=_default_difficulty(inputs) if difficulty is None else float(difficulty),
        kind=kind, arity=arity, operators=tuple(operators), function=fn, description=description,
        truth_seconds=seconds,
        example_fraction=_signature_fraction(inputs, kind, arity) if example_fraction is None else example_fraction,
    )
    if task.enumerable:
        task.examples(progress=progress)  # computes (and caches) the whole truth table, naming any input that fails
    else:
        import numpy as np

        arrays, lengths = sample_domain(inputs, 256, np.random.default_rng(0))
        task._truth(arrays, lengths, progress)
    return task


_LOADED = [False]


def _load_builtins() -> None:
    if not _LOADED[0]:
        _LOADED[0] = True
        from . import catalog  # noqa: F401  (registers the built-in factories)
