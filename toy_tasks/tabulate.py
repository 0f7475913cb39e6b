"""Calling a user's Python function over many inputs: time limits, output checks, the truth table."""
from __future__ import annotations

import math
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Self

import numpy as np

from .errors import TaskError

if TYPE_CHECKING:
    from .task import Task


def _call_one(task_name: str, fn: Callable, x: dict[str, Any]):
    try:
        return fn(**x)
    except Exception as err:  # the user's function failed: name the input that broke it
        raise TaskError(f"task {task_name}: the function raised {type(err).__name__}: {err} on input {x}") from err


class _Overtime(BaseException):
    """Raised by the SIGALRM handler inside a user's function. A BaseException, so that the function's
    own ``except Exception`` does not swallow it."""


def check_seconds(seconds) -> float:
    """A time limit given by a user: a positive number (``math.inf``: no limit); TaskError otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds <= 0:
        raise TaskError(f"seconds must be a positive number of seconds (math.inf for no limit), got {seconds!r}")
    return float(seconds)


class TimeLimit:
    """A limit of ``seconds`` on calling a user's function over many inputs (``with TimeLimit(...) as limit``).

    In the main thread a SIGALRM timer interrupts a call that hangs; the previous handler and timer
    are restored on exit (a timer already set to fire sooner is left alone, and then, as off the main
    thread, the elapsed time is checked after each call). Off the main thread only that check runs: a
    slow function is stopped after the call that crosses the limit, but a call that never returns
    cannot be interrupted there.
    """

    def __init__(self, task_name: str, seconds: float):
        self.task_name = task_name
        self.seconds = check_seconds(seconds)
        self.input: dict[str, Any] | None = None
        self._armed = False

    def __enter__(self) -> Self:
        self._start = time.monotonic()
        if (
            math.isfinite(self.seconds)
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            outer, _ = signal.getitimer(signal.ITIMER_REAL)
            if not (0 < outer <= self.seconds):
                self._previous_handler = signal.signal(signal.SIGALRM, self._alarm)
                self._previous_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds)
                self._armed = True
        return self

    def _alarm(self, signum, frame) -> None:
        if self._armed:
            raise _Overtime()

    def call(self, fn: Callable, x: dict[str, Any]):
        """``fn(**x)`` as ``_call_one`` does it, then a check that the limit has not passed."""
        self.input = x
        y = _call_one(self.task_name, fn, x)
        if time.monotonic() - self._start > self.seconds:
            raise self.error()
        return y

    def error(self) -> TaskError:
        where = f" (on input {self.input})" if self.input is not None else ""
        return TaskError(
            f"task {self.task_name}: the function did not return within {self.seconds:g} s{where}; "
            "make it faster or pass seconds=... (a larger limit) to from_function"
        )

    def __exit__(self, kind, err, tb) -> None:
        if self._armed:
            try:
                self._disarm()
            except _Overtime:  # the alarm went off on the way out: the limit was reached all the same
                self._disarm()
                kind = _Overtime
        if kind is _Overtime:
            raise self.error() from None

    def _disarm(self) -> None:
        self._armed = False  # from here on the handler does nothing, so the rest cannot be interrupted
        signal.setitimer(signal.ITIMER_REAL, 0)
        previous = self._previous_handler
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        delay, interval = self._previous_timer
        if delay > 0:  # a later timer someone else set: it keeps its time, less what was spent here
            spent = time.monotonic() - self._start
            signal.setitimer(signal.ITIMER_REAL, max(delay - spent, 1e-3), interval)


def normalise_output(task_name: str, y, x: dict[str, Any], kind: str, arity: int | None, length: int | None):
    """Check one output of a user's function and turn it into ints (tuples for several outputs)."""

    def as_int(v):
        if isinstance(v, (bool, np.bool_)):
            return int(v)
        if isinstance(v, (int, np.integer)):
            v = int(v)
            if -(2**63) <= v < 2**63:
                return v
        raise TaskError(f"task {task_name}: the function returned {v!r} on input {x}; outputs must be 64-bit integers")

    def as_value(v):
        if isinstance(v, tuple):
            if len(v) < 2:
                raise TaskError(f"task {task_name}: a tuple output needs at least two items, got {v!r} on input {x}")
            return tuple(as_int(i) for i in v)
        return as_int(v)

    if kind == "scan":
        if not isinstance(y, list):
            raise TaskError(f"task {task_name}: a scan must return a list with one output per step; got {y!r} on input {x}")
        if len(y) != length:
            raise TaskError(f"task {task_name}: the function returned {len(y)} outputs for a sequence of length {length} on input {x}")
        out = [as_value(v) for v in y]
    else:
        if isinstance(y, list):
            raise TaskError(f"task {task_name}: the function returned a list on input {x}; only tasks over sequences may be scans")
        out = as_value(y)
    got = _arity_of(out, kind)
    if arity is not None and got is not None and got != arity:
        raise TaskError(f"task {task_name}: the function returned {got} output(s) on input {x} but {arity} elsewhere")
    return out


def _arity_of(out, kind: str) -> int | None:
    if kind == "scan":
        if not out:
            return None
        out = out[0]
    return len(out) if isinstance(out, tuple) else 1


def _call_function(task: Task, fn: Callable, arrays: dict[str, np.ndarray], lengths,
                   seconds: float = math.inf) -> np.ndarray:
    n = next(iter(arrays.values())).shape[0]
    rows = []
    with TimeLimit(task.name, seconds) as limit:
        for i in range(n):
            x = {}
            for k, v in arrays.items():
                if v.ndim == 2:
                    x[k] = v[i, : int(lengths[i])].tolist() if lengths is not None else v[i].tolist()
                else:
                    x[k] = int(v[i])
            length = len(x[task.sequences[0]]) if task.sequences else None
            rows.append(normalise_output(task.name, limit.call(fn, x), x, task.kind, task.arity, length))
    return _stack_outputs(rows, task.kind, task.arity, arrays, lengths)


def _stack_outputs(rows, kind: str, arity: int, arrays, lengths) -> np.ndarray:
    n = len(rows)
    if kind != "scan":
        out = np.array(rows, dtype=np.int64)
        return out.reshape((n,) if arity == 1 else (n, arity))
    width = next(v for v in arrays.values() if v.ndim == 2).shape[1]
    shape = (n, width) if arity == 1 else (n, width, arity)
    out = np.zeros(shape, dtype=np.int64)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = np.array(r, dtype=np.int64)
    return out
