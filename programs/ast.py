"""The abstract syntax of the program language: frozen dataclasses, compared structurally.

Source positions are kept for error messages but take no part in equality or hashing, so
``parse(str(p)) == p`` compares programs, not layouts.

The helpers at the end are the one place that takes nodes apart and puts them back together
(``children``/``with_children``/``map_children``, ``walk``, ``size_of``, ``reads``/``variables``,
``substitute``, ``negate``): every pass that needs one uses these, not a copy of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

from .errors import ProgramError
from .semantics import SCALAR, wrap

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
    """Direct sub-nodes, in source order (the order :func:`with_children` takes them back in)."""
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


def with_children(node: Node, kids: Iterable[Node]) -> Node:
    """``node`` (same operator, names and position) with ``kids`` in place of :func:`children`.

    A ``-`` whose new operand is a constant becomes the negated constant (:func:`negate`): the AST
    has no negated literal.
    """
    kids = tuple(kids)
    if isinstance(node, (Const, Var)):
        if kids:
            raise ValueError(f"{type(node).__name__} has no children, got {len(kids)}")
        return node
    if isinstance(node, Unary):
        (operand,) = kids
        return negate(operand, pos=node.pos) if node.op == "-" else Unary(node.op, operand, pos=node.pos)
    if isinstance(node, Binary):
        left, right = kids
        return Binary(node.op, left, right, pos=node.pos)
    if isinstance(node, Call):
        return Call(node.func, kids, pos=node.pos)
    if isinstance(node, IfExp):
        cond, then, orelse = kids
        return IfExp(cond, then, orelse, pos=node.pos)
    if isinstance(node, Tuple):
        return Tuple(kids, pos=node.pos)
    if isinstance(node, Assign):
        (value,) = kids
        return Assign(node.targets, value, pos=node.pos)
    if isinstance(node, (Yield, Return)):
        (value,) = kids
        return type(node)(value, pos=node.pos)
    if isinstance(node, For):
        return For(node.targets, node.iters, kids, pos=node.pos)
    raise TypeError(f"not a program node: {node!r}")


def map_children(node: Node, f: Callable[[Node], Node]) -> Node:
    """``node`` with ``f`` applied to each of its children; ``node`` itself when ``f`` returns every
    child unchanged (the same object)."""
    kids = children(node)
    new = tuple(f(c) for c in kids)
    if all(a is b for a, b in zip(kids, new)):
        return node
    return with_children(node, new)


def negate(e: Expr, pos: tuple[int, int] | None = None) -> Expr:
    """``-e``: a constant's negation is a constant (wrapping like ``-`` itself), anything else a ``Unary``."""
    if isinstance(e, Const):
        return Const(wrap(-e.value), pos=pos)
    return Unary("-", e, pos=pos)


def walk(node: Node) -> Iterator[Node]:
    """Pre-order traversal of a node and everything under it."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(children(n)))


def size_of(node: Node) -> int:
    """Number of AST nodes in ``node``, itself included (``Program.size`` sums it over the body)."""
    return sum(1 for _ in walk(node))


def reads(node: Node) -> list[str]:
    """Names read under ``node``, once per read, in source order."""
    return [n.name for n in walk(node) if isinstance(n, Var)]


def variables(node: Node) -> set[str]:
    """Names read under ``node``."""
    return set(reads(node))


def substitute(expr: Expr, by: Mapping[str, Expr]) -> Expr:
    """``expr`` with every read of a name in ``by`` replaced by its expression, all at once (so
    ``{"a": Var("b"), "b": Var("a")}`` swaps two names); ``expr`` itself when it reads none of them.

    A unary operator whose operand the replacement turns into a constant is folded: ``-`` must be
    (:func:`with_children`), and ``not`` is folded alike, so that constants plugged in under unary
    operators leave a constant, not an operator over one.
    """
    if isinstance(expr, Var):
        return by.get(expr.name, expr)
    new = map_children(expr, lambda c: substitute(c, by))
    if new is not expr and isinstance(new, Unary) and isinstance(new.operand, Const):  # a `-` over one is folded already
        return Const(SCALAR["not"](new.operand.value), pos=new.pos)
    return new
