"""``Task``: a named input signature with a ground truth, examples drawn from it, and verification."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np

from programs import InputError, Int, Program, ProgramError, Seq, parse
from programs.domains import DomainError, check_signature, domain_size, enumerate_domain, sample_domain
from programs.equivalence import Verification, equivalent
from programs.interpreter import evaluate

from .errors import TaskError
from .tabulate import Progress, tabulate

# Domains up to this many inputs are enumerated whole; larger ones are sampled, and say so.
MAX_ENUMERATED = 1 << 20
# Size of "the whole domain" when it is too large to enumerate: a stated uniform sample.
DEFAULT_SAMPLE = 50_000

ALL_OPERATORS = (
    "+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">", ">=", "==", "!=",
    "and", "or", "not", "neg", "min", "max", "abs", "if",
)


@dataclass(frozen=True)
class Examples:
    """Input/output pairs. Sequences are ``[n, max_length]`` padded with 0; ``lengths`` gives true lengths.

    ``complete`` is True when the examples are the whole domain; otherwise ``note`` says how they were drawn.
    """

    inputs: dict[str, np.ndarray]
    outputs: np.ndarray
    lengths: np.ndarray | None = None
    complete: bool = False
    note: str = ""
    scan: bool = False  # outputs are per step: [n, max_length] (or [n, max_length, arity])

    def __len__(self) -> int:
        return int(self.outputs.shape[0])

    def take(self, index) -> "Examples":
        """The examples at ``index`` (an index array or a boolean mask)."""
        index = np.asarray(index)
        return Examples(
            inputs={k: v[index] for k, v in self.inputs.items()},
            outputs=self.outputs[index],
            lengths=None if self.lengths is None else self.lengths[index],
            complete=False,
            note=f"subset of: {self.note}" if self.note else "subset",
            scan=self.scan,
        )

    def rows(self):
        """Each example as (inputs as plain ints/lists, output as an int, a tuple, or a list per step)."""
        for i in range(len(self)):
            x: dict[str, Any] = {}
            n = None
            for k, v in self.inputs.items():
                if v.ndim == 2:
                    n = int(self.lengths[i]) if self.lengths is not None else v.shape[1]
                    x[k] = v[i, :n].tolist()
                else:
                    x[k] = int(v[i])
            y = self.outputs[i]
            if self.scan:
                y = [_plain(v) for v in y[:n]]
            else:
                y = _plain(y)
            yield x, y


def _plain(y):
    return tuple(int(v) for v in y) if isinstance(y, np.ndarray) and y.ndim == 1 else int(y)


@dataclass(frozen=True, eq=False)
class Task:
    """A toy task: inputs with finite domains and a ground truth (a reference program or a function).

    Routes never see ``reference`` or ``function``: they get ``examples`` and the signature.
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

    # --- the domain ---------------------------------------------------------------------------
    @property
    def domain_size(self) -> int:
        return domain_size(self.inputs)

    @property
    def enumerable(self) -> bool:
        return self.domain_size <= MAX_ENUMERATED

    @property
    def sequences(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.inputs.items() if isinstance(d, Seq))

    def signature(self) -> str:
        return ", ".join(f"{n}: {d}" for n, d in self.inputs.items())

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

    def example_errors(self, examples: Examples) -> list[str]:
        """Why ``examples`` (built by hand, say) do not fit this task's signature and kind; [] if they do."""
        if not isinstance(examples, Examples):
            return [f"expected an Examples object, got {type(examples).__name__}"]
        inputs = examples.inputs
        if not isinstance(inputs, Mapping):
            return [f"Examples.inputs must be a dict {{name: array}}, got {type(inputs).__name__}"]
        missing = [n for n in self.inputs if n not in inputs]
        extra = [n for n in inputs if n not in self.inputs]
        if missing or extra:
            return [f"the inputs must be named {list(self.inputs)} (task {self.name}); "
                    + ", ".join(([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else []))]
        arrays = {**inputs, "outputs": examples.outputs}
        if examples.lengths is not None:
            arrays["lengths"] = examples.lengths
        for k, v in arrays.items():
            if not isinstance(v, np.ndarray) or not (np.issubdtype(v.dtype, np.integer) or v.dtype == np.bool_):
                what = f"dtype {v.dtype}" if isinstance(v, np.ndarray) else type(v).__name__
                return [(f"{k!r} must be a numpy array of integers, got {what}; build examples with task.examples() "
                         "or np.asarray(..., dtype=np.int64)")]
        if examples.outputs.ndim == 0:
            return ["outputs must be an array with one row per example, got a single value"]
        n = examples.outputs.shape[0]
        width = None
        errors = []
        for k, dom in self.inputs.items():
            v = inputs[k]
            want = 2 if isinstance(dom, Seq) else 1
            if v.ndim != want:
                shape = "[n, max_length]" if want == 2 else "[n]"
                errors.append(f"input {k!r} is a {'sequence' if want == 2 else 'scalar'}: its array must be {shape}, got shape {v.shape}")
                continue
            if v.shape[0] != n:
                errors.append(f"input {k!r} has {v.shape[0]} rows but there are {n} outputs; every array needs one row per example")
            if want == 2:
                if width is not None and v.shape[1] != width:
                    errors.append(f"sequence inputs have different widths ({width} and {v.shape[1]}); pad them to one max_length")
                width = v.shape[1]
        if errors:
            return errors
        if self.sequences and examples.lengths is not None:
            lengths = examples.lengths
            if lengths.shape != (n,):
                errors.append(f"lengths must have shape ({n},), one per example; got {lengths.shape}")
            elif n and (lengths.min() < 0 or lengths.max() > width):
                errors.append(f"lengths must lie in [0, {width}] (the width of the sequence arrays)")
        if self.kind == "scan":
            shape = (n, width) if self.arity == 1 else (n, width, self.arity)
        else:
            shape = (n,) if self.arity == 1 else (n, self.arity)
        if examples.outputs.shape != shape:
            errors.append(f"outputs of a {self.kind} with {self.arity} output(s) must have shape {shape}, "
                          f"got {examples.outputs.shape}")
        return errors

    # --- verification ---------------------------------------------------------------------------
    def check_program(self, program: Program | str) -> Program:
        """Parse ``program`` and check that its parameters are this task's inputs; TaskError otherwise."""
        try:
            prog = parse(program) if isinstance(program, str) else program
        except ProgramError:
            raise
        if not isinstance(prog, Program):
            raise TaskError(f"expected a Program or program text, got {type(program).__name__}")
        if set(prog.params) != set(self.inputs):
            raise TaskError(
                f"program {prog.name}({', '.join(prog.params)}) does not match task {self.name} "
                f"({self.signature()}): its parameters must be exactly {list(self.inputs)}"
            )
        for name in prog.sequences:
            if not isinstance(self.inputs[name], Seq):
                raise TaskError(f"program {prog.name} loops over {name!r}, but in task {self.name} it is {self.inputs[name]}")
        for name in prog.scalars:
            if isinstance(self.inputs[name], Seq) and name not in prog.shape.unused:
                raise TaskError(f"program {prog.name} reads {name!r} as an integer, but in task {self.name} it is a sequence; loop over it")
        return prog

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
