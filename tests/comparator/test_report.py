"""The Markdown report: verdict first, every linked figure a real PNG, and no table too small to report on."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _fixtures import runs_table

from comparator import analysis
from comparator.analysis import AnalysisError
from comparator.report import spaced_ticks, write_report
from comparator.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def links(report: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report.read_text(encoding="utf-8"))


def assert_valid_figures(report: Path) -> list[str]:
    """Every image the report links is a non-empty PNG beside it; returns the links."""
    found = links(report)
    assert found, "the report links no figure"
    for name in found:
        assert not Path(name).is_absolute() and "/" not in name, f"{name} is not a relative link beside report.md"
        figure = report.parent / name
        assert figure.is_file(), f"{name} is linked but missing"
        data = figure.read_bytes()
        assert len(data) > len(PNG_MAGIC) and data.startswith(PNG_MAGIC), f"{name} is not a PNG"
    return found


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return runs_table(families=("boolean", "scan"), difficulties=(2, 4, 6))


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    return write_report(runs, tmp_path_factory.mktemp("report"), command="tractbench compare --suite quick")


def test_report_opens_with_the_pooled_verdict_in_bold(runs, report):
    assert report.name == "report.md"
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# tractbench comparison"
    pooled = next(v for v in analysis.verdicts(runs) if v.scope == "pooled")
    assert lines[2] == f"**{pooled.sentence}**"
    assert "95% CI" in lines[2]


def test_every_family_has_its_verdict_sentence_before_the_how_to_read_line(runs, report):
    text = report.read_text(encoding="utf-8")
    head = text.split("**How to read this.**")[0]
    for verdict in analysis.verdicts(runs):
        assert verdict.sentence in head
    how = text.split("**How to read this.**")[1].split("\n")[0]
    for phrase in ("task.verify", "a wrong program weighs as one task done worse", "exact sign test", "budget (10 s)",
                   "includes training"):
        assert phrase in how


def test_figures_exist_and_are_pngs(report):
    found = assert_valid_figures(report)
    assert found == ["cactus.png", "scaling.png"]
    assert not (report.parent / "sample_complexity.png").exists()
    text = report.read_text(encoding="utf-8")
    assert "--examples 0.1,0.3,1.0" in text


def test_sections_and_tables_are_all_there(report):
    text = report.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == ["Cactus plot", "Scaling with difficulty", "Sample complexity", "Summary", "Self-checks",
                        "Faithfulness of extractions", "Per task", "Growth", "Provenance"]
    assert "| extraction | *virtual best* |" in text
    assert "| extraction | *portfolio* |" in text and "| synthesis | *portfolio* |" in text
    # The scan family's fsm extractions fail interchange on even difficulties: flagged, per task too.
    faithfulness = text.split("## Faithfulness of extractions")[1].split("##")[0]
    score = r"[\d.]+ \(n=\d+\)"
    assert re.search(rf"\| fsm \| \d+/6 \| {score} \| 0\.\d+ \(n=\d+\) \| {score} \| [1-9]", faithfulness)
    assert "not mechanism" in text.split("## Per task")[1]
    assert "<details><summary>boolean_task[d=2]</summary>" in text
    # A bitwise or in a program must not break its table row.
    assert "return t \\| x2" in text
    assert "tractbench compare --suite quick" in text.split("## Provenance")[1]
    assert "`0123456789abcdef`" in text


def test_every_table_row_has_as_many_cells_as_its_header(report):
    lines = report.read_text(encoding="utf-8").splitlines()
    widths = []
    for line in lines:
        if line.startswith("|"):
            widths.append(len(re.split(r"(?<!\\)\|", line)))
        elif widths:
            assert len(set(widths)) == 1, widths
            widths = []


def test_growth_table_reports_slopes_and_the_crossover(report):
    growth = report.read_text(encoding="utf-8").split("## Growth")[1].split("## Provenance")[0]
    assert growth.count("95% CI") == 4
    assert "inside the observed range" in growth


def test_only_a_sweep_over_examples_has_the_sample_complexity_figure(tmp_path):
    sweep = one_family(difficulties=(2, 3), examples=(0.1, 1.0))
    report = write_report(sweep, tmp_path)
    assert assert_valid_figures(report) == ["cactus.png", "scaling.png", "sample_complexity.png"]
    text = report.read_text(encoding="utf-8")
    # The verdict reads only the largest setting; the figure every setting.
    largest = sweep[sweep["examples_spec"] == "1"]
    pooled = next(v for v in analysis.verdicts(largest) if v.scope == "pooled")
    assert text.splitlines()[2] == f"**{pooled.sentence}**"
    assert f"{len(sweep) - len(largest)} runs at smaller example counts" in text
    assert "--examples 0.1,0.3,1.0" not in text


# --- degenerate tables --------------------------------------------------------------------------------


def single_task(**kwargs) -> pd.DataFrame:
    return runs_table(**{"families": ("modular",), "difficulties": (3,), "extractors": ("fsm",), "seeds": (0,),
                         **kwargs})


def one_family(**kwargs) -> pd.DataFrame:
    return runs_table(**{"families": ("modular",), "difficulties": (2, 3, 4), "extractors": ("fsm",), **kwargs})


def no_synthesis_solves_and_nan_faithfulness() -> pd.DataFrame:
    table = one_family()
    table.loc[table["route"] == "synthesis", ["status", "correct", "program", "size"]] = ["timeout", False, None, None]
    table[["agreement", "interchange", "splice"]] = math.nan
    return table


def only_required_columns() -> pd.DataFrame:
    return single_task()[["task", "family", "difficulty", "route", "method", "seed", "budget", "status", "seconds"]]


def nothing_solved() -> pd.DataFrame:
    table = one_family()
    table["status"] = "timeout"
    return table


def through_the_store() -> pd.DataFrame:
    with Store(":memory:") as store:
        for row in one_family(difficulties=(2, 3), examples=(0.5, 1.0)).to_dict("records"):
            store.add({name: None if isinstance(value, float) and math.isnan(value)
                       else int(value) if name in ("size", "candidates") else value
                       for name, value in row.items()})
        return store.runs()


DEGENERATE = {
    "single task": single_task,
    "single family": one_family,
    "a route with no solves, all-NaN faithfulness": no_synthesis_solves_and_nan_faithfulness,
    "one difficulty per family": lambda: runs_table(families=("modular", "scan"), difficulties=(4,),
                                                    extractors=("fsm",)),
    "nothing solved": nothing_solved,
    "only the required columns": only_required_columns,
    "read back from a store": through_the_store,
}


@pytest.fixture(scope="module")
def degenerate(tmp_path_factory):
    """The report of a degenerate table by name, written once per module."""
    made: dict[str, Path] = {}

    def report(name: str) -> Path:
        if name not in made:
            made[name] = write_report(DEGENERATE[name](), tmp_path_factory.mktemp("degenerate"))
        return made[name]

    return report


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_tables_still_make_a_report(name, degenerate):
    report = degenerate(name)
    assert_valid_figures(report)
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[2].startswith("**pooled: ") and lines[2].endswith(".**")


def test_the_same_runs_and_seed_give_the_same_files(degenerate, tmp_path):
    # A figure left by an earlier sweep in the folder must not pass for this comparison's.
    (tmp_path / "sample_complexity.png").write_bytes(PNG_MAGIC)
    first = degenerate("single task")
    second = write_report(DEGENERATE["single task"](), tmp_path)
    for name in ("report.md", "cactus.png", "scaling.png"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name
    assert not (tmp_path / "sample_complexity.png").exists()


def test_one_difficulty_says_why_there_is_no_growth_fit(degenerate):
    text = degenerate("one difficulty per family").read_text(encoding="utf-8")
    assert "no fit: fewer than 2 distinct difficulties" in text
    assert "No growth line could be fitted" in text and "`scaling` suite" in text


def test_all_nan_faithfulness_is_shown_as_missing(degenerate):
    text = degenerate("a route with no solves, all-NaN faithfulness").read_text(encoding="utf-8")
    section = text.split("## Faithfulness of extractions")[1].split("##")[0]
    assert "| fsm | " in section and "| — | — | — |" in section
    assert "No extraction reported a faithfulness score" in section


def test_a_route_with_no_solves_still_gets_its_lines_and_rows(degenerate):
    text = degenerate("a route with no solves, all-NaN faithfulness").read_text(encoding="utf-8")
    assert "| synthesis | enumerative | 0/3 | 0% (0–56%) |" in text
    assert "no fit: solved runs at fewer than 2 distinct difficulties" in text


def test_nothing_solved_has_no_program_and_no_growth(degenerate):
    text = degenerate("nothing solved").read_text(encoding="utf-8")
    assert "### Programs" not in text and "No growth line could be fitted" in text
    assert "extraction right on 0/3 tasks" in text.splitlines()[2]


def test_a_table_with_one_route_says_there_is_no_verdict(tmp_path):
    report = write_report(single_task(synthesizers=()), tmp_path)
    assert_valid_figures(report)
    assert report.read_text(encoding="utf-8").splitlines()[2].startswith("**No verdict: no task was run by both routes")


def test_an_empty_table_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="runs table is empty"):
        write_report(runs_table().iloc[0:0], tmp_path)
    with pytest.raises(AnalysisError):
        write_report(pd.DataFrame(), tmp_path)
    assert not (tmp_path / "report.md").exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.5, 1e4, allow_nan=False), min_size=1, max_size=14), st.booleans())
def test_spaced_ticks_name_only_run_difficulties_and_never_crowd(values, log):
    ticks = spaced_ticks(values, log=log)
    distinct = sorted(set(values))
    assert ticks == sorted(ticks) and set(ticks) <= set(distinct)
    assert ticks[0] == distinct[0]
    at = [math.log(v) if log else v for v in ticks]
    span = ((math.log(distinct[-1]) - math.log(distinct[0])) if log else distinct[-1] - distinct[0]) or 1.0
    for (a, u), (b, v) in zip(zip(at, ticks), zip(at[1:], ticks[1:])):
        assert (b - a) / span >= (len(f"{u:.3g}") + len(f"{v:.3g}")) * 0.016 / 2 + 0.012 - 1e-12


def test_spaced_ticks_keep_well_spread_difficulties():
    assert spaced_ticks([5, 7, 11, 13, 17, 23]) == [5, 7, 11, 13, 17, 23]
    # the search family's difficulties, whose labels overlapped when every one was ticked
    assert spaced_ticks([4.907, 6.322, 6.907, 8.392, 8.5, 10.459, 10.6, 12.414, 14.415]) == [
        4.907, 6.322, 8.392, 10.459, 12.414, 14.415]
