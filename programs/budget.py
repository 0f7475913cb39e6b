"""``Budget``: a wall-clock allowance that long computations check themselves."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    """A wall-clock budget that methods check themselves (the comparator also kills at the limit)."""

    seconds: float
    start: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.elapsed

    @property
    def expired(self) -> bool:
        return self.elapsed >= self.seconds
