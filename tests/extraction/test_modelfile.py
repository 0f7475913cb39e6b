"""extraction.save / load: a network comes back with the same weights, predictions, record and extraction
result; files are read with torch.load(weights_only=True) only; anything else is a ModelFileError that
names the file."""
from __future__ import annotations

import os
import pickle
import re
import zipfile

import numpy as np
import pytest
import torch
from _nets import trained

import extraction
import toy_tasks
from extraction import ModelFileError
from extraction.compile import compile as compile_
from programs import Int, Seq

RECORD = ("train_accuracy", "domain_accuracy", "steps", "seconds", "params", "flops", "arch", "examples",
          "heldout_accuracy", "status", "reasons", "settings", "compiled_from")


def changed_values(a: extraction.Trained, b: extraction.Trained) -> set[str]:
    """Assert that ``b`` is ``a``'s network but for tensor values (same architecture, record, encoding,
    problem signature, weight names and shapes, and it predicts over the domain); return the values that
    differ: names of weights, and ``"examples"`` when the examples trained on do."""
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype for k in sa)
    assert type(a.model) is type(b.model) and a.model.arch == b.model.arch
    for field in RECORD:
        assert getattr(a, field) == getattr(b, field), field
    assert a.encoding.scalars == b.encoding.scalars and a.encoding.sequences == b.encoding.sequences
    assert a.encoding.kind == b.encoding.kind
    assert all(np.array_equal(x, y) for x, y in zip(a.encoding.heads, b.encoding.heads, strict=True))
    pa, pb = a.problem, b.problem
    assert (pb.name, pb.inputs, pb.kind, pb.arity, pb.operators, pb.family) == (pa.name, pa.inputs, pa.kind, pa.arity,
                                                                                pa.operators, pa.family)
    inputs, lengths, _ = pa.domain_inputs()
    assert b.predict(inputs, lengths).shape == a.predict(inputs, lengths).shape
    assert not b.model.training
    return {k for k in sa if not torch.equal(sa[k], sb[k])} | ({"examples"} if pb.identity() != pa.identity() else set())


def assert_same_network(a: extraction.Trained, b: extraction.Trained) -> None:
    assert changed_values(a, b) == set()  # the examples trained on come back too
    inputs, lengths, _ = a.problem.domain_inputs()
    assert np.array_equal(a.predict(inputs, lengths), b.predict(inputs, lengths))


@pytest.mark.parametrize("name, params, method", [("majority", {"n": 3}, "linear"),
                                                  ("running_parity", {"length": 8}, "fsm"),
                                                  ("modular_addition", {"p": 7}, "fourier")])
def test_a_saved_network_loads_with_the_same_predictions_and_extraction(tmp_path, name, params, method):
    net = trained(name, **params)
    path = tmp_path / "net.pt"
    extraction.save(net, path)
    back = extraction.load(path)
    assert back.problem.name == toy_tasks.get(name, **params).name
    assert_same_network(net, back)
    a, b = extraction.extract(net, method, seconds=60, seed=3), extraction.extract(back, method, seconds=60, seed=3)
    assert a.status == b.status == "solved"
    assert a.program == b.program and a.faithfulness == b.faithfulness and a.reasons == b.reasons


def test_a_transformer_round_trips(tmp_path):
    net = extraction.train(toy_tasks.get("modular_addition", p=5), "transformer", seconds=2)
    extraction.save(net, tmp_path / "t.pt")
    assert_same_network(net, extraction.load(str(tmp_path / "t.pt")))


@pytest.mark.parametrize("source, inputs", [
    ("def f(a, b):\n    return max(a, b)\n", {"a": Int(0, 4), "b": Int(0, 4)}),
    ("def f(xs):\n    s = 0\n    for x in xs:\n        s = (s + x) % 3\n        yield s\n", {"xs": Seq(Int(0, 3), length=(1, 4))}),
])
def test_a_compiled_network_and_its_program_task_round_trip(tmp_path, source, inputs):
    net = compile_(source, inputs)
    extraction.save(net, tmp_path / "c.pt")
    back = extraction.load(tmp_path / "c.pt")
    assert_same_network(net, back)
    assert back.compiled_from == net.compiled_from and back.problem.family == "compiled"
    a, b = extraction.extract(net, "auto", seconds=30), extraction.extract(back, "auto", seconds=30)
    assert a.status == b.status == "solved" and a.program == b.program


def test_a_network_trained_on_any_task_loads_without_the_task(tmp_path):
    secret = 3
    inputs = {"a": Int(0, 3), "b": Int(0, 3)}
    task = toy_tasks.from_function("sum_mod3", lambda a, b: (a + b + secret) % 3, inputs=inputs)
    net = extraction.train(task, seconds=30)
    path = tmp_path / "f.pt"
    extraction.save(net, path)
    back = extraction.load(path)  # the file holds the problem: signature, operators, family and examples
    assert_same_network(net, back)
    assert extraction.extract(back, "auto", seconds=30).program == extraction.extract(net, "auto", seconds=30).program
    assert_same_network(net, extraction.load(path, task=task))  # a task given is checked against the file
    other = toy_tasks.from_function("other", lambda a: a, inputs={"a": Int(0, 3)})
    with pytest.raises(ModelFileError, match=r"f\.pt.*'sum_mod3' with inputs"):
        extraction.load(path, task=other)


def test_a_file_of_the_first_format_is_refused_with_what_to_do(tmp_path):
    net = trained("majority", n=3)
    extraction.save(net, tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    payload["version"] = 1
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match=r"old\.pt: model file version 1.*save it again"):
        extraction.load(tmp_path / "old.pt")


# --- files that are not ours -----------------------------------------------------------------------

class Planted:
    """An object whose unpickling would create a directory: loading must never run it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_file_with_pickled_objects_is_refused_without_running_them(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "tractbench.model", "version": 1, "description": "{}", "state_dict": Planted(str(marker))},
               path)
    with pytest.raises(ModelFileError, match=r"evil\.pt.*refused.*extraction\.save"):
        extraction.load(path)
    assert not marker.exists()
    with open(path, "wb") as fh:  # a bare pickle, not a torch file
        pickle.dump(Planted(str(marker)), fh)
    with pytest.raises(ModelFileError, match=r"evil\.pt"):
        extraction.load(path)
    assert not marker.exists()


def test_a_whole_pickled_module_is_refused(tmp_path):
    torch.save(trained("majority", n=3).model, tmp_path / "module.pt")
    with pytest.raises(ModelFileError, match="refused"):
        extraction.load(tmp_path / "module.pt")


@pytest.mark.parametrize("content, match", [
    (b"", "not a readable model file"),
    (b"hello, world\n", "not a readable model file"),
    (b"PK\x03\x04 not really a zip", "not a readable model file"),
])
def test_garbage_is_a_model_file_error_naming_the_file(tmp_path, content, match):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match) as err:
        extraction.load(path)
    assert str(path) in str(err.value) and "extraction.save" in str(err.value)


def test_foreign_and_future_files_are_refused_with_what_to_do(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="foreign.pt.*not a tractbench model file"):
        extraction.load(tmp_path / "foreign.pt")
    torch.save({"format": "tractbench.model", "version": 99}, tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="version 99.*save it again"):
        extraction.load(tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="no such model file"):
        extraction.load(tmp_path / "missing.pt")
    assert issubclass(ModelFileError, ValueError)


def test_a_file_whose_weights_do_not_fit_its_description_is_refused(tmp_path):
    path = tmp_path / "net.pt"
    extraction.save(trained("majority", n=3), path)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["hidden.weight"] = torch.zeros(3, 3)
    torch.save(payload, path)
    with pytest.raises(ModelFileError, match="damaged or inconsistent.*hidden.weight"):
        extraction.load(path)


def tensor_bytes(path) -> list[range]:
    """Where a file written by ``torch.save`` keeps tensor values: its zip members ``<archive>/data/<n>``,
    stored uncompressed. The rest is structure: zip headers and directory, and the pickle that holds the
    description."""
    data = path.read_bytes()
    spans = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.split("/")[-2:-1] == ["data"]:
                assert info.compress_type == zipfile.ZIP_STORED
                head = info.header_offset  # a local header: 30 bytes, then the name and an extra field
                name, extra = (int.from_bytes(data[head + i:head + i + 2], "little") for i in (26, 28))
                start = head + 30 + name + extra
                spans.append(range(start, start + info.file_size))
    return spans


def test_a_damaged_file_loads_or_is_a_model_file_error_never_another_exception(tmp_path):
    """Every cut is a ``ModelFileError`` naming the file. A flipped byte is one too, or the file loads as the
    same network but for tensor values: a flip among the values (weights, examples) always loads, with
    that one value changed. Flips are spread over the structure and the values alike (most of the file's
    bytes are weights)."""
    net = trained("majority", n=3)
    good = tmp_path / "good.pt"
    extraction.save(net, good)
    data = good.read_bytes()
    values = tensor_bytes(good)
    in_values = np.zeros(len(data), dtype=bool)
    for span in values:
        in_values[span.start:span.stop] = True
    assert 0 < in_values.sum() < len(data)
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.pt"
    for cut in rng.integers(0, len(data), 20):
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=re.escape(str(bad))):
            extraction.load(bad)
    structure = rng.choice(np.flatnonzero(~in_values), 600, replace=False)
    inside = rng.choice(np.flatnonzero(in_values), 40, replace=False)
    refused = 0
    for pos in np.concatenate([structure, inside]):
        damaged = bytearray(data)
        damaged[pos] ^= 0xFF
        bad.write_bytes(bytes(damaged))
        try:
            back = extraction.load(bad)
        except ModelFileError as err:
            assert not in_values[pos], f"a flip at byte {pos}, among the tensor values, was refused: {err}"
            assert str(bad) in str(err)
            refused += 1
            continue
        changed = changed_values(net, back)
        if in_values[pos]:
            assert len(changed) == 1, (pos, changed)
    assert refused > 0  # the structure's damage is caught, not only survived


def test_save_refuses_what_is_not_a_network(tmp_path):
    with pytest.raises(ModelFileError, match="Trained"):
        extraction.save("not a network", tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_an_untrained_network_saves_and_loads(tmp_path):
    task = toy_tasks.get("running_sum", values=20, length=4)
    net = extraction.untrained(task, arch="rnn", act="mlp", hidden=3)
    extraction.save(net, tmp_path / "start.tractbench")
    loaded = extraction.load(tmp_path / "start.tractbench")
    ex = net.problem.examples
    assert loaded.status == "untrained"
    assert np.array_equal(loaded.predict(ex.inputs, ex.lengths), net.predict(ex.inputs, ex.lengths))
