"""``Task``: a named input signature with a ground truth, examples drawn from it, and verification."""
from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Self

import numpy as np

from programs import InputError, Int, Program, Seq
from programs.domains import DomainError, check_signature, enumerate_domain, sample_domain
from programs.equivalence import Verification, equivalent
from programs.interpreter import evaluate

from .problem import Examples, Problem, Signature

# The default example set (``Task.example_set``): the whole domain up to this size (small tasks cannot
# generalise from part of their table: for (a+b)%p with p <= 13 a held-out label never appears in its
# row or column), else half of it, at most MAX_DEFAULT.
WHOLE_DOMAIN_UP_TO = 4096
MAX_DEFAULT = 8192
# Size of "the whole domain" when it is too large to enumerate: a stated uniform sample.
DEFAULT_SAMPLE = 50_000

ALL_OPERATORS = (
    "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">", ">=", "==", "!=",
    "and", "or", "not", "neg", "min", "max", "abs", "if",
)


class TaskError(ValueError):
    """A task that cannot be built or used as asked; the message says what to do instead."""


@dataclass(frozen=True, eq=False)
class Task(Signature):
    """A toy task: inputs with finite domains and a ground truth (a reference program or a function).

    Routes never see a task: they get its ``problem`` (signature, kind, operators, examples), which holds
    neither ``reference`` nor ``function``.
    """

    name: str
    family: str
    params: dict[str, Any]
    inputs: dict[str, Int | Seq]
    difficulty: float
    kind: str  # "function" | "fold" | "scan"
    arity: int
    operators: tuple[str, ...] = ALL_OPERATORS
    reference: Program | None = field(default=None, repr=False)
    function: Callable | None = field(default=None, repr=False)
    # An independent Python definition of a built-in task, against which its reference is checked.
    definition: Callable | None = field(default=None, repr=False)
    description: str = ""
    # For a task made from a Python function: the limit on computing its ground truth (``TimeLimit``).
    truth_seconds: float = field(default=60.0, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # --- ground truth ---------------------------------------------------------------------------
    def _truth(self, arrays: dict[str, np.ndarray], lengths) -> np.ndarray:
        if self.reference is not None:
            return evaluate(self.reference, arrays, lengths)
        return _call_function(self, self.function, arrays, lengths, seconds=self.truth_seconds)

    def _domain(self) -> Examples:
        hit = self._cache.get("domain")
        if hit is None:
            if self.enumerable:
                arrays, lengths = enumerate_domain(self.inputs)
                note = f"the whole domain ({self.domain_size} inputs)"
                complete = True
            else:
                arrays, lengths = sample_domain(self.inputs, DEFAULT_SAMPLE, np.random.default_rng(0), distinct=True)
                note = f"a uniform sample of {DEFAULT_SAMPLE} distinct inputs of the {self.domain_size:.3g} (the domain is too large to enumerate)"
                complete = False
            hit = Examples(arrays, self._truth(arrays, lengths), lengths, complete, note, self.kind == "scan")
            self._cache["domain"] = hit
        return hit

    def examples(self, n: int | None = None, seed: int = 0) -> Examples:
        """``n`` distinct examples drawn at random with ``seed``; ``n=None``: the whole domain (or a stated sample)."""
        if n is None:
            return self._domain()
        n = _count(n, "n")
        if self.enumerable:
            dom = self._domain()
            if n >= len(dom):
                return dom
            idx = np.sort(np.random.default_rng(seed).choice(len(dom), size=n, replace=False))
            ex = dom.take(idx)
            return replace(ex, note=f"{n} of {len(dom)} inputs drawn without replacement, seed {seed}")
        arrays, lengths = sample_domain(self.inputs, n, np.random.default_rng(seed), distinct=True)
        return Examples(arrays, self._truth(arrays, lengths), lengths, False, f"{n} distinct inputs drawn uniformly, seed {seed}", self.kind == "scan")

    def split(self, train: float | int = 0.5, seed: int = 0, test: float | int | None = None) -> tuple[Examples, Examples]:
        """Disjoint training and held-out examples: ``train`` as a fraction of the domain or a count.

        The held-out part is the rest of the domain (or ``test`` of it).
        """
        dom = self._domain()
        total = len(dom)
        n_train = _size(train, total, "train")
        n_test = total - n_train if test is None else _size(test, total, "test")
        if n_train + n_test > total:
            raise TaskError(f"train ({n_train}) + test ({n_test}) exceed the {total} examples available")
        order = np.random.default_rng(seed).permutation(total)
        tr, te = np.sort(order[:n_train]), np.sort(order[n_train : n_train + n_test])
        a, b = dom.take(tr), dom.take(te)
        a = replace(a, note=f"training split: {n_train} of {dom.note}, seed {seed}")
        b = replace(b, note=f"held-out split: {n_test} of {dom.note}, seed {seed}")
        return a, b

    # --- verification ---------------------------------------------------------------------------
    # --- what a route sees ------------------------------------------------------------------------
    def example_set(self, spec: Any = None, seed: int = 0) -> Examples:
        """The examples a route gets (``synthesis.solve``, ``extraction.train`` and ``compare`` alike).

        ``spec``: None or "default" (the whole domain up to ``WHOLE_DOMAIN_UP_TO`` inputs, else half of it,
        at most ``MAX_DEFAULT``), a count, a fraction of the domain in (0, 1], or an ``Examples`` (checked
        against the signature). Sets for one seed are nested: a smaller count is a prefix of a larger one,
        so a sample-complexity sweep adds examples instead of drawing new ones.
        """
        if isinstance(spec, Examples):
            errors = self.example_errors(spec)
            if errors:
                raise TaskError(f"the examples do not fit task {self.name} ({self.signature()}): {'; '.join(errors)}")
            return spec
        n = example_count(self, spec)
        size = self.domain_size if self.enumerable else None
        if size is not None:
            dom = self._domain()
            order = np.random.default_rng(seed).permutation(size)[:n]
            ex = dom.take(np.sort(order))
            return replace(ex, complete=n == size, note=f"{n} of {size} inputs, nested draw seed {seed}")
        arrays, lengths = sample_domain(self.inputs, max(n, MAX_DEFAULT), np.random.default_rng(seed), distinct=True)
        arrays = {k: v[:n] for k, v in arrays.items()}
        lengths = None if lengths is None else lengths[:n]
        return Examples(arrays, self._truth(arrays, lengths), lengths, False, f"{n} distinct inputs, nested draw seed {seed}",
                        self.kind == "scan")

    def problem(self, examples: Any = None, *, seed: int = 0) -> Problem:
        """What a route may see of this task: the signature, kind, operators, family and ``examples`` (an
        ``Examples``, or a spec for ``example_set``), and domain inputs without answers."""
        return Problem(self.name, dict(self.inputs), self.kind, self.arity, tuple(self.operators),
                       self.example_set(examples, seed), self.family)

    def _error(self, message: str) -> ValueError:
        return TaskError(message)

    def verify(self, program: Program | str, *, seconds: float = 60.0) -> Verification:
        """Is ``program`` right on the whole domain? By the strongest method the domain allows."""
        prog = self.check_program(program)
        if self.reference is not None:
            return equivalent(prog, self.reference, self.inputs, seconds=seconds)
        return self._verify_against_function(prog)

    def _verify_against_function(self, prog: Program) -> Verification:
        dom = self._domain()
        kind_ok = (prog.kind == "scan") == (self.kind == "scan") and prog.arity == self.arity
        if not kind_ok:
            x, y = next(dom.rows())
            return Verification(False, "exhaustive" if dom.complete else "sampled", x, (prog(**x), y), checked=1,
                                detail=f"the program is a {prog.kind} with {prog.arity} output(s); the task wants a {self.kind} with {self.arity}")
        try:
            got = evaluate(prog, dom.inputs, dom.lengths if prog.sequences else None)
        except InputError as err:
            raise TaskError(f"cannot run {prog.name} on task {self.name}: {err}") from None
        return _verdict(dom, got, lambda x, y: (prog(**x), y))

    def check_definition(self) -> Verification:
        """Check the reference program against the task's independent Python definition, over the domain."""
        if self.reference is None:
            raise TaskError(f"task {self.name} has no reference program; its Python function is its definition")
        if self.definition is None:
            raise TaskError(f"task {self.name} has no independent Python definition to check its reference against")
        dom = self._domain()
        want = _call_function(self, self.definition, dom.inputs, dom.lengths)
        return _verdict(dom, want, lambda x, y: (y, self.definition(**x)),
                        detail="the reference program and the Python definition disagree")

    def __repr__(self) -> str:
        return f"Task({self.name!r}, family={self.family!r}, {self.signature()}, difficulty={self.difficulty:g})"


def _verdict(dom: Examples, got: np.ndarray, outputs_at, detail: str = "") -> Verification:
    """Compare ``got`` with the outputs of ``dom`` row by row; the first difference is the counterexample."""
    diff = got != dom.outputs
    while diff.ndim > 1:
        diff = diff.any(axis=-1)
    method = "exhaustive" if dom.complete else "sampled"
    if diff.any():
        i = int(np.argmax(diff))
        x, y = next(dom.take(np.array([i])).rows())
        return Verification(False, method, x, outputs_at(x, y), checked=i + 1, detail=detail)
    return Verification(True, method, checked=len(dom), detail=dom.note)


def example_count(task: Signature, spec: Any) -> int:
    """How many examples ``Task.example_set`` gives for ``spec`` (without drawing them); TaskError for a
    spec that names no count."""
    size = task.domain_size if task.enumerable else None
    if spec is None or (isinstance(spec, str) and spec == "default"):
        return size if size is not None and size <= WHOLE_DOMAIN_UP_TO else min(MAX_DEFAULT, (size or 2 * MAX_DEFAULT) // 2)
    if isinstance(spec, str):  # as stored: "0.5", "100"
        try:
            spec = float(spec) if "." in spec else int(spec)
        except ValueError:
            raise TaskError(f"examples must be a count, a fraction in (0, 1] or 'default', got {spec!r}") from None
    if isinstance(spec, float):
        if not 0.0 < spec <= 1.0:
            raise TaskError(f"examples as a fraction must lie in (0, 1], got {spec}")
        if size is None:
            raise TaskError(f"task {task.name}'s domain is too large to take a fraction of; pass a count")
        return max(1, round(spec * size))
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 0:
            raise TaskError(f"examples must be a non-negative count, got {spec}")
        return int(spec) if size is None else min(int(spec), size)
    raise TaskError(f"examples must be an Examples object, a count, a fraction or None; got {type(spec).__name__}")


def _count(n, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise TaskError(f"{what} must be a non-negative integer, got {n!r}")
    return int(n)


def _size(x, total: int, what: str) -> int:
    if isinstance(x, float):
        if not 0.0 <= x <= 1.0 or math.isnan(x):
            raise TaskError(f"{what} as a fraction must lie in [0, 1], got {x}")
        return int(round(x * total))
    n = _count(x, what)
    if n > total:
        raise TaskError(f"{what}={n} is more than the {total} examples in the domain")
    return n


# --- tasks whose ground truth is a Python function --------------------------------------------------


def _call_one(task_name: str, fn: Callable, x: dict[str, Any]):
    try:
        return fn(**x)
    except Exception as err:  # the user's function failed: name the input that broke it
        raise TaskError(f"task {task_name}: the function raised {type(err).__name__}: {err} on input {x}") from err


class _Overtime(BaseException):
    """Raised by the SIGALRM handler inside a user's function. A BaseException, so that the function's
    own ``except Exception`` does not swallow it."""


def check_seconds(seconds) -> float:
    """A time limit given by a user: a positive number (``math.inf``: no limit); TaskError otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds <= 0:
        raise TaskError(f"seconds must be a positive number of seconds (math.inf for no limit), got {seconds!r}")
    return float(seconds)


class TimeLimit:
    """A limit of ``seconds`` on calling a user's function over many inputs (``with TimeLimit(...) as limit``).

    In the main thread a SIGALRM timer interrupts a call that hangs; the previous handler and timer
    are restored on exit (a timer already set to fire sooner is left alone, and then, as off the main
    thread, the elapsed time is checked after each call). Off the main thread only that check runs: a
    slow function is stopped after the call that crosses the limit, but a call that never returns
    cannot be interrupted there.
    """

    def __init__(self, task_name: str, seconds: float):
        self.task_name = task_name
        self.seconds = check_seconds(seconds)
        self.input: dict[str, Any] | None = None
        self._armed = False

    def __enter__(self) -> Self:
        self._start = time.monotonic()
        if (
            math.isfinite(self.seconds)
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            outer, _ = signal.getitimer(signal.ITIMER_REAL)
            if not (0 < outer <= self.seconds):
                self._previous_handler = signal.signal(signal.SIGALRM, self._alarm)
                self._previous_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds)
                self._armed = True
        return self

    def _alarm(self, signum, frame) -> None:
        if self._armed:
            raise _Overtime()

    def call(self, fn: Callable, x: dict[str, Any]):
        """``fn(**x)`` as ``_call_one`` does it, then a check that the limit has not passed."""
        self.input = x
        y = _call_one(self.task_name, fn, x)
        if time.monotonic() - self._start > self.seconds:
            raise self.error()
        return y

    def error(self) -> TaskError:
        where = f" (on input {self.input})" if self.input is not None else ""
        return TaskError(
            f"task {self.task_name}: the function did not return within {self.seconds:g} s{where}; "
            "make it faster or pass seconds=... (a larger limit) to from_function"
        )

    def __exit__(self, kind, err, tb) -> None:
        if self._armed:
            try:
                self._disarm()
            except _Overtime:  # the alarm went off on the way out: the limit was reached all the same
                self._disarm()
                kind = _Overtime
        if kind is _Overtime:
            raise self.error() from None

    def _disarm(self) -> None:
        self._armed = False  # from here on the handler does nothing, so the rest cannot be interrupted
        signal.setitimer(signal.ITIMER_REAL, 0)
        previous = self._previous_handler
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        delay, interval = self._previous_timer
        if delay > 0:  # a later timer someone else set: it keeps its time, less what was spent here
            spent = time.monotonic() - self._start
            signal.setitimer(signal.ITIMER_REAL, max(delay - spent, 1e-3), interval)


def normalise_output(task_name: str, y, x: dict[str, Any], kind: str, arity: int | None, length: int | None):
    """Check one output of a user's function and turn it into ints (tuples for several outputs)."""

    def as_int(v):
        if isinstance(v, (bool, np.bool_)):
            return int(v)
        if isinstance(v, (int, np.integer)):
            v = int(v)
            if -(2**63) <= v < 2**63:
                return v
        raise TaskError(f"task {task_name}: the function returned {v!r} on input {x}; outputs must be 64-bit integers")

    def as_value(v):
        if isinstance(v, tuple):
            if len(v) < 2:
                raise TaskError(f"task {task_name}: a tuple output needs at least two items, got {v!r} on input {x}")
            return tuple(as_int(i) for i in v)
        return as_int(v)

    if kind == "scan":
        if not isinstance(y, list):
            raise TaskError(f"task {task_name}: a scan must return a list with one output per step; got {y!r} on input {x}")
        if len(y) != length:
            raise TaskError(f"task {task_name}: the function returned {len(y)} outputs for a sequence of length {length} on input {x}")
        out = [as_value(v) for v in y]
    else:
        if isinstance(y, list):
            raise TaskError(f"task {task_name}: the function returned a list on input {x}; only tasks over sequences may be scans")
        out = as_value(y)
    got = _arity_of(out, kind)
    if arity is not None and got is not None and got != arity:
        raise TaskError(f"task {task_name}: the function returned {got} output(s) on input {x} but {arity} elsewhere")
    return out


def _arity_of(out, kind: str) -> int | None:
    if kind == "scan":
        if not out:
            return None
        out = out[0]
    return len(out) if isinstance(out, tuple) else 1


def _call_function(task: Task, fn: Callable, arrays: dict[str, np.ndarray], lengths,
                   seconds: float = math.inf) -> np.ndarray:
    n = next(iter(arrays.values())).shape[0]
    rows = []
    with TimeLimit(task.name, seconds) as limit:
        for i in range(n):
            x = {}
            for k, v in arrays.items():
                if v.ndim == 2:
                    x[k] = v[i, : int(lengths[i])].tolist() if lengths is not None else v[i].tolist()
                else:
                    x[k] = int(v[i])
            length = len(x[task.sequences[0]]) if task.sequences else None
            rows.append(normalise_output(task.name, limit.call(fn, x), x, task.kind, task.arity, length))
    return _stack_outputs(rows, task.kind, task.arity, arrays, lengths)


def _stack_outputs(rows, kind: str, arity: int, arrays, lengths) -> np.ndarray:
    n = len(rows)
    if kind != "scan":
        out = np.array(rows, dtype=np.int64)
        return out.reshape((n,) if arity == 1 else (n, arity))
    width = next(v for v in arrays.values() if v.ndim == 2).shape[1]
    shape = (n, width) if arity == 1 else (n, width, arity)
    out = np.zeros(shape, dtype=np.int64)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = np.array(r, dtype=np.int64)
    return out


def signature_errors(inputs) -> dict:
    """Validate a signature given by a user, as a TaskError."""
    try:
        return check_signature(dict(inputs) if isinstance(inputs, Mapping) else inputs)
    except DomainError as err:
        raise TaskError(str(err)) from None


def as_problem(source: Task | Problem, examples: Any = None, seed: int = 0) -> Problem:
    """The front door of both routes: a task reduced to its problem (``examples`` a spec for
    ``Task.example_set``), or a problem as it is (it carries its examples: ``examples`` must be None).
    TaskError for anything else."""
    if isinstance(source, Problem):
        if examples is not None:
            raise TaskError(f"problem {source.name} carries its own {source.size} examples; pass examples=None, or "
                            "give the task with the examples you want")
        return source
    if isinstance(source, Task):
        return source.problem(examples, seed=seed)
    raise TaskError(f"expected a Task or a Problem, got {type(source).__name__}; build one with toy_tasks.get(...), "
                    "toy_tasks.from_program(...) or toy_tasks.from_function(...)")
