"""Meaning-preserving simplification of programs.

``simplify(program)`` returns a program that computes exactly what ``program`` computes on every
input (under :mod:`programs.semantics`: int64 wrap-around, total ``//`` and ``%``, clipped shift
counts), is never larger (``Program.size``), has the same name, parameters and kind, and is a
fixed point of the passes below:

- constant folding, through ``semantics.SCALAR`` (so folding *is* the semantics);
- local rewrites that are exact under the semantics (listed, each with its reason, in ``_rules``);
- propagation of constants, copies and single-use temporaries (never into a loop from outside);
- dead assignment removal (strong liveness, the loop handled as a fixed point at its head).
"""
from __future__ import annotations

from .ast import (
    COMPARE_OPS,
    Assign,
    Binary,
    Call,
    Const,
    Expr,
    For,
    IfExp,
    Return,
    Stmt,
    Tuple,
    Unary,
    Var,
    map_children,
    negate,
    reads,
    size_of,
    substitute,
    variables,
)
from .program import Program
from .semantics import INT64_MAX, INT64_MIN, SCALAR, wrap

_MAX_ROUNDS = 100  # program-level rounds; each strictly shrinks or canonicalises, so few are used
_MAX_LOCAL = 64  # rewrites at one node (a guard: every rule makes progress)

_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_SELF = {"<": 0, "<=": 1, ">": 0, ">=": 1, "==": 1, "!=": 0}  # x OP x


# --- helpers -------------------------------------------------------------------------------------


def _const(e: Expr, value: int | None = None) -> bool:
    return isinstance(e, Const) and (value is None or e.value == value)


def is_bool(e: Expr) -> bool:
    """True when ``e`` can only be 0 or 1, whatever the inputs."""
    if isinstance(e, Const):
        return e.value in (0, 1)
    if isinstance(e, Unary):
        return e.op == "not"
    if isinstance(e, Binary):
        if e.op in COMPARE_OPS:
            return True
        if e.op == "and":  # right side or 0
            return is_bool(e.right)
        if e.op in ("or", "|", "^", "*"):
            return is_bool(e.left) and is_bool(e.right)
        if e.op == "&":
            return is_bool(e.left) or is_bool(e.right)
        if e.op == "%":  # floor modulo by 2 is 0 or 1
            return _const(e.right, 2)
        return False
    if isinstance(e, Call):
        return all(is_bool(a) for a in e.args)
    if isinstance(e, IfExp):
        return is_bool(e.then) and is_bool(e.orelse)
    return False


def _fold(e: Expr) -> Expr | None:
    """The constant value of ``e`` when all its operands are constants (semantics.SCALAR)."""
    if isinstance(e, Unary) and isinstance(e.operand, Const):
        return Const(SCALAR["neg" if e.op == "-" else "not"](e.operand.value))
    if isinstance(e, Binary) and isinstance(e.left, Const) and isinstance(e.right, Const):
        return Const(SCALAR[e.op](e.left.value, e.right.value))
    if isinstance(e, Call) and all(isinstance(a, Const) for a in e.args):
        return Const(SCALAR[e.func](*(a.value for a in e.args)))
    return None


# --- linear forms: s * base + k (mod 2**64), s in {1, -1} ----------------------------------------


def _lin(e: Expr) -> tuple[int, Expr, int]:
    if isinstance(e, Binary) and e.op == "+" and isinstance(e.right, Const) and not isinstance(e.left, Const):
        return 1, e.left, e.right.value
    if isinstance(e, Binary) and e.op == "+" and isinstance(e.left, Const) and not isinstance(e.right, Const):
        return 1, e.right, e.left.value
    if isinstance(e, Binary) and e.op == "-" and isinstance(e.right, Const) and not isinstance(e.left, Const):
        return 1, e.left, wrap(-e.right.value)
    if isinstance(e, Binary) and e.op == "-" and isinstance(e.left, Const) and not isinstance(e.right, Const):
        return -1, e.right, e.left.value
    if isinstance(e, Unary) and e.op == "-":
        return -1, e.operand, 0
    return 1, e, 0


def _build_lin(s: int, base: Expr, k: int) -> Expr:
    k = wrap(k)
    if s == 1:
        if k == 0:
            return base
        if 0 < k or k == INT64_MIN:
            return Binary("+", base, Const(k))
        return Binary("-", base, Const(-k))
    if k == 0:
        return negate(base)
    return Binary("-", Const(k), base)


def _linear_rewrite(e: Expr) -> Expr | None:
    """Combine the constants of ``(x ± c1) ± c2``, ``-(x ± c)`` and the like (+, -, neg are a ring mod 2**64)."""
    if isinstance(e, Unary) and e.op == "-":
        s, b, k = _lin(e.operand)
        new = _build_lin(-s, b, -k)
    elif isinstance(e, Binary) and e.op in ("+", "-"):
        if isinstance(e.right, Const) and not isinstance(e.left, Const):
            s, b, k = _lin(e.left)
            new = _build_lin(s, b, k + e.right.value if e.op == "+" else k - e.right.value)
        elif isinstance(e.left, Const) and not isinstance(e.right, Const):
            s, b, k = _lin(e.right)
            new = _build_lin(s, b, e.left.value + k) if e.op == "+" else _build_lin(-s, b, e.left.value - k)
        else:
            return None
    else:
        return None
    return new if size_of(new) < size_of(e) else None


# --- local rules ---------------------------------------------------------------------------------


def _truth(e: Expr) -> Expr:
    """A simpler expression with the same zero/non-zero-ness, for places that only test it
    (the condition of ``if``, the operand of ``not``, the left side of ``and``)."""
    while True:
        if isinstance(e, Binary) and e.op == "!=" and _const(e.right, 0):
            e = e.left  # (x != 0) != 0  iff  x != 0
        elif isinstance(e, Binary) and e.op == "!=" and _const(e.left, 0):
            e = e.right
        elif isinstance(e, Unary) and e.op == "not" and isinstance(e.operand, Unary) and e.operand.op == "not":
            e = e.operand.operand  # not not x is non-zero iff x is
        elif isinstance(e, IfExp) and _const(e.then, 1) and _const(e.orelse, 0):
            e = e.cond  # (1 if c else 0) is non-zero iff c is
        else:
            return e


def _rules(e: Expr) -> Expr | None:
    """One rewrite at the top of ``e`` (children already simplified), or None.

    Every rule is exact on all int64 values under programs.semantics; the reason is given beside
    it. Expressions have no side effects and are deterministic, so dropping or duplicating an
    operand never changes a result, and structurally equal operands have equal values.
    """
    folded = _fold(e)
    if folded is not None:
        return folded

    if isinstance(e, Unary):
        x = e.operand
        if e.op == "-":
            if isinstance(x, Binary) and x.op == "-":
                return Binary("-", x.right, x.left)  # wrap(-(a - b)) == wrap(b - a)
            return _linear_rewrite(e)  # --x -> x, -(x + c) -> -c - x, ...
        # not
        t = _truth(x)
        if t is not x:
            return Unary("not", t)  # not only tests its operand against 0
        if isinstance(x, Binary) and x.op in _NEGATE:
            return Binary(_NEGATE[x.op], x.left, x.right)  # integers are totally ordered
        if isinstance(x, Unary) and x.op == "not" and is_bool(x.operand):
            return x.operand  # not not b == b when b is 0 or 1
        return None

    if isinstance(e, Binary):
        return _binary(e)

    if isinstance(e, Call):
        return _call(e)

    if isinstance(e, IfExp):
        c, a, b = e.cond, e.then, e.orelse
        if isinstance(c, Const):
            return a if c.value != 0 else b  # picks by c != 0
        if a == b:
            return a  # both branches equal
        t = _truth(c)
        if t is not c:
            return IfExp(t, a, b)  # only c != 0 matters
        if isinstance(c, Unary) and c.op == "not":
            return IfExp(c.operand, b, a)  # not c != 0 iff c == 0
        if isinstance(a, IfExp) and a.cond == c:
            return IfExp(c, a.then, b)  # inner test repeats the outer one, which holds
        if isinstance(b, IfExp) and b.cond == c:
            return IfExp(c, a, b.orelse)  # inner test repeats the outer one, which fails
        if _const(a, 1) and _const(b, 0):
            return c if is_bool(c) else Binary("!=", c, Const(0))  # 1 if c else 0 == (c != 0)
        if _const(a, 0) and _const(b, 1):
            return Unary("not", c)  # 0 if c else 1 == not c
        if a == c:
            return Binary("or", c, b)  # c if c != 0 else b == c or b
        if b == c:
            return Binary("and", c, a)  # a if c != 0 else c (== 0) == c and a
        return None
    return None


def _binary(e: Binary) -> Expr | None:
    op, x, y = e.op, e.left, e.right

    if op in ("and", "or"):
        if isinstance(x, Const):
            if op == "and":
                return y if x.value != 0 else Const(0)  # semantics of and
            return x if x.value != 0 else y  # semantics of or
        if op == "and":
            t = _truth(x)
            if t is not x:
                return Binary("and", t, y)  # and only tests its left side against 0
            if _const(y, 0):
                return Const(0)  # 0 if x != 0 else 0
            if x == y:
                return x  # x if x != 0 else 0 == x
            if _const(y, 1) and is_bool(x):
                return x  # 1 if b else 0 == b for b in {0, 1}
            return None
        if _const(y, 0):
            return x  # x if x != 0 else 0 == x
        if x == y:
            return x  # x if x != 0 else x
        return None

    if op in COMPARE_OPS:
        return _compare(e)

    if op in ("+", "-") and isinstance(y, Const) and INT64_MIN < y.value < 0 and not isinstance(x, Const):
        return Binary("-" if op == "+" else "+", x, Const(-y.value))  # x + -c == x - c (mod 2**64)

    if op == "+":
        if _const(y, 0):
            return x  # wrap(x + 0) == x
        if _const(x, 0):
            return y
        if isinstance(y, Unary) and y.op == "-":
            return Binary("-", x, y.operand)  # wrap(x + wrap(-y)) == wrap(x - y)
        if isinstance(x, Unary) and x.op == "-":
            return Binary("-", y, x.operand)  # wrap(wrap(-x) + y) == wrap(y - x)
        if isinstance(x, Binary) and x.op == "-" and x.right == y:
            return x.left  # (a - b) + b == a modulo 2**64
        if isinstance(y, Binary) and y.op == "-" and y.right == x:
            return y.left  # b + (a - b) == a modulo 2**64
        return _linear_rewrite(e)

    if op == "-":
        if _const(y, 0):
            return x  # wrap(x - 0) == x
        if _const(x, 0):
            return negate(y)  # wrap(0 - y) == wrap(-y)
        if x == y:
            return Const(0)  # wrap(x - x) == 0
        if isinstance(y, Unary) and y.op == "-":
            return Binary("+", x, y.operand)  # wrap(x - wrap(-y)) == wrap(x + y)
        if isinstance(x, Binary) and x.op == "+" and x.right == y:
            return x.left  # (a + b) - b == a modulo 2**64
        if isinstance(x, Binary) and x.op == "+" and x.left == y:
            return x.right  # (a + b) - a == b modulo 2**64
        if isinstance(x, Binary) and x.op == "-" and x.left == y:
            return negate(x.right)  # (a - b) - a == -b modulo 2**64
        if isinstance(y, Binary) and y.op == "-" and y.left == x:
            return y.right  # a - (a - b) == b modulo 2**64
        return _linear_rewrite(e)

    if op == "*":
        for a, b in ((x, y), (y, x)):
            if _const(b, 0):
                return Const(0)  # wrap(a * 0) == 0
            if _const(b, 1):
                return a  # wrap(a * 1) == a
            if _const(b, -1):
                return negate(a)  # wrap(a * -1) == wrap(-a)
        return _chain(e, lambda p, q: wrap(p * q))  # multiplication mod 2**64 is associative

    if op == "//":
        if _const(y, 0):
            return Const(0)  # x // 0 == 0
        if _const(y, 1):
            return x  # floor(x / 1) == x
        if _const(y, -1):
            return negate(x)  # wrap(x // -1) == wrap(-x)
        if _const(x, 0):
            return Const(0)  # 0 // 0 == 0 and 0 // b == 0
        return None

    if op == "%":
        if _const(y, 0):
            return x  # x % 0 == x
        if _const(y, 1) or _const(y, -1):
            return Const(0)  # floor modulo by +-1 is 0
        if _const(x, 0):
            return Const(0)  # 0 % 0 == 0 and 0 % b == 0
        if x == y:
            return Const(0)  # x % x: 0 for x != 0, and x % 0 == x == 0
        return None

    if op == "&":
        for a, b in ((x, y), (y, x)):
            if _const(b, 0):
                return Const(0)  # a & 0 == 0
            if _const(b, -1):
                return a  # -1 has every bit set
            if _const(b, 1) and is_bool(a):
                return a  # b & 1 == b for b in {0, 1}
        if x == y:
            return x  # idempotent
        return _chain(e, lambda p, q: p & q)  # associative

    if op == "|":
        for a, b in ((x, y), (y, x)):
            if _const(b, 0):
                return a  # a | 0 == a
            if _const(b, -1):
                return Const(-1)  # -1 has every bit set
        if x == y:
            return x  # idempotent
        return _chain(e, lambda p, q: p | q)  # associative

    if op == "^":
        for a, b in ((x, y), (y, x)):
            if _const(b, 0):
                return a  # a ^ 0 == a
            if _const(b, 1) and is_bool(a):
                return Unary("not", a)  # b ^ 1 == not b for b in {0, 1}
        if x == y:
            return Const(0)  # x ^ x == 0
        return _chain(e, lambda p, q: p ^ q)  # associative

    if op in ("<<", ">>"):
        if isinstance(y, Const):
            n = y.value
            if n <= 0:
                return x  # counts are clipped to [0, 63]: a count <= 0 shifts by 0
            if n > 63:
                return Binary(op, x, Const(63))  # counts above 63 mean 63
            if isinstance(x, Binary) and x.op == op and isinstance(x.right, Const) and 0 < x.right.value <= 63:
                total = x.right.value + n
                if op == ">>":
                    return Binary(">>", x.left, Const(min(total, 63)))  # arithmetic shifts add; 63 fills with the sign
                if total <= 63:
                    return Binary("<<", x.left, Const(total))  # wrap((wrap(v << a)) << b) == wrap(v << (a + b))
                return Const(0)  # v << (>= 64) has no bits left in the low 64
        if _const(x, 0):
            return Const(0)  # 0 shifted either way is 0
        if op == ">>" and _const(x, -1):
            return Const(-1)  # arithmetic shift of -1 is -1
        return None
    return None


def _chain(e: Binary, combine) -> Expr | None:
    """``(x op c1) op c2`` -> ``x op (c1 op c2)`` for an associative, commutative ``op``."""
    op, x, y = e.op, e.left, e.right
    if isinstance(y, Const):
        inner, c = x, y.value
    elif isinstance(x, Const):
        inner, c = y, x.value
    else:
        return None
    if not (isinstance(inner, Binary) and inner.op == op):
        return None
    if isinstance(inner.right, Const):
        base, d = inner.left, inner.right.value
    elif isinstance(inner.left, Const):
        base, d = inner.right, inner.left.value
    else:
        return None
    return Binary(op, base, Const(combine(d, c)))


def _compare(e: Binary) -> Expr | None:
    op, x, y = e.op, e.left, e.right
    if x == y:
        return Const(_SELF[op])  # a value compared with itself
    # Comparisons with the ends of the int64 range.
    if isinstance(y, Const):
        v = y.value
        if (op == "<" and v == INT64_MIN) or (op == ">" and v == INT64_MAX):
            return Const(0)
        if (op == ">=" and v == INT64_MIN) or (op == "<=" and v == INT64_MAX):
            return Const(1)
    if isinstance(x, Const):
        v = x.value
        if (op == ">" and v == INT64_MIN) or (op == "<" and v == INT64_MAX):
            return Const(0)
        if (op == "<=" and v == INT64_MIN) or (op == ">=" and v == INT64_MAX):
            return Const(1)
    if op in ("==", "!="):
        if isinstance(x, Const) and not isinstance(y, Const):
            x, y = y, x  # equality is symmetric; look at  expr OP const
        if isinstance(y, Const):
            c = y.value
            if is_bool(x):
                if c not in (0, 1):
                    return Const(int(op == "!="))  # a 0/1 value never equals another constant
                if (op == "!=") == (c == 0):
                    return x  # b != 0 and b == 1 are b itself
                return Unary("not", x)  # b == 0 and b != 1 are not b
            # x -> s*x + k and x -> x ^ k are bijections of int64, so they can be undone.
            s, b, k = _lin(x)
            if b is not x:
                return Binary(op, b, Const(wrap(s * (c - k))))
            if isinstance(x, Binary) and x.op == "^" and isinstance(x.right, Const):
                return Binary(op, x.left, Const(x.right.value ^ c))
            if isinstance(x, Binary) and x.op == "^" and isinstance(x.left, Const):
                return Binary(op, x.right, Const(x.left.value ^ c))
            if c == 0 and isinstance(x, Binary) and x.op in ("-", "^"):
                return Binary(op, x.left, x.right)  # wrap(a - b) == 0 iff a == b; a ^ b == 0 iff a == b
    return None


def _call(e: Call) -> Expr | None:
    if e.func == "abs":
        (x,) = e.args
        if isinstance(x, Call) and x.func == "abs":
            return x  # abs(x) is >= 0 or is -2**63 (abs(-2**63) wraps to itself); both are fixed by abs
        if isinstance(x, Unary) and x.op == "-":
            return Call("abs", (x.operand,))  # abs(wrap(-x)) == abs(x), -2**63 included
        if is_bool(x):
            return x  # 0 and 1 are their own absolute values
        return None
    # min / max: associative, commutative, idempotent on a total order.
    args: list[Expr] = []
    for a in e.args:
        if isinstance(a, Call) and a.func == e.func:
            args.extend(a.args)  # min(min(a, b), c) == min(a, b, c)
        else:
            args.append(a)
    unique: list[Expr] = []
    for a in args:
        if a not in unique:
            unique.append(a)  # min(a, a) == a
    absorbing, neutral = (INT64_MIN, INT64_MAX) if e.func == "min" else (INT64_MAX, INT64_MIN)
    consts = [a.value for a in unique if isinstance(a, Const)]
    rest: list[Expr] = []
    if consts:
        c = SCALAR[e.func](*consts) if len(consts) > 1 else consts[0]
        if c == absorbing:
            return Const(c)  # nothing is below -2**63 / above 2**63-1
    placed = False
    for a in unique:
        if not isinstance(a, Const):
            rest.append(a)
        elif not placed:  # all constants become one, where the first one stood
            placed = True
            if c != neutral:  # min(x, 2**63-1) == x, max(x, -2**63) == x
                rest.append(Const(c))
    if not rest:
        return Const(neutral)  # only the neutral bound was there
    if len(rest) == 1:
        return rest[0]
    new = Call(e.func, tuple(rest))
    return None if new == e else new


def _rewrite(e: Expr) -> Expr:
    """Apply local rules at the top of ``e`` until none applies (never growing)."""
    for _ in range(_MAX_LOCAL):
        new = _rules(e)
        if new is None or new == e:
            return e
        if size_of(new) > size_of(e):
            return e
        e = new
        if not isinstance(e, (Unary, Binary, Call, IfExp)):
            return e
        # a rule builds at most the top node afresh; its operands are already simplified
    return e


def simplify_expr(e: Expr) -> Expr:
    """A simpler expression with the same value on every environment (bottom-up local rewriting)."""
    if isinstance(e, (Const, Var)):
        return e
    if isinstance(e, (Unary, Binary, Call, IfExp)):
        return _rewrite(map_children(e, simplify_expr))
    if isinstance(e, Tuple):
        return map_children(e, simplify_expr)  # no rule applies at the top of a tuple
    raise TypeError(f"not an expression: {e!r}")


# --- statements ----------------------------------------------------------------------------------


class _Parts:
    """A program cut into its regions: before the loop, the loop, after it, the final return."""

    def __init__(self, program: Program):
        self.params = program.params
        self.before: list[Assign] = []
        self.loop: For | None = None
        self.body: list[Stmt] = []
        self.after: list[Assign] = []
        self.ret: Return | None = None
        for s in program.body:
            if isinstance(s, For):
                self.loop = s
                self.body = list(s.body)
            elif isinstance(s, Return):
                self.ret = s
            elif self.loop is None:
                self.before.append(s)
            else:
                self.after.append(s)

    def rebuild(self, program: Program) -> Program:
        stmts: list[Stmt] = list(self.before)
        if self.loop is not None:
            stmts.append(For(self.loop.targets, self.loop.iters, tuple(self.body), pos=self.loop.pos))
        stmts.extend(self.after)
        if self.ret is not None:
            stmts.append(self.ret)
        return Program(program.name, program.params, tuple(stmts), pos=program.pos)

    def regions(self) -> list[tuple[str, list[Stmt]]]:
        out = [("before", self.before), ("body", self.body), ("after", self.after)]
        if self.ret is not None:
            out.append(("after", [self.ret]))
        return out

    def all_stmts(self) -> list[Stmt]:
        return [s for _, stmts in self.regions() for s in stmts]


def _map_values(parts: _Parts, f) -> None:
    """Apply ``f`` to the value of every assignment, yield and return."""
    parts.before = [map_children(s, f) for s in parts.before]
    parts.body = [map_children(s, f) for s in parts.body]
    parts.after = [map_children(s, f) for s in parts.after]
    if parts.ret is not None:
        parts.ret = map_children(parts.ret, f)


def _propagate(parts: _Parts) -> bool:
    """Replace one name by its value where that is exact; True if it did (see the two rules)."""
    return _propagate_single(parts) or _propagate_local(parts)


def _propagate_single(parts: _Parts) -> bool:
    """A name ``t`` assigned exactly once (a one-target assignment; never a parameter or loop
    variable) has that value wherever it is read: reads come after the assignment (the checker
    forbids earlier ones, and a read before the assignment in the loop would need a second one
    before the loop). Its value ``e`` may replace those reads when every name ``e`` reads is
    itself assigned once (params and loop variables count as one assignment), so it still has
    the same value at the read. Constants and plain names are copied everywhere; other
    expressions only into a single read, and never from outside the loop into its body.
    """
    defs: dict[str, int] = {p: 1 for p in parts.params}
    if parts.loop is not None:
        for t in parts.loop.targets:
            defs[t] = defs.get(t, 0) + 1
    for s in parts.all_stmts():
        if isinstance(s, Assign):
            for t in s.targets:
                defs[t] = defs.get(t, 0) + 1
    uses: dict[str, list[str]] = {}
    for region, stmts in parts.regions():
        for s in stmts:
            for n in reads(s.value):
                uses.setdefault(n, []).append(region)

    for region, stmts in parts.regions():
        for i, s in enumerate(stmts):
            if not isinstance(s, Assign) or len(s.targets) != 1:
                continue
            (t,) = s.targets
            if defs.get(t) != 1:
                continue
            v = s.value
            where = uses.get(t, [])
            if not where:
                continue  # dead: left to dead-code removal
            if not all(defs.get(n) == 1 for n in reads(v)):
                continue
            if not isinstance(v, (Const, Var)):
                if len(where) != 1:
                    continue
                if where[0] == "body" and region != "body":
                    continue  # do not move work into the loop
            del stmts[i]
            _map_values(parts, lambda e: substitute(e, {t: v}))
            return True
    return False


def _propagate_local(parts: _Parts) -> bool:
    """Straight-line forwarding inside one region (before the loop, its body, after it).

    ``t = e`` at position i reaches the reads of ``t`` up to (and including the value of) the
    next assignment to ``t`` at j, or to the end of the region when there is none; in that case
    ``t`` must not be live at the end of the region (so no read outside the region sees it).
    ``e`` may replace those reads when nothing assigns a name ``e`` reads between i and the
    read (``e`` may read ``t`` itself: once the assignment is gone, ``t`` keeps its old value up
    to j). Constants and plain names go into any number of reads, other expressions into one.
    """
    for stmts, live_end, write_back in _segments(parts):
        for i, s in enumerate(stmts):
            if not isinstance(s, Assign) or len(s.targets) != 1:
                continue
            (t,) = s.targets
            e = s.value
            names = variables(e)  # may include t itself: its old value, unchanged up to j
            j = next((k for k in range(i + 1, len(stmts)) if isinstance(stmts[k], Assign) and t in stmts[k].targets), None)
            last = j if j is not None else len(stmts) - 1
            if j is None and t in live_end:
                continue
            hits = [(k, reads(stmts[k].value).count(t)) for k in range(i + 1, last + 1)]
            hits = [(k, c) for k, c in hits if c]
            if not hits:
                continue  # dead: left to dead-code removal
            if not isinstance(e, (Const, Var)) and sum(c for _, c in hits) != 1:
                continue
            last_read = hits[-1][0]
            if any(isinstance(stmts[k], Assign) and names & set(stmts[k].targets) for k in range(i + 1, last_read)):
                continue  # a name e reads changes before a read of t
            new = list(stmts)
            for k, _ in hits:
                new[k] = map_children(new[k], lambda v: substitute(v, {t: e}))
            del new[i]
            write_back(new)
            return True
    return False


def _segments(parts: _Parts):
    """(statements, names live at their end, setter) for each straight-line region."""
    if parts.loop is None:

        def set_function(new):
            parts.before, parts.ret = new[:-1], new[-1]

        return [(parts.before + [parts.ret], set(), set_function)]
    head = _loop_head_live(parts)
    out = []

    def setter(attr):
        return lambda new: setattr(parts, attr, new)

    out.append((parts.before, head, setter("before")))
    out.append((parts.body, head, setter("body")))
    if parts.ret is not None:

        def set_after(new):
            parts.after, parts.ret = new[:-1], new[-1]

        out.append((parts.after + [parts.ret], set(), set_after))
    return out


def _loop_head_live(parts: _Parts) -> set[str]:
    """Names live at the loop head: live after the loop (it may run zero times), or read by the
    body before being set in it, in any later step (a fixed point)."""
    live: set[str] = variables(parts.ret.value) if parts.ret is not None else set()
    _, live = _live_assigns(parts.after, live)
    targets = set(parts.loop.targets)
    head = set(live)
    while True:
        _, into = _live_assigns(parts.body, head)
        new = live | (into - targets)  # the loop variables are set afresh at each step
        if new == head:
            return head
        head = new


def _live_assigns(stmts: list[Stmt], live: set[str]) -> tuple[list[Stmt], set[str]]:
    """Backward pass over straight-line statements: drop dead targets; return (kept, live before)."""
    kept: list[Stmt] = []
    live = set(live)
    for s in reversed(stmts):
        if isinstance(s, Assign):
            items = s.value.items if len(s.targets) > 1 else (s.value,)
            before = live - set(s.targets)
            keep = []
            for t, v in zip(s.targets, items):
                if t not in live:
                    continue  # dead target
                if isinstance(v, Var) and v.name == t:
                    before.add(t)  # t = t changes nothing; t stays live through it
                    continue
                keep.append((t, v))
                before |= variables(v)
            live = before
            if not keep:
                continue
            if len(keep) == len(s.targets):
                kept.append(s)
            elif len(keep) == 1:
                kept.append(Assign((keep[0][0],), keep[0][1], pos=s.pos))
            else:
                kept.append(Assign(tuple(t for t, _ in keep), Tuple(tuple(v for _, v in keep)), pos=s.pos))
        else:  # Yield / Return
            live |= variables(s.value)
            kept.append(s)
    kept.reverse()
    return kept, live


def _dead_code(parts: _Parts) -> None:
    live: set[str] = variables(parts.ret.value) if parts.ret is not None else set()
    parts.after, live = _live_assigns(parts.after, live)
    if parts.loop is not None:
        head = _loop_head_live(parts)
        body, _ = _live_assigns(parts.body, head)
        if not body:
            # A loop needs a body and must stay (its sequences are inputs): keep one dead
            # assignment of a constant to a name read nowhere.
            body = [Assign((_fresh_name(parts, body),), Const(0))]
        parts.body = body
        live = head
    parts.before, _ = _live_assigns(parts.before, live)


def _fresh_name(parts: _Parts, body: list[Stmt]) -> str:
    """A name not used by the kept statements (stable across rounds: the placeholder itself is dead)."""
    taken = set(parts.loop.targets) | set(parts.loop.iters)
    for s in parts.before + body + parts.after + ([parts.ret] if parts.ret else []):
        if isinstance(s, Assign):
            taken.update(s.targets)
        taken.update(reads(s.value))
    taken.update(parts.params)
    name, i = "_", 0
    while name in taken:
        name, i = f"_{i}", i + 1
    return name


def _round(program: Program) -> Program:
    parts = _Parts(program)
    _map_values(parts, simplify_expr)
    while _propagate(parts):
        pass
    _dead_code(parts)
    return parts.rebuild(program)


def simplify(program: Program) -> Program:
    """An equivalent program, no larger, simplified to a fixed point (same name, params and kind)."""
    for _ in range(_MAX_ROUNDS):
        new = _round(program)
        if new == program:
            break
        if new.size > program.size:  # never expected; a guard so that simplify never grows a program
            break
        program = new
    return program
