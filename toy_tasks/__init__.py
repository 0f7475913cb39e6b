"""The task suite: signatures with finite domains, ground truths, examples, and verification."""
from programs import Int, Seq
from programs.equivalence import Verification

from .problem import Examples, Problem, ProblemError
from .registry import Spec, factories, families, from_function, from_program, get, names, suite, task_family
from .task import Task, TaskError, as_problem

__all__ = [
    "Examples", "Int", "as_problem", "Problem", "ProblemError", "Seq", "Spec", "Task", "TaskError", "Verification", "factories",
    "families", "from_function", "from_program", "get", "names", "suite", "task_family",
]
