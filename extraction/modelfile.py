"""``save`` / ``load``: a trained network in one file, without pickle.

The file is what ``torch.save`` writes for a plain dict: the network's ``state_dict`` and the problem's
examples (tensors only), and a JSON text describing the rest (architecture and sizes, encoding, training
record, the problem's signature). ``load`` reads it with ``torch.load(..., weights_only=True)``, which
refuses any object but tensors and plain containers, so a file cannot run code when it is opened. A
network is trained on a problem, never a task, so the file holds everything it was trained from and
``load`` needs no task.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
from typing import Any

import numpy as np
import torch

from programs import Int, Seq

from .encoding import Encoding
from .models import ARCHS, build
from .train import Trained

FORMAT = "tractbench.model"
VERSION = 2  # 1 named the task (by name, source or signature) instead of holding the problem


class ModelFileError(ValueError):
    """A model file that cannot be written or read back: not one of ours, damaged, from another version,
    or for a problem other than the one given."""


def save(trained: Trained, path: str | os.PathLike) -> None:
    """Write ``trained`` (network, encoding, training record, and the problem it was trained on) to ``path``."""
    path = os.fspath(path)
    if not isinstance(trained, Trained) or trained.encoding is None:
        raise ModelFileError(f"save takes a Trained network (from extraction.train or compile), got {type(trained).__name__}")
    description = {
        "arch": trained.model.arch,
        "sizes": _sizes(trained.model),
        "encoding": {
            "scalars": {n: list(v) for n, v in trained.encoding.scalars.items()},
            "sequences": {n: list(v) for n, v in trained.encoding.sequences.items()},
            "heads": [[int(v) for v in head] for head in trained.encoding.heads],
            "kind": trained.encoding.kind,
        },
        "record": {
            "arch": trained.arch, "train_accuracy": trained.train_accuracy, "domain_accuracy": trained.domain_accuracy,
            "steps": trained.steps, "seconds": trained.seconds, "params": trained.params, "flops": trained.flops,
            "examples": trained.examples, "heldout_accuracy": trained.heldout_accuracy, "status": trained.status,
            "reasons": list(trained.reasons), "settings": trained.settings,
            "compiled_from": None if trained.compiled_from is None else str(trained.compiled_from),
        },
        "problem": _problem_description(trained.problem),
    }
    try:
        text = json.dumps(description, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"cannot save to {path}: the network's record is not plain data ({err})") from None
    state = {k: v.detach().cpu().clone() for k, v in trained.model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "description": text, "state_dict": state,
               "examples": _example_tensors(trained.problem.examples)}
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tractbench-model-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        os.replace(tmp, path)  # a reader never sees half a file
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike, *, task=None) -> Trained:
    """The ``Trained`` saved at ``path``, with the problem it was trained on. ``task`` (a task or a problem),
    when given, must have the saved signature: a check that the file is the one meant."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file; write one with extraction.save(trained, path)")
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign pickle's protocol: the refusal says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelFileError(f"{path}: refused: it holds objects other than tensors and plain data, and those are "
                             "never unpickled here; only files written by extraction.save can be loaded") from None
    except MemoryError:
        raise
    except Exception as err:  # whatever torch.load meets in a damaged file (zip, pickle or tensor errors)
        raise ModelFileError(f"{path}: not a readable model file ({type(err).__name__}: {_message(err)}); "
                             "it may be damaged or not written by extraction.save; save the network again") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a tractbench model file (no {FORMAT!r} header); "
                             "only files written by extraction.save can be loaded")
    if payload.get("version") != VERSION:
        raise ModelFileError(f"{path}: model file version {payload.get('version')!r}, but this tractbench reads "
                             f"version {VERSION}; save it again with this version")
    try:
        description = json.loads(payload["description"])
        state = payload["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("the weights are not a dict of tensors")
        encoding = _encoding(description["encoding"])
        arch, sizes = description["arch"], description["sizes"]
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}")
        model = build(arch, encoding, **sizes)
        model.load_state_dict(state, strict=True)
        record = _record(description["record"])
        problem = _problem(description["problem"], payload["examples"])
    except MemoryError:
        raise
    except Exception as err:  # whatever a damaged description leads to, it is the file's fault
        raise ModelFileError(f"{path}: the model file is damaged or inconsistent ({type(err).__name__}: "
                             f"{_message(err)}); save the network again") from None
    if task is not None and task.inputs != problem.inputs:
        raise ModelFileError(f"{path}: the network was trained on {problem.name!r} with inputs {_describe(problem.inputs)}, "
                             f"but the task given has {_describe(task.inputs)}; pass that task, or none")
    model.eval()
    return Trained(model, problem, encoding=encoding, **record)


def _record(r: dict[str, Any]) -> dict[str, Any]:
    """The training record's fields of ``Trained``, checked for type."""
    from programs import parse

    def number(key, allow_none=False):
        v = r[key]
        if v is None and allow_none:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{key} is not a number")
        return v

    if r["status"] not in ("trained", "budget", "error", "untrained"):
        raise ValueError(f"unknown training status {r['status']!r}")
    return {
        "train_accuracy": float(number("train_accuracy")), "domain_accuracy": _maybe_float(number("domain_accuracy", allow_none=True)),
        "steps": int(number("steps")), "seconds": float(number("seconds")), "params": int(number("params")),
        "flops": float(number("flops")), "arch": str(r["arch"]), "examples": int(number("examples")),
        "heldout_accuracy": number("heldout_accuracy", allow_none=True), "status": r["status"],
        "reasons": tuple(str(x) for x in r["reasons"]), "settings": dict(r["settings"]),
        "compiled_from": None if r["compiled_from"] is None else parse(str(r["compiled_from"])),
    }


def _maybe_float(value) -> float | None:
    return None if value is None else float(value)


def _problem_description(problem) -> dict[str, Any]:
    ex = problem.examples
    return {"name": problem.name, "inputs": _signature(problem.inputs), "kind": problem.kind, "arity": problem.arity,
            "operators": list(problem.operators), "family": problem.family, "complete": bool(ex.complete),
            "note": ex.note}


def _example_tensors(ex) -> dict[str, Any]:
    return {"inputs": {n: torch.as_tensor(np.asarray(v, dtype=np.int64)) for n, v in ex.inputs.items()},
            "outputs": torch.as_tensor(np.asarray(ex.outputs, dtype=np.int64)),
            "lengths": None if ex.lengths is None else torch.as_tensor(np.asarray(ex.lengths, dtype=np.int64))}


def _problem(d: dict[str, Any], tensors: dict[str, Any]):
    """The problem a network was trained on, from its description and its examples' tensors."""
    from toy_tasks import Examples, Problem

    def array(t):
        if not isinstance(t, torch.Tensor):
            raise ValueError("the examples are not tensors")
        return t.numpy().astype(np.int64)

    lengths = tensors["lengths"]
    ex = Examples({str(n): array(t) for n, t in tensors["inputs"].items()}, array(tensors["outputs"]),
                  None if lengths is None else array(lengths), bool(d["complete"]), str(d["note"]), d["kind"] == "scan")
    return Problem(str(d["name"]), _domains(d["inputs"]), str(d["kind"]), int(d["arity"]),
                   tuple(str(o) for o in d["operators"]), ex, str(d["family"]))


def _sizes(model) -> dict[str, Any]:
    if model.arch == "mlp":
        embed = 32 if model.numeric else next(iter(model.embed.values())).embedding_dim
        return {"embed": embed, "hidden": model.hidden.out_features, "numeric": bool(model.numeric),
                "regress": bool(getattr(model, "regress", False))}
    if model.arch in ("gru", "rnn"):
        embed = 8 if model.numeric else next(iter(model.embed.values())).embedding_dim
        sizes = {"embed": embed, "hidden": model.cell.hidden_size, "numeric": bool(model.numeric),
                 "regress": bool(model.regress)}
        if model.arch != "rnn":
            return {**sizes, "states": model.states_kept} if model.states_kept else sizes
        return {**sizes, "act": model.act, **({"inner": model.cell.inner} if model.act == "mlp" else {})}
    return {"d_model": model.query.numel(), "heads": model.attn.num_heads, "d_mlp": model.mlp.hidden.out_features}


def _encoding(d: dict[str, Any]) -> Encoding:
    def ranges(m):
        return {str(n): (int(lo), int(size)) for n, (lo, size) in m.items()}

    heads = tuple(np.asarray([int(v) for v in h], dtype=np.int64) for h in d["heads"])
    if d["kind"] not in ("function", "fold", "scan") or not heads:
        raise ValueError("the encoding names no outputs or an unknown kind")
    return Encoding(ranges(d["scalars"]), ranges(d["sequences"]), heads, d["kind"])


def _signature(inputs) -> dict[str, Any]:
    out = {}
    for name, dom in inputs.items():
        if isinstance(dom, Int):
            out[name] = {"int": [dom.lo, dom.hi]}
        else:
            length = dom.length if isinstance(dom.length, int) else list(dom.length)
            out[name] = {"seq": [dom.element.lo, dom.element.hi], "length": length}
    return out


def _domains(spec: dict[str, Any]) -> dict[str, Int | Seq]:
    out: dict[str, Int | Seq] = {}
    for name, d in spec.items():
        if "int" in d:
            out[name] = Int(*d["int"])
        else:
            length = d["length"] if isinstance(d["length"], int) else tuple(d["length"])
            out[name] = Seq(Int(*d["seq"]), length=length)
    return out


def _describe(inputs) -> str:
    return "{" + ", ".join(f"{n}: {d}" for n, d in inputs.items()) + "}"


def _message(err: BaseException) -> str:
    """The error's message on one line, cut to a readable length."""
    text = " ".join(line.strip() for line in str(err).strip().splitlines() if line.strip())
    return (text[:297] + "...") if len(text) > 300 else text or type(err).__name__
