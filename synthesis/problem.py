"""What a synthesizer sees: examples, the input signature and the operator set. Never the reference
program, the task's Python definition, or the rest of the domain."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from programs import InputError, Int, Program, Seq, evaluate
from programs.budget import Budget  # noqa: F401  (re-exported: methods take a Budget)
from programs.domains import Domain


@dataclass(frozen=True)
class Problem:
    """A synthesis problem: find a program of ``kind`` over ``inputs`` that fits every example.

    ``inputs`` maps parameter names (in order) to domains; sequences are ``[n, max_length]`` arrays in
    ``example_inputs`` padded with 0 past ``lengths``. ``outputs`` is ``[n]`` (or ``[n, arity]``) for a
    function or fold and ``[n, max_length]`` (or ``[..., arity]``) for a scan.
    """

    name: str
    inputs: dict[str, Domain]
    kind: str
    arity: int
    operators: tuple[str, ...]
    example_inputs: dict[str, np.ndarray]
    outputs: np.ndarray
    lengths: np.ndarray | None = None

    @classmethod
    def from_task(cls, task, examples) -> "Problem":
        """The view of ``task`` a synthesizer may have: its signature, kind, operators, and ``examples``."""
        return cls(
            name=task.name, inputs=dict(task.inputs), kind=task.kind, arity=task.arity,
            operators=tuple(task.operators), example_inputs=dict(examples.inputs),
            outputs=np.asarray(examples.outputs), lengths=examples.lengths,
        )

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    @property
    def scalars(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.inputs.items() if isinstance(d, Int))

    @property
    def sequences(self) -> tuple[str, ...]:
        return tuple(n for n, d in self.inputs.items() if isinstance(d, Seq))

    @property
    def size(self) -> int:
        return int(self.outputs.shape[0])

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
