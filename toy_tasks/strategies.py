"""Hypothesis strategies for property-based test runs against any method of the toolkit.

Every strategy here is a keyword-only function returning a ``SearchStrategy``; arguments are checked
eagerly (``InvalidArgument``), and programs are built as ASTs so that they shrink as trees.

>>> from hypothesis import given
>>> from toy_tasks import strategies as tbst, Int
>>> @given(tbst.programs(inputs={"a": Int(0, 8), "b": Int(0, 8)}, max_size=9))
... def test_roundtrip(p): ...
"""
from __future__ import annotations

from typing import Mapping, Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from programs import Assign, Binary, Call, Const, For, IfExp, Int, Program, Return, Seq, Unary, Var, Yield
from programs.ast import ARITH_OPS, BIT_OPS, BOOL_OPS, COMPARE_OPS, RESERVED
from programs.domains import DomainError, check_signature
from programs.semantics import wrap

__all__ = [
    "domains", "expressions", "int_domains", "program_sources", "programs", "seq_domains", "signatures", "task_inputs", "tasks",
]

BINARY_OPS = ARITH_OPS + BIT_OPS + COMPARE_OPS + BOOL_OPS
DEFAULT_CONSTANTS = st.one_of(st.integers(-3, 8), st.sampled_from([16, 255, -(2**63), 2**63 - 1]))


def _check_signature(inputs) -> dict:
    try:
        return check_signature(dict(inputs))
    except (DomainError, TypeError) as err:
        raise InvalidArgument(f"inputs must be a signature {{name: Int | Seq}}: {err}") from None


def _check_size(max_size) -> int:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 2:
        raise InvalidArgument(f"max_size must be an integer >= 2, got {max_size!r}")
    return max_size


def _check_ops(operators) -> tuple[str, ...]:
    ops = tuple(operators)
    unknown = [o for o in ops if o not in BINARY_OPS + ("neg", "not", "min", "max", "abs", "if")]
    if unknown or not ops:
        raise InvalidArgument(f"unknown operators {unknown}; choose from {BINARY_OPS} and neg, not, min, max, abs, if")
    return ops


def _negate(e):
    return Const(wrap(-e.value)) if isinstance(e, Const) else Unary("-", e)


def expressions(
    *, names: Sequence[str], constants: st.SearchStrategy[int] = DEFAULT_CONSTANTS, max_leaves: int = 6,
    operators: Sequence[str] = BINARY_OPS + ("neg", "not", "min", "max", "abs", "if"),
) -> st.SearchStrategy:
    """Expression ASTs over ``names`` and ``constants`` with at most ``max_leaves`` leaves."""
    ops = _check_ops(operators)
    if isinstance(max_leaves, bool) or not isinstance(max_leaves, int) or max_leaves < 1:
        raise InvalidArgument(f"max_leaves must be a positive integer, got {max_leaves!r}")
    names = list(names)
    leaf = st.builds(Const, constants)
    if names:
        leaf = st.one_of(st.sampled_from(names).map(Var), leaf)
    binary = [o for o in ops if o in BINARY_OPS]
    calls = [o for o in ops if o in ("min", "max")]

    def grow(children):
        options = []
        if binary:
            options.append(st.builds(Binary, st.sampled_from(binary), children, children))
        if "neg" in ops:
            options.append(children.map(_negate))
        if "not" in ops:
            options.append(children.map(lambda e: Unary("not", e)))
        if "abs" in ops:
            options.append(children.map(lambda e: Call("abs", (e,))))
        if calls:
            options.append(st.builds(lambda f, a, b: Call(f, (a, b)), st.sampled_from(calls), children, children))
        if "if" in ops:
            options.append(st.builds(IfExp, children, children, children))
        return st.one_of(options) if options else children

    return st.recursive(leaf, grow, max_leaves=max_leaves)


def _fresh(prefix: str, taken: set[str]) -> str:
    i = 0
    while f"{prefix}{i}" in taken or f"{prefix}{i}" in RESERVED:
        i += 1
    name = f"{prefix}{i}"
    taken.add(name)
    return name


def programs(
    *,
    inputs: Mapping[str, Int | Seq],
    max_size: int = 12,
    kind: str | None = None,
    constants: st.SearchStrategy[int] = DEFAULT_CONSTANTS,
    operators: Sequence[str] = BINARY_OPS + ("neg", "not", "min", "max", "abs", "if"),
    name: str = "f",
) -> st.SearchStrategy[Program]:
    """Random well-formed programs over a signature, of at most ``max_size`` AST nodes.

    Without sequence inputs they are functions (a few named steps, then ``return``); with sequences,
    ``kind`` chooses ``"scan"`` or ``"fold"`` (default: either): one to two state variables,
    initialised from the scalar inputs and constants, updated in a loop over ``zip`` of the sequences.
    """
    sig = _check_signature(inputs)
    size = _check_size(max_size)
    ops = _check_ops(operators)
    seqs = [n for n, d in sig.items() if isinstance(d, Seq)]
    if kind not in (None, "function", "scan", "fold"):
        raise InvalidArgument(f"kind must be 'function', 'scan', 'fold' or None, got {kind!r}")
    if kind in ("scan", "fold") and not seqs:
        raise InvalidArgument(f"a {kind} needs a sequence input; the signature has none")
    if kind == "function" and seqs:
        raise InvalidArgument("a function cannot read sequence inputs; use kind='scan' or 'fold'")
    if seqs and size < 7:
        raise InvalidArgument(f"a scan or fold needs at least 7 AST nodes; max_size={size} is too small")
    if not name.isidentifier() or name in RESERVED:
        raise InvalidArgument(f"name must be an identifier, got {name!r}")
    params = list(sig)
    scalars = [n for n in params if n not in seqs]
    leaves = max(1, size // 3)

    cache: dict = {}

    def expr(names, max_leaves=leaves):
        key = (tuple(names), max_leaves)  # one strategy object per shape: hypothesis validates each once
        if key not in cache:
            cache[key] = expressions(names=names, constants=constants, max_leaves=max_leaves, operators=ops)
        return cache[key]

    @st.composite
    def function(draw):
        taken = set(params)
        body, known = [], list(scalars)
        for _ in range(draw(st.integers(0, 2))):
            t = _fresh("t", taken)
            body.append(Assign((t,), draw(expr(known, max(1, leaves // 2)))))
            known.append(t)
        body.append(Return(draw(expr(known))))
        return Program(name, tuple(params), tuple(body))

    @st.composite
    def looping(draw):
        chosen_kind = kind or draw(st.sampled_from(["scan", "fold"]))
        taken = set(params)
        states = [_fresh("s", taken) for _ in range(draw(st.integers(1, 2)))]
        used = draw(st.lists(st.sampled_from(seqs), min_size=1, max_size=len(seqs), unique=True))
        used = [s for s in seqs if s in used]
        targets = [_fresh("x", taken) for _ in used]
        small = max(1, leaves // 2)
        before = [Assign((s,), draw(expr(scalars, 1))) for s in states]
        inner = scalars + states + targets
        if len(states) > 1 and draw(st.booleans()):
            update = [Assign(tuple(states), _tuple([draw(expr(inner, small)) for _ in states]))]
        else:
            update = [Assign((s,), draw(expr(inner, small))) for s in states]
        body = list(update)
        if chosen_kind == "scan":
            y = Yield(draw(expr(inner, small)))
            body.insert(draw(st.integers(0, len(body))), y)
            tail = []
        else:
            tail = [Return(draw(expr(scalars + states, small)))]
        loop = For(tuple(targets), tuple(used), tuple(body))
        return Program(name, tuple(params), tuple(before + [loop] + tail))

    strategy = looping() if seqs else function()
    return strategy.filter(lambda p: p.size <= size)


def _tuple(items):
    from programs import Tuple

    return Tuple(tuple(items))


def program_sources(
    *, inputs: Mapping[str, Int | Seq], max_size: int = 12, kind: str | None = None
) -> st.SearchStrategy[str]:
    """Program texts in the grammar: printed random programs with layout variations that keep the AST
    (comments, blank lines, redundant parentheses, trailing whitespace)."""
    base = programs(inputs=inputs, max_size=max_size, kind=kind)

    @st.composite
    def text(draw):
        source = str(draw(base))
        lines = source.splitlines()
        out = []
        for line in lines:
            stripped = line.strip()
            if draw(st.booleans()) and (stripped.startswith("return ") or stripped.startswith("yield ")) and "," not in stripped:
                head, _, value = line.partition(" ")
                indent = line[: len(line) - len(line.lstrip())]
                keyword = stripped.split(" ", 1)[0]
                line = f"{indent}{keyword} ({stripped[len(keyword) + 1:]})"
            if draw(st.booleans()):
                line += "  # " + draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=10))
            out.append(line)
            if draw(st.integers(0, 4)) == 0:
                out.append("")
        return "\n".join(out) + "\n"

    return text()


def int_domains(*, max_value: int = 16) -> st.SearchStrategy:
    """Small ``Int`` ranges within ``[-max_value, 2 * max_value)``."""
    return st.tuples(st.integers(-max_value, max_value), st.integers(1, max_value)).map(lambda t: Int(t[0], t[0] + t[1]))


def seq_domains(*, max_value: int = 16, max_length: int = 6) -> st.SearchStrategy:
    """``Seq`` domains over small ``Int`` ranges, lengths from 1 to ``max_length + 2``."""
    return st.builds(lambda e, lo, extra: Seq(e, length=(lo, lo + extra)), int_domains(max_value=max_value),
                     st.integers(1, max_length), st.integers(0, 2))


def domains(*, max_value: int = 16, max_length: int = 6) -> st.SearchStrategy:
    """Single input domains: small ``Int`` ranges and ``Seq`` over them."""
    return st.one_of(int_domains(max_value=max_value), seq_domains(max_value=max_value, max_length=max_length))


def signatures(*, max_inputs: int = 3, sequences: bool = True, max_value: int = 8, max_length: int = 5) -> st.SearchStrategy:
    """Signatures ``{name: Int | Seq}`` (all sequences sharing one length range)."""
    if max_inputs < 1:
        raise InvalidArgument("max_inputs must be at least 1")

    @st.composite
    def build(draw):
        n = draw(st.integers(1, max_inputs))
        lo_len = draw(st.integers(1, max_length))
        length = (lo_len, lo_len + draw(st.integers(0, 2)))
        sig = {}
        for i in range(n):
            lo = draw(st.integers(-max_value, max_value))
            dom = Int(lo, lo + draw(st.integers(1, max_value)))
            if sequences and draw(st.integers(0, 2)) == 0:
                sig[f"xs{i}"] = Seq(dom, length=length)
            else:
                sig[f"a{i}"] = dom
        return sig

    return build()


def tasks(*, suite: str | None = "quick", family: str | None = None) -> st.SearchStrategy:
    """Built-in tasks: from a suite (default ``quick``; ``None``: every task at default parameters)."""
    import toy_tasks

    try:
        pool = toy_tasks.suite(suite) if suite is not None else [toy_tasks.get(n) for n in toy_tasks.names()]
    except toy_tasks.TaskError as err:
        raise InvalidArgument(str(err)) from None
    if family is not None:
        pool = [t for t in pool if t.family == family]
        if not pool:
            raise InvalidArgument(f"no task of family {family!r} in suite {suite!r}")
    return st.sampled_from(pool)


def task_inputs(task) -> st.SearchStrategy[dict]:
    """One input of ``task`` (or of a signature dict) as plain values: ints, and lists for sequences."""
    sig = _check_signature(task.inputs if hasattr(task, "inputs") else task)
    seqs = [n for n, d in sig.items() if isinstance(d, Seq)]

    @st.composite
    def build(draw):
        length = draw(st.integers(sig[seqs[0]].min_length, sig[seqs[0]].max_length)) if seqs else 0
        out = {}
        for n, d in sig.items():
            if isinstance(d, Int):
                out[n] = draw(st.integers(d.lo, d.hi - 1))
            else:
                out[n] = draw(st.lists(st.integers(d.element.lo, d.element.hi - 1), min_size=length, max_size=length))
        return out

    return build()
