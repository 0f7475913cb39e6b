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


def _exact(name: str, seed: int, params: dict, **options) -> extraction.Trained:
    net = extraction.train(toy_tasks.get(name, **params), seconds=120, seed=seed, **options)
    assert net.status == "trained", (name, net.reasons)
    return net


@functools.cache
def trained(name: str, seed: int = 0, **params) -> extraction.Trained:
    """``train(get(name, **params))`` with the defaults; exact (the tests that use it assume so)."""
    return _exact(name, seed, params)


@functools.cache
def trained_tokens(name: str, seed: int = 0, **params) -> extraction.Trained:
    """``trained`` with token embeddings and a logit per class (``numeric=False, regress=False``): the MLP the
    `boolean` reader reads (bit tasks train a numeric, regressing, quantised one by default, which `linear`
    transcribes)."""
    return _exact(name, seed, params, numeric=False, regress=False)


def task_of(net: extraction.Trained) -> toy_tasks.Task:
    """The built-in task a network's problem was drawn from: a network holds the problem, never the task,
    so the tests (which, unlike the extractors, may verify) look it up by the problem's name."""
    base, _, rest = net.problem.name.partition("[")
    params = dict(kv.split("=") for kv in filter(None, rest.rstrip("]").split(",")))
    return toy_tasks.get(base, **{k: int(v) for k, v in params.items()})


def untrained(net: extraction.Trained, seed: int) -> extraction.Trained:
    """The same record around a freshly initialised network of the same architecture, sizes and encoding."""
    with one_thread():
        torch.manual_seed(seed)
        model = build(net.arch, net.encoding, **{k: net.settings[k] for k in SIZE_KEYS[net.arch]})
    model.eval()
    return dataclasses.replace(net, model=model)


def computes_task(net: extraction.Trained) -> bool:
    """Does the network give the task's answer on every input of the domain?"""
    dom = task_of(net).examples(None)
    return bool(same_rows(net.predict(dom.inputs, dom.lengths), dom.outputs, dom.lengths, net.problem.kind == "scan").all())
