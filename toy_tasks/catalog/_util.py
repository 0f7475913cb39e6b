"""Small helpers shared by the built-in factories: parameter checks and program-text builders."""
from __future__ import annotations

from ..task import TaskError


def at_least(task: str, name: str, value: int, low: int, high: int | None = None) -> int:
    """``value`` if ``low <= value <= high``; a TaskError saying what to pass otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"at least {low}" if high is None else f"between {low} and {high}"
        raise TaskError(f"task {task!r}: parameter {name} must be an integer {span}, got {value!r}")
    return value


def join(op: str, terms: list[str]) -> str:
    """``a op b op c`` (left-associated, as Python reads it)."""
    return f" {op} ".join(terms)


def value_of(bits: list[str]) -> str:
    """The unsigned number whose bits (least significant first) are ``bits``: a0 + 2 * a1 + ..."""
    return join("+", [b if i == 0 else f"{1 << i} * {b}" for i, b in enumerate(bits)])


def program(name: str, params: list[str], body: list[str]) -> str:
    return f"def {name}({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body)
