"""Faults a synthesis run can meet end as a typed error or a recorded status, never a hang or a crash.

Bad example sets are ``SynthesisError`` before any method runs; z3 answering ``unknown`` (for real:
a budget too short for the query, or z3's resource limit) is a ``timeout`` or ``abstained`` with the
reason; cvc5's worker killed mid-solve, exiting non-zero, or printing garbage is an ``error``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import ClassVar

import numpy as np
import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthesis
import toy_tasks
from programs import Int, Program
from synthesis import SynthesisError
from synthesis.methods import cvc5_peer
from synthesis.methods.cvc5_peer import SolutionError, encode, read_solution
from synthesis.problem import Problem
from toy_tasks import Examples

needs_cvc5 = pytest.mark.skipif(not cvc5_peer.available(), reason="cvc5 is not installed (the [peers] extra)")
METHODS = ["enumerative", "smt", "stochastic", "cvc5", "rpni"]


# --- example sets of the wrong shape -------------------------------------------------------------------


def _bad_examples():
    ex = toy_tasks.get("maximum", bits=3).examples(20, seed=0)
    a, b, y = ex.inputs["a"], ex.inputs["b"], ex.outputs
    return {
        "an input shorter than the outputs": (Examples({"a": a, "b": b[:10]}, y), "one row per example"),
        "fewer outputs than inputs": (Examples({"a": a, "b": b}, y[:5]), "5 outputs"),
        "a wrong input name": (Examples({"x": a, "b": b}, y), "must be named ['a', 'b']"),
        "a missing input": (Examples({"a": a}, y), "missing ['b']"),
        "two outputs for a one-output task": (Examples({"a": a, "b": b}, np.stack([y, y], axis=1)), "must have shape (20,)"),
        "float inputs": (Examples({"a": a + 0.5, "b": b}, y), "np.asarray(..., dtype=np.int64)"),
        "a column for a scalar": (Examples({"a": a[:, None], "b": b}, y), "must be [n]"),
        "plain lists": (Examples({"a": list(a), "b": b}, y), "numpy array"),
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", sorted(_bad_examples()))
def test_examples_of_the_wrong_shape_are_a_synthesis_error(method, case):
    examples, words = _bad_examples()[case]
    with pytest.raises(SynthesisError) as err:
        synthesis.solve(toy_tasks.get("maximum", bits=3), method, examples=examples, seconds=1.0)
    assert "maximum" in str(err.value) and words in str(err.value), str(err.value)


def test_scan_examples_of_the_wrong_shape_are_a_synthesis_error():
    task = toy_tasks.get("running_parity", length=5)
    ex = task.examples(20, seed=0)
    for bad in (Examples(ex.inputs, ex.outputs, ex.lengths[:3]), Examples(ex.inputs, ex.outputs, ex.lengths + 9),
                Examples({"xs": ex.inputs["xs"][:, :2]}, ex.outputs, np.minimum(ex.lengths, 2)),
                Examples({"xs": ex.inputs["xs"][:, 0]}, ex.outputs, ex.lengths)):
        with pytest.raises(SynthesisError):
            synthesis.solve(task, "rpni", examples=bad, seconds=1.0)


def test_hand_built_examples_of_the_right_shape_are_used():
    task = toy_tasks.get("maximum", bits=3)
    a = np.array([0, 5, 7, 2, 3], dtype=np.int32)
    b = np.array([1, 4, 7, 6, 3], dtype=np.int32)
    result = synthesis.solve(task, "enumerative", examples=Examples({"b": b, "a": a}, np.maximum(a, b)), seconds=10.0)
    assert result.status == "solved" and result.program(a=6, b=1) == 6


# --- z3 answering unknown --------------------------------------------------------------------------------

HARD = toy_tasks.from_program(
    "hard", "def f(a, b, c):\n    return ((a * b + b * c) % 7 ^ (a - c)) + max(a, c) // 3\n",
    inputs={"a": Int(0, 16), "b": Int(0, 16), "c": Int(0, 16)},
)


@pytest.fixture
def z3_resource_limit():
    """z3 gives up on every query at once ("max. resource limit exceeded"), as it may on a hard one."""
    z3.set_param("rlimit", 1)
    try:
        yield
    finally:
        z3.set_param("rlimit", 0)


def test_smt_budget_too_short_for_z3_is_a_timeout_naming_unknown():
    # one long slice: the query running when the budget ends is cut off by z3's own timeout
    result = synthesis.solve(HARD, "smt", seconds=2.0, options={"first_slice": 100.0})
    assert result.status == "timeout" and result.program is None
    assert "z3 answered unknown" in result.reasons[0] and "last: timeout" in result.reasons[0], result.reasons


@pytest.mark.parametrize("task", [toy_tasks.get("maximum", bits=3), toy_tasks.get("running_parity", length=5)],
                         ids=["function", "scan"])
def test_smt_when_z3_gives_up_abstains_with_the_reason(task, z3_resource_limit):
    result = synthesis.solve(task, "smt", seconds=20.0)
    assert result.status == "abstained" and result.program is None
    assert any("z3 answered unknown (max. resource limit exceeded)" in r for r in result.reasons), result.reasons


def test_smt_when_z3_raises_the_sketch_is_undecided(monkeypatch):
    """z3 raising mid-query (an internal failure) leaves the sketch undecided, recorded, not raised.

    Injected: no z3 setting makes ``check`` raise for real (a tiny ``memory_max_size`` crashes the
    process instead).
    """
    def failing_check(self, *args):
        raise z3.Z3Exception("out of memory")

    monkeypatch.setattr(z3.Solver, "check", failing_check)
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "smt", seconds=10.0)
    assert result.status == "abstained"
    assert any("z3 failed: out of memory" in r for r in result.reasons), result.reasons


# --- cvc5: the worker killed, failing, or printing garbage ------------------------------------------------


class _KilledMidSolve(subprocess.Popen):
    """The real worker process, sent ``signum`` once it has used ``cpu_seconds`` of processor time: past
    cvc5's import (a few hundredths of a second) and into the search, on a fast machine or a loaded one
    (processor time, not wall time, decides when)."""

    cpu_seconds = 1.0
    signum = signal.SIGKILL
    started: ClassVar[list[int]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        type(self).started.append(self.pid)
        threading.Thread(target=self._signal_when_busy, daemon=True).start()

    def _cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()  # fields 14 and 15 of proc(5): user and system time
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _signal_when_busy(self):
        while self.poll() is None:
            try:
                if self._cpu_seconds() >= self.cpu_seconds:
                    os.kill(self.pid, self.signum)  # the worker this test started, by its id
                    return
            except OSError:  # it ended on its own
                return
            threading.Event().wait(0.01)


@needs_cvc5
@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads the worker's processor time from /proc")
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGSEGV, signal.SIGTERM])
def test_cvc5_worker_killed_mid_solve_is_an_error(monkeypatch, signum):
    # parity of 6 bits: cvc5's smart enumeration finds no program for it in 20 s, so the kill lands mid-solve
    task = toy_tasks.get("parity", n=6)
    monkeypatch.setattr(_KilledMidSolve, "signum", signum)
    monkeypatch.setattr(_KilledMidSolve, "started", [])
    monkeypatch.setattr(cvc5_peer.subprocess, "Popen", _KilledMidSolve)
    result = synthesis.solve(task, "cvc5", seconds=30.0, options={"enumerators": ("smart",)})
    assert result.status == "error" and result.program is None
    assert f"killed by signal {int(signum)}" in result.reasons[-1], result.reasons
    # the death ended the run: one worker, no other started for the rest of the budget, no timeout recorded
    assert len(_KilledMidSolve.started) == 1, _KilledMidSolve.started
    assert not any("no answer within" in r for r in result.reasons), result.reasons


@needs_cvc5
@pytest.mark.parametrize("options, words", [
    ({"enumerators": ("no-such-enumerator",)}, "cvc5 raised: RuntimeError"),  # cvc5 refuses the option: exit 3
    ({"memory_mb": 20}, "cvc5 could not be imported in the worker"),  # too little memory to load cvc5: exit 2
])
def test_cvc5_worker_exiting_nonzero_is_an_error(options, words):
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "cvc5", seconds=20.0, options=options)
    assert result.status == "error" and result.program is None
    assert words in result.reasons[-1], result.reasons


FAKE_WORKERS = {
    "exits 1 with a traceback": ("import sys\nsys.stdin.read()\nraise SystemExit('worker broke')\n", "exited with status 1"),
    "segfaults": ("import os, signal, sys\nsys.stdin.read()\nos.kill(os.getpid(), signal.SIGSEGV)\n", "killed by signal 11"),
    "prints garbage": ("import sys\nsys.stdin.read()\nprint('(define-fun tb_f0 ((p0 Int)')\n", "unreadable cvc5 output"),
    "prints binary": ("import sys\nsys.stdin.read()\nsys.stdout.write('\\x00\\xff(((\\u2603')\n", "unreadable cvc5 output"),
    "prints nothing": ("import sys\nsys.stdin.read()\n", "the solver printed nothing"),
    "closes stdin at once": ("import os\nos.close(0)\nraise SystemExit(4)\n", "exited with status 4"),
}


@pytest.mark.parametrize("case", sorted(FAKE_WORKERS))
def test_a_worker_that_fails_is_an_error(monkeypatch, tmp_path, case):
    """A stand-in worker script (a real child process) in place of ``_cvc5_worker.py``."""
    source, words = FAKE_WORKERS[case]
    worker = tmp_path / "worker.py"
    worker.write_text(source)
    monkeypatch.setattr(cvc5_peer, "WORKER", worker)
    monkeypatch.setattr(cvc5_peer, "available", lambda: True)
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "cvc5", seconds=20.0)
    assert result.status == "error" and result.program is None
    assert words in result.reasons[-1], result.reasons


@needs_cvc5
@pytest.mark.parametrize("garbage", [
    "", "unsat", "sat\n(model)", "(", ")", "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (+ p0 p1)",
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (* p0 p9)))", "((define-fun tb_f1 ((p0 Int) (p1 Int)) Int p0))",
    "(error \"cvc5 crashed\")", "\x00" * 50, "((define-fun tb_f0 ((p0 Int) (p1 Int)) Bool true))",
])
def test_real_cvc5_answer_replaced_by_garbage_is_an_error(monkeypatch, garbage):
    """cvc5 runs for real; only its answer text, where it enters our reader, is replaced."""
    seen = []
    real_read = cvc5_peer.read_solution

    def garbled(text, problem, encoding):
        seen.append(text)
        return real_read(garbage, problem, encoding)

    monkeypatch.setattr(cvc5_peer, "read_solution", garbled)
    result = synthesis.solve(toy_tasks.get("maximum", bits=3), "cvc5", seconds=20.0)
    assert seen and "define-fun" in seen[0]  # the real answer was there, and was replaced
    assert result.status == "error" and result.program is None, result
    assert result.reasons[-1].startswith("unreadable cvc5 output"), result.reasons


_ATOMS = st.sampled_from(["define-fun", "tb_f0", "tb_f1", "p0", "p1", "Int", "Bool", "(_ BitVec 64)", "ite", "+", "-",
                          "*", "tb_mod", "tb_div", "tb_max", "let", "_let_1", "and", "not", "=", "distinct", "<",
                          "0", "1", "7", "-3", "99999999999999999999999", "#x0000000000000001", "#b101", "true",
                          "false", "infeasible", "fail", "|p 0|", ";", "\n", "\x00", "\u2603", "\""])


@st.composite
def _sexpr_text(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(_ATOMS)
    items = draw(st.lists(_sexpr_text(depth=depth + 1), max_size=5))
    close = ")" if draw(st.integers(0, 9)) else ""  # now and then unbalanced
    return "(" + " ".join(items) + close


_GARBAGE = st.one_of(
    st.text(max_size=200),
    _sexpr_text(),
    _sexpr_text().map(lambda body: f"((define-fun tb_f0 ((p0 Int) (p1 Int)) Int {body}))"),
)
_MAXIMUM = toy_tasks.get("maximum", bits=3)
_PROBLEM = _MAXIMUM.problem(_MAXIMUM.examples(10, seed=0))
_ENCODING = encode(_PROBLEM)


@pytest.mark.parametrize("text", [
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int ()))",  # once an IndexError
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (= define-fun (()))))",  # once a TypeError (a list as a head)
    "((define-fun tb_f0 ((p0 Int) (p1 Int)) Int (ite (()) 1 0)))",
])
def test_reader_regressions_found_by_fuzzing(text):
    with pytest.raises(SolutionError):
        read_solution(text, _PROBLEM, _ENCODING)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GARBAGE)
def test_reader_turns_any_text_into_a_program_or_a_solution_error(text):
    try:
        verdict, program = read_solution(text, _PROBLEM, _ENCODING)
    except SolutionError as err:
        assert str(err)
        return
    assert verdict in ("solved", "infeasible", "fail", "unknown")
    assert (program is None) == (verdict != "solved")
    if program is not None:
        assert isinstance(program, Program) and program.params == ("a", "b")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_GARBAGE)
def test_any_answer_text_ends_as_a_status(monkeypatch, text):
    monkeypatch.setattr(cvc5_peer, "available", lambda: True)
    monkeypatch.setattr(cvc5_peer, "run_worker", lambda *a, **k: cvc5_peer.Run("done", text))
    result = synthesis.solve(_MAXIMUM, "cvc5", seconds=1.0, options={"enumerators": ("fast",)})
    assert result.status in ("solved", "error", "timeout", "exhausted"), result
    if result.status == "solved":
        assert _MAXIMUM.verify(result.program).equal  # only a program that fits every example comes back
    else:
        assert result.program is None and result.reasons


def test_the_worker_never_outlives_a_killed_parent(tmp_path):
    """The real worker, started by a parent that is then killed, dies with it (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux") or not cvc5_peer.available():
        pytest.skip("Linux with cvc5 only")
    task = toy_tasks.get("parity", n=6)
    text = encode(task.problem(task.examples())).text
    (tmp_path / "problem.sy").write_text(text)
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys\n"
            f"w = subprocess.Popen([sys.executable, {str(cvc5_peer.WORKER)!r}, 'sygus-enum=smart', 'wall-seconds=60'],"
            f" stdin=open({str(tmp_path / 'problem.sy')!r}))\n"
            "print(w.pid, flush=True)\n"
            "w.wait()\n")],
        stdout=subprocess.PIPE, text=True,
    )
    worker_pid = int(parent.stdout.readline())
    threading.Event().wait(1.0)  # let the worker start and ask to die with its parent
    parent.kill()  # the parent this test started, by its id
    parent.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        if _is_zombie(worker_pid):
            break
        threading.Event().wait(0.1)
    else:
        os.kill(worker_pid, signal.SIGKILL)  # the worker started above, by its id
        pytest.fail("the cvc5 worker outlived its killed parent")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
