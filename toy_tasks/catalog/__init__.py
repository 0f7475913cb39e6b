"""The built-in tasks, one module per family; importing this package registers every factory."""
from . import boolean, integer, modular, scans, search  # noqa: F401
