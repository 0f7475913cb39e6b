"""The tractbench command line, run in-process with click's runner."""
from __future__ import annotations

from click.testing import CliRunner

from comparator.cli import main


def test_tasks_lists_every_builtin_task():
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 0, result.output
    assert "54 tasks" in result.output
    for name in ("modular_addition", "parity", "running_sum_mod", "first_index", "median_of_three"):
        assert name in result.output


def test_tasks_verify_checks_every_reference_against_its_definition():
    result = CliRunner().invoke(main, ["tasks", "--suite", "quick", "--verify"])
    assert result.exit_code == 0, result.output
    assert "all 12 reference programs verified" in result.output
    assert result.output.count("exhaustive (") == 12 and "(0 inputs)" not in result.output


def test_tasks_show_prints_reference_programs():
    result = CliRunner().invoke(main, ["tasks", "--family", "modular", "--show"])
    assert result.exit_code == 0, result.output
    assert "return (a + b) % 13" in result.output


def test_unknown_family_is_a_clear_error():
    result = CliRunner().invoke(main, ["tasks", "--family", "nope"])
    assert result.exit_code != 0
    assert "no family 'nope'" in result.output and "modular" in result.output
