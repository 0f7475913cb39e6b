"""Programs as z3 terms: one term per output, for proving properties and equivalences with a solver.

:func:`to_z3` translates a :class:`~programs.program.Program` over z3 inputs, following the
semantics of :mod:`programs.semantics` operator by operator (the two tables ``BV_OPS`` and
``INT_OPS`` are keyed by the same strings as ``semantics.SCALAR``). A loop is unrolled once per
element of the (equal-length) input sequences. Two modes:

- ``mode="bv"``: 64-bit bit-vectors read as signed two's complement. Exact for every input:
  ``+ - * << -x abs`` wrap, ``x // 0 == 0``, ``x % 0 == x``, ``//`` and ``%`` floor as in Python,
  shift counts are clipped to ``[0, 63]``.
- ``mode="int"``: unbounded z3 ``Int``s, which solvers often handle better for arithmetic.
  ``+ - * -x abs`` (and ``INT64_MIN // -1``) do **not** wrap, so a term is exact only while no
  value leaves the int64 range; ``//`` and ``%`` floor as in Python (with the same rules for a
  zero divisor); bitwise operators and shifts go through ``Int2BV(x, 64)`` and back (signed), so
  they are exact for int64 operands (and ``<<`` wraps there, as in "bv" mode).

:func:`evaluate_z3` runs the translation on concrete inputs (substitute, simplify) and returns the
same shape as :func:`programs.interpreter.run`; it exists to test the translation against the
interpreter. :func:`z3_value` reads a z3 numeral as a Python int.
"""
from __future__ import annotations

from functools import reduce
from typing import Callable, Mapping, Sequence

import z3

from .ast import Assign, Binary, Call, Const, Expr, IfExp, Tuple, Unary, Var, Yield
from .errors import InputError
from .program import Program
from .semantics import BITS, INT64_MAX, INT64_MIN

MODES = ("bv", "int")


# --- the two kinds of numbers ---------------------------------------------------------------------


def _const(value: int, mode: str) -> z3.ExprRef:
    return z3.BitVecVal(value, BITS) if mode == "bv" else z3.IntVal(value)


def _bool(cond: z3.BoolRef, mode: str) -> z3.ExprRef:
    """A z3 condition as the language's 0 / 1."""
    return z3.If(cond, _const(1, mode), _const(0, mode))


def _to_bv(x: z3.ExprRef) -> z3.BitVecRef:
    """An Int as its 64-bit two's-complement bit pattern (exact within int64)."""
    return z3.Int2BV(x, BITS)


def _from_bv(x: z3.BitVecRef) -> z3.ArithRef:
    return z3.BV2Int(x, is_signed=True)


# --- operator families ---------------------------------------------------------------------------
# Each table entry takes and returns terms of the mode's sort; z3 booleans never leak out.


def _clip_shift(n, mode: str):
    """Shift count clipped to [0, 63], as a term of the mode's sort."""
    lo, hi = _const(0, mode), _const(BITS - 1, mode)
    return z3.If(n < lo, lo, z3.If(n > hi, hi, n))


# bit-vector arithmetic


def _bv_floordiv(a, b):
    """Python's ``a // b`` (0 for ``b == 0``): truncating division, one less when the remainder is
    non-zero and its sign differs from the divisor's. ``INT64_MIN // -1`` wraps to ``INT64_MIN``."""
    zero = z3.BitVecVal(0, BITS)
    q = a / b  # bvsdiv: truncates toward zero
    r = z3.SRem(a, b)  # sign of the dividend
    adjust = z3.And(r != zero, (r < zero) != (b < zero))
    return z3.If(b == zero, zero, z3.If(adjust, q - 1, q))


def _bv_mod(a, b):
    """Python's ``a % b`` (``a`` for ``b == 0``). z3's ``%`` on bit-vectors is ``bvsmod`` (signed
    modulo, taking the divisor's sign, as Python does; ``z3.SRem`` would take the dividend's)."""
    return z3.If(b == z3.BitVecVal(0, BITS), a, a % b)


def _bv_shl(a, b):
    return a << _clip_shift(b, "bv")


def _bv_shr(a, b):
    return a >> _clip_shift(b, "bv")  # z3's >> on bit-vectors is arithmetic (sign-filling)


def _bv_abs(a):
    return z3.If(a < z3.BitVecVal(0, BITS), -a, a)  # abs(INT64_MIN) wraps to INT64_MIN


# integer arithmetic


def _int_floordiv(a, b):
    """Python's ``a // b`` from z3's Euclidean division: for ``b < 0``, ``a // b == (-a) // (-b)``."""
    zero = z3.IntVal(0)
    return z3.If(b == zero, zero, z3.If(b > zero, a / b, (-a) / (-b)))


def _int_mod(a, b):
    """Python's ``a % b``: for ``b < 0``, ``a % b == -((-a) % (-b))``; z3's ``%`` is Euclidean."""
    zero = z3.IntVal(0)
    return z3.If(b == zero, a, z3.If(b > zero, a % b, -((-a) % (-b))))


def _int_bitwise(f: Callable) -> Callable:
    """A bit-vector operator lifted to Ints via their 64-bit patterns."""
    return lambda a, b: _from_bv(f(_to_bv(a), _to_bv(b)))


def _int_shl(a, b):
    return _from_bv(_to_bv(a) << _to_bv(_clip_shift(b, "int")))


def _int_shr(a, b):
    return _from_bv(_to_bv(a) >> _to_bv(_clip_shift(b, "int")))


def _int_abs(a):
    return z3.If(a < z3.IntVal(0), -a, a)


# operators whose meaning is the same in both modes (given the mode's 0 and 1)


def _logic_ops(mode: str) -> dict[str, Callable]:
    zero = _const(0, mode)
    return {
        "<": lambda a, b: _bool(a < b, mode),  # signed for bit-vectors
        "<=": lambda a, b: _bool(a <= b, mode),
        ">": lambda a, b: _bool(a > b, mode),
        ">=": lambda a, b: _bool(a >= b, mode),
        "==": lambda a, b: _bool(a == b, mode),
        "!=": lambda a, b: _bool(a != b, mode),
        "and": lambda a, b: z3.If(a != zero, b, zero),
        "or": lambda a, b: z3.If(a != zero, a, b),
        "not": lambda a: _bool(a == zero, mode),
        "min": lambda *xs: reduce(lambda x, y: z3.If(y < x, y, x), xs),
        "max": lambda *xs: reduce(lambda x, y: z3.If(y > x, y, x), xs),
        "if": lambda c, x, y: z3.If(c != zero, x, y),
    }


BV_OPS: dict[str, Callable] = {
    "+": lambda a, b: a + b,  # bit-vector arithmetic wraps modulo 2**64
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": _bv_floordiv,
    "%": _bv_mod,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<<": _bv_shl,
    ">>": _bv_shr,
    "neg": lambda a: -a,
    "abs": _bv_abs,
    **_logic_ops("bv"),
}

INT_OPS: dict[str, Callable] = {
    "+": lambda a, b: a + b,  # no wrap-around: exact only inside the int64 range
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": _int_floordiv,
    "%": _int_mod,
    "&": _int_bitwise(lambda a, b: a & b),
    "|": _int_bitwise(lambda a, b: a | b),
    "^": _int_bitwise(lambda a, b: a ^ b),
    "<<": _int_shl,
    ">>": _int_shr,
    "neg": lambda a: -a,
    "abs": _int_abs,
    **_logic_ops("int"),
}

_TABLES = {"bv": BV_OPS, "int": INT_OPS}


# --- expressions and statements ------------------------------------------------------------------


def _expr(e: Expr, env: Mapping[str, z3.ExprRef], mode: str):
    """The term for ``e`` (a tuple of terms for a ``Tuple``)."""
    ops = _TABLES[mode]
    if isinstance(e, Const):
        return _const(e.value, mode)
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Unary):
        return ops["neg" if e.op == "-" else "not"](_expr(e.operand, env, mode))
    if isinstance(e, Binary):
        return ops[e.op](_expr(e.left, env, mode), _expr(e.right, env, mode))
    if isinstance(e, Call):
        return ops[e.func](*(_expr(a, env, mode) for a in e.args))
    if isinstance(e, IfExp):
        return ops["if"](*(_expr(n, env, mode) for n in (e.cond, e.then, e.orelse)))
    if isinstance(e, Tuple):
        return tuple(_expr(i, env, mode) for i in e.items)
    raise TypeError(f"not an expression: {e!r}")


def _assign(stmt: Assign, env: dict, mode: str) -> None:
    value = _expr(stmt.value, env, mode)  # the whole right side first: a, b = b, a
    if len(stmt.targets) == 1:
        env[stmt.targets[0]] = value
    else:
        env.update(zip(stmt.targets, value))


def _items(value) -> list:
    return list(value) if isinstance(value, tuple) else [value]


# --- inputs ---------------------------------------------------------------------------------------


def _concrete(name: str, v, mode: str) -> z3.ExprRef:
    """A numeral for a concrete input, refused (as the interpreter does) outside int64."""
    v = int(v)
    if not INT64_MIN <= v <= INT64_MAX:
        raise InputError(f"input {name!r}: {v} does not fit in 64 bits")
    return _const(v, mode)


def _input_term(name: str, v, mode: str) -> z3.ExprRef:
    if isinstance(v, int):  # plain ints are accepted for convenience
        return _concrete(name, v, mode)
    if mode == "bv":
        if not (z3.is_bv(v) and v.size() == BITS):
            raise InputError(f"input {name!r}: expected a 64-bit z3 BitVec term in 'bv' mode, got {v!r}")
    elif not (z3.is_arith(v) and v.is_int()):
        raise InputError(f"input {name!r}: expected a z3 Int term in 'int' mode, got {v!r}")
    return v


def _check_inputs(program: Program, inputs: Mapping) -> None:
    missing = [p for p in program.params if p not in inputs and p not in program.shape.unused]
    extra = [k for k in inputs if k not in program.params]
    if missing or extra:
        raise InputError(f"inputs do not match the parameters {list(program.params)} of {program.name}: "
                         f"missing {missing}, unexpected {extra}")


# --- programs -------------------------------------------------------------------------------------


def to_z3(program: Program, inputs: Mapping[str, object], *, mode: str = "bv") -> list[z3.ExprRef]:
    """The program's outputs as z3 terms over ``inputs``.

    ``inputs`` maps each scalar parameter to a term (64-bit ``BitVec`` in "bv" mode, ``Int`` in
    "int" mode; a Python int is also accepted) and each sequence parameter to a list of such terms,
    all sequences of one length L (the loop is unrolled L times). Returns ``arity`` terms for a
    function or fold, and ``L * arity`` terms for a scan, step-major (step 0's items, step 1's, ...).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    _check_inputs(program, inputs)
    shape = program.shape
    # Parameters the program never reads may be left out (or be anything).
    env: dict[str, z3.ExprRef] = {
        n: _input_term(n, inputs[n], mode) for n in program.scalars if n not in program.shape.unused
    }
    seqs = {}
    for n in program.sequences:
        if isinstance(inputs[n], (str, bytes)) or not isinstance(inputs[n], Sequence):
            raise InputError(f"sequence input {n!r} must be a list of terms, got {inputs[n]!r}")
        seqs[n] = [_input_term(n, v, mode) for v in inputs[n]]
    lengths = {len(s) for s in seqs.values()}
    if len(lengths) > 1:
        raise InputError(f"sequences {program.sequences} have different lengths {sorted(lengths)}; zip needs equal lengths")

    for stmt in shape.before:
        _assign(stmt, env, mode)
    if shape.loop is None:  # a function
        return _items(_expr(shape.result, env, mode))

    outputs: list[z3.ExprRef] = []
    loop = shape.loop
    for symbols in zip(*(seqs[n] for n in loop.iters)):
        env.update(zip(loop.targets, symbols))
        for stmt in loop.body:
            if isinstance(stmt, Assign):
                _assign(stmt, env, mode)
            elif isinstance(stmt, Yield):
                outputs.extend(_items(_expr(stmt.value, env, mode)))
    if program.kind == "scan":
        return outputs
    for stmt in shape.after:
        _assign(stmt, env, mode)
    return _items(_expr(shape.result, env, mode))


def z3_value(term: z3.ExprRef) -> int:
    """A z3 numeral as a Python int: bit-vectors read as signed 64-bit, Ints as they are."""
    if z3.is_bv_value(term):
        return term.as_signed_long()
    if z3.is_int_value(term):
        return term.as_long()
    raise ValueError(f"not a z3 integer numeral: {term!r}")


def evaluate_z3(program: Program, inputs: Mapping[str, object], *, mode: str = "bv"):
    """Translate with symbolic inputs, substitute the concrete ``inputs`` (ints, lists of ints for
    sequences) and simplify. Returns what :func:`programs.interpreter.run` returns: an int or a
    tuple for a function or fold, a list with one int or tuple per step for a scan."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    _check_inputs(program, inputs)
    sym = (lambda n: z3.BitVec(n, BITS)) if mode == "bv" else z3.Int
    symbols: dict[str, object] = {}
    pairs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
    for n in program.params:
        if n in program.shape.unused:
            continue
        if n in program.sequences:
            values = list(inputs[n])
            terms = [sym(f"{n}__{i}") for i in range(len(values))]
            symbols[n] = terms
            pairs.extend((t, _concrete(n, v, mode)) for t, v in zip(terms, values))
        else:
            symbols[n] = sym(n)
            pairs.append((symbols[n], _concrete(n, inputs[n], mode)))
    terms = to_z3(program, symbols, mode=mode)
    values = [z3_value(z3.simplify(z3.substitute(t, *pairs) if pairs else t)) for t in terms]
    k = program.arity
    grouped = [values[i] if k == 1 else tuple(values[i : i + k]) for i in range(0, len(values), k)]
    if program.kind == "scan":
        return grouped
    return grouped[0]
