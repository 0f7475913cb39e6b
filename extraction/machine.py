"""Finite machines read off a network: a Moore machine, its minimisation, and its translation into a
loop program whose state update and output are small synthesized expressions.

Writing a machine as ``s = T(s, x); yield O(s)`` first searches for small arithmetic T and O under a few
cheap state numberings (by output, breadth-first; every order only for machines of at most 4 states).
When none fits, the machine is written as a case split (``case_split``): T as a conditional over the
state whose branches are small expressions of the symbol (or a decision tree over the symbol's
components), O as a conditional over runs of states with one output. That program equals the machine on
every traced transition by construction, for any machine up to ``CASE_SPLIT_STATES`` states; whether
its size is acceptable is for the caller (the comparator's size cap) to judge.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from programs import Assign, Binary, Const, For, IfExp, Program, Return, Tuple, Var, Yield
from programs.ast import RESERVED, Expr, size_of
from programs.budget import Budget

Symbol = tuple[int, ...]  # the values of every sequence element at a step, then every scalar input

# Candidates one sub-search (a transition or output expression) may try: about half a second's work
# here. A limit on work, not time, so that what is read does not depend on the machine's speed.
SUB_SEARCH_CANDIDATES = 500_000
# The largest machine written as a case split, and the work each of its per-state sub-searches may do
# (a branch that no small expression fits is written as a decision tree over the symbol instead).
CASE_SPLIT_STATES = 64
BRANCH_CANDIDATES = 20_000
BRANCH_SIZE = 7


@dataclass(frozen=True)
class Moore:
    """States ``0..n-1``; ``delta[(q, symbol)] -> q'`` (partial: unseen pairs are don't-cares);
    ``output[q]`` a tuple of values, or None for a state whose output is never read (the start)."""

    n: int
    start: int
    delta: dict[tuple[int, Symbol], int]
    output: tuple[tuple[int, ...] | None, ...]

    def run(self, symbols: list[Symbol]) -> list[int]:
        q, seen = self.start, []
        for a in symbols:
            q = self.delta.get((q, a), -1)
            if q < 0:
                break
            seen.append(q)
        return seen

    def renumber(self, order: list[int]) -> "Moore":
        """``order[new] = old``."""
        new_of = {old: new for new, old in enumerate(order)}
        return Moore(self.n, new_of[self.start], {(new_of[q], a): new_of[r] for (q, a), r in self.delta.items()},
                     tuple(self.output[old] for old in order))


def minimise(m: Moore) -> tuple[Moore, dict[int, int]]:
    """Moore partition refinement (states alike in output and in the blocks their successors reach are
    merged), keeping only states reachable from the start. A start state whose output is never read is
    merged into any state with the same successors. Returns the machine and old state -> new state."""
    reach = _reachable(m)
    alphabet = sorted({a for (_, a) in m.delta})
    block = {q: ("out", m.output[q]) for q in reach}
    while True:
        sig = {q: (block[q], tuple(block.get(m.delta.get((q, a)), None) for a in alphabet)) for q in reach}
        ids: dict = {}
        new = {q: ids.setdefault(s, len(ids)) for q, s in sorted(sig.items())}
        if len(set(new.values())) == len(set(block.values())):
            block = new
            break
        block = new
    # a start whose output is unread may join a state with the same successor blocks
    if m.output[m.start] is None:
        succ = lambda q: tuple(block.get(m.delta.get((q, a)), None) for a in alphabet)  # noqa: E731
        for q in reach:
            if q != m.start and block[q] != block[m.start] and _compatible(succ(q), succ(m.start)):
                merged = block[m.start]
                block = {r: (block[q] if b == merged else b) for r, b in block.items()}
                break
    order = sorted(set(block.values()))
    renum = {b: i for i, b in enumerate(order)}
    delta, output = {}, [None] * len(order)
    for q in reach:
        b = renum[block[q]]
        if m.output[q] is not None:
            output[b] = m.output[q]
        for a in alphabet:
            r = m.delta.get((q, a))
            if r is not None:
                delta[(b, a)] = renum[block[r]]
    return Moore(len(order), renum[block[m.start]], delta, tuple(output)), {q: renum[block[q]] for q in reach}


def merge_compatible(m: Moore, *, budget: Budget | None = None) -> tuple[Moore, dict[int, int]]:
    """Merge states that no observation tells apart, with their successors (RPNI-style folding).

    The traced machine is partial: a state reached only with one value of a fold's scalar input (its
    target, say) has no transitions on symbols with another value. Such states are merged whenever no
    output and no transition, followed through the merge, contradicts it. A failed fold is undone from a
    log of what it changed (no copies of the machine per try). When ``budget`` runs out, the merges done
    so far are kept (the machine is still consistent with every observation) and no more are tried.
    Returns the machine and old state -> new state."""
    parent = list(range(m.n))
    output = list(m.output)
    succ: list[dict] = [dict() for _ in range(m.n)]
    for (q, a), r in m.delta.items():
        succ[q][a] = r

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    def fold(p, q) -> bool:
        log: list[tuple] = []  # ("par", x) | ("out", x, old) | ("add", x, sym) | ("set", x, sym, old)
        todo = [(p, q)]
        ok = True
        while todo:
            a, b = todo.pop()
            a, b = find(a), find(b)
            if a == b:
                continue
            if output[a] is not None and output[b] is not None and output[a] != output[b]:
                ok = False
                break
            lo, hi = min(a, b), max(a, b)
            parent[hi] = lo
            log.append(("par", hi))
            if output[lo] is None and output[hi] is not None:
                log.append(("out", lo, output[lo]))
                output[lo] = output[hi]
            for sym, r in succ[hi].items():
                if sym in succ[lo]:
                    todo.append((succ[lo][sym], r))
                else:
                    succ[lo][sym] = r
                    log.append(("add", lo, sym))
        if not ok:
            for entry in reversed(log):
                if entry[0] == "par":
                    parent[entry[1]] = entry[1]
                elif entry[0] == "out":
                    output[entry[1]] = entry[2]
                else:
                    del succ[entry[1]][entry[2]]
        return ok

    tries = 0
    for q in range(m.n):
        for p in range(q):
            if find(p) != p or find(q) != q:
                continue
            tries += 1
            if budget is not None and tries % 64 == 0 and budget.expired:
                break
            fold(p, q)
        if budget is not None and budget.expired:
            break
    roots = sorted({find(q) for q in range(m.n)})
    new = {r: i for i, r in enumerate(roots)}
    to_new = {q: new[find(q)] for q in range(m.n)}
    delta = {(to_new[q], a): to_new[r] for (q, a), r in m.delta.items()}
    outs = [None] * len(roots)
    for q in range(m.n):
        if m.output[q] is not None:
            outs[to_new[q]] = m.output[q]
    return Moore(len(roots), to_new[m.start], delta, tuple(outs)), to_new


def _compatible(a, b) -> bool:
    return all(x == y or x is None or y is None for x, y in zip(a, b))


def _reachable(m: Moore) -> list[int]:
    seen, todo = {m.start}, [m.start]
    by_state: dict[int, list[int]] = {}
    for (q, _), r in m.delta.items():
        by_state.setdefault(q, []).append(r)
    while todo:
        q = todo.pop()
        for r in by_state.get(q, []):
            if r not in seen:
                seen.add(r)
                todo.append(r)
    return sorted(seen)


def numberings(m: Moore, *, exhaustive_up_to: int = 4) -> list[list[int]]:
    """Orders of the states to try when writing the machine as arithmetic: by output value (when the
    output tells states apart, the state can simply be the output), breadth-first from the start, and,
    for small machines, every order."""
    orders: list[list[int]] = []
    outs = [m.output[q] for q in range(m.n)]
    known = [o for o in outs if o is not None]
    if len(set(known)) == len(known) and all(len(o) == 1 for o in known):
        # state number = output value where the values are distinct small non-negative integers
        vals = [o[0] if o is not None else None for o in outs]
        if all(v is None or 0 <= v < 64 for v in vals):
            free = iter(v for v in range(64) if v not in vals)
            number = [v if v is not None else next(free) for v in vals]
            order = sorted(range(m.n), key=lambda q: number[q])
            if sorted(number) == list(range(m.n)):
                orders.append(order)
    bfs, todo = [m.start], [m.start]
    succ: dict[int, list[int]] = {}
    for (q, a), r in sorted(m.delta.items()):
        succ.setdefault(q, []).append(r)
    while todo:
        q = todo.pop(0)
        for r in succ.get(q, []):
            if r not in bfs:
                bfs.append(r)
                todo.append(r)
    bfs += [q for q in range(m.n) if q not in bfs]
    if bfs not in orders:
        orders.append(bfs)
    if m.n <= exhaustive_up_to:
        orders += [list(p) for p in itertools.permutations(range(m.n)) if list(p) not in orders]
    return orders


@dataclass(frozen=True)
class Signature:
    """What the program's loop reads: the task's parameters, which are sequences, and its kind."""

    name: str
    params: tuple[str, ...]
    sequences: tuple[str, ...]
    scalars: tuple[str, ...]
    kind: str


def fresh(prefix: str, taken: set[str]) -> str:
    name, i = prefix, 0
    while name in taken or name in RESERVED:
        i += 1
        name = f"{prefix}{i}"
    taken.add(name)
    return name


def to_program(m: Moore, sig: Signature, *, operators, budget: Budget, seed: int = 0) -> tuple[Program | None, list[str]]:
    """Write ``m`` as ``s = start; for ...: s = T(s, elements, scalars); yield/return O(s)``, with T and O
    found by synthesis over the machine's tables. Tries several state numberings and keeps the smallest
    program; when none gives expressions, writes the machine as a case split (``case_split``). Returns
    (None, reasons) when neither works in time."""
    taken = set(sig.params)
    elems = [fresh(_singular(s), taken) for s in sig.sequences]
    state = fresh("s", taken)
    rows = sorted(m.delta.items())
    if not rows:
        return None, ["the machine has no transitions"]
    from synthesis.methods.enumerative import WORK_LIMIT_REACHED

    best, reasons = None, []
    searches: list[str] = []  # why expression searches abstained (out of memory, say), passed up once each
    ops = tuple(operators)
    orders = numberings(m)
    # A numbering's output expression does not depend on the size bound of its update: it is searched once per
    # numbering, the first time that numbering is tried, and before its update (a numbering whose output no
    # expression fits needs no update search at any bound).
    outputs: dict[int, Expr | None] = {}
    # A numbering whose update search ran out of work under one size bound runs out at the same candidate under
    # any larger one (the enumeration is by size, the same whatever the bound): it is not searched again.
    worked_out: set[int] = set()
    # Deepen the size bound over all numberings together: a numbering that makes the update small is
    # found before any time goes into large searches under numberings that make it hard.
    for max_size in (5, 7, 9, 12):
        for o, order in enumerate(orders):
            if budget.expired:
                reasons.append("the budget ran out while writing the machine as a program")
                return best, reasons + _distinct(searches)
            # Each sub-search is limited by work (candidates), not time, so the program read does not
            # depend on the machine's load; the run's budget is the backstop.
            mm = m.renumber(order)
            if o not in outputs:
                outputs[o] = _output(mm, state, ops, seconds=max(0.1, budget.left), seed=seed, why=searches)
            if outputs[o] is None or o in worked_out:
                continue
            said: list[str] = []
            prog = _write(mm, sig, elems, state, ops, max_size, outputs[o], seconds=max(0.1, budget.left),
                          seed=seed, why=said)
            searches += said
            if WORK_LIMIT_REACHED in said:
                worked_out.add(o)
            if prog is not None and (best is None or prog.size < best.size):
                best = prog
        if best is not None:
            break
    if best is None:
        best, why = case_split(m, sig, elems, state, ops, budget=budget, seed=seed, searches=searches)
        if best is None:
            reasons.append(f"no state numbering of the {m.n}-state machine gave a transition and output expression, "
                           f"and {why}")
    return best, reasons + _distinct(searches)




def _distinct(searches: list[str]) -> list[str]:
    """What the expression searches said when they abstained for want of memory (the process's cap), once
    each (a program may still have been written, by a case split, where they would have found a smaller
    one). Abstentions for finding no fit within the work limit, or for none existing, are routine."""
    out: list[str] = []
    for w in searches:
        w = f"an expression search abstained: {w}"
        if "memory" in w and w not in out:
            out.append(w)
    return out


def _output(mm: Moore, state: str, ops, *, seconds: float, seed: int, why: list[str] | None = None) -> Expr | None:
    """The output ``O(s)`` of ``mm``'s states as synthesized expressions (a tuple of them for several
    outputs), or None when some output has none within the sub-search's work limit."""
    from synthesis import fit_expression

    qs = [q for q in range(mm.n) if mm.output[q] is not None]
    outs = []
    for j in range(len(mm.output[qs[0]])):
        values = np.array([mm.output[q][j] for q in qs])
        # answers outside synthesis's constants (255, -2**63, say) are offered as constants, a few at most
        extra = tuple(int(v) for v in np.unique(values) if not -1 <= v <= 3)
        constants = (-1, 0, 1, 2, 3) + (extra if len(extra) <= 4 else ())
        o = fit_expression({state: np.array(qs)}, values, operators=ops, constants=constants, seconds=seconds, seed=seed,
                           max_candidates=SUB_SEARCH_CANDIDATES, why=why)
        if o is None:
            return None
        outs.append(o)
    return outs[0] if len(outs) == 1 else Tuple(tuple(outs))


def _write(mm: Moore, sig: Signature, elems, state, ops, max_size: int, out: Expr, *, seconds: float, seed: int,
           why: list[str] | None = None) -> Program | None:
    """``mm`` as a loop program whose update is the smallest expression of size at most ``max_size`` the
    sub-search finds, and whose output is ``out`` (``_output``); None when no update is found."""
    from synthesis import fit_expression

    rows = sorted(mm.delta.items())
    leaves = {state: np.array([q for (q, _), _ in rows])}
    for i, name in enumerate(list(elems) + list(sig.scalars)):
        leaves[name] = np.array([a[i] for (_, a), _ in rows])
    t = fit_expression(leaves, np.array([r for _, r in rows]), operators=ops, seconds=seconds, seed=seed,
                       max_size=max_size, max_candidates=SUB_SEARCH_CANDIDATES, why=why)
    if t is None:
        return None
    return _loop(sig, elems, state, mm.start, t, out)


def case_split(m: Moore, sig: Signature, elems, state: str, ops, *, budget: Budget,
               seed: int = 0, searches: list[str] | None = None) -> tuple[Program | None, str]:
    """``m`` written as conditionals: ``s = E_0(x) if s == 0 else (E_1(x) if s == 1 else ...)`` and
    ``yield v_0 if s < b_1 else (...)``, states numbered by output (so that states of one output are
    consecutive) then breadth-first. Each branch ``E_q`` is a constant where the state has one successor,
    else the smallest expression of the symbol a short search finds, else a decision tree over the
    symbol's components; states with the same branch share it. Exact on every transition of ``m`` by
    construction; (None, why) when the machine is too large, the operators lack a conditional and
    ``==``, or the budget runs out."""
    from synthesis import fit_expression

    if m.n > CASE_SPLIT_STATES:
        return None, f"the machine has more than {CASE_SPLIT_STATES} states to write as a case split"
    if not {"if", "=="} <= set(ops):
        return None, "a case split needs the operators 'if' and '=='"
    bfs = numberings(m, exhaustive_up_to=0)[-1]
    rank = {q: i for i, q in enumerate(bfs)}
    order = sorted(range(m.n), key=lambda q: (m.output[q] is None, m.output[q] or (), rank[q]))
    mm = m.renumber(order)
    names = list(elems) + list(sig.scalars)
    rows: dict[int, dict[Symbol, int]] = {}
    for (q, a), r in sorted(mm.delta.items()):
        rows.setdefault(q, {})[a] = r
    branches: dict[int, Expr] = {}
    for q, row in rows.items():
        if budget.expired:
            return None, "the budget ran out while writing the machine as a case split"
        targets = set(row.values())
        if len(targets) == 1:
            branches[q] = Const(targets.pop())
            continue
        symbols = sorted(row)
        leaves = {name: np.array([a[i] for a in symbols]) for i, name in enumerate(names)}
        fit = fit_expression(leaves, np.array([row[a] for a in symbols]), operators=ops, seed=seed,
                             seconds=max(0.1, budget.left), max_size=BRANCH_SIZE, max_candidates=BRANCH_CANDIDATES,
                             why=searches)
        branches[q] = fit if fit is not None else _decision_tree(row, names, ops)
    update = _by_state(branches, Var(state), ops)
    outs = []
    for j in range(len(next(o for o in mm.output if o is not None))):
        values = {q: mm.output[q][j] for q in range(mm.n) if mm.output[q] is not None}
        outs.append(_runs(values, mm.n, Var(state), ops))
    out = outs[0] if len(outs) == 1 else Tuple(tuple(outs))
    return _loop(sig, elems, state, mm.start, update, out), ""


def _loop(sig: Signature, elems, state: str, start: int, update: Expr, out: Expr) -> Program:
    body, tail = [Assign((state,), update)], []
    if sig.kind == "scan":
        body.append(Yield(out))
    else:
        tail.append(Return(out))
    return Program(sig.name, sig.params, (Assign((state,), Const(start)),
                                          For(tuple(elems), sig.sequences, tuple(body)), *tail))


def _either(conds: list[Expr], ops) -> list[Expr]:
    """``a or b or ...`` where ``or`` is allowed, else the conditions one by one (one branch each)."""
    if "or" not in ops or len(conds) == 1:
        return conds
    joined = conds[0]
    for c in conds[1:]:
        joined = Binary("or", joined, c)
    return [joined]


def _chain(cases: list[tuple[Expr, Expr]], default: Expr) -> Expr:
    """``v_1 if c_1 else (v_2 if c_2 else ... default)``."""
    expr = default
    for cond, value in reversed(cases):
        expr = IfExp(cond, value, expr)
    return expr


def _by_state(branches: dict[int, Expr], state: Var, ops) -> Expr:
    """A conditional over the state picking each state's branch; the most common branch is the default
    (and covers states with no traced transition)."""
    groups: dict[Expr, list[int]] = {}
    for q in sorted(branches):
        groups.setdefault(branches[q], []).append(q)
    default = max(groups, key=lambda e: (len(groups[e]), -groups[e][0]))
    cases = [(c, e) for e, qs in groups.items() if e != default
             for c in _either([Binary("==", state, Const(q)) for q in qs], ops)]
    return _chain(cases, default)


def _runs(values: dict[int, int], n: int, state: Var, ops) -> Expr:
    """An output over states ``0..n-1`` (``values`` leaves some unread): runs of consecutive states with one
    value, as ``v if s < b else ...`` where ``<`` is allowed, else by ``==`` on each state."""
    if len(set(values.values())) == 1:
        return Const(next(iter(values.values())))
    if "<" in ops:
        runs: list[tuple[int, int]] = []  # (first state, value)
        for q in range(n):
            v = values.get(q)
            if v is not None and (not runs or runs[-1][1] != v):
                runs.append((q if runs else 0, v))
        cases = [(Binary("<", state, Const(runs[i + 1][0])), Const(v)) for i, (_, v) in enumerate(runs[:-1])]
        return _chain(cases, Const(runs[-1][1]))
    return _by_state({q: Const(v) for q, v in values.items()}, state, ops)


def _decision_tree(row: dict[Symbol, int], names: list[str], ops) -> Expr:
    """The successor as a function of the symbol: split on one component at a time (the split giving the
    smallest tree), values with the same subtree sharing a branch, the most common subtree the default."""
    if len(set(row.values())) == 1:
        return Const(next(iter(row.values())))
    best = None
    # every component is tried as the first split for up to three components; beyond, in order
    for i, name in enumerate(names if len(names) <= 3 else names[:1]):
        parts: dict[int, dict[Symbol, int]] = {}
        for a, r in row.items():
            parts.setdefault(a[i], {})[a] = r
        if len(parts) == 1:
            continue
        subtrees = {v: _decision_tree(part, names, ops) for v, part in sorted(parts.items())}
        groups: dict[Expr, list[int]] = {}
        for v, e in subtrees.items():
            groups.setdefault(e, []).append(v)
        default = max(groups, key=lambda e: (len(groups[e]), -groups[e][0]))
        cases = [(c, e) for e, vs in groups.items() if e != default
                 for c in _either([Binary("==", Var(name), Const(v)) for v in vs], ops)]
        tree = _chain(cases, default)
        if best is None or size_of(tree) < size_of(best):
            best = tree
    return best


def _singular(name: str) -> str:
    return name[:-1] if len(name) > 1 and name.endswith("s") else name + "_t"
