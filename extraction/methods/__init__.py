"""The built-in extractors; importing this package registers them."""
from . import auto, blackbox, fourier, fsm, integer, lstar, ramanujan, units  # noqa: F401
