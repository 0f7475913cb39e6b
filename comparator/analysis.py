"""The statistics of a comparison: pure functions from a table of runs to solve rates, costs, verdicts and growth fits.

Every function takes a pandas DataFrame with one row per run (columns ``task, family, difficulty, route,
method, seed, examples, budget, status, correct, seconds, size, agreement, interchange, splice``) and
returns numbers or DataFrames; nothing here runs a method, touches a store or draws a plot.

The task is the unit of every test: seeds are aggregated within a task first (a method solves a task
when it solves it in more than half of its seeds), then the methods of a route are combined into the
route's virtual best.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = [
    "MECHANISM_THRESHOLD", "OUTCOMES", "VIRTUAL_BEST", "AnalysisError", "TobitFit", "Verdict", "bootstrap_ratio",
    "crossover", "growth", "holm", "mcnemar_exact", "method_outcomes", "par2", "sample_complexity", "sign_test",
    "CONTROL_CEILING", "PORTFOLIO", "PORTFOLIO_ORDER", "mechanism_checks", "portfolio", "ramanujan_control", "self_checks", "summary", "task_outcomes", "tobit", "verdicts",
    "virtual_best", "wilcoxon_costs", "wilson",
]

ROUTES = ("extraction", "synthesis")
MECHANISM_THRESHOLD = 0.99
"""An extraction whose interchange (F2) or splice (F3) score falls below this (or whose agreement F1 is below 1)
is not the network's mechanism."""
ALPHA = 0.05
RATE_MARGIN = 0.05
"""Solve rates within this many (as a fraction) of each other may be called equivalent."""
RATIO_BOUNDS = (0.8, 1.25)
"""The cost-ratio interval must lie within these bounds for the routes to be called equivalent."""
VIRTUAL_BEST = "virtual best"
OUTCOMES = ("wrong", "none", "right")
"""A route's outcome on a task, worst first: a wrong program < no program < a verified-right program (for
extraction: one that is also the network's mechanism). Its index is its rank in the sign test."""
CONTROLS = {("extraction", "blackbox"), ("extraction", "ramanujan")}
"""Methods that are controls, not members of their route: ``blackbox`` synthesizes from the network's answers
alone, never reading its internals, so it shows whether reading them helped; ``ramanujan`` reads a subnetwork
found by edge-popup in the *untrained* network, so it shows how much "this part does the task" evidence a
random network yields. Each is reported with its own row, but no route's virtual best (nor the verdict, nor
the portfolio, nor the cross-route virtual best) counts it."""
SANE_FACTOR = 10.0
"""A crossover further than this factor outside the observed difficulties is an extrapolation we refuse."""
# A clock can read 0 for a trivial run; logarithms of costs need a positive number.
COST_FLOOR = 1e-6

_REQUIRED = ("task", "family", "difficulty", "route", "method", "seed", "budget", "status", "seconds")


class AnalysisError(ValueError):
    """A table of runs that the analysis cannot read; the message says what to change."""


# --- small statistics ---------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion ``k / n``; ``(0.0, 1.0)`` when ``n == 0``."""
    if n == 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"wilson needs 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def par2(seconds, solved, budget):
    """PAR-2 cost per run: the wall seconds if solved, twice the budget otherwise.

    Accepts scalars or array-likes (broadcast together); returns a float for scalars, an array otherwise.
    """
    cost = np.where(np.asarray(solved, dtype=bool), np.asarray(seconds, dtype=float),
                    2.0 * np.asarray(budget, dtype=float))
    return float(cost) if cost.ndim == 0 else cost


def sign_test(b: int, c: int) -> float:
    """Exact two-sided sign test: ``b`` tasks one way, ``c`` the other, ties left out (a binomial test at
    1/2, the exact McNemar test when outcomes are binary); 1.0 when no task differs."""
    if b < 0 or c < 0:
        raise ValueError(f"sign_test needs non-negative counts, got b={b}, c={c}")
    if b + c == 0:
        return 1.0
    return min(1.0, float(stats.binomtest(min(b, c), b + c, 0.5).pvalue))


mcnemar_exact = sign_test  # the same test on binary outcomes, under its older name


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order; monotone in the sorted order, capped at 1.

    NaN entries stay NaN and do not count towards the number of hypotheses.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    running = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def wilcoxon_costs(e_costs: Sequence[float], s_costs: Sequence[float]) -> float | None:
    """Paired Wilcoxon signed-rank p for extraction vs synthesis costs; None with fewer than 2 non-zero differences."""
    e, s = _paired_arrays(e_costs, s_costs)
    if np.count_nonzero(e - s) < 2:
        return None
    return float(stats.wilcoxon(e, s).pvalue)


def bootstrap_ratio(e_costs: Sequence[float], s_costs: Sequence[float], *, n_boot: int = 10000, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float, float]:
    """Geometric-mean cost ratio extraction / synthesis over paired tasks, with a percentile bootstrap interval.

    Tasks are resampled with replacement (deterministic for a given ``seed``). Returns ``(point, lo, hi)``;
    all NaN when there is no pair, ``lo == hi == point`` for a single pair.
    """
    e, s = _paired_arrays(e_costs, s_costs)
    if len(e) == 0:
        return (math.nan, math.nan, math.nan)
    log_ratios = np.log(np.maximum(e, COST_FLOOR)) - np.log(np.maximum(s, COST_FLOOR))
    centre = float(np.mean(log_ratios))
    point = math.exp(centre)
    if len(e) == 1:
        return (point, point, point)
    rng = np.random.default_rng(seed)
    means = log_ratios[rng.integers(0, len(e), size=(n_boot, len(e)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    # Rounding in the resampled means must not push the interval off its own estimate.
    return (point, math.exp(min(float(lo), centre)), math.exp(max(float(hi), centre)))


def _paired_arrays(e_costs, s_costs) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(e_costs, dtype=float).ravel()
    s = np.asarray(s_costs, dtype=float).ravel()
    if e.shape != s.shape:
        raise ValueError(f"paired costs need equal lengths, got {len(e)} extraction and {len(s)} synthesis")
    return e, s


# --- outcomes per method, per route, per task ---------------------------------------------------------


def _checked(runs: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in _REQUIRED if column not in runs.columns]
    if missing:
        raise AnalysisError(f"the runs table lacks columns {missing}; pass Comparison.runs or a table with "
                            f"at least {list(_REQUIRED)}")
    routes = set(runs["route"].unique()) - set(ROUTES)
    if routes:
        raise AnalysisError(f"unknown routes {sorted(routes)}; a run's route is 'extraction' or 'synthesis'")
    keys = ["task", "route", "method", "seed"]
    duplicated = runs.duplicated(keys)
    if duplicated.any():
        first = runs.loc[duplicated, keys].iloc[0].tolist()
        raise AnalysisError(f"several runs share (task, route, method, seed) = {first}: select one setting of "
                            f"examples and budget first, e.g. runs[runs.examples == n]")
    return runs


CONTROL_CEILING = 0.9
"""An alignment's controls (the same search on the untrained network, and on a rewritten program equal on the
domain) must score at most this for the reading to count as the network's mechanism."""


def mechanism_checks(runs: pd.DataFrame) -> np.ndarray:
    """Per run: do its in-context checks let its program count as the network's mechanism? F1 = 1 (the program
    describes the network everywhere); the best of F2 on units and F2-D on learned subspaces at least
    `MECHANISM_THRESHOLD`, F3 splice too; and each control of the alignment search at most `CONTROL_CEILING`.
    A check that was not measured (NaN, or a column a table lacks) does not fail; runs that name no
    internal part pass on F1 alone."""

    def column(name: str) -> np.ndarray:
        if name not in runs.columns:
            return np.full(len(runs), np.nan)
        return pd.to_numeric(runs[name], errors="coerce").to_numpy(dtype=float)

    f2 = np.fmax(column("interchange"), column("interchange_distributed"))  # the better where both were measured
    fails = column("agreement") < 1.0 - 1e-9
    fails |= f2 < MECHANISM_THRESHOLD
    fails |= column("splice") < MECHANISM_THRESHOLD
    fails |= column("control_untrained") > CONTROL_CEILING
    fails |= column("control_rewritten") > CONTROL_CEILING
    return ~fails


def _annotated(runs: pd.DataFrame) -> pd.DataFrame:
    runs = _checked(runs)
    solved = runs["status"].eq("solved").to_numpy()
    extraction = runs["route"].eq("extraction").to_numpy()
    below = ~mechanism_checks(runs)
    # An extractor presents a program as its answer only when it agrees with the network everywhere (F1 = 1,
    # its status "solved"); one it returns as "partial" or "unfaithful" is a reading it disowns, kept for
    # inspection: verified wrong, it is not a wrong answer of the route (nor, verified right, its mechanism).
    disowned = np.zeros(len(runs), dtype=bool)
    if "agreement" in runs.columns:
        disowned = extraction & (pd.to_numeric(runs["agreement"], errors="coerce").to_numpy(dtype=float) < 1.0 - 1e-9)
    return runs.assign(
        _solved=solved,
        _wrong=runs["status"].eq("wrong").to_numpy() & ~disowned,
        _cost=par2(runs["seconds"].to_numpy(dtype=float), solved, runs["budget"].to_numpy(dtype=float)),
        _mechanism_fail=solved & extraction & below,
    )


def method_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, route, method), aggregated over seeds.

    Columns: ``task, route, method, family, difficulty, seeds, solved_seeds, solved`` (more than half the
    seeds solved), ``wrong`` (some seed returned a wrong program), ``cost`` (median PAR-2 over seeds),
    ``mechanism_ok`` (every solved run passed interchange and splice, each NaN or >= MECHANISM_THRESHOLD;
    always True for synthesis).
    """
    annotated = _annotated(runs)
    grouped = annotated.groupby(["task", "route", "method"], sort=True)
    table = grouped.agg(
        family=("family", "first"),
        difficulty=("difficulty", "first"),
        seeds=("seed", "size"),
        solved_seeds=("_solved", "sum"),
        wrong=("_wrong", "any"),
        cost=("_cost", "median"),
        _mechanism_fail=("_mechanism_fail", "any"),
    ).reset_index()
    table["solved_seeds"] = table["solved_seeds"].astype(int)
    table["solved"] = 2 * table["solved_seeds"] > table["seeds"]
    table["mechanism_ok"] = ~table.pop("_mechanism_fail").astype(bool)
    table["wrong"] = table["wrong"].astype(bool)
    return table[["task", "route", "method", "family", "difficulty", "seeds", "solved_seeds", "solved", "wrong",
                  "cost", "mechanism_ok"]]


def task_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, route): the route's virtual best over its methods (controls left out, see
    `CONTROLS`), seeds aggregated first.

    Columns: ``task, route, family, difficulty, solved`` (some method solved it), ``wrong`` (some run of
    the route returned a wrong program), ``cost`` (min over methods of the median-over-seeds PAR-2),
    ``method`` (the method reaching that cost), ``mechanism_ok`` (for extraction: some solving method's
    solved runs all passed interchange and splice; True for synthesis and for unsolved tasks, since
    nothing failed), ``outcome`` (one of `OUTCOMES`: "right" if solved and the mechanism, else "wrong" if
    some method returned a wrong program, else "none").
    """
    return _route_outcomes(method_outcomes(runs))


def _members(per_method: pd.DataFrame) -> pd.DataFrame:
    """``per_method`` without the control methods (`CONTROLS`)."""
    control = [(r, m) in CONTROLS for r, m in zip(per_method["route"], per_method["method"])]
    return per_method[~np.asarray(control, dtype=bool)] if len(per_method) else per_method


def _route_outcomes(per_method: pd.DataFrame) -> pd.DataFrame:
    per_method = _members(per_method)
    ordered = per_method.assign(_unsolved=~per_method["solved"]).sort_values(
        ["task", "route", "cost", "_unsolved", "method"], kind="stable")
    ordered["_solved_mechanism"] = ordered["solved"] & ordered["mechanism_ok"]
    grouped = ordered.groupby(["task", "route"], sort=True)
    table = grouped.agg(
        family=("family", "first"),
        difficulty=("difficulty", "first"),
        solved=("solved", "any"),
        wrong=("wrong", "any"),
        cost=("cost", "min"),
        method=("method", "first"),
        _solved_mechanism=("_solved_mechanism", "any"),
    ).reset_index()
    table["solved"] = table["solved"].astype(bool)
    table["wrong"] = table["wrong"].astype(bool)
    table["mechanism_ok"] = (table["route"].eq("synthesis") | ~table["solved"]
                             | table.pop("_solved_mechanism").astype(bool))
    right = table["solved"] & table["mechanism_ok"]
    table["outcome"] = np.where(right, "right", np.where(table["wrong"], "wrong", "none"))
    return table[["task", "route", "family", "difficulty", "solved", "wrong", "cost", "method", "mechanism_ok",
                  "outcome"]]


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Solve counts and costs per (route, method), plus each route's virtual best (method ``"virtual best"``)
    and portfolio (method ``"portfolio"``, see `portfolio`).

    Columns: ``route, method, solved, tasks, rate, rate_lo, rate_hi`` (Wilson 95%), ``par2`` (mean over
    tasks of the median-over-seeds PAR-2 cost; for a portfolio, the seconds spent up to a right answer, twice
    the seconds spent otherwise), ``wrong`` (tasks with a wrong program), ``not_mechanism`` (solved
    extractions that failed interchange or splice; they are included in ``solved`` here, and a portfolio never
    takes them).
    """
    per_method = method_outcomes(runs)
    per_route = _route_outcomes(per_method).assign(method=VIRTUAL_BEST)
    chosen = portfolio(runs)
    rows = []

    def row(route, method, solved, tasks, par2, wrong, not_mechanism):
        lo, hi = wilson(solved, tasks)
        return {"route": route, "method": method, "solved": solved, "tasks": tasks, "rate": solved / tasks,
                "rate_lo": lo, "rate_hi": hi, "par2": par2, "wrong": wrong, "not_mechanism": not_mechanism}

    for route in ROUTES:
        for frame in (per_method[per_method["route"] == route], per_route[per_route["route"] == route]):
            for method, group in frame.groupby("method", sort=True):
                rows.append(row(route, method, int(group["solved"].sum()), len(group), float(group["cost"].mean()),
                                int(group["wrong"].sum()), int((group["solved"] & ~group["mechanism_ok"]).sum())))
        mine = chosen[chosen["route"] == route]
        if len(mine):
            right = mine["outcome"].eq("right")
            cost = np.where(right, mine["seconds"], 2.0 * mine["seconds"])
            rows.append(row(route, PORTFOLIO, int(right.sum()), len(mine), float(np.mean(cost)),
                            int(mine["outcome"].eq("wrong").sum()), 0))
    columns = ["route", "method", "solved", "tasks", "rate", "rate_lo", "rate_hi", "par2", "wrong", "not_mechanism"]
    return pd.DataFrame(rows, columns=columns)


PORTFOLIO = "portfolio"
PORTFOLIO_ORDER: dict[str, tuple[str, ...]] = {
    "synthesis": ("enumerative", "stochastic", "smt", "cvc5", "rpni", "logic"),
    "extraction": ("auto", "linear", "boolean", "fsm", "lstar", "fourier"),
}
"""Each route's methods in the order its portfolio tries them: cheapest first by mean PAR-2 cost on the quick
suite (``python bench/portfolio_order.py``, bench/results/portfolio-order.json). A method not listed goes
after these, by name; controls (`CONTROLS`) are never in a portfolio."""


SELF_CHECKS = {"synthesis": "validation", "extraction": "agreement"}
"""Each route's own check of its answers, as the store names it (``self_check``)."""


def _self_checked(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs whose answer the route's own check turned away, with ``check`` and ``right`` (the verifier's
    word on the program turned away; NaN when it could not be decided). Rows stored before the checks were
    recorded (an extraction reading with F1 < 1 verified right or wrong) are read the same way."""
    check = runs["self_check"] if "self_check" in runs.columns else pd.Series([None] * len(runs), index=runs.index)
    right = (runs["self_check_right"] if "self_check_right" in runs.columns
             else pd.Series([None] * len(runs), index=runs.index)).astype(object)
    if "agreement" in runs.columns:
        legacy = (check.isna() & runs["route"].eq("extraction") & runs["status"].isin(["solved", "wrong"])
                  & (pd.to_numeric(runs["agreement"], errors="coerce") < 1.0 - 1e-9))
        check = check.where(~legacy, "agreement")
        right = right.where(~legacy, runs["status"].eq("solved"))
    out = runs.assign(check=check, right=right)
    return out[out["check"].notna()]


def self_checks(runs: pd.DataFrame) -> pd.DataFrame:
    """Per route and self-check (every route in ``runs`` has a row, with zeros when its check turned nothing
    away): how many answers it turned away, how many of those the verifier found wrong (``prevented``: wrong
    programs the check kept from the route's answers) and right (``discarded``: right ones it threw away).
    Columns ``route, check, turned_away, prevented, discarded, undecided``."""
    runs = _checked(runs)
    checked = _self_checked(runs)
    rows = []
    pairs = {(route, SELF_CHECKS[route]) for route in runs["route"].unique()}
    pairs |= set(zip(checked["route"], checked["check"]))
    for route, check in sorted(pairs):
        right = checked.loc[(checked["route"] == route) & (checked["check"] == check), "right"]
        rows.append({"route": route, "check": check, "turned_away": len(right),
                     "prevented": int((right == False).sum()), "discarded": int((right == True).sum()),  # noqa: E712
                     "undecided": int(right.isna().sum())})
    return pd.DataFrame(rows, columns=["route", "check", "turned_away", "prevented", "discarded", "undecided"])


def portfolio(runs: pd.DataFrame, order: dict[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """What a user who cannot see the verifier gets from each route: its methods run in ``order`` (default
    `PORTFOLIO_ORDER`), the first answer that passes the route's own checks taken, seconds added up to it.

    A synthesizer's answer passes if it returned a program (its self-check, where it has one, already turned
    the others away); an extractor's if it returned a reading that agrees with its network everywhere (F1 =
    1) and whose interchange and splice scores, where measured, reach `MECHANISM_THRESHOLD`. Per (task,
    route), seeds aggregated as for a method: ``outcome`` "right" if more than half the seeds' answers were
    verified right, else "wrong" if some seed's was wrong, else "none"; ``seconds`` the median over seeds of
    the seconds spent up to the answer (all of them, when none came); ``method`` the most frequent answerer.
    """
    runs = _annotated(runs)
    order = {**PORTFOLIO_ORDER, **(order or {})}
    rows = []
    for (task, route), group in runs.groupby(["task", "route"], sort=True):
        members = [m for m in group["method"].unique() if (route, m) not in CONTROLS]
        listed = list(order.get(route, ()))
        ranked = [m for m in listed if m in members] + sorted(m for m in members if m not in listed)
        rank = {m: i for i, m in enumerate(ranked)}
        per_seed = []
        for _, runs_of_seed in group[group["method"].isin(rank)].groupby("seed", sort=True):
            spent, outcome, answerer = 0.0, "none", None
            for run in sorted(runs_of_seed.itertuples(index=False), key=lambda r: rank[r.method]):
                spent += min(float(run.seconds), float(run.budget))
                if _passes_own_checks(run):
                    outcome = "right" if run.status == "solved" else "wrong"
                    answerer = run.method
                    break
            per_seed.append((outcome, spent, answerer))
        if not per_seed:
            continue
        outcomes = [o for o, _, _ in per_seed]
        right = 2 * outcomes.count("right") > len(outcomes)
        outcome = "right" if right else "wrong" if "wrong" in outcomes else "none"
        answerers = [a for _, _, a in per_seed if a is not None]
        rows.append({"task": task, "route": route, "family": group["family"].iloc[0],
                     "difficulty": float(group["difficulty"].iloc[0]), "outcome": outcome,
                     "seconds": float(np.median([t for _, t, _ in per_seed])),
                     "method": max(set(answerers), key=answerers.count) if answerers else None,
                     "order": ",".join(ranked)})
    return pd.DataFrame(rows, columns=["task", "route", "family", "difficulty", "outcome", "seconds", "method", "order"])


def _passes_own_checks(run) -> bool:
    if run.status not in ("solved", "wrong"):
        return False
    if run.route == "synthesis":
        return True
    return bool(mechanism_checks(pd.DataFrame([run._asdict()]))[0])


def ramanujan_control(runs: pd.DataFrame) -> pd.DataFrame:
    """Per family, the Ramanujan control (method ``ramanujan``: an edge-popup subnetwork of the untrained
    network, read, its program checked against the whole random network) against the trained networks'
    readings (the extraction route's members). Seeds are aggregated within a task as for methods.

    Columns: ``family, tasks``; for the random networks ``subnetwork`` (tasks where a subnetwork exact on the
    examples was found at most seeds), ``right`` (its reading verified right), ``f1_context`` (mean agreement of
    those readings with the whole random network), ``f2_isolation``, ``f3_isolation`` (mean interchange and
    splice measured inside the subnetwork); for the trained networks ``trained_right`` (the route's virtual
    best right) and ``trained_mechanism`` (right and the network's mechanism). Empty when no control ran."""
    columns = ["family", "tasks", "subnetwork", "right", "f1_context", "f2_isolation", "f3_isolation",
               "trained_right", "trained_mechanism"]
    runs = _checked(runs)
    control = runs[(runs["route"] == "extraction") & (runs["method"] == "ramanujan")]
    if control.empty:
        return pd.DataFrame(columns=columns)
    found = pd.to_numeric(control["train_accuracy"], errors="coerce").fillna(0.0) >= 1.0 - 1e-9
    control = control.assign(_found=found, _right=control["status"].eq("solved"))
    per_task = control.groupby("task").agg(
        family=("family", "first"), seeds=("seed", "size"), found=("_found", "sum"), right=("_right", "sum"),
        f1=("agreement", "mean"), f2=("interchange", "mean"), f3=("splice", "mean")).reset_index()
    per_task["found"] = 2 * per_task["found"] > per_task["seeds"]
    per_task["right"] = 2 * per_task["right"] > per_task["seeds"]
    trained = task_outcomes(runs[runs["task"].isin(per_task["task"])])
    trained = trained[trained["route"] == "extraction"].set_index("task")
    rows = []
    for family, group in per_task.groupby("family", sort=True):
        right = group[group["right"]]
        mine = trained.loc[trained.index.intersection(group["task"])]
        rows.append({"family": family, "tasks": len(group), "subnetwork": int(group["found"].sum()),
                     "right": len(right), "f1_context": float(right["f1"].mean()) if len(right) else math.nan,
                     "f2_isolation": float(right["f2"].mean()) if len(right) else math.nan,
                     "f3_isolation": float(right["f3"].mean()) if len(right) else math.nan,
                     "trained_right": int(mine["solved"].sum()), "trained_mechanism": int(mine["outcome"].eq("right").sum())})
    return pd.DataFrame(rows, columns=columns)


def virtual_best(runs: pd.DataFrame) -> pd.DataFrame:
    """Per task, the cheapest method over both routes.

    Columns ``task, family, difficulty, route, method, cost, solved``.
    Cost is the median-over-seeds PAR-2; at equal cost a solving method is preferred, then route and name order.
    """
    per_method = _members(method_outcomes(runs))
    ordered = per_method.assign(_unsolved=~per_method["solved"]).sort_values(
        ["task", "cost", "_unsolved", "route", "method"], kind="stable")
    best = ordered.groupby("task", sort=True).head(1)
    return best[["task", "family", "difficulty", "route", "method", "cost", "solved"]].reset_index(drop=True)


# --- the verdict --------------------------------------------------------------------------------------

Winner = Literal["extraction", "synthesis", "equivalent", "inconclusive"]


@dataclass(frozen=True)
class Verdict:
    """The verdict for one family (or ``"pooled"``, all tasks) with the numbers it rests on.

    Per task each route's outcome is ranked (`OUTCOMES`): a verified-right program (for extraction: also the
    network's mechanism) > no program > a wrong program. ``solved_extraction``/``solved_synthesis`` count
    the tasks whose outcome is right (extraction's that are right but not the mechanism are in
    ``not_mechanism``, "right program, not the network's mechanism"); ``wrong_*`` count the tasks on which
    the route returned a wrong program, ``wrong_rate_*`` their share with a Wilson 95% interval. ``b`` and
    ``c`` are the tasks where extraction's outcome is better and where synthesis's is; ``p_sign`` is the
    exact two-sided sign test on those ``disagreements``, ``p_holm`` the same Holm-adjusted across
    families (the pooled verdict keeps its raw p). ``ratio`` is the geometric-mean cost ratio
    extraction / synthesis over the ``both_solved`` tasks (right for both), with its bootstrap 95% interval.
    """

    scope: str
    winner: Winner
    n_tasks: int
    solved_extraction: int
    solved_synthesis: int
    wrong_extraction: int
    wrong_synthesis: int
    interval_extraction: tuple[float, float]
    interval_synthesis: tuple[float, float]
    wrong_interval_extraction: tuple[float, float]
    wrong_interval_synthesis: tuple[float, float]
    b: int
    c: int
    p_sign: float
    p_holm: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    both_solved: int
    not_mechanism: int
    disagreements: int
    sentence: str

    @property
    def p_mcnemar(self) -> float:
        """The sign test's p under its older name (the exact McNemar test when outcomes are binary)."""
        return self.p_sign


def verdicts(runs: pd.DataFrame, *, seed: int = 0, n_boot: int = 10000) -> list[Verdict]:
    """One verdict per family (sorted by name), then one ``"pooled"`` over all tasks run by both routes.

    The rule (DESIGN.md), with the task as the unit and seeds aggregated within a task: each route's outcome
    per task is right > none > wrong (`OUTCOMES`). A route wins a scope if it does better on more tasks
    than it does worse, by an exact two-sided sign test on the tasks where the outcomes differ, p < 0.05
    (Holm-adjusted across families). With no significant difference, the cost ratio decides: the bootstrap
    95% interval of the geometric-mean cost ratio (extraction / synthesis, over tasks both get right) wholly
    below 1 (extraction) or above 1 (synthesis). ``equivalent`` if the rates of right outcomes differ by at
    most 5 points and the ratio interval lies within [0.8, 1.25]; otherwise ``inconclusive``. A wrong
    program weighs as one task done worse, no more; wrong-program rates are reported beside the verdict.
    """
    paired = _paired_tasks(runs)
    families = sorted(paired["family"].unique())
    scopes = [(family, paired[paired["family"] == family]) for family in families]
    counts = [_scope_counts(frame, seed=seed, n_boot=n_boot) for _, frame in scopes]
    adjusted = holm([count["p_sign"] for count in counts])
    result = [_verdict(name, count, p_holm, adjusted=True)
              for (name, _), count, p_holm in zip(scopes, counts, adjusted)]
    if len(paired):
        pooled = _scope_counts(paired, seed=seed, n_boot=n_boot)
        result.append(_verdict("pooled", pooled, pooled["p_sign"], adjusted=False))
    return result


def _paired_tasks(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per task that both routes ran: each route's outcome side by side (suffixes ``_e`` and ``_s``)."""
    outcomes = task_outcomes(runs)
    columns = ["task", "solved", "wrong", "cost", "mechanism_ok", "outcome"]
    e = outcomes[outcomes["route"] == "extraction"]
    s = outcomes[outcomes["route"] == "synthesis"]
    paired = e[columns + ["family", "difficulty"]].merge(s[columns], on="task", suffixes=("_e", "_s"))
    return paired.sort_values("task").reset_index(drop=True)


def _scope_counts(frame: pd.DataFrame, *, seed: int, n_boot: int) -> dict:
    rank = {name: i for i, name in enumerate(OUTCOMES)}
    rank_e = frame["outcome_e"].map(rank).to_numpy(dtype=int)
    rank_s = frame["outcome_s"].map(rank).to_numpy(dtype=int)
    right_e = frame["outcome_e"].eq("right").to_numpy()
    right_s = frame["outcome_s"].eq("right").to_numpy()
    both = right_e & right_s
    b, c = int((rank_e > rank_s).sum()), int((rank_s > rank_e).sum())
    ratio, ratio_lo, ratio_hi = bootstrap_ratio(frame.loc[both, "cost_e"], frame.loc[both, "cost_s"],
                                                n_boot=n_boot, seed=seed)
    n = len(frame)
    wrong_e, wrong_s = int(frame["wrong_e"].sum()), int(frame["wrong_s"].sum())
    return {
        "n_tasks": n,
        "solved_extraction": int(right_e.sum()),
        "solved_synthesis": int(right_s.sum()),
        "wrong_extraction": wrong_e,
        "wrong_synthesis": wrong_s,
        "interval_extraction": wilson(int(right_e.sum()), n),
        "interval_synthesis": wilson(int(right_s.sum()), n),
        "wrong_interval_extraction": wilson(wrong_e, n),
        "wrong_interval_synthesis": wilson(wrong_s, n),
        "b": b, "c": c, "p_sign": sign_test(b, c),
        "ratio": ratio, "ratio_lo": ratio_lo, "ratio_hi": ratio_hi, "both_solved": int(both.sum()),
        "not_mechanism": int((frame["solved_e"] & ~frame["mechanism_ok_e"]).sum()),
        "disagreements": b + c,
    }


def _winner(count: dict, p_holm: float, *, adjusted: bool) -> tuple[Winner, str]:
    """The verdict rule of DESIGN.md, and the reason in words."""
    se, ss = count["solved_extraction"], count["solved_synthesis"]
    b, c = count["b"], count["c"]
    lo, hi = count["ratio_lo"], count["ratio_hi"]
    significant = (f"extraction better on {b} task{'' if b == 1 else 's'}, synthesis on {c}: exact sign test "
                   f"p={_p(count['p_sign'])}" + (f", Holm-adjusted {_p(p_holm)}" if adjusted else ""))
    if b != c and p_holm < ALPHA:
        return ("extraction" if b > c else "synthesis"), significant
    if hi < 1.0:
        return "extraction", f"{significant}, not significant; the cost-ratio interval wholly below 1"
    if lo > 1.0:
        return "synthesis", f"{significant}, not significant; the cost-ratio interval wholly above 1"
    # Compare counts, not rates, so that a difference of exactly 5 points is not lost to rounding.
    n = count["n_tasks"]
    if abs(se - ss) <= RATE_MARGIN * n + 1e-9 and RATIO_BOUNDS[0] <= lo and hi <= RATIO_BOUNDS[1]:
        return "equivalent", (f"rates of right outcomes within {RATE_MARGIN:.0%} and the cost-ratio interval within "
                              f"{RATIO_BOUNDS[0]:g}–{RATIO_BOUNDS[1]:g}")
    disagreements = count["disagreements"]
    return "inconclusive", (f"{disagreements} task{'' if disagreements == 1 else 's'} where the routes' outcomes "
                            f"differ; {significant}")


def _verdict(scope: str, count: dict, p_holm: float, *, adjusted: bool) -> Verdict:
    winner, reason = _winner(count, p_holm, adjusted=adjusted)
    n = count["n_tasks"]
    e_lo, e_hi = count["interval_extraction"]
    s_lo, s_hi = count["interval_synthesis"]
    we_lo, we_hi = count["wrong_interval_extraction"]
    ws_lo, ws_hi = count["wrong_interval_synthesis"]
    parts = [(
        f"{scope}: extraction right on {count['solved_extraction']}/{n} tasks (95% CI {_pct(e_lo)}–{_pct(e_hi)}%), "
        f"synthesis {count['solved_synthesis']}/{n} ({_pct(s_lo)}–{_pct(s_hi)}%)"
    )]
    if count["not_mechanism"]:
        k = count["not_mechanism"]
        parts.append(f"{k} extracted task{'' if k == 1 else 's'} not counted: "
                     "right program, not the network's mechanism")
    parts.append(f"wrong programs on {count['wrong_extraction']}/{n} ({_pct(we_lo)}–{_pct(we_hi)}%) vs "
                 f"{count['wrong_synthesis']}/{n} ({_pct(ws_lo)}–{_pct(ws_hi)}%)")
    if count["both_solved"]:
        parts.append(f"cost ratio extraction/synthesis {count['ratio']:.2f} (95% CI {count['ratio_lo']:.2f}–"
                     f"{count['ratio_hi']:.2f}) over {count['both_solved']} tasks both get right")
    else:
        parts.append("no task both routes get right to compare costs on")
    sentence = "; ".join(parts) + f" → {winner} ({reason})."
    return Verdict(scope=scope, winner=winner, p_holm=float(p_holm), sentence=sentence, **count)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def _p(p: float) -> str:
    return f"{p:.2f}" if p >= 0.01 else f"{p:.2g}"


# --- growth with difficulty ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TobitFit:
    """A censored-normal regression ``y = intercept + slope * x + N(0, sigma^2)``, right-censored where marked.

    ``slope_lo``/``slope_hi`` are a 95% interval from the inverse Hessian (``ci_method == "hessian"``) or
    from a bootstrap over groups (``"bootstrap"``); NaN when neither could be had (``ci_method == "none"``).
    """

    intercept: float
    slope: float
    sigma: float
    loglik: float
    slope_lo: float
    slope_hi: float
    ci_method: Literal["hessian", "bootstrap", "none"]
    converged: bool
    n: int
    n_censored: int


_LOG_SIGMA_BOUNDS = (math.log(1e-6), math.log(1e4))


def _negative_loglik(theta: np.ndarray, z: np.ndarray, y: np.ndarray, censored: np.ndarray):
    a, b, log_sigma = theta
    sigma = math.exp(log_sigma)
    mu = a + b * z
    r = (y - mu) / sigma
    t = -r  # for censored points: (mu - c) / sigma
    loglik = np.where(censored, stats.norm.logcdf(t), -0.5 * r * r - log_sigma - 0.5 * math.log(2 * math.pi))
    with np.errstate(over="ignore", invalid="ignore"):  # far in the tail: the ratio overflows to inf, as it should
        mills = np.exp(stats.norm.logpdf(t) - stats.norm.logcdf(t))
    d_mu = np.where(censored, mills / sigma, r / sigma)
    d_log_sigma = np.where(censored, -mills * t, r * r - 1.0)
    gradient = -np.array([d_mu.sum(), (d_mu * z).sum(), d_log_sigma.sum()])
    return -float(loglik.sum()), gradient


def _fit(z: np.ndarray, y: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, float, bool]:
    design = np.column_stack([np.ones_like(z), z])
    start_ab, *_ = np.linalg.lstsq(design, y, rcond=None)
    spread = float(np.std(y - design @ start_ab))
    start = np.array([*start_ab, math.log(min(max(spread, 1e-3), 1e3))])
    result = optimize.minimize(_negative_loglik, start, args=(z, y, censored), jac=True, method="L-BFGS-B",
                               bounds=[(None, None), (None, None), _LOG_SIGMA_BOUNDS],
                               options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
    return result.x, -float(result.fun), bool(result.success)


def _identified(x: np.ndarray, censored: np.ndarray) -> bool:
    return len(np.unique(x[~censored])) >= 2


def _hessian(theta: np.ndarray, z, y, censored, step: float = 1e-5) -> np.ndarray:
    hessian = np.empty((3, 3))
    for i in range(3):
        shift = np.zeros(3)
        shift[i] = step
        hessian[i] = (_negative_loglik(theta + shift, z, y, censored)[1]
                      - _negative_loglik(theta - shift, z, y, censored)[1]) / (2 * step)
    return (hessian + hessian.T) / 2


def tobit(x: Sequence[float], y: Sequence[float], *, censored: Sequence[bool] | None = None,
          groups: Sequence | None = None, ci: Literal["hessian", "bootstrap"] = "hessian", n_boot: int = 200,
          seed: int = 0, level: float = 0.95) -> TobitFit:
    """Maximum-likelihood censored-normal (Tobit) regression of ``y`` on ``x``.

    ``censored[i]`` means ``y[i]`` is a lower bound (the run hit its budget).
    The slope interval comes from the inverse Hessian; if that fails (or ``ci="bootstrap"``), from a
    percentile bootstrap resampling ``groups`` (each point its own group when None) with replacement.
    With no censoring the fit is ordinary least squares. Raises ValueError when the slope is not
    identified: fewer than 2 distinct ``x`` among the uncensored points.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    censored = np.zeros(len(x), dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
    if not (len(x) == len(y) == len(censored)):
        raise ValueError("tobit needs x, y and censored of equal lengths")
    if not _identified(x, censored):
        raise ValueError("tobit needs uncensored points at 2 or more distinct x to identify a slope")
    centre, scale = float(x.mean()), float(x.std())
    z = (x - centre) / scale
    theta, loglik, converged = _fit(z, y, censored)
    slope, intercept = theta[1] / scale, theta[0] - theta[1] * centre / scale
    tail = (1.0 - level) / 2.0
    lo = hi = math.nan
    method: Literal["hessian", "bootstrap", "none"] = "none"
    if ci == "hessian":
        try:
            covariance = np.linalg.inv(_hessian(theta, z, y, censored))
            variance = covariance[1, 1]
            if np.isfinite(variance) and variance > 0 and np.all(np.isfinite(covariance)):
                half = stats.norm.ppf(1.0 - tail) * math.sqrt(variance) / scale
                lo, hi, method = slope - half, slope + half, "hessian"
        except np.linalg.LinAlgError:
            pass
    if method == "none":
        slopes = _bootstrap_slopes(x, y, censored, groups, n_boot=n_boot, seed=seed)
        if len(slopes) >= max(10, n_boot // 2):
            lo, hi = (float(v) for v in np.quantile(slopes, [tail, 1.0 - tail]))
            method = "bootstrap"
    return TobitFit(intercept=float(intercept), slope=float(slope), sigma=math.exp(theta[2]), loglik=loglik,
                    slope_lo=float(lo), slope_hi=float(hi), ci_method=method, converged=converged, n=len(x),
                    n_censored=int(censored.sum()))


def _bootstrap_slopes(x, y, censored, groups, *, n_boot: int, seed: int) -> np.ndarray:
    labels = np.arange(len(x)) if groups is None else pd.factorize(pd.Series(list(groups)))[0]
    members = [np.flatnonzero(labels == label) for label in range(labels.max() + 1)]
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(n_boot):
        chosen = np.concatenate([members[i] for i in rng.integers(0, len(members), size=len(members))])
        xs, ys, cs = x[chosen], y[chosen], censored[chosen]
        if not _identified(xs, cs):
            continue
        centre, scale = xs.mean(), xs.std()
        theta, _, converged = _fit((xs - centre) / scale, ys, cs)
        if converged:
            slopes.append(theta[1] / scale)
    return np.asarray(slopes)


def _growth_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (family, route, task, seed): the route's best solved seconds, or its budget as a right-censored point."""
    annotated = _annotated(runs)
    solved_seconds = annotated["seconds"].where(annotated["_solved"])
    points = annotated.assign(_solved_seconds=solved_seconds).groupby(
        ["family", "route", "task", "seed"], sort=True).agg(
        difficulty=("difficulty", "first"),
        seconds=("_solved_seconds", "min"),
        budget=("budget", "max"),
    ).reset_index()
    points["censored"] = points["seconds"].isna()
    cost = points["seconds"].where(~points["censored"], points["budget"])
    points["log_cost"] = np.log(np.maximum(cost.to_numpy(dtype=float), COST_FLOOR))
    return points


def growth(runs: pd.DataFrame, *, n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """How each route's cost grows with difficulty, per (family, route).

    Points are (task, seed) pairs: the log of the route's best solved seconds (PAR-1), right-censored at
    log(budget) when no method of the route solved it. Two Tobit fits: log cost against difficulty (the
    exponential model, slope = growth rate) and against log(difficulty) (the polynomial model, slope =
    exponent). Both have three parameters, so the higher log-likelihood names the ``better`` model.
    Rows that cannot be fitted carry NaN numbers and a ``reason``; fitted rows have ``reason == ""``.
    """
    points = _growth_points(runs)
    rows = []
    for (family, route), group in points.groupby(["family", "route"], sort=True):
        d = group["difficulty"].to_numpy(dtype=float)
        y = group["log_cost"].to_numpy(dtype=float)
        censored = group["censored"].to_numpy(dtype=bool)
        row: dict = {"family": family, "route": route, "n": len(group), "n_censored": int(censored.sum()),
                     "difficulties": len(np.unique(d)), "d_min": float(d.min()), "d_max": float(d.max())}
        reason = ""
        if len(np.unique(d)) < 2:
            reason = "fewer than 2 distinct difficulties"
        elif not _identified(d, censored):
            reason = "solved runs at fewer than 2 distinct difficulties: the slope is not identified"
        for model in ("exp", "poly"):
            fit = None
            if not reason and (model == "exp" or d.min() > 0):
                x = d if model == "exp" else np.log(d)
                fit = tobit(x, y, censored=censored, groups=group["task"].to_numpy(), n_boot=n_boot, seed=seed)
            row.update(_fit_columns(model, fit))
        if not reason and d.min() <= 0:
            reason = "difficulty must be positive for the polynomial model"
        row["better"] = _better(row["exp_loglik"], row["poly_loglik"])
        row["reason"] = reason
        rows.append(row)
    columns = ["family", "route", "n", "n_censored", "difficulties", "d_min", "d_max",
               *(f"{m}_{k}" for m in ("exp", "poly") for k in ("intercept", "slope", "slope_lo", "slope_hi",
                                                                "loglik", "ci")),
               "better", "reason"]
    return pd.DataFrame(rows, columns=columns)


def _fit_columns(model: str, fit: TobitFit | None) -> dict:
    if fit is None:
        return {f"{model}_intercept": math.nan, f"{model}_slope": math.nan, f"{model}_slope_lo": math.nan,
                f"{model}_slope_hi": math.nan, f"{model}_loglik": math.nan, f"{model}_ci": "none"}
    return {f"{model}_intercept": fit.intercept, f"{model}_slope": fit.slope, f"{model}_slope_lo": fit.slope_lo,
            f"{model}_slope_hi": fit.slope_hi, f"{model}_loglik": fit.loglik, f"{model}_ci": fit.ci_method}


def _better(exp_loglik: float, poly_loglik: float) -> str | None:
    if math.isnan(exp_loglik) and math.isnan(poly_loglik):
        return None
    if math.isnan(poly_loglik):
        return "exponential"
    if math.isnan(exp_loglik):
        return "polynomial"
    return "exponential" if exp_loglik >= poly_loglik else "polynomial"


def crossover(growth_df: pd.DataFrame) -> pd.DataFrame:
    """Per family, the difficulty where the routes' fitted cost lines cross.

    The model is the one with the higher log-likelihood summed over both routes. ``crossover`` is NaN
    when the lines are parallel, when a route has no fit, or when the crossing lies outside the sane range
    [d_min / 10, 10 * d_max] of the observed difficulties; ``inside`` says whether it lies within
    [d_min, d_max]; ``cheaper_below`` names the route with the lower fitted cost below the crossing.
    """
    rows = []
    for family, group in growth_df.groupby("family", sort=True):
        fits = {row["route"]: row for _, row in group.iterrows()}
        row = {"family": family, "model": None, "crossover": math.nan, "inside": False, "cheaper_below": None,
               "d_min": float(group["d_min"].min()), "d_max": float(group["d_max"].max()), "reason": ""}
        rows.append(row)
        if set(fits) != set(ROUTES):
            row["reason"] = "needs fits for both routes"
            continue
        e, s = fits["extraction"], fits["synthesis"]
        totals = {m: e[f"{m}_loglik"] + s[f"{m}_loglik"] for m in ("exp", "poly")}
        finite = [m for m in totals if np.isfinite(totals[m])]
        if not finite:
            row["reason"] = "no fitted line for both routes"
            continue
        model = max(finite, key=lambda m: totals[m])
        row["model"] = "exponential" if model == "exp" else "polynomial"
        b_e, b_s = e[f"{model}_slope"], s[f"{model}_slope"]
        if abs(b_e - b_s) <= 1e-9 * max(1.0, abs(b_e), abs(b_s)):
            row["reason"] = "parallel lines"
            continue
        x_star = (s[f"{model}_intercept"] - e[f"{model}_intercept"]) / (b_e - b_s)
        if model == "poly" and x_star > math.log(SANE_FACTOR * row["d_max"]):
            row["reason"] = "crossing beyond the sane range"
            continue
        d_star = x_star if model == "exp" else math.exp(x_star)
        if not row["d_min"] / SANE_FACTOR <= d_star <= SANE_FACTOR * row["d_max"]:
            row["reason"] = "crossing outside the sane range"
            continue
        row["crossover"] = float(d_star)
        row["inside"] = bool(row["d_min"] <= d_star <= row["d_max"])
        # Below the crossing the route with the steeper line is the cheaper one.
        row["cheaper_below"] = "extraction" if b_e > b_s else "synthesis"
    return pd.DataFrame(rows, columns=["family", "model", "crossover", "inside", "cheaper_below", "d_min", "d_max",
                                       "reason"])


# --- sample complexity --------------------------------------------------------------------------------


def sample_complexity(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, route, method): the fewest training examples at which each seed solved the task, and their median.

    Columns: ``task, route, method, family, seeds, solved_seeds, examples_by_seed`` (dict seed -> fewest
    examples, NaN if that seed never solved), ``median_examples``. A seed that never solved counts as
    needing more examples than any tried, so the median is NaN unless more than half the seeds solved,
    the same majority that ``method_outcomes`` asks of a solve.
    """
    missing = [column for column in ("task", "family", "route", "method", "seed", "examples", "status")
               if column not in runs.columns]
    if missing:
        raise AnalysisError(f"sample_complexity needs columns {missing} in the runs table")
    fewest = runs.assign(_solved_at=runs["examples"].where(runs["status"].eq("solved"))).groupby(
        ["task", "route", "method", "seed"], sort=True).agg(
        family=("family", "first"), fewest=("_solved_at", "min")).reset_index()
    rows = []
    for (task, route, method), group in fewest.groupby(["task", "route", "method"], sort=True):
        values = group["fewest"].to_numpy(dtype=float)
        median = float(np.median(np.where(np.isnan(values), np.inf, values)))
        rows.append({
            "task": task, "route": route, "method": method, "family": group["family"].iloc[0],
            "seeds": len(group), "solved_seeds": int((~np.isnan(values)).sum()),
            "examples_by_seed": {int(s): float(v) for s, v in zip(group["seed"], values)},
            "median_examples": median if math.isfinite(median) else math.nan,
        })
    return pd.DataFrame(rows, columns=["task", "route", "method", "family", "seeds", "solved_seeds",
                                       "examples_by_seed", "median_examples"])
