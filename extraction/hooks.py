"""Reading and setting a network's activations through forward hooks that always come off."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def recording(model: nn.Module, path: str) -> Iterator[list[torch.Tensor]]:
    """Collect the output of submodule ``path`` at every call (a recurrent cell is called once per step)."""
    seen: list[torch.Tensor] = []
    handle = model.get_submodule(path).register_forward_hook(lambda _m, _i, out: seen.append(out.detach()))
    try:
        yield seen
    finally:
        handle.remove()


@contextlib.contextmanager
def patching(model: nn.Module, path: str, patch: Callable[[int, torch.Tensor], torch.Tensor | None]) -> Iterator[None]:
    """Replace the output of submodule ``path``: ``patch(call_index, output)`` returns the new output
    (or None to leave it). The call index counts calls within the context (the step, for a cell)."""
    calls = [0]

    def hook(_m, _i, out):
        new = patch(calls[0], out)
        calls[0] += 1
        return new

    handle = model.get_submodule(path).register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
