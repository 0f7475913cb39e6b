"""The cvc5 peer: SyGuS encoding, the solution reader, the worker process, and end-to-end solves."""
from __future__ import annotations

import itertools
import signal
import subprocess
from typing import ClassVar

import numpy as np
import pytest

import synthesis
import toy_tasks
from programs import Int, Seq, evaluate
from programs.semantics import SCALAR
from synthesis.methods import cvc5_peer
from synthesis.methods.cvc5_peer import (
    Run, SolutionError, encode, parse_sexprs, read_answer, read_solution, run_worker,
)
from synthesis.problem import Budget, Problem

needs_cvc5 = pytest.mark.skipif(not cvc5_peer.available(), reason="cvc5 is not installed (the [peers] extra)")


def problem_of(task, n=None):
    return task.problem(task.examples(n, seed=0))


def same_on_domain(task, program, fn) -> bool:
    """``program`` computes ``fn`` on every input of ``task``'s (small) domain."""
    ex = task.examples()
    got = evaluate(program, ex.inputs)
    names = list(task.inputs)
    want = [fn(*(int(ex.inputs[n][i]) for n in names)) for i in range(len(ex))]
    return np.array_equal(got, np.array(want, dtype=np.int64))


# --- end to end ----------------------------------------------------------------------------------


@needs_cvc5
@pytest.mark.parametrize("name, params", [("maximum", {"bits": 3}), ("absolute_difference", {"bits": 3}),
                                          ("modular_addition", {"p": 7})])
def test_solves_small_integer_tasks(name, params):
    task = toy_tasks.get(name, **params)
    result = synthesis.solve(task, "cvc5", seconds=15.0)
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal
    assert any("theory int" in r for r in result.reasons)


@needs_cvc5
def test_tuple_outputs_get_one_function_each():
    task = toy_tasks.from_program("pair", "def pair(a, b):\n    return a + b, max(a, b)\n",
                                  inputs={"a": Int(-3, 4), "b": Int(0, 5)}, operators=("+", "-", "max", "<", "if"))
    result = synthesis.solve(task, "cvc5", examples=0.5, seconds=45.0)
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal


def test_registered():
    assert "cvc5" in synthesis.names()


@pytest.mark.parametrize("name", ["running_parity", "first_index"])
def test_scans_and_folds_abstain_with_a_reason(name):
    task = next(t for t in toy_tasks.suite("quick") if t.name.startswith(name))
    result = synthesis.solve(task, "cvc5", seconds=2.0)
    assert result.status == "abstained"
    assert any("not supported by this adapter" in r for r in result.reasons)


def test_abstains_when_cvc5_is_missing(monkeypatch):
    monkeypatch.setattr(cvc5_peer, "available", lambda: False)
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "cvc5", seconds=2.0)
    assert result.status == "abstained"
    assert any("install the [peers] extra" in r for r in result.reasons)


@pytest.mark.parametrize("run", [
    Run("done", "Segmentation fault (core dumped)\n"),
    Run("done", "(\n(define-fun tb_f0 ((p0 Int) (p1 Int)) Int (+ p0\n"),
    Run("done", ""),
    Run("error", "", "cvc5 worker was killed by signal 11 (crash or memory limit)"),
])
def test_crash_or_garbage_is_an_error_not_an_exception(monkeypatch, run):
    monkeypatch.setattr(cvc5_peer, "available", lambda: True)
    monkeypatch.setattr(cvc5_peer, "run_worker", lambda *a, **k: run)
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "cvc5", seconds=2.0)
    assert result.status == "error"
    assert result.program is None and result.reasons


def test_a_wrong_answer_adds_counterexamples_and_asks_again(monkeypatch):
    task = toy_tasks.get("maximum", bits=3)
    answers = iter(["(\n(define-fun tb_f0 ((p0 Int) (p1 Int)) Int p0)\n)",
                    "(\n(define-fun tb_f0 ((p0 Int) (p1 Int)) Int (tb_max p0 p1))\n)"])
    texts = []

    def fake(text, options, seconds, memory_mb=0):
        texts.append(text)
        return Run("done", next(answers))

    monkeypatch.setattr(cvc5_peer, "available", lambda: True)
    monkeypatch.setattr(cvc5_peer, "run_worker", fake)
    result = synthesis.solve(task, "cvc5", seconds=5.0, options={"max_examples": 3})
    assert result.status == "solved" and task.verify(result.program).equal
    assert result.candidates == 2
    assert texts[1].count("(constraint") > texts[0].count("(constraint") == 3


# --- the encoding ------------------------------------------------------------------------------


def test_encoding_follows_the_operator_set():
    enc = encode(problem_of(toy_tasks.get("modular_addition", p=7), 10))
    assert enc.theory == "int" and enc.logic == "NIA"
    assert "(tb_mod I I)" in enc.text and "(tb_div I I)" not in enc.text and "(* I I)" in enc.text
    assert "ite" not in enc.text.split("(synth-fun")[1].split("(constraint")[0]  # no if, no comparisons
    assert enc.text.count("(constraint") == 10 and enc.text.rstrip().endswith("(check-synth)")

    linear = toy_tasks.from_program("lin", "def f(a, b):\n    return max(a, b) + 1\n",
                                    inputs={"a": Int(-3, 3), "b": Int(-3, 3)})
    linear = linear.problem(linear.examples(5))
    linear = Problem(**{**linear.__dict__, "operators": ("+", "-", "max", "<", "if")})
    enc = encode(linear)
    assert enc.logic == "LIA" and "(- 3)" in enc.text and "(ite B I I)" in enc.text

    enc = encode(problem_of(toy_tasks.get("parity", n=4), 4))
    assert enc.theory == "bv" and enc.logic == "BV" and "(bvxor I I)" in enc.text and "(tb_shr I I)" in enc.text

    enc = encode(problem_of(toy_tasks.get("parity", n=4), 4), theory="int")
    assert enc.left_out == ("&", ">>", "^", "|")


def test_loop_encoding_unrolls_each_example():
    task = next(t for t in toy_tasks.suite("quick") if t.name.startswith("first_index"))
    problem = problem_of(task, 6)
    enc = encode(problem, states=2)
    assert enc.loop is not None and enc.loop.states == 2 and not enc.loop.yield_first
    assert set(enc.signatures) == {"tb_init0", "tb_init1", "tb_next0", "tb_next1", "tb_f0"}
    assert enc.signatures["tb_next0"] == ("s0", "s1", "x0", "t") and enc.signatures["tb_f0"] == ("s0", "s1", "t")
    assert enc.text.count("(constraint (let") == 6
    longest = int(problem.lengths.max())
    assert f"tb_s1_{longest - 1}" in enc.text and f"tb_s1_{longest}" not in enc.text


LOOP_TASKS = {
    "total": ("def total(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n    return s\n", "fold"),
    "running": ("def running(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n", "scan"),
}


@pytest.mark.parametrize("name", sorted(LOOP_TASKS))
def test_loop_solutions_read_back(name):
    source, kind = LOOP_TASKS[name]
    task = toy_tasks.from_program(name, source, inputs={"xs": Seq(Int(0, 3), length=(1, 3))}, operators=("+", "-"))
    problem = problem_of(task)
    enc = encode(problem)
    # a scan yields first: its output is computed from the state before the step and the element
    out = "((p0 Int) (p1 Int)) Int (+ p0 p1)" if kind == "scan" else "((p0 Int)) Int p0"
    text = ("(\n(define-fun tb_init0 () Int 0)\n(define-fun tb_next0 ((p0 Int) (p1 Int)) Int (+ p0 p1))\n"
            f"(define-fun tb_f0 {out})\n)")
    verdict, program = read_solution(text, problem, enc)
    assert verdict == "solved" and program.kind == kind
    assert task.verify(program).equal


@needs_cvc5
def test_opt_in_loop_encoding_solves_a_tiny_fold():
    task = toy_tasks.from_program("total", LOOP_TASKS["total"][0], inputs={"xs": Seq(Int(0, 3), length=(1, 3))},
                                  operators=("+", "-"))
    result = synthesis.solve(task, "cvc5", seconds=15.0, options={"loops": True, "enumerators": ("fast",)})
    assert result.status == "solved", result.reasons
    assert task.verify(result.program).equal


# --- reading solutions ---------------------------------------------------------------------------

INT_CASES = [
    ("(tb_mod (+ p0 p1) 7)", lambda a, b: (a + b) % 7),
    ("(ite (distinct (- p0 p1) 0) (tb_abs (- p0 p1)) (- 3))", lambda a, b: abs(a - b) if a != b else -3),
    ("(ite (and (< p0 p1) (not (= p1 3))) 1 0)", lambda a, b: int(a < b and b != 3)),
    ("(ite (or (>= p0 2) (distinct p1 0)) (tb_min p0 p1) (tb_max p0 (- p1)))",
     lambda a, b: min(a, b) if (a >= 2 or b != 0) else max(a, -b)),
    ("(let ((_let_1 (* p0 p1))) (+ _let_1 _let_1 (tb_div _let_1 (- 2))))", lambda a, b: 2 * a * b + (a * b) // -2),
    # SMT-LIB's Euclidean div/mod, read exactly (a zero divisor is unspecified in SMT-LIB; read as 0 and a)
    ("(div p0 (- p1 2))", lambda a, b: euclid(a, b - 2)[0] if b != 2 else 0),
    ("(mod (- p0) (- p1 2))", lambda a, b: euclid(-a, b - 2)[1] if b != 2 else -a),
    ("(ite (=> (> p0 1) (<= p1 1)) (- p0 p1 1) (abs p1))", lambda a, b: a - b - 1 if (not a > 1 or b <= 1) else abs(b)),
]


def euclid(a, b):
    """SMT-LIB's div and mod: a = b*q + r with 0 <= r < |b|."""
    r = a % abs(b)
    return (a - r) // b, r


@pytest.mark.parametrize("body, fn", INT_CASES)
def test_int_solutions_read_back_exactly(body, fn):
    task = toy_tasks.from_program("g", "def g(a, b):\n    return a\n", inputs={"a": Int(-6, 6), "b": Int(-6, 6)})
    problem = problem_of(task, 5)
    enc = encode(problem, theory="int")
    verdict, program = read_solution(f"(\n(define-fun tb_f0 ((p0 Int) (p1 Int)) Int {body})\n)", problem, enc)
    assert verdict == "solved" and program.params == ("a", "b")
    assert same_on_domain(task, program, fn)


BV_CASES = [
    ("(bvxor p0 (bvxor p1 p2))", lambda x, y, z: x ^ y ^ z),
    ("(tb_shr (bvadd p0 p1 p2) #x0000000000000001)", lambda x, y, z: (x + y + z) >> 1),
    ("(ite (bvslt p0 p1) (bvneg p2) (bvnot p2))", lambda x, y, z: -z if x < y else ~z),
    ("(ite (bvult (bvsub p0 (_ bv2 64)) p1) #xffffffffffffffff #b" + "0" * 63 + "1)",
     lambda x, y, z: -1 if ((x - 2) % 2**64) < (y % 2**64) else 1),
    ("(bvlshr (bvsub p0 #x0000000000000001) #x000000000000003e)", lambda x, y, z: ((x - 1) % 2**64) >> 62),
    ("(bvand (tb_min p0 p2) (tb_abs (bvmul p1 (tb_div p2 (bvor p0 p1)))))",
     lambda x, y, z: min(x, z) & abs(y * SCALAR["//"](z, x | y))),
    ("(ite (xor (= p0 p1) (bvsge p2 #x0000000000000001)) (bvsmod p2 p1) (tb_shl p1 p2))",
     lambda x, y, z: SCALAR["%"](z, y) if ((x == y) != (z >= 1)) else SCALAR["<<"](y, z)),
]


@pytest.mark.parametrize("body, fn", BV_CASES)
def test_bit_vector_solutions_read_back_exactly(body, fn):
    task = toy_tasks.from_program("h", "def h(x, y, z):\n    return x ^ y\n",
                                  inputs={"x": Int(-3, 3), "y": Int(-3, 3), "z": Int(-3, 3)})
    problem = problem_of(task, 5)
    enc = encode(problem, theory="bv")
    bv = "(_ BitVec 64)"
    verdict, program = read_solution(f"((define-fun tb_f0 ((p0 {bv}) (p1 {bv}) (p2 {bv})) {bv} {body}))", problem, enc)
    assert verdict == "solved"
    assert same_on_domain(task, program, fn)


def test_printed_program_parses_back():
    from programs import parse

    task = toy_tasks.get("maximum", bits=3)
    problem = problem_of(task, 5)
    _, program = read_solution("(\n(define-fun tb_f0 ((a Int) (b Int)) Int (ite (< a b) b a))\n)", problem, encode(problem))
    assert parse(str(program)) == program
    assert task.verify(program).equal


def test_verdicts_without_a_program():
    assert read_answer("infeasible\n").verdict == "infeasible"
    assert read_answer("fail").verdict == "fail"


@pytest.mark.parametrize("text", [
    "", "Segmentation fault", "(define-fun", ")(", "((define-fun tb_f0 () Int))",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (frobnicate p0)))",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (+ p0 q)))",
    "((define-fun other ((p0 Int) (p1 Int)) Int p0))",
    "((define-fun tb_f0 ((p0 Int)) Int p0))",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int 99999999999999999999999))",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (ite p0 1 0)))",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int " + "(+ 1 " * 5000 + "p0" + ")" * 5000 + "))",
    "unsat\x00\x01",
])
def test_garbage_output_raises_solution_error(text):
    task = toy_tasks.get("maximum", bits=3)
    problem = problem_of(task, 5)
    with pytest.raises(SolutionError):
        read_solution(text, problem, encode(problem))


def test_sexpr_reader():
    assert parse_sexprs("(a (b |c d|) ; note\n 1)") == [["a", ["b", "c d"], "1"]]


# --- cvc5 itself --------------------------------------------------------------------------------


@needs_cvc5
def test_helpers_mean_what_the_semantics_say():
    """The define-fun helpers of both theories agree with programs.semantics on corner cases."""
    import cvc5

    ops = {"tb_div": "//", "tb_mod": "%", "tb_min": "min", "tb_max": "max", "tb_abs": "abs", "tb_shl": "<<", "tb_shr": ">>"}
    corners = [0, 1, -1, 2, -2, 3, -7, 8, 63, 64, -64, 2**63 - 1, -2**63]
    for theory, helpers, logic in (("int", cvc5_peer._INT_HELPERS, "NIA"), ("bv", cvc5_peer._BV_HELPERS, "BV")):
        values = [v for v in corners if theory == "bv" or abs(v) < 2**40]
        calls = [(h, args) for h in helpers for args in itertools.product(values, repeat=1 if h == "tb_abs" else 2)]
        text = f"(set-logic {logic})\n" + "".join(f"(define-fun {h} {a} {b})\n" for h, (a, b) in helpers.items())
        text += "(check-sat)\n" + "".join(
            f"(get-value (({h} {' '.join(cvc5_peer._literal(a, theory) for a in args)})))\n" for h, args in calls)
        tm = cvc5.TermManager()
        solver = cvc5.Solver(tm)
        solver.setOption("produce-models", "true")
        symbols = cvc5.SymbolManager(tm)
        parser = cvc5.InputParser(solver, symbols)
        parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "helpers")
        outs = []
        while not (command := parser.nextCommand()).isNull():
            out = command.invoke(solver, symbols).strip()
            if out and out != "sat":
                outs.append(out)
        reader = cvc5_peer._Reader(theory, {})
        assert len(outs) == len(calls)
        for (h, args), out in zip(calls, outs):
            got = reader.literal(parse_sexprs(out)[0][0][1])
            assert got == SCALAR[ops[h]](*args), (theory, h, args, out)


@needs_cvc5
def test_worker_reports_a_cvc5_error():
    got = run_worker("(set-logic LIA)\n(synth-fun f ((x Int)) Int ((I Int (x (frob I)))))\n(check-synth)\n", {}, 20.0)
    assert got.status == "error" and "cvc5 raised" in got.detail


def squares_from_sums():
    """A problem no program of its grammar solves and cvc5 cannot prove infeasible: ``a * a`` from ``+``
    and constants (no linear function fits eight squares), so cvc5 enumerates until it is stopped, on any
    machine (no answer from any enumerator in 20 s here)."""
    task = toy_tasks.from_function("square", lambda a: a * a, inputs={"a": Int(0, 8)}, operators=("+",))
    return problem_of(task)


class _Recorded(subprocess.Popen):
    """The real worker process, remembered so that a test can see how it ended."""

    workers: ClassVar[list[subprocess.Popen]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        type(self).workers.append(self)


@pytest.fixture
def recorded_workers(monkeypatch):
    monkeypatch.setattr(_Recorded, "workers", [])
    monkeypatch.setattr(cvc5_peer.subprocess, "Popen", _Recorded)
    return _Recorded.workers


@needs_cvc5
def test_worker_is_killed_at_the_limit(recorded_workers):
    got = run_worker(encode(squares_from_sums()).text, {"sygus-enum": "smart"}, 1.0)
    assert got == Run("timeout")
    assert len(recorded_workers) == 1
    assert recorded_workers[0].returncode == -signal.SIGKILL  # killed by us at the limit, and reaped


@needs_cvc5
def test_method_times_out_cleanly(recorded_workers):
    attempt = cvc5_peer.cvc5(enumerators=("smart",))(squares_from_sums(), Budget(1.0), np.random.default_rng(0))
    assert attempt.status == "timeout" and attempt.program is None and attempt.candidates == 0
    assert attempt.reasons[-1].startswith("--sygus-enum=smart: no answer within"), attempt.reasons
    assert recorded_workers and all(w.returncode == -signal.SIGKILL for w in recorded_workers)
