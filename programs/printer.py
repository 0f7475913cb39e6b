"""``Program`` → canonical source text, with the fewest parentheses that keep the same AST."""
from __future__ import annotations

from .ast import Assign, Binary, Call, Const, Expr, For, IfExp, Return, Tuple, Unary, Var, Yield

# Binding strength, Python's own order (higher binds tighter).
_LEVEL = {"or": 2, "and": 3, "|": 6, "^": 7, "&": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "//": 11, "%": 11}
_LEVEL.update({op: 5 for op in ("<", "<=", ">", ">=", "==", "!=")})
_IFEXP, _NOT, _COMPARE, _UNARY, _ATOM = 1, 4, 5, 12, 13


def level(e: Expr) -> int:
    if isinstance(e, IfExp):
        return _IFEXP
    if isinstance(e, Binary):
        return _LEVEL[e.op]
    if isinstance(e, Unary):
        return _NOT if e.op == "not" else _UNARY
    if isinstance(e, Const) and e.value < 0:
        return _UNARY
    return _ATOM


def _wrap(e: Expr, at_least: int) -> str:
    text = expr_source(e)
    return f"({text})" if level(e) < at_least else text


def expr_source(e: Expr) -> str:
    if isinstance(e, Const):
        return str(e.value)
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Unary):
        if e.op == "not":
            return f"not {_wrap(e.operand, _NOT)}"
        return f"-{_wrap(e.operand, _UNARY)}"
    if isinstance(e, Binary):
        lv = _LEVEL[e.op]
        if lv == _COMPARE:  # comparisons do not chain: both sides bind tighter
            return f"{_wrap(e.left, lv + 1)} {e.op} {_wrap(e.right, lv + 1)}"
        return f"{_wrap(e.left, lv)} {e.op} {_wrap(e.right, lv + 1)}"
    if isinstance(e, Call):
        return f"{e.func}({', '.join(expr_source(a) for a in e.args)})"
    if isinstance(e, IfExp):
        return f"{_wrap(e.then, _IFEXP + 1)} if {_wrap(e.cond, _IFEXP + 1)} else {expr_source(e.orelse)}"
    if isinstance(e, Tuple):
        return ", ".join(expr_source(i) for i in e.items)
    raise TypeError(f"not an expression: {e!r}")


def _stmt_lines(stmt, indent: str) -> list[str]:
    if isinstance(stmt, Assign):
        return [f"{indent}{', '.join(stmt.targets)} = {expr_source(stmt.value)}"]
    if isinstance(stmt, Return):
        return [f"{indent}return {expr_source(stmt.value)}"]
    if isinstance(stmt, Yield):
        return [f"{indent}yield {expr_source(stmt.value)}"]
    if isinstance(stmt, For):
        it = stmt.iters[0] if len(stmt.iters) == 1 else f"zip({', '.join(stmt.iters)})"
        lines = [f"{indent}for {', '.join(stmt.targets)} in {it}:"]
        for s in stmt.body:
            lines.extend(_stmt_lines(s, indent + "    "))
        return lines
    raise TypeError(f"not a statement: {stmt!r}")


def to_source(program) -> str:
    lines = [f"def {program.name}({', '.join(program.params)}):"]
    for stmt in program.body:
        lines.extend(_stmt_lines(stmt, "    "))
    return "\n".join(lines) + "\n"
