"""``fourier``: modular arithmetic read from the spectrum of a network's token embeddings.

trace (the embedding tables) → spectrum (power per frequency over the residues, in the additive basis
and, for a prime modulus, over the multiplicative one via a discrete logarithm) → key frequencies (the
strongest frequencies down to the largest drop in power: a grokked network's embeddings hold a few
frequencies and next to nothing elsewhere, Nanda et al. 2023) → family (the basis in which the power
concentrates on its key frequencies says whether the network adds or multiplies residues) → program (the
family's form, its per-input maps read off the network's answers along the axes and written as small
expressions) → confirmed against the network on every input → splice (each embedding cut down to the
constant and its key waves over the values the read form maps the residues to — u(a), or its discrete
logarithm for a multiplying form — must not change any answer) → algorithm (clock or pizza, Zhong et al.
2023, measured below).

Clock or pizza. Both algorithms embed residues on circles at the key frequencies w. The clock multiplies
the two embeddings (a rotation by w(a+b)), so the logit of the answer is the same whatever the inputs'
difference a - b; the pizza adds them (cos wa + cos wb = 2 cos(w(a+b)/2) cos(w(a-b)/2)) and the answer's
logit carries the factor |cos(w(a-b)/2)|: it depends on a - b. Zhong et al. call the first property
distance irrelevance. Measured here on the network's own logits over the whole domain: L[a, b] the logit
of the answer the network gives, d = u(a) - v(b) the difference of the inputs as the read form maps them
(mod m; for a multiplying network the difference of discrete logarithms, mod m - 1, over nonzero
residues), and ``distance_irrelevance`` = 1 - Var_d(E[L | d]) / Var(L), the share of the answer logit's
variance that the difference does not explain (adjusted for what any grouping into as many classes would
explain by chance; 1 when L does not vary). Near 1 is a clock, near 0 a
pizza (``CLOCK_FROM``, ``PIZZA_UP_TO``); between them "unclear". Zhong et al. found pizzas in networks
whose attention is constant (their model B: the two embeddings summed, then one ReLU layer, the sum also
reaching the logits); the embedding MLP trained here (``extraction.train``) grows clocks, and that transformer
with its attention held constant, trained here, reads 0.47-0.68: between the two (BENCHMARKS.md).

A many-to-one map. For ``(a^2 + b^2) % p`` the read form's u(a) = a^2 takes (p + 1) / 2 values, and a cube
at p = 1 mod 3 takes (p - 1) / 3 + 1: the waves over u are then fitted on few points, and with enough of
them any table fits (at p = 37 the squares' 19 points hold 9 wave pairs). So the splice keeps at most
(points - 1) // 4 key frequencies per input (``SPLICE_POINTS_PER_FREQUENCY``: 1 + 2k fitted columns stay at
most half the points), which leaves it a test. A second splice keeps only the merge: each embedding row
replaced by the mean of the rows whose residues the map sends to one value (``details["merge_splice"]``:
does the network use the residue only through u(a)?). When the wave splice fails and the merge splice holds,
the network computes u(a) and v(b) and then looks their answer up without a few waves over them: the
algorithm is named "lookup". Measured (BENCHMARKS.md, "Grokked modular arithmetic"): at p = 37 the squares'
networks are such lookups (their 19 x 19 table of (a^2, b^2) is nearly all covered by 80% of the pairs:
each of its cells has four chances), while at p = 79 from 40-50% of the pairs the squares' networks that
were exact on the whole table (4 of 9) grew clocks over a^2, and a cube where it is a bijection (p = 2 mod 3,
say 41) grows a clock over a^3.
"""
from __future__ import annotations

import numpy as np
import torch

from programs import Binary, Const, Program, Return, Var
from programs.simplify import simplify_expr

from ..faithfulness import MECHANISM
from ..machine import SUB_SEARCH_CANDIDATES
from ..registry import Reading, extractor

# The largest modulus read: products of three residues (u * v * c) must stay within int64.
MAX_MODULUS = 1 << 20
# distance_irrelevance at or above this reads as a clock, at or below PIZZA_UP_TO as a pizza
CLOCK_FROM = 0.8
PIZZA_UP_TO = 0.2
# the splice keeps at most (points - 1) // this key frequencies per input, points the distinct values of u(a):
# its 1 + 2k fitted columns stay at most half the points, or any table would fit
SPLICE_POINTS_PER_FREQUENCY = 4


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


def power_shares(table: np.ndarray) -> np.ndarray:
    """Each frequency's share (1..len//2, a frequency and its mirror together) of the non-constant power of
    ``table`` ([tokens, dims]); zeros when the table is constant."""
    power = (np.abs(np.fft.rfft(table - table.mean(0), axis=0)) ** 2).sum(1)[1:]
    return power / power.sum() if power.sum() > 0 else power


def key_frequencies(table: np.ndarray, top: int | None = None) -> list[int]:
    """The key frequencies of ``table``: the ``top`` strongest, or (``top`` None) the strongest down to the
    largest drop in power between two frequencies in strength order (at most half of the frequencies)."""
    shares = power_shares(table)
    if not shares.any():
        return []
    return [k + 1 for k in _strongest(shares, top)]


def concentration(table: np.ndarray, top: int | None = None) -> tuple[float, list[int]]:
    """Share of the non-constant power of ``table`` ([tokens, dims]) in its key frequencies
    (``key_frequencies``), and those frequencies."""
    keys = key_frequencies(table, top)
    if not keys:
        return 0.0, []
    return float(power_shares(table)[[k - 1 for k in keys]].sum()), keys


def distance_irrelevance(logit: np.ndarray, difference: np.ndarray) -> float:
    """1 - R2: the share of the variance of ``logit`` (one value per input pair) that the inputs'
    ``difference`` (an integer per pair) does not explain, R2 = Var_d(E[L | d]) / Var(L) adjusted for what a
    grouping into as many classes explains by chance (as adjusted R2: 1 - (1 - R2)(n - 1)/(n - k), floored
    at 0); 1 when ``logit`` does not vary."""
    logit = np.asarray(logit, dtype=np.float64)
    total = logit.var()
    if total <= 1e-12 * max(1.0, float(np.abs(logit).max()) ** 2):
        return 1.0
    _, group = np.unique(difference, return_inverse=True)
    n, k = len(logit), int(group.max()) + 1
    means = np.bincount(group, weights=logit) / np.bincount(group)
    r2 = means[group].var() / total
    if n > k:
        r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - k)
    return float(min(1.0, 1.0 - max(0.0, r2)))


def algorithm_of(q: float) -> str:
    """"clock", "pizza" or "unclear" for a distance irrelevance ``q``."""
    return "clock" if q >= CLOCK_FROM else "pizza" if q <= PIZZA_UP_TO else "unclear"


def algorithm_named(splice: float | None, merge: float | None, q: float | None) -> str:
    """The algorithm a reading names: with the wave splice holding, clock or pizza by the distance irrelevance
    ``q`` (``algorithm_of``); with it failing and the merge splice holding, "lookup" (u(a) and v(b) computed,
    their answer looked up without a few waves over them); else "unclear"."""
    if splice is not None and splice >= MECHANISM:
        return "unclear" if q is None else algorithm_of(q)
    if merge is not None and merge >= MECHANISM:
        return "lookup"
    return "unclear"


@extractor("fourier", applies=embedding_two_inputs)
def fourier(top: int | None = None):
    """Key frequencies of the embeddings (the ``top`` strongest, or by default the strongest down to the
    largest drop in power) choose the algorithm (adding or multiplying residues); its maps are read along
    the axes, the program is confirmed against the network, and the answer logits say clock or pizza."""

    def run(trained, budget, rng) -> Reading:
        task, model, enc = trained.problem, trained.model, trained.encoding
        a_name, b_name = list(enc.scalars)
        p = enc.scalars[a_name][1]
        tables = {n: model.embed[n].weight.detach().numpy().astype(np.float64) for n in (a_name, b_name)}
        add = float(np.mean([concentration(t, top)[0] for t in tables.values()]))
        keys = {n: concentration(t, top)[1] for n, t in tables.items()}
        g = primitive_root(p)
        mul = None
        details = {}
        if g is not None:
            logs = [pow(g, i, p) for i in range(p - 1)]  # residue with discrete log i
            mul = float(np.mean([concentration(t[logs], top)[0] for t in tables.values()]))
            details["multiplicative_key_frequencies"] = {n: concentration(t[logs], top)[1] for n, t in tables.items()}
        order = ["add", "mul"] if mul is None or add >= mul else ["mul", "add"]
        details = {"p": p, "additive_concentration": round(add, 4), "key_frequencies": keys,
                   "multiplicative_concentration": None if mul is None else round(mul, 4), **details,
                   "families_tried": []}
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
            maps = {a_name: u, b_name: v}
            splice, details["splice_key_frequencies"] = spliced(trained, tables, family, maps, m, top, inputs, net)
            merge = merge_spliced(trained, tables, family, maps, m, inputs, net)
            details["merge_splice"] = None if merge is None else round(merge, 4)
            q = answer_distance_irrelevance(trained, inputs, net, family, u, v, m, a_name, b_name)
            if q is not None:
                details["distance_irrelevance"] = round(q, 4)
            details["algorithm"] = algorithm_named(splice, merge, q)
            return Reading(program, (), None, splice, details=details)
        return Reading(None, (f"neither an additive nor a multiplicative form of the residues matches the network "
                              f"(embedding power in the key frequencies: additive {add:.2f}"
                              + (f", multiplicative {mul:.2f}" if mul is not None else "") + ")",),
                       status="abstained", details=details)

    return run


def answer_distance_irrelevance(trained, inputs, net, family: str, u, v, m: int, a_name: str,
                                 b_name: str) -> float | None:
    """``distance_irrelevance`` of the logit of the network's own answer over the domain, against the inputs'
    difference as the read form maps them (u(a) - v(b) mod m; for a multiplying form the difference of
    discrete logarithms mod m - 1 over the pairs whose images are nonzero). None without a primitive root."""
    with torch.no_grad():
        logits = trained.model(trained.encoding.batch(inputs)).detach().numpy().astype(np.float64)
    # the logit of the class the network names (its answer), less the mean logit (softmax ignores a shift)
    chosen = logits[np.arange(len(logits)), logits.argmax(-1)] - logits.mean(-1)
    ua, vb = u[inputs[a_name]] % m, v[inputs[b_name]] % m
    if family == "add":
        return distance_irrelevance(chosen, (ua - vb) % m)
    g = primitive_root(m)
    if g is None:
        return None
    log = np.zeros(m, dtype=np.int64)
    for i in range(m - 1):
        log[pow(g, i, m)] = i
    keep = (ua != 0) & (vb != 0)
    return distance_irrelevance(chosen[keep], (log[ua[keep]] - log[vb[keep]]) % (m - 1))


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


def wave_points(family: str, u: np.ndarray, m: int) -> tuple[np.ndarray, int] | None:
    """The point each residue's embedding sits at on the read form's circle (u(a) mod m for an adding form;
    the discrete logarithm of u(a), -1 where u(a) = 0, for a multiplying one) and the circle's period; None
    for a multiplying form without a primitive root."""
    u = np.asarray(u) % m
    if family == "add":
        return u, m
    g = primitive_root(m)
    if g is None:
        return None
    log = np.full(m, -1, dtype=np.int64)
    for i in range(m - 1):
        log[pow(g, i, m)] = i
    return log[u], m - 1


def _with_embeddings(trained, new_tables: dict, inputs) -> np.ndarray:
    """The network's answers on ``inputs`` with the embedding tables of ``new_tables`` put in, then restored."""
    model = trained.model
    saved = {n: model.embed[n].weight.detach().clone() for n in new_tables}
    try:
        with torch.no_grad():
            for n, new in new_tables.items():
                model.embed[n].weight.copy_(torch.as_tensor(new, dtype=torch.float32))
        return trained.predict(inputs)
    finally:
        with torch.no_grad():
            for n, w in saved.items():
                model.embed[n].weight.copy_(w)


def spliced(trained, tables, family: str, maps, m: int, top, inputs, net) -> tuple[float | None, dict]:
    """F3: each embedding cut down to the constant and its key frequencies over the values the read form
    maps its residues to (``wave_points``; residues a multiplying form maps to 0 kept as they are); the share
    of answers that do not change, and the key frequencies kept per input. Where the map is the identity this
    is the band-limited embedding of the Fourier basis; where it is many-to-one (a square, a cube) it also
    asks that the residues it merges share one embedding: the mechanism "the embedding is a few waves over
    u(a)". At most (points - 1) // ``SPLICE_POINTS_PER_FREQUENCY`` frequencies are kept (points: the distinct
    values), so that the fit stays a test where u takes few values."""
    new_tables, kept = {}, {}
    for n, t in tables.items():
        placed = wave_points(family, maps[n], m)
        if placed is None:
            return None, {}
        x, period = placed
        rows = x >= 0
        cap = max(1, (len(np.unique(x[rows])) - 1) // SPLICE_POINTS_PER_FREQUENCY)
        keys = wave_keys(t[rows], x[rows], period, top)[:cap]
        new = t.copy()
        new[rows] = project_waves(t[rows], x[rows], period, keys)
        new_tables[n], kept[n] = new, keys
    return float((_with_embeddings(trained, new_tables, inputs) == net).mean()), kept


def merge_spliced(trained, tables, family: str, maps, m: int, inputs, net) -> float | None:
    """The merge alone: each embedding row replaced by the mean of the rows at the same point
    (``wave_points``: the residues the read map sends to one value); the share of answers that do not change.
    1 by construction where the map is one-to-one; None where ``wave_points`` is."""
    new_tables = {}
    for n, t in tables.items():
        placed = wave_points(family, maps[n], m)
        if placed is None:
            return None
        x, _ = placed
        _, group = np.unique(x, return_inverse=True)
        sums = np.zeros((int(group.max()) + 1, t.shape[1]))
        np.add.at(sums, group, t)
        new_tables[n] = (sums / np.bincount(group)[:, None])[group]
    return float((_with_embeddings(trained, new_tables, inputs) == net).mean())


def _waves(x: np.ndarray, period: int, freqs) -> np.ndarray:
    """Columns 1, cos(2 pi k x / period), sin(2 pi k x / period) for each k in ``freqs``."""
    cols = [np.ones(len(x))]
    for k in freqs:
        angle = 2 * np.pi * k * x / period
        cols += [np.cos(angle), np.sin(angle)]
    return np.stack(cols, 1)


def project_waves(table: np.ndarray, x: np.ndarray, period: int, freqs) -> np.ndarray:
    """``table`` ([rows, dims]) replaced by its least-squares fit on the constant and the waves of ``freqs``
    over the points ``x`` (for x = 0..period-1 once each, the band-limited table of the Fourier basis)."""
    basis = _waves(x, period, freqs)
    coef, *_ = np.linalg.lstsq(basis, table, rcond=None)
    return basis @ coef


def wave_keys(table: np.ndarray, x: np.ndarray, period: int, top: int | None = None) -> list[int]:
    """The key frequencies of ``table`` over the points ``x``: each frequency's power is what its wave pair
    alone explains of the centred table (least squares), then ``key_frequencies``' rule (the ``top``
    strongest, or down to the largest drop in power)."""
    centred = table - table.mean(0)
    freqs = list(range(1, period // 2 + 1))
    power = np.array([(project_waves(centred, x, period, [k]) ** 2).sum() for k in freqs])
    if power.sum() <= 0:
        return []
    return [freqs[i] for i in _strongest(power / power.sum(), top)]


def _strongest(shares: np.ndarray, top: int | None) -> list[int]:
    """Indices of the ``top`` largest ``shares``, or (``top`` None) the largest down to the largest drop
    between two in strength order (among the strongest half)."""
    order = np.argsort(shares)[::-1]
    if top is None:
        ranked = shares[order[: max(1, len(order) // 2) + 1]]
        drops = ranked[:-1] / np.maximum(ranked[1:], 1e-12)
        top = int(np.argmax(drops)) + 1 if len(drops) else 1
    return [int(i) for i in order[:top]]
