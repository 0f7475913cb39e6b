"""extraction.basis: MIPS's normalisations of a linear recurrent state. Re-basing is the same network; whitening
drops the axes the states never move along; a state on an integer lattice ends on integer coordinates; a
network whose exactness a change would break keeps its weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction.basis import linear_state, normalise_state, rebase, visited
from extraction.search import normalise
from extraction.train import accuracy


def _net(task, hidden: int, seed: int = 0):
    trained = extraction.untrained(task, arch="rnn", act="mlp", hidden=hidden, inner=8, seed=seed)
    ex = trained.problem.examples
    batch = trained.encoding.batch(ex.inputs, ex.lengths)
    return trained, batch, trained.encoding.targets(ex.outputs, ex.lengths)


SUM = toy_tasks.get("running_sum", values=20, length=4)


def _summing(direction: np.ndarray):
    """A MIPS cell holding the running sum ``s`` as the state ``s * direction`` (a line in ``len(direction)`` units),
    read out exactly; its MLP adds nothing."""
    trained, batch, targets = _net(SUM, len(direction))
    model, v = trained.model, torch.as_tensor(direction, dtype=torch.float32)
    mag = 19.0  # a numeric input enters as its value over the range's largest magnitude
    with torch.no_grad():
        cell = model.cell
        cell.weight_lin_h.copy_(torch.eye(len(direction)))
        cell.weight_lin_x.copy_(mag * v[:, None])
        cell.weight_out.zero_()
        cell.bias_out.zero_()
        model.readout.weight.copy_(v[None, :] / (v @ v) / model.readout.scale)
        model.readout.bias.zero_()
    assert linear_state(model) and accuracy(model, trained.encoding, batch, targets) == 1.0
    return trained, batch, targets


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.integers(1, 4))
def test_rebasing_is_the_same_network(seed, hidden):
    trained, batch, _ = _net(SUM, hidden, seed)
    model = trained.model
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        model.h0.copy_(torch.as_tensor(rng.normal(size=hidden), dtype=torch.float32))
        model.cell.weight_lin_h.copy_(torch.as_tensor(rng.normal(size=(hidden, hidden)) / hidden, dtype=torch.float32))
        before = model.readout.values(model.read(batch)).double()
    q, _ = np.linalg.qr(rng.normal(size=(hidden, hidden)))
    m = q * rng.uniform(0.5, 2.0, size=hidden)[None, :]  # well conditioned, invertible
    rebase(model, np.linalg.inv(m), m)
    with torch.no_grad():
        after = model.readout.values(model.read(batch)).double()
    assert float(model.h0.abs().max()) == 0.0  # the start is the origin
    scale = max(1.0, float(before.abs().max()))
    assert float((after - before).abs().max()) <= 1e-4 * scale


def test_a_state_on_a_line_is_whitened_to_one_integer_coordinate():
    trained, batch, targets = _summing(np.array([0.3, -1.2, 0.7]))
    applied = normalise_state(trained.model, batch, lambda m: accuracy(m, trained.encoding, batch, targets) == 1.0)
    assert applied == {"whitened": 1, "basis": "lattice"}
    z = visited(trained.model, batch)
    assert z.shape[1] == 1
    assert np.abs(z - np.rint(z)).max() < 1e-3  # float32 arithmetic over four steps
    # the coordinate is the running sum up to sign: consecutive values differ by the input
    ex = trained.problem.examples
    sums = np.cumsum(ex.inputs["xs"], axis=1)[np.arange(ex.inputs["xs"].shape[1])[None, :] < ex.lengths[:, None]]
    got = np.rint(z[1:, 0])
    assert np.array_equal(np.abs(got), np.abs(sums)) and (np.array_equal(got, sums) or np.array_equal(got, -sums))
    assert accuracy(trained.model, trained.encoding, batch, targets) == 1.0


def test_train_normalises_a_mips_cell_before_any_reader():
    trained, batch, targets = _summing(np.array([2.0, 0.5]))
    model, applied = normalise(trained.model, trained.encoding, batch, targets)
    assert applied["state"] == {"whitened": 1, "basis": "lattice"}
    assert model.cell.hidden_size == 1 and accuracy(model, trained.encoding, batch, targets) == 1.0
    # A = 1, B = +-1 once the state counts in units of the sum, and the weights snapped to round values
    assert float(model.cell.weight_lin_h.detach().abs().item()) == pytest.approx(1.0, abs=1e-3)


def test_a_change_that_breaks_exactness_is_undone():
    trained, batch, targets = _summing(np.array([1.0, 1.0]))
    model = trained.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    applied = normalise_state(model, batch, lambda m: False)  # nothing may change
    assert applied == {"whitened": None, "basis": None}
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert model.cell.hidden_size == 2


def test_a_rebased_network_saves_and_loads(tmp_path):
    trained, batch, targets = _summing(np.array([0.5, 1.5, -1.0]))
    normalise(trained.model, trained.encoding, batch, targets)
    path = tmp_path / "net.tractbench"
    extraction.save(trained, path)
    loaded = extraction.load(path)
    ex = trained.problem.examples
    assert np.array_equal(loaded.predict(ex.inputs, ex.lengths), trained.predict(ex.inputs, ex.lengths))
    assert loaded.model.cell.hidden_size == 1
