"""Interpreters: a scalar one on Python ints, and a vectorised one on a whole batch of inputs.

Both are built from one compiler (expressions → closures) over the two operator tables of
:mod:`programs.semantics`, and both run a program as a machine: ``start`` (assignments before the
loop), ``step`` (one loop iteration: new state and, for a scan, the step's output) and ``finish``
(assignments after the loop and the returned value). The equivalence checker drives the same
machine directly to explore the states a loop can reach.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from .ast import Assign, Binary, Call, Const, Expr, IfExp, Tuple, Unary, Var, Yield
from .errors import InputError
from .program import Program
from .semantics import INT64_MAX, INT64_MIN, SCALAR, VECTOR

Env = dict[str, Any]


def compile_expr(e: Expr, ops: Mapping[str, Callable]) -> Callable[[Env], Any]:
    """A closure computing ``e`` from an environment, with operators from ``ops``."""
    if isinstance(e, Const):
        value = np.int64(e.value) if ops is VECTOR else e.value
        return lambda env: value
    if isinstance(e, Var):
        name = e.name
        return lambda env: env[name]
    if isinstance(e, Unary):
        f = ops["neg" if e.op == "-" else "not"]
        x = compile_expr(e.operand, ops)
        return lambda env: f(x(env))
    if isinstance(e, Binary):
        f = ops[e.op]
        a, b = compile_expr(e.left, ops), compile_expr(e.right, ops)
        return lambda env: f(a(env), b(env))
    if isinstance(e, Call):
        f = ops[e.func]
        args = [compile_expr(a, ops) for a in e.args]
        if len(args) == 1:
            (x,) = args
            return lambda env: f(x(env))
        return lambda env: f(*(a(env) for a in args))
    if isinstance(e, IfExp):
        pick = ops["if"]
        c, x, y = (compile_expr(n, ops) for n in (e.cond, e.then, e.orelse))
        if ops is SCALAR:  # only one branch needs computing
            return lambda env: x(env) if c(env) != 0 else y(env)
        return lambda env: pick(c(env), x(env), y(env))
    if isinstance(e, Tuple):
        items = [compile_expr(i, ops) for i in e.items]
        return lambda env: tuple(i(env) for i in items)
    raise TypeError(f"not an expression: {e!r}")


def _compile_assigns(stmts, ops) -> list[tuple[tuple[str, ...], Callable]]:
    return [(s.targets, compile_expr(s.value, ops)) for s in stmts]


def _run_assigns(compiled, env: Env) -> None:
    for targets, f in compiled:
        v = f(env)
        if len(targets) == 1:
            env[targets[0]] = v
        else:
            for t, x in zip(targets, v):
                env[t] = x


class Machine:
    """A program as start / step / finish over environments (scalars or batches)."""

    def __init__(self, program: Program, ops: Mapping[str, Callable]):
        shape = program.shape
        self.program = program
        self.ops = ops
        self._before = _compile_assigns(shape.before, ops)
        self._after = _compile_assigns(shape.after, ops)
        self._result = compile_expr(shape.result, ops) if shape.result is not None else None
        self.targets = shape.loop.targets if shape.loop else ()
        self.iters = shape.loop.iters if shape.loop else ()
        self._body: list[tuple[str, Any]] = []
        for s in shape.loop.body if shape.loop else ():
            if isinstance(s, Assign):
                self._body.append(("assign", (s.targets, compile_expr(s.value, ops))))
            elif isinstance(s, Yield):
                self._body.append(("yield", compile_expr(s.value, ops)))

    def start(self, scalars: Env) -> Env:
        env = dict(scalars)
        _run_assigns(self._before, env)
        return env

    def step(self, env: Env, symbols: tuple) -> tuple[Env, Any]:
        """One iteration on ``symbols`` (one value per sequence); returns (new env, yielded or None)."""
        env = dict(env)
        for t, x in zip(self.targets, symbols):
            env[t] = x
        out = None
        for kind, item in self._body:
            if kind == "assign":
                targets, f = item
                v = f(env)
                if len(targets) == 1:
                    env[targets[0]] = v
                else:
                    for t, x in zip(targets, v):
                        env[t] = x
            else:
                out = item(env)
        return env, out

    def finish(self, env: Env) -> Any:
        env = dict(env)
        _run_assigns(self._after, env)
        return self._result(env)


# --- scalar -----------------------------------------------------------------------------------


def run(program: Program, inputs: Mapping[str, Any]):
    """Run on one input: ints for scalars, lists of ints for sequences.

    Returns an int or a tuple (function, fold) or a list with one output per step (scan).
    """
    _check_names(program, inputs)
    m = _machine(program, "scalar")
    scalars = {}
    for name in program.scalars:
        if name not in program.shape.unused:
            scalars[name] = _scalar_int(name, inputs[name])
    env = m.start(scalars)
    if program.kind == "function":
        return m.finish(env)
    for name in program.sequences:
        if isinstance(inputs[name], (str, bytes, Mapping)) or not hasattr(inputs[name], "__iter__"):
            raise InputError(f"sequence input {name!r} must be a list of integers, got {type(inputs[name]).__name__}")
    seqs = [[_scalar_int(name, v) for v in inputs[name]] for name in program.sequences]
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise InputError(f"sequences {program.sequences} have different lengths {sorted(lengths)}; zip needs equal lengths")
    by_name = dict(zip(program.sequences, seqs))
    outputs = []
    for symbols in zip(*(by_name[n] for n in m.iters)):
        env, y = m.step(env, symbols)
        if program.kind == "scan":
            outputs.append(y)
    return outputs if program.kind == "scan" else m.finish(env)


def _scalar_int(name: str, v) -> int:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if not isinstance(v, (int, np.integer)):
        raise InputError(f"input {name!r}: expected an integer, got {v!r}")
    v = int(v)
    if not INT64_MIN <= v <= INT64_MAX:
        raise InputError(f"input {name!r}: {v} does not fit in 64 bits")
    return v


def _check_names(program: Program, inputs: Mapping[str, Any]) -> None:
    if not isinstance(inputs, Mapping):
        raise InputError(f"inputs must be a dict {{name: value}} for the parameters {list(program.params)} of "
                         f"{program.name}, got {type(inputs).__name__}")
    missing = [p for p in program.params if p not in inputs]
    extra = [k for k in inputs if k not in program.params]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise InputError(f"inputs do not match the parameters {list(program.params)} of {program.name}: {', '.join(parts)}")


_MACHINES: dict[tuple[int, str], tuple[Program, Machine]] = {}


def _machine(program: Program, mode: str) -> Machine:
    key = (id(program), mode)
    hit = _MACHINES.get(key)
    if hit is not None and hit[0] is program:
        return hit[1]
    m = Machine(program, SCALAR if mode == "scalar" else VECTOR)
    if len(_MACHINES) > 512:
        _MACHINES.clear()
    _MACHINES[key] = (program, m)
    return m


# --- vectorised --------------------------------------------------------------------------------


def _as_int64(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        try:
            arr = np.asarray(value, dtype=np.int64)
        except (OverflowError, TypeError, ValueError):
            raise InputError(f"input {name!r}: values must be 64-bit integers") from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise InputError(f"input {name!r}: expected integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > INT64_MAX:
        raise InputError(f"input {name!r}: values do not fit in 64 bits")
    return arr.astype(np.int64, copy=False)


def evaluate(program: Program, inputs: Mapping[str, Any], lengths=None) -> np.ndarray:
    """Run on a whole batch at once.

    ``inputs`` maps each parameter to an array: ``[batch]`` for a scalar, ``[batch, time]`` for a
    sequence (padded on the right when ``lengths`` gives each row's true length). Returns
    ``[batch]`` (function, fold) or ``[batch, time]`` (scan, zero past each row's length), with a
    trailing axis when the program returns or yields a tuple.
    """
    from .parser import parse

    if isinstance(program, str):
        program = parse(program)
    _check_names(program, inputs)
    arrays = {name: _as_int64(name, inputs[name]) for name in program.params}
    batch = None
    for name in program.scalars:
        a = arrays[name]
        if name in program.shape.unused and a.ndim >= 1:
            batch = _same_batch(batch, a.shape[0], name)  # never read: any row shape will do
            continue
        if a.ndim != 1:
            raise InputError(f"scalar input {name!r} must be 1-D [batch], got shape {a.shape}")
        batch = _same_batch(batch, a.shape[0], name)
    time = None
    for name in program.sequences:
        a = arrays[name]
        if a.ndim != 2:
            raise InputError(f"sequence input {name!r} must be 2-D [batch, time], got shape {a.shape}")
        batch = _same_batch(batch, a.shape[0], name)
        if time is not None and a.shape[1] != time:
            raise InputError(f"sequence inputs have different time lengths ({time} and {a.shape[1]}); zip needs equal lengths")
        time = a.shape[1]
    if batch is None:  # a program without parameters
        batch = 1
    active_by_step = None
    if lengths is not None:
        if not program.sequences:
            raise InputError("lengths were given but the program reads no sequence")
        lengths = _as_int64("lengths", lengths)
        if lengths.shape != (batch,):
            raise InputError(f"lengths must have shape ({batch},), got {lengths.shape}")
        if lengths.size and (lengths.min() < 0 or lengths.max() > time):
            raise InputError(f"lengths must lie in [0, {time}]")
        active_by_step = np.arange(time)[None, :] < lengths[:, None]
    m = _machine(program, "vector")
    with np.errstate(all="ignore"):
        env = m.start({name: arrays[name] for name in program.scalars if name not in program.shape.unused})
        if program.kind == "function":
            return _broadcast(m.finish(env), batch)
        outputs = []
        seq_arrays = [arrays[n] for n in m.iters]
        for t in range(time):
            new, y = m.step(env, tuple(a[:, t] for a in seq_arrays))
            if active_by_step is not None and not active_by_step[:, t].all():
                active = active_by_step[:, t]
                new = {k: (np.where(active, v, env[k]) if k in env else v) for k, v in new.items()}
                if y is not None:
                    y = _mask(y, active, batch)
            env = new
            if program.kind == "scan":
                outputs.append(_broadcast(y, batch))
        if program.kind == "fold":
            return _broadcast(m.finish(env), batch)
        if not outputs:
            shape = (batch, 0) if program.arity == 1 else (batch, 0, program.arity)
            return np.zeros(shape, dtype=np.int64)
        return np.stack(outputs, axis=1)


def _same_batch(batch, n, name):
    if batch is not None and n != batch:
        raise InputError(f"input {name!r} has batch size {n}, others have {batch}")
    return n


def _broadcast(value, batch: int) -> np.ndarray:
    if isinstance(value, tuple):
        return np.stack([_broadcast(v, batch) for v in value], axis=-1)
    return np.broadcast_to(np.asarray(value, dtype=np.int64), (batch,)).copy()


def _mask(y, active, batch):
    if isinstance(y, tuple):
        return tuple(_mask(v, active, batch) for v in y)
    return np.where(active, y, 0)
