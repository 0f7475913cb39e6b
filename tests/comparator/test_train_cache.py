"""Training once per (task, seed) for every extractor gives the rows training every time gives."""
from __future__ import annotations

import comparator
from _determinism import assert_same_runs

TASKS = ["running_parity[length=8]", "multiplexer[k=1]"]


def test_a_training_cache_changes_no_row_and_trains_each_network_once(tmp_path):
    kwargs = dict(extractors=("auto", "blackbox", "fsm", "boolean"), synthesizers=(), seconds=20.0, seeds=1,
                  workers=1)
    fresh = comparator.compare(TASKS, store=tmp_path / "a.sqlite", train_cache=None, **kwargs).runs
    assert not (tmp_path / "a.sqlite.networks").exists()
    cached = comparator.compare(TASKS, store=tmp_path / "b.sqlite", train_cache=tmp_path / "nets", **kwargs).runs
    assert_same_runs(fresh, cached)
    assert len(list((tmp_path / "nets").glob("*.pt"))) == len(TASKS)
    # a run killed at its budget records no phases (assert_same_runs has warned of it: the clock decided)
    ended = cached["phases"].notna()
    loaded = ended & cached["phases"].map(lambda p: isinstance(p, (dict, str)) and "train_loaded" in p)
    unread = ended & cached["phases"].map(lambda p: isinstance(p, (dict, str)) and "train" not in p)  # fsm on the MLP, boolean on the GRU
    trained = ended & ~loaded & ~unread
    assert unread.sum() == len(TASKS)
    assert (cached[trained].groupby("task").size() <= 1).all()  # no network trained twice
    if ended.all():
        assert trained.sum() == len(TASKS)  # one run per task trained; the rest loaded its network
    for _, group in cached[ended & ~unread].groupby("task"):
        assert group["train_seconds"].nunique() == 1  # each run is charged the same recorded training time
        assert (group["seconds"] >= group["train_seconds"]).all()
