"""The Ramanujan control: a subnetwork of the *untrained* network computes the task in isolation, and its
reading is right, yet the program does not describe the whole random network in context."""
from __future__ import annotations

import extraction
import toy_tasks
from comparator.runner import run_route


def test_a_random_networks_subnetwork_reads_right_in_isolation_and_wrong_in_context():
    task = toy_tasks.get("majority", n=3)
    net = extraction.untrained(task, seed=0)
    before = {k: v.clone() for k, v in net.model.state_dict().items()}
    r = extraction.extract(net, "ramanujan", seconds=30, seed=0)
    assert r.details["subnetwork"] == "trained" and r.details["subnetwork_accuracy"] == 1.0
    assert r.program is not None and task.verify(r.program).equal  # the subnetwork's reading is the task's program
    assert r.faithfulness["agreement"] < 0.9  # ... which the whole random network does not compute
    assert r.status in ("partial", "unfaithful")  # so extraction disowns it as a description of this network
    assert r.details["isolation"]["agreement"] == 1.0  # while inside the subnetwork it agreed everywhere
    assert all((before[k] == v).all() for k, v in net.model.state_dict().items())


def test_the_control_spends_no_training_and_records_its_search():
    row = run_route(toy_tasks.get("majority", n=3).problem(), "extraction", "ramanujan", 0, 30.0)
    assert "train" not in row["phases"] and row["train_accuracy"] == 1.0 and row["train_seconds"] > 0
    assert row["claim"] in ("partial", "unfaithful") and row["program"] is not None
    assert extraction.registry()["ramanujan"].untrained and not extraction.registry()["auto"].untrained
