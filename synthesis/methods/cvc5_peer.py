"""cvc5, the external state-of-the-art SyGuS solver, as a peer to beat.

The examples become a SyGuS-IF v2 programming-by-example problem, one ``(constraint (= (f in...) out))``
per example, with a grammar generated from the task's operator set (without a grammar cvc5 returns a
lookup table of the examples). The problem runs in a separate process (``_cvc5_worker.py``, cvc5's
Python API) that is killed at the budget: cvc5's ``tlimit`` does not interrupt ``checkSynth``. The
``(define-fun ...)`` that comes back is read by a small s-expression parser (no eval) into the
program language.

Encoding, exact under ``programs.semantics`` for every term the grammar can build:

- theory ``int`` (logic LIA, or NIA when ``*``, ``//`` or ``%`` is allowed): ``+ - *`` and unary
  ``-``; ``//`` and ``%`` as the helpers ``tb_div``/``tb_mod`` (``x // 0 == 0``, ``x % 0 == x``, floor
  rounding built from SMT-LIB's Euclidean ``div``/``mod`` with a sign correction for negative
  divisors); ``min``/``max``/``abs`` as helpers over ``ite``; comparisons and ``and``/``or``/``not``
  as Booleans, turned into values by ``(ite B 1 0)``; ``x if c else y`` as ``(ite B x y)`` with
  ``(distinct c 0)`` for an integer condition. SMT integers are unbounded, so 64-bit wrap-around is
  not modelled (no task's values come near it; ``solve`` checks the program on the examples anyway).
  ``& | ^ << >>`` cannot be written in integer arithmetic and are left out of this grammar (said in
  the reasons); ``and``/``or`` appear only on truth values, not as Python's value-returning forms on
  arbitrary integers.
- theory ``bv`` (logic BV, 64-bit two's complement, chosen when the operator set has a bit
  operation): the same operators as ``bvadd bvsub bvmul bvneg bvand bvor bvxor``, signed
  comparisons, and helpers for floor ``//`` (``bvsdiv`` corrected to floor, 0 for a zero divisor),
  ``%`` (``bvsmod``, which is already floor with ``x % 0 == x``), ``<<``/``>>`` with the shift count
  clipped to ``[0, 63]``, ``min``/``max``/``abs``. Wrap-around is exact here.

Constants come from ``problem.constants()``. At most ``max_examples`` examples go into the first
problem (200 by default); if the answer disagrees with other examples, those are added and cvc5 runs
again (counterexample-guided, within the budget). The budget is split between cvc5's enumerators by
``shares``: two thirds to ``--sygus-enum=fast`` first (it solved every quick-suite function that the
default solved, and sooner), the rest (and whatever ``fast`` leaves) to cvc5's default (``auto``).

Scans and folds abstain by default: SyGuS over sequences is not supported by this adapter. With
``options={"loops": True}`` a bounded unrolled encoding is tried instead (``encode``: functions for the
initial state, its update and the output, composed along each example's sequence with ``let``; the
first problem holds ``loop_examples`` examples). It solves tiny loops, but cvc5's general CEGIS over
three functions with the full grammar solved none of the quick suite's scans and folds in 20 s.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from programs import Binary, Call, Const, IfExp, ProgramError, Unary, Var
from programs.ast import BIT_OPS, Expr, negate
from programs.semantics import INT64_MIN

from ..build import LoopSketch, function
from ..problem import Budget, Problem
from ..registry import Attempt, synthesizer

WORKER = Path(__file__).with_name("_cvc5_worker.py")
WIDTH = 64
_MASK = (1 << WIDTH) - 1
_ARITH = ("+", "-", "*", "//", "%", "neg", "min", "max", "abs")
_COMPARE = ("<", "<=", ">", ">=", "==", "!=")
_LOGIC = ("and", "or", "not")
_NONLINEAR = ("*", "//", "%")
_STARTUP = 0.3  # seconds a worker needs at least to start Python and import cvc5


class SolutionError(ValueError):
    """cvc5's output could not be read as a program (garbage, a crash, or a construct we do not map)."""


# --- the encoding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loop:
    """How the synthesized functions of a scan or fold make a loop (``build.LoopSketch``)."""

    states: int
    inits: tuple[str, ...]  # one nullary-in-the-state function per state: its value before the loop
    updates: tuple[str, ...]  # one per state: the state after a step, from the states before it
    yield_first: bool  # scans: the output is computed from the states before the update


@dataclass(frozen=True)
class Encoding:
    """A SyGuS-IF problem text and what is needed to read its answer back."""

    text: str
    theory: str  # "int" | "bv"
    logic: str
    outputs: tuple[str, ...]  # SyGuS names of the output functions, one per output of the program
    signatures: dict[str, tuple[str, ...]]  # SyGuS function -> program variables its parameters stand for
    loop: Loop | None = None
    left_out: tuple[str, ...] = ()  # operators of the task the grammar cannot express
    examples: int = 0

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(self.signatures)


_INT_HELPERS = {
    "tb_div": ("((a Int) (b Int)) Int", "(ite (= b 0) 0 (ite (> b 0) (div a b) (div (- a) (- b))))"),
    "tb_mod": ("((a Int) (b Int)) Int", "(ite (= b 0) a (ite (> b 0) (mod a b) (- (mod (- a) (- b)))))"),
    "tb_min": ("((a Int) (b Int)) Int", "(ite (<= a b) a b)"),
    "tb_max": ("((a Int) (b Int)) Int", "(ite (>= a b) a b)"),
    "tb_abs": ("((a Int)) Int", "(ite (< a 0) (- a) a)"),
}

_BV = f"(_ BitVec {WIDTH})"


def _bv(value: int) -> str:
    return f"#x{value & _MASK:016x}"


_Z, _ONE, _C63 = _bv(0), _bv(1), _bv(63)
_BV_HELPERS = {
    "tb_div": (f"((a {_BV}) (b {_BV})) {_BV}",
               f"(ite (= b {_Z}) {_Z} (ite (and (distinct (bvsrem a b) {_Z}) (distinct (bvslt (bvsrem a b) {_Z}) (bvslt b {_Z})))"
               f" (bvsub (bvsdiv a b) {_ONE}) (bvsdiv a b)))"),
    "tb_mod": (f"((a {_BV}) (b {_BV})) {_BV}", "(bvsmod a b)"),
    "tb_shl": (f"((a {_BV}) (b {_BV})) {_BV}", f"(bvshl a (ite (bvslt b {_Z}) {_Z} (ite (bvsgt b {_C63}) {_C63} b)))"),
    "tb_shr": (f"((a {_BV}) (b {_BV})) {_BV}", f"(bvashr a (ite (bvslt b {_Z}) {_Z} (ite (bvsgt b {_C63}) {_C63} b)))"),
    "tb_min": (f"((a {_BV}) (b {_BV})) {_BV}", "(ite (bvsle a b) a b)"),
    "tb_max": (f"((a {_BV}) (b {_BV})) {_BV}", "(ite (bvsge a b) a b)"),
    "tb_abs": (f"((a {_BV})) {_BV}", f"(ite (bvslt a {_Z}) (bvneg a) a)"),
}

# operator of the program language -> grammar production (I: integer term, B: truth value)
_INT_RULES = {
    "+": ("I", "(+ I I)"), "-": ("I", "(- I I)"), "*": ("I", "(* I I)"), "neg": ("I", "(- I)"),
    "//": ("I", "(tb_div I I)"), "%": ("I", "(tb_mod I I)"),
    "min": ("I", "(tb_min I I)"), "max": ("I", "(tb_max I I)"), "abs": ("I", "(tb_abs I)"),
    "if": ("I", "(ite B I I)"),
    "<": ("B", "(< I I)"), "<=": ("B", "(<= I I)"), ">": ("B", "(> I I)"), ">=": ("B", "(>= I I)"),
    "==": ("B", "(= I I)"), "!=": ("B", "(distinct I I)"),
    "and": ("B", "(and B B)"), "or": ("B", "(or B B)"), "not": ("B", "(not B)"),
}
_BV_RULES = {
    "+": ("I", "(bvadd I I)"), "-": ("I", "(bvsub I I)"), "*": ("I", "(bvmul I I)"), "neg": ("I", "(bvneg I)"),
    "//": ("I", "(tb_div I I)"), "%": ("I", "(tb_mod I I)"),
    "&": ("I", "(bvand I I)"), "|": ("I", "(bvor I I)"), "^": ("I", "(bvxor I I)"),
    "<<": ("I", "(tb_shl I I)"), ">>": ("I", "(tb_shr I I)"),
    "min": ("I", "(tb_min I I)"), "max": ("I", "(tb_max I I)"), "abs": ("I", "(tb_abs I)"),
    "if": ("I", "(ite B I I)"),
    "<": ("B", "(bvslt I I)"), "<=": ("B", "(bvsle I I)"), ">": ("B", "(bvsgt I I)"), ">=": ("B", "(bvsge I I)"),
    "==": ("B", "(= I I)"), "!=": ("B", "(distinct I I)"),
    "and": ("B", "(and B B)"), "or": ("B", "(or B B)"), "not": ("B", "(not B)"),
}
# a > b is b < a: with both directions present the mirrored one only adds symmetric terms
_MIRRORED = {">": "<", ">=": "<="}


def choose_theory(operators) -> str:
    """``bv`` when the operator set has a bit operation (not expressible over the integers), else ``int``."""
    return "bv" if any(op in BIT_OPS for op in operators) else "int"


def _literal(value: int, theory: str) -> str:
    if theory == "bv":
        return _bv(int(value))
    value = int(value)
    return str(value) if value >= 0 else f"(- {-value})"


def _grammar(ops: set[str], theory: str, params: list[str], constants) -> tuple[str, str, list[str]]:
    """Nonterminal declarations, rules, and the helper functions they use, for one synth-fun."""
    table = _BV_RULES if theory == "bv" else _INT_RULES
    sort = _BV if theory == "bv" else "Int"
    one, zero = _literal(1, theory), _literal(0, theory)
    int_rules: list[str] = list(params) + [_literal(c, theory) for c in constants]
    bool_rules: list[str] = []
    for op in table:
        if op not in ops or (op in _MIRRORED and _MIRRORED[op] in ops):
            continue
        kind, rule = table[op]
        (int_rules if kind == "I" else bool_rules).append(rule)
    if ops & {"if", *_LOGIC}:
        bool_rules.append(f"(distinct I {zero})")  # an integer used as a truth value
    if ops & {*_COMPARE, *_LOGIC}:
        int_rules.append(f"(ite B {one} {zero})")  # a truth value used as a number
    if not bool_rules:  # no way to form a truth value: the B nonterminal would be empty
        int_rules = [r for r in int_rules if " B" not in r]
    text = " ".join(int_rules + bool_rules)
    helpers = _BV_HELPERS if theory == "bv" else _INT_HELPERS
    used = [h for h in helpers if h in text]
    nts = f"((I {sort}) (B Bool))" if bool_rules else f"((I {sort}))"
    rules = f"((I {sort} ({' '.join(int_rules)}))" + (f"\n   (B Bool ({' '.join(bool_rules)}))" if bool_rules else "") + ")"
    return nts, rules, used


def _header(problem: Problem, theory: str, functions: dict[str, list[str]]) -> tuple[list[str], str, tuple[str, ...]]:
    """``set-logic``, helper definitions and one ``synth-fun`` per entry of ``functions`` (name -> params)."""
    ops = set(problem.operators)
    if theory not in ("int", "bv"):
        raise ValueError(f"theory must be 'auto', 'int' or 'bv', got {theory!r}")
    sort = _BV if theory == "bv" else "Int"
    logic = "BV" if theory == "bv" else ("NIA" if ops & set(_NONLINEAR) else "LIA")
    left_out = tuple(sorted(op for op in ops if op in BIT_OPS)) if theory == "int" else ()
    helpers = _BV_HELPERS if theory == "bv" else _INT_HELPERS
    constants = problem.constants()
    synth, used = [], []
    for name, params in functions.items():
        formal = [f"p{i}" for i in range(len(params))]
        nts, rules, needs = _grammar(ops, theory, formal, constants)
        used += [h for h in needs if h not in used]
        sig = " ".join(f"({p} {sort})" for p in formal)
        synth.append(f"(synth-fun {name} ({sig}) {sort}\n  {nts}\n  {rules})")
    lines = [f"(set-logic {logic})"]
    lines += [f"(define-fun {h} {helpers[h][0]} {helpers[h][1]})" for h in helpers if h in used]
    return lines + synth, logic, left_out


def _call(name: str, args: list[str]) -> str:
    return f"({name} {' '.join(args)})" if args else name  # a nullary function is applied by its name alone


def encode(problem: Problem, rows: np.ndarray | None = None, theory: str = "auto", *, states: int = 1,
           yield_first: bool = True) -> Encoding:
    """The SyGuS-IF v2 text for ``problem`` over the examples at ``rows`` (all by default).

    A function is programming by example: ``(constraint (= (f in...) out))``. A scan or fold is a
    bounded unrolling of a loop with ``states`` integer state variables (``build.LoopSketch``): one
    function per state for its value before the loop (from the scalar inputs), one per state for its
    update (from the states, the current elements and the scalars), and the output (from the states
    and, for a scan, the current elements); each example's sequence is unrolled with ``let``.
    """
    theory = choose_theory(problem.operators) if theory == "auto" else theory
    index = np.arange(problem.size) if rows is None else np.asarray(rows)
    outputs = problem.outputs.reshape(problem.outputs.shape[:2 if problem.kind == "scan" else 1] + (-1,))
    out_names = tuple(f"tb_f{k}" for k in range(problem.arity))
    sort_lit = lambda v: _literal(int(v), theory)  # noqa: E731

    if problem.kind == "function":
        params = list(problem.params)
        lines, logic, left_out = _header(problem, theory, {f: params for f in out_names})
        cols = [problem.example_inputs[name] for name in params]
        for i in index:
            args = [sort_lit(c[i]) for c in cols]
            for k, f in enumerate(out_names):
                lines.append(f"(constraint (= {_call(f, args)} {sort_lit(outputs[i, k])}))")
        lines.append("(check-synth)")
        return Encoding("\n".join(lines) + "\n", theory, logic, out_names, {f: tuple(params) for f in out_names},
                        None, left_out, len(index))

    if problem.kind not in ("scan", "fold"):
        raise ValueError(f"cannot encode a problem of kind {problem.kind!r}")
    if states < 1:
        raise ValueError("a loop needs at least one state variable")
    sketch = LoopSketch.of(problem, states)
    scalars, elements = list(sketch.scalars), list(sketch.elements)
    scan = problem.kind == "scan"
    inits = tuple(f"tb_init{j}" for j in range(states))
    updates = tuple(f"tb_next{j}" for j in range(states))
    signatures = {**{f: tuple(scalars) for f in inits},
                  **{f: tuple(sketch.states) + tuple(elements) + tuple(scalars) for f in updates},
                  **{f: tuple(sketch.states) + (tuple(elements) if scan else ()) + tuple(scalars) for f in out_names}}
    lines, logic, left_out = _header(problem, theory, {f: list(ps) for f, ps in signatures.items()})
    seqs = [problem.example_inputs[name] for name in problem.sequences]
    scal = [problem.example_inputs[name] for name in problem.scalars]
    lengths = problem.lengths if problem.lengths is not None else np.full(problem.size, seqs[0].shape[1])
    for i in index:
        t = [sort_lit(c[i]) for c in scal]
        cur = [_call(f, t) for f in inits]  # terms for the current states
        binds, facts = [], []
        for step in range(int(lengths[i])):
            x = [sort_lit(c[i, step]) for c in seqs]
            if scan and yield_first:
                facts.append((len(binds), [f"(= {_call(f, cur + x + t)} {sort_lit(outputs[i, step, k])})"
                                           for k, f in enumerate(out_names)]))
            new = [f"tb_s{j}_{step}" for j in range(states)]
            binds.append(" ".join(f"({n} {_call(f, cur + x + t)})" for n, f in zip(new, updates)))
            cur = new
            if scan and not yield_first:
                facts.append((len(binds), [f"(= {_call(f, cur + x + t)} {sort_lit(outputs[i, step, k])})"
                                           for k, f in enumerate(out_names)]))
        if not scan:
            facts.append((len(binds), [f"(= {_call(f, cur + t)} {sort_lit(outputs[i, k])})" for k, f in enumerate(out_names)]))
        lines.append(f"(constraint {_nest(binds, facts)})")
    lines.append("(check-synth)")
    loop = Loop(states, inits, updates, yield_first and scan)
    return Encoding("\n".join(lines) + "\n", theory, logic, out_names, signatures, loop, left_out, len(index))


def _nest(binds: list[str], facts: list[tuple[int, list[str]]]) -> str:
    """``(let (b1) (and facts-after-b1 (let (b2) ...)))``: each fact sits under the bindings it reads."""
    def level(k: int) -> str:
        here = [f for at, fs in facts if at == k for f in fs]
        if k < len(binds):
            here.append(f"(let ({binds[k]}) {level(k + 1)})")
        if not here:
            return "true"
        return here[0] if len(here) == 1 else f"(and {' '.join(here)})"

    return level(0)


# --- reading the answer back ---------------------------------------------------------------------

_TOKEN = re.compile(r"\s+|;[^\n]*|(\()|(\))|(\|[^|]*\|)|([^\s()|;\"]+)")
_MAX_TOKENS = 2_000_000
_MAX_DEPTH = 2_000


def parse_sexprs(text: str) -> list:
    """Top-level s-expressions of ``text``: atoms are strings, lists are Python lists."""
    stack: list[list] = [[]]
    pos = 0
    count = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SolutionError(f"unexpected character {text[pos]!r} at offset {pos} in the solver's output")
        pos = m.end()
        count += 1
        if count > _MAX_TOKENS:
            raise SolutionError("the solver's output is too long to read")
        if m.group(1):
            if len(stack) > _MAX_DEPTH:
                raise SolutionError("the solver's output is nested too deeply to read")
            stack.append([])
        elif m.group(2):
            if len(stack) == 1:
                raise SolutionError(f"unbalanced ')' at offset {m.start()} in the solver's output")
            done = stack.pop()
            stack[-1].append(done)
        elif m.group(3):
            stack[-1].append(m.group(3)[1:-1])
        elif m.group(4):
            stack[-1].append(m.group(4))
    if len(stack) != 1:
        raise SolutionError("unbalanced '(' in the solver's output (truncated?)")
    return stack[0]


@dataclass
class Answer:
    """What one ``check-synth`` printed: definitions by name, or a verdict without one."""

    verdict: str  # "solved" | "infeasible" | "fail" | "unknown"
    definitions: dict[str, tuple[list[str], object]] = field(default_factory=dict)  # name -> (params, body)


def read_answer(text: str) -> Answer:
    """Read cvc5's ``check-synth`` output; ``SolutionError`` if it is not a solver answer."""
    items = parse_sexprs(text)
    if not items:
        raise SolutionError("the solver printed nothing")
    if len(items) == 1 and isinstance(items[0], str):
        word = items[0]
        if word in ("infeasible", "fail", "unknown"):
            return Answer(word)
        raise SolutionError(f"unexpected solver output {word!r}")
    # cvc5 >= 1.0 wraps the definitions in one list; older versions print them bare
    if len(items) == 1 and isinstance(items[0], list) and (not items[0] or isinstance(items[0][0], list)):
        items = items[0]
    definitions = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 5 and item[0] == "define-fun" and isinstance(item[1], str)
                and isinstance(item[2], list)):
            raise SolutionError(f"expected (define-fun name (params) sort body), got {_show(item)}")
        names = []
        for p in item[2]:
            if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)):
                raise SolutionError(f"bad parameter {_show(p)} in the definition of {item[1]}")
            names.append(p[0])
        definitions[item[1]] = (names, item[4])
    if not definitions:
        raise SolutionError("the solver's answer has no definitions")
    return Answer("solved", definitions)


def _show(x, limit: int = 80) -> str:
    def text(t):
        return t if isinstance(t, str) else "(" + " ".join(text(s) for s in t) + ")"

    s = text(x)
    return s if len(s) <= limit else s[: limit - 3] + "..."


_INT_BINARY = {"tb_div": "//", "tb_mod": "%"}
_BV_BINARY = {"bvadd": "+", "bvsub": "-", "bvmul": "*", "bvand": "&", "bvor": "|", "bvxor": "^",
              "bvsmod": "%", "tb_div": "//", "tb_mod": "%", "tb_shl": "<<", "tb_shr": ">>"}
_CALLS = {"tb_min": "min", "tb_max": "max", "tb_abs": "abs", "abs": "abs"}
_INT_COMPARE = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}
_BV_COMPARE = {"bvslt": "<", "bvsle": "<=", "bvsgt": ">", "bvsge": ">="}
_BV_UNSIGNED = {"bvult": "<", "bvule": "<=", "bvugt": ">", "bvuge": ">="}
_BOOL_HEADS = {"and", "or", "not", "=>", "xor", "=", "distinct", *_INT_COMPARE, *_BV_COMPARE, *_BV_UNSIGNED}


class _Reader:
    """Translate one SMT term into the program language, exactly (or raise ``SolutionError``)."""

    def __init__(self, theory: str, env: dict[str, Expr]):
        self.theory = theory
        self.env: dict[str, tuple[str, object]] = {k: ("int", v) for k, v in env.items()}

    # -- types ---------------------------------------------------------------------------------
    def is_bool(self, t, env) -> bool:
        if isinstance(t, str):
            if t in ("true", "false"):
                return True
            hit = env.get(t)
            return hit is not None and hit[0] == "bool"
        if not t:
            raise SolutionError("empty term () in the solver's output")
        head = t[0]
        if not isinstance(head, str):  # not a term we read; reading it as a number says so
            return False
        if head in _BOOL_HEADS:
            return True
        if head == "ite" and len(t) == 4:
            return self.is_bool(t[2], env)
        if head == "let" and len(t) == 3:
            return self.is_bool(t[2], self._bind(t[1], env))
        return False

    def _bind(self, bindings, env):
        if not isinstance(bindings, list):
            raise SolutionError(f"bad let bindings {_show(bindings)}")
        new = dict(env)
        for b in bindings:
            if not (isinstance(b, list) and len(b) == 2 and isinstance(b[0], str)):
                raise SolutionError(f"bad let binding {_show(b)}")
            if self.is_bool(b[1], env):
                new[b[0]] = ("bool", (b[1], env))
            else:
                new[b[0]] = ("int", self.int(b[1], env))
        return new

    # -- constants -----------------------------------------------------------------------------
    def literal(self, t) -> int | None:
        """The integer a term denotes if it is a literal (``5``, ``(- 5)``, ``#x..``, ``(_ bv5 64)``)."""
        if isinstance(t, str):
            if t.isdigit():
                return int(t)
            if t.startswith("#b") and len(t) > 2 and set(t[2:]) <= {"0", "1"}:
                return self._signed(int(t[2:], 2), len(t) - 2)
            if t.startswith("#x") and len(t) > 2 and re.fullmatch(r"[0-9a-fA-F]+", t[2:]):
                return self._signed(int(t[2:], 16), 4 * (len(t) - 2))
            return None
        if len(t) == 2 and t[0] == "-" and isinstance(t[1], str) and t[1].isdigit():
            return -int(t[1])
        if len(t) == 3 and t[0] == "_" and isinstance(t[1], str) and re.fullmatch(r"bv\d+", t[1]) and t[2] == str(WIDTH):
            return self._signed(int(t[1][2:]), WIDTH)
        return None

    def _signed(self, value: int, width: int) -> int:
        if self.theory == "bv" and width != WIDTH:
            raise SolutionError(f"a {width}-bit constant in a {WIDTH}-bit answer")
        if self.theory == "bv":
            return value - (1 << WIDTH) if value >> (WIDTH - 1) else value
        return value

    def const(self, value: int) -> Const:
        try:
            return Const(value)
        except ProgramError:
            raise SolutionError(f"constant {value} does not fit in 64 bits") from None

    # -- integer terms -------------------------------------------------------------------------
    def int(self, t, env=None) -> Expr:
        env = self.env if env is None else env
        value = self.literal(t)
        if value is not None:
            return self.const(value)
        if isinstance(t, str):
            hit = env.get(t)
            if hit is None:
                raise SolutionError(f"unknown symbol {t!r} in the solver's answer")
            if hit[0] != "int":
                return self.bit(*hit[1])
            return hit[1]
        if not t:
            raise SolutionError("empty term () in the solver's answer")
        head, args = t[0], t[1:]
        if not isinstance(head, str):
            raise SolutionError(f"cannot read the term {_show(t)}")
        if head == "let" and len(args) == 2:
            return self.int(args[1], self._bind(args[0], env))
        if head == "ite" and len(args) == 3:
            if self.is_bool(args[1], env):
                return self.bit(t, env)
            then, orelse = self.literal(args[1]), self.literal(args[2])
            if (then, orelse) == (1, 0):  # (ite B 1 0): the truth value as a number
                return self.bit(args[0], env)
            if (then, orelse) == (0, 1):
                return Unary("not", self.cond(args[0], env))
            cond = self.cond(args[0], env)
            return IfExp(cond, self.int(args[1], env), self.int(args[2], env))
        if head in _BOOL_HEADS:
            return self.bit(t, env)
        xs = [self.int(a, env) for a in args]
        if self.theory == "int":
            return self._int_op(head, xs, args, t)
        return self._bv_op(head, xs, args, t)

    def _fold(self, op: str, xs: list[Expr], t) -> Expr:
        if len(xs) < 2:
            raise SolutionError(f"{t[0]} needs at least two arguments in {_show(t)}")
        out = xs[0]
        for x in xs[1:]:
            out = Binary(op, out, x)
        return out

    def _int_op(self, head, xs, args, t) -> Expr:
        if head in ("+", "*"):
            return self._fold(head, xs, t)
        if head == "-":
            return negate(xs[0]) if len(xs) == 1 else self._fold("-", xs, t)
        if head in _INT_BINARY and len(xs) == 2:
            return Binary(_INT_BINARY[head], *xs)
        if head in _CALLS and len(xs) == (1 if head.endswith("abs") else 2):
            return Call(_CALLS[head], tuple(xs))
        if head in ("div", "mod") and len(xs) == 2:
            a, b = xs
            if isinstance(b, Const) and b.value > 0:  # Euclidean == floor for a positive divisor
                return Binary("//" if head == "div" else "%", a, b)
            # Euclidean with any non-zero divisor: r = a % |b|, q = (a - r) // b
            r = Binary("%", a, Call("abs", (b,)))
            return r if head == "mod" else Binary("//", Binary("-", a, r), b)
        raise SolutionError(f"cannot read the integer term {_show(t)}")

    def _bv_op(self, head, xs, args, t) -> Expr:
        if head in ("bvadd", "bvmul", "bvand", "bvor", "bvxor", "bvsub"):
            return self._fold(_BV_BINARY[head], xs, t)
        if head in _BV_BINARY and len(xs) == 2:
            return Binary(_BV_BINARY[head], *xs)
        if head == "bvneg" and len(xs) == 1:
            return negate(xs[0])
        if head == "bvnot" and len(xs) == 1:
            return Binary("^", xs[0], Const(-1))
        if head in _CALLS and head != "abs" and len(xs) == (1 if head.endswith("abs") else 2):
            return Call(_CALLS[head], tuple(xs))
        if head in ("bvshl", "bvashr", "bvlshr") and len(xs) == 2:
            k = self.literal(args[1])
            if k is None:
                raise SolutionError(f"shift by a non-constant amount is not mapped: {_show(t)}")
            k &= _MASK
            x = xs[0]
            if k == 0:
                return x
            if head == "bvshl":
                return Binary("<<", x, Const(k)) if k < WIDTH else Const(0)
            if head == "bvashr":
                return Binary(">>", x, Const(min(k, WIDTH - 1)))
            if k >= WIDTH:
                return Const(0)
            return Binary("&", Binary(">>", x, Const(k)), Const((1 << (WIDTH - k)) - 1))
        raise SolutionError(f"cannot read the bit-vector term {_show(t)}")

    # -- truth values --------------------------------------------------------------------------
    def cond(self, t, env) -> Expr:
        """An expression whose truthiness (non-zero) is the truth of ``t``."""
        return self._bool(t, env, as_bit=False)

    def bit(self, t, env) -> Expr:
        """An expression whose value is exactly 1 or 0 as ``t`` holds or not."""
        return self._bool(t, env, as_bit=True)

    def _bool(self, t, env, as_bit: bool) -> Expr:
        if isinstance(t, str):
            if t == "true":
                return Const(1)
            if t == "false":
                return Const(0)
            hit = env.get(t)
            if hit is None or hit[0] != "bool":
                raise SolutionError(f"{t!r} is not a truth value in the solver's answer")
            return self._bool(hit[1][0], hit[1][1], as_bit)
        if not t or not isinstance(t[0], str):
            raise SolutionError(f"cannot read the condition {_show(t)}")
        head, args = t[0], t[1:]
        if head == "let" and len(args) == 2:
            return self._bool(args[1], self._bind(args[0], env), as_bit)
        if head == "ite" and len(args) == 3:
            return IfExp(self.cond(args[0], env), self._bool(args[1], env, as_bit), self._bool(args[2], env, as_bit))
        if head == "not" and len(args) == 1:
            return Unary("not", self.cond(args[0], env))
        if head == "and" and len(args) >= 1:
            parts = [self.cond(a, env) for a in args[:-1]] + [self._bool(args[-1], env, as_bit)]
            return parts[0] if len(parts) == 1 else self._fold("and", parts, t)
        if head == "or" and len(args) >= 1:
            parts = [self._bool(a, env, as_bit) for a in args]
            return parts[0] if len(parts) == 1 else self._fold("or", parts, t)
        if head == "=>" and len(args) == 2:
            return Binary("or", Unary("not", self.cond(args[0], env)), self._bool(args[1], env, as_bit))
        if head == "xor" and len(args) == 2:
            return Binary("!=", self.bit(args[0], env), self.bit(args[1], env))
        if head in ("=", "distinct") and len(args) == 2:
            op = "==" if head == "=" else "!="
            if self.is_bool(args[0], env) or self.is_bool(args[1], env):
                return Binary(op, self.bit(args[0], env), self.bit(args[1], env))
            a, b = self.int(args[0], env), self.int(args[1], env)
            if op == "!=" and not as_bit:  # c != 0 as a condition is c itself
                if isinstance(b, Const) and b.value == 0:
                    return a
                if isinstance(a, Const) and a.value == 0:
                    return b
            return Binary(op, a, b)
        if head in ("=", "distinct") and len(args) > 2:
            if head == "=":
                pairs = [["=", args[i], args[i + 1]] for i in range(len(args) - 1)]
            else:
                pairs = [["distinct", args[i], args[j]] for i in range(len(args)) for j in range(i + 1, len(args))]
            return self._bool(["and", *pairs], env, as_bit)
        compare = _INT_COMPARE if self.theory == "int" else _BV_COMPARE
        if head in compare and len(args) == 2:
            return Binary(compare[head], self.int(args[0], env), self.int(args[1], env))
        if self.theory == "bv" and head in _BV_UNSIGNED and len(args) == 2:
            flip = Const(INT64_MIN)  # unsigned order is the signed order with the top bit flipped
            return Binary(_BV_UNSIGNED[head], Binary("^", self.int(args[0], env), flip), Binary("^", self.int(args[1], env), flip))
        raise SolutionError(f"cannot read the condition {_show(t)}")


def translate(answer: Answer, encoding: Encoding) -> dict[str, Expr]:
    """The expression of every synthesized function of a solved ``answer``, by SyGuS name."""
    exprs = {}
    for name, variables in encoding.signatures.items():
        if name not in answer.definitions:
            raise SolutionError(f"the solver's answer does not define {name}")
        params, body = answer.definitions[name]
        if len(params) != len(variables):
            raise SolutionError(f"{name} has {len(params)} parameters in the answer, {len(variables)} in the problem")
        env = {p: Var(v) for p, v in zip(params, variables)}
        try:
            exprs[name] = _Reader(encoding.theory, env).int(body)
        except RecursionError:
            raise SolutionError("the solver's answer is nested too deeply to translate") from None
        except ProgramError as err:
            raise SolutionError(f"the solver's answer is not a valid program: {err}") from None
    return exprs


def read_solution(text: str, problem: Problem, encoding: Encoding):
    """cvc5's output → (verdict, Program or None); ``SolutionError`` on anything unreadable."""
    answer = read_answer(text)
    if answer.verdict != "solved":
        return answer.verdict, None
    exprs = translate(answer, encoding)
    outputs = [exprs[f] for f in encoding.outputs]
    loop = encoding.loop
    try:
        if loop is None:
            return "solved", function(problem, outputs)
        sketch = LoopSketch.of(problem, loop.states)
        return "solved", sketch.program([exprs[f] for f in loop.inits], [exprs[f] for f in loop.updates], outputs,
                                        yield_first=loop.yield_first)
    except ProgramError as err:
        raise SolutionError(f"the solver's answer does not make a valid program: {err}") from None


# --- running cvc5 --------------------------------------------------------------------------------


def available() -> bool:
    return importlib.util.find_spec("cvc5") is not None


@dataclass
class Run:
    status: str  # "done" | "timeout" | "error"
    stdout: str = ""
    detail: str = ""


def run_worker(text: str, options: dict[str, str], seconds: float, memory_mb: int = 0) -> Run:
    """Run the SyGuS ``text`` through cvc5 in a child process, killed after ``seconds``."""
    argv = [sys.executable, str(WORKER)] + [f"{k}={v}" for k, v in options.items()]
    # the worker also stops itself shortly after the limit, should this process die without killing it
    argv.append(f"wall-seconds={int(seconds) + 2}")
    if memory_mb:
        argv.append(f"memory-mb={int(memory_mb)}")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    except OSError as err:
        return Run("error", detail=f"cannot start the cvc5 worker: {err}")
    try:
        out, err = proc.communicate(text, timeout=max(0.01, seconds))
    except subprocess.TimeoutExpired:
        _kill(proc)
        return Run("timeout")
    except BaseException:
        _kill(proc)
        raise
    if proc.returncode != 0:
        tail = (err or "").strip().splitlines()[-3:]
        why = {2: "cvc5 could not be imported in the worker", 3: "cvc5 raised"}.get(proc.returncode, f"cvc5 worker exited with status {proc.returncode}")
        if proc.returncode < 0:
            why = f"cvc5 worker was killed by signal {-proc.returncode} (crash or memory limit)"
        return Run("error", out, f"{why}: {' | '.join(tail)}" if tail else why)
    return Run("done", out)


def _kill(proc: subprocess.Popen) -> None:
    try:
        proc.kill()  # the worker we started, by its id
    except OSError:
        pass
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        pass


# --- the method ----------------------------------------------------------------------------------


@synthesizer("cvc5")
def cvc5(theory: str = "auto", enumerators: tuple[str, ...] = ("fast", "auto"), max_examples: int = 200,
         shares: tuple[float, ...] = (2.0, 1.0), max_added: int = 20, memory_mb: int = 4096, loops: bool = False,
         loop_examples: int = 8, states: int = 1):
    """cvc5 (SyGuS, programming by example) with a grammar generated from the task's operators."""
    enumerators = tuple(enumerators) or ("auto",)
    weights = [float(w) for w in shares][: len(enumerators)]
    weights += [1.0] * (len(enumerators) - len(weights))
    if any(not w > 0 for w in weights):
        raise ValueError(f"shares must be positive, got {shares!r}")

    def run(problem: Problem, budget: Budget, rng: np.random.Generator) -> Attempt:
        is_loop = problem.kind != "function"
        if is_loop and not loops:
            return Attempt(None, "abstained", reasons=[
                f"cvc5 adapter: the task is a {problem.kind} over sequences; SyGuS over sequences is not supported by "
                "this adapter by default (a bounded unrolled encoding is available with options={'loops': True}, "
                "but cvc5 solved none of the quick suite's scans and folds with it in 20 s)"])
        if not available():
            return Attempt(None, "abstained", reasons=["cvc5 is not installed: install the [peers] extra (pip install 'tractbench[peers]')"])
        if not is_loop:  # cvc5 cannot be interrupted to say "nothing fits"; a short complete enumeration sometimes can
            from .enumerative import inexpressible

            why = inexpressible(problem, min(0.5, 0.05 * budget.left))
            if why is not None:
                return Attempt(None, "exhausted", 0, [why])
        n = problem.size
        first = loop_examples if is_loop else max_examples
        added = min(max_added, loop_examples) if is_loop else max_added
        rows = np.arange(n) if n <= first else np.sort(rng.choice(n, size=first, replace=False))
        try:
            enc = encode(problem, rows, theory, states=states)
        except ValueError as err:
            return Attempt(None, "abstained", reasons=[f"cvc5 adapter: {err}"])
        what = f"a loop with {states} state(s), unrolled over each example" if is_loop else "programming by example"
        reasons = [f"cvc5 SyGuS-IF ({what}): theory {enc.theory}, logic {enc.logic}, grammar from operators "
                   f"{', '.join(problem.operators)}"]
        if enc.left_out:
            reasons.append(f"operators not expressible in integer arithmetic, left out of the grammar: {' '.join(enc.left_out)}")
        if n > first:
            reasons.append(f"{first} of the {n} examples in the first problem; more are added where cvc5's answer disagrees")
        proposals = 0
        for slot, enum in enumerate(enumerators):
            end = budget.elapsed + max(0.0, budget.left) * weights[slot] / sum(weights[slot:])
            while True:
                left = min(end - budget.elapsed, budget.left - 0.05)
                if left < _STARTUP:
                    break
                got = run_worker(enc.text, {"sygus-enum": enum}, left, memory_mb)
                if got.status == "timeout":
                    reasons.append(f"--sygus-enum={enum}: no answer within {left:.1f}s ({enc.examples} examples)")
                    break
                if got.status == "error":
                    return Attempt(None, "error", proposals, reasons + [got.detail])
                try:
                    verdict, program = read_solution(got.stdout, problem, enc)
                except SolutionError as err:
                    return Attempt(None, "error", proposals, reasons + [f"unreadable cvc5 output: {err}"])
                if verdict == "infeasible":
                    return Attempt(None, "exhausted", proposals, reasons + [
                        "cvc5: infeasible, no program in this grammar fits the examples"])
                if verdict != "solved":
                    reasons.append(f"--sygus-enum={enum}: cvc5 answered {verdict}")
                    break
                proposals += 1
                wrong = np.nonzero(problem.mismatches(program))[0]
                if wrong.size == 0:
                    return Attempt(program, "solved", proposals, reasons + [f"solved by --sygus-enum={enum} from {enc.examples} examples"])
                add = wrong[:added]
                rows = np.union1d(rows, add)
                enc = encode(problem, rows, enc.theory, states=states)
                reasons.append(f"--sygus-enum={enum}: answer wrong on {wrong.size} other examples; {add.size} added")
        return Attempt(None, "timeout", proposals, reasons)

    return run
