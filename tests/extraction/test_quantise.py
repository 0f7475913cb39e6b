"""Quantising a regressing numeric MLP onto integer weights (``extraction.quantise``) and `linear`'s
transcription of the integer network it leaves (``units.integer_units``)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _nets import task_of, trained
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction.methods.units import UnitTrace, integer_units
from extraction.quantise import _exact, quantise
from programs import Int


def integer_net(draw, inputs: int):
    """A small integer ReLU net on a grid of small integers, and its answers (the nearest integer)."""
    k = draw(st.integers(1, 3))
    w = np.array(draw(st.lists(st.lists(st.integers(-2, 2), min_size=inputs, max_size=inputs)
                               .filter(lambda r: any(r)), min_size=k, max_size=k)), dtype=np.float64)
    b = np.array(draw(st.lists(st.integers(-3, 3), min_size=k, max_size=k)), dtype=np.float64)
    c = np.array(draw(st.lists(st.integers(-2, 2).filter(bool), min_size=k, max_size=k)), dtype=np.float64)
    c0 = float(draw(st.integers(-3, 3)))
    grid = np.stack(np.meshgrid(*[np.arange(5)] * inputs, indexing="ij"), axis=-1).reshape(-1, inputs).astype(np.float64)
    y = np.maximum(0, grid @ w.T + b) @ c + c0
    known = np.unique(y)
    targets = np.searchsorted(known, y)[:, None]
    return w, b, c, c0, grid, known, targets


@st.composite
def noisy_integer_nets(draw):
    inputs = draw(st.integers(1, 2))
    w, b, c, c0, grid, known, targets = integer_net(draw, inputs)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    extra = draw(st.integers(0, 3))  # units that write nothing the answer needs
    scale = rng.uniform(0.3, 3.0, size=w.shape[0])  # each unit rescaled: the same function
    wn = np.vstack([w * scale[:, None] + rng.normal(0, 0.01, w.shape), rng.normal(0, 1, (extra, inputs))])
    bn = np.r_[b * scale + rng.normal(0, 0.01, b.shape), rng.normal(0, 1, extra)]
    cn = np.r_[c / scale, rng.normal(0, 1e-4, extra)]
    return grid, targets, known, wn, bn, cn, c0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_integer_nets())
def test_a_noisy_integer_net_is_quantised_to_an_integer_net_exact_on_every_example(net):
    grid, targets, known, w, b, c, c0 = net
    h = np.maximum(0, grid @ w.T + b)
    assume(_exact(h, c[:, None], np.array([c0]), targets, [known]))  # else the noise moved an answer: no exact start
    q = quantise(grid, targets, [known], w, b, c[:, None], np.array([c0]))
    assert q is not None
    assert np.array_equal(q.weight, np.rint(q.weight)) and np.array_equal(q.bias, np.rint(q.bias))
    assert np.allclose(q.readout * q.denom, np.rint(q.readout * q.denom))
    hq = np.maximum(0, grid @ q.weight.T + q.bias)
    # the law: whatever it returns names every example's answer, clear of the rounding edges
    assert _exact(hq, q.readout, q.intercept, targets, [known], margin=1 / (8 * q.denom))


def test_a_unit_snapped_early_to_a_dead_end_form_is_snapped_again_nearest_first():
    """Found by the law above: relu(-2a + 2b + 1) first snapped to relu(-a + b + 1) (exact beside the other unit's
    real weights) left relu(2a + b) no exact form; quantisation then starts again, every unit's forms nearest
    first over all multiples, and returns the net the noise was put on."""
    grid = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), axis=-1).reshape(-1, 2).astype(np.float64)
    y = -np.maximum(0, grid @ [-2, 2] + 1) - 2 * np.maximum(0, grid @ [2, 1])
    known = np.unique(y)
    targets = np.searchsorted(known, y)[:, None]
    w = np.array([[1.049e-03, -2.02515325], [-2.0532323, 2.06988825], [0.830727839, 0.403591162]])
    b = np.array([-1.26542147e-02, 1.02219138, 4.13259793e-04])
    c = np.array([0.49509937, -0.97236147, -4.87058236])
    q = quantise(grid, targets, [known], w, b, c[:, None], np.zeros(1))
    assert q is not None
    assert sorted(map(tuple, np.c_[q.weight, q.bias].tolist())) == [(-2, 2, 1), (2, 1, 0)]
    assert _exact(np.maximum(0, grid @ q.weight.T + q.bias), q.readout, q.intercept, targets, [known],
                  margin=1 / (8 * q.denom))


def test_an_inexact_net_is_not_quantised():
    grid = np.arange(6, dtype=np.float64)[:, None]
    known = np.arange(6, dtype=np.float64)
    targets = np.arange(6)[:, None]
    # the net says 0 everywhere: not exact, so nothing to keep exact
    assert quantise(grid, targets, [known], np.ones((1, 1)), np.zeros(1), np.zeros((1, 1)), np.zeros(1)) is None


@pytest.mark.parametrize("name", ["maximum", "absolute_difference", "relu"])
def test_a_trained_integer_function_is_quantised_and_read_as_its_units(name):
    net = trained(name, bits=3)
    assert net.settings["regress"] and net.settings["numeric"]
    assert "quantised" in net.settings["normalised"], net.settings["normalised"]
    units = net.settings["normalised"]["quantised"]["units"]
    out = extraction.extract(net, "linear", seconds=60, seed=0)
    assert out.status == "solved", out.reasons
    assert task_of(net).verify(out.program).equal
    f = out.faithfulness
    assert f["agreement"] == 1.0 and f["interchange"] == 1.0 and f["splice"] == 1.0
    # one step per integer unit, each `max(0, affine)` of the inputs
    steps = [s for s in out.program.body[:-1]]
    assert len(steps) == units
    assert all(s.value.func == "max" for s in steps)


def test_transcription_refuses_a_network_whose_weights_are_not_integers():
    net = trained("maximum", bits=3)
    model = type(net.model)(net.encoding, hidden=net.model.width, numeric=True, regress=True)
    model.load_state_dict(net.model.state_dict())
    with torch.no_grad():
        model.hidden.weight.mul_(1.37)  # still a ReLU net; no longer integers at any factor up to 16
    other = dataclasses.replace(net, model=model)
    assert integer_units(other, UnitTrace(other)) is None


def test_a_user_task_over_integers_is_quantised_and_read_right():
    task = toy_tasks.from_program("skew_max", "def f(a, b):\n    return max(a - b, 0) + 2 * b\n", {"a": Int(0, 8), "b": Int(0, 8)})
    net = extraction.train(task, seconds=60, seed=0)
    assert net.status == "trained"
    out = extraction.extract(net, "linear", seconds=60, seed=0)
    assert out.status == "solved", out.reasons
    assert task.verify(out.program).equal


# --- recurrent nets: quantise_rnn ----------------------------------------------------------------------------------

from extraction.encoding import Encoding  # noqa: E402
from extraction.models import Recurrent  # noqa: E402
from extraction.quantise import _Cell, _cell_of, _net_of, quantise_rnn  # noqa: E402
from extraction.train import accuracy, problem_of  # noqa: E402

# integer ReLU Elman nets (W, U, b, A, c) and the programs they compute over 0..19 (numeric inputs)
INTEGER_RNNS = {
    "sum": ([[1]], [[1]], [0], [[1]], [0], "    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n"),
    "previous": ([[0, 0], [1, 0]], [[1], [0]], [0, 0], [[0, 1]], [0],
                 "    p = 0\n    for x in xs:\n        yield p\n        p = x\n"),
    "maximum": ([[1, 1], [-1, -1]], [[0], [1]], [0, 0], [[1, 1]], [0],
                "    m = 0\n    for x in xs:\n        m = max(m, x)\n        yield m\n"),
}


def _scan_problem(name: str, body: str):
    task = toy_tasks.from_program(f"q_{name}", f"def q_{name}(xs):\n{body}", {"xs": toy_tasks.Seq(Int(0, 20), length=(1, 3))})
    problem = problem_of(task, 1.0, 0)
    ex = problem.examples
    enc = Encoding.of(problem, ex.outputs, ex.lengths)
    return enc, enc.batch(ex.inputs, ex.lengths), enc.targets(ex.outputs, ex.lengths)


@pytest.mark.parametrize("name", sorted(INTEGER_RNNS))
def test_the_integer_rnns_compute_their_programs(name):
    W, U, b, A, c, body = INTEGER_RNNS[name]
    enc, batch, targets = _scan_problem(name, body)
    k = len(b)
    template = Recurrent(enc, cell="rnn", hidden=k, numeric=True, regress=True, act="relu")
    cell = _Cell(*(np.array(v, dtype=np.float64) for v in (W, U, b, A, c)), np.zeros(k))
    assert accuracy(_net_of(template, cell), enc, batch, targets) == 1.0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(INTEGER_RNNS)), extra=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_a_noisy_integer_rnn_is_quantised_to_an_integer_rnn_exact_on_every_example(name, extra, seed):
    """The law: a rescaled, slightly perturbed copy of an integer ReLU RNN (with units that write nothing the
    answer needs), exact on its examples, is quantised to a net with integer weights exact on every example."""
    W, U, b, A, c, body = INTEGER_RNNS[name]
    enc, batch, targets = _scan_problem(name, body)
    rng = np.random.default_rng(seed)
    k = len(b)
    W, U, b, A, c = (np.array(v, dtype=np.float64) for v in (W, U, b, A, c))
    f = rng.uniform(0.3, 3.0, size=k)  # each unit rescaled: the same function
    Wn = np.zeros((k + extra, k + extra))
    Wn[:k, :k] = f[:, None] * W / f[None, :] + rng.normal(0, 1e-4, (k, k))
    Wn[k:, :] = rng.normal(0, 0.3, (extra, k + extra))  # junk units read the state, nothing reads them
    Un = np.vstack([f[:, None] * U + rng.normal(0, 1e-4, U.shape), rng.normal(0, 0.3, (extra, 1))])
    bn = np.r_[f * b + rng.normal(0, 1e-4, k), rng.normal(0, 0.3, extra)]
    An = np.hstack([A / f[None, :], np.zeros((1, extra))])
    template = Recurrent(enc, cell="rnn", hidden=k + extra, numeric=True, regress=True, act="relu")
    noisy = _net_of(template, _Cell(Wn, Un, bn, An, c + rng.normal(0, 1e-3, 1), np.zeros(k + extra)))
    assume(accuracy(noisy, enc, batch, targets) == 1.0)  # else the noise moved an answer: no exact net to start from
    out = quantise_rnn(noisy, enc, batch, targets)
    assert out is not None
    net, what = out
    q = _cell_of(net)
    assert what["units"] <= k and net.width <= k
    for part in (q.W, q.U, q.b, q.A, q.c):
        assert np.allclose(part, np.rint(part), atol=1e-5)
    assert accuracy(net, enc, batch, targets) == 1.0


def test_quantise_rnn_leaves_other_networks_alone():
    enc, batch, targets = _scan_problem("sum", INTEGER_RNNS["sum"][-1])
    tanh = Recurrent(enc, cell="rnn", hidden=2, numeric=True, regress=True, act="tanh")
    tokens = Recurrent(enc, cell="rnn", hidden=2, numeric=False, regress=True, act="relu")
    assert quantise_rnn(tanh, enc, batch, targets) is None
    assert quantise_rnn(tokens, enc, batch, targets) is None


# integer linear recurrences z' = M z + v x, answer a . z (z starting at 0), over 0..19
LINEAR_RECURRENCES = {
    "sum": ([[1]], [[1]], [[1]], "    s = 0\n    for x in xs:\n        s = s + x\n        yield s\n"),
    "sum_last2": ([[0, 0], [1, 0]], [[1], [0]], [[1, 1]], "    p = 0\n    for x in xs:\n        yield x + p\n        p = x\n"),
    "difference": ([[0, 0], [1, 0]], [[1], [0]], [[1, -1]], "    p = 0\n    for x in xs:\n        yield x - p\n        p = x\n"),
    "constant_force": ([[1, 0], [1, 1]], [[1], [1]], [[0, 1]],
                       "    v = 0\n    s = 0\n    for x in xs:\n        v = v + x\n        s = s + v\n        yield s\n"),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(LINEAR_RECURRENCES)), seed=st.integers(0, 2**16))
def test_a_linear_recurrence_in_mixed_coordinates_is_quantised_to_an_integer_rnn(name, seed):
    """The law: an integer linear recurrence whose units mix its roles (its states ``h = T z + o`` for a random
    invertible ``T``, shifted by ``o`` so every unit stays active: a ReLU net that is linear on its examples),
    slightly perturbed and exact on its examples, is quantised to a net with integer weights exact on every
    example (no rescaling of units can do this: only a change of coordinates)."""
    M, v, a, body = (np.array(p, dtype=np.float64) if i < 3 else p for i, p in enumerate(LINEAR_RECURRENCES[name]))
    enc, batch, targets = _scan_problem(name, body)
    k = M.shape[0]
    rng = np.random.default_rng(seed)
    T = rng.normal(0, 1, (k, k))
    assume(np.linalg.cond(T) < 20)
    xs, lengths = batch.sequences["xs"].numpy().astype(np.float64), batch.lengths.numpy()
    z, states = np.zeros((xs.shape[0], k)), []
    for t in range(xs.shape[1]):
        z = np.where((t < lengths)[:, None], z @ M.T + xs[:, t:t + 1] @ v.T, z)
        states.append(z @ T.T)
    o = np.maximum(0.0, -np.concatenate(states).min(axis=0)) + 1.0  # every unit above zero on every example
    Ti = np.linalg.inv(T)
    W = T @ M @ Ti
    noise = rng.normal(0, 1e-5, (3, k, k))
    cell = _Cell(W + noise[0], T @ v, o - W @ o + noise[1][:, 0], a @ Ti, -(a @ Ti) @ o + rng.normal(0, 1e-4, 1), o)
    template = Recurrent(enc, cell="rnn", hidden=k, numeric=True, regress=True, act="relu")
    noisy = _net_of(template, cell)
    assume(accuracy(noisy, enc, batch, targets) == 1.0)
    out = quantise_rnn(noisy, enc, batch, targets)
    assert out is not None
    net, what = out
    q = _cell_of(net)
    assert what["units"] <= k
    for part in (q.W, q.U, q.b, q.A, q.c, q.h0):
        assert np.allclose(part, np.rint(part), atol=1e-5)
    assert accuracy(net, enc, batch, targets) == 1.0


# --- the width search's ladder for linear recurrences: which problems take it ---------------------------------------

from types import SimpleNamespace  # noqa: E402

from extraction.search import affine_in_history  # noqa: E402


def _stream_problem(answer, seed: int, n: int = 300, t: int = 5):
    """A scan problem over random integer streams 0..49 with ``answer(prefix)`` at every step (0 past the end)."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 50, size=(n, t))
    lengths = rng.integers(1, t + 1, size=n)
    out = np.array([[answer(xs[i, :j + 1]) if j < lengths[i] else 0 for j in range(t)] for i in range(n)])
    return SimpleNamespace(sequences=("xs",), kind="scan", examples=SimpleNamespace(inputs={"xs": xs}, outputs=out, lengths=lengths))


def _recurrence(M, v, a):
    def answer(prefix):
        z = np.zeros(len(M), dtype=np.int64)
        for x in prefix:
            z = M @ z + v * x
        return int(a @ z)
    return answer


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), data=st.data(), seed=st.integers(0, 2**16))
def test_the_answers_of_an_integer_linear_recurrence_are_affine_in_the_history_and_a_maximum_is_not(k, data, seed):
    """The law: any integer linear recurrence's answers (z' = M z + v x, answer a . z) are affine in the inputs
    read so far, position by position; adding the running maximum to them makes them not (the gate that sends a
    numeric net to the ladder)."""
    ints = st.integers(-1, 1)
    M = np.array(data.draw(st.lists(st.lists(ints, min_size=k, max_size=k), min_size=k, max_size=k)), dtype=np.int64)
    v = np.array(data.draw(st.lists(ints, min_size=k, max_size=k)), dtype=np.int64)
    a = np.array(data.draw(st.lists(ints, min_size=k, max_size=k)), dtype=np.int64)
    linear = _recurrence(M, v, a)
    assert affine_in_history(_stream_problem(linear, seed))
    assert not affine_in_history(_stream_problem(lambda p: linear(p) + int(p.max()), seed))


def test_only_sequence_problems_with_lengths_are_judged_affine():
    scalar = SimpleNamespace(sequences=(), kind="function",
                             examples=SimpleNamespace(inputs={"a": np.arange(5)}, outputs=np.arange(5), lengths=None))
    assert not affine_in_history(scalar)
