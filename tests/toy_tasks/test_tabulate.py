"""Tabulating a function: every way (per call, vectorised, in worker processes) gives exactly what calling
it once per input gave before, outputs and errors alike; the time limit and progress hold on every way."""
from __future__ import annotations

import math
import multiprocessing
import operator
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import toy_tasks
from programs import Int, Seq
from programs.domains import enumerate_domain
from toy_tasks import TaskError
from toy_tasks import strategies as tbst
from toy_tasks import tabulate as tab
from toy_tasks.tabulate import TimeLimit, WorkerTraceback, normalise_output, tabulate

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WAYS = ("calls", "vectorised", "processes", "auto")
forks = pytest.mark.skipif(not tab._may_fork(), reason="worker processes are not forked here (other threads run)")


# --- the reference: calling the function once per input, as toy_tasks did before ---------------------------


def _per_call(name: str, fn: Callable, arrays: dict[str, np.ndarray], lengths, kind: str, arity: int,
              seconds: float = math.inf) -> np.ndarray:
    """The plain per-call path of toy_tasks before tabulate.py (its ``_call_function``), kept as the oracle."""
    n = next(iter(arrays.values())).shape[0]
    seqs = [k for k, v in arrays.items() if v.ndim == 2]
    rows = []
    with TimeLimit(name, seconds) as limit:
        for i in range(n):
            x = {}
            for k, v in arrays.items():
                if v.ndim == 2:
                    x[k] = v[i, : int(lengths[i])].tolist() if lengths is not None else v[i].tolist()
                else:
                    x[k] = int(v[i])
            length = len(x[seqs[0]]) if seqs else None
            rows.append(normalise_output(name, limit.call(fn, x), x, kind, arity, length))
    if kind != "scan":
        return np.array(rows, dtype=np.int64).reshape((n,) if arity == 1 else (n, arity))
    width = arrays[seqs[0]].shape[1]
    out = np.zeros((n, width) if arity == 1 else (n, width, arity), dtype=np.int64)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = np.array(r, dtype=np.int64)
    return out


def _outcome(compute: Callable[[], np.ndarray]) -> tuple:
    """What a tabulation gave, comparable across ways: the outputs exactly (dtype, shape, values), or the error."""
    try:
        out = compute()
    except TaskError as err:
        return ("error", str(err))
    return ("outputs", out.dtype.str, out.shape, out.tolist())


# --- random small functions, built as closures over expression trees ------------------------------------------

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod,
    "&": operator.and_, "|": operator.or_, "^": operator.xor, "<": operator.lt, "==": operator.eq,
    ">>": operator.rshift,  # a negative count raises in Python, not in numpy
    "<<": lambda a, b: a << (b & 15),  # bounded, so that values stay small enough to compute, not int64
}
CONSTANTS = st.one_of(st.integers(-4, 8), st.sampled_from([2**31, 2**62, -(2**63)]))


def _trees(leaves: list[str]) -> st.SearchStrategy:
    leaf = st.one_of(st.sampled_from(leaves).map(lambda n: ("var", n)), CONSTANTS.map(lambda c: ("const", c)))
    return st.recursive(leaf, lambda kids: st.tuples(st.sampled_from(sorted(OPS)), kids, kids), max_leaves=6)


def _ev(tree, env: dict[str, Any]):
    if tree[0] == "var":
        return env[tree[1]]
    if tree[0] == "const":
        return tree[1]
    return OPS[tree[0]](_ev(tree[1], env), _ev(tree[2], env))


def _with_signature(names: tuple[str, ...], body: Callable[[dict], Any], keywords: bool) -> Callable:
    """``body`` as a function of exactly ``names`` (a real signature, so it is called positionally), or of ``**kw``."""
    if keywords:
        return lambda **kw: body(kw)
    makers = {
        ("a",): lambda: lambda a: body({"a": a}),
        ("a", "b"): lambda: lambda a, b: body({"a": a, "b": b}),
        ("a", "b", "c"): lambda: lambda a, b, c: body({"a": a, "b": b, "c": c}),
        ("xs",): lambda: lambda xs: body({"xs": xs}),
        ("t", "xs"): lambda: lambda xs, t: body({"xs": xs, "t": t}),
        ("xs", "ys"): lambda: lambda xs, ys: body({"xs": xs, "ys": ys}),
    }
    return makers[tuple(sorted(names))]()


@dataclass
class Case:
    """A function with its signature and kind, and a count of the calls it got on plain ints."""

    fn: Callable
    inputs: dict
    kind: str
    arity: int
    shown: str
    scalar_calls: list

    def arrays(self):
        return enumerate_domain(self.inputs)

    def __repr__(self) -> str:
        return f"Case({self.kind}, arity {self.arity}, {self.inputs}, {self.shown})"


@st.composite
def functions(draw) -> Case:
    """Functions of one to three integers, returning an int, a bool or a tuple (negative ranges included)."""
    names = ("a", "b", "c")[: draw(st.integers(1, 3))]
    order = draw(st.permutations(names))
    inputs = {n: draw(tbst.int_domains(max_value=9)) for n in order}
    trees = [draw(_trees(list(names))) for _ in range(draw(st.sampled_from([1, 1, 2])))]
    seen: list = []

    def body(env):
        if not isinstance(env[names[0]], np.ndarray):
            seen.append(1)
        outs = tuple(_ev(t, env) for t in trees)
        return outs[0] if len(outs) == 1 else outs

    fn = _with_signature(names, body, draw(st.booleans()))
    return Case(fn, inputs, "function", len(trees), repr(trees), seen)


@st.composite
def folds_and_scans(draw) -> Case:
    """Folds and scans over one or two lists (with an integer ``t`` beside them sometimes): a state updated
    per step (kept small), and one or two outputs per step or at the end (left unbounded)."""
    names = draw(st.sampled_from([("xs",), ("xs", "t"), ("xs", "ys")]))
    element = draw(tbst.int_domains(max_value=3))
    longest = 3 if "ys" in names else 5  # two lists of 3 values: 3**6 inputs at the longest
    lo = draw(st.integers(1, longest))
    length = (lo, draw(st.integers(lo, longest)))
    inputs = {n: (Int(-2, 3) if n == "t" else Seq(element, length=length)) for n in draw(st.permutations(names))}
    leaves = ["s", "x"] + (["y"] if "ys" in names else []) + (["t"] if "t" in names else [])
    step = draw(_trees(leaves))
    outs = [draw(_trees(leaves)) for _ in range(draw(st.sampled_from([1, 1, 2])))]
    kind = draw(st.sampled_from(["fold", "scan"]))

    def body(env):
        s, per_step = 0, []
        for x, y in zip(env["xs"], env.get("ys", env["xs"])):
            at = {"s": s, "x": x, "y": y, "t": env.get("t", 0)}
            s = _ev(step, at) % 97
            at["s"] = s
            got = tuple(_ev(t, at) for t in outs)
            per_step.append(got[0] if len(got) == 1 else got)
        return per_step if kind == "scan" else per_step[-1]

    fn = _with_signature(names, body, draw(st.booleans()))
    return Case(fn, inputs, kind, len(outs), f"step {step!r}, outputs {outs!r}", [])


def _tabulated(case: Case, how: str, **kwargs) -> tuple:
    arrays, lengths = case.arrays()
    return _outcome(lambda: tabulate("t", case.fn, arrays, lengths, kind=case.kind, arity=case.arity, how=how, **kwargs))


def _reference(case: Case) -> tuple:
    arrays, lengths = case.arrays()
    return _outcome(lambda: _per_call("t", case.fn, arrays, lengths, case.kind, case.arity))


# --- every way gives the same outputs and the same errors -----------------------------------------------------


@FEW
@given(case=st.one_of(functions(), folds_and_scans()))
def test_calls_vectorised_and_auto_give_what_calls_per_input_gave(case):
    want = _reference(case)
    with mock.patch.object(tab, "CHUNK", 7):  # many chunks, the last one short
        for how in ("calls", "vectorised", "auto"):
            assert _tabulated(case, how) == want, how


@FEWER
@forks
@given(case=st.one_of(functions(), folds_and_scans()), workers=st.integers(2, 3))
def test_worker_processes_give_what_calls_per_input_gave(case, workers):
    want = _reference(case)
    with mock.patch.object(tab, "CHUNK", 5):
        assert _tabulated(case, "processes", workers=workers) == want
    assert multiprocessing.active_children() == []


VECTORISABLE = [
    ("(a + b) % 7", lambda a, b: (a + b) % 7, 1),
    ("a * b - 3 * a", lambda a, b: a * b - 3 * a, 1),
    ("a < b", lambda a, b: a < b, 1),
    ("abs(a - b)", lambda a, b: abs(a - b), 1),
    ("np.maximum", lambda a, b: np.maximum(a, b), 1),
    ("a ^ b, a & b", lambda a, b: (a ^ b, a & b), 2),
    ("(a >> 2) | (b << 3)", lambda a, b: (a >> 2) | (b << 3), 1),
]


@pytest.mark.parametrize("shown, fn, arity", VECTORISABLE, ids=[v[0] for v in VECTORISABLE])
def test_functions_of_integers_are_vectorised(shown, fn, arity):
    arrays, _ = enumerate_domain({"a": Int(-40, 60), "b": Int(-30, 70)})
    scalar = []

    def counted(a, b):
        if not isinstance(a, np.ndarray):
            scalar.append((a, b))
        return fn(a, b)

    got = tabulate("v", counted, arrays, None, kind="function", arity=arity, how="vectorised")
    assert 0 < len(scalar) < len(tab._checked_rows(arrays, 10_000)) + 1 < 10_000  # the sample only
    np.testing.assert_array_equal(got, _per_call("v", fn, arrays, None, "function", arity))
    assert got.dtype == np.int64


def _bumps_its_input(a, b):
    a += 1
    return a * b


REFUSED = [
    ("int64 wraps: (a * 2**62) % 7", lambda a, b: (a * 2**62) % 7 + b),
    ("int64 wraps: a << 62 >> 62", lambda a, b: (a << 62) >> 62),
    ("abs of the least int64", lambda a, b: abs(a + (10 - 2**63)) % 5 + b),
    ("a // b with b == 0", lambda a, b: a // b),
    ("a % b with b == 0", lambda a, b: a % b),
    ("a negative shift count", lambda a, b: a >> b),
    ("beyond 64 bits", lambda a, b: a * 2**62 * 4),
    ("floats", lambda a, b: a / 4),
    ("a constant", lambda a, b: 3),
    ("a list per input", lambda a, b: [a]),
    ("changes its input in place", _bumps_its_input),
    ("branches on a value", lambda a, b: a if a > b else b),  # noqa: FURB136 -- the branch is the point
]


@pytest.mark.parametrize("shown, fn", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_vectorised_answer_unlike_python_per_input_is_refused(shown, fn):
    arrays, _ = enumerate_domain({"a": Int(-10, 10), "b": Int(-3, 8)})
    before = {k: v.copy() for k, v in arrays.items()}
    want = _outcome(lambda: _per_call("r", fn, arrays, None, "function", 1))
    assert _outcome(lambda: tabulate("r", fn, arrays, None, kind="function", arity=1, how="vectorised")) == want
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], before[k])


@pytest.mark.parametrize("fn", [
    lambda a: (a == 12_345) * a * 2**62 % 7 + a,  # int64 wraps, silently, on one input
    lambda a: a // (a - 54_321) + a,  # numpy gives 0 there (with a warning), Python raises
], ids=["overflow", "division by zero"])
def test_a_difference_on_one_input_outside_the_checked_sample_is_caught(fn):
    arrays, _ = enumerate_domain({"a": Int(0, 100_000)})
    assert not {12_345, 54_321} & set(tab._checked_rows(arrays, 100_000).tolist())
    want = _outcome(lambda: _per_call("o", fn, arrays, None, "function", 1))
    assert _outcome(lambda: tabulate("o", fn, arrays, None, kind="function", arity=1, how="vectorised")) == want


def test_a_sampled_check_catches_a_difference_on_the_checked_inputs():
    arrays, _ = enumerate_domain({"a": Int(0, 100), "b": Int(0, 100)})
    rows = tab._checked_rows(arrays, 10_000)
    a0, b0 = int(arrays["a"][rows[5]]), int(arrays["b"][rows[5]])

    def odd_one(a, b):  # wrong on arrays at one checked input, and nowhere else
        return a + b + (0 if isinstance(a, int) else (a == a0) & (b == b0))

    scalar = []
    got = tabulate("s", lambda a, b: scalar.append(1) or odd_one(a, b) if isinstance(a, int) else odd_one(a, b),
                   arrays, None, kind="function", arity=1, how="vectorised")
    np.testing.assert_array_equal(got, arrays["a"] + arrays["b"])
    assert len(scalar) >= 10_000  # refused: called per input


# --- errors name their input, the first one in domain order, on every way ------------------------------------


def _fails_at_33_5(a, b):
    return a * 3 + b + 1 // ((a - 33) ** 2 + (b - 5) ** 2)  # on arrays too: a division by zero is refused there


@pytest.mark.parametrize("how", WAYS)
def test_an_error_names_its_input_on_every_way(how):
    arrays, _ = enumerate_domain({"a": Int(0, 40), "b": Int(0, 10)})
    with pytest.raises(TaskError) as err:
        tabulate("e", _fails_at_33_5, arrays, None, kind="function", arity=1, how=how, workers=3)
    assert str(err.value) == ("task e: the function raised ZeroDivisionError: integer division or modulo by zero "
                              "on input {'a': 33, 'b': 5}")
    cause = err.value.__cause__
    if how == "processes" and tab._may_fork():  # the worker's traceback, as text
        assert isinstance(cause, WorkerTraceback)
        assert "in _fails_at_33_5" in str(cause) and "ZeroDivisionError" in str(cause)
    else:
        assert isinstance(cause, ZeroDivisionError)
    assert multiprocessing.active_children() == []


def _bad_then_raising(bad: int, raising: int) -> Callable:
    def fn(a):
        if a == bad:
            return 2**70
        if a == raising:
            raise ValueError("later")
        return a

    return fn


@pytest.mark.parametrize("how", ["calls", "processes"])
@pytest.mark.parametrize("bad, raising", [(100, 200), (200, 100), (3, 9000), (17_000, 18_000), (18_000, 17_000),
                                         (9000, 12_000), (12_000, 9000)])
def test_the_first_error_in_domain_order_is_the_one_raised(how, bad, raising):
    arrays, _ = enumerate_domain({"a": Int(0, 20_000)})
    fn = _bad_then_raising(bad, raising)
    want = _outcome(lambda: _per_call("o", fn, arrays, None, "function", 1))
    assert want[0] == "error" and str(min(bad, raising)) in want[1]
    assert _outcome(lambda: tabulate("o", fn, arrays, None, kind="function", arity=1, how=how, workers=2)) == want


@pytest.mark.parametrize("how", ["calls", "processes"])
def test_a_scan_with_steps_of_different_sizes_is_a_task_error(how):
    arrays, lengths = enumerate_domain({"xs": Seq(Int(0, 3), length=(1, 3))})

    def mixed(xs):
        return [(x, x) if i == 0 else x for i, x in enumerate(xs)] if len(xs) == 3 else [(x, 1) for x in xs]

    with pytest.raises(TaskError, match="different numbers of outputs on input {'xs': \\[0, 0, 0\\]}"):
        tabulate("m", mixed, arrays, lengths, kind="scan", arity=2, how=how, workers=2)


@pytest.mark.parametrize("output", [np.int64(5), np.int32(-2), True, np.True_], ids=["int64", "int32", "bool", "np.bool"])
def test_numpy_ints_and_bools_take_the_full_check(output):
    arrays, lengths = enumerate_domain({"xs": Seq(Int(0, 3), length=(1, 3))})

    def fn(xs):
        return [output] * len(xs)

    want = _outcome(lambda: _per_call("n", fn, arrays, lengths, "scan", 1))
    assert want[0] == "outputs"
    assert _outcome(lambda: tabulate("n", fn, arrays, lengths, kind="scan", arity=1, how="calls")) == want


def test_a_mutated_list_is_named_as_the_function_left_it():
    arrays, lengths = enumerate_domain({"xs": Seq(Int(0, 3), length=2)})

    def pops(xs):
        xs.pop()
        return 1 // (len(xs) - 1)

    want = _outcome(lambda: _per_call("p", pops, arrays, lengths, "fold", 1))
    assert want == _outcome(lambda: tabulate("p", pops, arrays, lengths, kind="fold", arity=1, how="calls"))
    assert "on input {'xs': [0]}" in want[1]


# --- the time limit -----------------------------------------------------------------------------------------


def _hangs_on(target: tuple[int, int]) -> Callable:
    def fn(a, b):
        if (a, b) == target:
            while True:
                pass
        return a + b

    return fn


@pytest.mark.parametrize("how", ["calls", "processes", "auto"])
def test_the_time_limit_names_the_input_a_call_hung_on(how):
    arrays, _ = enumerate_domain({"a": Int(0, 30), "b": Int(0, 30)})
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(TaskError) as err:
        tabulate("h", _hangs_on((25, 4)), arrays, None, kind="function", arity=1, how=how, seconds=0.5, workers=2)
    assert "did not return within 0.5 s (on input {'a': 25, 'b': 4})" in str(err.value)
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert multiprocessing.active_children() == []


def test_the_time_limit_stops_a_vectorised_call_that_hangs():
    def hangs_on_arrays(a, b):
        while isinstance(a, np.ndarray):
            pass
        return a

    arrays, _ = enumerate_domain({"a": Int(0, 30), "b": Int(0, 30)})
    with pytest.raises(TaskError, match=r"did not return within 0.5 s \(calling it once on numpy arrays of all 900 inputs\)"):
        tabulate("h", hangs_on_arrays, arrays, None, kind="function", arity=1, how="vectorised", seconds=0.5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_off_the_main_thread_the_time_limit_is_checked_after_each_call():
    def slow(a, b):
        time.sleep(0.01)
        return a

    arrays, _ = enumerate_domain({"a": Int(0, 30), "b": Int(0, 30)})
    errors: list[BaseException] = []

    def run():
        try:
            tabulate("s", slow, arrays, None, kind="function", arity=1, how="auto", seconds=0.2)
        except BaseException as err:  # noqa: BLE001 -- handed to the test thread
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], TaskError)
    assert "did not return within 0.2 s (on input {'a': 0, 'b': " in str(errors[0])


@forks
def test_ctrl_c_leaves_no_worker_behind():
    def slow(a, b):
        time.sleep(0.001)
        return a

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    arrays, _ = enumerate_domain({"a": Int(0, 300), "b": Int(0, 300)})
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            tabulate("c", slow, arrays, None, kind="function", arity=1, how="processes", workers=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert multiprocessing.active_children() == []


@forks
def test_a_worker_that_dies_is_a_task_error_naming_its_inputs():
    import os

    def exits(a, b):
        if a == 250:
            os._exit(3)
        return a

    arrays, _ = enumerate_domain({"a": Int(0, 300), "b": Int(0, 10)})
    with pytest.raises(TaskError, match=r"inputs 1500 to 2999 .* died \(exit code 3\)"):
        tabulate("d", exits, arrays, None, kind="function", arity=1, how="processes", workers=2)
    assert multiprocessing.active_children() == []


# --- progress -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", WAYS)
@pytest.mark.parametrize("fn, kind", [(lambda a, b: (a * b) % 5, "function"), (lambda a, b: max(a, b), "function")])
def test_progress_rises_to_the_total(how, fn, kind):
    arrays, _ = enumerate_domain({"a": Int(0, 90), "b": Int(0, 90)})
    seen: list[tuple[int, int]] = []
    with mock.patch.object(tab, "CHUNK", 1000):
        tabulate("p", fn, arrays, None, kind=kind, arity=1, how=how, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (8100, 8100)
    assert all(t == 8100 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    if how == "calls":
        assert len(seen) == 9  # after each chunk


def test_progress_from_the_task_api():
    seen: list[tuple[int, int]] = []
    inputs = {"xs": Seq(Int(0, 3), length=(1, 6))}
    task = toy_tasks.from_function("ps", lambda xs: [x % 2 for x in xs], inputs=inputs, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (task.domain_size, task.domain_size)
    seen.clear()
    task.examples(progress=lambda d, t: seen.append((d, t)))  # computed already: done at once
    assert seen == [(task.domain_size, task.domain_size)]
    seen.clear()
    builtin = toy_tasks.get("running_parity", length=5)
    assert builtin.check_definition(progress=lambda d, t: seen.append((d, t))).equal
    assert seen[-1] == (builtin.domain_size, builtin.domain_size)
    seen.clear()
    wide = toy_tasks.from_function("wide", lambda a, b: a ^ b, inputs={"a": Int(0, 2**40), "b": Int(0, 2**40)})
    wide.split(0.5, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (50_000, 50_000)


def test_from_function_vectorises_a_large_domain_and_checks_it():
    scalar = []

    def mod_sum(a, b):
        if not isinstance(a, np.ndarray):
            scalar.append(1)
        return (a + 2 * b) % 11

    task = toy_tasks.from_function("big", mod_sum, inputs={"a": Int(0, 200), "b": Int(-100, 100)})
    ex = task.examples()
    np.testing.assert_array_equal(ex.outputs, (ex.inputs["a"] + 2 * ex.inputs["b"]) % 11)
    assert 1 < len(scalar) < 1000  # the first input, and the checked sample
    assert task.verify("def f(a, b):\n    return (a + 2 * b) % 11\n").proved


# --- the pieces -------------------------------------------------------------------------------------------------


def _kw_only(*, a, b):
    return a


def _posonly(a, b, /):
    return a


def _defaults(b, a, c=1, *, d=2):
    return a


def _kw_required(a, b, *, d):
    return a


@pytest.mark.parametrize("fn, order", [
    (lambda a, b: a, ["a", "b"]), (lambda b, a: a, ["b", "a"]), (_defaults, ["b", "a"]), (_kw_only, None),
    (_posonly, None), (_kw_required, None), (lambda **kw: 0, None), (lambda a, *args: 0, None),
    (lambda a, c: 0, None), (max, None), (operator.add, None),
])
def test_positional_calls_only_where_they_are_the_same_call(fn, order):
    assert tab._positional_order(fn, ["a", "b"]) == order


@given(n=st.integers(1, 5000), parts=st.integers(1, 9), varied=st.booleans())
def test_the_domain_is_split_into_contiguous_ranges(n, parts, varied):
    lengths = np.random.default_rng(n).integers(1, 9, size=n) if varied else None
    ranges = tab._split(n, lengths, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) <= parts
    assert all(lo < hi for lo, hi in ranges) and all(a[1] == b[0] for a, b in pairwise(ranges))


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not tab._may_fork()
        calls = []
        arrays, _ = enumerate_domain({"a": Int(0, 50)})
        out = tabulate("f", lambda a: calls.append(a) or a, arrays, None, kind="function", arity=1, how="processes")
        assert len(calls) == 50  # in this process
        np.testing.assert_array_equal(out, arrays["a"])
    finally:
        stop.set()
        other.join()


@forks
def test_worker_processes_do_the_calls():
    calls = []
    arrays, lengths = enumerate_domain({"xs": Seq(Int(0, 3), length=(1, 5))})
    out = tabulate("w", lambda xs: calls.append(1) or [x + 1 for x in xs], arrays, lengths, kind="scan", arity=1,
                   how="processes", workers=2)
    assert calls == []  # made in the workers, whose memory is their own
    want = np.where(np.arange(5) < lengths[:, None], arrays["xs"] + 1, 0)
    np.testing.assert_array_equal(out, want)


@pytest.mark.slow
def test_a_scan_over_a_large_domain_by_default():
    inputs = {"xs": Seq(Int(0, 4), length=9)}
    task = toy_tasks.from_function("big_scan", lambda xs: [sum(xs[: i + 1]) % 4 for i in range(len(xs))], inputs=inputs)
    ex = task.examples()
    assert len(ex) == 4**9 >= tab.PARALLEL_FROM
    np.testing.assert_array_equal(ex.outputs, np.cumsum(ex.inputs["xs"], axis=1) % 4)
    assert multiprocessing.active_children() == []
