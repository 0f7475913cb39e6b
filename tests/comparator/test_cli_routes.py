"""The CLI's route and comparison commands: they run, verify, and refuse bad input with a clear message."""
from __future__ import annotations

from click.testing import CliRunner

from comparator.cli import main


def test_synth_prints_a_verified_program():
    out = CliRunner().invoke(main, ["synth", "majority[n=3]", "--seconds", "10"])
    assert out.exit_code == 0, out.output
    assert "verified: correct" in out.output


def test_extract_prints_faithfulness_and_verification():
    out = CliRunner().invoke(main, ["extract", "running_parity[length=4]", "--method", "fsm", "--seconds", "30"])
    assert out.exit_code == 0, out.output
    assert "F1 agreement 1.000" in out.output and "verified: correct" in out.output


def test_unknown_task_and_method_are_refused_with_a_hint():
    out = CliRunner().invoke(main, ["synth", "no_such_task"])
    assert out.exit_code != 0 and "tractbench tasks" in out.output
    out = CliRunner().invoke(main, ["extract", "parity[n=4]", "--method", "nope"])
    assert out.exit_code != 0 and "unknown extraction method" in out.output
    out = CliRunner().invoke(main, ["extract", "parity[n=4]", "--arch", "gru"])
    assert out.exit_code != 0 and "use arch='mlp'" in out.output


def test_compare_then_report_from_the_store(tmp_path):
    store, out = tmp_path / "runs.sqlite", tmp_path / "report"
    run = CliRunner().invoke(main, ["compare", "--tasks", "majority[n=3],multiplexer[k=1]", "--seconds", "20",
                                    "--store", str(store), "--out", str(out), "--workers", "2"])
    assert run.exit_code == 0, run.output
    assert "pooled" in run.output and (out / "report.md").exists()
    again = CliRunner().invoke(main, ["report", str(store), "--out", str(tmp_path / "r2"),
                                      "--export", str(tmp_path / "runs.csv")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "r2" / "report.md").read_text().startswith("# ")
    assert len((tmp_path / "runs.csv").read_text().splitlines()) >= 5


def test_compare_needs_exactly_one_task_source_and_report_needs_a_store(tmp_path):
    out = CliRunner().invoke(main, ["compare"])
    assert out.exit_code != 0 and "exactly one of --suite or --tasks" in out.output
    out = CliRunner().invoke(main, ["report", str(tmp_path / "missing.sqlite")])
    assert out.exit_code != 0 and "run `tractbench compare` first" in out.output
