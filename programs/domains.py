"""Finite input domains: ``Int`` (a half-open integer range) and ``Seq`` (sequences over an Int)."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Union

import numpy as np

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class DomainError(ValueError):
    """A domain that cannot exist (empty range, non-positive length, ...)."""


@dataclass(frozen=True, repr=False)
class Int:
    """The integers in the half-open range ``[lo, hi)``."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        for name in ("lo", "hi"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise DomainError(f"Int.{name} must be an integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.hi <= self.lo:
            raise DomainError(
                f"Int({self.lo}, {self.hi}) is empty: the range is half-open [lo, hi), so use hi > lo"
            )
        if self.lo < INT64_MIN or self.hi - 1 > INT64_MAX:
            raise DomainError(f"Int({self.lo}, {self.hi}) leaves the 64-bit range")

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def bits(self) -> int:
        """Bits needed to write any value of the range in two's complement."""
        m = max(abs(self.lo), abs(self.hi - 1))
        return max(1, m.bit_length() + (1 if self.lo < 0 else 0))

    def values(self) -> np.ndarray:
        return np.arange(self.lo, self.hi, dtype=np.int64)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.lo, self.hi, size=n, dtype=np.int64)

    def __contains__(self, v: object) -> bool:
        return isinstance(v, (int, np.integer)) and self.lo <= int(v) < self.hi

    def __repr__(self) -> str:
        return f"Int({self.lo}, {self.hi})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class Seq:
    """Sequences of elements from ``element``; ``length`` is an int or an inclusive ``(lo, hi)``."""

    element: Int
    length: Union[int, tuple[int, int]] = 8

    def __post_init__(self) -> None:
        if not isinstance(self.element, Int):
            raise DomainError(f"Seq element must be an Int domain, got {self.element!r}")
        length = self.length
        if isinstance(length, (list, tuple)):
            if len(length) != 2:
                raise DomainError(f"Seq length must be an int or a (min, max) pair, got {length!r}")
            lo, hi = (int(x) for x in length)
        elif isinstance(length, (int, np.integer)) and not isinstance(length, bool):
            lo = hi = int(length)
        else:
            raise DomainError(f"Seq length must be an int or a (min, max) pair, got {length!r}")
        if lo <= 0:
            raise DomainError(f"Seq length must be at least 1, got {length!r}")
        if hi < lo:
            raise DomainError(f"Seq length range {length!r} is empty: write (min, max) with min <= max")
        object.__setattr__(self, "length", lo if lo == hi else (lo, hi))

    @property
    def min_length(self) -> int:
        return self.length if isinstance(self.length, int) else self.length[0]

    @property
    def max_length(self) -> int:
        return self.length if isinstance(self.length, int) else self.length[1]

    @property
    def lengths(self) -> range:
        return range(self.min_length, self.max_length + 1)

    def count(self, length: int) -> int:
        return self.element.size**length

    @property
    def size(self) -> int:
        return sum(self.count(n) for n in self.lengths)

    def __repr__(self) -> str:
        return f"Seq({self.element!r}, length={self.length!r})"

    __str__ = __repr__


Domain = Union[Int, Seq]


def check_signature(inputs: dict[str, Domain]) -> dict[str, Domain]:
    """Validate a signature ``{name: Int | Seq}``; all sequences share one length range."""
    if not isinstance(inputs, dict) or not inputs:
        raise DomainError("inputs must be a non-empty dict {name: Int(...) | Seq(...)}")
    seq_lengths = set()
    for name, dom in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise DomainError(f"input name {name!r} is not an identifier")
        if not isinstance(dom, (Int, Seq)):
            raise DomainError(f"input {name!r}: domain must be Int(lo, hi) or Seq(Int(..), length=..), got {dom!r}")
        if isinstance(dom, Seq):
            seq_lengths.add((dom.min_length, dom.max_length))
    if len(seq_lengths) > 1:
        raise DomainError(
            f"all sequence inputs must share one length range (they are read together with zip); got {sorted(seq_lengths)}"
        )
    return inputs


def domain_size(inputs: dict[str, Domain]) -> int:
    """Number of distinct input tuples of a signature."""
    scalars = math.prod(d.size for d in inputs.values() if isinstance(d, Int))
    seqs = [d for d in inputs.values() if isinstance(d, Seq)]
    if not seqs:
        return scalars
    lengths = seqs[0].lengths
    return scalars * sum(math.prod(s.count(n) for s in seqs) for n in lengths)


def enumerate_domain(inputs: dict[str, Domain]) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Every input tuple of a signature as arrays; sequences padded with 0, lengths returned apart.

    Rows come grouped by length (shortest first), then in lexicographic order.
    """
    names = list(inputs)
    scalars = [n for n in names if isinstance(inputs[n], Int)]
    seqs = [n for n in names if isinstance(inputs[n], Seq)]
    scalar_grid = _grid([inputs[n].values() for n in scalars])  # [k, S]
    if not seqs:
        return {n: scalar_grid[:, i].copy() for i, n in enumerate(scalars)}, None
    lmax = inputs[seqs[0]].max_length
    cols: dict[str, list[np.ndarray]] = {n: [] for n in names}
    lens: list[np.ndarray] = []
    for length in inputs[seqs[0]].lengths:
        per_pos = [inputs[n].element.values() for n in seqs for _ in range(length)]
        seq_grid = _grid(per_pos) if per_pos else np.zeros((1, 0), dtype=np.int64)
        # Cartesian product of scalar rows and sequence rows.
        s_rows, q_rows = scalar_grid.shape[0], seq_grid.shape[0]
        si = np.repeat(np.arange(s_rows), q_rows)
        qi = np.tile(np.arange(q_rows), s_rows)
        for i, n in enumerate(scalars):
            cols[n].append(scalar_grid[si, i])
        for j, n in enumerate(seqs):
            block = np.zeros((si.size, lmax), dtype=np.int64)
            block[:, :length] = seq_grid[qi, j * length : (j + 1) * length]
            cols[n].append(block)
        lens.append(np.full(si.size, length, dtype=np.int64))
    arrays = {n: np.concatenate(cols[n]) for n in names}
    return arrays, np.concatenate(lens)


def _grid(values: list[np.ndarray]) -> np.ndarray:
    if not values:
        return np.zeros((1, 0), dtype=np.int64)
    mesh = np.meshgrid(*values, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1).astype(np.int64)


def sample_domain(
    inputs: dict[str, Domain], n: int, rng: np.random.Generator, *, distinct: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """``n`` input tuples drawn uniformly (lengths uniformly from the length range).

    With ``distinct``, repeats are redrawn, so the ``n`` tuples differ (``n`` must not exceed the domain).
    """
    if distinct:
        return _distinct_sample(inputs, n, rng)
    seqs = [k for k, d in inputs.items() if isinstance(d, Seq)]
    lengths = None
    if seqs:
        first = inputs[seqs[0]]
        lengths = rng.integers(first.min_length, first.max_length + 1, size=n).astype(np.int64)
    out: dict[str, np.ndarray] = {}
    for name, dom in inputs.items():
        if isinstance(dom, Int):
            out[name] = dom.sample(rng, n)
        else:
            arr = rng.integers(dom.element.lo, dom.element.hi, size=(n, dom.max_length), dtype=np.int64)
            mask = np.arange(dom.max_length)[None, :] < lengths[:, None]
            out[name] = np.where(mask, arr, 0)
    return out, lengths


def iter_domain(inputs: dict[str, Domain]) -> Iterator[dict[str, object]]:
    """Every input tuple as plain Python values (ints and lists), for calling Python functions."""
    names = list(inputs)
    scalars = [n for n in names if isinstance(inputs[n], Int)]
    seqs = [n for n in names if isinstance(inputs[n], Seq)]
    def scalar_iter():  # lazily: a product of wide ranges is never built whole
        return itertools.product(*(range(inputs[n].lo, inputs[n].hi) for n in scalars))

    if not seqs:
        for combo in scalar_iter():
            yield dict(zip(scalars, combo))
        return
    for length in inputs[seqs[0]].lengths:
        for combo in scalar_iter():
            elems = [range(inputs[n].element.lo, inputs[n].element.hi) for n in seqs for _ in range(length)]
            for flat in itertools.product(*elems):
                row = dict(zip(scalars, combo))
                for j, n in enumerate(seqs):
                    row[n] = list(flat[j * length : (j + 1) * length])
                yield row


# Domains up to this many inputs are sampled without replacement by index (work linear in the domain);
# larger ones by redrawing repeats, which is quick while the sample is a small part of the domain.
INDEXED_UP_TO = 1 << 20


def _distinct_sample(inputs, n: int, rng: np.random.Generator):
    size = domain_size(inputs)
    if n > size:
        raise DomainError(f"cannot draw {n} distinct inputs from a domain of {size}")
    if size <= INDEXED_UP_TO:
        return decode_indices(inputs, _distinct_indices(inputs, n, rng))
    arrays, lengths = sample_domain(inputs, n, rng)
    while True:
        cols = [arrays[k] if arrays[k].ndim == 2 else arrays[k][:, None] for k in inputs]
        if lengths is not None:
            cols.append(lengths[:, None])
        rows = np.concatenate(cols, axis=1)
        _, first = np.unique(rows, axis=0, return_index=True)
        if first.size == n:
            return arrays, lengths
        keep = np.sort(first)
        more, more_len = sample_domain(inputs, n - keep.size, rng)
        arrays = {k: np.concatenate([arrays[k][keep], more[k]]) for k in inputs}
        lengths = None if lengths is None else np.concatenate([lengths[keep], more_len])


def _length_blocks(inputs) -> list[tuple[int | None, int]]:
    """(length, number of input tuples of that length) for each block of ``enumerate_domain``'s order."""
    scalars = math.prod(d.size for d in inputs.values() if isinstance(d, Int))
    seqs = [d for d in inputs.values() if isinstance(d, Seq)]
    if not seqs:
        return [(None, scalars)]
    return [(n, scalars * math.prod(s.count(n) for s in seqs)) for n in seqs[0].lengths]


def _distinct_indices(inputs, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct positions in ``enumerate_domain``'s order, in the order drawn, from the distribution
    ``sample_domain`` draws from (a length uniformly, then a tuple of that length uniformly) without
    replacement: each draw is from the inputs not yet drawn, as redrawing repeats would give."""
    blocks = _length_blocks(inputs)
    size = sum(count for _, count in blocks)
    if len(blocks) == 1:
        return rng.choice(size, size=n, replace=False)
    p = np.concatenate([np.full(count, 1.0 / (len(blocks) * count)) for _, count in blocks])
    return rng.choice(size, size=n, replace=False, p=p / p.sum())


def decode_indices(inputs: dict[str, Domain], index: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The input tuples at positions ``index`` of ``enumerate_domain(inputs)``, without enumerating it."""
    index = np.asarray(index, dtype=np.int64)
    names = list(inputs)
    scalars = [k for k in names if isinstance(inputs[k], Int)]
    seqs = [k for k in names if isinstance(inputs[k], Seq)]
    out = {k: np.zeros(index.shape[0], dtype=np.int64) for k in scalars}
    lengths = None
    if seqs:
        lmax = inputs[seqs[0]].max_length
        out.update({k: np.zeros((index.shape[0], lmax), dtype=np.int64) for k in seqs})
        lengths = np.zeros(index.shape[0], dtype=np.int64)
    offset = 0
    for length, count in _length_blocks(inputs):
        sel = np.nonzero((index >= offset) & (index < offset + count))[0]
        rest = index[sel] - offset
        offset += count
        if length is not None:
            lengths[sel] = length
            # the sequence part varies fastest: its positions in order, the last digit least significant
            for k in reversed(seqs):
                dom = inputs[k].element
                for i in reversed(range(length)):
                    out[k][sel, i] = dom.lo + rest % dom.size
                    rest = rest // dom.size
        for k in reversed(scalars):
            dom = inputs[k]
            out[k][sel] = dom.lo + rest % dom.size
            rest = rest // dom.size
    return {k: out[k] for k in names}, lengths
