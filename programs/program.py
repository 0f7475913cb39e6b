"""``Program``: a checked program of the language, the one value every route returns."""
from __future__ import annotations

from dataclasses import dataclass, field

from .ast import Stmt, size_of
from .check import Shape, analyse


@dataclass(frozen=True)
class Program:
    """A function, fold or scan. Build one with :func:`programs.parse` or from AST nodes.

    Construction checks the static rules (:mod:`programs.check`) and raises ``ProgramError``.
    """

    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    pos: tuple[int, int] | None = field(default=None, compare=False, repr=False)
    shape: Shape = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "body", tuple(self.body))
        object.__setattr__(self, "shape", analyse(self.name, self.params, self.body, self.pos))

    @property
    def kind(self) -> str:
        """``"function"``, ``"fold"`` or ``"scan"``."""
        return self.shape.kind

    @property
    def sequences(self) -> tuple[str, ...]:
        """Parameters read by the loop (sequence inputs)."""
        return self.shape.sequences

    @property
    def scalars(self) -> tuple[str, ...]:
        """Parameters that are single integers."""
        return self.shape.scalars

    @property
    def arity(self) -> int:
        """Number of outputs (per step, for a scan)."""
        return self.shape.arity

    @property
    def size(self) -> int:
        """Number of AST nodes (expressions and statements)."""
        return sum(size_of(stmt) for stmt in self.body)

    def __str__(self) -> str:
        from .printer import to_source

        return to_source(self)

    def to_python(self, *, exact: bool = False) -> str:
        """Standalone Python source for this program; see :func:`programs.emit.to_python`."""
        from .emit import to_python

        return to_python(self, exact=exact)

    def __call__(self, **inputs):
        """Run on plain Python values (ints; lists for sequences): the scalar interpreter."""
        from .interpreter import run

        return run(self, inputs)
