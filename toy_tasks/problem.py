"""``Problem``: everything a route may see of a task, and nothing more.

A route (a synthesizer, or training plus an extractor) gets the task's signature (input names and
finite domains), its kind (function, fold or scan) and number of outputs, the operator set, a family
label (a hint both routes see alike), the examples it was given, and a way to enumerate or draw
*inputs* of the domain, without their answers. A problem holds no reference program, no Python
function and no cache of answers: it is plain data (numpy arrays, domains, strings), so it pickles to
any worker process and cannot compute an answer outside its examples. The rule that no route reads
the answer therefore holds by construction: the comparator alone holds tasks, and only it verifies.

``task.problem(examples)`` makes one; ``synthesis.solve`` and ``extraction.train`` reduce a task to its
problem at the door.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from programs import InputError, Int, Program, Seq, evaluate, parse
from programs.domains import Domain, domain_size, enumerate_domain, sample_domain

# Domains up to this many inputs are enumerated whole; larger ones are sampled, and say so.
MAX_ENUMERATED = 1 << 20


class ProblemError(ValueError):
    """Examples or a program that do not fit a problem's signature; the message says what to change."""


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


class Signature:
    """What a task and a problem share: a name, input domains, kind, outputs and operators, and the
    questions that only need those (the domain's size, whether a program's parameters fit, whether
    examples have the right shapes)."""

    name: str
    inputs: dict[str, Domain]
    kind: str
    arity: int

    @property
    def domain_size(self) -> int:
        return domain_size(self.inputs)

    @property
    def enumerable(self) -> bool:
        return self.domain_size <= MAX_ENUMERATED

    @property
    def sequences(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.inputs.items() if isinstance(d, Seq))

    @property
    def scalars(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.inputs.items() if isinstance(d, Int))

    def signature(self) -> str:
        return ", ".join(f"{n}: {d}" for n, d in self.inputs.items())

    def domain_inputs(self, cap: int = 20_000, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray | None, bool]:
        """The domain's inputs without answers: all of them when there are at most ``cap``, else ``cap``
        distinct ones drawn with ``seed``. Returns ``(inputs, lengths, complete)``."""
        if self.domain_size <= cap:
            arrays, lengths = enumerate_domain(self.inputs)
            return arrays, lengths, True
        arrays, lengths = sample_domain(self.inputs, cap, np.random.default_rng(seed), distinct=True)
        return arrays, lengths, False

    def check_program(self, program: Program | str) -> Program:
        """Parse ``program`` and check that its parameters are these inputs; ProblemError otherwise."""
        prog = parse(program) if isinstance(program, str) else program
        if not isinstance(prog, Program):
            raise self._error(f"expected a Program or program text, got {type(program).__name__}")
        if set(prog.params) != set(self.inputs):
            raise self._error(
                f"program {prog.name}({', '.join(prog.params)}) does not match task {self.name} "
                f"({self.signature()}): its parameters must be exactly {list(self.inputs)}"
            )
        for name in prog.sequences:
            if not isinstance(self.inputs[name], Seq):
                raise self._error(f"program {prog.name} loops over {name!r}, but in task {self.name} it is {self.inputs[name]}")
        for name in prog.scalars:
            if isinstance(self.inputs[name], Seq) and name not in prog.shape.unused:
                raise self._error(f"program {prog.name} reads {name!r} as an integer, but in task {self.name} it is a "
                                  "sequence; loop over it")
        return prog

    def _error(self, message: str) -> ValueError:
        return ProblemError(message)

    def example_errors(self, examples: Examples) -> list[str]:
        """Why ``examples`` (built by hand, say) do not fit this signature and kind; [] if they do."""
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


@dataclass(frozen=True, eq=False)
class Problem(Signature):
    """What a route sees: find a program of ``kind`` over ``inputs`` that fits every example.

    ``examples`` holds the input/output pairs the route was given (sequences ``[n, max_length]`` padded
    with 0 past their lengths; outputs ``[n]`` or ``[n, arity]`` for a function or fold, ``[n,
    max_length]`` or ``[..., arity]`` for a scan). ``family`` is the task's family label, a hint every
    route sees alike ("user" for tasks users make). Inputs of the rest of the domain come from
    ``domain_inputs``, without answers.
    """

    name: str
    inputs: dict[str, Domain]
    kind: str
    arity: int
    operators: tuple[str, ...]
    examples: Examples
    family: str = "user"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("function", "fold", "scan"):
            raise ProblemError(f"kind must be 'function', 'fold' or 'scan', got {self.kind!r}")
        errors = self.example_errors(self.examples)
        if errors:
            raise ProblemError(f"the examples do not fit task {self.name} ({self.signature()}): {'; '.join(errors)}")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cache={})

    # --- the examples, as the synthesizers read them ----------------------------------------------
    @property
    def params(self) -> tuple[str, ...]:
        """The input names, in order."""
        return tuple(self.inputs)

    @property
    def example_inputs(self) -> dict[str, np.ndarray]:
        return self.examples.inputs

    @property
    def outputs(self) -> np.ndarray:
        return self.examples.outputs

    @property
    def lengths(self) -> np.ndarray | None:
        return self.examples.lengths

    @property
    def size(self) -> int:
        """How many examples."""
        return int(self.outputs.shape[0])

    def __len__(self) -> int:
        return self.size

    def with_examples(self, examples: Examples) -> "Problem":
        """The same problem with other examples (a validation split, a network's own answers)."""
        return replace(self, examples=examples, _cache={})

    def mask(self) -> np.ndarray | None:
        """For scans: ``[n, max_length]`` True where a step exists."""
        if self.kind != "scan" or self.lengths is None:
            return None
        width = self.outputs.shape[1]
        return np.arange(width)[None, :] < self.lengths[:, None]

    def constants(self) -> tuple[int, ...]:
        """A small pool of constants: small integers and the bounds of the input domains."""
        pool = {-1, 0, 1, 2, 3}
        for d in self.inputs.values():
            e = d if isinstance(d, Int) else d.element
            pool.update({e.lo, e.hi - 1, e.hi})
        return tuple(sorted(pool))

    def run(self, program: Program) -> np.ndarray:
        return evaluate(program, self.example_inputs, self.lengths if program.sequences else None)

    def mismatches(self, program: Program) -> np.ndarray:
        """Boolean per example: does ``program`` get it wrong?"""
        if (program.kind == "scan") != (self.kind == "scan") or program.arity != self.arity:
            return np.ones(self.size, dtype=bool)
        try:
            got = self.run(program)
        except InputError:
            return np.ones(self.size, dtype=bool)
        diff = got != self.outputs
        while diff.ndim > 1:
            diff = diff.any(axis=-1)
        return diff

    def fits(self, program: Program) -> bool:
        return self.size > 0 and not self.mismatches(program).any()

    def contradictions(self) -> list[dict[str, Any]]:
        """Inputs that appear twice with different outputs (no program can fit both)."""
        keys: dict[bytes, bytes] = {}
        bad = []
        cols = [self.example_inputs[n] for n in self.params]
        lengths = self.lengths
        for i in range(self.size):
            parts = [c[i, : int(lengths[i])] if c.ndim == 2 and lengths is not None else c[i] for c in cols]
            key = b"|".join(np.ascontiguousarray(p).tobytes() for p in parts)
            out = self.outputs[i]
            if self.kind == "scan" and lengths is not None:
                out = out[: int(lengths[i])]
            value = np.ascontiguousarray(out).tobytes()
            if keys.setdefault(key, value) != value:
                bad.append({n: (p.tolist() if np.ndim(p) else int(p)) for n, p in zip(self.params, parts)})
        return bad

    def identity(self) -> str:
        """A digest of everything a route could compute from: signature, kind, outputs, operators, family
        and the examples' bytes. Two problems with one identity give every method the same input."""
        hit = self._cache.get("identity")
        if hit is None:
            import hashlib

            h = hashlib.sha256()
            h.update(repr((self.name, self.signature(), self.kind, self.arity, self.operators, self.family)).encode())
            ex = self.examples
            for name in self.params:
                a = np.ascontiguousarray(ex.inputs[name])
                h.update(name.encode() + str(a.shape).encode() + a.astype(np.int64).tobytes())
            h.update(np.ascontiguousarray(ex.outputs).astype(np.int64).tobytes())
            if ex.lengths is not None:
                h.update(np.ascontiguousarray(ex.lengths).astype(np.int64).tobytes())
            hit = self._cache["identity"] = h.hexdigest()
        return hit

    def __repr__(self) -> str:
        return f"Problem({self.name!r}, {self.signature()}, {self.kind}, {self.size} examples)"

