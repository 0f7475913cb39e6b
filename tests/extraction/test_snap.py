"""extraction.snap: a trained GRU's states snapped to a codebook of its own states. The snap names a codebook row
(the nearest), passes gradients straight through, bounds the states a net reaches by the codebook's rows; the
snapped net ``train`` keeps is exact on every example, is recorded, and survives a model file."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import extraction
import toy_tasks
from extraction.encoding import Encoding
from extraction.models import Recurrent, nearest_row, snapped
from extraction.search import predicted, share_exact
from extraction.basis import visited
from extraction.snap import COMPARED, RUNGS, changed_answers, snap_applies, snap_states, with_codebook
from extraction.train import TrainingError, problem_of
from programs import Int, Seq

floats = st.floats(-3, 3, allow_nan=False, width=32)


def mod3_task(length: int = 8):
    """A running sum mod 3 over sequences up to ``length``: finite-state, its default examples not its domain."""
    src = "def mod3(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % 3\n        yield s\n"
    return toy_tasks.from_program("mod3", src, {"xs": Seq(Int(0, 3), length=(1, length))})


def short_examples(task, up_to: int = 4):
    """The task's default examples of length ``up_to`` at most: a net trained on them has never carried its
    state further, so on the domain's longer inputs it drifts."""
    ex = task.example_set(None, 0)
    return ex.take(np.flatnonzero(ex.lengths <= up_to))


@pytest.fixture(scope="module")
def mod3_net():
    """Snapped: the plain net, exact on inputs up to length 4, answers some longer ones otherwise."""
    return extraction.train(mod3_task(), examples=short_examples(mod3_task()), seconds=30, seed=0)


@pytest.fixture(scope="module")
def mod3_plain():
    """The same training without the snap."""
    return extraction.train(mod3_task(), examples=short_examples(mod3_task()), seconds=30, seed=0, snap=False)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_snap_names_the_nearest_codebook_row(k, d, data):
    book = torch.as_tensor(data.draw(hnp.arrays(np.float32, (k, d), elements=floats, unique=True)))
    h = torch.as_tensor(data.draw(hnp.arrays(np.float32, (7, d), elements=floats)))
    out = snapped(h, book)
    dist = torch.cdist(h.double(), book.double())
    for i in range(h.shape[0]):
        row = int(nearest_row(h[i:i + 1], book)[0])
        assert torch.equal(out[i], book[row])  # exactly a row, not a rounding of one
        assert dist[i, row] <= dist[i].min() + 1e-4  # and the nearest (up to float32 rounding of near ties)


def test_snap_passes_the_gradient_straight_through():
    book = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    h = torch.tensor([[0.2, 0.1], [0.9, 0.7]], requires_grad=True)
    out = snapped(h, book)
    assert torch.allclose(out.detach(), torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    (out * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert torch.equal(h.grad, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10_000))
def test_a_snapped_net_reaches_no_state_off_its_codebook(k, seed):
    task = mod3_task(length=5)
    problem = problem_of(task, None, 0)
    enc = Encoding.of(problem, problem.examples.outputs, problem.examples.lengths)
    torch.manual_seed(seed)
    net = Recurrent(enc, cell="gru", hidden=4)
    book = torch.randn(k, 4)
    snapped_net = with_codebook(net, book.numpy())
    batch = enc.batch(problem.examples.inputs, problem.examples.lengths)
    states = visited(snapped_net, batch)[1:]  # the start is not snapped
    reached = {tuple(r) for r in np.unique(states.astype(np.float32), axis=0)}
    assert reached <= {tuple(r) for r in book.numpy()}
    assert snapped_net.states_kept == k and net.states_kept == 0  # the copy snaps, the original does not


def test_train_keeps_a_snapped_net_exact_on_every_example(mod3_net):
    record = mod3_net.settings["snapped"]
    assert record["why"] == "exact" and record["kept"] and record["states"] == mod3_net.model.states_kept > 0
    assert 0 < record["changed"] <= record["compared"]  # why it was kept: the plain net answers otherwise
    rows = [r for r, _ in record["tried"]]
    assert rows == sorted(rows) and record["tried"][-1][1] == 1.0
    assert all(share < 1.0 for _, share in record["tried"][:-1])  # the fewest rows that are exact
    assert record["passes"] == (len(rows) + 1) * len(mod3_net.problem.examples) + 2 * record["compared"]
    assert mod3_net.train_accuracy == 1.0
    ex = mod3_net.problem.examples
    batch = mod3_net.encoding.batch(ex.inputs, ex.lengths)
    with torch.no_grad():
        assert share_exact(predicted(mod3_net.model, batch), mod3_net.encoding.targets(ex.outputs, ex.lengths)) == 1.0
    assert len(np.unique(visited(mod3_net.model, batch)[1:], axis=0)) == record["visited"] <= record["states"]


def test_the_snapped_net_is_kept_only_where_it_answers_otherwise(mod3_net, mod3_plain):
    plain = mod3_plain
    snapped_net = mod3_net.model
    changed, compared = changed_answers(plain.model, snapped_net, plain.encoding, plain.problem, 0)
    assert (changed, compared) == (mod3_net.settings["snapped"]["changed"], mod3_net.settings["snapped"]["compared"])
    inputs, lengths, _ = plain.problem.domain_inputs(cap=COMPARED)
    differ = (plain.predict(inputs, lengths) != mod3_net.predict(inputs, lengths)).reshape(compared, -1).any(axis=1)
    assert int(differ.sum()) == changed
    # examples that are every input of the domain: a snapped net exact on them answers every input as the plain
    # net does (both right), so the plain net is kept
    whole = problem_of(mod3_task(length=5), 1.0, 0)
    net = extraction.train(whole, seconds=30, seed=0, snap=False)
    assert net.train_accuracy == 1.0
    batch = net.encoding.batch(whole.examples.inputs, whole.examples.lengths)
    targets = net.encoding.targets(whole.examples.outputs, whole.examples.lengths)
    out, record = snap_states(net.model, net.encoding, whole, batch, targets, deadline=float("inf"), seed=0)
    assert record["why"] == "exact" and record["changed"] == 0 and not record["kept"] and out is net.model


def test_snap_off_keeps_the_plain_net(mod3_plain, mod3_net):
    assert "snapped" not in mod3_plain.settings and mod3_plain.model.states_kept == 0
    # the snap's forward passes are charged to training: the same training steps, more compute
    assert mod3_net.steps == mod3_plain.steps and mod3_net.flops > mod3_plain.flops


def test_snap_states_returns_the_net_itself_when_no_codebook_is_exact(mod3_plain):
    # the targets of another task (every output wrong by one) no codebook can fit: the net comes back unchanged
    plain = mod3_plain
    ex = plain.problem.examples
    batch = plain.encoding.batch(ex.inputs, ex.lengths)
    targets = plain.encoding.targets(ex.outputs, ex.lengths)
    wrong = torch.where(targets >= 0, (targets + 1) % 3, targets)
    out, record = snap_states(plain.model, plain.encoding, plain.problem, batch, wrong, deadline=float("inf"), seed=0)
    assert out is plain.model and record["states"] is None and record["why"] == "none exact"
    expected = []
    for k in RUNGS:  # every rung in turn, the last the distinct states themselves
        expected.append(min(k, record["points"]))
        if k >= record["points"]:
            break
    assert [r for r, _ in record["tried"]] == expected


def test_snap_states_stops_at_its_deadline(mod3_plain):
    plain = mod3_plain
    ex = plain.problem.examples
    batch = plain.encoding.batch(ex.inputs, ex.lengths)
    out, record = snap_states(plain.model, plain.encoding, plain.problem, batch,
                              plain.encoding.targets(ex.outputs, ex.lengths), deadline=0.0, seed=0)
    assert out is plain.model and record["tried"] == [] and record["why"] == "budget"


def test_snap_applies_only_to_classifying_grus_short_of_their_domain(mod3_net):
    problem = mod3_net.problem
    plain = extraction.untrained(mod3_task(), "gru")
    assert snap_applies(plain.model, problem)
    assert not snap_applies(mod3_net.model, problem)  # already snapped
    assert not snap_applies(extraction.untrained(mod3_task(), "rnn").model, problem)
    whole = problem_of(mod3_task(length=3), 1.0, 0)
    assert whole.examples.complete and not snap_applies(plain.model, whole)  # exact on them is exact on the domain
    regress = extraction.untrained(toy_tasks.get("running_sum", values=100)).model
    assert not snap_applies(regress, problem)


def test_a_snapped_net_survives_its_model_file(mod3_net, tmp_path):
    path = tmp_path / "snapped.pt"
    extraction.save(mod3_net, path)
    back = extraction.load(path)
    assert back.model.states_kept == mod3_net.model.states_kept
    assert torch.equal(back.model.cell.codebook, mod3_net.model.cell.codebook)
    ex = mod3_net.problem.examples
    assert np.array_equal(back.predict(ex.inputs, ex.lengths), mod3_net.predict(ex.inputs, ex.lengths))


def test_only_a_gru_snaps_and_snap_must_be_a_flag():
    enc = extraction.untrained(mod3_task(), "gru").encoding
    with pytest.raises(ValueError, match="only a GRU"):
        Recurrent(enc, cell="rnn", states=4)
    with pytest.raises(TrainingError, match="True or False"):
        extraction.train(mod3_task(), seconds=1, snap=1)
