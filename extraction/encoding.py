"""Encoding between a task's integer examples and a network's tensors: input indices and output classes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from programs import Int


@dataclass(frozen=True)
class Encoding:
    """How a task's inputs become token indices and its outputs become classes, one head per output.

    ``scalars``/``sequences`` map input names to ``(lo, size)`` of their value range; ``heads`` holds the
    output values each head can name (the distinct values seen in training, sorted).
    """

    scalars: dict[str, tuple[int, int]]
    sequences: dict[str, tuple[int, int]]
    heads: tuple[np.ndarray, ...]
    kind: str  # "function" | "fold" | "scan"

    @classmethod
    def of(cls, task, outputs: np.ndarray, lengths: np.ndarray | None = None) -> "Encoding":
        scalars, sequences = {}, {}
        for name, dom in task.inputs.items():
            if isinstance(dom, Int):
                scalars[name] = (dom.lo, dom.size)
            else:
                sequences[name] = (dom.element.lo, dom.element.size)
        out = np.asarray(outputs)
        if task.kind == "scan":
            mask = np.arange(out.shape[1])[None, :] < lengths[:, None]
            out = out[mask]  # [steps] or [steps, arity]
        out = out.reshape(out.shape[0], -1) if out.ndim > 1 else out[:, None]
        heads = tuple(np.unique(out[:, j]) for j in range(out.shape[1]))
        return cls(scalars, sequences, heads, task.kind)

    @property
    def arity(self) -> int:
        return len(self.heads)

    @property
    def classes(self) -> int:
        return sum(len(h) for h in self.heads)

    def batch(self, inputs: dict[str, np.ndarray], lengths: np.ndarray | None = None) -> "Batch":
        scal = {n: torch.as_tensor(np.asarray(inputs[n]) - lo, dtype=torch.long) for n, (lo, _) in self.scalars.items()}
        seqs = {}
        for n, (lo, size) in self.sequences.items():
            arr = np.asarray(inputs[n])
            mask = np.arange(arr.shape[1])[None, :] < lengths[:, None]
            seqs[n] = torch.as_tensor(np.where(mask, arr - lo, 0), dtype=torch.long)
        lens = None if lengths is None else torch.as_tensor(np.asarray(lengths), dtype=torch.long)
        return Batch(scal, seqs, lens)

    def targets(self, outputs: np.ndarray, lengths: np.ndarray | None = None) -> torch.Tensor:
        """Class index per head: ``[n, arity]`` (functions, folds) or ``[n, T, arity]`` (scans); -100 where
        there is no step or the value is not one the heads know."""
        out = np.asarray(outputs)
        if out.ndim == (2 if self.kind == "scan" else 1):
            out = out[..., None]
        idx = np.full(out.shape, -100, dtype=np.int64)
        for j, vals in enumerate(self.heads):
            pos = np.searchsorted(vals, out[..., j])
            pos_c = np.clip(pos, 0, len(vals) - 1)
            idx[..., j] = np.where(vals[pos_c] == out[..., j], pos_c, -100)
        if self.kind == "scan":
            mask = np.arange(out.shape[1])[None, :] < lengths[:, None]
            idx[~mask] = -100
        return torch.as_tensor(idx)

    def split_logits(self, logits: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(logits, [len(h) for h in self.heads], dim=-1))

    def decode(self, logits: torch.Tensor, lengths: np.ndarray | None = None) -> np.ndarray:
        """Output values in the task's layout: ``[n]``/``[n, arity]`` or ``[n, T]``/``[n, T, arity]``."""
        parts = [vals[part.argmax(-1).cpu().numpy()] for vals, part in zip(self.heads, self.split_logits(logits))]
        out = np.stack(parts, axis=-1).astype(np.int64)
        if self.kind == "scan" and lengths is not None:
            mask = np.arange(out.shape[1])[None, :] < np.asarray(lengths)[:, None]
            out = np.where(mask[..., None], out, 0)
        return out[..., 0] if self.arity == 1 else out


@dataclass(frozen=True)
class Batch:
    """A batch of encoded inputs: scalar indices ``[n]``, sequence indices ``[n, T]``, lengths ``[n]``."""

    scalars: dict[str, torch.Tensor]
    sequences: dict[str, torch.Tensor]
    lengths: torch.Tensor | None

    @property
    def size(self) -> int:
        for t in (*self.scalars.values(), *self.sequences.values()):
            return int(t.shape[0])
        return 0

    def take(self, index) -> "Batch":
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return Batch({k: v[index] for k, v in self.scalars.items()}, {k: v[index] for k, v in self.sequences.items()},
                     None if self.lengths is None else self.lengths[index])
