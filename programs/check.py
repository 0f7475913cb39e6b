"""Static rules of the language: program shape, definite assignment, sequence vs scalar inputs.

Every program is one of three kinds, read off its body:

- ``function``: assignments, then ``return`` (one value or a tuple);
- ``fold``: assignments, one ``for`` loop without ``yield``, assignments, then ``return``;
- ``scan``: assignments, then one ``for`` loop whose body has exactly one ``yield``.

A name must be assigned on every path before it is read (a loop may run zero times, so names first
assigned inside a loop are not readable after it); inputs iterated by the loop are sequences and
may appear nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ast import RESERVED, Assign, Expr, For, Return, Stmt, Tuple, Var, Yield, reads, variables, walk
from .errors import ProgramError


@dataclass(frozen=True)
class Shape:
    kind: str  # "function" | "fold" | "scan"
    sequences: tuple[str, ...]  # params iterated by the loop, in parameter order
    scalars: tuple[str, ...]  # the other params, in parameter order
    arity: int  # number of outputs (1, or the tuple's length)
    loop: For | None
    before: tuple[Assign, ...]  # assignments before the loop (all of them, for a function)
    after: tuple[Assign, ...]  # assignments after the loop (fold only)
    result: Expr | None  # the returned expression (function and fold)
    carried: tuple[str, ...]  # names the loop changes whose values flow to the next iteration or out of the loop
    live: tuple[str, ...]  # every name whose value at the loop head matters: carried state and loop constants
    unused: tuple[str, ...]  # parameters the program never reads


_DEFAULT_POS: list[tuple[int, int]] = [(0, 0)]


def _where(node) -> tuple[int, int]:
    return getattr(node, "pos", None) or _DEFAULT_POS[-1]


def _fail(node, message: str):
    raise ProgramError(*_where(node), message)


def _check_name(name: str, node, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        _fail(node, f"{what} {name!r} is not a valid name")
    if name in RESERVED:
        _fail(node, f"{what} {name!r} is a reserved word of the language; choose another name")


def _check_value(value: Expr, node, allow_tuple: bool) -> int:
    """Arity of a statement's value; tuples only at the top and never nested."""
    items = value.items if isinstance(value, Tuple) else (value,)
    if isinstance(value, Tuple) and not allow_tuple:
        _fail(value, "a tuple is not allowed here")
    for item in items:
        for sub in walk(item):
            if isinstance(sub, Tuple):
                _fail(sub, "tuples may only stand at the top of return, yield or a parallel assignment")
    return len(items)


def _reads(value: Expr, defined: set[str], sequences: set[str], node) -> None:
    for sub in walk(value):
        if isinstance(sub, Var):
            if sub.name in sequences:
                _fail(sub, f"{sub.name!r} is a sequence (it is iterated by the loop) and can only be read by 'for'")
            if sub.name not in defined:
                _fail(sub, f"name {sub.name!r} may be read before it is assigned; assign it before (and outside) any loop that reads it")


def analyse(name: str, params: tuple[str, ...], body: tuple[Stmt, ...], pos: tuple[int, int] | None = None) -> Shape:
    """Check the rules; errors without a node of their own point at ``pos`` (the ``def``)."""
    _DEFAULT_POS.append(pos or (0, 0))
    try:
        return _analyse(name, params, body)
    finally:
        _DEFAULT_POS.pop()


def _analyse(name: str, params: tuple[str, ...], body: tuple[Stmt, ...]) -> Shape:
    _check_name(name, None, "program name")
    if len(set(params)) != len(params):
        _fail(None, f"duplicate parameter names in {params}")
    for p in params:
        _check_name(p, None, "parameter")
    if not body:
        _fail(None, "a program needs a body")

    loops = [s for s in body if isinstance(s, For)]
    if len(loops) > 1:
        _fail(loops[1], "a program may have at most one loop")
    loop = loops[0] if loops else None
    sequences = set(loop.iters) if loop else set()
    for it in sequences:
        if it not in params:
            _fail(loop, f"the loop iterates over {it!r}, which is not a parameter; loops run over input sequences")
    if loop and len(set(loop.iters)) != len(loop.iters):
        _fail(loop, "zip() over the same sequence twice")

    defined = {p for p in params if p not in sequences}
    assigned_anywhere: set[str] = set()
    before: list[Assign] = []
    after: list[Assign] = []
    result = None
    arity = None
    seen_loop = False
    for i, stmt in enumerate(body):
        if isinstance(stmt, Assign):
            _assign(stmt, defined, sequences, assigned_anywhere)
            (after if seen_loop else before).append(stmt)
        elif isinstance(stmt, For):
            seen_loop = True
            arity = _loop(stmt, defined, sequences, assigned_anywhere, params)
            if arity is not None and i != len(body) - 1:
                _fail(body[i + 1], "nothing may follow the loop of a scan (a loop with yield)")
        elif isinstance(stmt, Return):
            if i != len(body) - 1:
                _fail(body[i + 1], "unreachable code after return")
            if loop is not None and arity is not None:
                _fail(stmt, "a scan (a loop with yield) cannot also return a value")
            _reads(stmt.value, defined, sequences, stmt)
            arity = _check_value(stmt.value, stmt, allow_tuple=True)
            result = stmt.value
        elif isinstance(stmt, Yield):
            _fail(stmt, "yield is only allowed inside the loop")
        else:
            _fail(stmt, f"not a statement: {stmt!r}")

    last = body[-1]
    if loop is None:
        if not isinstance(last, Return):
            _fail(last, "a function must end with return")
        kind = "function"
    elif any(isinstance(s, Yield) for s in loop.body):
        kind = "scan"
    else:
        if not isinstance(last, Return):
            _fail(last, "a loop without yield must be followed by return (a fold)")
        kind = "fold"

    carried: tuple[str, ...] = ()
    live: tuple[str, ...] = ()
    if loop is not None:
        live = _live_at_head(loop, after, result)
        assigned_in_loop = {t for s in loop.body if isinstance(s, Assign) for t in s.targets}
        carried = tuple(n for n in live if n in assigned_in_loop)
    read = set().union(*(variables(stmt) for stmt in body))
    unused = tuple(p for p in params if p not in read and p not in sequences)
    return Shape(
        kind=kind,
        sequences=tuple(p for p in params if p in sequences),
        scalars=tuple(p for p in params if p not in sequences),
        arity=arity,
        loop=loop,
        before=tuple(before),
        after=tuple(after),
        result=result,
        carried=carried,
        live=live,
        unused=unused,
    )


def _assign(stmt: Assign, defined: set[str], sequences: set[str], assigned_anywhere: set[str]) -> None:
    if not stmt.targets:
        _fail(stmt, "assignment without a target")
    if len(set(stmt.targets)) != len(stmt.targets):
        _fail(stmt, f"the same name twice on the left of one assignment: {stmt.targets}")
    for t in stmt.targets:
        _check_name(t, stmt, "variable")
        if t in sequences:
            _fail(stmt, f"cannot assign to {t!r}: it is a sequence input")
    n = _check_value(stmt.value, stmt, allow_tuple=len(stmt.targets) > 1)
    if n != len(stmt.targets):
        _fail(stmt, f"{len(stmt.targets)} name(s) on the left but {n} value(s) on the right")
    _reads(stmt.value, defined, sequences, stmt)
    defined.update(stmt.targets)
    assigned_anywhere.update(stmt.targets)


def _loop(loop: For, defined: set[str], sequences: set[str], assigned_anywhere: set[str], params) -> int | None:
    if len(loop.targets) != len(loop.iters):
        _fail(loop, f"{len(loop.targets)} loop variable(s) for {len(loop.iters)} sequence(s)")
    if len(set(loop.targets)) != len(loop.targets):
        _fail(loop, "the same loop variable twice")
    for t in loop.targets:
        _check_name(t, loop, "loop variable")
        if t in params or t in assigned_anywhere:
            _fail(loop, f"loop variable {t!r} must be a fresh name")
    inner = set(defined) | set(loop.targets)
    yields = 0
    arity = None
    for stmt in loop.body:
        if isinstance(stmt, Assign):
            for t in stmt.targets:
                if t in loop.targets:
                    _fail(stmt, f"cannot assign to the loop variable {t!r}")
            _assign(stmt, inner, sequences, assigned_anywhere)
        elif isinstance(stmt, Yield):
            yields += 1
            if yields > 1:
                _fail(stmt, "a loop may yield once per step")
            _reads(stmt.value, inner, sequences, stmt)
            arity = _check_value(stmt.value, stmt, allow_tuple=True)
        elif isinstance(stmt, For):
            _fail(stmt, "loops cannot be nested")
        elif isinstance(stmt, Return):
            _fail(stmt, "return is not allowed inside the loop")
        else:
            _fail(stmt, f"not a statement: {stmt!r}")
    if not loop.body:
        _fail(loop, "a loop needs a body")
    return arity


def _live_at_head(loop: For, after: list[Assign], result: Expr | None) -> tuple[str, ...]:
    """Names whose value at the loop head is read later: before being written in the body, or after the loop."""
    live: list[str] = []

    def note(name: str) -> None:
        if name not in live and name not in loop.targets:
            live.append(name)

    written: set[str] = set()
    for stmt in loop.body:
        for name in reads(stmt.value):
            if name not in written:
                note(name)
        if isinstance(stmt, Assign):
            written.update(stmt.targets)
    # Backward liveness over the statements after the loop, from the returned value.
    tail: set[str] = variables(result) if result is not None else set()
    for stmt in reversed(after):
        tail -= set(stmt.targets)
        tail |= variables(stmt.value)
    for name in sorted(tail):
        note(name)
    return tuple(live)
