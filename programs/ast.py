"""The abstract syntax of the program language: frozen dataclasses, compared structurally.

Source positions are kept for error messages but take no part in equality or hashing, so
``parse(str(p)) == p`` compares programs, not layouts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .errors import ProgramError

# Operators, each written once; the printer, parser, interpreters and z3 all key on these strings.
ARITH_OPS = ("+", "-", "*", "//", "%")
BIT_OPS = ("&", "|", "^", "<<", ">>")
COMPARE_OPS = ("<", "<=", ">", ">=", "==", "!=")
BOOL_OPS = ("and", "or")
BINARY_OPS = ARITH_OPS + BIT_OPS + COMPARE_OPS + BOOL_OPS
UNARY_OPS = ("-", "not")
CALLS = {"min": (2, None), "max": (2, None), "abs": (1, 1)}  # name: (min args, max args or None)
RESERVED = frozenset(
    {"def", "for", "in", "if", "else", "and", "or", "not", "return", "yield", "zip", "True", "False",
     "None", "while", "lambda", "pass", "import", "from", "class", "is", "elif", "with", "as",
     "global", "nonlocal", "del", "assert", "break", "continue", "try", "except", "finally", "raise",
     "async", "await"}
    | set(CALLS)
)


def _pos() -> tuple[int, int] | None:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Const:
    value: int
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        v = self.value
        if isinstance(v, bool):
            object.__setattr__(self, "value", int(v))
        elif not isinstance(v, int):
            try:
                object.__setattr__(self, "value", int(v))  # numpy integers
            except (TypeError, ValueError):
                raise ProgramError(*(self.pos or (0, 0)), f"constant must be an integer, got {v!r}") from None
        if not -(2**63) <= self.value < 2**63:
            raise ProgramError(*(self.pos or (0, 0)), f"constant {self.value} does not fit in 64 bits")


@dataclass(frozen=True)
class Var:
    name: str
    pos: tuple[int, int] | None = _pos()


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Expr"
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        if self.op not in UNARY_OPS:
            raise ProgramError(*(self.pos or (0, 0)), f"unknown unary operator {self.op!r}")
        if self.op == "-" and isinstance(self.operand, Const):
            # A negative literal is a constant: keeps one AST per program text.
            raise ProgramError(*(self.pos or (0, 0)), f"write Const({-self.operand.value}) instead of Unary('-', Const(...))")


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Expr"
    right: "Expr"
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        if self.op not in BINARY_OPS:
            raise ProgramError(*(self.pos or (0, 0)), f"unknown binary operator {self.op!r}")


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))
        if self.func not in CALLS:
            raise ProgramError(*(self.pos or (0, 0)), f"unknown function {self.func!r}; the language has {', '.join(CALLS)}")
        lo, hi = CALLS[self.func]
        if len(self.args) < lo or (hi is not None and len(self.args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise ProgramError(*(self.pos or (0, 0)), f"{self.func}() takes {want} argument(s), got {len(self.args)}")


@dataclass(frozen=True)
class IfExp:
    """``then if cond else orelse``."""

    cond: "Expr"
    then: "Expr"
    orelse: "Expr"
    pos: tuple[int, int] | None = _pos()


@dataclass(frozen=True)
class Tuple:
    """Several values at once: only as the value of ``return``, ``yield`` or a parallel assignment."""

    items: tuple["Expr", ...]
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if len(self.items) < 2:
            raise ProgramError(*(self.pos or (0, 0)), "a tuple needs at least two items")


Expr = Union[Const, Var, Unary, Binary, Call, IfExp, Tuple]


@dataclass(frozen=True)
class Assign:
    """``a = e`` or the parallel ``a, b = e1, e2`` (right side evaluated before any target is set)."""

    targets: tuple[str, ...]
    value: Expr
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        if isinstance(self.targets, str):
            object.__setattr__(self, "targets", (self.targets,))
        object.__setattr__(self, "targets", tuple(self.targets))


@dataclass(frozen=True)
class For:
    """``for x in xs:`` or ``for x, y in zip(xs, ys):`` with a body of assignments and one optional yield."""

    targets: tuple[str, ...]
    iters: tuple[str, ...]
    body: tuple["Stmt", ...]
    pos: tuple[int, int] | None = _pos()

    def __post_init__(self) -> None:
        for name in ("targets", "iters", "body"):
            v = getattr(self, name)
            object.__setattr__(self, name, (v,) if isinstance(v, str) else tuple(v))


@dataclass(frozen=True)
class Yield:
    value: Expr
    pos: tuple[int, int] | None = _pos()


@dataclass(frozen=True)
class Return:
    value: Expr
    pos: tuple[int, int] | None = _pos()


Stmt = Union[Assign, For, Yield, Return]
Node = Union[Expr, Stmt]


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-nodes, in source order."""
    if isinstance(node, (Const, Var)):
        return ()
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, IfExp):
        return (node.cond, node.then, node.orelse)
    if isinstance(node, Tuple):
        return node.items
    if isinstance(node, (Assign, Yield, Return)):
        return (node.value,)
    if isinstance(node, For):
        return node.body
    raise TypeError(f"not a program node: {node!r}")


def walk(node: Node):
    """Pre-order traversal of a node and everything under it."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def variables(expr: Expr) -> set[str]:
    """Names read by an expression."""
    return {n.name for n in walk(expr) if isinstance(n, Var)}
