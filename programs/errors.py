"""Typed errors a user of the program language can meet."""
from __future__ import annotations


class ProgramError(ValueError):
    """A program text or AST that is not in the language.

    ``line`` and ``column`` are 1-based positions in the source; both are 0 when the program was
    built as an AST and has no source position.
    """

    def __init__(self, line: int, column: int, message: str):
        self.line = int(line)
        self.column = int(column)
        self.message = message
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        super().__init__(f"{where}{message}")

    def __reduce__(self):
        return (type(self), (self.line, self.column, self.message))


class InputError(ValueError):
    """Inputs handed to the interpreter do not fit the program (names, shapes, dtypes)."""
