"""``fourier`` on networks whose algorithm is known, and on maps that merge residues.

- Clock or pizza (Zhong et al. 2023): networks built by hand to compute the clock's logits (cos(w(a + b - c))
  at a few frequencies, from products of the two embeddings) or the pizza's (from the sum of the two
  embeddings, |h . e(wc/2)| - |h . e'(wc/2)|, as Zhong et al. write it) are named clock and pizza, over moduli
  and frequencies; their two measures (distance irrelevance, gradient symmetricity) sit where Zhong et al. put
  them. Zhong et al.'s own transformer with constant attention (their model A), trained as they train it,
  is named pizza (slow).
- Many-to-one maps: the squares at p = 37 grow lookups over (a^2, b^2) (the wave splice fails, the merge
  splice holds: "lookup"); the cube at p = 41, a bijection, grows a clock with the splice holding.
- The splice's cap: with 1 + 2k wave columns at least as many as the points, any table fits (so the splice
  would test nothing); at (points - 1) // 4 frequencies a generic table does not.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction.faithfulness import MECHANISM
from extraction.methods.fourier import (
    SPLICE_POINTS_PER_FREQUENCY,
    algorithm_named,
    project_waves,
)

ROOT = Path(__file__).resolve().parents[2]


def grokking_bench():
    spec = importlib.util.spec_from_file_location("grokking_bench", ROOT / "bench" / "grokking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class HandBuilt(torch.nn.Module):
    """A network computing (a + b) % p by the clock or the pizza at the frequencies ``freqs``: one embedding
    (cos wx, sin wx per frequency) for both inputs. The clock multiplies the two embeddings into
    cos/sin(w(a + b)) and reads cos(w(a + b - c)); the pizza adds them, h = E(a) + E(b), and reads
    |h . e(wc/2)| - |h . e(wc/2 + pi/2)| through ReLUs (|x| = relu(x) + relu(-x))."""

    arch = "transformer"

    def __init__(self, encoding, p: int, freqs, kind: str):
        super().__init__()
        self.encoding, self.kind = encoding, kind
        w = 2 * np.pi * np.asarray(freqs)[None, :] * np.arange(p)[:, None] / p
        table = torch.nn.Embedding(p, 2 * len(freqs))
        table.weight.data = torch.tensor(np.concatenate([np.cos(w), np.sin(w)], 1), dtype=torch.float32)
        other = torch.nn.Embedding(p, 2 * len(freqs))
        other.weight = table.weight
        self.embed = torch.nn.ModuleDict({"a": table, "b": other})
        self.k = len(freqs)
        half = torch.tensor(w / 2, dtype=torch.float32)  # [c, k]: w c / 2
        self.register_buffer("angle", half)

    def forward(self, batch):
        ea, eb = self.embed["a"](batch.scalars["a"]), self.embed["b"](batch.scalars["b"])
        k = self.k
        if self.kind == "clock":
            cos = ea[:, :k] * eb[:, :k] - ea[:, k:] * eb[:, k:]  # cos(w(a + b))
            sin = ea[:, k:] * eb[:, :k] + ea[:, :k] * eb[:, k:]
            c2, s2 = torch.cos(2 * self.angle), torch.sin(2 * self.angle)  # cos/sin(w c)
            return cos @ c2.T + sin @ s2.T
        h = ea + eb
        x, y = h[:, None, :k], h[:, None, k:]  # [n, 1, k]
        along = x * torch.cos(self.angle) + y * torch.sin(self.angle)  # [n, c, k]
        across = -x * torch.sin(self.angle) + y * torch.cos(self.angle)
        return (magnitude(along) - magnitude(across)).sum(-1)


def magnitude(t: torch.Tensor) -> torch.Tensor:
    """|t| as two ReLUs, as a ReLU layer computes it."""
    return torch.relu(t) + torch.relu(-t)


def hand_built(p: int, freqs, kind: str):
    task = toy_tasks.get("modular_addition", p=p)
    net = extraction.untrained(task, arch="transformer")
    return task, dataclasses.replace(net, model=HandBuilt(net.encoding, p, freqs, kind), status="trained")


@st.composite
def moduli_and_frequencies(draw):
    p = draw(st.sampled_from([11, 13, 17, 19, 23, 29, 31]))
    most = min(3, (p - 1) // 4)  # the splice keeps at most (points - 1) // 4 waves
    freqs = draw(st.sets(st.integers(1, (p - 1) // 2), min_size=1, max_size=most))
    return p, sorted(freqs)


@settings(max_examples=12, deadline=None)
@given(moduli_and_frequencies(), st.sampled_from(["clock", "pizza"]))
def test_a_hand_built_clock_and_pizza_are_named_so(case, kind):
    p, freqs = case
    task, net = hand_built(p, freqs, kind)
    dom = task.examples(None)
    assert np.array_equal(net.predict(dom.inputs), dom.outputs)  # both compute the sum
    reading = extraction.extract(net, "fourier", seconds=20)
    d = reading.details
    assert reading.status == "solved" and task.verify(reading.program).equal
    assert reading.faithfulness["splice"] >= MECHANISM
    assert d["algorithm"] == kind
    explained = {k: f for k, f in d["circles"].items() if f is not None and f["joint_fit"] >= 0.5}
    assert set(explained) == set(freqs)
    for f in explained.values():
        better, worse = (f["pizza_fit"], f["clock_fit"]) if kind == "pizza" else (f["clock_fit"], f["pizza_fit"])
        assert better > 0.95 and worse < 0.9 * better
    # Zhong et al.'s two measures: a pizza reads the sum of the embeddings (symmetric gradients) and its
    # answer logit follows a - b; a clock's does not
    if kind == "pizza":
        assert d["gradient_symmetricity"] > 0.99 and d["distance_irrelevance"] < 0.5
    else:
        assert d["distance_irrelevance"] > 0.9


@pytest.mark.slow
def test_zhong_et_al_s_transformer_with_constant_attention_is_a_pizza():
    net = grokking_bench().zhong_net(31, constant=True, seed=0)  # their model A, 1,500 steps: about 80 s
    task = toy_tasks.get("modular_addition", p=31)
    reading = extraction.extract(net, "fourier", seconds=20)
    d = reading.details
    assert reading.status == "solved" and task.verify(reading.program).equal
    assert reading.faithfulness["splice"] >= MECHANISM
    assert d["gradient_symmetricity"] > 0.95 and d["algorithm"] == "pizza"


def test_the_squares_at_37_are_a_lookup_and_the_cube_at_41_a_clock():
    squares = toy_tasks.get("modular_sum_of_squares")
    net = extraction.train(squares, seconds=60, seed=0)
    reading = extraction.extract(net, "fourier", seconds=20)
    assert net.domain_accuracy == 1.0 and squares.verify(reading.program).equal
    d = reading.details
    assert d["merge_splice"] >= MECHANISM > reading.faithfulness["splice"] and d["algorithm"] == "lookup"
    points = (squares.params["p"] + 1) // 2  # the values of a^2
    assert all(len(k) <= (points - 1) // SPLICE_POINTS_PER_FREQUENCY for k in d["splice_key_frequencies"].values())

    cube = toy_tasks.get("modular_cubic")
    assert cube.params["p"] == 41
    net = extraction.train(cube, seconds=60, seed=0)
    reading = extraction.extract(net, "fourier", seconds=20)
    assert net.domain_accuracy == 1.0 and cube.verify(reading.program).equal
    assert reading.faithfulness["splice"] >= MECHANISM and reading.details["algorithm"] == "clock"


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=5, max_value=60), st.integers(min_value=0, max_value=2**31 - 1))
def test_enough_waves_fit_any_table_and_the_cap_leaves_a_test(points, seed):
    rng = np.random.default_rng(seed)
    period = 2 * points + 1  # points spread over a larger circle, as a^2 over the residues
    x = np.sort(rng.choice(period, size=points, replace=False))
    table = rng.normal(size=(points, 3))
    every = list(range(1, (points - 1) // 2 + 1)) + ([points // 2] if points % 2 == 0 else [])
    assert np.allclose(project_waves(table, x, period, every), table, atol=1e-6)  # 1 + 2k >= points: no test
    capped = list(range(1, max(1, (points - 1) // SPLICE_POINTS_PER_FREQUENCY) + 1))
    assert not np.allclose(project_waves(table, x, period, capped), table, atol=1e-3)


@pytest.mark.parametrize("splice, merge, weight, name", [
    (1.0, 1.0, 0.05, "clock"), (0.995, 1.0, 0.9, "pizza"), (1.0, 1.0, 0.5, "mixed"), (1.0, 1.0, None, "unclear"),
    (0.6, 1.0, 0.05, "lookup"), (0.6, 0.7, 0.05, "unclear"), (None, None, 0.05, "unclear"),
])
def test_the_algorithm_named(splice, merge, weight, name):
    assert algorithm_named(splice, merge, weight) == name
