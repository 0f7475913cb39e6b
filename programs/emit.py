"""``Program`` → standalone, readable Python source (text only; nothing here runs it).

The emitted module defines one function with the program's name and parameters (sequence
parameters are lists): a function or fold ``return``\\ s its value, a scan is a generator that
``yield``\\ s one value per step. Where Python's operators differ from :mod:`programs.semantics`,
small helpers are emitted at the top, only those the program needs:

- ``x // y`` and ``x % y`` by anything but a non-zero constant go through ``_floordiv`` / ``_mod``
  (``x // 0 == 0``, ``x % 0 == x``);
- shifts by anything but a constant go through ``_shl`` / ``_shr`` (counts clipped to [0, 63]);
  constant counts are clipped in the text;
- comparisons and ``not`` give Python bools, so they are written ``int(...)`` wherever the value is
  kept or computed with; where only its truth is tested (``if`` conditions, ``not``, both sides of
  ``and``/``or`` in such a place) they stay bare.
- ``a and b`` / ``a or b`` are Python's own: on ints they return exactly what the semantics say
  (``a and b`` is ``b`` when ``a`` is non-zero and ``a``, i.e. 0, otherwise).

Without ``exact``, arithmetic is Python's unbounded one: the function agrees with
``programs.interpreter.run`` whenever no value leaves the 64-bit range. With ``exact=True`` the
results of ``+ - * << unary- abs`` (and ``x // -1``) are wrapped into int64 by ``_wrap``, so the
function agrees with ``run`` on every int64 input. Wrapping is done where a value is observed
(kept, compared, divided, tested...): ``+ - * & | ^ unary-`` and the left side of ``<<`` only
depend on the low 64 bits of their operands, so chains of them are wrapped once.
"""
from __future__ import annotations

from .ast import (
    COMPARE_OPS,
    Assign,
    Binary,
    Call,
    Const,
    Expr,
    For,
    IfExp,
    Return,
    Tuple,
    Unary,
    Var,
    Yield,
    variables,
    walk,
)

# Python binding strength (higher binds tighter), as in programs.printer.
_LEVEL = {"or": 2, "and": 3, "|": 6, "^": 7, "&": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "//": 11, "%": 11}
_LEVEL.update({op: 5 for op in COMPARE_OPS})
_IFEXP, _NOT, _COMPARE, _UNARY, _ATOM = 1, 4, 5, 12, 13

_RING = ("+", "-", "*", "&", "|", "^")  # low 64 bits of the result depend only on those of the operands

_HELPERS = {
    "wrap": (
        "def {wrap}(v):\n"
        '    """The int64 value congruent to v modulo 2**64."""\n'
        "    return (v + 0x8000000000000000) % 0x10000000000000000 - 0x8000000000000000\n"
    ),
    "floordiv": (
        "def {floordiv}(a, b):\n"
        '    """a // b, and 0 when b == 0."""\n'
        "    return {wrap_open}a // b{wrap_close} if b != 0 else 0\n"
    ),
    "mod": (
        "def {mod}(a, b):\n"
        '    """a % b, and a when b == 0."""\n'
        "    return a % b if b != 0 else a\n"
    ),
    "shl": (
        "def {shl}(a, n):\n"
        '    """a << n with n clipped to [0, 63]."""\n'
        "    return {wrap_open}a << min(max(n, 0), 63){wrap_close}\n"
    ),
    "shr": (
        "def {shr}(a, n):\n"
        '    """a >> n with n clipped to [0, 63]."""\n'
        "    return a >> min(max(n, 0), 63)\n"
    ),
}
_ORDER = ("wrap", "floordiv", "mod", "shl", "shr")
_BASE_NAMES = {"wrap": "_wrap", "floordiv": "_floordiv", "mod": "_mod", "shl": "_shl", "shr": "_shr", "int": "int"}


class _Emitter:
    def __init__(self, program, exact: bool):
        self.exact = exact
        taken = {program.name, *program.params}
        for stmt in program.body:
            taken |= variables(stmt)
            for node in walk(stmt):
                if isinstance(node, (Assign, For)):
                    taken.update(node.targets)
        self.names: dict[str, str] = {}
        for key, base in _BASE_NAMES.items():
            name = base if key != "int" else "int"
            if key == "int" and name in taken:
                name = "_int"
            while name in taken or name in self.names.values():
                name += "_"
            self.names[key] = name
        self.used: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def helper(self, key: str) -> str:
        self.used.add(key)
        if key in ("floordiv", "shl") and self.exact:
            self.used.add("wrap")
        return self.names[key]

    def wrap(self, text: str) -> str:
        return f"{self.helper('wrap')}({text})"

    def to_int(self, text: str) -> str:
        if self.names["int"] != "int":
            self.used.add("int")
        return f"{self.names['int']}({text})"

    def prelude(self) -> str:
        parts = []
        if "int" in self.used:
            parts.append(f"{self.names['int']} = int\n")
        for key in _ORDER:
            if key in self.used:
                w = self.names["wrap"]
                wrap_open, wrap_close = (f"{w}(", ")") if self.exact else ("", "")
                parts.append(_HELPERS[key].format(wrap_open=wrap_open, wrap_close=wrap_close, **self.names))
        return "\n\n".join(parts)

    # -- expressions -----------------------------------------------------------------------------

    def expr(self, e: Expr, truth: bool = False, exact_needed: bool = True) -> tuple[str, int]:
        """Source text and binding level of ``e``.

        ``truth``: only whether the value is zero matters (a bool may be left as is); otherwise the
        text evaluates to an int. ``exact_needed``: in exact mode, the value must be in int64 (if
        False, any value congruent to it modulo 2**64 will do).
        """
        text, level, in_range = self.expr3(e, truth, exact_needed)
        return text, level

    def expr3(self, e: Expr, truth: bool = False, exact_needed: bool = True) -> tuple[str, int, bool]:
        """``expr`` and whether the value is known to lie in int64."""
        text, level, in_range = self._expr(e, truth)
        if self.exact and not in_range and (exact_needed or truth):
            return self.wrap(text), _ATOM, True
        return text, level, in_range

    def sub(self, e: Expr, at_least: int, truth: bool = False, exact_needed: bool = True) -> str:
        return self.sub3(e, at_least, truth, exact_needed)[0]

    def sub3(self, e: Expr, at_least: int, truth: bool = False, exact_needed: bool = True) -> tuple[str, bool]:
        text, level, in_range = self.expr3(e, truth, exact_needed)
        return (f"({text})" if level < at_least else text), in_range

    def _expr(self, e: Expr, truth: bool) -> tuple[str, int, bool]:
        """(text, level, value known to be in int64)."""
        if isinstance(e, Const):
            return str(e.value), (_UNARY if e.value < 0 else _ATOM), True
        if isinstance(e, Var):
            return e.name, _ATOM, True
        if isinstance(e, Unary):
            if e.op == "-":
                return f"-{self.sub(e.operand, _UNARY, exact_needed=False)}", _UNARY, False
            text = f"not {self.sub(e.operand, _NOT, truth=True)}"
            return (text, _NOT, True) if truth else (self.to_int(text), _ATOM, True)
        if isinstance(e, Binary):
            return self._binary(e, truth)
        if isinstance(e, Call):
            if e.func == "abs":
                (x,) = e.args
                text = f"abs({self.expr(x)[0]})"
                return text, _ATOM, False  # abs(-2**63) == 2**63 needs wrapping
            args = ", ".join(self.expr(a)[0] for a in e.args)
            return f"{e.func}({args})", _ATOM, True
        if isinstance(e, IfExp):
            then = self.sub(e.then, _IFEXP + 1, truth)
            cond = self.sub(e.cond, _IFEXP + 1, truth=True)
            orelse = self.sub(e.orelse, _IFEXP, truth)
            return f"{then} if {cond} else {orelse}", _IFEXP, True
        if isinstance(e, Tuple):
            return ", ".join(self.expr(i)[0] for i in e.items), 0, True
        raise TypeError(f"not an expression: {e!r}")

    def _binary(self, e: Binary, truth: bool) -> tuple[str, int, bool]:
        op, x, y = e.op, e.left, e.right
        lv = _LEVEL[op]
        if op in ("and", "or"):
            # Python's and/or return an operand; on ints that is exactly the semantics.
            left = self.sub(x, lv, truth)
            right = self.sub(y, lv + 1, truth)
            return f"{left} {op} {right}", lv, True
        if op in COMPARE_OPS:
            text = f"{self.sub(x, lv + 1)} {op} {self.sub(y, lv + 1)}"
            return (text, lv, True) if truth else (self.to_int(text), _ATOM, True)
        if op in _RING:
            left, left_ok = self.sub3(x, lv, exact_needed=False)
            right, right_ok = self.sub3(y, lv + 1, exact_needed=False)
            # & | ^ of two int64 values is an int64 value; + - * may leave the range
            return f"{left} {op} {right}", lv, op in ("&", "|", "^") and left_ok and right_ok
        if op in ("<<", ">>"):
            if isinstance(y, Const):
                n = min(max(y.value, 0), 63)
                left = self.sub(x, lv, exact_needed=(op == ">>"))
                return f"{left} {op} {n}", lv, op == ">>"
            name = self.helper("shl" if op == "<<" else "shr")
            left = self.expr(x, exact_needed=(op == ">>"))[0]
            return f"{name}({left}, {self.expr(y)[0]})", _ATOM, True
        if op in ("//", "%"):
            if isinstance(y, Const) and y.value != 0:
                text = f"{self.sub(x, lv)} {op} {self.sub(y, lv + 1)}"
                return text, lv, not (op == "//" and y.value == -1)  # x // -1 == -x can leave the range
            name = self.helper("floordiv" if op == "//" else "mod")
            return f"{name}({self.expr(x)[0]}, {self.expr(y)[0]})", _ATOM, True
        raise TypeError(f"unknown operator {op!r}")

    # -- statements ------------------------------------------------------------------------------

    def stmt_lines(self, stmt, indent: str) -> list[str]:
        if isinstance(stmt, Assign):
            return [f"{indent}{', '.join(stmt.targets)} = {self.expr(stmt.value)[0]}"]
        if isinstance(stmt, Return):
            return [f"{indent}return {self.expr(stmt.value)[0]}"]
        if isinstance(stmt, Yield):
            return [f"{indent}yield {self.expr(stmt.value)[0]}"]
        if isinstance(stmt, For):
            it = stmt.iters[0] if len(stmt.iters) == 1 else f"zip({', '.join(stmt.iters)})"
            lines = [f"{indent}for {', '.join(stmt.targets)} in {it}:"]
            for s in stmt.body:
                lines.extend(self.stmt_lines(s, indent + "    "))
            return lines
        raise TypeError(f"not a statement: {stmt!r}")


def to_python(program, *, exact: bool = False) -> str:
    """Standalone Python source defining ``program`` as a Python function (see the module doc)."""
    em = _Emitter(program, exact)
    lines = [f"def {program.name}({', '.join(program.params)}):"]
    for stmt in program.body:
        lines.extend(em.stmt_lines(stmt, "    "))
    function = "\n".join(lines) + "\n"
    prelude = em.prelude()
    return f"{prelude}\n\n{function}" if prelude else function
