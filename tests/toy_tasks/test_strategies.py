"""``toy_tasks.strategies``: random programs, program texts, tasks and task inputs for property tests."""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import toy_tasks
from programs import Int, Program, Seq, evaluate, parse
from programs.ast import Binary, Call, Const, IfExp, Unary, Var, variables, walk
from programs.domains import check_signature, enumerate_domain
from toy_tasks import strategies as tbst

# Drawing a program is slow (strategies are rebuilt per draw), so keep example counts modest.
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = {"a": Int(0, 8), "b": Int(-3, 3)}
SEQS = {"xs": Seq(Int(0, 3), length=(1, 3)), "ys": Seq(Int(0, 2), length=(1, 3)), "t": Int(0, 3)}


def _operators_used(program) -> set[str]:
    used = set()
    for stmt in program.body:
        for node in walk(stmt):
            if isinstance(node, Binary):
                used.add(node.op)
            elif isinstance(node, Unary):
                used.add("neg" if node.op == "-" else "not")
            elif isinstance(node, Call):
                used.add(node.func)
            elif isinstance(node, IfExp):
                used.add("if")
    return used


def _runs_on_the_domain(p: Program, sig) -> None:
    arrays, lengths = enumerate_domain(sig)
    out = evaluate(p, arrays, lengths if p.sequences else None)
    n = next(iter(arrays.values())).shape[0]
    assert out.shape[0] == n
    if p.kind == "scan":
        assert out.shape[1] == max(d.max_length for d in sig.values() if isinstance(d, Seq))
    expected_ndim = (2 if p.kind == "scan" else 1) + (1 if p.arity > 1 else 0)
    assert out.ndim == expected_ndim


# --- programs ------------------------------------------------------------------------------------------


@FEW
@given(tbst.programs(inputs=SCALARS, max_size=10))
def test_programs_over_scalars_are_valid_functions(p):
    assert isinstance(p, Program)
    assert p.params == ("a", "b")
    assert p.kind == "function"
    assert 1 <= p.size <= 10
    assert parse(str(p)) == p
    _runs_on_the_domain(p, SCALARS)


@FEW
@given(tbst.programs(inputs=SEQS, max_size=16))
def test_programs_over_sequences_are_scans_or_folds(p):
    assert isinstance(p, Program)
    assert p.params == ("xs", "ys", "t")
    assert p.kind in ("scan", "fold")
    assert p.sequences and set(p.sequences) <= {"xs", "ys"}
    assert "t" not in p.sequences
    assert p.size <= 16
    assert parse(str(p)) == p
    _runs_on_the_domain(p, SEQS)


@pytest.mark.parametrize("kind", ["scan", "fold"])
def test_the_kind_is_honoured(kind):
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tbst.programs(inputs=SEQS, max_size=14, kind=kind))
    def check(p):
        assert p.kind == kind and p.size <= 14
        if kind == "fold":
            assert p.arity == 1

    check()


def test_both_kinds_appear_without_a_kind():
    kinds = set()

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tbst.programs(inputs=SEQS, max_size=14))
    def check(p):
        kinds.add(p.kind)

    check()
    assert kinds == {"scan", "fold"}


@FEWER
@given(tbst.programs(inputs=SCALARS, max_size=12, operators=("+", "%", "min")))
def test_programs_use_only_the_operators_given(p):
    assert _operators_used(p) <= {"+", "%", "min"}


@FEWER
@given(tbst.programs(inputs={"n": Int(0, 4)}, max_size=8, name="g"))
def test_small_programs_with_a_name(p):
    assert p.name == "g" and p.params == ("n",) and p.size <= 8


# --- program texts --------------------------------------------------------------------------------------


@FEW
@given(st.one_of(tbst.program_sources(inputs=SCALARS, max_size=10), tbst.program_sources(inputs=SEQS, max_size=14)))
def test_program_sources_parse_and_print_stably(src):
    assert isinstance(src, str)
    p = parse(src)
    assert str(parse(str(p))) == str(p)
    assert parse(str(p)) == p
    # Comments and blank lines are layout only: without them the text means the same program.
    bare = "\n".join(line.split("#", 1)[0].rstrip() for line in src.splitlines() if line.split("#", 1)[0].strip()) + "\n"
    assert parse(bare) == p
    assert set(p.params) in ({"a", "b"}, {"xs", "ys", "t"})


def test_program_sources_vary_the_layout():
    texts = []

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(tbst.program_sources(inputs=SCALARS, max_size=10))
    def collect(src):
        texts.append(src)

    collect()
    assert any("#" in t for t in texts)
    assert any(t != str(parse(t)) for t in texts)


# --- expressions, domains, signatures ----------------------------------------------------------------


@SOME
@given(tbst.expressions(names=["u", "v"], max_leaves=4))
def test_expressions_read_only_the_names_given(e):
    assert variables(e) <= {"u", "v"}
    assert 1 <= sum(isinstance(n, (Var, Const)) for n in walk(e)) <= 4


@SOME
@given(tbst.domains(max_value=10, max_length=4))
def test_domains_are_valid(d):
    assert isinstance(d, (Int, Seq))
    if isinstance(d, Int):
        assert -10 <= d.lo < d.hi <= 20
    else:
        assert 1 <= d.min_length <= d.max_length <= 6


@SOME
@given(tbst.signatures(max_inputs=3))
def test_signatures_are_valid_and_share_one_length_range(sig):
    assert 1 <= len(sig) <= 3
    assert check_signature(dict(sig)) == sig
    ranges = {(d.min_length, d.max_length) for d in sig.values() if isinstance(d, Seq)}
    assert len(ranges) <= 1


# --- tasks and their inputs -------------------------------------------------------------------------------


QUICK = set(toy_tasks.names("quick"))
SCALING = set(toy_tasks.names("scaling"))


@SOME
@given(tbst.tasks(suite="quick"))
def test_tasks_are_drawn_from_the_suite(task):
    assert isinstance(task, toy_tasks.Task)
    assert task.name in QUICK


@SOME
@given(tbst.tasks())
def test_the_default_suite_is_quick(task):
    assert task.name in QUICK


@SOME
@given(tbst.tasks(suite="scaling", family="scan"))
def test_tasks_filtered_by_family(task):
    assert task.family == "scan" and task.name in SCALING


@SOME
@given(tbst.tasks(suite=None))
def test_tasks_without_a_suite_are_the_builtins_at_default_parameters(task):
    assert task.name in toy_tasks.names()


def _in_domain(x, sig) -> None:
    assert list(x) == list(sig)
    lengths = set()
    for name, dom in sig.items():
        value = x[name]
        if isinstance(dom, Int):
            assert type(value) is int and value in dom
        else:
            assert type(value) is list and all(type(v) is int and v in dom.element for v in value)
            assert dom.min_length <= len(value) <= dom.max_length
            lengths.add(len(value))
    assert len(lengths) <= 1


@SOME
@given(st.data())
def test_task_inputs_are_in_the_domain(data):
    task = data.draw(tbst.tasks(suite="quick"))
    x = data.draw(tbst.task_inputs(task))
    _in_domain(x, task.inputs)
    y = task.reference(**x)  # the reference runs on it
    if task.kind == "scan":
        assert isinstance(y, list) and len(y) == len(x[task.sequences[0]])


@SOME
@given(tbst.task_inputs(SEQS))
def test_task_inputs_of_a_signature(x):
    _in_domain(x, SEQS)


def test_task_inputs_cover_every_length():
    seen = set()

    @settings(max_examples=100, deadline=None)
    @given(tbst.task_inputs(SEQS))
    def collect(x):
        seen.add(len(x["xs"]))

    collect()
    assert seen == {1, 2, 3}


# --- bad arguments, eagerly -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: tbst.programs(inputs=SCALARS, max_size=0),
    lambda: tbst.programs(inputs=SCALARS, max_size=1),
    lambda: tbst.programs(inputs=SCALARS, max_size=2.5),
    lambda: tbst.programs(inputs=SCALARS, kind="scan"),
    lambda: tbst.programs(inputs=SCALARS, kind="fold"),
    lambda: tbst.programs(inputs=SEQS, kind="function"),
    lambda: tbst.programs(inputs=SCALARS, kind="loop"),
    lambda: tbst.programs(inputs={}),
    lambda: tbst.programs(inputs={"a": 3}),
    lambda: tbst.programs(inputs={"1a": Int(0, 2)}),
    lambda: tbst.programs(inputs={"xs": Seq(Int(0, 2), length=2), "ys": Seq(Int(0, 2), length=3)}),
    lambda: tbst.programs(inputs=SCALARS, operators=("+", "**")),
    lambda: tbst.programs(inputs=SCALARS, operators=()),
    lambda: tbst.programs(inputs=SCALARS, name="for"),
    lambda: tbst.programs(inputs=SCALARS, name="not a name"),
    lambda: tbst.program_sources(inputs=SCALARS, max_size=0),
    lambda: tbst.program_sources(inputs=SCALARS, kind="scan"),
    lambda: tbst.expressions(names=["a"], max_leaves=0),
    lambda: tbst.expressions(names=["a"], operators=["pow"]),
    lambda: tbst.tasks(suite="nope"),
    lambda: tbst.tasks(suite="quick", family="nope"),
    lambda: tbst.task_inputs({"a": 3}),
    lambda: tbst.task_inputs({}),
    lambda: tbst.signatures(max_inputs=0),
])
def test_bad_arguments_raise_invalid_argument_at_once(make):
    with pytest.raises(InvalidArgument):
        make()


# --- registration ----------------------------------------------------------------------------------------


def test_the_hypothesis_entry_point_is_installed():
    group = entry_points(group="hypothesis")
    assert any(ep.value == "toy_tasks._hypothesis:_hypothesis_setup_hook" for ep in group)


@FEWER
@given(st.from_type(Program))
def test_from_type_program_draws_programs(p):
    assert isinstance(p, Program)
    assert p.params == ("a", "b") and p.kind == "function"
    assert parse(str(p)) == p
    _runs_on_the_domain(p, {"a": Int(0, 8), "b": Int(0, 8)})


@FEWER
@given(st.from_type(Int))
def test_from_type_int(d):
    assert isinstance(d, Int) and d.size >= 1


@FEWER
@given(st.from_type(Seq))
def test_from_type_seq(d):
    assert isinstance(d, Seq) and 1 <= d.min_length <= d.max_length


def test_strategies_import_first_in_a_fresh_interpreter():
    result = subprocess.run([sys.executable, "-c", "from toy_tasks import strategies; print(strategies.programs)"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]
