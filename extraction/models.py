"""The toy networks: an embedding MLP, a recurrent net (GRU or Elman) stepped cell by cell, and a
one-layer transformer. Every component a method reads or sets is a named submodule, so hooks can find it."""
from __future__ import annotations

import math

import torch
from torch import nn

from .encoding import Batch, Encoding


class MLP(nn.Module):
    """Each scalar input embedded, the embeddings concatenated, one ReLU hidden layer, a linear readout.

    Hidden activations are the output of ``act``.
    """

    arch = "mlp"

    def __init__(self, encoding: Encoding, *, embed: int = 32, hidden: int = 128, numeric: bool = False):
        super().__init__()
        self.encoding = encoding
        # numeric: each input enters as its value (so every hidden pre-activation is affine in the inputs);
        # else as a learned embedding of the token
        self.numeric = numeric
        self.embed = nn.ModuleDict({} if numeric else
                                   {n: nn.Embedding(size, embed) for n, (_, size) in encoding.scalars.items()})
        self.hidden = nn.Linear((1 if numeric else embed) * len(encoding.scalars), hidden)
        self.act = nn.ReLU()
        self.out = nn.Linear(hidden, encoding.classes)

    @property
    def width(self) -> int:
        return self.hidden.out_features

    def forward(self, batch: Batch) -> torch.Tensor:
        if self.numeric:
            x = torch.stack([(batch.scalars[n] + lo).float() for n, (lo, _) in self.encoding.scalars.items()], dim=-1)
        else:
            x = torch.cat([self.embed[n](batch.scalars[n]) for n in self.encoding.scalars], dim=-1)
        return self.out(self.act(self.hidden(x)))

    def flops(self) -> int:
        """Multiply-adds of one forward pass on one example, times two."""
        return 2 * (self.hidden.in_features * self.hidden.out_features + self.out.in_features * self.out.out_features)


class Recurrent(nn.Module):
    """A recurrent net stepped one ``cell`` call per sequence position, so each state can be read or set.

    The step input is the embeddings of the current elements of every sequence, and of every scalar
    input (a fold's target, say), concatenated. The state starts at zeros. A scan reads out every state;
    a fold reads out the state after the last element.
    """

    arch = "gru"

    def __init__(self, encoding: Encoding, *, cell: str = "gru", embed: int = 8, hidden: int = 16):
        super().__init__()
        self.encoding = encoding
        self.arch = cell
        names = {**encoding.sequences, **encoding.scalars}
        self.embed = nn.ModuleDict({n: nn.Embedding(size, embed) for n, (_, size) in names.items()})
        width = embed * len(names)
        self.cell = nn.GRUCell(width, hidden) if cell == "gru" else nn.RNNCell(width, hidden, nonlinearity="tanh")
        self.readout = nn.Linear(hidden, encoding.classes)
        # the state before the first element: zeros for a trained net; a compiled one sets its start unit
        self.register_buffer("h0", torch.zeros(hidden))

    @property
    def width(self) -> int:
        return self.cell.hidden_size

    def step_inputs(self, batch: Batch) -> torch.Tensor:
        """``[n, T, width]``: what the cell sees at each position."""
        t = next(iter(batch.sequences.values())).shape[1]
        parts = [self.embed[n](batch.sequences[n]) for n in self.encoding.sequences]
        parts += [self.embed[n](batch.scalars[n])[:, None, :].expand(-1, t, -1) for n in self.encoding.scalars]
        return torch.cat(parts, dim=-1)

    def states(self, batch: Batch, h0: torch.Tensor | None = None) -> torch.Tensor:
        """``[n, T, hidden]``: the state after each position (past a sequence's end it keeps its last state)."""
        xs = self.step_inputs(batch)
        n, t, _ = xs.shape
        h = self.h0.expand(n, -1) if h0 is None else h0
        out = []
        for i in range(t):
            new = self.cell(xs[:, i], h)
            if batch.lengths is not None:
                new = torch.where((i < batch.lengths)[:, None], new, h)
            h = new
            out.append(h)
        return torch.stack(out, dim=1)

    def forward(self, batch: Batch) -> torch.Tensor:
        hs = self.states(batch)
        if self.encoding.kind == "scan":
            return self.readout(hs)
        last = hs[torch.arange(hs.shape[0]), batch.lengths - 1]
        return self.readout(last)

    def flops(self) -> int:
        gates = 3 if isinstance(self.cell, nn.GRUCell) else 1
        per_step = 2 * gates * (self.cell.input_size + self.cell.hidden_size) * self.cell.hidden_size
        return per_step + 2 * self.readout.in_features * self.readout.out_features


class Transformer(nn.Module):
    """One attention layer and one MLP over the tokens [x_1, ..., x_k, =], read out at ``=``.

    Each scalar input has its own embedding table (so position is built in); ``mlp.act`` holds the MLP's
    hidden activations.
    """

    arch = "transformer"

    def __init__(self, encoding: Encoding, *, d_model: int = 64, heads: int = 4, d_mlp: int = 256):
        super().__init__()
        self.encoding = encoding
        self.embed = nn.ModuleDict({n: nn.Embedding(size, d_model) for n, (_, size) in encoding.scalars.items()})
        self.query = nn.Parameter(torch.randn(d_model) / math.sqrt(d_model))
        self.attn = nn.MultiheadAttention(d_model, heads, batch_first=True, bias=False)
        self.mlp = nn.Sequential()
        self.mlp.add_module("hidden", nn.Linear(d_model, d_mlp))
        self.mlp.add_module("act", nn.ReLU())
        self.mlp.add_module("out", nn.Linear(d_mlp, d_model))
        self.unembed = nn.Linear(d_model, encoding.classes)

    @property
    def width(self) -> int:
        return self.mlp.hidden.out_features

    def forward(self, batch: Batch) -> torch.Tensor:
        toks = [self.embed[n](batch.scalars[n]) for n in self.encoding.scalars]
        toks.append(self.query.expand(toks[0].shape[0], -1))
        x = torch.stack(toks, dim=1)
        q = x[:, -1:]
        a, _ = self.attn(q, x, x, need_weights=False)
        r = q[:, 0] + a[:, 0]
        r = r + self.mlp(r)
        return self.unembed(r)

    def flops(self) -> int:
        d, k = self.query.numel(), len(self.encoding.scalars) + 1
        return 2 * (4 * d * d + 2 * k * d + 2 * d * self.width + d * self.encoding.classes)


ARCHS = ("mlp", "gru", "rnn", "transformer")


def build(arch: str, encoding: Encoding, **sizes) -> nn.Module:
    if arch == "mlp":
        return MLP(encoding, **sizes)
    if arch in ("gru", "rnn"):
        return Recurrent(encoding, cell=arch, **sizes)
    if arch == "transformer":
        return Transformer(encoding, **sizes)
    raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)} or 'auto'")
