"""programs.emit: the emitted Python, exec'd here in a fresh namespace, computes what
programs.interpreter.run computes: always with exact=True, and without it whenever no value
leaves the 64-bit range."""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs import Assign, Binary, Call, Const, For, IfExp, Program, Return, Tuple, Unary, Var, Yield, parse
from programs.ast import BINARY_OPS, UNARY_OPS
from programs.emit import to_python
from programs.interpreter import Machine, run
from programs.semantics import INT64_MAX, INT64_MIN, SCALAR, wrap
from programs.simplify import simplify

EXTREMES = [INT64_MIN, INT64_MIN + 1, -(2**62), -64, -63, -2, -1, 0, 1, 2, 63, 64, 2**62, INT64_MAX - 1, INT64_MAX]


def load(program: Program, exact: bool):
    """exec the emitted text in a fresh namespace; return the function."""
    text = to_python(program, exact=exact)
    namespace: dict = {}
    exec(compile(text, f"<emitted {program.name}>", "exec"), namespace)
    return namespace[program.name]


def call(f, program: Program, inputs: dict):
    out = f(**inputs)
    if program.kind == "scan":
        assert inspect.isgenerator(out)
        out = list(out)
    return out


def _ints(v) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_ints(x) for x in v)
    return type(v) is int


# A scalar interpreter that refuses to leave the 64-bit range: inputs on which it succeeds are those
# where Python's unbounded arithmetic (exact=False) must agree with the semantics.
def _strict(name):
    f = SCALAR[name]

    def g(*args):
        raw = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "//": lambda a, b: a // b if b else 0,
            "<<": lambda a, b: a << min(max(b, 0), 63),
            "neg": lambda a: -a,
            "abs": abs,
        }[name](*args)
        if not INT64_MIN <= raw <= INT64_MAX:
            raise OverflowError(name)
        return f(*args)

    return g


STRICT = dict(SCALAR)
STRICT.update({k: _strict(k) for k in ("+", "-", "*", "//", "<<", "neg", "abs")})


def strict_run(program: Program, inputs: dict):
    m = Machine(program, STRICT)  # evaluates both branches of `if`: only more cautious
    env = m.start({n: inputs[n] for n in program.scalars})
    if program.kind == "function":
        return m.finish(env)
    outs = []
    for symbols in zip(*(inputs[n] for n in m.iters)):
        env, y = m.step(env, symbols)
        outs.append(y)
    return outs if program.kind == "scan" else m.finish(env)


def random_inputs(program: Program, rng: np.random.Generator, small: bool):
    def value():
        if small:
            return int(rng.integers(-9, 10))
        k = rng.integers(0, 3)
        if k == 0:
            return int(EXTREMES[rng.integers(0, len(EXTREMES))])
        if k == 1:
            return int(rng.integers(-9, 10))
        return int(rng.integers(INT64_MIN, INT64_MAX, endpoint=True))

    n = int(rng.integers(0, 6))
    inputs = {name: value() for name in program.scalars}
    inputs.update({name: [value() for _ in range(n)] for name in program.sequences})
    return inputs


def assert_agrees(program: Program, seed: int = 0, rows: int = 40) -> None:
    rng = np.random.default_rng(seed)
    exact_f = load(program, exact=True)
    loose_f = load(program, exact=False)
    for i in range(rows):
        inputs = random_inputs(program, rng, small=(i % 2 == 0))
        want = run(program, inputs)
        got = call(exact_f, program, inputs)
        assert got == want and _ints(got), (str(program), program.to_python(exact=True), inputs, got, want)
        try:
            strict_run(program, inputs)
        except OverflowError:
            continue
        got = call(loose_f, program, inputs)
        assert got == want and _ints(got), (str(program), program.to_python(), inputs, got, want)


def assert_agrees_on_extremes(program: Program) -> None:
    f = load(program, exact=True)
    scalars = program.scalars
    for a in EXTREMES:
        for b in EXTREMES:
            inputs = {}
            for i, name in enumerate(scalars):
                inputs[name] = (a, b)[i % 2]
            for name in program.sequences:
                inputs[name] = [a, b, a]
            want = run(program, inputs)
            got = call(f, program, inputs)
            assert got == want and _ints(got), (str(program), inputs, got, want)


# --- hand-written programs -----------------------------------------------------------------------

PROGRAMS = {
    "mod": "def f(a, b):\n    return (a + b) % 13\n",
    "arith": "def f(a, b):\n    return a * b - (a + 7) * -3, -a, abs(b)\n",
    "division": "def f(a, b):\n    return a // b, a % b, a // 3, a % -5, a // -1, 7 // b\n",
    "shifts": "def f(a, b):\n    return a << b, a >> b, a << 5, a >> 70, a << -2, (a + b) << 63\n",
    "compare": "def f(a, b):\n    return a < b, a <= b, a > b, a >= b, a == b, a != b\n",
    "not": "def f(a, b):\n    return not a, not (a < b), (not a) + (a == b), -(a > b)\n",
    "andor": "def f(a, b):\n    return a and b, a or b, (a < b) and b, (a < b) or b, a and (b > 0), (a == 0) or (b == 0)\n",
    "truth": "def f(a, b):\n    return 1 if a and b else 2, 3 if (a < b) or not b else 4, 5 if a - b else 6\n",
    "bits": "def f(a, b):\n    return a & b, a | b, a ^ b, (a < b) & (b < 3), (a > 0) | (b > 0), (a + b) ^ (a * b)\n",
    "minmax": "def f(a, b, c):\n    return min(a, b), max(a, b, c), min(a < b, c), max(a * b, c + 1)\n",
    "ifexp": "def f(a, b, c):\n    return a if b else c, (a if b < c else b) if c else -a, 1 if a < b else 0\n",
    "nested_parens": "def f(a, b, c):\n    return (a - (b - c)) * (a + b) // (c | 1) - -a\n",
    "neg_const": "def f(a):\n    return -5 * a + -9223372036854775807 - a % -3\n",
    "scan_xor": "def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n",
    "scan_tuple": (
        "def f(xs, ys):\n    lo, hi = 0, 0\n    for x, y in zip(xs, ys):\n        d = x - y\n"
        "        lo, hi = min(lo, d), max(hi, d)\n        yield lo, hi, d > 0\n"
    ),
    "fold_fib": "def f(xs):\n    a, b = 0, 1\n    for x in xs:\n        a, b = b, a + b * x\n    return a\n",
    "fold_after": (
        "def f(xs, k):\n    s = 0\n    n = 0\n    for x in xs:\n        s = s + x * k\n        n = n + (x > 0)\n"
        "    m = s // n\n    return m, n\n"
    ),
    "fold_count": "def f(xs):\n    c = 0\n    for x in xs:\n        c = c + (x % 2 == 0)\n    return c\n",
    "scan_wrap": "def f(xs):\n    s = 1\n    for x in xs:\n        s = s * 6364136223846793005 + x\n        yield s >> 33\n",
    "no_params": "def f():\n    return 9223372036854775807 + 1\n",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hand_written(name):
    p = parse(PROGRAMS[name])
    assert_agrees(p, seed=hash(name) % 1000, rows=60)
    assert_agrees_on_extremes(p)
    q = simplify(p)
    assert_agrees(q, seed=1, rows=30)


def test_shape_of_the_text():
    p = parse(PROGRAMS["scan_xor"])
    text = to_python(p)
    assert text == "def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n"
    assert p.to_python() == text  # Program.to_python delegates
    assert inspect.isgeneratorfunction(load(p, exact=False))
    assert p.to_python(exact=True) == to_python(p, exact=True)


def test_helpers_only_when_needed():
    plain = to_python(parse("def f(a, b):\n    return a // 2 + a % 3 + (a << 2) + (a >> 1)\n"))
    assert "def _" not in plain
    text = to_python(parse("def f(a, b):\n    return a // b + a % b + (a << b) + (a >> b)\n"))
    for helper in ("_floordiv", "_mod", "_shl", "_shr"):
        assert f"def {helper}(" in text
    assert "_wrap" not in text
    exact = to_python(parse("def f(a, b):\n    return a + b\n"), exact=True)
    assert "def _wrap(" in exact and "_wrap(a + b)" in exact
    assert "_wrap" not in to_python(parse("def f(a, b):\n    return a ^ b, a & b, min(a, b), a >> 3\n"), exact=True)


def test_wrap_once_per_chain():
    text = to_python(parse("def f(a, b, c):\n    return a * b + c - a\n"), exact=True)
    assert text.count("_wrap(") == 2  # the definition and one call


def test_comparisons_are_ints_but_bare_where_only_truth_matters():
    text = to_python(parse("def f(a, b):\n    c = a < b\n    return c if not (a == b) and b > 0 else 1\n"))
    assert "c = int(a < b)" in text
    assert "if not a == b and b > 0 else" in text
    f = load(parse("def f(a, b):\n    return a < b, not a, (a < b) and (b < 9)\n"), exact=False)
    assert all(type(v) is int for v in f(a=1, b=2)) and f(a=1, b=2) == (1, 0, 1)
    assert all(type(v) is int for v in f(a=5, b=2)) and f(a=5, b=2) == (0, 0, 0)


def test_and_or_are_python_operators_with_the_same_meaning():
    p = parse("def f(a, b):\n    return a and b, a or b\n")
    f = load(p, exact=False)
    for a in (-3, 0, 2):
        for b in (-1, 0, 5):
            assert f(a=a, b=b) == run(p, {"a": a, "b": b}) == (SCALAR["and"](a, b), SCALAR["or"](a, b))


def test_names_that_clash_with_helpers_or_builtins():
    p = parse(
        "def _mod(int, _wrap, xs):\n    _floordiv = 0\n    for x in xs:\n"
        "        _floordiv = _floordiv + int // _wrap + (x < int) + x % _wrap\n    return _floordiv\n"
    )
    text = to_python(p, exact=True)
    assert "def _mod(int, _wrap, xs):" in text
    f = load(p, exact=True)
    for args in ({"int": 7, "_wrap": 2, "xs": [1, 9, -4]}, {"int": INT64_MIN, "_wrap": -1, "xs": [INT64_MAX, 0]}):
        assert f(**args) == run(p, args)
    q = parse("def int(a, b):\n    return (a < b) + 1\n")
    assert load(q, exact=False)(a=1, b=2) == 2


def test_exact_matters_on_overflow():
    p = parse("def f(a):\n    return a + 1\n")
    assert load(p, exact=True)(a=INT64_MAX) == INT64_MIN == run(p, {"a": INT64_MAX})
    assert load(p, exact=False)(a=INT64_MAX) == INT64_MAX + 1  # Python's own ints


# --- random programs -----------------------------------------------------------------------------

CONSTS = [0, 1, -1, 2, 3, -3, 7, 63, 64, -64, 2**40, INT64_MAX, INT64_MIN]


def _unary(op, e):
    return Const(wrap(-e.value)) if op == "-" and isinstance(e, Const) else Unary(op, e)


@functools.lru_cache(maxsize=None)
def exprs(names: frozenset, max_leaves: int = 8):
    leaf = st.one_of(st.sampled_from(sorted(names)).map(Var), st.sampled_from(CONSTS).map(Const))

    def extend(children):
        return st.one_of(
            st.builds(Binary, st.sampled_from(BINARY_OPS), children, children),
            st.builds(_unary, st.sampled_from(UNARY_OPS), children),
            st.builds(IfExp, children, children, children),
            st.builds(lambda f, xs: Call(f, tuple(xs)), st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3)),
            st.builds(lambda e: Call("abs", (e,)), children),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


def _value(draw, names, arity):
    items = tuple(draw(exprs(frozenset(names))) for _ in range(arity))
    return items[0] if arity == 1 else Tuple(items)


@st.composite
def random_programs(draw):
    kind = draw(st.sampled_from(["function", "fold", "scan"]))
    if kind == "function":
        defined = {"a", "b"}
        body = []
        for _ in range(draw(st.integers(0, 3))):
            targets = tuple(draw(st.lists(st.sampled_from(["a", "b", "t"]), min_size=1, max_size=2, unique=True)))
            body.append(Assign(targets, _value(draw, defined, len(targets))))
            defined |= set(targets)
        body.append(Return(_value(draw, defined, draw(st.integers(1, 2)))))
        return Program("f", ("a", "b"), tuple(body))
    zipped = draw(st.booleans())
    params = ("a", "xs", "ys") if zipped else ("a", "xs")
    targets = ("x", "y") if zipped else ("x",)
    body = [Assign(("s",), draw(exprs(frozenset({"a"}))))]
    inner = {"a", "s", *targets}
    loop = []
    for _ in range(draw(st.integers(1, 2))):
        names = tuple(draw(st.lists(st.sampled_from(["s", "u"]), min_size=1, max_size=2, unique=True)))
        loop.append(Assign(names, _value(draw, inner, len(names))))
        inner |= set(names)
    if kind == "scan":
        loop.append(Yield(_value(draw, inner, draw(st.integers(1, 2)))))
    body.append(For(targets, params[1:], tuple(loop)))
    if kind == "fold":
        body.append(Return(_value(draw, {"a", "s"}, draw(st.integers(1, 2)))))
    return Program("f", params, tuple(body))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_programs(), st.integers(0, 2**16))
def test_random_programs(p, seed):
    assert_agrees(p, seed, rows=16)
