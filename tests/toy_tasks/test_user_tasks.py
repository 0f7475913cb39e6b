"""User tasks: ``from_program`` and ``from_function`` behave like built-ins, and fail with named inputs."""
from __future__ import annotations

import itertools
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import toy_tasks
from programs import Int, ProgramError, Seq, evaluate, parse
from programs.interpreter import run
from toy_tasks import Examples, TaskError
from toy_tasks import strategies as tbst

PAIR = {"a": Int(0, 8), "b": Int(0, 8)}
LIST = {"xs": Seq(Int(0, 3), length=(1, 4))}
LIST_T = {"xs": Seq(Int(0, 3), length=(1, 4)), "t": Int(0, 3)}


def _domain(inputs):
    names = list(inputs)
    seqs = [n for n in names if isinstance(inputs[n], Seq)]
    for length in (inputs[seqs[0]].lengths if seqs else [None]):
        choices = [
            range(d.lo, d.hi) if isinstance(d, Int)
            else [list(c) for c in itertools.product(range(d.element.lo, d.element.hi), repeat=length)]
            for d in (inputs[n] for n in names)
        ]
        for combo in itertools.product(*choices):
            yield dict(zip(names, combo))


def _running_parity(xs):
    out, s = [], 0
    for x in xs:
        s ^= x
        out.append(s)
    return out


def _first_index(xs, t):
    return xs.index(t) if t in xs else -1


# --- from_program ------------------------------------------------------------------------------------


def test_from_program_behaves_like_a_builtin():
    task = toy_tasks.from_program("my_mod", "def f(a, b):\n    return (a + b) % 7\n", inputs={"a": Int(0, 7), "b": Int(0, 7)})
    builtin = toy_tasks.get("modular_addition", p=7)
    assert (task.name, task.kind, task.arity, task.family) == ("my_mod", "function", 1, "user")
    assert task.inputs == builtin.inputs and task.domain_size == 49
    ex, want = task.examples(), builtin.examples()
    assert ex.complete and len(ex) == 49
    np.testing.assert_array_equal(ex.outputs, want.outputs)
    assert task.verify(builtin.reference).equal
    v = task.verify("def f(a, b):\n    return (a - b) % 7\n")
    assert not v.equal and v.method == "exhaustive"
    assert v.outputs[0] != v.outputs[1]
    assert builtin.verify(task.reference).proved


def test_from_program_scan_and_fold():
    scan = toy_tasks.from_program(
        "my_parity", "def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n",
        inputs={"xs": Seq(Int(0, 2), length=(1, 5))},
    )
    assert (scan.kind, scan.arity, scan.sequences) == ("scan", 1, ("xs",))
    assert scan.verify(toy_tasks.get("running_parity", length=5).reference).method == "product-machine"
    for x, y in scan.examples().rows():
        assert y == _running_parity(x["xs"])
    fold = toy_tasks.from_program("my_count", "def f(xs, t):\n    c = 0\n    for x in xs:\n        c = c + (x == t)\n    return c\n",
                                  inputs=LIST_T, difficulty=3.5, description="count t")
    assert (fold.kind, fold.arity, fold.difficulty, fold.description) == ("fold", 1, 3.5, "count t")
    for x, y in fold.examples().rows():
        assert y == x["xs"].count(x["t"])


def test_from_program_tuple_outputs():
    task = toy_tasks.from_program("divmod", "def f(a, b):\n    return a // b, a % b\n", inputs=PAIR)
    assert task.arity == 2
    ex = task.examples()
    assert ex.outputs.shape == (64, 2)
    for x, y in ex.rows():
        assert y == ((x["a"] // x["b"], x["a"] % x["b"]) if x["b"] else (0, x["a"]))


def test_from_program_default_difficulty_grows_with_the_domain():
    small = toy_tasks.from_program("s", "def f(a):\n    return a\n", inputs={"a": Int(0, 4)})
    big = toy_tasks.from_program("b", "def f(a):\n    return a\n", inputs={"a": Int(0, 1024)})
    assert 0 < small.difficulty < big.difficulty


@pytest.mark.parametrize("source, inputs, error", [
    ("def f(a):\n    return a\n", PAIR, TaskError),
    ("def f(a, b, c):\n    return a\n", PAIR, TaskError),
    ("def f(xs):\n    return xs\n", LIST, TaskError),
    ("def f(a, b):\n    return a +\n", PAIR, ProgramError),
    ("def f(a, b):\n    return a\n", {}, TaskError),
    ("def f(a, b):\n    return a\n", {"a": Int(0, 2), "b": 4}, TaskError),
    ("def f(xs, ys):\n    s = 0\n    for x, y in zip(xs, ys):\n        s = x + y\n    return s\n",
     {"xs": Seq(Int(0, 2), length=3), "ys": Seq(Int(0, 2), length=4)}, TaskError),
])
def test_from_program_errors(source, inputs, error):
    with pytest.raises(error):
        toy_tasks.from_program("bad", source, inputs=inputs)


def test_from_program_needs_a_name_and_a_program():
    with pytest.raises(TaskError):
        toy_tasks.from_program("", "def f(a):\n    return a\n", inputs={"a": Int(0, 2)})
    with pytest.raises(TaskError):
        toy_tasks.from_program("x", 42, inputs={"a": Int(0, 2)})


# --- from_function -------------------------------------------------------------------------------------


def test_from_function_for_a_function():
    task = toy_tasks.from_function("mx", lambda a, b: max(a, b), inputs=PAIR)
    assert (task.kind, task.arity, task.family, task.reference) == ("function", 1, "user", None)
    ex = task.examples()
    assert ex.complete and len(ex) == 64
    np.testing.assert_array_equal(ex.outputs, np.maximum(ex.inputs["a"], ex.inputs["b"]))
    v = task.verify("def f(a, b):\n    return max(b, a)\n")
    assert v.equal and v.proved and v.method == "exhaustive" and v.checked == 64
    wrong = parse("def f(a, b):\n    return max(a, b) - (a == 5 and b == 2)\n")
    v = task.verify(wrong)
    assert (v.equal, v.method, v.counterexample) == (False, "exhaustive", {"a": 5, "b": 2})
    assert v.outputs == (run(wrong, {"a": 5, "b": 2}), 5)
    sample = task.examples(12, seed=3)
    assert len(sample) == 12
    assert len({(x["a"], x["b"]) for x, _ in sample.rows()}) == 12


def test_from_function_fold_over_a_list():
    task = toy_tasks.from_function("first", _first_index, inputs=LIST_T)
    assert (task.kind, task.arity) == ("fold", 1)
    ex = task.examples()
    assert ex.complete and len(ex) == task.domain_size == 3 * (3 + 9 + 27 + 81)
    for x, y in ex.rows():
        assert y == _first_index(**x)
    v = task.verify(toy_tasks.get("first_index", values=3, length=4).reference)
    assert v.equal and v.method == "exhaustive"
    v = task.verify("def f(xs, t):\n    i = 0\n    pos = -1\n    for x in xs:\n        pos = i if x == t else pos\n        i = i + 1\n    return pos\n")
    assert not v.equal
    x = v.counterexample
    assert x["xs"].count(x["t"]) >= 2
    assert v.outputs == (len(x["xs"]) - 1 - x["xs"][::-1].index(x["t"]), _first_index(**x))


def test_from_function_scan_returning_a_list_per_step():
    task = toy_tasks.from_function("rp", _running_parity, inputs={"xs": Seq(Int(0, 2), length=(1, 5))})
    assert (task.kind, task.arity) == ("scan", 1)
    ex = task.examples()
    assert ex.scan and ex.outputs.shape == (len(ex), 5)
    past = np.arange(5)[None, :] >= ex.lengths[:, None]
    assert (ex.outputs[past] == 0).all()
    for x, y in ex.rows():
        assert y == _running_parity(x["xs"])
    v = task.verify("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n        yield s\n")
    assert v.equal and v.method == "exhaustive" and v.checked == task.domain_size
    v = task.verify("def f(xs):\n    s = 0\n    for x in xs:\n        s = s | x\n        yield s\n")
    assert not v.equal
    assert v.outputs[0] != v.outputs[1] and v.outputs[1] == _running_parity(v.counterexample["xs"])
    v = task.verify("def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n    return s\n")
    assert not v.equal  # a fold is not a scan


def test_from_function_scan_with_two_outputs_per_step():
    def carry_and_sum(xs, ys):
        out, c = [], 0
        for x, y in zip(xs, ys):
            t = x + y + c
            c = t // 2
            out.append((t % 2, c))
        return out

    inputs = {"xs": Seq(Int(0, 2), length=(1, 3)), "ys": Seq(Int(0, 2), length=(1, 3))}
    task = toy_tasks.from_function("add2", carry_and_sum, inputs=inputs)
    assert (task.kind, task.arity) == ("scan", 2)
    assert task.examples().outputs.shape == (task.domain_size, 3, 2)
    for x, y in task.examples().rows():
        assert y == carry_and_sum(**x)
    v = task.verify("def f(xs, ys):\n    c = 0\n    for x, y in zip(xs, ys):\n        t = x + y + c\n        c = t // 2\n        yield t % 2, c\n")
    assert v.equal and v.proved


def test_from_function_tuple_valued():
    task = toy_tasks.from_function("dm", lambda a, b: divmod(a, b) if b else (0, a), inputs=PAIR)
    assert (task.kind, task.arity) == ("function", 2)
    ex = task.examples()
    assert ex.outputs.shape == (64, 2)
    for x, y in ex.rows():
        assert type(y) is tuple and y == ((x["a"] // x["b"], x["a"] % x["b"]) if x["b"] else (0, x["a"]))
    assert task.verify("def f(a, b):\n    return a // b, a % b\n").proved
    v = task.verify("def f(a, b):\n    return a // b\n")
    assert not v.equal  # wrong number of outputs
    v = task.verify("def f(a, b):\n    return a // b, a % b + (a == 7)\n")
    assert not v.equal and v.counterexample["a"] == 7


def test_from_function_accepts_bools_and_numpy_ints():
    task = toy_tasks.from_function("lt", lambda a, b: a < b, inputs=PAIR)
    assert task.verify("def f(a, b):\n    return a < b\n").proved
    task = toy_tasks.from_function("np", lambda a, b: np.int64(a) * 2, inputs=PAIR)
    assert task.verify("def f(a, b):\n    return 2 * a\n").proved


def test_the_function_gets_plain_ints_and_lists():
    seen = []

    def spy(xs, t):
        seen.append((type(xs), frozenset(type(v) for v in xs), type(t)))
        return 0

    toy_tasks.from_function("spy", spy, inputs=LIST_T)
    assert seen and set(seen) == {(list, frozenset({int}), int)}
    assert len(seen) >= toy_tasks.from_function("spy2", lambda xs, t: 0, inputs=LIST_T).domain_size


def test_every_input_is_checked_at_construction():
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a

    toy_tasks.from_function("spy", spy, inputs=PAIR)
    assert set(calls) == {(x["a"], x["b"]) for x in _domain(PAIR)}


# --- from_function, property-based: a task made from a program's Python behaviour is that program's task ---

# Signatures small enough to enumerate in well under a second (at most a few thousand inputs).
SMALL_SIGNATURES = tbst.signatures(max_inputs=2, max_value=3, max_length=2)


@st.composite
def signatures_and_programs(draw):
    sig = draw(SMALL_SIGNATURES)
    return sig, draw(tbst.programs(inputs=sig, max_size=12))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signatures_and_programs())
def test_a_task_from_a_programs_behaviour_has_that_programs_outputs_kind_and_verdict(case):
    sig, program = case
    task = toy_tasks.from_function("behaviour", lambda **x: program(**x), inputs=sig)  # plain ints and lists
    assert (task.kind, task.arity, task.inputs, task.reference) == (program.kind, program.arity, sig, None)
    dom = task.examples()
    assert dom.complete and len(dom) == task.domain_size
    np.testing.assert_array_equal(dom.outputs, evaluate(program, dom.inputs, dom.lengths if program.sequences else None))
    np.testing.assert_array_equal(dom.outputs, toy_tasks.from_program("behaviour", str(program), sig).examples().outputs)
    v = task.verify(program)
    assert v.equal and v.method == "exhaustive" and v.checked == task.domain_size, v


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_an_error_in_the_function_is_a_task_error_naming_the_input(data):
    sig, program = data.draw(signatures_and_programs())
    bad = data.draw(tbst.task_inputs(sig))

    def faulty(**x):
        if x == bad:
            raise ArithmeticError("planted")
        return program(**x)

    with pytest.raises(TaskError) as err:
        toy_tasks.from_function("faulty", faulty, inputs=sig)
    message = str(err.value)
    assert "task faulty" in message and "ArithmeticError: planted" in message and f"on input {bad}" in message, message


# --- from_function errors ---------------------------------------------------------------------------------


def test_a_function_that_raises_names_the_input():
    with pytest.raises(TaskError) as err:
        toy_tasks.from_function("div", lambda a: 10 // (a - 3), inputs={"a": Int(0, 8)})
    message = str(err.value)
    assert "ZeroDivisionError" in message
    assert "{'a': 3}" in message
    assert "div" in message


def test_a_function_that_raises_on_a_sequence_names_it():
    def picky(xs):
        if xs == [2, 1]:
            raise KeyError("nope")
        return 0

    with pytest.raises(TaskError) as err:
        toy_tasks.from_function("picky", picky, inputs=LIST)
    assert "[2, 1]" in str(err.value) and "KeyError" in str(err.value)


@pytest.mark.parametrize("fn, inputs, words", [
    (lambda a: a / 2, {"a": Int(0, 8)}, ["0.0", "integer"]),
    (lambda a: a + 0.5 if a == 5 else a, {"a": Int(0, 8)}, ["5.5", "'a': 5"]),
    (lambda a: "x", {"a": Int(0, 8)}, ["'x'"]),
    (lambda a: None, {"a": Int(0, 8)}, ["None"]),
    (lambda a: 2**70, {"a": Int(0, 8)}, ["64-bit"]),
    (lambda a: [a], {"a": Int(0, 8)}, ["list", "sequence"]),
    (lambda a: (a,), {"a": Int(0, 8)}, ["tuple"]),
    (lambda a: (a, 1.5), {"a": Int(0, 8)}, ["1.5"]),
    (lambda xs: xs[:-1], LIST, ["0 outputs", "length 1"]),
    (lambda xs: xs + [0] if len(xs) == 3 else xs, LIST, ["4 outputs", "length 3"]),
    (lambda xs: [0] * len(xs) if len(xs) < 2 else 0, LIST, ["list", "[0, 0]"]),
    (lambda xs: sum(xs) if len(xs) < 2 else [0] * len(xs), LIST, ["list", "[0, 0]"]),
    (lambda a, b: (a, b) if a > 2 else a, PAIR, ["'a': 3"]),
    (lambda a, b: a if a < 6 else (a, b), PAIR, ["'a': 6", "2 output"]),
    (lambda xs: [(x, x) for x in xs] if len(xs) < 3 else list(xs), LIST, ["output"]),
])
def test_bad_outputs_are_task_errors_naming_the_input(fn, inputs, words):
    with pytest.raises(TaskError) as err:
        toy_tasks.from_function("bad", fn, inputs=inputs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


@pytest.mark.parametrize("fn", [3, "max", None, [max]])
def test_a_non_callable_is_a_task_error(fn):
    with pytest.raises(TaskError, match="callable"):
        toy_tasks.from_function("x", fn, inputs=PAIR)


@pytest.mark.parametrize("fn", [lambda a: a, lambda a, b, c: a, lambda x, y: x])
def test_a_function_of_the_wrong_arity_is_a_task_error(fn):
    with pytest.raises(TaskError):
        toy_tasks.from_function("x", fn, inputs=PAIR)


@pytest.mark.parametrize("inputs", [{}, {"a": 3}, {"1a": Int(0, 2)}, {"a": range(3)},
                                    {"xs": Seq(Int(0, 2), length=2), "ys": Seq(Int(0, 2), length=3)}])
def test_a_bad_signature_is_a_task_error(inputs):
    with pytest.raises(TaskError):
        toy_tasks.from_function("x", lambda **kw: 0, inputs=inputs)


def test_a_task_needs_a_name():
    with pytest.raises(TaskError):
        toy_tasks.from_function("", lambda a: a, inputs={"a": Int(0, 2)})


def test_verify_of_a_function_task_checks_the_program_against_the_signature():
    task = toy_tasks.from_function("first", _first_index, inputs=LIST_T)
    with pytest.raises(TaskError):
        task.verify("def f(xs, u):\n    return u\n")
    with pytest.raises(TaskError, match="xs"):
        task.verify("def f(xs, t):\n    return xs + t\n")


# --- huge domains -----------------------------------------------------------------------------------------


def test_a_function_over_a_huge_domain_is_sampled_with_a_note():
    task = toy_tasks.from_function("wide", lambda a, b: a ^ b, inputs={"a": Int(0, 2**40), "b": Int(0, 2**40)})
    assert not task.enumerable
    ex = task.examples(None)
    assert ex.complete is False and "sample" in ex.note
    assert 0 < len(ex) < task.domain_size
    np.testing.assert_array_equal(ex.outputs, ex.inputs["a"] ^ ex.inputs["b"])
    v = task.verify("def f(a, b):\n    return b ^ a\n")
    assert v.equal and v.method == "sampled" and not v.proved
    v = task.verify("def f(a, b):\n    return a | b\n")
    assert not v.equal and v.method == "sampled"
    x = v.counterexample
    assert v.outputs == (x["a"] | x["b"], x["a"] ^ x["b"])


def test_a_scan_over_long_sequences_is_sampled():
    task = toy_tasks.from_function("long", _running_parity, inputs={"xs": Seq(Int(0, 2), length=(1, 30))})
    assert not task.enumerable and task.kind == "scan"
    ex = task.examples(None)
    assert not ex.complete and "sample" in ex.note
    for x, y in itertools.islice(ex.rows(), 200):
        assert y == _running_parity(x["xs"])


# --- functions that hang or are slow -------------------------------------------------------------------


def _spin_on(a_value):
    def fn(a, b):
        if a == a_value:
            while True:
                pass
        return a + b

    return fn


def _sleep_on(a, b):
    if (a, b) == (5, 1):
        time.sleep(10**6)
    return a


@pytest.mark.parametrize("fn, where", [(_spin_on(3), "'a': 3"), (_sleep_on, "{'a': 5, 'b': 1}"), (_spin_on(0), "'a': 0")])
def test_a_function_that_hangs_is_a_task_error_naming_the_input(fn, where):
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(TaskError) as err:
        toy_tasks.from_function("stuck", fn, inputs=PAIR, seconds=0.5)
    message = str(err.value)
    assert "task stuck" in message and "did not return within 0.5 s" in message, message
    assert where in message and "seconds=" in message, message
    # the handler and the (absent) timer are as they were
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_function_that_hangs_on_a_later_sample_is_stopped_too():
    hang = {"now": False}

    def xor(a, b):
        while hang["now"]:
            pass
        return a ^ b

    task = toy_tasks.from_function("later", xor, inputs={"a": Int(0, 2**40), "b": Int(0, 2**40)}, seconds=0.5)
    assert not task.enumerable and task.truth_seconds == 0.5
    hang["now"] = True
    with pytest.raises(TaskError, match="did not return within 0.5 s"):
        task.examples(10, seed=7)
    hang["now"] = False
    assert len(task.examples(10, seed=7)) == 10


def test_an_outer_timer_is_restored_with_its_handler():
    fired = []

    def outer(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 100.0, 50.0)
    try:
        with pytest.raises(TaskError):
            toy_tasks.from_function("stuck", _spin_on(2), inputs=PAIR, seconds=0.3)
        assert signal.getsignal(signal.SIGALRM) is outer
        left, interval = signal.getitimer(signal.ITIMER_REAL)
        # still armed with its interval, and charged the 0.3 s limit the function ran into (at least that
        # much passed); not re-armed at its full 100 s
        assert 0.0 < left <= 100.0 - 0.3 and interval == 50.0, (left, interval)
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _OuterAlarm(BaseException):
    pass


def test_an_earlier_outer_timer_is_left_to_fire():
    def outer(signum, frame):
        raise _OuterAlarm()

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(_OuterAlarm):
            toy_tasks.from_function("stuck", _spin_on(2), inputs=PAIR, seconds=30.0)
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_off_the_main_thread_a_slow_function_is_stopped_between_calls():
    def slow(a, b):
        time.sleep(0.02)
        return a

    errors: list[BaseException] = []

    def build():
        try:
            toy_tasks.from_function("slow", slow, inputs=PAIR, seconds=0.2)
        except BaseException as err:  # noqa: BLE001  (handed to the test thread)
            errors.append(err)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], TaskError), errors
    assert "did not return within 0.2 s" in str(errors[0])


def test_a_fast_function_is_unaffected_by_the_limit():
    task = toy_tasks.from_function("quick", lambda a, b: a * b, inputs=PAIR, seconds=5.0)
    assert task.verify("def f(a, b):\n    return b * a\n").proved
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan"), "10", None, True])
def test_a_bad_time_limit_is_a_task_error(seconds):
    with pytest.raises(TaskError, match="seconds"):
        toy_tasks.from_function("x", lambda a, b: a, inputs=PAIR, seconds=seconds)


# --- examples and programs of the wrong shape ---------------------------------------------------------------


def _examples_cases():
    task = toy_tasks.get("maximum", bits=3)
    ex = task.examples(20, seed=0)
    a, b, y = ex.inputs["a"], ex.inputs["b"], ex.outputs
    scan = toy_tasks.get("running_parity", length=5)
    sx = scan.examples(20, seed=0)
    xs = sx.inputs["xs"]
    return [
        (task, Examples({"a": a, "b": b[:10]}, y), ["'b' has 10 rows", "one row per example"]),
        (task, Examples({"a": a, "b": b}, y[:5]), ["20 rows", "5 outputs"]),
        (task, Examples({"x": a, "b": b}, y), ["missing ['a']", "unexpected ['x']", "must be named"]),
        (task, Examples({"a": a}, y), ["missing ['b']"]),
        (task, Examples({"a": a, "b": b}, np.stack([y, y], axis=1)), ["shape (20,)", "(20, 2)"]),
        (task, Examples({"a": a + 0.5, "b": b}, y), ["'a'", "integers", "float64"]),
        (task, Examples({"a": a[:, None], "b": b}, y), ["'a' is a scalar", "[n]"]),
        (task, Examples({"a": list(a), "b": b}, y), ["'a'", "numpy array", "list"]),
        (task, Examples({"a": a, "b": b}, np.array(3)), ["single value"]),
        (task, Examples({"a": a, "b": b}, np.int64(3)), ["'outputs'", "numpy array"]),
        (task, Examples([("a", a)], y), ["dict"]),
        (scan, Examples({"xs": xs[:, 0]}, sx.outputs, sx.lengths), ["'xs' is a sequence", "[n, max_length]"]),
        (scan, Examples({"xs": xs}, sx.outputs, sx.lengths[:3]), ["lengths must have shape (20,)"]),
        (scan, Examples({"xs": xs}, sx.outputs, sx.lengths + 10), ["lengths must lie in [0, 5]"]),
        (scan, Examples({"xs": xs}, sx.outputs[:, 0], sx.lengths), ["scan", "(20, 5)"]),
    ]


@pytest.mark.parametrize("case", range(len(_examples_cases())))
def test_examples_of_the_wrong_shape_are_named(case):
    task, ex, words = _examples_cases()[case]
    errors = task.example_errors(ex)
    assert errors
    for word in words:
        assert any(word in e for e in errors), (word, errors)


def test_well_formed_examples_have_no_errors():
    for task in (toy_tasks.get("maximum", bits=3), toy_tasks.get("running_parity", length=5),
                 toy_tasks.from_function("dm", lambda a, b: (a, b), inputs=PAIR)):
        assert task.example_errors(task.examples(10, seed=1)) == []
        assert task.example_errors(task.examples()) == []
        a, b = task.split(0.5)
        assert task.example_errors(a) == [] == task.example_errors(b)


@pytest.mark.parametrize("program, error", [
    (42, TaskError), (None, TaskError), (["def f(a, b):"], TaskError),
    ("def f(a, b):\n    return a +\n", ProgramError), ("", ProgramError), ("def f(a):\n    return a\n", TaskError),
    ("def f(a, b, c):\n    return a\n", TaskError), ("def f(a, b):\n    for x in a:\n        yield x\n", TaskError),
])
def test_verify_with_a_program_of_the_wrong_shape_is_a_typed_error(program, error):
    with pytest.raises(error):
        toy_tasks.get("maximum", bits=3).verify(program)
    with pytest.raises(error):
        toy_tasks.from_function("mx", lambda a, b: max(a, b), inputs=PAIR).verify(program)


def test_verify_with_a_scan_for_a_function_task_is_a_stated_difference():
    task = toy_tasks.from_function("first", _first_index, inputs=LIST_T)
    v = task.verify("def f(xs, t):\n    for x in xs:\n        yield x\n")
    assert not v.equal and "scan" in v.detail and "fold" in v.detail
