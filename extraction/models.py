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

    def __init__(self, encoding: Encoding, *, embed: int = 32, hidden: int = 128, numeric: bool = False,
                 regress: bool = False):
        super().__init__()
        self.encoding = encoding
        self.regress = regress
        # numeric: each input enters as its value (so every hidden pre-activation is affine in the inputs);
        # else as a learned embedding of the token
        self.numeric = numeric
        self.embed = nn.ModuleDict({} if numeric else
                                   {n: nn.Embedding(size, embed) for n, (_, size) in encoding.scalars.items()})
        self.hidden = nn.Linear((1 if numeric else embed) * len(encoding.scalars), hidden)
        self.act = nn.ReLU()
        self.out = ValueReadout(encoding, hidden) if regress else nn.Linear(hidden, encoding.classes)

    @property
    def width(self) -> int:
        return self.hidden.out_features

    @property
    def readout(self) -> nn.Module:
        """The output layer (logits per class, or a ``ValueReadout`` naming one value per head)."""
        return self.out

    def read(self, batch: Batch) -> torch.Tensor:
        """``[n, hidden]``: the hidden activations the readout reads."""
        if self.numeric:
            x = torch.stack([(batch.scalars[n] + lo).float() for n, (lo, _) in self.encoding.scalars.items()], dim=-1)
        else:
            x = torch.cat([self.embed[n](batch.scalars[n]) for n in self.encoding.scalars], dim=-1)
        return self.act(self.hidden(x))

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.out(self.read(batch))

    def flops(self) -> int:
        """Multiply-adds of one forward pass on one example, times two."""
        return 2 * (self.hidden.in_features * self.hidden.out_features + self.out.weight.numel())


def magnitude(lo: int, size: int) -> float:
    """The largest magnitude in the range ``[lo, lo + size)`` (1 at least): what a numeric input is divided by."""
    return float(max(abs(lo), abs(lo + size - 1), 1))


class ValueReadout(nn.Module):
    """A readout that names one value per head, ``scale * (weight @ h + bias)`` with ``scale`` the heads' largest
    magnitude, and answers as logits ``-(value - v)^2`` over each head's known values ``v``: the nearest known
    value wins, so every reader that takes logits takes these. ``values(h)`` is what the loss (squared error)
    fits."""

    def __init__(self, encoding: Encoding, hidden: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(encoding.arity, hidden))
        self.bias = nn.Parameter(torch.zeros(encoding.arity))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        known = [torch.as_tensor(h, dtype=torch.float32) for h in encoding.heads]
        self.scale = max(float(k.abs().max()) if len(k) else 1.0 for k in known) or 1.0
        self.known = known
        self.head = torch.cat([torch.full((len(k),), j, dtype=torch.long) for j, k in enumerate(known)])
        self.flat = torch.cat(known)

    def values(self, h: torch.Tensor) -> torch.Tensor:
        """``[..., arity]``: the value each head names."""
        return self.scale * (h @ self.weight.T + self.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return -(self.values(h)[..., self.head] - self.flat) ** 2

    def widened(self, encoding: Encoding) -> "ValueReadout":
        """The same readout naming ``encoding``'s heads (a head's known values can only grow): every value it
        regresses unchanged, its weights rescaled to the new heads' ``scale``."""
        out = ValueReadout(encoding, self.weight.shape[1])
        with torch.no_grad():
            ratio = self.scale / out.scale
            out.weight.copy_(self.weight * ratio)
            out.bias.copy_(self.bias * ratio)
        return out


class GRUStep(nn.GRUCell):
    """``nn.GRUCell`` with its update written out in the cell's own weights (the same function): torch has no
    ``vmap`` rule for the fused cell, and the width search runs a stack of candidates under ``vmap``.

    A cell with a ``codebook`` buffer (``[k, hidden]``, set by ``extraction.snap``) is a finite-state cell: each new
    state is replaced by its nearest codebook row (Euclidean; ties to the first row), so the net has at most ``k``
    states. The replacement's gradient is the identity (straight through)."""

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        ir, iz, inn = nn.functional.linear(x, self.weight_ih, self.bias_ih).chunk(3, -1)
        hr, hz, hn = nn.functional.linear(h, self.weight_hh, self.bias_hh).chunk(3, -1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(inn + r * hn)
        new = n + z * (h - n)
        if "codebook" in self._buffers:
            return snapped(new, self._buffers["codebook"])
        return new


def nearest_row(h: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """``[...]``: the index of the codebook row nearest each state of ``h`` ``[..., d]`` (ties to the first)."""
    dist = (codebook * codebook).sum(-1) - 2 * h @ codebook.T  # |h|^2 is the same for every row
    return dist.argmin(-1)


def snapped(h: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Each state of ``h`` replaced by its nearest codebook row, the gradient passed straight through."""
    hard = codebook[nearest_row(h, codebook)]
    if not (torch.is_grad_enabled() and h.requires_grad):
        return hard  # exactly the row (``h + (hard - h)`` may round off it)
    return h + (hard - h).detach()


class ElmanStep(nn.RNNCell):
    """``nn.RNNCell`` written out likewise."""

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        pre = nn.functional.linear(x, self.weight_ih, self.bias_ih) + nn.functional.linear(h, self.weight_hh, self.bias_hh)
        return torch.relu(pre) if self.nonlinearity == "relu" else torch.tanh(pre)


class MLPStep(nn.Module):
    """MIPS's recurrent cell (Michaud et al. 2024): the state is updated by a linear map of the input and the
    state plus a one-hidden-layer ReLU MLP of both, ``h' = A h + B x + W_out relu(W_ih x + W_hh h + b) + b_out``,
    with no nonlinearity on the state itself (a sum, a delay or a difference needs only ``A`` and ``B``; a
    maximum or a comparison the MLP). Any invertible affine change of the state's coordinates is then the same network with other weights
    (``extraction.search.normalise`` whitens the states and moves them onto their integer lattice this way)."""

    def __init__(self, input_size: int, hidden_size: int, inner: int):
        super().__init__()
        self.input_size, self.hidden_size, self.inner = input_size, hidden_size, inner
        self.weight_ih = nn.Parameter(torch.empty(inner, input_size))
        self.weight_hh = nn.Parameter(torch.empty(inner, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(inner))
        self.weight_out = nn.Parameter(torch.empty(hidden_size, inner))
        self.bias_out = nn.Parameter(torch.zeros(hidden_size))
        self.weight_lin_h = nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.weight_lin_x = nn.Parameter(torch.empty(hidden_size, input_size))
        bound = 1.0 / math.sqrt(input_size + hidden_size)
        for w in (self.weight_ih, self.weight_hh, self.bias_ih, self.weight_lin_x):
            nn.init.uniform_(w, -bound, bound)
        nn.init.uniform_(self.weight_out, -1.0 / math.sqrt(inner), 1.0 / math.sqrt(inner))

    def inner_of(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The MLP's hidden activations for input ``x`` and state ``h``."""
        return torch.relu(nn.functional.linear(x, self.weight_ih, self.bias_ih) + nn.functional.linear(h, self.weight_hh))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        linear = nn.functional.linear(h, self.weight_lin_h) + nn.functional.linear(x, self.weight_lin_x)
        return linear + nn.functional.linear(self.inner_of(x, h), self.weight_out, self.bias_out)


class Recurrent(nn.Module):
    """A recurrent net stepped one ``cell`` call per sequence position, so each state can be read or set.

    The step input is the embeddings of the current elements of every sequence, and of every scalar
    input (a fold's target, say), concatenated; with ``numeric`` each of them enters instead as its value
    divided by the largest magnitude of its range (one input unit per name, as MIPS feeds numbers: a
    token per value over an alphabet of 100-200 values trains in far too few steps to be fair). With
    ``regress`` the readout is a ``ValueReadout`` (one output value per head, answered by the nearest
    class) instead of a logit per class. ``act`` is the Elman cell's nonlinearity ("tanh" or "relu"; a
    ReLU cell can hold an integer sum, a maximum or a delayed value exactly), or "mlp" for MIPS's cell
    (``MLPStep``, an MLP of ``inner`` units updating a state with no nonlinearity of its own). The state starts
    at zeros.
    A scan reads out every state; a fold reads out the state after the last element.
    """

    arch = "gru"

    def __init__(self, encoding: Encoding, *, cell: str = "gru", embed: int = 8, hidden: int = 16,
                 numeric: bool = False, regress: bool = False, act: str = "tanh", inner: int = 32, states: int = 0):
        super().__init__()
        self.encoding = encoding
        self.arch = cell
        self.numeric, self.regress, self.act = numeric, regress, act
        names = {**encoding.sequences, **encoding.scalars}
        self.embed = nn.ModuleDict({} if numeric else {n: nn.Embedding(size, embed) for n, (_, size) in names.items()})
        width = (1 if numeric else embed) * len(names)
        if cell == "gru":
            self.cell = GRUStep(width, hidden)
        elif act == "mlp":
            self.cell = MLPStep(width, hidden, inner)
        else:
            self.cell = ElmanStep(width, hidden, nonlinearity=act)
        if states:  # a finite-state GRU (``extraction.snap``): its codebook, filled by ``load_state_dict``
            if cell != "gru":
                raise ValueError(f"only a GRU cell snaps its states to a codebook, not {cell!r}")
            self.cell.register_buffer("codebook", torch.zeros(states, hidden))
        self.readout = ValueReadout(encoding, hidden) if regress else nn.Linear(hidden, encoding.classes)
        # the state before the first element: zeros for a trained net; a compiled one sets its start unit
        self.register_buffer("h0", torch.zeros(hidden))

    @property
    def width(self) -> int:
        return self.cell.hidden_size

    @property
    def states_kept(self) -> int:
        """The codebook's rows for a finite-state GRU (``extraction.snap``), 0 for a net whose states are not snapped."""
        book = self.cell._buffers.get("codebook")
        return 0 if book is None else int(book.shape[0])

    def inputs_of(self, name: str, index: torch.Tensor) -> torch.Tensor:
        """``[..., embed]`` (or ``[..., 1]`` for a numeric net): what input ``name``'s token ``index`` feeds the cell."""
        if not self.numeric:
            return self.embed[name](index)
        lo, size = {**self.encoding.sequences, **self.encoding.scalars}[name]
        return ((index + lo).float() / magnitude(lo, size))[..., None]

    def step_inputs(self, batch: Batch) -> torch.Tensor:
        """``[n, T, width]``: what the cell sees at each position."""
        t = next(iter(batch.sequences.values())).shape[1]
        parts = [self.inputs_of(n, batch.sequences[n]) for n in self.encoding.sequences]
        parts += [self.inputs_of(n, batch.scalars[n])[:, None, :].expand(-1, t, -1) for n in self.encoding.scalars]
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

    def read(self, batch: Batch) -> torch.Tensor:
        """The states the readout reads: every state of a scan ``[n, T, hidden]``, the last of a fold ``[n, hidden]``."""
        hs = self.states(batch)
        if self.encoding.kind == "scan":
            return hs
        return hs[torch.arange(hs.shape[0]), batch.lengths - 1]

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.readout(self.read(batch))

    def flops(self) -> int:
        if isinstance(self.cell, MLPStep):
            per_step = (2 * (self.cell.input_size + 2 * self.cell.hidden_size) * self.cell.inner
                        + 2 * (self.cell.input_size + self.cell.hidden_size) * self.cell.hidden_size)
        else:
            gates = 3 if isinstance(self.cell, nn.GRUCell) else 1
            per_step = 2 * gates * (self.cell.input_size + self.cell.hidden_size) * self.cell.hidden_size
            per_step += 2 * self.states_kept * self.cell.hidden_size  # the nearest codebook row
        return per_step + 2 * self.readout.weight.numel()


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
