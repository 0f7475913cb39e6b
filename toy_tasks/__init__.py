"""The task suite: signatures with finite domains, ground truths, examples, and verification."""
from programs import Int, Seq
from programs.equivalence import Verification

from .registry import Spec, factories, families, from_function, from_program, get, names, suite, task_family
from .task import Examples, Task, TaskError

__all__ = [
    "Examples", "Int", "Seq", "Spec", "Task", "TaskError", "Verification", "factories", "families",
    "from_function", "from_program", "get", "names", "suite", "task_family",
]
