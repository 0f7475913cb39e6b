"""The registry: built-in names, suites, ``get`` with parameters, typed errors, operator sets."""
from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import toy_tasks
from programs import DomainError, Int, Seq
from programs.ast import Binary, Call, IfExp, Unary, walk
from toy_tasks import TaskError
from toy_tasks import strategies as tbst
from toy_tasks.registry import FAMILY_OPERATORS
from toy_tasks.task import ALL_OPERATORS

FAMILIES = {"modular", "boolean", "integer", "scan", "search"}


def _base(name: str) -> str:
    return name.split("[", 1)[0]


def _operators_used(program) -> set[str]:
    """Operators of a program as the task operator sets name them."""
    used = set()
    for stmt in program.body:
        for node in walk(stmt):
            if isinstance(node, Binary):
                used.add(node.op)
            elif isinstance(node, Unary):
                used.add({"-": "neg", "not": "not"}[node.op])
            elif isinstance(node, Call):
                used.add(node.func)
            elif isinstance(node, IfExp):
                used.add("if")
    return used


def _all_builtin_tasks():
    seen, out = set(), []
    for t in [toy_tasks.get(n) for n in toy_tasks.names()] + toy_tasks.suite("quick") + toy_tasks.suite("scaling"):
        if t.name not in seen:
            seen.add(t.name)
            out.append(t)
    return out


BUILTIN = _all_builtin_tasks()


# --- names and suites ---------------------------------------------------------------------------


def test_names_has_at_least_forty_tasks_across_the_five_families():
    names = toy_tasks.names()
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert names == sorted(names)
    families = {toy_tasks.get(n).family for n in names}
    assert families == FAMILIES
    assert set(toy_tasks.families()) == FAMILIES
    per_family = defaultdict(int)
    for n in names:
        per_family[toy_tasks.get(n).family] += 1
    assert all(count >= 3 for count in per_family.values()), dict(per_family)


def test_quick_suite_is_small_and_covers_every_family():
    quick = toy_tasks.names("quick")
    assert 1 <= len(quick) <= 12
    assert len(set(quick)) == len(quick)
    tasks = toy_tasks.suite("quick")
    assert [t.name for t in tasks] == quick
    assert {t.family for t in tasks} == FAMILIES
    assert all(_base(n) in toy_tasks.names() for n in quick)


def test_standard_suite_is_every_task():
    assert toy_tasks.names("standard") == toy_tasks.names()
    assert [t.name for t in toy_tasks.suite("standard")] == toy_tasks.names()


def test_scaling_suite_has_each_family_at_four_or_more_rising_difficulties():
    tasks = toy_tasks.suite("scaling")
    assert [t.name for t in tasks] == toy_tasks.names("scaling")
    by_family: dict[str, set[float]] = defaultdict(set)
    by_base: dict[str, list] = defaultdict(list)
    for t in tasks:
        by_family[t.family].add(t.difficulty)
        by_base[_base(t.name)].append(t)
    assert set(by_family) == FAMILIES
    for family, difficulties in by_family.items():
        assert len(difficulties) >= 4, (family, sorted(difficulties))
    for base, instances in by_base.items():
        assert len(instances) >= 4, base
        assert len({t.family for t in instances}) == 1
        difficulties = [t.difficulty for t in instances]
        assert difficulties == sorted(difficulties) and len(set(difficulties)) == len(difficulties), (base, difficulties)
        # One knob turns, the rest stay put, and the knob only goes up.
        knobs = [k for k in instances[0].params if len({t.params[k] for t in instances}) > 1]
        assert len(knobs) == 1, (base, knobs)
        values = [t.params[knobs[0]] for t in instances]
        assert values == sorted(values) and len(set(values)) == len(values)


def test_unknown_suite_is_a_task_error_naming_the_suites():
    for call in (toy_tasks.suite, toy_tasks.names):
        with pytest.raises(TaskError) as err:
            call("fast")
        message = str(err.value)
        assert "fast" in message
        for name in ("quick", "standard", "scaling"):
            assert name in message


# --- get ----------------------------------------------------------------------------------------


def test_get_with_parameters_names_the_instance():
    t = toy_tasks.get("modular_addition", p=7)
    assert t.name == "modular_addition[p=7]"
    assert t.family == "modular"
    assert t.params == {"p": 7}
    assert t.inputs == {"a": Int(0, 7), "b": Int(0, 7)}
    assert t.difficulty == 7
    assert (t.kind, t.arity) == ("function", 1)
    assert t.reference(a=5, b=4) == 2


def test_get_by_bracketed_name_gives_the_same_task():
    a = toy_tasks.get("modular_addition", p=7)
    b = toy_tasks.get("modular_addition[p=7]")
    assert a is b or (
        (a.name, a.family, a.params, a.inputs, a.difficulty, a.kind, a.arity, a.operators, a.reference)
        == (b.name, b.family, b.params, b.inputs, b.difficulty, b.kind, b.arity, b.operators, b.reference)
    )
    assert b.name == "modular_addition[p=7]"
    assert toy_tasks.get("modular_addition", p=11).name != b.name


def test_default_parameters_give_the_bare_name():
    default = toy_tasks.get("modular_addition")
    assert default.name == "modular_addition"
    assert toy_tasks.get("modular_addition", **default.params).name == "modular_addition"
    assert toy_tasks.get(f"modular_addition[p={default.params['p']}]").name == "modular_addition"


@pytest.mark.parametrize("name", sorted({t.name for t in BUILTIN}))
def test_every_builtin_name_round_trips_through_get(name):
    t = toy_tasks.get(name)
    assert t.name == name
    assert toy_tasks.get(_base(name), **t.params).name == name


def test_several_parameters_round_trip_in_a_name():
    t = toy_tasks.get("running_sum_mod", k=5, length=4)
    assert t.name == "running_sum_mod[k=5,length=4]"
    same = toy_tasks.get(t.name)
    assert (same.name, same.params, same.inputs) == (t.name, {"k": 5, "length": 4}, t.inputs)
    assert same.inputs["xs"] == Seq(Int(0, 5), length=(1, 4))


# --- get over the parameter ranges, property-based ---------------------------------------------------

# The range of every parameter of every built-in task, as each factory checks it (and states it in its
# TaskError). Written out here, not read from the code, so that a changed range is a deliberate edit.
BITS = {"bits": (1, 16)}
SCAN_LENGTH = (1, 64)
SEARCH = {"values": (2, 64), "length": (1, 32)}
RANGES = {
    **{n: {"n": (1, 20)} for n in ("parity", "majority", "conjunction", "one_hot")},
    "at_least_two": {"n": (2, 20)},
    "multiplexer": {"k": (1, 4)},
    **{n: {"m": (1, 10)} for n in ("bits_equal", "greater_than", "adder_carry", "adder_top_bit")},
    **{n: BITS for n in ("absolute_difference", "clamp", "collatz_step", "in_range", "maximum", "maximum_of_three",
                         "mean_floor", "median_of_three", "minimum", "relu", "sign")},
    **{n: {"p": (2, 1 << 15)} for n in ("modular_addition", "modular_subtraction", "modular_multiplication",
                                        "modular_sum_of_squares", "modular_difference_of_squares",
                                        "modular_linear_combination", "modular_cubic")},
    **{n: {"length": SCAN_LENGTH} for n in ("running_parity", "binary_addition", "bracket_balance", "dot_product_mod2",
                                            "running_majority", "constant_acceleration")},
    "running_sum_mod": {"k": (2, 64), "length": SCAN_LENGTH},
    "stream_addition": {"base": (2, 16), "length": SCAN_LENGTH},
    "divisibility": {"k": (2, 64), "length": SCAN_LENGTH},
    "parity_last_k": {"k": (2, 12), "length": SCAN_LENGTH},
    "previous_element": {"k": (1, 8), "values": (2, 64), "length": SCAN_LENGTH},
    "running_max": {"values": (2, 256), "length": SCAN_LENGTH},
    "running_min": {"values": (2, 256), "length": SCAN_LENGTH},
    "pattern_detector": {"k": (2, 10), "length": SCAN_LENGTH},
    "running_sum": {"values": (2, 256), "length": SCAN_LENGTH},
    "sum_last_k": {"k": (2, 8), "values": (2, 64), "length": SCAN_LENGTH},
    "run_length": {"values": (2, 64), "length": SCAN_LENGTH},
    **{n: SEARCH for n in ("first_index", "last_index", "contains", "count", "insertion_point", "argmax", "argmin",
                           "max_value", "is_sorted")},
}


def test_the_ranges_cover_every_task_and_parameter_hold_the_defaults_and_every_corner_builds():
    factories = toy_tasks.factories()
    assert set(RANGES) == set(factories)
    for name, factory in factories.items():
        assert set(RANGES[name]) == set(factory.defaults), name
        assert all(lo <= factory.defaults[k] <= hi for k, (lo, hi) in RANGES[name].items()), name
        keys = sorted(RANGES[name])
        for corner in itertools.product(*(RANGES[name][k] for k in keys)):
            assert toy_tasks.get(name, **dict(zip(keys, corner))).params == {**factory.defaults, **dict(zip(keys, corner))}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_parameters_in_range_give_a_stably_named_task_whose_reference_is_its_definition(data):
    name = data.draw(st.sampled_from(sorted(RANGES)), label="task")
    params = {k: data.draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)), label=k)
              for k, (lo, hi) in RANGES[name].items()}
    task = toy_tasks.get(name, **params)
    defaults = toy_tasks.factories()[name].defaults
    assert task.params == {k: params[k] for k in defaults}
    assert task.name == (name if params == defaults else f"{name}[{','.join(f'{k}={params[k]}' for k in defaults)}]")
    for same in (toy_tasks.get(task.name), toy_tasks.get(name, **task.params)):
        assert (same.name, same.params, same.inputs, same.reference) == (task.name, task.params, task.inputs, task.reference)
    if task.domain_size <= 4096:  # the whole domain: the check `tractbench tasks --verify` makes
        v = task.check_definition()
        assert v.equal and v.checked == task.domain_size, (task.name, v.counterexample, v.outputs)
    else:  # too large to enumerate at every draw: random inputs of the domain
        for _ in range(5):
            x = data.draw(tbst.task_inputs(task), label="input")
            assert task.reference(**x) == task.definition(**x), (task.name, x)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_a_parameter_out_of_range_is_a_task_error_naming_it(data):
    name = data.draw(st.sampled_from(sorted(RANGES)), label="task")
    key = data.draw(st.sampled_from(sorted(RANGES[name])), label="parameter")
    lo, hi = RANGES[name][key]
    value = data.draw(st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1)), label="value")
    for attempt in (lambda: toy_tasks.get(name, **{key: value}), lambda: toy_tasks.get(f"{name}[{key}={value}]")):
        with pytest.raises(TaskError) as err:
            attempt()
        message = str(err.value)
        assert f"parameter {key} must be an integer between {lo} and {hi}" in message and str(value) in message, message


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("typo, meant", [
    ("modular_additon", "modular_addition"),
    ("runing_parity", "running_parity"),
    ("first_idx", "first_index"),
    ("modular_addition_", "modular_addition"),
])
def test_unknown_name_suggests_the_closest_names(typo, meant):
    with pytest.raises(TaskError) as err:
        toy_tasks.get(typo)
    message = str(err.value)
    assert typo in message
    assert meant in message


def test_unknown_name_with_nothing_close_points_to_names():
    with pytest.raises(TaskError) as err:
        toy_tasks.get("qqqqqqqqqqqq")
    assert "names()" in str(err.value)


def test_task_error_is_a_value_error():
    assert issubclass(TaskError, ValueError)


def test_unknown_parameter_lists_the_real_ones():
    with pytest.raises(TaskError) as err:
        toy_tasks.get("modular_addition", q=7)
    message = str(err.value)
    assert "'q'" in message and "p=" in message
    with pytest.raises(TaskError, match="length"):
        toy_tasks.get("running_parity[n=3]")


@pytest.mark.parametrize("p", [1, 0, -3])
def test_modulus_below_two_is_refused(p):
    with pytest.raises(TaskError) as err:
        toy_tasks.get("modular_addition", p=p)
    message = str(err.value)
    assert "p" in message and str(p) in message and "2" in message


@pytest.mark.parametrize("value", [2.5, "7", None, True, 7.0])
def test_non_integer_parameters_are_refused(value):
    with pytest.raises(TaskError, match="integer"):
        toy_tasks.get("modular_addition", p=value)


@pytest.mark.parametrize("name", ["modular_addition[p=x]", "modular_addition[p=2.5]", "modular addition", "", "[p=3]"])
def test_malformed_names_are_task_errors(name):
    with pytest.raises(TaskError):
        toy_tasks.get(name)


def test_parameters_out_of_range_in_other_families_are_task_errors():
    for name, params in [("parity", {"n": 0}), ("running_sum_mod", {"k": 1}), ("first_index", {"length": 0}),
                         ("maximum", {"bits": 0}), ("multiplexer", {"k": 9})]:
        with pytest.raises(TaskError, match=next(iter(params))):
            toy_tasks.get(name, **params)


@pytest.mark.parametrize("make", [
    lambda: Int(3, 3),
    lambda: Int(5, 2),
    lambda: Int(0, 2.5),
    lambda: Seq(Int(0, 2), length=0),
    lambda: Seq(Int(0, 2), length=(3, 1)),
    lambda: Seq(Int(0, 2), length=(0, 4)),
    lambda: Seq(Int(0, 2), length=(1, 2, 3)),
    lambda: Seq(range(3), length=3),
])
def test_impossible_domains_are_domain_errors_with_a_message(make):
    with pytest.raises(DomainError) as err:
        make()
    assert isinstance(err.value, ValueError)
    assert len(str(err.value)) > 10


def test_empty_int_message_explains_the_half_open_range():
    with pytest.raises(DomainError, match="half-open"):
        Int(3, 3)


# --- operators ------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", BUILTIN, ids=lambda t: t.name)
def test_reference_uses_only_the_task_operators(task):
    assert task.reference is not None
    used = _operators_used(task.reference)
    assert used <= set(task.operators), (task.name, used - set(task.operators))
    assert set(task.operators) <= set(ALL_OPERATORS)


def test_family_operator_sets():
    assert set(FAMILY_OPERATORS) >= FAMILIES
    for family in FAMILIES:
        ops = FAMILY_OPERATORS[family]
        assert len(set(ops)) == len(ops), family
        assert set(ops) <= set(ALL_OPERATORS), family
    assert set(FAMILY_OPERATORS["modular"]) == {"+", "-", "*", "%"}
    assert {"&", "|", "^", "not"} <= set(FAMILY_OPERATORS["boolean"])
    assert {"min", "max", "abs", "+", "-"} <= set(FAMILY_OPERATORS["integer"])
    assert {"+", "%", "^", "==", "if"} <= set(FAMILY_OPERATORS["scan"])
    assert {"==", "<", "if", "+"} <= set(FAMILY_OPERATORS["search"])
    # Every built-in task exposes its family's set (no built-in overrides it today).
    for t in BUILTIN:
        assert t.operators == FAMILY_OPERATORS[t.family], t.name


def test_modular_tasks_together_use_their_whole_operator_set():
    used_by_family: dict[str, set[str]] = defaultdict(set)
    for t in BUILTIN:
        used_by_family[t.family] |= _operators_used(t.reference)
    assert used_by_family["modular"] == {"+", "-", "*", "%"}
    for family in FAMILIES:
        assert used_by_family[family] <= set(FAMILY_OPERATORS[family])
