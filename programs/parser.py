"""Source text → ``Program``: the lark LALR grammar in ``grammar.lark`` mapped onto the AST."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.indenter import Indenter

from .ast import CALLS, Assign, Binary, Call, Const, For, IfExp, Return, Tuple, Unary, Var, Yield, negate
from .errors import ProgramError
from .program import Program

GRAMMAR = Path(__file__).with_name("grammar.lark")
MAX_SOURCE = 1_000_000  # characters; longer texts are refused before parsing


class _Indenter(Indenter):
    """Python-style INDENT/DEDENT, raising ``ProgramError`` with a position on a bad dedent."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR"]
    CLOSE_PAREN_types = ["RPAR"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            raise ProgramError(token.end_line, indent + 1, "unindent does not match any outer indentation level")

    def _process(self, stream):
        token = None
        for token in stream:
            if token.type == self.NL_type:
                yield from self.handle_NL(token)
                continue
            if token.type in self.CLOSE_PAREN_types and self.paren_level == 0:
                raise ProgramError(token.line, token.column, "unmatched ')'")
            yield token
            if token.type in self.OPEN_PAREN_types:
                self.paren_level += 1
            elif token.type in self.CLOSE_PAREN_types:
                self.paren_level -= 1
        while len(self.indent_level) > 1:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, "", token) if token else Token(self.DEDENT_type, "")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR.read_text(),
        parser="lalr",
        postlex=_Indenter(),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _pos(meta_or_token) -> tuple[int, int] | None:
    line = getattr(meta_or_token, "line", None)
    column = getattr(meta_or_token, "column", None)
    return (line, column) if line is not None else None


def _int(token: Token) -> int:
    text = str(token)
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    return sign * (int(digits, 0) if len(digits) > 2 and digits[1] in "xXbBoO" else int(digits, 10))


def _fold_min_literal(tree: Tree) -> None:
    """``-9223372036854775808`` is one constant although its digits alone do not fit in 64 bits."""
    for sub in tree.iter_subtrees():
        if sub.data == "neg" and len(sub.children) == 1:
            child = sub.children[0]
            if isinstance(child, Tree) and child.data == "number" and _int(child.children[0]) == 1 << 63:
                token = child.children[0]
                sub.data, sub.children = "number", [token.update(value="-" + str(token))]


@v_args(meta=True)
class _ToAst(Transformer):
    """One handler per grammar rule (tests check that none is missing)."""

    def start(self, meta, children):
        return children[-1]

    def funcdef(self, meta, children):
        name, *rest = [c for c in children if not (isinstance(c, Token) and c.type in ("LPAR", "RPAR"))]
        params = rest[0] if len(rest) == 2 else ()
        return Program(str(name), params, rest[-1], pos=_pos(name))

    def params(self, meta, children):
        return tuple(str(c) for c in children)

    def suite(self, meta, children):
        return tuple(children)

    def assign(self, meta, children):
        names, value = children
        return Assign(names, value, pos=_pos(meta))

    def return_stmt(self, meta, children):
        return Return(children[0], pos=_pos(meta))

    def yield_stmt(self, meta, children):
        return Yield(children[0], pos=_pos(meta))

    def for_stmt(self, meta, children):
        targets, iters, body = children
        return For(targets, iters, body, pos=_pos(meta))

    def names(self, meta, children):
        return tuple(str(c) for c in children)

    def iter_name(self, meta, children):
        return (str(children[0]),)

    def iter_call(self, meta, children):
        func, _lpar, *args, _rpar = children
        if str(func) != "zip":
            raise ProgramError(func.line, func.column, f"a loop runs over a sequence or zip(...) of sequences, not {func}(...)")
        if len(args) < 2:
            raise ProgramError(func.line, func.column, "zip() needs at least two sequences; iterate a single sequence directly")
        return tuple(str(a) for a in args)

    def value(self, meta, children):
        return children[0] if len(children) == 1 else Tuple(tuple(children), pos=_pos(meta))

    def ifexp(self, meta, children):
        then, cond, orelse = children
        return IfExp(cond, then, orelse, pos=_pos(meta))

    def or_op(self, meta, children):
        return Binary("or", children[0], children[1], pos=_pos(meta))

    def and_op(self, meta, children):
        return Binary("and", children[0], children[1], pos=_pos(meta))

    def not_op(self, meta, children):
        return Unary("not", children[0], pos=_pos(meta))

    def compare(self, meta, children):
        left, op, right = children
        return Binary(op, left, right, pos=_pos(meta))

    def comp_op(self, meta, children):
        return str(children[0])

    def bit_or(self, meta, children):
        return Binary("|", children[0], children[1], pos=_pos(meta))

    def bit_xor(self, meta, children):
        return Binary("^", children[0], children[1], pos=_pos(meta))

    def bit_and(self, meta, children):
        return Binary("&", children[0], children[1], pos=_pos(meta))

    def binop(self, meta, children):
        left, op, right = children
        return Binary(op, left, right, pos=_pos(meta))

    shift_op = add_op = mul_op = comp_op

    def neg(self, meta, children):
        (operand,) = children
        return negate(operand, pos=_pos(meta))  # a negated literal is a constant; -(-2**63) wraps, as `-` does

    def number(self, meta, children):
        token = children[0]
        return Const(_int(token), pos=_pos(token))

    def true(self, meta, children):
        return Const(1, pos=_pos(meta))

    def false(self, meta, children):
        return Const(0, pos=_pos(meta))

    def var(self, meta, children):
        token = children[0]
        return Var(str(token), pos=_pos(token))

    def call(self, meta, children):
        func, _lpar, *args, _rpar = children
        if str(func) not in CALLS:
            hint = " (zip() belongs in a for loop)" if str(func) == "zip" else ""
            raise ProgramError(func.line, func.column, f"unknown function {func}(); the language has {', '.join(CALLS)}{hint}")
        return Call(str(func), tuple(args), pos=_pos(func))

    def paren_tuple(self, meta, children):
        items = [c for c in children if not isinstance(c, Token)]
        return Tuple(tuple(items), pos=_pos(meta))

    def atom(self, meta, children):  # a parenthesised expression: LPAR expr RPAR
        items = [c for c in children if not isinstance(c, Token)]
        return items[0]


_HINTS = {
    "/": "integer division is written //",
    "**": "there is no power operator; write repeated multiplication",
    "~": "there is no ~ operator; use x ^ -1 or -x - 1",
    "[": "indexing is not in the language; loop over the sequence instead",
    ".": "attribute access is not in the language",
    "if": "statements must be assignments, for, yield or return; use the expression form 'a if c else b'",
    "while": "only 'for' loops over input sequences are in the language",
}


def _describe(err: UnexpectedInput, text: str) -> str:
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream is not None and err.pos_in_stream < len(text) else "?"
        hint = _HINTS.get(ch) or _HINTS.get(text[err.pos_in_stream : err.pos_in_stream + 2] if err.pos_in_stream is not None else "")
        return f"unexpected character {ch!r}" + (f"; {hint}" if hint else "")
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            return "unexpected end of program; is a return or an indented block missing?"
        shown = {"_NL": "end of line", "_INDENT": "indentation", "_DEDENT": "end of block"}.get(tok.type, repr(str(tok)))
        if str(tok) in ("<", "<=", ">", ">=", "==", "!="):
            return f"unexpected {shown}: chained comparisons are not in the language; write (a < b) and (b < c)"
        hint = _HINTS.get(str(tok))
        if str(tok) == "*" and tok.start_pos and text[tok.start_pos - 1] == "*":
            hint = _HINTS["**"]
        return f"unexpected {shown}" + (f"; {hint}" if hint else "")
    if isinstance(err, UnexpectedEOF):
        return "unexpected end of program"
    return str(err).splitlines()[0]


def _unclosed_paren(text: str) -> tuple[int, int] | None:
    """Position of the first '(' left open at the end of the text (comments skipped)."""
    stack: list[tuple[int, int]] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        for col, ch in enumerate(line.split("#", 1)[0], start=1):
            if ch == "(":
                stack.append((lineno, col))
            elif ch == ")" and stack:
                stack.pop()
    return stack[0] if stack else None


def parse(source: str) -> Program:
    """Parse one ``def`` into a checked ``Program``; ``ProgramError(line, column, message)`` otherwise."""
    if isinstance(source, Program):
        return source
    if not isinstance(source, str):
        raise ProgramError(0, 0, f"parse() takes program text (str), got {type(source).__name__}")
    if len(source) > MAX_SOURCE:
        raise ProgramError(1, 1, f"program text of {len(source)} characters is longer than the {MAX_SOURCE} allowed")
    if "\x00" in source:
        i = source.index("\x00")
        line = source.count("\n", 0, i) + 1
        raise ProgramError(line, i - source.rfind("\n", 0, i), "NUL character in program text")
    if source.strip() == "":
        raise ProgramError(1, 1, "empty program: write 'def name(inputs):' and an indented body")
    text = source if source.endswith("\n") else source + "\n"
    try:
        tree = _parser().parse(text)
        _fold_min_literal(tree)
        return _ToAst().transform(tree)
    except ProgramError:
        raise
    except VisitError as err:
        inner = err.orig_exc
        if isinstance(inner, ProgramError):
            raise inner from None
        if isinstance(inner, RecursionError):
            raise ProgramError(1, 1, "program is nested too deeply") from None
        raise
    except UnexpectedInput as err:
        unclosed = _unclosed_paren(text)
        if unclosed is not None and isinstance(err, (UnexpectedToken, UnexpectedEOF)):
            raise ProgramError(*unclosed, "'(' was never closed") from None
        raise ProgramError(err.line if err.line and err.line > 0 else 1, err.column if err.column and err.column > 0 else 1, _describe(err, text)) from None
    except RecursionError:
        raise ProgramError(1, 1, "program is nested too deeply") from None
    except LarkError as err:
        raise ProgramError(1, 1, str(err).splitlines()[0]) from None
