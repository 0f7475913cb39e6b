"""``Task``: a named input signature with a ground truth, examples drawn from it, and verification."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np

from programs import InputError, Int, Program, Seq
from programs.domains import DomainError, check_signature, enumerate_domain, sample_domain
from programs.equivalence import Verification, equivalent
from programs.interpreter import evaluate

from .errors import TaskError
from .problem import Examples, Problem, Signature
from .tabulate import Progress, tabulate

# The default example set (``Task.example_set``): the share of the domain the task states
# (``Task.example_fraction``: modular arithmetic at a modulus where a network groks from part of its table),
# else the whole domain up to this size (small tasks cannot generalise from part of their table: for
# (a+b)%p with p <= 13 a held-out label never appears in its row or column), else half of it, at most
# MAX_DEFAULT.
WHOLE_DOMAIN_UP_TO = 4096
MAX_DEFAULT = 8192
# Size of "the whole domain" when it is too large to enumerate: a stated uniform sample.
DEFAULT_SAMPLE = 50_000

ALL_OPERATORS = (
    "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">", ">=", "==", "!=",
    "and", "or", "not", "neg", "min", "max", "abs", "if",
)




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
    # The share of the domain its default example set holds (``example_set(None)``), when the task states one:
    # both routes get the same nested draw of that many inputs. None: the rule by size (``example_count``).
    example_fraction: float | None = None
    # For a task made from a Python function: the limit on computing its ground truth (``TimeLimit``).
    truth_seconds: float = field(default=60.0, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # --- ground truth ---------------------------------------------------------------------------
    def _truth(self, arrays: dict[str, np.ndarray], lengths, progress: Progress | None = None) -> np.ndarray:
        if self.reference is not None:
            out = evaluate(self.reference, arrays, lengths)
            if progress is not None:  # one vectorised pass: nothing to report until it is done
                progress(len(out), len(out))
            return out
        return tabulate(self.name, self.function, arrays, lengths, kind=self.kind, arity=self.arity,
                        seconds=self.truth_seconds, progress=progress)

    def _domain(self, progress: Progress | None = None) -> Examples:
        hit = self._cache.get("domain")
        if hit is not None and progress is not None:  # computed before: done at once
            progress(len(hit), len(hit))
        elif hit is None:
            if self.enumerable:
                arrays, lengths = enumerate_domain(self.inputs)
                note = f"the whole domain ({self.domain_size} inputs)"
                complete = True
            else:
                arrays, lengths = sample_domain(self.inputs, DEFAULT_SAMPLE, np.random.default_rng(0), distinct=True)
                note = f"a uniform sample of {DEFAULT_SAMPLE} distinct inputs of the {self.domain_size:.3g} (the domain is too large to enumerate)"
                complete = False
            hit = Examples(arrays, self._truth(arrays, lengths, progress), lengths, complete, note, self.kind == "scan")
            self._cache["domain"] = hit
        return hit

    def examples(self, n: int | None = None, seed: int = 0, *, progress: Progress | None = None) -> Examples:
        """``n`` distinct examples drawn at random with ``seed``; ``n=None``: the whole domain (or a stated sample).

        ``progress(done, total)`` is told how far computing their outputs has got, lastly ``(total, total)``
        (at once when they were computed before).
        """
        if n is None:
            return self._domain(progress)
        n = _count(n, "n")
        if self.enumerable:
            dom = self._domain(progress)
            if n >= len(dom):
                return dom
            idx = np.sort(np.random.default_rng(seed).choice(len(dom), size=n, replace=False))
            ex = dom.take(idx)
            return replace(ex, note=f"{n} of {len(dom)} inputs drawn without replacement, seed {seed}")
        arrays, lengths = sample_domain(self.inputs, n, np.random.default_rng(seed), distinct=True)
        return Examples(arrays, self._truth(arrays, lengths, progress), lengths, False, f"{n} distinct inputs drawn uniformly, seed {seed}", self.kind == "scan")

    def split(self, train: float | int = 0.5, seed: int = 0, test: float | int | None = None, *,
              progress: Progress | None = None) -> tuple[Examples, Examples]:
        """Disjoint training and held-out examples: ``train`` as a fraction of the domain or a count.

        The held-out part is the rest of the domain (or ``test`` of it). ``progress`` as for ``examples``.
        """
        dom = self._domain(progress)
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

    # --- what a route sees ------------------------------------------------------------------------
    def example_set(self, spec: Any = None, seed: int = 0) -> Examples:
        """The examples a route gets (``synthesis.solve``, ``extraction.train`` and ``compare`` alike).

        ``spec``: None or "default" (the task's ``example_fraction`` of the domain when it states one, else the
        whole domain up to ``WHOLE_DOMAIN_UP_TO`` inputs, else half of it, at most ``MAX_DEFAULT``), a count,
        a fraction of the domain in (0, 1], or an ``Examples`` (checked
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

    def __post_init__(self) -> None:
        check_fraction(self.name, self.example_fraction, self.enumerable)

    def _error(self, message: str) -> ValueError:
        return TaskError(message)

    # --- verification ---------------------------------------------------------------------------
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

    def check_definition(self, *, progress: Progress | None = None) -> Verification:
        """Check the reference program against the task's independent Python definition, over the domain.

        ``progress(done, total)`` is told how far tabulating the definition has got, lastly ``(total, total)``.
        """
        if self.reference is None:
            raise TaskError(f"task {self.name} has no reference program; its Python function is its definition")
        if self.definition is None:
            raise TaskError(f"task {self.name} has no independent Python definition to check its reference against")
        dom = self._domain()
        want = tabulate(self.name, self.definition, dom.inputs, dom.lengths, kind=self.kind, arity=self.arity,
                        progress=progress)
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
        stated = getattr(task, "example_fraction", None)
        if stated is not None and size is not None:
            return max(1, round(stated * size))
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


def check_fraction(name: str, fraction: Any, enumerable: bool = True) -> float | None:
    """``fraction`` if it can be a task's stated share of its domain (None, or a number in (0, 1] of an
    enumerable domain); TaskError saying what to pass otherwise."""
    if fraction is None:
        return None
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0 \
            or math.isnan(fraction):
        raise TaskError(f"task {name}: example_fraction must be a number in (0, 1] or None, got {fraction!r}")
    if not enumerable:
        raise TaskError(f"task {name}: its domain is too large to enumerate, so it cannot state a fraction of it as "
                        "its examples; pass example_fraction=None and a count to example_set")
    return float(fraction)


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
