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
2023, named below from the form of each circle's logits).

Clock or pizza (Zhong et al. 2023). Both algorithms embed residues on circles at the key frequencies w. The
clock multiplies the two embeddings (a rotation by w(a+b)) and its logit for c is cos(w(a+b-c)) at every
difference a - b; the pizza adds them (E(a) + E(b) = 2 cos(w(a-b)/2) e(w(a+b)/2): a point inside the circle)
and its logit carries the length of that sum, |cos(w(a-b)/2)| cos(w(a+b-c)) (Zhong et al. write it
|cos(w(a-b)/2)| (|cos(w(a+b-c)/2)| - |sin(w(a+b-c)/2)|); its first harmonic is this). The algorithm is named
from that form, circle by circle, as Zhong et al. read their networks: each key frequency's circle alone
(both embeddings cut down to the constant and that one wave; ``circle_forms``), the network run on the whole
domain, and its logits fitted on the clock's and the pizza's form at that frequency (``logit_forms``, in the
read form's coordinates; the pizza's phase between the two inputs' circles searched). The fit's pizza weight
is the mixture weight t of L = (1 - t) clock + t pizza (same mean amplitude): 1 for a pizza's circle, 0 for
a clock's. Circles that neither form explains (``FORM_EXPLAINS``) drop out: a pizza grows, beside each pizza
circle, an accompanying one at twice the frequency whose logits (-cos(2wa - wc) - cos(2wb - wc)) cancel
most of the pizza's dependence on a - b in the whole network, so the whole network's logits look like a
clock's (on Zhong et al.'s released model A the whole-logit fit gives a pizza weight 0.07; its three pizza
circles alone 1.11-1.12). The network's pizza weight is the explained circles' mean, weighted by the logit
variance each explains; "clock" at most ``CLOCK_UP_TO``, "pizza" at least ``PIZZA_FROM``, "mixed" between
(thirds of the mixture weight), "unclear" when no circle is explained.

Zhong et al.'s two measures are reported beside it (details): ``distance_irrelevance``, their code's
mean over d of std(L | d) over std(L), L the answer's logit (here less each pair's and each class's mean:
softmax ignores the first and neither algorithm has the second), d = u(a) - v(b) (mod m; for a multiplying
form the difference of discrete logarithms); and ``gradient_symmetricity``, the mean cosine between the
gradients of a logit with respect to the two embeddings over 100 random (a, b, c). They name nothing here:
the distance irrelevance reads the answer logit's residual, where any admixture of a pizza dominates (a
network 75% clock reads 0.35), and a network made to add its embeddings (attention held constant over one
shared table) has symmetric gradients whatever it computes. Measured (BENCHMARKS.md, "Grokked modular
arithmetic"): Zhong et al.'s released models, read here, give their figures (distance irrelevance on their
raw answer logit 0.172 for model A, 0.848 for model B; gradient symmetricity 0.994 and 0.454), and their
circles name model A a pizza and model B a clock; their transformer with constant attention
trained here at p = 31 is a pizza by its circles (seeds 0-2) while its distance irrelevance is 0.58-0.72,
values that had read "unclear" before.

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

import contextlib

import numpy as np
import torch

from programs import Binary, Const, Program, Return, Var
from programs.simplify import simplify_expr

from ..faithfulness import MECHANISM
from ..hooks import patching
from ..machine import SUB_SEARCH_CANDIDATES
from ..registry import Reading, extractor

# The largest modulus read: products of three residues (u * v * c) must stay within int64.
MAX_MODULUS = 1 << 20
# The algorithm is named from the logits' form (``logit_forms``): a pizza weight at or below CLOCK_UP_TO reads as a
# clock, at or above PIZZA_FROM as a pizza, between as "mixed" (the thirds of the mixture weight); the form is only
# named where the key frequencies' waves explain at least FORM_EXPLAINS of the logits' variance, else "unclear".
CLOCK_UP_TO = 1 / 3
PIZZA_FROM = 2 / 3
FORM_EXPLAINS = 0.5
# Zhong et al. 2023's gradient symmetricity: the mean over this many (a, b, c) triples drawn with GRADIENT_SEED
GRADIENT_TRIPLES = 100
GRADIENT_SEED = 42
# a logit whose spread is below this share of its size does not vary (the networks compute in float32)
CONSTANT_LOGIT = 1e-6
# the pizza's phase between the two inputs' circles is searched on this many points of [0, pi)
PHASES = 24
# the logit fit uses at most this many input pairs (drawn with a fixed seed): p = 113 has 12,769
FORM_PAIRS = 3000
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
    """Zhong et al. 2023's distance irrelevance: the mean over the inputs' differences d of the standard
    deviation of ``logit`` (one value per input pair: the answer's logit) among the pairs at d, over its standard
    deviation among all pairs (their code: ``mean(std(L[s, d], axis=s)) / std(L)``). Near 1 the answer's logit
    does not depend on d (a clock); near 0 it is a function of d (a pizza's |cos(w d / 2)|). 1 when ``logit``
    does not vary (by more than float32 rounding, ``CONSTANT_LOGIT`` of its size: a clock's answer logit is one
    number); classes of one pair count as spread 0."""
    logit = np.asarray(logit, dtype=np.float64)
    total = logit.std()
    if total <= CONSTANT_LOGIT * max(1.0, float(np.abs(logit).max())):
        return 1.0
    logit = logit - logit.mean()
    _, group = np.unique(difference, return_inverse=True)
    counts = np.bincount(group)
    means = np.bincount(group, weights=logit) / counts
    spread = np.sqrt(np.bincount(group, weights=(logit - means[group]) ** 2) / counts)
    return float(min(1.0, spread.mean() / total))


def gradient_symmetricity(trained, a_name: str, b_name: str, triples: int = GRADIENT_TRIPLES,
                          seed: int = GRADIENT_SEED) -> float:
    """Zhong et al. 2023's gradient symmetricity: over ``triples`` random (a, b, c) (c any class, not only the
    answer), the cosine between the gradients of the logit of c with respect to the embedding of a and to the
    embedding of b (the embedding layers' outputs), averaged. A pizza reads the sum of the two embeddings, so
    the two gradients are equal (near 1); a clock multiplies them, so they differ. A network that can only sum
    them (attention held constant over one shared table) reads near 1 whatever it computes: high symmetricity
    is necessary for a pizza, not sufficient."""
    model, enc = trained.model, trained.encoding
    rng = np.random.default_rng(seed)
    (lo_a, size_a), (lo_b, size_b) = enc.scalars[a_name], enc.scalars[b_name]
    a = lo_a + rng.integers(0, size_a, triples)
    b = lo_b + rng.integers(0, size_b, triples)
    c = rng.integers(0, enc.classes, triples)
    seen: dict[str, torch.Tensor] = {}

    def hold(name):
        def patch(_call, out):
            seen[name] = out.detach().clone().requires_grad_(True)
            return seen[name]
        return patch

    with torch.enable_grad(), patching(model, f"embed.{a_name}", hold(a_name)), \
            patching(model, f"embed.{b_name}", hold(b_name)):
        logits = model(enc.batch({a_name: a, b_name: b}))
        ga, gb = torch.autograd.grad(logits[torch.arange(triples), torch.as_tensor(c)].sum(),
                                     [seen[a_name], seen[b_name]])
    return float(torch.nn.functional.cosine_similarity(ga.double(), gb.double(), dim=-1).mean())


def _fit(columns: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares of ``y`` on ``columns`` (arrays of y's shape): the coefficients and the share of the sum
    of squares of ``y`` (centred) they explain."""
    x = np.stack([c.ravel() for c in columns], 1)
    coef, *_ = np.linalg.lstsq(x, y.ravel(), rcond=None)
    total = float((y**2).sum())
    return coef, (1.0 - float(((y.ravel() - x @ coef) ** 2).sum()) / total) if total > 0 else 0.0


def _modulated_fit(pair: tuple[np.ndarray, np.ndarray], m: np.ndarray, y: np.ndarray) -> float:
    """The sum of squares of ``y`` ([rows, cols]) that the wave ``pair`` and the pair modulated row by row by
    ``m`` - mean(m) explain together (normal equations from per-row sums: one search step costs O(rows))."""
    mod = m - m.mean()
    p0, p1 = pair
    rows = {"00": (p0 * p0).sum(1), "01": (p0 * p1).sum(1), "11": (p1 * p1).sum(1)}
    py = ((p0 * y).sum(1), (p1 * y).sum(1))
    gram = np.zeros((4, 4))
    for (i, j), key in {(0, 0): "00", (0, 1): "01", (1, 1): "11"}.items():
        r = rows[key]
        gram[i, j] = gram[j, i] = r.sum()
        gram[i, j + 2] = gram[j + 2, i] = gram[j, i + 2] = gram[i + 2, j] = (mod * r).sum()
        gram[i + 2, j + 2] = gram[j + 2, i + 2] = (mod * mod * r).sum()
    xy = np.array([py[0].sum(), py[1].sum(), (mod * py[0]).sum(), (mod * py[1]).sum()])
    coef = np.linalg.lstsq(gram, xy, rcond=None)[0]
    return float(coef @ xy)


def logit_forms(logits: np.ndarray, xa: np.ndarray, xb: np.ndarray, xc: np.ndarray, period: int,
                freqs) -> dict | None:
    """How the clock's and the pizza's logits explain a network's logits at its key frequencies ``freqs``.

    ``logits`` is [pairs, classes]; ``xa``, ``xb`` the inputs' points on the circle of ``period`` (-1: no point),
    ``xc`` each class's point such that the answer sits at xa + xb - xc = 0 (mod period). With s = xa + xb - xc
    and d = xa - xb, at each frequency w = 2 pi k / period the clock's logit is A cos(w s + phi) (the same
    amplitude at every d: Nanda et al.'s cos(w(a + b - c))) and the pizza's is A |cos(w d / 2 + delta)|
    cos(w s + phi) (the answer read from the sum of two points on one circle, whose length is
    2 |cos(w d / 2)|, Zhong et al. 2023; delta the phase between the two inputs' circles, searched). The logits
    (less each pair's and each class's mean: softmax ignores the first, neither algorithm has the second) are
    fitted on both at once: at each frequency the wave pair (cos, sin)(w s) with coefficients alpha and the
    pizza's modulation (|cos(w d / 2 + delta)| - its mean) times the pair with coefficients beta. A pizza has
    beta = alpha / mean|cos|, a clock beta = 0, and a network that adds the two in proportions (1 - t, t) has
    t = mean|cos| (beta . alpha) / |alpha|^2: ``pizza_weight`` is t averaged over the frequencies, weighted by
    |alpha|^2. ``clock_fit``, ``pizza_fit`` and ``joint_fit`` are the shares of the logits' variance each form
    alone, and both, explain. None without a frequency or points."""
    rows = (xa >= 0) & (xb >= 0)
    cols = xc >= 0
    freqs = [int(k) for k in freqs]
    if not freqs or rows.sum() < 2 or cols.sum() < 2:
        return None
    rows = np.flatnonzero(rows)
    if len(rows) > FORM_PAIRS:
        rows = np.sort(np.random.default_rng(0).choice(rows, FORM_PAIRS, replace=False))
    y = np.asarray(logits, dtype=np.float64)[rows][:, cols]
    y = y - y.mean(1, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    xa, xb, xc = xa[rows], xb[rows], xc[cols]
    s = (xa[:, None] + xb[:, None] - xc[None, :]) % period
    d = (xa - xb) % period
    clock, pizza, joint, waves, mods = [], [], [], {}, {}
    for k in freqs:
        w = 2 * np.pi * k / period
        pair = (np.cos(w * s), np.sin(w * s))
        m = max((np.abs(np.cos(w * d / 2 + delta)) for delta in np.pi * np.arange(PHASES) / PHASES),
                key=lambda m: _modulated_fit(pair, m, y))
        waves[k], mods[k] = pair, (m.mean(), (m - m.mean())[:, None])
        clock += list(pair)
        pizza += [m[:, None] * pair[0], m[:, None] * pair[1]]
        joint += [*pair, mods[k][1] * pair[0], mods[k][1] * pair[1]]
    _, clock_fit = _fit(clock, y)
    _, pizza_fit = _fit(pizza, y)
    coef, joint_fit = _fit(joint, y)
    weights, shares = [], []
    for i, k in enumerate(freqs):
        alpha, beta = coef[4 * i: 4 * i + 2], coef[4 * i + 2: 4 * i + 4]
        power = float(alpha @ alpha)
        weights.append(power)
        shares.append(mods[k][0] * float(beta @ alpha) / power if power > 0 else 0.0)
    weight = float(np.average(shares, weights=weights)) if sum(weights) > 0 else 0.0
    return {"clock_fit": round(clock_fit, 4), "pizza_fit": round(pizza_fit, 4), "joint_fit": round(joint_fit, 4),
            "pizza_weight": round(weight, 4), "frequencies": freqs, "variance": float((y**2).mean())}


def circles_named(circles: dict) -> dict:
    """The network's pizza weight from its isolated circles (``circle_forms``): the mean of the circles' pizza
    weights over those that either form explains (joint fit at least ``FORM_EXPLAINS``: an accompanying circle,
    whose logits sit at another frequency than its embedding's, is neither), weighted by the logit variance each
    explains; and the circles counted. None when no circle is explained."""
    explained = {k: f for k, f in circles.items() if f is not None and f["joint_fit"] >= FORM_EXPLAINS}
    if not explained:
        return {"pizza_weight": None, "circles_explained": 0}
    weights = [f["joint_fit"] * f["variance"] for f in explained.values()]
    t = float(np.average([f["pizza_weight"] for f in explained.values()], weights=weights))
    return {"pizza_weight": round(t, 4), "circles_explained": len(explained)}


def algorithm_of(pizza_weight: float | None) -> str:
    """"clock", "pizza", "mixed" or "unclear" from the network's pizza weight (``circles_named``): unclear where
    no circle's logits have either form, else at most ``CLOCK_UP_TO`` a clock, at least ``PIZZA_FROM`` a pizza,
    mixed between."""
    if pizza_weight is None:
        return "unclear"
    return "clock" if pizza_weight <= CLOCK_UP_TO else "pizza" if pizza_weight >= PIZZA_FROM else "mixed"


def algorithm_named(splice: float | None, merge: float | None, pizza_weight: float | None) -> str:
    """The algorithm a reading names: with the wave splice holding, the logits' form (``algorithm_of``); with it
    failing and the merge splice holding, "lookup" (u(a) and v(b) computed, their answer looked up without a few
    waves over them); else "unclear"."""
    if splice is not None and splice >= MECHANISM:
        return algorithm_of(pizza_weight)
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
            measured = clock_or_pizza(trained, tables, inputs, family, u, v, c, m, a_name, b_name,
                                      details["splice_key_frequencies"])
            details.update(measured)
            details["algorithm"] = algorithm_named(splice, merge, measured.get("pizza_weight"))
            return Reading(program, (), None, splice, details=details)
        return Reading(None, (f"neither an additive nor a multiplicative form of the residues matches the network "
                              f"(embedding power in the key frequencies: additive {add:.2f}"
                              + (f", multiplicative {mul:.2f}" if mul is not None else "") + ")",),
                       status="abstained", details=details)

    return run


def clock_or_pizza(trained, tables: dict, inputs, family: str, u, v, c: int, m: int, a_name: str, b_name: str,
                   splice_keys: dict) -> dict:
    """Zhong et al. 2023's two measures and the form of each isolated circle's logits over the whole domain, in
    the read form's coordinates: ``distance_irrelevance`` of the answer's logit (less each pair's and each
    class's mean) against d = u(a) - v(b) (mod m; for a multiplying form the difference of discrete logarithms,
    mod m - 1, over the pairs whose images are nonzero), ``gradient_symmetricity``, ``circles`` (``circle_forms``
    at the splice's key frequencies, both inputs') and the ``pizza_weight`` they give (``circles_named``). Only
    the two measures where the circle has no points (a multiplying form without a primitive root)."""
    pa, pb = wave_points(family, u, m), wave_points(family, v, m)
    out = {"gradient_symmetricity": round(gradient_symmetricity(trained, a_name, b_name), 4)}
    if pa is None or pb is None:
        return out
    (ua, period), (vb, _) = pa, pb
    xa, xb = ua[inputs[a_name]], vb[inputs[b_name]]
    values = np.asarray(trained.encoding.heads[0])
    inside = (values >= 0) & (values < m)
    if family == "add":
        xc = np.where(inside, (values - c) % m, -1)
    else:  # the answer u v c sits at log u + log v + log c
        log = wave_points("mul", np.arange(m), m)[0]
        r = np.where(inside, values % m, 0)
        xc = np.where(inside & (r != 0), (log[r] - log[c % m]) % period, -1)
    with torch.no_grad():
        logits = trained.model(trained.encoding.batch(inputs)).numpy().astype(np.float64)
    centred = logits - logits.mean(1, keepdims=True)
    centred = centred - centred.mean(0, keepdims=True)
    column = np.full(period, -1)
    column[xc[xc >= 0]] = np.flatnonzero(xc >= 0)
    answer = np.where((xa >= 0) & (xb >= 0), column[(xa + xb) % period], -1)
    keep = answer >= 0
    out["distance_irrelevance"] = round(distance_irrelevance(centred[keep, answer[keep]],
                                                             (xa[keep] - xb[keep]) % period), 4)
    freqs = sorted({k for keys in splice_keys.values() for k in keys})
    circles = circle_forms(trained, tables, {a_name: ua, b_name: vb}, period, inputs, a_name, b_name, xc, freqs)
    out["circles"] = {k: None if f is None else {key: f[key] for key in ("clock_fit", "pizza_fit", "joint_fit", "pizza_weight")}
                      for k, f in circles.items()}
    out.update(circles_named(circles))
    return out


def circle_forms(trained, tables: dict, points: dict, period: int, inputs, a_name: str, b_name: str,
                 xc: np.ndarray, freqs) -> dict:
    """Each key frequency's circle alone (Zhong et al.'s circle isolation): both embeddings cut down to the
    constant and that one wave over their points (rows without a point kept), the network run on the domain,
    and its logits' form at that frequency (``logit_forms``). A pizza's circle gives the pizza's logits and its
    accompanying circle (the embedding at twice the frequency, whose logits cancel the pizza's dependence on
    a - b in the whole network) neither form; a clock's circle gives the clock's."""
    xa, xb = points[a_name][inputs[a_name]], points[b_name][inputs[b_name]]
    out = {}
    for k in freqs:
        new = {}
        for n, t in tables.items():
            x = points[n]
            rows = x >= 0
            new[n] = t.copy()
            new[n][rows] = project_waves(t[rows], x[rows], period, [k])
        with embeddings_set(trained, new) as model, torch.no_grad():
            logits = model(trained.encoding.batch(inputs)).numpy().astype(np.float64)
        out[k] = logit_forms(logits, xa, xb, xc, period, [k])
    return out


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


@contextlib.contextmanager
def embeddings_set(trained, new_tables: dict):
    """The network with the embedding tables of ``new_tables`` put in, restored on leaving."""
    model = trained.model
    saved = {n: model.embed[n].weight.detach().clone() for n in new_tables}
    try:
        with torch.no_grad():
            for n, new in new_tables.items():
                model.embed[n].weight.copy_(torch.as_tensor(new, dtype=torch.float32))
        yield model
    finally:
        with torch.no_grad():
            for n, w in saved.items():
                model.embed[n].weight.copy_(w)


def _with_embeddings(trained, new_tables: dict, inputs) -> np.ndarray:
    """The network's answers on ``inputs`` with the embedding tables of ``new_tables`` put in, then restored."""
    with embeddings_set(trained, new_tables):
        return trained.predict(inputs)


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
    # the projection onto the basis' column space as ``lstsq`` spans it (singular values above its cutoff), made
    # from orthonormal singular vectors: on clustered points (condition 3e13 for 59 of 119 residues) the fitted
    # coefficients lose the fit by 5e-3, the orthonormal projection does not
    u, sv, _ = np.linalg.svd(basis, full_matrices=False)
    u = u[:, sv > sv.max(initial=0.0) * max(basis.shape) * np.finfo(float).eps]
    return u @ (u.T @ table)


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
