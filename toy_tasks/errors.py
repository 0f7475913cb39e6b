"""``TaskError``, in a module of its own so that ``task`` and ``tabulate`` can both raise it."""


class TaskError(ValueError):
    """A task that cannot be built or used as asked; the message says what to do instead."""
