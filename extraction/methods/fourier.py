"""``fourier``: modular arithmetic read from the spectrum of a network's token embeddings.

trace (the embedding tables) → spectrum (power per frequency over the residues, in the additive basis
and, for a prime modulus, over the multiplicative one via a discrete logarithm) → family (the basis in
which the power concentrates on a few key frequencies says whether the network adds or multiplies
residues) → program (the family's form, its per-input maps read off the network's answers along the
axes and written as small expressions) → confirmed against the network on every input → splice (the
embeddings cut down to their key frequencies must not change any answer).
"""
from __future__ import annotations

import numpy as np
import torch

from programs import Binary, Const, Program, Return, Var
from programs.simplify import simplify_expr

from ..machine import SUB_SEARCH_CANDIDATES
from ..registry import Reading, extractor


# The largest modulus read: products of three residues (u * v * c) must stay within int64.
MAX_MODULUS = 1 << 20


def embedding_two_inputs(trained) -> list[str]:
    model = trained.model
    enc = getattr(trained, "encoding", None)
    if getattr(model, "arch", "") not in ("mlp", "transformer") or getattr(model, "numeric", False):
        return ["fourier reads token embeddings; this network has none (an MLP or transformer with embeddings is needed)"]
    if enc is None or len(enc.scalars) != 2 or enc.arity != 1:
        return ["fourier reads functions of two residues with one answer"]
    sizes = {size for _, size in enc.scalars.values()}
    if len(sizes) != 1 or next(iter(sizes)) < 3:
        return ["fourier needs both inputs to range over the same residues 0..p-1, p >= 3"]
    return []


def primitive_root(p: int) -> int | None:
    if p < 3 or any(p % d == 0 for d in range(2, int(p**0.5) + 1)):
        return None
    phi = p - 1
    factors = {d for d in range(2, phi + 1) if phi % d == 0 and all(d % e for e in range(2, int(d**0.5) + 1))}
    for g in range(2, p):
        if all(pow(g, phi // f, p) != 1 for f in factors):
            return g
    return None


def concentration(table: np.ndarray, top: int) -> tuple[float, list[int]]:
    """Share of the non-constant power of ``table`` ([tokens, dims]) in its ``top`` strongest frequencies
    (a frequency and its mirror counted together), and those frequencies."""
    spec = np.abs(np.fft.rfft(table - table.mean(0), axis=0)) ** 2
    power = spec.sum(1)[1:]
    if power.sum() <= 0:
        return 0.0, []
    order = np.argsort(power)[::-1][:top]
    return float(power[order].sum() / power.sum()), [int(k) + 1 for k in order]


@extractor("fourier", applies=embedding_two_inputs)
def fourier(top: int = 3):
    """Key frequencies of the embeddings choose the algorithm (adding or multiplying residues); its maps
    are read along the axes and the program is confirmed against the network."""

    def run(trained, budget, rng) -> Reading:
        task, model, enc = trained.problem, trained.model, trained.encoding
        a_name, b_name = list(enc.scalars)
        p = enc.scalars[a_name][1]
        tables = {n: model.embed[n].weight.detach().numpy().astype(np.float64) for n in (a_name, b_name)}
        add = np.mean([concentration(t, top)[0] for t in tables.values()])
        keys = {n: concentration(t, top)[1] for n, t in tables.items()}
        g = primitive_root(p)
        mul = None
        if g is not None:
            logs = [pow(g, i, p) for i in range(p - 1)]  # residue with discrete log i
            mul = np.mean([concentration(t[logs], top)[0] for t in tables.values()])
        order = ["add", "mul"] if mul is None or add >= mul else ["mul", "add"]
        details = {"p": p, "additive_concentration": round(float(add), 4), "key_frequencies": keys,
                   "multiplicative_concentration": None if mul is None else round(float(mul), 4), "families_tried": []}
        inputs, _, _ = task.domain_inputs()
        net = trained.predict(inputs)
        grid = np.zeros((p, p), dtype=np.int64)
        grid[inputs[a_name], inputs[b_name]] = net
        lo, hi = int(net.min()), int(net.max())
        if lo < 0 or hi >= MAX_MODULUS:
            return Reading(None, (f"the network's answers run from {lo} to {hi}: they are not residues 0..m-1 of a "
                                  f"modulus m <= {MAX_MODULUS}, which is what fourier reads",),
                           status="abstained", details=details)
        m = hi + 1  # the answers' modulus, as the network gives them
        for family in order + (["mul"] if "mul" not in order else []):
            details["families_tried"].append(family)
            form = _read_form(family, grid, m)
            if form is None:
                continue
            u, v, c = form
            eu = residue_map(a_name, u, m, task.operators, budget)
            ev = residue_map(b_name, v, m, task.operators, budget)
            if eu is None or ev is None:
                continue
            if family == "add":
                body = Binary("+", Binary("+", eu, ev), Const(c)) if c else Binary("+", eu, ev)
            else:
                body = Binary("*", Binary("*", eu, ev), Const(c)) if c != 1 else Binary("*", eu, ev)
            expr = simplify_expr(Binary("%", body, Const(m)))
            from .fsm import signature

            program = Program(signature(task).name, tuple(task.inputs), (Return(expr),))
            details["family"] = family
            splice = spliced(trained, tables, keys if family == "add" else None, g, top, inputs, net)
            return Reading(program, (), None, splice, details=details)
        return Reading(None, (f"neither an additive nor a multiplicative form of the residues matches the network "
                              f"(embedding power in {top} key frequencies: additive {add:.2f}"
                              + (f", multiplicative {mul:.2f}" if mul is not None else "") + ")",),
                       status="abstained", details=details)

    return run


def polynomial_mod(values: np.ndarray, m: int) -> list[int] | None:
    """Coefficients (lowest degree first) of the polynomial over GF(m) through ``values`` at 0..len-1, for a
    prime ``m`` at least as large as the number of points; None otherwise."""
    p = len(values)
    if primitive_root(m) is None and m != 2 or p > m:
        return None
    a = np.array([[pow(x, k, m) for k in range(p)] + [int(values[x]) % m] for x in range(p)], dtype=object)
    for col in range(p):  # Gauss-Jordan elimination mod m
        piv = next(r for r in range(col, p) if a[r, col] % m)
        a[[col, piv]] = a[[piv, col]]
        inv = pow(int(a[col, col]), m - 2, m)
        a[col] = (a[col] * inv) % m
        for r in range(p):
            if r != col and a[r, col]:
                a[r] = (a[r] - a[r, col] * a[col]) % m
    return [int(v) for v in a[:, -1]]


def residue_map(name: str, values: np.ndarray, m: int, operators, budget, max_degree: int = 4):
    """An expression equal to ``values`` modulo ``m`` on the residues 0..p-1: the lowest-degree polynomial
    over GF(m) with centred coefficients when it is short, else the smallest expression synthesis finds."""
    from synthesis import fit_expression

    coef = polynomial_mod(values, m)
    if coef is not None:
        terms = [(k, c if c <= m // 2 else c - m) for k, c in enumerate(coef) if c]
        if not terms:
            return Const(0)
        if max(k for k, _ in terms) <= max_degree and len(terms) <= 3:
            expr = None
            for k, c in terms:
                mono = Const(1) if k == 0 else Var(name)
                for _ in range(k - 1):
                    mono = Binary("*", mono, Var(name))
                if k == 0:
                    t, neg = Const(abs(c)), c < 0
                else:
                    t, neg = (mono if abs(c) == 1 else Binary("*", Const(abs(c)), mono)), c < 0
                if expr is None:
                    expr = Binary("-", Const(0), t) if neg else t
                else:
                    expr = Binary("-" if neg else "+", expr, t)
            return simplify_expr(expr)
    residues = np.arange(len(values))
    # Limited by work, not time (see machine.SUB_SEARCH_CANDIDATES); the run's budget is the backstop.
    return fit_expression({name: residues}, values, operators=operators, constants=(-1, 0, 1, 2, 3, m),
                          seconds=max(0.2, budget.left), max_size=9, max_candidates=2 * SUB_SEARCH_CANDIDATES)


def _read_form(family: str, grid: np.ndarray, m: int):
    """The per-input maps (u, v) and constant c with grid[a, b] == (u[a] + v[b] + c) % m (add) or
    (u[a] * v[b] * c) % m (mul), read along the axes; None when the network does not have that form."""
    p = grid.shape[0]
    if family == "add":
        c = int(grid[0, 0])
        u = (grid[:, 0] - c) % m
        v = (grid[0, :] - c) % m
        if np.array_equal((u[:, None] + v[None, :] + c) % m, grid):
            return u, v, c
        return None
    if p < 2:
        return None
    u, v = grid[:, 1] % m, grid[1, :] % m
    one = int(grid[1, 1]) % m
    inv = next((x for x in range(1, m) if (one * x) % m == 1), None)
    if inv is None:
        return None
    if np.array_equal((u[:, None] * v[None, :] * inv) % m, grid):
        return u, v, inv
    return None


def spliced(trained, tables, keys, g, top, inputs, net) -> float | None:
    """F3: keep only the constant and the key frequencies of each embedding (in the additive basis, or
    the multiplicative one for a multiplying network, with residue 0 kept as is); the share of answers
    that do not change."""
    model = trained.model
    if keys is None and g is None:
        return None  # no multiplicative basis without a primitive root
    saved = {n: model.embed[n].weight.detach().clone() for n in tables}
    try:
        for n, t in tables.items():
            if keys is not None:
                new = _band(t, keys[n] if keys else [])
            else:
                p = t.shape[0]
                logs = [pow(g, i, p) for i in range(p - 1)]
                new = t.copy()
                _, k = concentration(t[logs], top)
                new[logs] = _band(t[logs], k)
            with torch.no_grad():
                model.embed[n].weight.copy_(torch.as_tensor(new, dtype=torch.float32))
        after = trained.predict(inputs)
    finally:
        with torch.no_grad():
            for n, w in saved.items():
                model.embed[n].weight.copy_(w)
    return float((after == net).mean())


def _band(table: np.ndarray, freqs: list[int]) -> np.ndarray:
    spec = np.fft.rfft(table, axis=0)
    keep = np.zeros(spec.shape[0], dtype=bool)
    keep[0] = True
    for k in freqs:
        if k < spec.shape[0]:
            keep[k] = True
    return np.fft.irfft(np.where(keep[:, None], spec, 0), n=table.shape[0], axis=0)
