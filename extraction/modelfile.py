"""``save`` / ``load``: a trained network in one file, without pickle.

The file is what ``torch.save`` writes for a plain dict: the network's ``state_dict`` (tensors only) and a
JSON text describing the rest (architecture and sizes, encoding, training record, and how to rebuild the
task). ``load`` reads it with ``torch.load(..., weights_only=True)``, which refuses any object but tensors
and plain containers, so a file cannot run code when it is opened.
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
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be written or read back: not one of ours, damaged, from a newer version,
    or for a task that has to be given."""


def save(trained: Trained, path: str | os.PathLike) -> None:
    """Write ``trained`` (network, encoding, training record, task reference) to ``path``.

    A built-in task is saved by name and parameters, one made by ``toy_tasks.from_program`` by its source
    and input domains; any other task (``from_function``) is saved by name and signature only, and
    ``load`` then needs it as ``task=``.
    """
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
        "task": task_reference(trained.task),
    }
    try:
        text = json.dumps(description, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"cannot save to {path}: the network's record is not plain data ({err})") from None
    state = {k: v.detach().cpu().clone() for k, v in trained.model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "description": text, "state_dict": state}
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
    """The ``Trained`` saved at ``path``, its task rebuilt (or ``task``, which must have the saved signature)."""
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
        saved_task = dict(description["task"])
    except MemoryError:
        raise
    except Exception as err:  # whatever a damaged description leads to, it is the file's fault
        raise ModelFileError(f"{path}: the model file is damaged or inconsistent ({type(err).__name__}: "
                             f"{_message(err)}); save the network again") from None
    model.eval()
    return Trained(model, _task(path, saved_task, task), encoding=encoding, **record)


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

    if r["status"] not in ("trained", "budget", "error"):
        raise ValueError(f"unknown training status {r['status']!r}")
    return {
        "train_accuracy": float(number("train_accuracy")), "domain_accuracy": float(number("domain_accuracy")),
        "steps": int(number("steps")), "seconds": float(number("seconds")), "params": int(number("params")),
        "flops": float(number("flops")), "arch": str(r["arch"]), "examples": int(number("examples")),
        "heldout_accuracy": number("heldout_accuracy", allow_none=True), "status": r["status"],
        "reasons": tuple(str(x) for x in r["reasons"]), "settings": dict(r["settings"]),
        "compiled_from": None if r["compiled_from"] is None else parse(str(r["compiled_from"])),
    }


def task_reference(task) -> dict[str, Any]:
    """How ``load`` gets the task back: a built-in by name, a program task by source, else by signature."""
    import toy_tasks

    signature = _signature(task.inputs)
    try:
        builtin = toy_tasks.get(task.name)
    except Exception:
        builtin = None
    if builtin is not None and (builtin is task or _same_task(builtin, task)):
        return {"kind": "builtin", "name": task.name, "params": dict(task.params), "inputs": signature}
    if task.reference is not None and task.function is None:
        return {"kind": "program", "name": task.name, "source": str(task.reference), "inputs": signature,
                "family": task.family, "difficulty": task.difficulty, "operators": list(task.operators),
                "description": task.description}
    return {"kind": "given", "name": task.name, "inputs": signature}


def _same_task(a, b) -> bool:
    return (a.inputs == b.inputs and a.family == b.family and a.reference is not None and b.reference is not None
            and str(a.reference) == str(b.reference))


def _task(path: str, saved: dict[str, Any], given):
    import toy_tasks

    try:
        inputs = _domains(saved["inputs"])
    except Exception as err:
        raise ModelFileError(f"{path}: the task's signature in the file is damaged ({_message(err)})") from None
    if given is not None:
        if given.inputs != inputs:
            raise ModelFileError(f"{path}: the network was trained on {saved.get('name')!r} with inputs "
                                 f"{_describe(inputs)}, but the task given has {_describe(given.inputs)}; pass that task")
        return given
    kind = saved.get("kind")
    try:
        if kind == "builtin":
            task = toy_tasks.get(saved["name"])
        elif kind == "program":
            task = toy_tasks.from_program(saved["name"], saved["source"], inputs, family=saved["family"],
                                          difficulty=saved["difficulty"], operators=tuple(saved["operators"]),
                                          description=saved["description"])
        else:
            raise ModelFileError(f"{path}: the network was trained on task {saved.get('name')!r}, which was not built "
                                 "from a program (from_function, say) and so is not in the file; pass it: "
                                 "extraction.load(path, task=...)")
    except ModelFileError:
        raise
    except Exception as err:
        raise ModelFileError(f"{path}: the task {saved.get('name')!r} cannot be rebuilt ({type(err).__name__}: "
                             f"{_message(err)}); pass it: extraction.load(path, task=...)") from None
    if task.inputs != inputs:
        raise ModelFileError(f"{path}: task {saved.get('name')!r} now has inputs {_describe(task.inputs)}, not the "
                             f"{_describe(inputs)} the network was trained on; pass the right task: load(path, task=...)")
    return task


def _sizes(model) -> dict[str, Any]:
    if model.arch == "mlp":
        embed = 32 if model.numeric else next(iter(model.embed.values())).embedding_dim
        return {"embed": embed, "hidden": model.hidden.out_features, "numeric": bool(model.numeric)}
    if model.arch in ("gru", "rnn"):
        return {"embed": next(iter(model.embed.values())).embedding_dim, "hidden": model.cell.hidden_size}
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
