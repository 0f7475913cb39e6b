"""The statistics of a comparison, checked against values computed by hand on small fixed tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from comparator.analysis import (
    MECHANISM_THRESHOLD,
    VIRTUAL_BEST,
    AnalysisError,
    bootstrap_ratio,
    crossover,
    growth,
    holm,
    mcnemar_exact,
    method_outcomes,
    par2,
    sample_complexity,
    summary,
    task_outcomes,
    tobit,
    verdicts,
    virtual_best,
    wilcoxon_costs,
    portfolio,
    self_checks,
    wilson,
)

BUDGET = 10.0


def run(task, route, status="solved", seconds=1.0, *, method=None, seed=0, family="fam", difficulty=1.0,
        examples=16, interchange=math.nan, splice=math.nan):
    """One row of a runs table, with the columns Comparison.runs has."""
    return {
        "task": task, "family": family, "difficulty": difficulty, "route": route,
        "method": method or ("auto" if route == "extraction" else "enumerative"), "seed": seed,
        "examples": examples, "budget": BUDGET, "status": status, "correct": status == "solved",
        "seconds": seconds if status == "solved" else BUDGET, "size": 5.0 if status == "solved" else math.nan,
        "agreement": 1.0 if route == "extraction" else math.nan, "interchange": interchange, "splice": splice,
    }


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows)


def paired(family, outcomes, *, e_seconds=1.0, s_seconds=1.0, interchange=math.nan):
    """Runs for tasks ``family0, family1, ...``: ``outcomes`` is a list of (extraction status, synthesis status)."""
    rows = []
    for i, (e, s) in enumerate(outcomes):
        name = f"{family}{i}"
        rows.append(run(name, "extraction", e, e_seconds, family=family, interchange=interchange))
        rows.append(run(name, "synthesis", s, s_seconds, family=family))
    return rows


def only(verdict_list, scope):
    (verdict,) = [v for v in verdict_list if v.scope == scope]
    return verdict


# --- small statistics ---------------------------------------------------------------------------------


def test_wilson_matches_the_textbook_interval():
    assert wilson(3, 10) == pytest.approx((0.1078, 0.6032), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(1, 3) == pytest.approx((0.0615, 0.7923), abs=1e-4)


def test_par2_charges_twice_the_budget_for_an_unsolved_run():
    assert par2(3.0, True, 10.0) == 3.0
    assert par2(3.0, False, 10.0) == 20.0
    assert par2([1.0, 9.0, 4.0], [True, False, True], 5.0).tolist() == [1.0, 10.0, 4.0]


def test_mcnemar_exact_is_a_two_sided_binomial_test():
    assert mcnemar_exact(8, 1) == pytest.approx(2 * (1 + 9) / 2**9)
    assert mcnemar_exact(8, 1) == pytest.approx(0.0390625)
    assert mcnemar_exact(1, 8) == mcnemar_exact(8, 1)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 2**6)


def test_holm_adjusts_step_down_and_stays_monotone():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.02]) == pytest.approx([0.02])
    adjusted = holm([0.01, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)
    assert holm([]) == []


def test_wilcoxon_costs_exact_p_and_too_few_differences():
    # Five positive differences: the exact two-sided p is 2 / 2^5.
    assert wilcoxon_costs([2, 3, 4, 5, 6], [1, 1, 1, 1, 1]) == pytest.approx(0.0625)
    assert wilcoxon_costs([1, 2, 3], [1, 2, 4]) is None
    assert wilcoxon_costs([], []) is None


def test_bootstrap_ratio_point_is_the_geometric_mean_ratio():
    point, lo, hi = bootstrap_ratio([1.0, 4.0], [2.0, 2.0], n_boot=500)
    assert point == pytest.approx(1.0)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(2.0)


def test_bootstrap_ratio_constant_ratios_give_a_point_interval():
    assert bootstrap_ratio([1.0, 2.0, 5.0], [2.0, 4.0, 10.0]) == pytest.approx((0.5, 0.5, 0.5))


def test_bootstrap_ratio_is_deterministic_in_its_seed():
    e, s = np.geomspace(0.5, 8.0, 12), np.linspace(1.0, 3.0, 12)
    first = bootstrap_ratio(e, s, seed=7, n_boot=2000)
    assert first == bootstrap_ratio(e, s, seed=7, n_boot=2000)
    assert first[1:] != bootstrap_ratio(e, s, seed=8, n_boot=2000)[1:]
    assert first[0] == bootstrap_ratio(e, s, seed=8, n_boot=2000)[0]


def test_bootstrap_ratio_empty_and_single_pair():
    assert all(math.isnan(v) for v in bootstrap_ratio([], []))
    assert bootstrap_ratio([3.0], [1.5]) == pytest.approx((2.0, 2.0, 2.0))
    with pytest.raises(ValueError, match="equal lengths"):
        bootstrap_ratio([1.0], [1.0, 2.0])


# --- laws ---------------------------------------------------------------------------------------------


@given(st.integers(0, 1000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_proportion(kn):
    k, n = kn
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= hi <= 1.0
    if n:
        assert lo <= k / n <= hi


@given(st.lists(st.floats(0.0, 1.0), max_size=12))
def test_holm_never_lowers_a_p_and_keeps_the_order(pvalues):
    adjusted = holm(pvalues)
    assert all(raw <= adj <= 1.0 for raw, adj in zip(pvalues, adjusted))
    in_order = [adjusted[i] for i in np.argsort(pvalues, kind="stable")]
    assert in_order == sorted(in_order)


@given(st.lists(st.tuples(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3)), min_size=1, max_size=15),
       st.integers(0, 2**16))
def test_bootstrap_interval_contains_its_point(pairs, seed):
    e, s = zip(*pairs)
    point, lo, hi = bootstrap_ratio(e, s, n_boot=200, seed=seed)
    assert lo <= point <= hi


# --- outcomes -----------------------------------------------------------------------------------------


def test_a_method_solves_a_task_in_more_than_half_its_seeds():
    rows = [
        run("t", "synthesis", "solved", 1.0, method="m", seed=0),
        run("t", "synthesis", "solved", 3.0, method="m", seed=1),
        run("t", "synthesis", "timeout", method="m", seed=2),
        run("t", "synthesis", "solved", 1.0, method="half", seed=0),
        run("t", "synthesis", "wrong", method="half", seed=1),
    ]
    outcomes = method_outcomes(table(rows)).set_index("method")
    assert outcomes.loc["m", "solved"] and outcomes.loc["m", "solved_seeds"] == 2
    assert outcomes.loc["m", "cost"] == pytest.approx(3.0)  # median of 1, 3, 20
    assert not outcomes.loc["half", "solved"] and outcomes.loc["half", "wrong"]
    assert outcomes.loc["half", "cost"] == pytest.approx((1.0 + 20.0) / 2)

    (task,) = task_outcomes(table(rows)).itertuples()
    assert task.solved and task.wrong and task.cost == pytest.approx(3.0) and task.method == "m"


def test_task_outcomes_checks_the_solving_extractions_mechanism():
    rows = [
        run("ok", "extraction", interchange=1.0, splice=math.nan),
        run("bad", "extraction", interchange=1.0, splice=MECHANISM_THRESHOLD - 0.01),
        run("unsolved", "extraction", "timeout", interchange=0.2),
        run("bad", "synthesis", interchange=0.0),
    ]
    outcomes = task_outcomes(table(rows)).set_index(["task", "route"])["mechanism_ok"]
    assert outcomes[("ok", "extraction")] and not outcomes[("bad", "extraction")]
    assert outcomes[("unsolved", "extraction")] and outcomes[("bad", "synthesis")]


def test_a_second_extractor_with_the_mechanism_rescues_the_task():
    rows = [
        run("t", "extraction", seconds=1.0, method="fast", interchange=0.5),
        run("t", "extraction", seconds=2.0, method="slow", interchange=1.0, splice=1.0),
    ]
    (task,) = task_outcomes(table(rows)).itertuples()
    assert task.mechanism_ok and task.cost == 1.0 and task.method == "fast"


def test_the_blackbox_control_has_its_row_but_counts_for_no_route():
    rows = [
        run("t0", "extraction", "solved", 1.0, method="blackbox"), run("t0", "extraction", "timeout", method="fsm"),
        run("t0", "synthesis", "timeout", method="enumerative"),
        run("t1", "extraction", "solved", 1.0, method="blackbox"), run("t1", "extraction", "solved", 5.0, method="fsm"),
        run("t1", "synthesis", "solved", 2.0, method="enumerative"),
    ]
    frame = table(rows)
    outcomes = task_outcomes(frame).set_index(["task", "route"])
    assert not outcomes.loc[("t0", "extraction"), "solved"]  # solved by the control alone: not extraction's
    assert outcomes.loc[("t1", "extraction"), "method"] == "fsm" and outcomes.loc[("t1", "extraction"), "cost"] == 5.0
    rows_by_key = summary(frame).set_index(["route", "method"])
    assert rows_by_key.loc[("extraction", "blackbox"), "solved"] == 2
    assert rows_by_key.loc[("extraction", VIRTUAL_BEST), "solved"] == 1
    assert "blackbox" not in set(virtual_best(frame)["method"])
    (pooled,) = [v for v in verdicts(frame) if v.scope == "pooled"]
    assert (pooled.solved_extraction, pooled.solved_synthesis) == (1, 1)


def test_a_program_an_extractor_disowns_is_not_a_wrong_answer_of_its_route():
    disowned = run("t0", "extraction", "wrong", method="fsm")
    disowned["agreement"] = 0.63  # returned as "unfaithful": it disagrees with the network
    claimed = run("t1", "extraction", "wrong", method="fsm")  # F1 = 1: the method's answer, and wrong
    rows = [disowned, claimed, run("t0", "synthesis", "timeout"), run("t1", "synthesis", "timeout")]
    outcomes = method_outcomes(table(rows)).set_index(["task", "route"])
    assert not outcomes.loc[("t0", "extraction"), "wrong"] and outcomes.loc[("t1", "extraction"), "wrong"]
    (pooled,) = [v for v in verdicts(table(rows)) if v.scope == "pooled"]
    assert (pooled.wrong_extraction, pooled.wrong_synthesis) == (1, 0)


def test_duplicate_runs_and_missing_columns_are_clear_errors():
    rows = [run("t", "synthesis", examples=4), run("t", "synthesis", examples=8)]
    with pytest.raises(AnalysisError, match="select one setting"):
        task_outcomes(table(rows))
    with pytest.raises(AnalysisError, match="lacks columns"):
        task_outcomes(table(rows).drop(columns=["budget"]))


def test_summary_counts_per_method_and_virtual_best():
    rows = [
        run("t0", "synthesis", "solved", 2.0, method="a"), run("t0", "synthesis", "timeout", method="b"),
        run("t1", "synthesis", "timeout", method="a"), run("t1", "synthesis", "solved", 4.0, method="b"),
        run("t2", "synthesis", "wrong", method="a"), run("t2", "synthesis", "timeout", method="b"),
        run("t0", "extraction", "solved", 1.0, interchange=0.5), run("t1", "extraction", "timeout"),
        run("t2", "extraction", "timeout"),
    ]
    rows_by_key = summary(table(rows)).set_index(["route", "method"])
    a = rows_by_key.loc[("synthesis", "a")]
    assert (a["solved"], a["tasks"], a["wrong"]) == (1, 3, 1)
    assert a["par2"] == pytest.approx((2.0 + 20.0 + 20.0) / 3)
    assert (a["rate_lo"], a["rate_hi"]) == pytest.approx(wilson(1, 3))
    best = rows_by_key.loc[("synthesis", VIRTUAL_BEST)]
    assert (best["solved"], best["tasks"], best["wrong"]) == (2, 3, 1)
    assert best["par2"] == pytest.approx((2.0 + 4.0 + 20.0) / 3)
    extraction = rows_by_key.loc[("extraction", VIRTUAL_BEST)]
    assert (extraction["solved"], extraction["not_mechanism"]) == (1, 1)


def test_virtual_best_picks_the_cheapest_method_over_both_routes():
    rows = [
        run("t0", "synthesis", "solved", 2.0), run("t0", "extraction", "solved", 5.0),
        run("t1", "synthesis", "timeout"), run("t1", "extraction", "solved", 7.0),
        run("t2", "synthesis", "timeout"), run("t2", "extraction", "memout"),
    ]
    best = virtual_best(table(rows)).set_index("task")
    assert (best.loc["t0", "route"], best.loc["t0", "cost"]) == ("synthesis", 2.0)
    assert (best.loc["t1", "route"], best.loc["t1", "method"]) == ("extraction", "auto")
    assert not best.loc["t2", "solved"] and best.loc["t2", "cost"] == 20.0


# --- verdicts -----------------------------------------------------------------------------------------


def test_extraction_wins_by_solving_significantly_more():
    rows = paired("mod", [("solved", "solved")] + [("solved", "timeout")] * 9)
    verdict = only(verdicts(table(rows)), "mod")
    assert verdict.winner == "extraction"
    assert (verdict.b, verdict.c, verdict.disagreements) == (9, 0, 9)
    assert verdict.p_mcnemar == pytest.approx(2 / 2**9) and verdict.p_holm == verdict.p_mcnemar
    assert verdict.interval_extraction == pytest.approx(wilson(10, 10))


def test_a_wrong_program_weighs_as_one_task_done_worse_not_a_disqualification():
    rows = paired("mod", [("solved", "timeout")] * 9 + [("wrong", "timeout")])
    verdict = only(verdicts(table(rows)), "mod")
    assert (verdict.b, verdict.c) == (9, 1)  # 9 tasks right against nothing, 1 wrong against nothing
    assert verdict.p_sign == pytest.approx(2 * (1 + 10) / 2**10)
    assert (verdict.wrong_extraction, verdict.wrong_synthesis) == (1, 0)
    assert verdict.winner == "extraction"
    assert "wrong programs on 1/10 (2–40%) vs 0/10 (0–28%)" in verdict.sentence


@pytest.mark.parametrize("first", ["extraction", "synthesis"])
def test_right_on_eleven_and_wrong_on_one_beats_a_route_that_answers_nothing(first):
    outcomes = [("solved", "abstained")] * 11 + [("wrong", "abstained")]
    rows = paired("scan", outcomes if first == "extraction" else [(s, e) for e, s in outcomes])
    verdict = only(verdicts(table(rows)), "pooled")
    assert verdict.winner == first
    assert verdict.p_sign == pytest.approx(2 * (1 + 12) / 2**12)
    assert verdict.wrong_interval_extraction == wilson(1 if first == "extraction" else 0, 12)


def test_a_route_that_is_wrong_where_the_other_is_right_does_worse_there():
    rows = paired("scan", [("solved", "wrong")] * 6 + [("timeout", "solved")] * 6)
    verdict = only(verdicts(table(rows)), "pooled")
    assert (verdict.b, verdict.c, verdict.disagreements) == (6, 6, 12)
    assert verdict.winner == "inconclusive"


def test_synthesis_wins_on_cost_when_solve_counts_tie():
    rows = paired("scan", [("solved", "solved")] * 6 + [("timeout", "timeout")], e_seconds=4.0, s_seconds=1.0)
    verdict = only(verdicts(table(rows)), "scan")
    assert verdict.solved_extraction == verdict.solved_synthesis == 6
    assert (verdict.ratio, verdict.ratio_lo, verdict.ratio_hi) == pytest.approx((4.0, 4.0, 4.0))
    assert verdict.winner == "synthesis"


def test_extraction_wins_on_cost_when_solve_counts_tie():
    rows = paired("scan", [("solved", "solved")] * 6, e_seconds=1.0, s_seconds=3.0)
    assert only(verdicts(table(rows)), "scan").winner == "extraction"


def test_equivalent_within_five_points_and_a_tight_ratio():
    rows = paired("bits", [("solved", "solved")] * 19 + [("solved", "timeout")], e_seconds=2.0, s_seconds=2.0)
    verdict = only(verdicts(table(rows)), "bits")
    assert (verdict.solved_extraction, verdict.solved_synthesis) == (20, 19)
    assert verdict.winner == "equivalent"
    # One task in nineteen is more than five points.
    rows = paired("bits", [("solved", "solved")] * 18 + [("solved", "timeout")], e_seconds=2.0, s_seconds=2.0)
    assert only(verdicts(table(rows)), "bits").winner == "inconclusive"


def test_inconclusive_sentence_states_the_intervals_and_disagreements():
    rows = paired("modular", [("solved", "solved"), ("solved", "timeout"), ("solved", "timeout")])
    verdict = only(verdicts(table(rows)), "modular")
    assert verdict.winner == "inconclusive" and verdict.disagreements == 2
    assert verdict.sentence.startswith(
        "modular: extraction right on 3/3 tasks (95% CI 44–100%), synthesis 1/3 (6–79%)")
    assert ("→ inconclusive (2 tasks where the routes' outcomes differ; extraction better on 2 tasks, synthesis on 0: "
            "exact sign test p=0.50") in verdict.sentence
    assert verdict.sentence.endswith(").") and "\n" not in verdict.sentence


def test_right_program_not_the_networks_mechanism_is_not_an_extraction_win():
    rows = paired("mod", [("solved", "timeout")] * 9, interchange=0.5)
    rows += paired("mod_ok", [("solved", "timeout")], interchange=1.0)
    for row in rows:
        row["family"] = "mod"
    verdict = only(verdicts(table(rows)), "mod")
    assert (verdict.solved_extraction, verdict.not_mechanism, verdict.b) == (1, 9, 1)
    assert verdict.winner == "inconclusive"
    assert "9 extracted tasks not counted: right program, not the network's mechanism" in verdict.sentence


def test_holm_adjusts_across_families_and_pooled_keeps_its_raw_p():
    rows = paired("a", [("solved", "timeout")] * 6) + paired("b", [("solved", "timeout")] * 6)
    result = verdicts(table(rows))
    assert [v.scope for v in result] == ["a", "b", "pooled"]
    for family in ("a", "b"):
        verdict = only(result, family)
        assert verdict.p_mcnemar == pytest.approx(2 / 2**6)
        assert verdict.p_holm == pytest.approx(2 * 2 / 2**6)
        assert verdict.winner == "inconclusive"
    pooled = only(result, "pooled")
    assert pooled.n_tasks == 12 and pooled.p_holm == pooled.p_mcnemar == pytest.approx(2 / 2**12)
    assert pooled.winner == "extraction" and "Holm" not in pooled.sentence
    assert "Holm-adjusted 0.06" in only(result, "a").sentence


# --- growth -------------------------------------------------------------------------------------------


def test_tobit_without_censoring_is_least_squares():
    x = np.arange(1.0, 9.0)
    y = 0.5 + 0.3 * x + np.array([0.1, -0.2, 0.05, 0.0, 0.15, -0.1, 0.2, -0.05])
    slope, intercept = np.polyfit(x, y, 1)
    fit = tobit(x, y)
    assert fit.slope == pytest.approx(slope, rel=1e-6)
    assert fit.intercept == pytest.approx(intercept, rel=1e-6)
    residual = y - (intercept + slope * x)
    sigma = math.sqrt(np.mean(residual**2))
    assert fit.sigma == pytest.approx(sigma, rel=1e-5)
    assert fit.loglik == pytest.approx(-len(x) / 2 * (math.log(2 * math.pi * sigma**2) + 1), rel=1e-8)
    # The maximum-likelihood standard error of a least-squares slope is sigma / sqrt(Sxx).
    half = 1.959964 * sigma / math.sqrt(np.sum((x - x.mean()) ** 2))
    assert fit.ci_method == "hessian"
    assert (fit.slope_lo, fit.slope_hi) == pytest.approx((slope - half, slope + half), rel=1e-4)


def test_tobit_recovers_a_slope_that_censoring_flattens():
    rng = np.random.default_rng(0)
    x = np.repeat(np.arange(1.0, 9.0), 20)
    latent = 1.0 + 1.0 * x + rng.normal(0.0, 1.0, len(x))
    ceiling = 6.0
    y, censored = np.minimum(latent, ceiling), latent >= ceiling
    naive = np.polyfit(x, y, 1)[0]
    fit = tobit(x, y, censored=censored)
    assert abs(fit.slope - 1.0) < 0.15 and abs(naive - 1.0) > 0.3
    assert fit.slope_lo < 1.0 < fit.slope_hi


def test_tobit_bootstrap_interval_and_unidentified_slope():
    x = np.arange(1.0, 9.0)
    y = 2.0 * x + np.array([0.1, -0.2, 0.05, 0.0, 0.15, -0.1, 0.2, -0.05])
    fit = tobit(x, y, ci="bootstrap", n_boot=50, seed=3)
    assert fit.ci_method == "bootstrap" and fit.slope_lo <= fit.slope <= fit.slope_hi
    assert fit == tobit(x, y, ci="bootstrap", n_boot=50, seed=3)
    with pytest.raises(ValueError, match="identify a slope"):
        tobit([1.0, 1.0, 2.0], [0.0, 1.0, 5.0], censored=[False, False, True])


def test_growth_fits_each_family_and_route():
    rows = []
    noise = [0.05, -0.05, 0.02]
    for d in (1.0, 2.0, 3.0, 4.0, 5.0):
        for seed, eps in enumerate(noise):
            task = f"grow{d:g}"
            rows.append(run(task, "synthesis", "solved", math.exp(-3.0 + 1.0 * d + eps), seed=seed,
                            family="grow", difficulty=d))
            rows.append(run(task, "extraction", "solved", math.exp(-1.5 + 0.3 * d - eps), seed=seed,
                            family="grow", difficulty=d))
    rows += [run("flat", "synthesis", seed=s, family="flat", difficulty=2.0) for s in range(2)]
    fits = growth(table(rows)).set_index(["family", "route"])
    synthesis = fits.loc[("grow", "synthesis")]
    assert synthesis["exp_slope"] == pytest.approx(1.0, abs=0.05)
    assert synthesis["exp_slope_lo"] < 1.0 < synthesis["exp_slope_hi"]
    assert synthesis["better"] == "exponential" and synthesis["reason"] == ""
    assert (synthesis["n"], synthesis["n_censored"], synthesis["difficulties"]) == (15, 0, 5)
    assert fits.loc[("grow", "extraction"), "exp_slope"] == pytest.approx(0.3, abs=0.05)
    flat = fits.loc[("flat", "synthesis")]
    assert math.isnan(flat["exp_slope"]) and "fewer than 2 distinct difficulties" in flat["reason"]

    (cross,) = crossover(growth(table(rows))[lambda f: f.family == "grow"]).itertuples()
    assert cross.model == "exponential"
    assert cross.crossover == pytest.approx(1.5 / 0.7, abs=0.1) and cross.inside
    assert cross.cheaper_below == "synthesis"


def test_growth_treats_timeouts_as_censored_at_the_budget():
    rows = []
    for d in (1.0, 2.0, 3.0, 4.0):
        for seed in range(3):
            seconds = math.exp(0.8 * d + 0.1 * (seed - 1))
            status = "solved" if seconds < BUDGET else "timeout"
            rows.append(run(f"t{d:g}", "synthesis", status, seconds, seed=seed, difficulty=d))
    (fit,) = growth(table(rows)).itertuples()
    assert fit.n_censored == 5 and fit.exp_slope > 0.75


def _growth_row(family, route, intercept, slope, *, d_min=1.0, d_max=5.0):
    return {"family": family, "route": route, "d_min": d_min, "d_max": d_max, "exp_intercept": intercept,
            "exp_slope": slope, "exp_loglik": -1.0, "poly_intercept": math.nan, "poly_slope": math.nan,
            "poly_loglik": math.nan}


def test_crossover_by_hand():
    frame = pd.DataFrame([
        _growth_row("cross", "extraction", 2.0, 0.3), _growth_row("cross", "synthesis", 0.5, 1.0),
        _growth_row("parallel", "extraction", 2.0, 0.5), _growth_row("parallel", "synthesis", 0.5, 0.5),
        _growth_row("far", "extraction", 100.0, 0.3), _growth_row("far", "synthesis", 0.5, 0.31),
        _growth_row("outside", "extraction", 8.0, 0.0), _growth_row("outside", "synthesis", 0.0, 1.0),
        _growth_row("alone", "synthesis", 0.0, 1.0),
    ])
    result = crossover(frame).set_index("family")
    assert result.loc["cross", "crossover"] == pytest.approx(1.5 / 0.7)
    assert result.loc["cross", "inside"] and result.loc["cross", "cheaper_below"] == "synthesis"
    assert math.isnan(result.loc["parallel", "crossover"]) and result.loc["parallel", "reason"] == "parallel lines"
    assert math.isnan(result.loc["far", "crossover"]) and "sane range" in result.loc["far", "reason"]
    assert result.loc["outside", "crossover"] == pytest.approx(8.0) and not result.loc["outside", "inside"]
    assert math.isnan(result.loc["alone", "crossover"]) and "both routes" in result.loc["alone", "reason"]


# --- sample complexity --------------------------------------------------------------------------------


def test_sample_complexity_by_hand():
    rows = []
    solved_at = {0: {8, 16}, 1: {4, 16}, 2: set()}  # seed 1 is not monotone: the fewest still counts
    for seed, solved in solved_at.items():
        for n in (4, 8, 16):
            rows.append(run("t", "synthesis", "solved" if n in solved else "timeout", seed=seed, examples=n))
    for seed, status in ((0, "solved"), (1, "timeout")):
        rows.append(run("t", "extraction", status, seed=seed, examples=32))
    result = sample_complexity(table(rows)).set_index("route")
    synthesis = result.loc["synthesis"]
    assert synthesis["examples_by_seed"][0] == 8 and synthesis["examples_by_seed"][1] == 4
    assert math.isnan(synthesis["examples_by_seed"][2])
    assert synthesis["median_examples"] == 8 and synthesis["solved_seeds"] == 2
    # One seed of two solved: not a majority, so no median.
    assert math.isnan(result.loc["extraction", "median_examples"])


# --- self-checks and portfolios ------------------------------------------------------------------------


def test_self_checks_count_the_wrong_programs_prevented_and_the_right_ones_thrown_away():
    rows = [
        {**run("t0", "synthesis", "abstained", method="rpni"), "self_check": "validation", "self_check_right": False},
        {**run("t1", "synthesis", "abstained", method="rpni"), "self_check": "validation", "self_check_right": True},
        {**run("t2", "synthesis", "abstained", method="rpni"), "self_check": "validation", "self_check_right": False},
        {**run("t0", "extraction", "wrong", method="fsm"), "agreement": 0.9},  # stored before the columns existed
        {**run("t1", "extraction", "solved", method="fsm"), "agreement": 0.5, "self_check": "agreement",
         "self_check_right": True},
        run("t2", "extraction", "solved", method="fsm"),  # F1 = 1: not turned away
    ]
    checks = self_checks(table(rows)).set_index(["route", "check"])
    assert checks.loc[("synthesis", "validation")].tolist() == [3, 2, 1, 0]
    assert checks.loc[("extraction", "agreement")].tolist() == [2, 1, 1, 0]
    # and a turned-away program is neither the route's answer nor its mistake
    outcome = task_outcomes(table(rows)).set_index(["task", "route"])["outcome"]
    assert outcome[("t0", "synthesis")] == "none" and outcome[("t0", "extraction")] == "none"


def test_a_portfolio_takes_the_first_answer_that_passes_the_routes_own_checks_in_order():
    rows = [
        {**run("t0", "synthesis", "wrong", method="enumerative"), "seconds": 2.0},  # a program: taken, though wrong
        run("t0", "synthesis", "solved", 1.0, method="smt"),
        run("t1", "synthesis", "timeout", method="enumerative"),
        run("t1", "synthesis", "solved", 3.0, method="smt"),
        {**run("t0", "extraction", "solved", 4.0, method="auto"), "interchange": 0.5},  # fails its own F2: skipped
        run("t0", "extraction", "solved", 1.0, method="fsm"),
        {**run("t1", "extraction", "abstained", method="auto"), "seconds": 1.0},
        run("t1", "extraction", "solved", 2.0, method="blackbox"),  # a control: never in a portfolio
    ]
    chosen = portfolio(table(rows)).set_index(["task", "route"])  # the default order: enumerative before smt
    assert chosen.loc[("t0", "synthesis"), ["outcome", "seconds", "method"]].tolist() == ["wrong", 2.0, "enumerative"]
    assert chosen.loc[("t1", "synthesis"), ["outcome", "seconds", "method"]].tolist() == ["right", BUDGET + 3.0, "smt"]
    assert chosen.loc[("t0", "extraction"), ["outcome", "seconds", "method"]].tolist() == ["right", 5.0, "fsm"]
    assert chosen.loc[("t1", "extraction"), ["outcome", "seconds"]].tolist() == ["none", 1.0]
    reordered = portfolio(table(rows), {"synthesis": ("smt", "enumerative")}).set_index(["task", "route"])
    assert reordered.loc[("t0", "synthesis"), ["outcome", "seconds", "method"]].tolist() == ["right", 1.0, "smt"]
    by = summary(table(rows)).set_index(["route", "method"])
    assert by.loc[("synthesis", "portfolio"), ["solved", "tasks", "wrong"]].tolist() == [1, 2, 1]
    # the virtual best is the oracle: it takes smt's right answer on t0 where the portfolio took a wrong one
    assert by.loc[("synthesis", "virtual best"), "solved"] == 2


def test_every_route_has_its_self_check_row_even_when_it_turned_nothing_away():
    checks = self_checks(table([run("t", "synthesis"), run("t", "extraction")]))
    assert checks.values.tolist() == [["extraction", "agreement", 0, 0, 0, 0], ["synthesis", "validation", 0, 0, 0, 0]]


def test_the_ramanujan_control_is_counted_by_no_route_and_summarised_per_family():
    from comparator.analysis import ramanujan_control

    rows = [run("t0", "synthesis", "timeout"), run("t1", "synthesis", "timeout"),
            run("t0", "extraction", "timeout", method="auto"), run("t1", "extraction", "solved", method="auto"),
            {**run("t0", "extraction", "solved", method="ramanujan"), "agreement": 0.25, "interchange": 0.8,
             "splice": 1.0, "train_accuracy": 1.0},
            {**run("t1", "extraction", "abstained", method="ramanujan"), "train_accuracy": 0.4}]
    frame = table(rows)
    outcome = task_outcomes(frame).set_index(["task", "route"])["outcome"]
    assert outcome[("t0", "extraction")] == "none"  # the control's right program is not the route's
    assert "ramanujan" not in set(portfolio(frame)["method"].dropna())
    (row,) = ramanujan_control(frame).to_dict("records")
    assert (row["tasks"], row["subnetwork"], row["right"]) == (2, 1, 1)
    assert (row["f1_context"], row["f2_isolation"], row["f3_isolation"]) == (0.25, 0.8, 1.0)
    assert (row["trained_right"], row["trained_mechanism"]) == (1, 1)


def test_the_mechanism_gate_takes_the_better_f2_and_refuses_a_reading_its_controls_also_match():
    from comparator.analysis import mechanism_checks

    rows = table([
        {**run("a", "extraction"), "interchange": 0.5, "interchange_distributed": 1.0},   # spread over units: F2-D
        {**run("b", "extraction"), "interchange": 0.5, "interchange_distributed": 0.6},   # neither F2 holds
        {**run("c", "extraction"), "interchange": 1.0, "control_untrained": 0.95},        # a random net aligns too
        {**run("d", "extraction"), "interchange_distributed": 1.0, "control_rewritten": 0.99},  # so does another program
        {**run("e", "extraction"), "interchange_distributed": 1.0, "control_untrained": 0.4, "control_rewritten": 0.5},
        {**run("f", "extraction"), "splice": 0.5},
        run("g", "extraction"),                                                            # nothing named: F1 alone
        {**run("h", "extraction"), "agreement": 0.99},
    ])
    assert mechanism_checks(rows).tolist() == [True, False, False, False, True, False, True, False]
    outcome = task_outcomes(rows).set_index("task")["outcome"]
    assert outcome["a"] == "right" and outcome["c"] == "none"
