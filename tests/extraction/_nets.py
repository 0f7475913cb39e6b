"""Networks shared by the extraction tests: trained ones (cached per process) and untrained ones of the same shape."""
from __future__ import annotations

import dataclasses
import functools

import torch

import extraction
import toy_tasks
from extraction.faithfulness import same_rows
from extraction.models import build
from extraction.train import SIZE_KEYS, one_thread


@functools.cache
def trained(name: str, seed: int = 0, **params) -> extraction.Trained:
    """``train(get(name, **params))`` with the defaults; exact (the tests that use it assume so)."""
    net = extraction.train(toy_tasks.get(name, **params), seconds=120, seed=seed)
    assert net.status == "trained", (name, net.reasons)
    return net


def untrained(net: extraction.Trained, seed: int) -> extraction.Trained:
    """The same record around a freshly initialised network of the same architecture, sizes and encoding."""
    with one_thread():
        torch.manual_seed(seed)
        model = build(net.arch, net.encoding, **{k: net.settings[k] for k in SIZE_KEYS[net.arch]})
    model.eval()
    return dataclasses.replace(net, model=model)


def computes_task(net: extraction.Trained) -> bool:
    """Does the network give the task's answer on every input of the domain?"""
    dom = net.task.examples(None)
    return bool(same_rows(net.predict(dom.inputs, dom.lengths), dom.outputs, dom.lengths, net.task.kind == "scan").all())
