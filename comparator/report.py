"""The written answer of a comparison: a Markdown report, verdict first, with its figures and tables.

`write_report(runs, out)` writes ``out/report.md`` and the PNG figures it links (cactus, scaling and,
for a sweep over example counts, sample complexity). Every number comes from `comparator.analysis`;
this module only selects the runs each part reads, draws and formats. Figures are drawn on
matplotlib's Agg canvas without pyplot, so nothing opens a window or touches global figure state,
and the same runs and seed give the same files.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

from comparator import analysis
from comparator.analysis import MECHANISM_THRESHOLD, PORTFOLIO, PORTFOLIO_ORDER, VIRTUAL_BEST, AnalysisError

__all__ = ["write_report"]

ROUTES = ("extraction", "synthesis")
DPI = 120
PANEL = (7.0, 4.5)
# Clocks can read 0 for a trivial run; a log axis needs a floor, and 1 ms is below anything a method measures.
SECONDS_FLOOR = 1e-3
ROUTE_SHADES = {
    "extraction": ("#08519c", "#4292c6", "#6baed6", "#9ecae1"),
    "synthesis": ("#a63603", "#e6550d", "#fd8d3c", "#fdae6b"),
}
ROUTE_COLOUR = {"extraction": "#2166ac", "synthesis": "#d6604d"}
ROUTE_MARKER = {"extraction": "o", "synthesis": "s"}
METHOD_STYLES = ("-", "--", "-.", ":")
PROGRAM_WIDTH = 72
# Saved without the "Software" entry so that the files do not change with the matplotlib version.
PNG_METADATA = {"Software": None}


def write_report(runs: pd.DataFrame, out: str | Path, *, title: str = "tractbench comparison", seed: int = 0,
                 command: str | None = None) -> Path:
    """Writes ``out/report.md`` and its figures (``cactus.png``, ``scaling.png``, maybe ``sample_complexity.png``).

    ``runs`` is a runs table (`Comparison.runs` or `Store.runs()`); ``seed`` drives every bootstrap, so
    the same runs and seed give the same report. ``command``, if given, is printed in the provenance
    footer as the way to reproduce the runs. The verdict, cactus, scaling and per-task parts read each
    task's largest examples setting; the sample-complexity figure reads every setting. Returns the
    path of ``report.md``. Raises `AnalysisError` (a ValueError) for an empty table or one the
    analysis cannot read.
    """
    if runs is None or len(runs) == 0:
        raise AnalysisError("the runs table is empty, so there is nothing to report: run a comparison first "
                            "(tractbench compare ...) and pass its runs (Comparison.runs or Store(path).runs())")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    headline, selection = _headline(runs)

    verdict_list = analysis.verdicts(headline, seed=seed)
    per_method = analysis.method_outcomes(headline)
    per_route = analysis.task_outcomes(headline)
    summary = analysis.summary(headline)
    growth = analysis.growth(headline, seed=seed)
    crossings = analysis.crossover(growth)

    _cactus_figure(per_method, per_route, headline, out / "cactus.png")
    _scaling_figure(headline, growth, crossings, out / "scaling.png")
    several = _example_settings(runs) > 1
    if several:
        _sample_complexity_figure(runs, out / "sample_complexity.png")
    else:
        # A figure left from an earlier sweep in the same folder must not pass for this comparison's.
        (out / "sample_complexity.png").unlink(missing_ok=True)

    parts = [
        _verdict_section(title, verdict_list, headline),
        _how_to_read(headline, selection),
        _cactus_section(per_method),
        _scaling_section(growth),
        _sample_complexity_section(runs, several),
        _summary_section(summary),
        _self_check_section(analysis.self_checks(headline)),
        _faithfulness_section(headline, summary),
        _ramanujan_section(analysis.ramanujan_control(headline)),
        _per_task_section(headline, per_method),
        _growth_section(growth, crossings),
        _provenance_section(runs, headline, command, seed),
    ]
    path = out / "report.md"
    path.write_text("\n\n".join(part.strip("\n") for part in parts if part) + "\n", encoding="utf-8")
    return path


# --- which runs each part reads -------------------------------------------------------------------------


def _headline(runs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Each task's runs at its largest examples setting, then its largest budget: one run per key for the analysis.

    Returns the runs and what the selection did: ``dropped`` (runs at other settings) and
    ``duplicates`` (runs left sharing task, route, method and seed; the last stored is kept).
    """
    frame = runs
    for column in ("examples", "budget"):
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype(float)
        largest = values.groupby(frame["task"]).transform("max")
        frame = frame[(values == largest) | largest.isna()]
    after_settings = len(frame)
    keys = [column for column in ("task", "route", "method", "seed") if column in frame.columns]
    frame = frame[~frame.duplicated(keys, keep="last")]
    return frame.reset_index(drop=True), {"dropped": len(runs) - after_settings,
                                          "duplicates": after_settings - len(frame)}


def _example_settings(runs: pd.DataFrame) -> int:
    """The most distinct example counts any task was run with (1 when the table does not say)."""
    if "examples" not in runs.columns:
        return 1
    counts = pd.to_numeric(runs["examples"], errors="coerce").groupby(runs["task"]).nunique()
    return max(1, int(counts.max())) if len(counts) else 1


def _route_methods(frame: pd.DataFrame) -> list[tuple[str, str]]:
    pairs = frame[["route", "method"]].drop_duplicates()
    return sorted(((r, m) for r, m in pairs.itertuples(index=False)), key=lambda rm: (ROUTES.index(rm[0]), rm[1]))


def _style(route: str, method: str, methods: Sequence[str]) -> dict:
    """Line colour, dash and marker of one route-method; a route's virtual best is its thick base colour."""
    if method == VIRTUAL_BEST:
        return {"color": ROUTE_COLOUR[route], "linestyle": "-", "linewidth": 3.0, "alpha": 0.45,
                "marker": None}
    i = list(methods).index(method)
    shades = ROUTE_SHADES[route]
    return {"color": shades[i % len(shades)], "linestyle": METHOD_STYLES[i % len(METHOD_STYLES)], "linewidth": 1.6,
            "marker": ROUTE_MARKER[route], "markersize": 4.5}


def _label(route: str, method: str) -> str:
    return f"{route} · {method}" + (" (control)" if (route, method) in analysis.CONTROLS else "")


def _budgets(frame: pd.DataFrame) -> list[float]:
    return sorted(float(b) for b in pd.to_numeric(frame["budget"], errors="coerce").dropna().unique())


def spaced_ticks(values, *, log: bool = False, char: float = 0.016, pad: float = 0.012) -> list[float]:
    """The sorted distinct `values` to label on an axis without overlap: the first, then each next one whose
    distance from the last one kept (as a fraction of the axis; of its log span on a log axis) is at least
    half the two labels' widths (`char` of the axis per character of ``f"{v:.3g}"``) plus `pad`."""
    values = sorted({float(v) for v in values})
    if len(values) < 2:
        return values
    at = np.log(values) if log and values[0] > 0 else np.asarray(values)
    span = float(at[-1] - at[0]) or 1.0
    width = [len(f"{v:.3g}") * char for v in values]
    kept = [0]
    for i in range(1, len(values)):
        if (at[i] - at[kept[-1]]) / span >= (width[i] + width[kept[-1]]) / 2 + pad:
            kept.append(i)
    return [values[i] for i in kept]


def _seconds_axis(ax, seconds: np.ndarray) -> None:
    """A log y axis spanning ``seconds`` (data and budgets), labelled with plain numbers (0.1, 1, 10).

    The limits are set from the values rather than left to autoscaling, which fails on a single value.
    """
    seconds = np.maximum(np.asarray(seconds, dtype=float), SECONDS_FLOOR)
    seconds = seconds[np.isfinite(seconds)]
    low, high = (float(seconds.min()) / 1.6, float(seconds.max()) * 1.6) if len(seconds) else (0.1, 10.0)
    # Limits first: they switch off autoscaling, which warns on a log axis whose points all sit at one value.
    ax.set_ylim(low, high)
    ax.set_yscale("log")
    decades = math.log10(high / low)
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(figure: Figure, path: Path) -> None:
    figure.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    figure.clear()


# --- figures --------------------------------------------------------------------------------------------


def _cactus_figure(per_method: pd.DataFrame, per_route: pd.DataFrame, runs: pd.DataFrame, path: Path) -> None:
    figure = Figure(figsize=(PANEL[0] + 2.5, PANEL[1]), layout="constrained")
    ax = figure.add_subplot()
    n_tasks = per_route["task"].nunique()
    for route in ROUTES:
        methods = sorted(per_method.loc[per_method["route"] == route, "method"].unique())
        if not methods:
            continue
        lines = [(method, per_method[(per_method["route"] == route) & (per_method["method"] == method)])
                 for method in methods]
        if len(methods) > 1:
            lines.append((VIRTUAL_BEST, per_route[per_route["route"] == route]))
        for method, table in lines:
            seconds = np.sort(np.maximum(table.loc[table["solved"], "cost"].to_numpy(dtype=float), SECONDS_FLOOR))
            solved = np.arange(1, len(seconds) + 1)
            ax.plot(solved, seconds, label=f"{_label(route, method)} ({len(seconds)}/{len(table)})",
                    **_style(route, method, methods), drawstyle="steps-post" if method == VIRTUAL_BEST else "default")
    budgets = _budgets(runs)
    for budget in budgets:
        ax.axhline(budget, color="0.35", linestyle="--", linewidth=1.0, label=f"budget {_seconds(budget)}")
    _seconds_axis(ax, np.concatenate([per_method.loc[per_method["solved"], "cost"].to_numpy(dtype=float), budgets]))
    ax.set_xlim(0, max(1, n_tasks) + 0.5)
    if not per_method["solved"].any():
        ax.text(0.5, 0.5, "no method solved any task", transform=ax.transAxes, ha="center", va="center",
                color="0.3")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tasks solved (verified correct)")
    ax.set_ylabel("seconds per task, sorted (log scale)")
    ax.set_title(f"Cactus plot: tasks solved within a time, of {n_tasks} task{_s(n_tasks)}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title="route · method (solved)",
              title_fontsize="small", frameon=False)
    _save(figure, path)


def _growth_points(runs: pd.DataFrame) -> pd.DataFrame:
    """The (task, seed) points `analysis.growth` fits, with ``seconds`` at the budget where censored."""
    # The plot must show exactly the points the fit saw, so they come from the analysis itself.
    points = analysis._growth_points(runs)
    points["seconds"] = points["seconds"].where(~points["censored"], points["budget"])
    return points


def _fit_label(row: pd.Series) -> tuple[str, str] | None:
    """The better model of a growth row and its slope in words, or None when the row has no fit."""
    if not isinstance(row["better"], str):
        return None
    key = "exp" if row["better"] == "exponential" else "poly"
    slope = row[f"{key}_slope"]
    interval = f"95% CI {_slope_interval(row, key)}"
    if key == "exp":
        return key, f"exponential, log-cost slope {slope:.2f} per unit ({interval})"
    return key, f"polynomial, exponent {slope:.2f} ({interval})"


def _slope_interval(row: pd.Series, key: str) -> str:
    lo, hi = row[f"{key}_slope_lo"], row[f"{key}_slope_hi"]
    if row["n"] - row["n_censored"] <= 2:
        # Two solved points fit a line exactly: the noise scale collapses and any interval is an artefact.
        return "none: only 2 solved points"
    return f"{lo:.2f}–{hi:.2f}" if np.isfinite(lo) and np.isfinite(hi) else "none"


def _scaling_figure(runs: pd.DataFrame, growth: pd.DataFrame, crossings: pd.DataFrame, path: Path) -> None:
    points = _growth_points(runs)
    families = sorted(points["family"].unique())
    columns = 1 if len(families) == 1 else 2
    rows = math.ceil(len(families) / columns)
    figure = Figure(figsize=(PANEL[0] * columns, (PANEL[1] + 0.6) * rows + 0.6), layout="constrained")
    budgets = _budgets(runs)
    for index, family in enumerate(families):
        _scaling_panel(figure.add_subplot(rows, columns, index + 1), family, points[points["family"] == family],
                       growth[growth["family"] == family], crossings[crossings["family"] == family], budgets)
    markers = []
    for route in ROUTES:
        if (points["route"] == route).any():
            colour = ROUTE_COLOUR[route]
            markers.append(Line2D([], [], linestyle="none", marker=ROUTE_MARKER[route], color=colour,
                                  label=f"{route}: solved (route's best, per task and seed)"))
            markers.append(Line2D([], [], linestyle="none", marker="^", markerfacecolor="none",
                                  markeredgecolor=colour, label=f"{route}: unsolved, drawn at the budget"))
    markers.append(Line2D([], [], color="0.35", linestyle="--", label="budget"))
    figure.legend(handles=markers, loc="outside upper center", ncol=min(len(markers), 3 if columns > 1 else 2),
                  fontsize="small", frameon=False)
    _save(figure, path)


def _scaling_panel(ax, family: str, points: pd.DataFrame, growth: pd.DataFrame, crossing: pd.DataFrame,
                   budgets: list[float]) -> None:
    """One family: its (task, seed) points per route, each route's fitted line, the crossover, the budget."""
    d = points["difficulty"].to_numpy(dtype=float)
    d_min, d_max = float(d.min()), float(d.max())
    log_x = d_min > 0 and d_max / d_min > 20
    span = (math.log(d_max) - math.log(d_min)) if log_x else (d_max - d_min)
    # Routes sit either side of each difficulty so that their points do not hide each other.
    shift = 0.012 * (span if span > 0 else 1.0)
    handles = []
    for r, route in enumerate(ROUTES):
        mine = points[points["route"] == route]
        if mine.empty:
            continue
        x = mine["difficulty"].to_numpy(dtype=float)
        x = x * math.exp((2 * r - 1) * shift) if log_x else x + (2 * r - 1) * shift
        y = np.maximum(mine["seconds"].to_numpy(dtype=float), SECONDS_FLOOR)
        censored = mine["censored"].to_numpy(dtype=bool)
        colour = ROUTE_COLOUR[route]
        ax.scatter(x[~censored], y[~censored], s=22, marker=ROUTE_MARKER[route], color=colour, alpha=0.8,
                   linewidths=0)
        ax.scatter(x[censored], y[censored], s=42, marker="^", facecolors="none", edgecolors=colour, linewidths=1.2)
        fit = growth[growth["route"] == route]
        described = _fit_label(fit.iloc[0]) if len(fit) else None
        if described is None:
            reason = fit.iloc[0]["reason"] if len(fit) else "no runs"
            handles.append(Line2D([], [], color=colour, linestyle=":", label=f"{route}: no fit ({reason})"))
            continue
        key, words = described
        row = fit.iloc[0]
        grid = np.geomspace(d_min, d_max, 100) if log_x else np.linspace(d_min, d_max, 100)
        line = np.exp(row[f"{key}_intercept"] + row[f"{key}_slope"] * (grid if key == "exp" else np.log(grid)))
        handles += ax.plot(grid, line, color=colour, linewidth=1.8, label=f"{route}: {words}")
    if len(crossing) and bool(crossing.iloc[0]["inside"]):
        d_star, model = float(crossing.iloc[0]["crossover"]), crossing.iloc[0]["model"]
        handles.append(ax.axvline(d_star, color="0.2", linestyle=":", linewidth=1.4,
                                  label=f"crossover at difficulty {d_star:.3g} (both routes' {model} fits)"))
    for budget in budgets:
        ax.axhline(budget, color="0.35", linestyle="--", linewidth=1.0)
    _seconds_axis(ax, np.concatenate([points["seconds"].to_numpy(dtype=float), budgets]))
    if log_x:
        ax.set_xscale("log")
    if d_min == d_max:
        ax.set_xlim(d_min - 1, d_max + 1)
    distinct = np.unique(d)
    if len(distinct) <= 12:
        # Few difficulties: tick those that were run (no tick names a difficulty that was not), leaving out
        # any too close to the last one kept for their labels not to overlap.
        ticks = spaced_ticks(distinct, log=log_x)
        ax.set_xticks(ticks, [f"{v:.3g}" for v in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_title(f"{family}: cost against difficulty")
    ax.set_xlabel("difficulty (the task's size knob)" + (", log scale" if log_x else ""))
    ax.set_ylabel("seconds (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="small",
              title="fitted growth (Tobit, 95% CI)", title_fontsize="small", frameon=False)


def _sample_complexity_figure(runs: pd.DataFrame, path: Path) -> None:
    needed = analysis.sample_complexity(runs)
    tried = pd.to_numeric(runs["examples"], errors="coerce").dropna()
    x_lo, x_hi = float(tried.min()), float(tried.max())
    figure = Figure(figsize=(PANEL[0] + 2.5, PANEL[1]), layout="constrained")
    ax = figure.add_subplot()
    for route in ROUTES:
        mine = needed[needed["route"] == route]
        methods = sorted(mine["method"].unique())
        curves = [(method, mine[mine["method"] == method].set_index("task")["median_examples"]) for method in methods]
        if len(methods) > 1:
            curves.append((VIRTUAL_BEST, mine.groupby("task")["median_examples"].min()))
        for method, fewest in curves:
            values = np.sort(fewest.dropna().to_numpy(dtype=float))
            n = len(fewest)
            xs = np.concatenate([[x_lo], values, [x_hi]])
            ys = np.concatenate([[0.0], np.arange(1, len(values) + 1) / n, [len(values) / n]])
            style = _style(route, method, methods)
            style.pop("marker")
            style.pop("markersize", None)
            ax.step(xs, ys, where="post", label=f"{_label(route, method)} ({len(values)}/{n})", **style)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training examples (count, log scale)")
    ax.set_ylabel("fraction of tasks solved")
    ax.set_title("Sample complexity: tasks solved with at most this many examples")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title="route · method (solved)",
              title_fontsize="small", frameon=False)
    _save(figure, path)


# --- sections -------------------------------------------------------------------------------------------


def _verdict_section(title: str, verdict_list: list[analysis.Verdict], runs: pd.DataFrame) -> str:
    lines = [f"# {title}", ""]
    pooled = [v for v in verdict_list if v.scope == "pooled"]
    families = [v for v in verdict_list if v.scope != "pooled"]
    if not pooled:
        present = sorted(runs["route"].unique())
        lines.append(f"**No verdict: no task was run by both routes (this table has only {', '.join(present)} "
                     "runs). Run the comparison with at least one extractor and one synthesizer.**")
        return "\n".join(lines)
    lines += [f"**{pooled[0].sentence}**", ""]
    lines += [f"- {v.sentence}" for v in families]
    return "\n".join(lines)


def _how_to_read(runs: pd.DataFrame, selection: dict) -> str:
    budgets = ", ".join(_seconds(b) for b in _budgets(runs))
    text = (
        "**How to read this.** A run counts as solved only when `task.verify` proved its program correct; a "
        "method solves a task when it does so in more than half of its seeds, and a route when any of its methods "
        "does. Per task a route's outcome is right > no program > wrong, and the verdict is an exact sign test on "
        "the tasks where the routes' outcomes differ, then the cost ratio: a wrong program weighs as one task done "
        "worse, and wrong-program rates stand beside it. Every run had the same "
        f"wall-clock budget ({budgets}) on one CPU thread, and extraction's time includes training the network. "
        "An extraction that is correct but fails the interchange (F2) or splice (F3) check is "
        "\"right program, not the network's mechanism\" and is not counted as an extraction win. "
        "The verdict, cactus and scaling plots and the tables read each task's largest examples setting"
    )
    if selection["dropped"]:
        text += (f" ({selection['dropped']} runs at smaller example counts or budgets are left out of them; "
                 "the sample-complexity figure reads every setting)")
    text += "."
    if selection["duplicates"]:
        text += (f" {selection['duplicates']} runs repeating a task, route, method and seed at the same setting "
                 "were left out, keeping the last one stored.")
    return text


def _cactus_section(per_method: pd.DataFrame) -> str:
    several = per_method.groupby("route")["method"].nunique()
    best = ("Thick pale lines are each route's virtual best (per task, its cheapest method). "
            if (several > 1).any() else "")
    return (
        "## Cactus plot\n\n"
        "![Cactus plot: tasks solved against seconds per task](cactus.png)\n\n"
        "Each line is one route and method: the n-th point is the time of its n-th fastest solved task "
        "(median over seeds), so a line further right solves more and a lower line solves faster. "
        f"{best}The dashed line is the budget. Verified programs count here even when they fail the mechanism "
        "check; the verdict does not count those."
    )


def _scaling_section(growth: pd.DataFrame) -> str:
    text = (
        "## Scaling with difficulty\n\n"
        "![Cost against difficulty, one panel per family](scaling.png)\n\n"
        "One point per task and seed for each route (its best method); hollow triangles are runs no method of "
        "the route solved, drawn at the budget and treated as censored there by the fit. The lines are the "
        "better of an exponential and a polynomial censored (Tobit) fit of log seconds against difficulty, "
        "with the slope and its 95% interval in the legend. A dotted line marks a crossover of the routes' "
        "fitted costs inside the observed difficulties, computed with the model that fits both routes better."
    )
    unfitted = growth[growth["reason"] != ""]
    if len(growth) and len(unfitted) == len(growth):
        reasons = sorted(set(unfitted["reason"]))
        text += (f"\n\nNo growth line could be fitted ({'; '.join(reasons)}): a fit needs solved runs at two or "
                 "more difficulties per family and route.")
        if (unfitted["difficulties"] < 2).any():
            text += " To see growth, run tasks at rising difficulty, such as the `scaling` suite."
    return text


def _sample_complexity_section(runs: pd.DataFrame, several: bool) -> str:
    if not several:
        counts = pd.to_numeric(runs["examples"], errors="coerce").dropna() if "examples" in runs else pd.Series()
        used = (f" ({_range(counts.min(), counts.max())} examples per task)" if len(counts) else "")
        return ("## Sample complexity\n\n"
                f"This comparison used one example set{used}, so there is no sample-complexity curve. To measure "
                "how many examples each route needs, rerun it as a sweep over example fractions, for instance "
                "`tractbench compare ... --examples 0.1,0.3,1.0`.")
    return (
        "## Sample complexity\n\n"
        "![Fraction of tasks solved against the number of examples](sample_complexity.png)\n\n"
        "Every examples setting of the comparison: for each route and method, the fraction of tasks solved with "
        "at most x training examples. A task's count is the median over its seeds of the fewest examples at which "
        "the seed solved it, so a task counts only where more than half of its seeds solved it. Verified programs "
        "count here even when they fail the mechanism check."
    )


def _summary_section(summary: pd.DataFrame) -> str:
    rows = []
    for row in summary.itertuples(index=False):
        rows.append([
            row.route, row.method if row.method not in (VIRTUAL_BEST, PORTFOLIO) else f"*{row.method}*",
            f"{row.solved}/{row.tasks}", f"{100 * row.rate:.0f}% ({100 * row.rate_lo:.0f}–{100 * row.rate_hi:.0f}%)",
            _seconds(row.par2), str(row.wrong), str(row.not_mechanism) if row.route == "extraction" else "—",
        ])
    return (
        "## Summary\n\n"
        + _table(["route", "method", "solved", "rate (95% Wilson CI)", "PAR-2", "wrong", "not mechanism"], rows)
        + "\n\nPAR-2 is the mean over tasks of the median-over-seeds cost, where an unsolved run costs twice the "
        "budget. *wrong* counts tasks where some run returned a wrong program; *not mechanism* counts solved "
        "extractions that failed interchange or splice (they are included in *solved* here). The *virtual best* "
        "takes, per task, the best any method of the route did, which only the verifier can know; the "
        "*portfolio* is what a user without the verifier gets: the route's methods run in a stated order "
        f"(synthesis: {', '.join(PORTFOLIO_ORDER['synthesis'])}; extraction: {', '.join(PORTFOLIO_ORDER['extraction'])}; "
        "cheapest first on the quick suite), the first answer that passes the route's own checks taken (a "
        "synthesizer's program that survived its self-check; a reading that passes the mechanism gate: F1 = 1, the "
        f"better of F2 and F2-D and F3 at least {MECHANISM_THRESHOLD:g}, the alignment's controls at most 0.9, each "
        "where measured), its seconds the sum up to that answer (its PAR-2 twice the sum when no right answer came)."
    )


def _self_check_section(checks: pd.DataFrame) -> str:
    text = ("## Self-checks\n\nA route's own check may turn an answer away before anyone verifies it: a synthesizer "
            "whose program fails the part of its examples it set aside (`validation`, on by default for `rpni`), "
            "an extractor whose reading disagrees with its own network somewhere (`agreement`, F1 < 1). Such an "
            "answer counts as the route's abstention; the verifier still looks at it, to say how many wrong "
            "programs each check prevented and how many right ones it threw away.\n\n")
    if checks.empty:
        return text + "No runs to count."
    rows = [[r.route, r.check, str(r.turned_away), str(r.prevented), str(r.discarded), str(r.undecided)]
            for r in checks.itertuples(index=False)]
    return text + _table(["route", "check", "turned away", "wrong prevented", "right thrown away", "undecided"], rows)


def _ramanujan_section(control: pd.DataFrame) -> str:
    if control.empty:
        return ""
    def score(x: float) -> str:
        return "—" if pd.isna(x) else f"{x:.2f}"

    rows = [[r.family, str(r.tasks), str(r.subnetwork), str(r.right), score(r.f1_context), score(r.f2_isolation),
             score(r.f3_isolation), str(r.trained_right), str(r.trained_mechanism)] for r in control.itertuples(index=False)]
    tasks, found, right = int(control["tasks"].sum()), int(control["subnetwork"].sum()), int(control["right"].sum())
    f1 = control["f1_context"].dropna()
    def spread(column: str) -> str:
        values = control[column].dropna()
        return "not measured" if values.empty else f"{values.min():.2f}–{values.max():.2f}"

    shows = (f"On {found} of {tasks} tasks the untrained network, of the very shape training starts from, holds a "
             f"subnetwork that is exact on the examples without a weight changed; on {right} the reading of that "
             f"subnetwork is verified right, with its checks inside the subnetwork (in isolation) at F2 "
             f"{spread('f2_isolation')} and F3 {spread('f3_isolation')}")
    shows += (f", yet the same program agrees with the whole random network on only {f1.min():.0%}–{f1.max():.0%} of "
              "the domain (F1 in context)" if len(f1) else "")
    shows += (". A part that computes the task in isolation is evidence about the part, not about what the network "
              "does: that is why a trained network's reading counts only when its checks hold in the whole network "
              f"(F1 = 1, interchange and splice in context, the alignment's controls low), as {int(control['trained_mechanism'].sum())} of the trained "
              f"networks' {int(control['trained_right'].sum())} right readings here do.")
    return ("## Ramanujan control: random networks hide working subnetworks\n\n"
            "Ramanujan et al. (2020) found that wide enough randomly weighted networks contain subnetworks that do a "
            "task. The `ramanujan` control (`extraction.subnetwork`, edge-popup over the frozen weights of "
            "`extraction.untrained`, keeping half of each layer) searches one, reads it with `auto`, and checks the "
            "program against the whole random network. It is counted by no route.\n\n"
            + _table(["family", "tasks", "random: subnetwork exact", "random: reading right", "F1 in context",
                      "F2 in isolation", "F3 in isolation", "trained: right", "trained: mechanism"], rows)
            + "\n\n" + shows)


def _faithfulness_section(runs: pd.DataFrame, summary: pd.DataFrame) -> str:
    extraction = runs[runs["route"] == "extraction"]
    if extraction.empty:
        return "## Faithfulness of extractions\n\nNo extraction runs in this comparison."
    rows = []
    reported = False
    for method, group in extraction.groupby("method", sort=True):
        line = summary[(summary["route"] == "extraction") & (summary["method"] == method)].iloc[0]
        means = []
        for column in ("agreement", "interchange", "splice"):
            values = pd.to_numeric(group[column], errors="coerce").dropna() if column in group else pd.Series()
            reported |= len(values) > 0
            means.append(f"{values.mean():.3f} (n={len(values)})" if len(values) else "—")
        rows.append([method, f"{line.solved}/{line.tasks}", *means, str(line.not_mechanism)])
    text = (
        "## Faithfulness of extractions\n\n"
        + _table(["method", "solved", "agreement F1", "interchange F2", "splice F3",
                  "right program, not the network's mechanism"], rows)
        + "\n\nMeans over the runs that report each score (n runs); F1 is the agreement of program and network "
        f"over the whole domain, F2 and F3 the interchange and splice checks, which must reach "
        f"{MECHANISM_THRESHOLD:g} for a solved extraction to count as the network's mechanism. The last column "
        "counts tasks."
    )
    if not reported:
        text += " No extraction reported a faithfulness score, so none could be checked."
    return text


def _per_task_section(runs: pd.DataFrame, per_method: pd.DataFrame) -> str:
    pairs = _route_methods(runs)
    failing = per_method.set_index(["task", "route", "method"])["mechanism_ok"]
    tasks = (runs.groupby("task").agg(family=("family", "first"), difficulty=("difficulty", "first"))
             .reset_index().sort_values(["family", "difficulty", "task"], kind="stable"))
    header = ["task", "family", "difficulty", *(_label(r, m) for r, m in pairs), "program (shortest solved)"]
    rows, details = [], []
    for task in tasks.itertuples(index=False):
        mine = runs[runs["task"] == task.task]
        cells, programs = [], []
        for route, method in pairs:
            group = mine[(mine["route"] == route) & (mine["method"] == method)]
            cell = _run_cell(group)
            if cell and not failing.get((task.task, route, method), True):
                cell += " · not mechanism"
            cells.append(cell or "—")
            for program in _solved_programs(group):
                programs.append((route, method, program))
        shortest = min((p for _, _, p in programs), key=lambda p: (len(p), p), default=None)
        rows.append([task.task, task.family, f"{task.difficulty:g}", *cells,
                     _code_span(_one_line(shortest)) if shortest else "—"])
        if programs:
            details.append(_programs_block(task.task, programs))
    text = (
        "## Per task\n\n"
        "Each cell: statuses over seeds, median wall seconds, median program size of the solved runs.\n\n"
        + _table(header, rows)
    )
    if details:
        text += "\n\n### Programs\n\nThe solved programs, one per distinct program text, by route and method.\n\n"
        text += "\n\n".join(details)
    return text


def _programs_block(task: str, programs: list[tuple[str, str, str]]) -> str:
    """A collapsible block of a task's distinct solved programs, each headed by the route-methods that found it."""
    found: dict[str, list[str]] = {}
    for route, method, program in programs:
        found.setdefault(program, []).append(_label(route, method))
    blocks = "\n\n".join(f"{', '.join(dict.fromkeys(labels))}:\n\n```python\n{program.rstrip()}\n```"
                          for program, labels in found.items())
    return f"<details><summary>{_html(task)}</summary>\n\n{blocks}\n\n</details>"


def _run_cell(group: pd.DataFrame) -> str:
    if group.empty:
        return ""
    counts = group["status"].value_counts()
    order = ["solved", "wrong", "timeout", "memout", "abstained", "error"]
    statuses = ", ".join(f"{s} {counts[s]}/{len(group)}" for s in sorted(counts.index, key=lambda s: (
        order.index(s) if s in order else len(order), s)))
    seconds = pd.to_numeric(group["seconds"], errors="coerce").dropna()
    parts = [statuses]
    if len(seconds):
        parts.append(_seconds(float(seconds.median())))
    if "size" in group:
        sizes = pd.to_numeric(group.loc[group["status"] == "solved", "size"], errors="coerce").dropna()
        if len(sizes):
            parts.append(f"size {float(sizes.median()):g}")
    return " · ".join(parts)


def _solved_programs(group: pd.DataFrame) -> list[str]:
    if "program" not in group:
        return []
    solved = group[group["status"].eq("solved")].sort_values("seed", kind="stable")
    return list(dict.fromkeys(p for p in solved["program"] if isinstance(p, str) and p.strip()))


def _growth_section(growth: pd.DataFrame, crossings: pd.DataFrame) -> str:
    if growth.empty:
        return "## Growth\n\nNo runs to fit."
    rows = []
    by_family = crossings.set_index("family") if len(crossings) else pd.DataFrame()
    for row in growth.itertuples(index=False):
        series = pd.Series(row._asdict())
        described = _fit_label(series)
        if described is None:
            model, slope = "—", f"no fit: {row.reason}"
        else:
            key, _ = described
            name = "exponential (log-cost slope per unit)" if key == "exp" else "polynomial (exponent)"
            model, slope = name, f"{getattr(row, f'{key}_slope'):.2f} (95% CI {_slope_interval(series, key)})"
        first = not rows or rows[-1][0] != row.family
        rows.append([row.family, row.route, model, slope, f"{row.n} ({row.n_censored})",
                     _range(row.d_min, row.d_max), _crossing(by_family, row.family) if first else "″"])
    return (
        "## Growth\n\n"
        + _table(["family", "route", "better model", "slope", "points (censored)", "difficulties", "crossover"],
                 rows)
        + "\n\nExponential: log seconds grow linearly in difficulty (cost multiplies by e^slope per unit). "
        "Polynomial: seconds grow as difficulty^exponent. Points are (task, seed) pairs; censored points are runs "
        "no method of the route solved, held at the budget. The crossover uses the model with the higher "
        "log-likelihood summed over both routes, so it may differ from a route's own better model."
    )


def _crossing(by_family: pd.DataFrame, family: str) -> str:
    if family not in by_family.index:
        return "—"
    row = by_family.loc[family]
    if not np.isfinite(row["crossover"]):
        return f"none ({row['reason']})" if row["reason"] else "none"
    other = "synthesis" if row["cheaper_below"] == "extraction" else "extraction"
    where = "inside the observed range" if row["inside"] else "extrapolated beyond the observed range"
    return (f"difficulty {row['crossover']:.3g} ({row['model']}, {where}): {row['cheaper_below']} cheaper "
            f"below, {other} above")


def _provenance_section(runs: pd.DataFrame, headline: pd.DataFrame, command: str | None, seed: int) -> str:
    seeds = sorted(int(s) for s in pd.to_numeric(runs["seed"], errors="coerce").dropna().unique())
    methods = ", ".join(_label(r, m) for r, m in _route_methods(runs))
    lines = [
        "## Provenance",
        "",
        (f"- runs: {len(runs)} ({len(headline)} at the largest examples setting per task), "
         f"{_count(runs['task'].nunique(), 'task')} in {_count(runs['family'].nunique(), 'family', 'families')}"),
        f"- methods: {methods}",
        f"- seeds: {_list(seeds)}",
        f"- budget per run: {', '.join(_seconds(b) for b in _budgets(runs))}",
    ]
    if "examples" in runs:
        counts = pd.to_numeric(runs["examples"], errors="coerce").dropna()
        if len(counts):
            lines.append(f"- examples per run: {_range(counts.min(), counts.max())}"
                         + (f" ({_example_settings(runs)} settings per task)" if _example_settings(runs) > 1 else ""))
    for column, name in (("version", "tractbench version"), ("commit", "git commit")):
        if column in runs:
            values = sorted({str(v) for v in runs[column] if isinstance(v, str) and v})
            lines.append(f"- {name}: {', '.join(f'`{v}`' for v in values) if values else 'not recorded'}")
    lines.append(f"- analysis seed (bootstrap intervals): {seed}")
    if command:
        lines += ["", "To reproduce:", "", "```sh", command, "```"]
    return "\n".join(lines)


# --- formatting -----------------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(_cell(c) for c in cells) + " |"

    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *(line(row) for row in rows)])


def _cell(text: str) -> str:
    # A pipe ends a table cell even inside a code span, so it is escaped everywhere.
    return str(text).replace("\n", " ").replace("|", "\\|")


def _one_line(program: str) -> str:
    """A program on one line: ``def f(a, b): t = a ^ b; return t``, cut at PROGRAM_WIDTH."""
    text = ""
    for line in (line.strip() for line in program.strip().splitlines()):
        if line:
            text += line if not text else (" " if text.endswith(":") else "; ") + line
    return text if len(text) <= PROGRAM_WIDTH else text[:PROGRAM_WIDTH - 1] + "…"


def _code_span(text: str) -> str:
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{text}{ticks}"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _seconds(x: float) -> str:
    if not np.isfinite(x):
        return "—"
    return f"{x:.3g} s" if x < 1000 else f"{x:,.0f} s"


def _range(lo: float, hi: float) -> str:
    return f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"


def _list(values: Sequence[int]) -> str:
    if not values:
        return "none"
    if values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}–{values[-1]} ({len(values)})"
    return ", ".join(map(str, values))


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def headline_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs the verdict reads: each task's largest examples setting, then its largest budget."""
    return _headline(runs)[0]
