"""The ``rpni`` synthesizer: passive automata learning (aalpy's RPNI) for scans and folds.

Finite-state scans are given their whole domain as examples (``task.examples()``), except where a
test says it uses ``solve``'s default (up to 1000 examples drawn with seed 0).
"""
import numpy as np
import pytest

import synthesis
import toy_tasks
from programs import Program, Return, Var, evaluate
from synthesis.build import LoopSketch
from synthesis.methods import rpni as R
from synthesis.problem import Budget, Problem
from toy_tasks import Int, Seq

FINITE_STATE_SCANS = [
    ("running_parity", {}),
    ("running_sum_mod", {"k": 3, "length": 6}),
    ("binary_addition", {"length": 6}),
    ("divisibility", {"k": 3}),
    ("parity_last_k", {"k": 2}),
    ("parity_last_k", {"k": 3}),
    ("pattern_detector", {}),
    ("dot_product_mod2", {"length": 5}),
]


def _fits(task, examples, program) -> bool:
    return task.problem(examples).fits(program)


def test_registered():
    assert "rpni" in synthesis.names()


@pytest.mark.parametrize("name, params", FINITE_STATE_SCANS, ids=[f"{n}{p}" for n, p in FINITE_STATE_SCANS])
def test_solves_finite_state_scans_from_the_whole_domain(name, params):
    task = toy_tasks.get(name, **params)
    examples = task.examples()  # the whole domain
    assert examples.complete
    result = synthesis.solve(task, "rpni", examples=examples, seconds=10)
    assert result.status == "solved", result.reasons
    assert _fits(task, examples, result.program)
    assert task.verify(result.program).equal, str(result.program)


@pytest.mark.parametrize("name, params", [("running_parity", {}), ("divisibility", {"k": 3}), ("pattern_detector", {}),
                                          ("running_sum_mod", {"k": 3, "length": 6})])
def test_solves_from_the_default_sample(name, params):
    task = toy_tasks.get(name, **params)
    result = synthesis.solve(task, "rpni", seconds=10)  # up to 1000 examples, seed 0
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal, str(result.program)


@pytest.mark.parametrize("name", ["contains", "count", "insertion_point", "max_value"])
def test_solves_folds_with_a_scalar_folded_into_the_symbols(name):
    task = toy_tasks.get(name)
    examples = task.examples()
    result = synthesis.solve(task, "rpni", examples=examples, seconds=10)
    assert result.status == "solved", result.reasons
    assert result.program.kind == "fold"
    assert task.verify(result.program).equal, str(result.program)


def test_known_machines_come_out_as_small_programs():
    task = toy_tasks.get("running_parity")
    result = synthesis.solve(task, "rpni", examples=task.examples(), seconds=10)
    assert result.program.size <= 12, str(result.program)
    task = toy_tasks.get("contains")
    result = synthesis.solve(task, "rpni", examples=task.examples(), seconds=10)
    assert result.program.size <= 12, str(result.program)


def test_every_returned_program_fits_its_examples_even_when_wrong():
    # from 1000 of their inputs these machines are consistent with the examples but may be wrong
    for name in ("bracket_balance", "running_majority", "first_index"):
        task = toy_tasks.get(name)
        examples = task.example_set(None, 0)  # what solve draws by default
        result = synthesis.solve(task, "rpni", examples=examples, seconds=10)
        if result.program is not None:
            assert _fits(task, examples, result.program)


def test_tuple_outputs():
    src = """def two(xs):
    s = 0
    for x in xs:
        s = (s + x) % 3
        yield s, s == 0
"""
    task = toy_tasks.from_program("two_outputs", src, inputs={"xs": Seq(Int(0, 3), length=(1, 6))})
    result = synthesis.solve(task, "rpni", examples=task.examples(), seconds=10)
    assert result.status == "solved", result.reasons
    assert result.program.arity == 2
    assert task.verify(result.program).equal


def test_abstains_on_a_plain_function():
    result = synthesis.solve(toy_tasks.get("modular_addition"), "rpni", seconds=5)
    assert result.status == "abstained"
    assert result.program is None
    assert result.reasons and "sequence" in result.reasons[0]


def test_abstains_on_a_large_alphabet():
    src = """def big(xs, k):
    s = 0
    for x in xs:
        s = s | (x == k)
        yield s
"""
    task = toy_tasks.from_program("big_alphabet", src, inputs={"xs": Seq(Int(0, 10), length=(1, 3)), "k": Int(0, 10)})
    result = synthesis.solve(task, "rpni", seconds=5)
    assert result.status == "abstained"
    assert "alphabet" in result.reasons[0]


def test_a_non_causal_scan_is_exhausted_with_a_reason():
    def last_everywhere(xs):
        return [xs[-1]] * len(xs)  # the output at each step depends on later steps

    task = toy_tasks.from_function("last_everywhere", last_everywhere, inputs={"xs": Seq(Int(0, 2), length=(1, 4))})
    result = synthesis.solve(task, "rpni", examples=task.examples(), seconds=5)
    assert result.status == "exhausted"
    assert "not a function of the inputs so far" in result.reasons[0]


def test_an_exhausted_budget_is_a_timeout_not_a_crash():
    task = toy_tasks.get("running_parity")
    result = synthesis.solve(task, "rpni", seconds=1e-9)
    assert result.status in ("timeout", "solved")
    assert result.status != "solved" or task.verify(result.program).equal


def test_learning_loop_matches_aalpy_run_rpni():
    from aalpy.learning_algs import run_RPNI

    task = toy_tasks.get("divisibility", k=3, length=6)
    ex = task.examples(300, seed=1)
    problem = task.problem(ex)
    sym = R._symbols(problem, LoopSketch.of(problem, 1))
    words, nodes, _ = R._words(problem, sym)
    for kind in ("mealy", "moore"):
        ours = R._learn(dict(words), kind, nodes, Budget(60.0))
        model = run_RPNI([[list(w), y] for w, y in words.items()], automaton_type=kind, print_info=False)
        n, trans, outs = R._tables(model, kind)
        assert (ours.n_states, ours.transitions, ours.outputs) == (n, trans, outs)


@pytest.mark.parametrize("seed", range(8))
def test_table_writer_reproduces_every_defined_entry(seed):
    rng = np.random.default_rng(seed)
    domains = [list(range(int(rng.integers(2, 7)))), list(range(-1, int(rng.integers(1, 4)))), [0, 1]]
    names = ["s", "a", "b"]
    grid = np.array(np.meshgrid(*domains, indexing="ij")).reshape(3, -1).T
    keep = rng.random(len(grid)) < 0.7
    points = [tuple(int(v) for v in p) for p in grid[keep]]
    values = [int(v) for v in rng.integers(0, int(rng.integers(1, 5)), size=len(points))]
    writer = R.TableWriter([Var(n) for n in names], domains, Budget(60.0))
    expr = writer.write(points, values)
    program = Program("f", tuple(names), (Return(expr),))
    if points:
        arrays = {n: np.array([p[i] for p in points], dtype=np.int64) for i, n in enumerate(names)}
        assert evaluate(program, arrays).tolist() == values, str(program)
