"""What a synthesizer sees: ``toy_tasks.Problem`` (examples, signature, operators; never the reference
program, the task's Python definition, or the answers of the rest of the domain), and the ``Budget`` its
clock is kept in. Re-exported here because every method imports them from one place."""
from programs import Int
from programs.budget import Budget
from toy_tasks.problem import Problem

__all__ = ["Budget", "Int", "Problem"]
