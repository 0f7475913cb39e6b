"""``fourier`` on trained networks whose algorithm is known, and on maps that merge residues.

- Clock or pizza (Zhong et al. 2023): a one-layer transformer whose attention is constant (their model B,
  which they found to grow pizzas: the two embeddings are averaged, not multiplied) and the same transformer
  with learned attention (model A: clocks), both trained on the p = 13 table; the distance irrelevance of
  the first is well below the second's, and the second reads as a clock.
- Many-to-one maps: the squares at p = 37 grow lookups over (a^2, b^2) (the wave splice fails, the merge
  splice holds: "lookup"); the cube at p = 41, a bijection, grows a clock with the splice holding.
- The splice's cap: with 1 + 2k wave columns at least as many as the points, any table fits (so the splice
  would test nothing); at (points - 1) // 4 frequencies a generic table does not.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import extraction
import toy_tasks
from extraction.faithfulness import MECHANISM
from extraction.methods.fourier import (
    CLOCK_FROM,
    SPLICE_POINTS_PER_FREQUENCY,
    algorithm_named,
    project_waves,
)

ROOT = Path(__file__).resolve().parents[2]


def attention_net(p: int, constant: bool, seed: int = 0):
    """The one-layer transformer trained on the whole (a + b) % p table, with learned or constant attention
    (Zhong et al.'s models A and B), as ``bench/grokking.py --pizza`` trains it (loaded from there)."""
    spec = importlib.util.spec_from_file_location("grokking_bench", ROOT / "bench" / "grokking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.attention_net(p, constant, seed)


@pytest.fixture(scope="module")
def clock_and_pizza():
    return {c: extraction.extract(attention_net(13, c), "fourier", seconds=20) for c in (False, True)}


def test_constant_attention_reads_further_from_a_clock_than_learned_attention(clock_and_pizza):
    learned, constant = clock_and_pizza[False], clock_and_pizza[True]
    task = toy_tasks.get("modular_addition", p=13)
    for reading in (learned, constant):
        assert reading.status == "solved" and task.verify(reading.program).equal
        assert reading.faithfulness["splice"] >= MECHANISM
    q_learned, q_constant = learned.details["distance_irrelevance"], constant.details["distance_irrelevance"]
    assert q_learned >= CLOCK_FROM and learned.details["algorithm"] == "clock"
    assert q_constant <= q_learned - 0.15 and constant.details["algorithm"] != "clock"


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


@pytest.mark.parametrize("splice, merge, q, name", [
    (1.0, 1.0, 0.95, "clock"), (0.995, 1.0, 0.1, "pizza"), (1.0, 1.0, 0.5, "unclear"), (1.0, 1.0, None, "unclear"),
    (0.6, 1.0, 0.95, "lookup"), (0.6, 0.7, 0.95, "unclear"), (None, None, 0.95, "unclear"),
])
def test_the_algorithm_named(splice, merge, q, name):
    assert algorithm_named(splice, merge, q) == name
