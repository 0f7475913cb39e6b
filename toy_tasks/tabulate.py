"""Tabulating a user's Python function over a domain: the ground truth of a task made from a function.

``tabulate`` gives exactly what calling ``fn(**x)`` once per input ``x`` (plain ints, lists for
sequences) and checking each output with ``normalise_output`` gives: the same int64 array, and on a
failure the same ``TaskError``, naming the first input (in domain order) whose call raised or whose
output is not a 64-bit integer, a tuple of them, or a list of one per step. It gets there one of three
ways, chosen in this order:

1. **Vectorised** (tasks over integers only, not folds or scans over lists; from ``VECTORISE_FROM``
   inputs): ``fn`` is called once on whole read-only int64 arrays. Its answer is used only when all of
   these hold, and otherwise dropped without a word for way 2 or 3:

   - it is an integer array of one value per input (a tuple of them for several outputs), and no numpy
     floating-point error was raised (``np.errstate(all="raise")``: ``a // 0`` raises there, where
     numpy would otherwise warn and give 0);
   - a second call on object arrays of Python ints gives the same values. On object arrays each
     operator runs as Python's own, on unbounded ints, so that call has Python's semantics where int64
     arrays wrap silently: an overflow (``a * b``, ``a << 40``, ``abs`` of the least int64) makes the
     two differ, a division by zero raises, a result beyond 64 bits is refused;
   - calling ``fn`` itself on a deterministic sample of inputs (the first, the last, each input's
     smallest and largest value and its first 0, 1 and -1, and ``CHECKED_SAMPLE`` drawn with a fixed
     seed) gives the same outputs. This catches a function that treats arrays differently from ints
     (``isinstance``, ``int(...)``, a table lookup); one that does so only on inputs outside the sample
     could still slip through, which is why a function is vectorised only when all three agree, and
     why any error or doubt leaves it to way 2 or 3 to call it per input and name the input that fails.

2. **In worker processes** (from ``PARALLEL_FROM`` inputs, more than one CPU): the domain is split into
   contiguous ranges of about equal cost (a sequence's length counts), one per CPU, each called per
   input (way 3) in a process forked from this one. ``fork`` shares ``fn`` (a lambda or a closure, which
   cannot be pickled) and the input arrays with the workers without copying; each writes its outputs
   into one shared anonymous mapping, and reports only how far it got (a shared counter, for
   ``progress``) and how it ended (a line of text, never a pickle). Order is kept by construction; the
   error reported is the first in domain order: a worker's error waits for every worker before it to
   finish or fail, and the workers after it are killed. Each worker keeps the same overall deadline in
   its own main thread (SIGALRM, as in way 3), so a call that hangs is named with its input; the parent
   waits ``GRACE`` seconds past its own alarm for that report, then kills them all. Workers ignore
   Ctrl-C and die with the parent (``PR_SET_PDEATHSIG``), and every exit from here kills and reaps them
   (Ctrl-C and the alarm are held while one is forked and recorded), so none is left behind.

   Forking is done only where it is safe and useful: where ``fork`` exists, from the main thread, when no
   other Python thread is running (a fork copies only the forking thread, so a lock another thread held
   stays held for ever in the child: logging, an import, a progress bar's refresh thread), and not from
   inside a process that is itself a ``multiprocessing`` worker (its pool has already shared out the
   CPUs). Native threads of numpy's BLAS or torch are not counted (numpy starts them on import, so
   counting them would rule forking out everywhere): the workers only call ``fn`` on Python ints, and a
   worker stuck all the same is stopped by the time limit where there is one. Anywhere else: way 3.

3. **Per call, in this process**: a chunk of ``CHUNK`` rows at a time, each input column turned into
   Python lists once (``tolist``), ``fn`` called positionally when it is a plain function whose
   parameters are exactly the inputs (the same call as by keyword, without building a dict per input),
   and the chunk's outputs checked together (exact ``int``, ``tuple`` and ``list`` types, lengths,
   then one conversion to int64 that refuses anything beyond 64 bits). Anything unusual (a bool, a
   numpy integer, a wrong length) sends the chunk through ``normalise_output`` row by row in order, so
   its message and its input are those of a check after every call. When a call raises, or the time
   limit passes, the outputs before it are checked first, for the same reason. The time limit is
   ``TimeLimit``'s: SIGALRM in the main thread, a check after every call elsewhere.

``progress(done, total)`` is called as rows are done (after each chunk, or every ``POLL`` seconds from
the workers) and at the end with ``(total, total)``.
"""
from __future__ import annotations

import json
import math
import mmap
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from itertools import chain, pairwise
from multiprocessing.connection import wait
from typing import Any, Literal, Self

import numpy as np

from .errors import TaskError

# Below this many inputs calling the function per input takes milliseconds: not worth the checks.
VECTORISE_FROM = 4096
# Inputs checked by a scalar call when a vectorised answer is checked (plus the edges of each input).
CHECKED_SAMPLE = 256
# From this many inputs (and with more than one CPU) the calls are spread over worker processes.
PARALLEL_FROM = 100_000
# Rows converted, called and checked together; progress is reported after each.
CHUNK = 8192
# How often the parent looks at its workers (progress, and a worker that died without a word).
POLL = 0.1
# How long the parent waits, past its own alarm, for a worker to name the input its call hung on.
GRACE = 2.0
# Signals held while a worker is forked and recorded (their handlers raise: Ctrl-C, the time limit).
_HELD = (signal.SIGINT, signal.SIGALRM)

How = Literal["auto", "calls", "vectorised", "processes"]
Progress = Callable[[int, int], None]


def tabulate(
    task_name: str,
    fn: Callable[..., Any],
    arrays: dict[str, np.ndarray],
    lengths: np.ndarray | None,
    *,
    kind: str,
    arity: int,
    seconds: float = math.inf,
    progress: Progress | None = None,
    how: How = "auto",
    workers: int | None = None,
) -> np.ndarray:
    """The outputs of ``fn`` on every row of ``arrays`` as int64 (see the module docstring).

    ``kind`` and ``arity`` are the task's; a scan's outputs are ``[n, max_length(, arity)]`` padded with 0.
    ``how`` picks a way instead of the default ``"auto"`` (the vectorised way still falls back when its
    answer is not accepted, worker processes when they may not be forked); ``workers`` overrides the
    number of worker processes (default: the CPUs this process may use).
    """
    n = next(iter(arrays.values())).shape[0]
    calls = _Calls(task_name, fn, arrays, lengths, kind, arity)
    report = progress or (lambda done, total: None)
    workers = _cpus() if workers is None else workers
    with TimeLimit(task_name, seconds) as limit:
        if calls.width is None and (how == "vectorised" or (how == "auto" and n >= VECTORISE_FROM)):
            out = _vectorised(calls, limit)
            if out is not None:
                report(n, n)
                return out
        forking = how == "processes" or (how == "auto" and n >= PARALLEL_FROM and workers > 1)
        if forking and n > 0 and _may_fork():
            out = _in_processes(calls, limit, report, workers)
            if out is not None:
                return out
        out = np.zeros(calls.shape(n), dtype=np.int64)
        calls.run(0, n, out, limit, lambda done: report(done, n))
    if n == 0:
        report(0, 0)  # otherwise the last chunk's report was (n, n)
    return out


# --- calling the function per input ---------------------------------------------------------------------


class _Overtime(BaseException):
    """Raised by the SIGALRM handler inside a user's function. A BaseException, so that the function's
    own ``except Exception`` does not swallow it."""


def check_seconds(seconds) -> float:
    """A time limit given by a user: a positive number (``math.inf``: no limit); TaskError otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds <= 0:
        raise TaskError(f"seconds must be a positive number of seconds (math.inf for no limit), got {seconds!r}")
    return float(seconds)


def _raised(task_name: str, err: Exception, x: dict[str, Any]) -> TaskError:
    return TaskError(f"task {task_name}: the function raised {type(err).__name__}: {err} on input {x}")


def _call_one(task_name: str, fn: Callable, x: dict[str, Any]):
    try:
        return fn(**x)
    except Exception as err:  # the user's function failed: name the input that broke it
        raise _raised(task_name, err, x) from err


class TimeLimit:
    """A limit of ``seconds`` on calling a user's function over many inputs (``with TimeLimit(...) as limit``).

    In the main thread a SIGALRM timer interrupts a call that hangs; the previous handler and timer
    are restored on exit (a timer already set to fire sooner is left alone, and then, as off the main
    thread, the elapsed time is checked after each call). Off the main thread only that check runs: a
    slow function is stopped after the call that crosses the limit, but a call that never returns
    cannot be interrupted there.

    ``since`` (a ``time.monotonic()`` reading) starts the clock earlier than entry: a worker process
    keeps its parent's deadline.
    """

    def __init__(self, task_name: str, seconds: float, *, since: float | None = None):
        self.task_name = task_name
        self.seconds = check_seconds(seconds)
        self.input: dict[str, Any] | None = None
        # What the function was doing when there is no single input to name (a vectorised call, workers).
        self.doing: str | None = None
        self._since = since
        self._armed = False

    def __enter__(self) -> Self:
        self._start = time.monotonic() if self._since is None else self._since
        left = self.left()
        if (
            math.isfinite(self.seconds)
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        ):
            outer, _ = signal.getitimer(signal.ITIMER_REAL)
            if not (0 < outer <= left):
                self._previous_handler = signal.signal(signal.SIGALRM, self._alarm)
                self._previous_timer = signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
                self._armed = True
        return self

    @property
    def started(self) -> float:
        """The ``time.monotonic()`` reading the limit counts from."""
        return self._start

    def left(self) -> float:
        """Seconds left before the limit (``math.inf`` without one)."""
        return self.seconds - (time.monotonic() - self._start)

    @property
    def armed(self) -> bool:
        """Whether SIGALRM will interrupt a call that hangs (else only the check after each call stops it)."""
        return self._armed

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
        if self.input is not None:
            where = f" (on input {self.input})"
        else:
            where = f" ({self.doing})" if self.doing else ""
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
        if len({_arity_of(v, "function") for v in out}) > 1:
            raise TaskError(f"task {task_name}: the function returned steps with different numbers of outputs on input "
                            f"{x}; every step of a scan needs the same number (an int, or a tuple of one size)")
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


_INT, _TUPLE, _LIST = frozenset((int,)), frozenset((tuple,)), frozenset((list,))
_INT_OR_BOOL = frozenset((int, bool, np.bool_))


def _plain_values(ys: list, kind: str, arity: int, lengths: list[int] | None) -> np.ndarray | None:
    """The outputs ``ys`` of a chunk of rows as int64 values, one row per value (a scan's steps one after
    another), ``[k]`` or ``[k, arity]``; None when any is not exactly what ``normalise_output`` returns
    (plain ``int``s in range, tuples of ``arity`` of them, lists of one per step), so needs its check."""
    if kind == "scan":
        if not _LIST.issuperset(map(type, ys)) or list(map(len, ys)) != lengths:
            return None
        ys = list(chain.from_iterable(ys))
    if arity > 1:
        if not _TUPLE.issuperset(map(type, ys)) or not {arity}.issuperset(map(len, ys)):
            return None
        ys = list(chain.from_iterable(ys))
    if not _INT.issuperset(map(type, ys)):
        return None
    try:
        values = np.array(ys, dtype=np.int64)
    except OverflowError:  # an int beyond 64 bits
        return None
    return values if arity == 1 else values.reshape(-1, arity)


def _positional_order(fn: Callable, names: list[str]) -> list[str] | None:
    """The inputs in the order of ``fn``'s parameters, when ``fn(*values)`` in that order is the same
    call as ``fn(**inputs)``: a plain Python function whose first parameters are exactly the inputs
    (positional-or-keyword) and whose other parameters have defaults. None otherwise (a builtin, a
    callable object, a decorated wrapper taking ``*args, **kwargs``): those are called by keyword."""
    if not isinstance(fn, types.FunctionType):
        return None
    code = fn.__code__
    params = code.co_varnames[: code.co_argcount]
    k = len(names)
    if code.co_posonlyargcount or len(params) < k or set(params[:k]) != set(names):
        return None
    if code.co_argcount - k > len(fn.__defaults__ or ()):
        return None
    keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    if not set(keyword_only) <= set(fn.__kwdefaults__ or {}):
        return None
    return list(params[:k])


class _Calls:
    """``fn`` called once per input of ``arrays``, a chunk of rows at a time, outputs written into an array."""

    def __init__(self, task_name: str, fn: Callable, arrays: dict[str, np.ndarray], lengths: np.ndarray | None,
                 kind: str, arity: int):
        self.task_name, self.fn, self.arrays, self.lengths = task_name, fn, arrays, lengths
        self.kind, self.arity = kind, arity
        self.names = list(arrays)
        order = _positional_order(fn, self.names)
        self.positional = order is not None
        self.order = order if order is not None else self.names
        self._at = {name: i for i, name in enumerate(self.order)}
        self.width = next((v.shape[1] for v in arrays.values() if v.ndim == 2), None)

    def shape(self, n: int) -> tuple[int, ...]:
        if self.kind == "scan":
            return (n, self.width) if self.arity == 1 else (n, self.width, self.arity)
        return (n,) if self.arity == 1 else (n, self.arity)

    def input_of(self, row) -> dict[str, Any]:
        """A row as the input dict it stands for, keys in the signature's order (as error messages show it)."""
        return {name: row[self._at[name]] for name in self.names} if self.positional else row

    def run(self, lo: int, hi: int, out: np.ndarray, limit: TimeLimit, report: Callable[[int], None]) -> None:
        """Rows ``lo`` to ``hi`` into ``out[lo:hi]``; ``report(rows done)`` after each chunk."""
        rows: list = []
        try:
            for start in range(lo, hi, CHUNK):
                stop = min(start + CHUNK, hi)
                rows, lengths, full = self._rows(start, stop)
                values = self._values(self._call(rows, lengths, limit), rows, lengths)
                block = out[start:stop]
                if self.kind != "scan":
                    block[...] = values
                elif full:
                    block[...] = values.reshape(block.shape)
                else:
                    block[np.arange(self.width) < np.asarray(lengths)[:, None]] = values
                report(stop - lo)
        except _Overtime:  # between calls: name an input near where the time ran out, as a check after each call did
            if limit.input is None and rows:
                limit.input = self.input_of(rows[-1])
            raise

    def _rows(self, start: int, stop: int) -> tuple[list, list[int] | None, bool]:
        """Rows ``start`` to ``stop`` as argument tuples (in ``self.order``) or input dicts, each
        sequence's length, and whether every sequence is as long as the arrays are wide."""
        lengths = None
        full = True
        if self.width is not None:
            if self.lengths is None:
                lengths = [self.width] * (stop - start)
            else:
                part = self.lengths[start:stop]
                full = part.size == 0 or int(part.min()) == self.width
                lengths = part.tolist()
        columns = []
        for name in self.order:
            column = self.arrays[name][start:stop].tolist()
            if not full and self.arrays[name].ndim == 2:
                column = [r[:n] for r, n in zip(column, lengths)]
            columns.append(column)
        rows = list(zip(*columns))
        if not self.positional:
            rows = [dict(zip(self.order, row)) for row in rows]
        return rows, lengths, full

    def _call(self, rows: list, lengths: list[int] | None, limit: TimeLimit) -> list:
        """``fn`` on each of ``rows``: their outputs, or a TaskError for the first row that fails."""
        fn, positional = self.fn, self.positional
        # Off the main thread nothing interrupts a call: the limit is checked after each one.
        late = None if limit.armed or not math.isfinite(limit.seconds) else time.monotonic() + limit.left()
        ys: list = []
        row = failed = None
        try:
            for row in rows:
                try:
                    y = fn(*row) if positional else fn(**row)
                except Exception as err:  # noqa: BLE001 -- any error of the user's function is a TaskError naming its input
                    failed = err
                    break
                if late is not None and time.monotonic() > late:
                    break
                ys.append(y)
            else:
                return ys
        except _Overtime:
            pass
        # A wrong output before this row is the first error, as when each output was checked on return.
        self._values(ys, rows, lengths)
        if failed is not None:  # the user's function failed: name the input that broke it
            raise _raised(self.task_name, failed, self.input_of(row)) from failed
        limit.input = None if row is None else self.input_of(row)
        raise limit.error()

    def _values(self, ys: list, rows: list, lengths: list[int] | None) -> np.ndarray:
        """The outputs ``ys`` of the first rows of ``rows`` as int64 values (see ``_plain_values``),
        through ``normalise_output`` row by row when any is unusual: a TaskError for the first bad one."""
        values = _plain_values(ys, self.kind, self.arity, None if lengths is None else lengths[: len(ys)])
        if values is None:
            ys = [normalise_output(self.task_name, y, self.input_of(row), self.kind, self.arity,
                                   None if lengths is None else n)
                  for y, row, n in zip(ys, rows, lengths or [None] * len(ys))]
            values = _plain_values(ys, self.kind, self.arity, None if lengths is None else lengths[: len(ys)])
            assert values is not None, "normalise_output passed an output that is not plain ints"
        return values


# --- vectorised -------------------------------------------------------------------------------------------


def _vectorised(calls: _Calls, limit: TimeLimit) -> np.ndarray | None:
    """``fn`` called once on whole arrays, if its answer passes the module docstring's three checks; else None."""
    n = next(iter(calls.arrays.values())).shape[0]
    limit.doing = f"calling it once on numpy arrays of all {n} inputs"  # kept if the time runs out here
    try:
        with np.errstate(all="raise"):
            fast = _array_outputs(calls.fn(**{k: _read_only(v) for k, v in calls.arrays.items()}), n, calls.arity)
            exact = None
            if fast is not None:
                exact = _array_outputs(calls.fn(**{k: v.astype(object) for k, v in calls.arrays.items()}), n, calls.arity)
    except Exception:  # noqa: BLE001 -- it does not take arrays, or not as Python would: call it per input instead
        fast = exact = None
    limit.doing = None
    if fast is None or exact is None or not np.array_equal(fast, exact):
        return None
    try:
        for i in _checked_rows(calls.arrays, n).tolist():
            x = {k: int(v[i]) for k, v in calls.arrays.items()}
            limit.input = x
            try:
                want = normalise_output(calls.task_name, calls.fn(**x), x, calls.kind, calls.arity, None)
            except Exception:  # noqa: BLE001 -- left to the calls per input, which name the input that fails
                return None
            if (want if calls.arity == 1 else list(want)) != fast[i].tolist():
                return None
    finally:
        limit.input = None
    return fast


def _read_only(v: np.ndarray) -> np.ndarray:
    """A view of ``v`` the function cannot change in place (``a += 1`` raises, and so is refused)."""
    view = v.view()
    view.flags.writeable = False
    return view


def _array_outputs(y, n: int, arity: int) -> np.ndarray | None:
    """A vectorised answer as int64, ``[n]`` or ``[n, arity]``; None unless it is one integer array per
    output, of ``n`` values each, all of them ints within 64 bits."""
    parts = (y,) if arity == 1 else y
    if arity > 1 and not (isinstance(y, tuple) and len(y) == arity):
        return None
    columns = []
    for part in parts:
        if not isinstance(part, np.ndarray) or part.shape != (n,):
            return None
        if part.dtype == np.bool_ or np.issubdtype(part.dtype, np.signedinteger):
            columns.append(part.astype(np.int64))
            continue
        if part.dtype != object and not np.issubdtype(part.dtype, np.integer):
            return None
        values = part.tolist()  # unsigned, or Python objects: each must be an int (or a bool) within 64 bits
        if not _INT_OR_BOOL.issuperset(map(type, values)):
            return None
        try:
            columns.append(np.array(values, dtype=np.int64))
        except OverflowError:
            return None
    return columns[0] if arity == 1 else np.stack(columns, axis=1)


def _checked_rows(arrays: dict[str, np.ndarray], n: int) -> np.ndarray:
    """The rows on which a vectorised answer is checked against calls: see the module docstring."""
    picks = [0, n - 1]
    for v in arrays.values():
        picks += [int(v.argmin()), int(v.argmax())]
        for edge in (0, 1, -1):
            hit = np.flatnonzero(v == edge)
            picks += hit[:1].tolist()
    picks += np.random.default_rng(0).integers(0, n, size=min(n, CHECKED_SAMPLE)).tolist()
    return np.unique(picks)


# --- in worker processes ------------------------------------------------------------------------------------


def _cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _may_fork() -> bool:
    """Whether worker processes may be forked from here (see the module docstring for why these)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and multiprocessing.parent_process() is None
        and threading.current_thread() is threading.main_thread()
        and threading.active_count() == 1
    )


class WorkerTraceback(Exception):
    """The traceback, as text, of the error a worker process met: the cause of the TaskError raised here."""


def _split(n: int, lengths: np.ndarray | None, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into at most ``parts`` contiguous ranges of about equal cost (a row costs its
    sequence's length plus one)."""
    cost = np.cumsum(np.ones(n) if lengths is None else lengths + 1.0)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, parts) / parts, side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [n]])).tolist()
    return list(pairwise(bounds))


def _in_processes(calls: _Calls, limit: TimeLimit, report: Progress, workers: int) -> np.ndarray | None:
    """``calls`` spread over worker processes (see the module docstring); None if none could be started."""
    n = next(iter(calls.arrays.values())).shape[0]
    shape = calls.shape(n)
    ranges = _split(n, calls.lengths, workers)
    # Anonymous shared mappings, zero-filled (a scan's padding): the workers write, this process reads.
    out_map = mmap.mmap(-1, 8 * max(1, math.prod(shape)))
    done_map = mmap.mmap(-1, 8 * len(ranges))
    out = np.frombuffer(out_map, dtype=np.int64, count=math.prod(shape)).reshape(shape)
    done = np.frombuffer(done_map, dtype=np.int64, count=len(ranges))
    context = multiprocessing.get_context("fork")
    pool = _Workers(calls.task_name, ranges, done, n, report)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # as it is: the workers restore it
    try:
        for i, (lo, hi) in enumerate(ranges):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(calls, i, lo, hi, out, done, send, os.getpid(), limit, mask),
                                      name=f"tabulate {calls.task_name} {lo}-{hi}", daemon=True)
            # Ctrl-C or the alarm between the fork and pool.add would leave a worker that nobody kills: held here.
            signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
            try:
                process.start()
                pool.add(process, receive)
            except OSError:  # no more processes allowed (RLIMIT_NPROC, memory): do it here instead
                receive.close()
                return None
            finally:
                send.close()  # the worker holds the only writing end, so its death is an end of file here
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            pool.listen(until=None)
        except _Overtime:
            limit.doing = f"in {len(ranges)} worker processes"
            pool.listen(until=time.monotonic() + GRACE)
            if pool.first is None:
                raise
        pool.raise_first()
        result = out.copy()
    finally:
        pool.close()
    report(n, n)
    return result


def _work(calls: _Calls, index: int, lo: int, hi: int, out: np.ndarray, done: np.ndarray, send, parent: int,
          outer: TimeLimit, mask: set) -> None:
    """A worker process: rows ``lo`` to ``hi`` into the shared ``out``; one line back, empty when all went well."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills its workers
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # forked while the parent held SIGALRM, which the limit needs
    _die_with(parent)
    try:
        with TimeLimit(calls.task_name, outer.seconds, since=outer.started) as limit:
            calls.run(lo, hi, out, limit, lambda k: done.__setitem__(index, k))
        message = b""
    except TaskError as err:
        cause = "".join(traceback.format_exception(err.__cause__)) if err.__cause__ is not None else ""
        message = json.dumps([str(err), cause]).encode()
    send.send_bytes(message)


def _die_with(parent: int) -> None:
    """Make this process die when ``parent`` does, even by SIGKILL (Linux; elsewhere the parent's
    ``finally`` is all there is)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


class _Workers:
    """The parent's view of its worker processes: what they said, and the first error in domain order."""

    def __init__(self, task_name: str, ranges: list[tuple[int, int]], done: np.ndarray, total: int, report: Progress):
        self.task_name, self.ranges, self.done, self.total, self.report = task_name, ranges, done, total, report
        self.processes: list = []
        self.pipes: list = []
        self.pending: set[int] = set()
        self.first: tuple[int, str, str] | None = None  # (worker, message, the cause's traceback)

    def add(self, process, pipe) -> None:
        self.pending.add(len(self.processes))
        self.processes.append(process)
        self.pipes.append(pipe)

    def listen(self, until: float | None) -> None:
        """Hear from the workers until none is left whose answer could change the result (or ``until``)."""
        while True:
            live = sorted(i for i in self.pending if self.first is None or i < self.first[0])
            if not live or (until is not None and time.monotonic() >= until):
                return
            wait([self.pipes[i] for i in live] + [self.processes[i].sentinel for i in live], timeout=POLL)
            for i in live:
                self._hear(i)
            self.report(int(self.done.sum()), self.total)

    def _hear(self, i: int) -> None:
        pipe, process = self.pipes[i], self.processes[i]
        try:
            line = pipe.recv_bytes() if pipe.poll() else None
        except EOFError:
            line = None
        if line is None:
            if process.exitcode is None:  # still working
                return
            lo, hi = self.ranges[i]
            said = (
                (f"task {self.task_name}: the worker process calling the function on inputs {lo} to {hi - 1} of "
                 f"the domain died (exit code {process.exitcode}) before it finished; the function may have "
                 "ended the process or run out of memory"),
                "",
            )
        else:
            said = tuple(json.loads(line)) if line else None
        self.pending.discard(i)
        if said is not None and (self.first is None or i < self.first[0]):
            self.first = (i, *said)
            for j in range(i + 1, len(self.processes)):  # later inputs cannot hold the first error
                self.processes[j].kill()

    def raise_first(self) -> None:
        if self.first is not None:
            _, message, cause = self.first
            raise TaskError(message) from (WorkerTraceback(cause) if cause else None)

    def close(self) -> None:
        for process in self.processes:
            process.kill()
        for process, pipe in zip(self.processes, self.pipes):
            process.join()
            pipe.close()
