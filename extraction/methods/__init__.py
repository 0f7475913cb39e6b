"""The built-in extractors; importing this package registers them."""
from . import fsm  # noqa: F401
