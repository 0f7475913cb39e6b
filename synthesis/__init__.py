"""Direct synthesis from examples. Never imports extraction/ or torch; never reads a reference program."""
from .problem import Budget, Problem
from .registry import Attempt, Synthesizer, registry, synthesizer
from .methods.enumerative import fit_expression
from .solve import SynthesisError, SynthesisResult, names, solve

__all__ = [
    "Attempt", "Budget", "fit_expression", "Problem", "SynthesisError", "SynthesisResult", "Synthesizer", "names", "registry",
    "solve", "synthesizer",
]
