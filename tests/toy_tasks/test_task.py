"""Task behaviour: the domain, examples, splits, rows, and verification with the method it used."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import toy_tasks
from programs import Int, ProgramError, Seq, evaluate, parse
from programs.interpreter import run
from toy_tasks import Examples, TaskError


def _domain_rows(inputs) -> set[tuple]:
    """Every input of a signature as a hashable row, enumerated independently of the library."""
    names = list(inputs)
    seqs = [n for n in names if isinstance(inputs[n], Seq)]
    lengths = inputs[seqs[0]].lengths if seqs else [None]
    rows = set()
    for length in lengths:
        choices = []
        for n in names:
            d = inputs[n]
            if isinstance(d, Int):
                choices.append(range(d.lo, d.hi))
            else:
                choices.append([tuple(c) for c in itertools.product(range(d.element.lo, d.element.hi), repeat=length)])
        for combo in itertools.product(*choices):
            rows.add(tuple(combo))
    return rows


def _key(x: dict, names) -> tuple:
    return tuple(tuple(x[n]) if isinstance(x[n], list) else x[n] for n in names)


def _rows(ex: Examples, names) -> list[tuple]:
    return [_key(x, names) for x, _ in ex.rows()]


def _truth(task, ex: Examples) -> np.ndarray:
    if task.sequences:
        return evaluate(task.reference, ex.inputs, ex.lengths)
    return evaluate(task.reference, ex.inputs)


SMALL = toy_tasks.suite("quick") + [
    toy_tasks.get("running_min", values=3, length=3),
    toy_tasks.get("stream_addition", base=2, length=3),
    toy_tasks.get("clamp", bits=2),
    toy_tasks.get("sign", bits=3),
]
ids = [t.name for t in SMALL]


# --- the whole domain ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", SMALL, ids=ids)
def test_examples_none_is_the_whole_domain(task):
    ex = task.examples()
    names = list(task.inputs)
    assert ex.complete is True
    assert len(ex) == task.domain_size
    rows = _rows(ex, names)
    assert len(set(rows)) == len(rows)
    assert set(rows) == _domain_rows(task.inputs)
    assert ex.scan == (task.kind == "scan")
    np.testing.assert_array_equal(ex.outputs, _truth(task, ex))
    assert ex.outputs.shape[0] == len(ex)


@pytest.mark.parametrize("task", SMALL, ids=ids)
def test_rows_agree_with_the_scalar_interpreter(task):
    for x, y in itertools.islice(task.examples(n=min(40, task.domain_size), seed=3).rows(), 40):
        assert y == run(task.reference, x)


@pytest.mark.parametrize("task", SMALL, ids=ids)
def test_rows_are_plain_python_values(task):
    for x, y in task.examples(n=min(50, task.domain_size), seed=1).rows():
        assert list(x) == list(task.inputs)
        lengths = set()
        for name, value in x.items():
            dom = task.inputs[name]
            if isinstance(dom, Int):
                assert type(value) is int and value in dom
            else:
                assert type(value) is list and all(type(v) is int and v in dom.element for v in value)
                assert dom.min_length <= len(value) <= dom.max_length
                lengths.add(len(value))
        assert len(lengths) <= 1
        if task.kind == "scan":
            assert type(y) is list and len(y) == lengths.pop()
            assert all(type(v) is int for v in y)
        elif task.arity == 1:
            assert type(y) is int
        else:
            assert type(y) is tuple and len(y) == task.arity


def test_sequences_are_padded_with_zero_beyond_their_lengths():
    task = toy_tasks.get("running_min", values=3, length=3)  # starts at 2: a real output is never 0-padded by luck
    ex = task.examples()
    xs = ex.inputs["xs"]
    assert xs.shape == (len(ex), 3) and ex.lengths.shape == (len(ex),)
    assert set(ex.lengths.tolist()) == {1, 2, 3}
    past = np.arange(3)[None, :] >= ex.lengths[:, None]
    assert past.any()
    assert (xs[past] == 0).all()
    assert (ex.outputs[past] == 0).all()
    # Lengths are per row: [2] and [2, 0] are different inputs, told apart by their lengths alone.
    rows = _rows(ex, ["xs"])
    assert {((2,),), ((2, 0),)} <= set(rows) and len(set(rows)) == 3 + 9 + 27
    for x, y in ex.rows():
        assert y == [min(x["xs"][: i + 1]) for i in range(len(x["xs"]))]


def test_scan_rows_give_one_output_per_step():
    task = toy_tasks.get("binary_addition", length=3)
    for x, y in task.examples().rows():
        a = sum(v << i for i, v in enumerate(x["xs"]))
        b = sum(v << i for i, v in enumerate(x["ys"]))
        n = len(x["xs"])
        assert y == [((a + b) >> i) & 1 for i in range(n)]


# --- samples -----------------------------------------------------------------------------------------


def test_examples_with_n_are_deterministic_distinct_and_in_the_domain():
    task = toy_tasks.get("modular_addition", p=7)
    names = list(task.inputs)
    a, b = task.examples(10, seed=5), task.examples(10, seed=5)
    assert len(a) == 10
    for k in names:
        np.testing.assert_array_equal(a.inputs[k], b.inputs[k])
    np.testing.assert_array_equal(a.outputs, b.outputs)
    rows = _rows(a, names)
    assert len(set(rows)) == 10
    assert set(rows) <= _domain_rows(task.inputs)
    assert a.complete is False and "5" in a.note
    np.testing.assert_array_equal(a.outputs, (a.inputs["a"] + a.inputs["b"]) % 7)
    others = {frozenset(_rows(task.examples(10, seed=s), names)) for s in range(6, 10)}
    assert len(others | {frozenset(rows)}) > 1  # seeds matter


@pytest.mark.parametrize("task", [toy_tasks.get("first_index", values=3, length=3), toy_tasks.get("running_parity", length=5)],
                         ids=lambda t: t.name)
def test_sequence_samples_are_distinct_and_in_the_domain(task):
    names = list(task.inputs)
    ex = task.examples(25, seed=2)
    rows = _rows(ex, names)
    assert len(ex) == 25 and len(set(rows)) == 25
    assert set(rows) <= _domain_rows(task.inputs)
    np.testing.assert_array_equal(ex.outputs, _truth(task, ex))


def test_asking_for_more_than_the_domain_gives_the_domain():
    task = toy_tasks.get("modular_addition", p=5)
    ex = task.examples(1000, seed=0)
    assert len(ex) == 25 and ex.complete


def test_zero_examples():
    ex = toy_tasks.get("modular_addition", p=5).examples(0)
    assert len(ex) == 0 and list(ex.rows()) == []


@pytest.mark.parametrize("n", [-1, 2.5, True, "3"])
def test_bad_counts_are_task_errors(n):
    with pytest.raises(TaskError):
        toy_tasks.get("modular_addition", p=5).examples(n)


# --- splits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", [toy_tasks.get("modular_addition", p=7), toy_tasks.get("first_index", values=3, length=3),
                                  toy_tasks.get("running_parity", length=5)], ids=lambda t: t.name)
def test_split_is_a_disjoint_cover_of_the_domain(task):
    names = list(task.inputs)
    train, test = task.split(0.5, seed=1)
    a, b = _rows(train, names), _rows(test, names)
    assert len(set(a)) == len(a) and len(set(b)) == len(b)
    assert not set(a) & set(b)
    assert set(a) | set(b) == _domain_rows(task.inputs)
    assert len(a) == round(0.5 * task.domain_size)
    assert not train.complete and not test.complete
    np.testing.assert_array_equal(train.outputs, _truth(task, train))
    np.testing.assert_array_equal(test.outputs, _truth(task, test))
    again, _ = task.split(0.5, seed=1)
    assert _rows(again, names) == a
    assert {frozenset(_rows(task.split(0.5, seed=s)[0], names)) for s in range(2, 6)} != {frozenset(a)}


def test_split_by_counts():
    task = toy_tasks.get("modular_addition", p=7)
    names = list(task.inputs)
    train, test = task.split(train=10, test=5, seed=4)
    a, b = _rows(train, names), _rows(test, names)
    assert (len(a), len(b)) == (10, 5)
    assert len(set(a) | set(b)) == 15
    assert set(a) | set(b) <= _domain_rows(task.inputs)
    train0, test0 = task.split(0.0)
    assert len(train0) == 0 and len(test0) == 49


@pytest.mark.parametrize("kwargs", [dict(train=40, test=10), dict(train=50), dict(train=1.5), dict(train=-0.1),
                                    dict(train=-1), dict(train=10, test=2.0)])
def test_impossible_splits_are_task_errors(kwargs):
    with pytest.raises(TaskError):
        toy_tasks.get("modular_addition", p=7).split(**kwargs)


# --- verification ------------------------------------------------------------------------------------


def _assert_counterexample(task, wrong, v):
    assert v.equal is False and not v.proved and not v
    x = v.counterexample
    assert x is not None and set(x) == set(task.inputs)
    for name, value in x.items():
        dom = task.inputs[name]
        if isinstance(dom, Int):
            assert value in dom
        else:
            assert all(e in dom.element for e in value) and dom.min_length <= len(value) <= dom.max_length
    got, want = run(wrong, x), run(task.reference, x)
    assert got != want
    assert v.outputs == (got, want)


@pytest.mark.parametrize("task", toy_tasks.suite("quick") + [toy_tasks.get(n) for n in ("running_max", "stream_addition", "is_sorted")],
                         ids=lambda t: t.name)
def test_the_reference_verifies_with_a_proving_method(task):
    v = task.verify(task.reference)
    assert v.equal and v.proved and v.counterexample is None
    assert v.method in {"exhaustive", "z3", "product-machine", "bounded-z3"}
    if task.kind == "function":
        assert v.method == "exhaustive" and v.checked == task.domain_size
    if task.kind == "scan":
        assert v.method == "product-machine"
    assert task.verify(str(task.reference)).equal


def test_a_wrong_modular_program_gets_a_counterexample():
    task = toy_tasks.get("modular_addition", p=7)
    wrong = parse("def f(a, b):\n    return (a - b) % 7\n")
    v = task.verify(wrong)
    assert v.method == "exhaustive"
    _assert_counterexample(task, wrong, v)


def test_a_program_wrong_on_one_input_is_caught():
    task = toy_tasks.get("modular_multiplication", p=11)
    wrong = parse("def f(a, b):\n    return (a * b) % 11 if a != 9 or b != 4 else 0\n")
    v = task.verify(wrong)
    _assert_counterexample(task, wrong, v)
    assert v.counterexample == {"a": 9, "b": 4}


def test_an_equivalent_rewrite_is_proved():
    task = toy_tasks.get("modular_addition", p=7)
    v = task.verify("def g(b, a):\n    t = b + a\n    return t - 7 if t >= 7 else t\n")
    assert v.equal and v.proved and v.method == "exhaustive"


def test_a_scan_off_at_one_step_is_caught_by_the_product_machine():
    task = toy_tasks.get("running_parity", length=6)
    wrong = parse(
        "def f(xs):\n    s = 0\n    i = 0\n    for x in xs:\n        s = s ^ x\n        i = i + 1\n"
        "        yield 1 - s if i == 4 else s\n"
    )
    v = task.verify(wrong)
    assert v.method == "product-machine"
    _assert_counterexample(task, wrong, v)
    assert len(v.counterexample["xs"]) >= 4
    got, want = v.outputs
    assert [i for i in range(len(got)) if got[i] != want[i]] == [3]


def test_a_scan_wrong_only_past_the_length_bound_is_still_equal():
    task = toy_tasks.get("running_parity", length=4)
    late = parse(
        "def f(xs):\n    s = 0\n    i = 0\n    for x in xs:\n        s = s ^ x\n        i = min(i + 1, 9)\n"
        "        yield 1 - s if i == 5 else s\n"
    )
    v = task.verify(late)
    assert v.equal and v.proved


def test_a_fold_off_for_one_target_is_caught():
    task = toy_tasks.get("first_index", values=3, length=3)
    wrong = parse(str(task.reference).replace("return pos", "return -1 if t == 2 else pos"))
    v = task.verify(wrong)
    assert v.method == "product-machine"
    _assert_counterexample(task, wrong, v)
    assert v.counterexample["t"] == 2 and 2 in v.counterexample["xs"]


def test_wrong_kind_of_program_is_unequal_not_an_exception():
    task = toy_tasks.get("running_parity", length=4)
    fold = "def f(xs):\n    s = 0\n    for x in xs:\n        s = s ^ x\n    return s\n"
    v = task.verify(fold)
    assert not v.equal and v.counterexample is not None


def test_parameters_that_do_not_match_are_task_errors():
    task = toy_tasks.get("modular_addition", p=7)
    for source in ("def f(a, c):\n    return a\n", "def f(a):\n    return a\n", "def f(a, b, c):\n    return a\n"):
        with pytest.raises(TaskError) as err:
            task.verify(source)
        assert "a" in str(err.value) and "b" in str(err.value)


def test_a_sequence_read_as_a_scalar_is_a_task_error():
    task = toy_tasks.get("running_parity", length=4)
    with pytest.raises(TaskError, match="xs"):
        task.verify("def f(xs):\n    return xs + 1\n")
    fold = toy_tasks.get("first_index", values=3, length=3)
    with pytest.raises(TaskError, match="xs"):
        fold.verify("def f(xs, t):\n    return xs == t\n")


def test_a_scalar_looped_over_is_a_task_error():
    task = toy_tasks.get("first_index", values=3, length=3)
    with pytest.raises(TaskError, match="'t'"):
        task.verify("def f(xs, t):\n    s = 0\n    for x, y in zip(xs, t):\n        s = s + y\n    return s\n")


def test_malformed_program_text_is_a_program_error():
    with pytest.raises(ProgramError):
        toy_tasks.get("modular_addition", p=7).verify("def f(a, b):\n    return a +\n")


# --- huge domains --------------------------------------------------------------------------------


WIDE = toy_tasks.from_program("wide_sum", "def f(a, b):\n    return a + b\n", inputs={"a": Int(0, 2**40), "b": Int(0, 2**40)})


def test_a_huge_domain_is_proved_by_z3():
    assert not WIDE.enumerable and WIDE.domain_size == 2**80
    v = WIDE.verify("def f(a, b):\n    return b + a\n")
    assert v.equal and v.proved and v.method == "z3"


def test_z3_finds_a_planted_single_point_difference():
    wrong = parse("def f(a, b):\n    return a + b + (a == 123456789)\n")
    v = WIDE.verify(wrong)
    assert v.method == "z3"
    _assert_counterexample(WIDE, wrong, v)
    assert v.counterexample["a"] == 123456789


def test_a_huge_domain_is_sampled_and_says_so():
    ex = WIDE.examples()
    assert ex.complete is False
    assert "sample" in ex.note
    assert 0 < len(ex) < WIDE.domain_size
    assert ((0 <= ex.inputs["a"]) & (ex.inputs["a"] < 2**40)).all()
    np.testing.assert_array_equal(ex.outputs, ex.inputs["a"] + ex.inputs["b"])
    a, b = WIDE.examples(100, seed=7), WIDE.examples(100, seed=7)
    assert len(a) == 100
    np.testing.assert_array_equal(a.inputs["a"], b.inputs["a"])
    assert not np.array_equal(a.inputs["a"], WIDE.examples(100, seed=8).inputs["a"])


MID = toy_tasks.from_program("mid_succ", "def f(a):\n    return a + 1\n", inputs={"a": Int(0, 2**21)})


def test_samples_of_a_large_domain_are_distinct():
    ex = MID.examples(20_000, seed=1)
    assert len(set(ex.inputs["a"].tolist())) == 20_000


def test_split_of_a_large_domain_is_disjoint():
    train, test = MID.split(0.5)
    assert not set(train.inputs["a"].tolist()) & set(test.inputs["a"].tolist())
