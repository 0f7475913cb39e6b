"""The interpreters: scalar == vectorised == z3 on random programs and inputs; total semantics."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programs import InputError, Int, Seq, parse
from programs.interpreter import evaluate, run
from programs.semantics import INT64_MAX, INT64_MIN, SCALAR
from programs.smt import evaluate_z3
from toy_tasks import strategies as tbst

SIGNATURES = {
    "ints": {"a": Int(-20, 20), "b": Int(-5, 5)},
    "wide": {"a": Int(INT64_MIN, INT64_MAX), "b": Int(-(2**40), 2**40)},
    "fold": {"xs": Seq(Int(-3, 4), length=(1, 5)), "t": Int(-2, 3)},
    "zip": {"xs": Seq(Int(0, 2), length=(1, 4)), "ys": Seq(Int(0, 3), length=(1, 4))},
}


def _batch(sig, rows):
    """Stack plain inputs into arrays, padding sequences and returning their lengths."""
    seqs = [n for n, d in sig.items() if isinstance(d, Seq)]
    lengths = np.array([len(r[seqs[0]]) for r in rows]) if seqs else None
    width = int(lengths.max()) if seqs else 0
    arrays = {}
    for n, d in sig.items():
        if isinstance(d, Seq):
            arrays[n] = np.array([r[n] + [0] * (width - len(r[n])) for r in rows], dtype=np.int64)
        else:
            arrays[n] = np.array([r[n] for r in rows], dtype=np.int64)
    return arrays, lengths


def _as_plain(out, kind, length):
    if kind == "scan":
        return [tuple(int(v) for v in step) if np.ndim(step) else int(step) for step in out[:length]]
    return tuple(int(v) for v in out) if np.ndim(out) else int(out)


@pytest.mark.parametrize("name", list(SIGNATURES))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_scalar_vector_and_z3_agree(name, data):
    sig = SIGNATURES[name]
    p = data.draw(tbst.programs(inputs=sig, max_size=14), label="program")
    rows = data.draw(st.lists(tbst.task_inputs(sig), min_size=1, max_size=6), label="inputs")
    arrays, lengths = _batch(sig, rows)
    vector = evaluate(p, arrays, lengths if p.sequences else None)
    for i, row in enumerate(rows):
        expected = run(p, row)
        length = len(row[p.sequences[0]]) if p.sequences else None
        assert _as_plain(vector[i], p.kind, length) == (expected if p.kind != "scan" else list(expected))
        assert evaluate_z3(p, row, mode="bv") == expected


@pytest.mark.parametrize(
    "op, a, b, expected",
    [
        ("//", 7, 0, 0), ("%", 7, 0, 7), ("//", -7, 2, -4), ("%", -7, 2, 1), ("%", 7, -2, -1),
        ("//", INT64_MIN, -1, INT64_MIN), ("+", INT64_MAX, 1, INT64_MIN), ("*", 2**62, 4, 0),
        ("<<", 1, -1, 1), ("<<", 1, 99, INT64_MIN), (">>", -8, 99, -1), ("and", 3, 5, 5), ("and", 0, 5, 0),
        ("or", 3, 5, 3), ("or", 0, 5, 5), ("<", 1, 2, 1),
    ],
)
def test_total_semantics_written_once(op, a, b, expected):
    assert SCALAR[op](a, b) == expected
    p = parse(f"def f(a, b):\n    return a {op} b\n")
    assert run(p, {"a": a, "b": b}) == expected
    assert evaluate(p, {"a": np.array([a]), "b": np.array([b])})[0] == expected


def test_scan_outputs_are_padded_past_each_length():
    p = parse("def f(xs):\n    s = 0\n    for x in xs:\n        s = s + x\n        yield s, x\n")
    out = evaluate(p, {"xs": np.array([[1, 2, 3], [4, 5, 6]])}, lengths=np.array([3, 1]))
    assert out.shape == (2, 3, 2)
    assert out[:, :, 0].tolist() == [[1, 3, 6], [4, 0, 0]]
    assert run(p, {"xs": [4]}) == [(4, 4)]


def test_fold_state_freezes_past_each_length():
    p = parse("def f(xs):\n    n = 0\n    for x in xs:\n        n = n + 1\n    return n\n")
    out = evaluate(p, {"xs": np.zeros((3, 5), dtype=np.int64)}, lengths=np.array([0, 2, 5]))
    assert out.tolist() == [0, 2, 5]


@pytest.mark.parametrize(
    "inputs, lengths, words",
    [
        ({"a": np.array([1, 2])}, None, "missing"),
        ({"a": np.array([1]), "b": np.array([1]), "c": np.array([1])}, None, "unexpected"),
        ({"a": np.array([1.5]), "b": np.array([1])}, None, "dtype"),
        ({"a": np.array([[1]]), "b": np.array([1])}, None, "1-D"),
        ({"a": np.array([1, 2]), "b": np.array([1])}, None, "batch"),
        ({"a": np.array([1]), "b": np.array([1])}, np.array([1]), "lengths"),
    ],
)
def test_bad_inputs_raise_input_error(inputs, lengths, words):
    p = parse("def f(a, b):\n    return a + b\n")
    with pytest.raises(InputError, match=words):
        evaluate(p, inputs, lengths)


def test_zip_needs_equal_lengths():
    p = parse("def f(xs, ys):\n    s = 0\n    for x, y in zip(xs, ys):\n        s = s + x * y\n    return s\n")
    with pytest.raises(InputError, match="different lengths"):
        run(p, {"xs": [1, 2], "ys": [1]})


def test_call_runs_the_scalar_interpreter():
    p = parse("def f(a, b):\n    return (a + b) % 13, a * b\n")
    assert p(a=7, b=9) == (3, 63)
