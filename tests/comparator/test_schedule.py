"""The order runs are handed to the executor: a permutation of the grid that keeps each group's order and
starts the first run of several groups before any group's second (so a shared network is trained once)."""
from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

import comparator.runner as runner
import toy_tasks
from comparator.comparison import grid, schedule


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["parity[n=3]", "majority[n=3]", "maximum[bits=3]", "running_parity[length=8]",
                                 "multiplexer[k=1]"]), min_size=1, max_size=5, unique=True),
       st.integers(1, 3), st.integers(1, 4), st.sampled_from([None, 1, 2, 8]))
def test_the_schedule_permutes_the_grid_keeping_each_groups_order(tasks, seeds, methods, workers):
    extractors = ("auto", "blackbox", "fsm", "boolean")[:methods]
    cells = {c.key: c for c in grid(tasks, extractors=extractors, synthesizers=("enumerative",), seeds=seeds)}
    keys = list(cells)
    order = schedule(keys, cells, workers)
    assert sorted(order) == sorted(keys) and len(order) == len(keys)
    def group(k):
        return (cells[k].task.name, cells[k].seed)
    for g in {group(k) for k in keys}:
        assert [k for k in order if group(k) == g] == [k for k in keys if group(k) == g]
    groups = list(dict.fromkeys(group(k) for k in keys))
    block = groups[:2 * max(2, workers or 2)]
    members = {g: [k for k in keys if group(k) == g] for g in block}
    firsts = [order.index(members[g][0]) for g in block]
    later = [order.index(k) for g in block for k in members[g][1:]]
    assert max(firsts) < min(later or [len(order)])  # the block's first runs all start before any second run


def test_an_extractor_that_cannot_read_the_networks_architecture_abstains_before_any_training():
    row = runner.run_route(toy_tasks.get("multiplexer", k=1).problem(), "extraction", "fsm", 0, 10.0)
    assert row["claim"] == "abstained" and "train" not in row["phases"] and "train_seconds" not in row
    assert row["reasons"][0].startswith("no network trained: this method reads the states of a recurrent network")
    row = runner.run_route(toy_tasks.get("running_parity", length=8).problem(), "extraction", "fourier", 0, 10.0)
    assert row["claim"] == "abstained" and "train" not in row["phases"]
    row = runner.run_route(toy_tasks.get("multiplexer", k=1).problem(), "extraction", "linear", 0, 10.0)
    assert "train" in row["phases"] and row["claim"] == "solved"
