"""Label-free evidence of a token network's errors on its domain (issues 15 and 16): per task, the default training
(``extraction.train(task, seconds=30, seed=s)``, seeds 0-2 unless told) and, per network, its accuracy on the domain
(or its stated sample; needs the answers, for the record only), the domain inputs (``problem.domain_inputs()``,
no answers) on which it names some output with probability under ``search.SURE``, and how the three seeds' networks
agree: the domain accuracy of their majority answer (seed 0's answer where all three differ) and the rows on which two
networks disagree. Asks whether the least unsure network is the one exact on the domain, and whether the networks'
consensus is.

    python bench/domain_consensus.py --out bench/results/domain-consensus.json
    python bench/domain_consensus.py --options '{"domain": true}'
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != str(HERE)]  # bench/extraction.py would shadow

import numpy as np  # noqa: E402
import torch  # noqa: E402

import extraction  # noqa: E402
from extraction.search import SURE, predicted, unsure_rows  # noqa: E402
from extraction.train import one_thread, warm_up  # noqa: E402

spec = importlib.util.spec_from_file_location("exact_domain_bench", HERE / "exact_domain.py")
exact_domain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exact_domain)


def right_rows(answers: np.ndarray, outputs: np.ndarray, lengths) -> np.ndarray:
    eq = answers == outputs
    if eq.ndim == 2 and lengths is not None:
        eq = eq | (np.arange(eq.shape[1])[None, :] >= np.asarray(lengths)[:, None])
    return eq.reshape(len(outputs), -1).all(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=exact_domain.DEFAULT_TASKS)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--options", default="{}", help="training options as JSON, e.g. '{\"domain\": true}'")
    parser.add_argument("--out", default="/tmp/domain-consensus.json")
    args = parser.parse_args()
    warm_up()
    known = exact_domain.tasks()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, summary = [], []
    for name in args.tasks.split(","):
        task = known[name]
        dom = task.examples(None)
        outputs = np.asarray(dom.outputs)
        answers = []
        for seed in seeds:
            net = extraction.train(task, seconds=args.seconds, seed=seed, **json.loads(args.options))
            inputs, lengths, _ = net.problem.domain_inputs()
            with one_thread(), torch.no_grad():
                named = predicted(net.model, net.encoding.batch(inputs, lengths), SURE)
            unsure = int(unsure_rows(named, None if lengths is None else np.asarray(lengths), net.encoding.kind).sum())
            answers.append(np.asarray(net.predict(dom.inputs, dom.lengths)))
            row = {"task": name, "seed": seed, "domain": net.domain_accuracy, "train_s": round(net.seconds, 2),
                   "status": net.status, "width": net.settings.get("hidden"), "unsure": unsure,
                   "domain_inputs": len(named)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        if len(answers) >= 3:
            a, b, c = answers[:3]
            agree = right_rows(b, c, dom.lengths)  # b and c give the same answers (within each input's length)
            majority = np.where(agree.reshape(-1, *[1] * (b.ndim - 1)), b, a)
            wrong = [~right_rows(x, outputs, dom.lengths) for x in answers]
            mine = [r for r in rows if r["task"] == name]
            least = min(mine, key=lambda r: r["unsure"])
            summary.append({"task": name, "majority_domain": float(right_rows(majority, outputs, dom.lengths).mean()),
                            "disagree": [int((~right_rows(answers[i], answers[j], dom.lengths)).sum())
                                         for i, j in ((0, 1), (0, 2), (1, 2))],
                            "wrong": [int(w.sum()) for w in wrong], "least_unsure_seed": least["seed"],
                            "least_unsure_exact": least["domain"] == 1.0})
            print(json.dumps(summary[-1]), flush=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "consensus": summary}, indent=1))


if __name__ == "__main__":
    main()
