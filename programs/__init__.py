"""The program language every route returns: grammar, AST, printer, interpreters, z3, equivalence."""
from .ast import Assign, Binary, Call, Const, For, IfExp, Return, Tuple, Unary, Var, Yield
from .domains import Domain, DomainError, Int, Seq
from .equivalence import Verification, equivalent
from .errors import InputError, ProgramError
from .interpreter import evaluate, run
from .parser import parse
from .program import Program

__all__ = [
    "Assign", "Binary", "Call", "Const", "Domain", "DomainError", "For", "IfExp", "InputError", "Int",
    "Program", "ProgramError", "Return", "Seq", "Tuple", "Unary", "Var", "Verification", "Yield",
    "equivalent", "evaluate", "parse", "run",
]
