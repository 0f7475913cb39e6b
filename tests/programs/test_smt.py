"""The z3 translation (programs.smt) agrees with the scalar interpreter, operator by operator and
program by program; "bv" mode always, "int" mode whenever no value leaves the int64 range."""
from __future__ import annotations

import itertools

import pytest
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from programs import InputError, parse
from programs.ast import BINARY_OPS, Binary, Call, Const, IfExp, Return, Unary, Var
from programs.interpreter import Machine, run
from programs.program import Program
from programs.semantics import INT64_MAX, INT64_MIN, SCALAR, wrap
from programs.smt import BV_OPS, INT_OPS, evaluate_z3, to_z3, z3_value

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CORNERS = [INT64_MIN, INT64_MIN + 1, -64, -13, -2, -1, 0, 1, 2, 3, 63, 64, 99, INT64_MAX]
int64 = st.integers(INT64_MIN, INT64_MAX)
interesting = st.one_of(int64, st.sampled_from(CORNERS), st.integers(-70, 70))
small = st.integers(-1000, 1000)


# --- an oracle for "no value leaves int64": the scalar semantics without wrap-around ----------------


class _Overflow(Exception):
    pass


def _exact(f):
    def g(*args):
        v = f(*args)
        if not INT64_MIN <= v <= INT64_MAX:
            raise _Overflow
        return v

    return g


_UNWRAPPED = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "//": lambda a, b: 0 if b == 0 else a // b,
    "<<": lambda a, b: a << min(max(b, 0), 63),
    "neg": lambda a: -a,
    "abs": abs,
}
EXACT_OPS = {k: _exact(_UNWRAPPED.get(k, f)) for k, f in SCALAR.items()}


def in_range(program: Program, inputs: dict) -> bool:
    """Whether running ``program`` never computes a value outside int64 (branches of an
    if-expression are both evaluated, so this errs on the side of False)."""
    m = Machine(program, EXACT_OPS)
    try:
        env = m.start({n: inputs[n] for n in program.scalars})
        if program.kind == "function":
            m.finish(env)
            return True
        for symbols in zip(*(inputs[n] for n in m.iters)):
            env, _ = m.step(env, symbols)
        if program.kind == "fold":
            m.finish(env)
        return True
    except _Overflow:
        return False


def check(program: Program, inputs: dict) -> None:
    expected = run(program, inputs)
    assert evaluate_z3(program, inputs, mode="bv") == expected
    if in_range(program, inputs):
        assert evaluate_z3(program, inputs, mode="int") == expected


# --- tables ---------------------------------------------------------------------------------------


def test_tables_cover_exactly_the_semantics():
    assert set(BV_OPS) == set(SCALAR) == set(INT_OPS)


# --- every operator on corner values ---------------------------------------------------------------


def _binary(op: str) -> Program:
    return parse(f"def f(a, b):\n    return a {op} b\n")


@pytest.mark.parametrize("op", BINARY_OPS)
def test_binary_operator_on_corners(op):
    p = _binary(op)
    for a, b in itertools.product(CORNERS, repeat=2):
        check(p, {"a": a, "b": b})


@pytest.mark.parametrize("src", [
    "def f(a):\n    return -a\n",
    "def f(a):\n    return not a\n",
    "def f(a):\n    return abs(a)\n",
    "def f(a):\n    return min(a, 5, -3)\n",
    "def f(a):\n    return max(a, 5, -3)\n",
    "def f(a):\n    return 7 if a else -7\n",
])
def test_unary_forms_on_corners(src):
    p = parse(src)
    for a in CORNERS:
        check(p, {"a": a})


@pytest.mark.parametrize("a, b, expected", [
    (-7, 2, (-4, 1)), (7, -2, (-4, -1)), (-7, -2, (3, -1)), (7, 2, (3, 1)),
    (5, 0, (0, 5)), (-5, 0, (0, -5)), (INT64_MIN, -1, (INT64_MIN, 0)), (INT64_MIN, 3, (INT64_MIN // 3, 1)),
    (INT64_MIN, 0, (0, INT64_MIN)), (INT64_MAX, -1, (-INT64_MAX, 0)),
])
def test_division_corners_explicitly(a, b, expected):
    p = parse("def f(a, b):\n    return a // b, a % b\n")
    assert run(p, {"a": a, "b": b}) == expected
    assert evaluate_z3(p, {"a": a, "b": b}) == expected


@pytest.mark.parametrize("a, b, expected", [
    (1, 63, INT64_MIN), (1, 64, INT64_MIN), (3, 1000, INT64_MIN), (5, -1, 5), (5, INT64_MIN, 5),
    (-1, 99, INT64_MIN),
])
def test_left_shift_clips_and_wraps(a, b, expected):
    p = _binary("<<")
    assert run(p, {"a": a, "b": b}) == evaluate_z3(p, {"a": a, "b": b}) == expected
    assert evaluate_z3(p, {"a": a, "b": b}, mode="int") == expected  # via Int2BV: wraps too


@pytest.mark.parametrize("a, b, expected", [
    (INT64_MIN, 99, -1), (-5, 1, -3), (-1, 63, -1), (INT64_MAX, 63, 0), (40, -3, 40), (40, INT64_MAX, 0),
])
def test_right_shift_is_arithmetic_and_clips(a, b, expected):
    p = _binary(">>")
    assert run(p, {"a": a, "b": b}) == evaluate_z3(p, {"a": a, "b": b}) == expected
    assert evaluate_z3(p, {"a": a, "b": b}, mode="int") == expected


def test_and_or_keep_non_boolean_values():
    p = parse("def f(a, b):\n    return a and b, a or b, not a, (a and b) + (a or b)\n")
    for a, b in [(5, -3), (0, -3), (-4, 0), (0, 0), (INT64_MIN, 7)]:
        expected = (b if a else 0, a if a else b, int(not a), wrap((b if a else 0) + (a if a else b)))
        assert run(p, {"a": a, "b": b}) == expected
        assert evaluate_z3(p, {"a": a, "b": b}) == expected
        assert evaluate_z3(p, {"a": a, "b": b}, mode="int") == expected


# --- whole programs ---------------------------------------------------------------------------------

PROGRAMS = {
    "arith": "def f(a, b, c):\n    return (a + b) * c - a // (b - c) + a % c - -b\n",
    "bits": "def f(a, b):\n    return (a & b) ^ (a | -b), (a << (b & 7)) >> 3, a >> b, a << b\n",
    "compare": "def f(a, b):\n    return (a < b) + (a <= b) * 2 + (a > b) * 4 + (a >= b) * 8 + (a == b) * 16 + (a != b) * 32\n",
    "logic": "def f(a, b, c):\n    return (a and b) or c, not (a or b), a if b and c else -a\n",
    "calls": "def f(a, b, c):\n    return min(a, b, c), max(a, b), abs(a - b), min(abs(c), 3)\n",
    "chain": "def f(a, b):\n    t = a * 3 + b\n    u = t // 7\n    t, u = u, t\n    v = t % (u - 5)\n    return v, t - u\n",
    "big_constants": "def f(a):\n    return a * 6364136223846793005 + 1442695040888963407, a ^ -9223372036854775807 - 1\n",
    "fold_sum": "def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n",
    "fold_minmax": "def f(xs, k):\n    lo, hi = k, k\n    for x in xs:\n        lo, hi = min(lo, x), max(hi, x)\n    d = hi - lo\n    return d, lo % 10, hi // 3\n",
    "fold_zip_dot": "def f(xs, ys):\n    s = 0\n    for x, y in zip(xs, ys):\n        s = s + x * y\n    return s\n",
    "scan_xor": "def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n",
    "scan_fib_swap": "def f(xs):\n    a, b = 0, 1\n    for x in xs:\n        a, b = b, a + b + x\n        yield a, b\n",
    "scan_zip": "def f(xs, ys, k):\n    acc = k\n    for x, y in zip(xs, ys):\n        t = x // y if y else x % 3\n        acc, t = acc - t, acc\n        yield t, acc % 7, acc << (y & 3)\n",
    "scan_running_max": "def f(xs):\n    m = -9223372036854775807 - 1\n    for x in xs:\n        m = max(m, x)\n        yield m\n",
    "scan_flags": "def f(xs):\n    seen = 0\n    for x in xs:\n        seen = seen or (x > 5)\n        yield seen and x\n",
}


def _inputs_strategy(program: Program, values, max_len: int = 5):
    length = st.integers(0, max_len)

    def build(n):
        fields = {}
        for s in program.scalars:
            fields[s] = values
        for s in program.sequences:
            fields[s] = st.lists(values, min_size=n, max_size=n)
        return st.fixed_dictionaries(fields)

    return length.flatmap(build)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_on_corner_inputs(name):
    p = parse(PROGRAMS[name])
    for combo in itertools.islice(itertools.product(CORNERS, repeat=len(p.params)), 0, None, 19):
        inputs = dict(zip(p.params, combo))
        for s in p.sequences:
            inputs[s] = [inputs[s], INT64_MIN, -1, 0, INT64_MAX]
        check(p, inputs)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@given(data=st.data())
@FAST
def test_program_on_random_inputs(name, data):
    p = parse(PROGRAMS[name])
    inputs = data.draw(_inputs_strategy(p, interesting))
    assert evaluate_z3(p, inputs, mode="bv") == run(p, inputs)


@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - {"big_constants"}))
@given(data=st.data())
@FAST
def test_int_mode_agrees_on_small_inputs(name, data):
    p = parse(PROGRAMS[name])
    inputs = data.draw(_inputs_strategy(p, small))
    assume(in_range(p, inputs))
    assert evaluate_z3(p, inputs, mode="int") == run(p, inputs)


def test_int_mode_does_not_wrap():
    p = parse("def f(a):\n    return a + 1, a // -1\n")
    assert evaluate_z3(p, {"a": INT64_MAX}, mode="bv") == (INT64_MIN, -INT64_MAX)
    assert evaluate_z3(p, {"a": INT64_MAX}, mode="int") == (INT64_MAX + 1, -INT64_MAX)
    assert evaluate_z3(parse("def f(a):\n    return a // -1\n"), {"a": INT64_MIN}, mode="int") == 2**63


def test_empty_sequences():
    assert evaluate_z3(parse(PROGRAMS["scan_xor"]), {"xs": []}) == []
    p = parse(PROGRAMS["fold_minmax"])
    assert evaluate_z3(p, {"xs": [], "k": 12}) == run(p, {"xs": [], "k": 12}) == (0, 2, 4)


# --- random expressions -------------------------------------------------------------------------------

_leaves = st.one_of(
    st.sampled_from(["a", "b", "c"]).map(Var),
    st.sampled_from([0, 1, 2, 3, -1, 7, 63, 64, -5]).map(Const),
)


def _neg(e):
    return Const(wrap(-e.value)) if isinstance(e, Const) else Unary("-", e)


def _extend(inner):
    return st.one_of(
        st.builds(Binary, st.sampled_from(BINARY_OPS), inner, inner),
        inner.map(_neg),
        inner.map(lambda e: Unary("not", e)),
        st.builds(lambda f, xs: Call(f, tuple(xs)), st.sampled_from(["min", "max"]), st.lists(inner, min_size=2, max_size=3)),
        inner.map(lambda e: Call("abs", (e,))),
        st.builds(IfExp, inner, inner, inner),
    )


expressions = st.recursive(_leaves, _extend, max_leaves=12)


def _function(expr) -> Program:
    return Program("f", ("a", "b", "c"), (Return(expr),))


@given(expr=expressions, a=interesting, b=interesting, c=interesting)
@MANY
def test_random_expressions_bv(expr, a, b, c):
    p = _function(expr)
    inputs = {"a": a, "b": b, "c": c}
    assert evaluate_z3(p, inputs, mode="bv") == run(p, inputs)


@given(expr=expressions, a=small, b=small, c=small)
@MANY
def test_random_expressions_int(expr, a, b, c):
    p = _function(expr)
    inputs = {"a": a, "b": b, "c": c}
    assume(in_range(p, inputs))
    assert evaluate_z3(p, inputs, mode="int") == run(p, inputs)


# --- symbolic use -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bv", "int"])
def test_proves_commuted_sum_mod_13(mode):
    f = parse("def f(a, b):\n    return (a + b) % 13\n")
    g = parse("def g(a, b):\n    return (b + a) % 13\n")
    make = (lambda n: z3.BitVec(n, 64)) if mode == "bv" else z3.Int
    a, b = make("a"), make("b")
    (lhs,) = to_z3(f, {"a": a, "b": b}, mode=mode)
    (rhs,) = to_z3(g, {"a": a, "b": b}, mode=mode)
    s = z3.Solver()
    s.add(0 <= a, a < 13, 0 <= b, b < 13, lhs != rhs)
    assert s.check() == z3.unsat


def test_finds_the_int64_min_counterexample():
    """abs(a) >= 0 fails only at INT64_MIN, which bv mode knows and int mode does not."""
    p = parse("def f(a):\n    return abs(a) >= 0\n")
    a = z3.BitVec("a", 64)
    s = z3.Solver()
    s.add(to_z3(p, {"a": a})[0] == 0)
    assert s.check() == z3.sat
    assert z3_value(s.model()[a]) == INT64_MIN
    ai = z3.Int("a")
    s = z3.Solver()
    s.add(to_z3(p, {"a": ai}, mode="int")[0] == 0)
    assert s.check() == z3.unsat


def test_scan_outputs_are_step_major():
    p = parse(PROGRAMS["scan_fib_swap"])
    xs = [z3.BitVec(f"x{i}", 64) for i in range(3)]
    terms = to_z3(p, {"xs": xs})
    assert len(terms) == 3 * 2
    got = [z3_value(z3.simplify(z3.substitute(t, *[(x, z3.BitVecVal(v, 64)) for x, v in zip(xs, [5, 6, 7])]))) for t in terms]
    assert got == [v for pair in run(p, {"xs": [5, 6, 7]}) for v in pair]


def test_fold_and_function_give_arity_terms():
    assert len(to_z3(parse(PROGRAMS["fold_minmax"]), {"xs": [z3.BitVec("x", 64)] * 4, "k": z3.BitVec("k", 64)})) == 3
    assert len(to_z3(parse(PROGRAMS["calls"]), {n: z3.Int(n) for n in "abc"}, mode="int")) == 4


def test_z3_value():
    assert z3_value(z3.BitVecVal(-1, 64)) == -1
    assert z3_value(z3.BitVecVal(2**63, 64)) == INT64_MIN
    assert z3_value(z3.IntVal(2**70)) == 2**70
    with pytest.raises(ValueError):
        z3_value(z3.Int("x"))


def test_bad_inputs():
    p = parse(PROGRAMS["fold_zip_dot"])
    x = z3.BitVec("x", 64)
    with pytest.raises(InputError):
        to_z3(p, {"xs": [x]})
    with pytest.raises(InputError):
        to_z3(p, {"xs": [x], "ys": [x, x]})
    with pytest.raises(InputError):
        to_z3(p, {"xs": [z3.Int("i")], "ys": [x]})
    with pytest.raises(InputError):
        to_z3(p, {"xs": [z3.BitVec("h", 32)], "ys": [x]})
    with pytest.raises(InputError):
        evaluate_z3(p, {"xs": [2**63], "ys": [1]})
    with pytest.raises(ValueError):
        to_z3(p, {"xs": [x], "ys": [x]}, mode="real")
