"""Bottom-up enumeration by size with observational equivalence on vectorised outputs.

Every expression is represented by its vector of values on the examples. Expressions of size ``s``
are built from all smaller ones with one operator at a time, whole blocks at once with numpy
broadcasting; a vector already seen (by a 64-bit hash of its values) is dropped, so each behaviour
on the examples is kept once, by its smallest expression. Scans and folds (``_loops.py``): state
updates are enumerated the same way over a grid of state values, each distinct update is simulated
on all example sequences at once, and the output is then synthesized as a function of the state.
"""
from __future__ import annotations

import errno
from dataclasses import dataclass

import numpy as np

from programs import Binary, Call, Const, IfExp, Unary, Var
from programs.ast import Expr, negate
from programs.semantics import VECTOR

from ..build import function
from ..problem import Budget, Problem
from ..registry import Attempt, synthesizer

BINARY = ("+", "-", "*", "//", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">", ">=", "==", "!=", "and", "or", "min", "max")
UNARY = ("neg", "not", "abs")
COMMUTATIVE = {"+", "*", "&", "|", "^", "==", "!=", "min", "max"}
# Comparisons in one direction suffice: a > b is b < a.
MIRRORED = {">": "<", ">=": "<="}
CHUNK = 1 << 21  # elements evaluated per numpy call (keeps temporaries small)


def _ids(a, b, c) -> np.ndarray:
    """Operand ids as an [n, 3] array (-1 where absent)."""
    n = a.shape[0]
    out = np.full((n, 3), -1, dtype=np.int64)
    out[:, 0] = a
    if b is not None:
        out[:, 1] = b
    if c is not None:
        out[:, 2] = c
    return out


_I32 = np.iinfo(np.int32)
_FAST = {"//": np.floor_divide, "%": np.remainder}  # for divisors known to have no zero
# Operators that are plain int64 ufuncs can write into a reused buffer (no fresh pages per block).
_UFUNC = {"+": np.add, "-": np.subtract, "*": np.multiply, "&": np.bitwise_and, "|": np.bitwise_or,
          "^": np.bitwise_xor, "min": np.minimum, "max": np.maximum}


class Exhausted(Exception):
    def __init__(self, message: str = "", closed: bool = False):
        super().__init__(message)
        self.closed = closed  # the whole space of behaviours was enumerated: a proof, not a size limit


class OutOfTime(Exception):
    pass


@dataclass
class Level:
    values: np.ndarray  # [n, E] distinct value vectors
    ops: np.ndarray  # [n] operator code (index into the enumerator's op table; -1 for a leaf)
    args: np.ndarray  # [n, 3] global ids of the operands (-1 when absent)
    start: int = 0  # global id of the first row (-1: rows that were not kept)
    hashes: np.ndarray | None = None


def _large_array(shape: tuple[int, int], dtype=np.int64) -> np.ndarray:
    """An array in anonymous memory that asks for huge pages: fewer page faults as rows arrive
    (the bank can reach a gigabyte); untouched pages cost nothing."""
    import mmap

    nbytes = max(8, shape[0] * shape[1] * np.dtype(dtype).itemsize)
    buf = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            buf.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass  # not supported here: ordinary pages
    return np.frombuffer(buf, dtype=dtype, count=shape[0] * shape[1]).reshape(shape)


class Bank:
    """All distinct value vectors found so far, by size, with how each was built.

    Rows live in one preallocated array (pages are only touched as rows arrive); a level is a view.
    """

    def __init__(self, n_examples: int, seed: int, max_bytes: int):
        rng = np.random.default_rng(seed)
        self.weights = rng.integers(1, 2**63, size=n_examples, dtype=np.uint64) | np.uint64(1)
        self.seen = np.zeros(0, dtype=np.uint64)
        self.capacity = max(1024, int(max_bytes // (8 * max(1, n_examples) + 26)))
        # Rows are stored as int32 while every kept value fits (half the memory written), and the
        # whole bank is widened to int64 the first time one does not. Arithmetic is always int64.
        self.values = _large_array((self.capacity, n_examples), np.int32)
        self.ops = np.empty(self.capacity, dtype=np.int16)
        self.args = np.empty((self.capacity, 3), dtype=np.int64)
        self.levels: dict[int, Level] = {}
        self.offsets: dict[int, int] = {}
        self.total = 0
        self.evaluated = 0
        self.full = False  # the memory cap was reached: later sizes are searched only in part

    def hash(self, values: np.ndarray) -> np.ndarray:
        """A 64-bit hash of each row (a random linear form modulo 2**64): equal rows, equal hashes."""
        return np.ascontiguousarray(values).view(np.uint64).dot(self.weights)

    def add(self, size: int, values: np.ndarray, provenance) -> Level | None:
        """Keep the rows whose behaviour is new, as the next rows of level ``size``; returns them.

        ``provenance(rows)`` gives the op codes and operand ids of the given rows (built only for kept ones).
        """
        self.evaluated += values.shape[0]
        if values.shape[0] == 0:
            return None
        h = self.hash(values)
        u, first = np.unique(h, return_index=True)
        pos = np.searchsorted(self.seen, u)
        present = np.zeros(u.shape, dtype=bool)
        inside = pos < self.seen.size
        present[inside] = self.seen[pos[inside]] == u[inside]
        keep = first[~present]
        if keep.size == 0:
            return None
        keep.sort()
        ops, args = provenance(keep)
        if self.full or self.total + keep.size > self.capacity:
            # Full: rows are still checked against the target, but no longer kept for larger sizes.
            self.full = True
            return Level(values[keep], ops, args, start=-1, hashes=h[keep])
        new = np.sort(h[keep])
        self.seen = np.insert(self.seen, np.searchsorted(self.seen, new), new)
        self.offsets.setdefault(size, self.total)
        lo, hi = self.total, self.total + keep.size
        rows = values[keep]
        if self.values.dtype == np.int32 and (rows.min() < _I32.min or rows.max() > _I32.max):
            self._widen()
        self.values[lo:hi] = rows
        self.ops[lo:hi] = ops
        self.args[lo:hi] = args
        self.total = hi
        self.levels[size] = self._view(self.offsets[size], hi)
        block = self._view(lo, hi)
        block.hashes = h[keep]
        return block

    def _widen(self) -> None:
        wide = _large_array(self.values.shape, np.int64)
        wide[: self.total] = self.values[: self.total]
        self.values = wide
        ends = sorted(self.offsets.values()) + [self.total]
        for size, lo in self.offsets.items():
            hi = min(e for e in ends if e > lo) if any(e > lo for e in ends) else lo
            self.levels[size] = self._view(lo, hi)

    def _view(self, lo: int, hi: int) -> Level:
        return Level(self.values[lo:hi], self.ops[lo:hi], self.args[lo:hi], start=lo)


class Enumerator:
    """Bottom-up search for an expression whose values on the examples equal ``target``."""

    def __init__(self, leaves: dict[str, np.ndarray], constants, operators, *, max_size: int, budget: Budget,
                 seed: int = 0, max_bytes: int = 1 << 30, shift_limit: int = 63, n: int | None = None):
        self.n = n if n is not None else (next(iter(leaves.values())).shape[0] if leaves else 1)
        self.budget = budget
        self.max_size = max_size
        self.bank = Bank(self.n, seed, max_bytes)
        self.binary = [op for op in BINARY if op in operators and op not in MIRRORED]
        self.unary = [op for op in UNARY if op in operators]
        self.use_if = "if" in operators
        self.table = self.binary + self.unary + ["if"]
        self.shift_limit = shift_limit
        values, exprs = [], []
        for name, v in leaves.items():
            values.append(np.asarray(v, dtype=np.int64))
            exprs.append(Var(name))
        for c in constants:
            values.append(np.full(self.n, c, dtype=np.int64))
            exprs.append(Const(int(c)))
        self._leaf_values = np.stack(values) if values else np.zeros((0, self.n), dtype=np.int64)
        self._leaf_exprs = exprs
        self._buffer: np.ndarray | None = None
        self.size = 0

    # --- search -----------------------------------------------------------------------------------
    def search(self, target: np.ndarray | None, *, accept=None) -> Expr:
        """Grow sizes 1.. until a row equals ``target`` (or ``accept(block)`` returns a row index of a new block).

        Raises ``OutOfTime`` or ``Exhausted``.
        """
        target_h = self.bank.hash(np.asarray(target, dtype=np.int64)[None, :])[0] if target is not None else None
        while self.size < self.max_size:
            self.size += 1
            for values, provenance in self._blocks(self.size):
                if self.budget.expired:
                    raise OutOfTime()
                block = self.bank.add(self.size, values, provenance)
                if block is None:
                    continue
                if target_h is not None:
                    for i in np.nonzero(block.hashes == target_h)[0]:
                        if np.array_equal(block.values[i], target):
                            return self._found(block, int(i))
                if accept is not None:
                    i = accept(block)
                    if i is not None:
                        return self._found(block, int(i))
            if self.closed():
                raise Exhausted(f"none of the {self.bank.total} behaviours these operators can produce on the examples "
                                f"fits: no expression of any size does (they are closed under the operators)", closed=True)
        if self.bank.full:
            raise Exhausted(f"no fit found; the bank filled its memory cap ({self.bank.total} behaviours), "
                            f"so sizes above {max(self.bank.offsets)} were searched only in part")
        raise Exhausted(f"no expression of size <= {self.max_size} fits")

    def closed(self) -> bool:
        """True when no larger size can add a behaviour: every operand combination of a size above the
        current one needs a level beyond the last non-empty one (a proof that the search is complete,
        up to a 64-bit hash collision). Only claimed without shifts and conditionals, whose pruning
        (clipped counts, 0/1 conditions) drops combinations that are not always redundant."""
        if self.bank.full or not self.bank.levels or self.use_if or {"<<", ">>"} & set(self.binary):
            return False
        top = max(s for s, lv in self.bank.levels.items() if lv.values.shape[0] > 0)
        arity = 3 if self.use_if else (2 if self.binary else 1)
        return self.size >= arity * top + 1

    def _scratch(self, rows: int) -> np.ndarray:
        """A reused [rows, n] buffer: blocks are consumed (copied into the bank) before the next is made."""
        need = rows * self.n
        if self._buffer is None or self._buffer.size < need:
            self._buffer = np.empty(max(need, CHUNK), dtype=np.int64)
        return self._buffer[:need].reshape(rows, self.n)

    def _found(self, block: Level, i: int) -> Expr:
        if block.start >= 0:
            return self.expr(block.start + i)
        a, b, c = (int(x) for x in block.args[i])  # a row that was not kept
        return self._node(int(block.ops[i]), a, b, c)

    def _blocks(self, size: int):
        """Candidate blocks of one size: (values, provenance) where provenance(rows) -> (op codes, operand ids)."""
        if size == 1:
            yield self._leaf_values, lambda rows: (np.full(rows.size, -1, np.int16), _ids(rows, None, None))
            return
        for op in self.unary:
            child = self.bank.levels.get(size - 1)
            if child is not None:
                yield from self._apply1(op, VECTOR[op], child)
        for op in self.binary:
            f = _FAST.get(op, VECTOR[op])
            for a in range(1, size - 1):
                b = size - 1 - a
                if op in COMMUTATIVE and a > b:
                    continue
                yield from self._apply2(op, f, a, b)
        if self.use_if and size >= 4:
            for c in range(1, size - 2):
                for t in range(1, size - 1 - c):
                    e = size - 1 - c - t
                    if e >= 1:
                        yield from self._apply_if(c, t, e)

    def _apply1(self, op, f, child: Level):
        code = self.table.index(op)
        step = max(1, CHUNK // self.n)
        for i0 in range(0, child.values.shape[0], step):
            block = child.values[i0 : i0 + step]
            with np.errstate(all="ignore"):
                out = np.asarray(f(block.astype(np.int64)), dtype=np.int64)
            base = child.start + i0
            yield out, lambda rows, base=base: (np.full(rows.size, code, np.int16), _ids(rows + base, None, None))

    def _apply2(self, op, f, a, b):
        la, lb = self.bank.levels.get(a), self.bank.levels.get(b)
        if la is None or lb is None:
            return
        B = lb.values
        if op in ("<<", ">>"):  # shift counts: only rows that are valid, non-zero counts
            ok = np.nonzero((B >= 0).all(1) & (B <= self.shift_limit).all(1) & (B != 0).any(1))[0]
        elif op in ("//", "%"):  # divisors without zeros take the fast path; all-zero ones give nothing new
            nonzero = (B != 0).all(1)
            if nonzero.any():
                yield from self._pairs(op, f, la, lb, np.nonzero(nonzero)[0], a == b)
            ok = np.nonzero(~nonzero & (B != 0).any(1))[0]
            f = VECTOR[op]
        else:
            ok = None
        yield from self._pairs(op, f, la, lb, ok, a == b)

    def _pairs(self, op, f, la: Level, lb: Level, ok, same_size: bool):
        A = la.values
        Bsel = lb.values if ok is None else lb.values[ok]
        nb = Bsel.shape[0]
        if nb == 0:
            return
        code = self.table.index(op)
        same = op in COMMUTATIVE and same_size
        rows = max(1, CHUNK // (self.n * nb))
        ufunc = _UFUNC.get(op)
        zeros = None
        if op in ("//", "%"):
            ufunc = _FAST[op]
            if f is not _FAST[op]:  # divisors with some zeros: divide by 1 there, then apply x // 0 == 0, x % 0 == x
                zeros = Bsel == 0
                Bsel = np.where(zeros, 1, Bsel)
        for i0 in range(0, A.shape[0], rows):
            blockA = A[i0 : i0 + rows]
            with np.errstate(all="ignore"):
                if ufunc is not None:
                    out = self._scratch(blockA.shape[0] * nb)
                    out3 = out.reshape(blockA.shape[0], nb, self.n)
                    ufunc(blockA[:, None, :], Bsel[None, :, :], out=out3, dtype=np.int64)
                    if zeros is not None:
                        where = np.broadcast_to(zeros[None, :, :], out3.shape)
                        np.copyto(out3, 0 if op == "//" else np.broadcast_to(blockA[:, None, :], out3.shape), where=where)
                else:
                    wideB = Bsel.astype(np.int64, copy=False)
                    out = np.asarray(f(blockA.astype(np.int64)[:, None, :], wideB[None, :, :]), dtype=np.int64).reshape(-1, self.n)
            if same:  # commutative with equal sizes: one order of each pair
                ia = np.repeat(np.arange(blockA.shape[0]), nb) + i0
                ib = np.tile(np.arange(nb), blockA.shape[0])
                sel = np.nonzero(ia <= (ib if ok is None else ok[ib]))[0]
                out = out[sel]
            else:
                sel = None

            def provenance(rows, i0=i0, sel=sel):
                r = rows if sel is None else sel[rows]
                ia, ib = r // nb + i0, r % nb
                ib = ib if ok is None else ok[ib]
                return np.full(rows.size, code, np.int16), _ids(ia + la.start, ib + lb.start, None)

            yield out, provenance

    def _apply_if(self, c, t, e):
        lc, lt, le = (self.bank.levels.get(s) for s in (c, t, e))
        if lc is None or lt is None or le is None:
            return
        # Conditions are 0/1 vectors that are not constant (a constant test picks one branch).
        cv = lc.values
        conds = np.nonzero(((cv == 0) | (cv == 1)).all(1) & (cv == 1).any(1) & (cv == 0).any(1))[0]
        code = self.table.index("if")
        T, E = lt.values, le.values
        ne = E.shape[0]
        rows = max(1, CHUNK // (self.n * ne))
        for ci in conds:
            if self.budget.expired:
                return
            mask = cv[ci].astype(bool)
            for i0 in range(0, T.shape[0], rows):
                block = T[i0 : i0 + rows]
                out = np.where(mask[None, None, :], block[:, None, :], E[None, :, :]).reshape(-1, self.n).astype(np.int64, copy=False)

                def provenance(r, i0=i0, ci=ci):
                    return np.full(r.size, code, np.int16), _ids(np.full(r.size, ci + lc.start), r // ne + i0 + lt.start, r % ne + le.start)

                yield out, provenance

    # --- rebuilding expressions ---------------------------------------------------------------------
    def expr(self, gid: int) -> Expr:
        a, b, c = (int(x) for x in self.bank.args[gid])
        return self._node(int(self.bank.ops[gid]), a, b, c)

    def _node(self, code: int, a: int, b: int, c: int) -> Expr:
        if code < 0:
            return self._leaf_exprs[a]
        op = self.table[code]
        if op == "if":
            return IfExp(self.expr(a), self.expr(b), self.expr(c))
        if op in UNARY:
            child = self.expr(a)
            if op == "neg":
                return negate(child)
            if op == "abs":
                return Call("abs", (child,))
            return Unary("not", child)
        left, right = self.expr(a), self.expr(b)
        if op in ("min", "max"):
            return Call(op, (left, right))
        return Binary(op, left, right)


# --- the method -----------------------------------------------------------------------------------


@synthesizer("enumerative")
def enumerative(max_size: int = 12, max_bytes: int = 1 << 30, state_size: int = 7):
    """Bottom-up enumeration with observational equivalence (functions, scans and folds)."""

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        seed = int(rng.integers(2**31))
        if problem.kind == "function":
            return _functions(problem, budget, seed, max_size, max_bytes)
        from ._loops import search_loops

        return search_loops(problem, budget, seed, max_size=max_size, max_bytes=max_bytes, state_size=state_size)

    return run


def _functions(problem: Problem, budget: Budget, seed: int, max_size: int, max_bytes: int) -> Attempt:
    leaves = {n: problem.example_inputs[n] for n in problem.scalars}
    outputs = problem.outputs if problem.arity > 1 else problem.outputs[:, None]
    found, candidates = [], 0
    for k in range(problem.arity):
        en = Enumerator(leaves, problem.constants(), problem.operators, max_size=max_size, budget=budget,
                        seed=seed, max_bytes=max_bytes, n=problem.size)
        try:
            found.append(en.search(outputs[:, k]))
        except OutOfTime:
            return Attempt(None, "timeout", candidates + en.bank.evaluated, [f"no fit by size {en.size} when the budget ran out"])
        except Exhausted as why:
            return Attempt(None, "exhausted", candidates + en.bank.evaluated, [str(why)])
        candidates += en.bank.evaluated
    return Attempt(function(problem, found), "solved", candidates)


def inexpressible(problem: Problem, seconds: float) -> str | None:
    """A reason when no function over the problem's operators can fit its examples, proved by
    enumerating every behaviour the operators can produce (within ``seconds``); None otherwise."""
    from programs.budget import Budget as _Budget

    if problem.kind != "function" or problem.size == 0:
        return None
    leaves = {n: problem.example_inputs[n] for n in problem.scalars}
    outputs = problem.outputs if problem.arity > 1 else problem.outputs[:, None]
    for k in range(problem.arity):
        en = Enumerator(leaves, problem.constants(), problem.operators, max_size=64, budget=_Budget(seconds),
                        n=problem.size, max_bytes=1 << 26)
        try:
            en.search(outputs[:, k])
        except OutOfTime:
            return None
        except Exhausted as why:
            if why.closed:
                return f"output {k}: {why}"
            return None
    return None


class _WorkLimit:
    """A budget that also expires after ``limit`` candidates: a limit on work, not on time, so a search
    cut short by it ends the same way on a fast or a loaded machine."""

    def __init__(self, clock, limit: int | None):
        self.clock, self.limit, self.enumerator = clock, limit, None

    @property
    def worked_out(self) -> bool:
        """Whether the candidates evaluated reached ``limit`` (the clock aside)."""
        return self.limit is not None and self.enumerator is not None and self.enumerator.bank.evaluated >= self.limit

    @property
    def expired(self) -> bool:
        return self.worked_out or self.clock.expired

    @property
    def left(self) -> float:
        return self.clock.left


# Why ``fit_expression`` abstained when its candidates reached ``max_candidates``: the enumeration does not depend
# on ``max_size``, so the same search under a larger size bound reaches the limit at the same candidate
WORK_LIMIT_REACHED = "no fit within the expression search's work limit"

# A sub-search's bank: at most this, and at most this share of the address space left under the
# process's memory cap (RLIMIT_AS, which the comparator sets), so that it never meets the cap itself.
FIT_BANK_BYTES = 1 << 27
FIT_BANK_SHARE = 0.25
# Below this much room a sub-search is not started: it abstains.
FIT_MIN_BYTES = 1 << 22


def room_under_cap() -> int | None:
    """Bytes of address space left under the process's RLIMIT_AS (None: no cap, or no way to tell)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None
    return max(0, soft - used)


def fit_expression(leaves: dict[str, np.ndarray], target: np.ndarray, *, operators, constants=(-1, 0, 1, 2, 3),
                   seconds: float = 1.0, seed: int = 0, max_size: int = 12,
                   max_candidates: int | None = None, max_bytes: int = FIT_BANK_BYTES,
                   why: list[str] | None = None) -> Expr | None:
    """The smallest expression over ``leaves`` (name -> values per example) and ``constants`` whose values
    equal ``target`` on every example; None when none is found within ``seconds``, ``max_size`` or
    ``max_candidates`` (a limit on work: with it, and ``seconds`` as a backstop, the answer does not
    depend on the machine's speed).

    The bank holds at most ``max_bytes``, and at most ``FIT_BANK_SHARE`` of what the process's memory cap
    leaves; with too little room, or when an allocation is refused all the same, the search abstains
    (None) instead of raising. ``why``, when given, receives the reason for an abstention.

    For small sub-problems posed by other routes (a transition table read off a network, say).
    """
    from programs.budget import Budget as _Budget

    def abstain(reason: str) -> None:
        if why is not None:
            why.append(reason)
        return None

    room = room_under_cap()
    if room is not None:
        max_bytes = min(max_bytes, int(room * FIT_BANK_SHARE))
    if max_bytes < FIT_MIN_BYTES:
        return abstain(f"the expression search needs {FIT_MIN_BYTES >> 20} MiB for its bank and the memory cap "
                       f"leaves {max(0, max_bytes) >> 20} MiB to it")
    target = np.asarray(target, dtype=np.int64)
    limit = _WorkLimit(_Budget(seconds), max_candidates)
    try:
        en = Enumerator({k: np.asarray(v, dtype=np.int64) for k, v in leaves.items()}, constants, operators,
                        max_size=max_size, budget=limit, seed=seed, n=target.shape[0], max_bytes=max_bytes)
        limit.enumerator = en
        return en.search(target)
    except OutOfTime:
        return abstain(WORK_LIMIT_REACHED if limit.worked_out else "no fit within the expression search's time")
    except Exhausted as e:
        return abstain(str(e))
    except MemoryError:
        return abstain("the expression search ran out of memory under the process's cap")
    except OSError as e:
        if e.errno != errno.ENOMEM:
            raise
        return abstain("the expression search ran out of memory under the process's cap")
