"""The tractbench command line, run in-process with click's runner."""
from __future__ import annotations

import threading

from click.testing import CliRunner

import toy_tasks
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


def test_the_tabulation_progress_bar_leaves_tabulating_free_to_fork():
    from comparator.cli import _tabulation_progress

    before = threading.active_count()
    seen = []
    with _tabulation_progress("tabulating running_parity") as progress:
        assert threading.active_count() == before  # no refresh thread: toy_tasks.tabulate refuses to fork beside one
        task = toy_tasks.get("running_parity", length=5)
        assert task.check_definition(progress=lambda done, total: (seen.append((done, total)), progress(done, total))).equal
    assert seen[-1] == (task.domain_size, task.domain_size)


def test_tasks_show_prints_reference_programs():
    result = CliRunner().invoke(main, ["tasks", "--family", "modular", "--show"])
    assert result.exit_code == 0, result.output
    assert f"return (a + b) % {toy_tasks.get('modular_addition').params['p']}" in result.output


def test_unknown_family_is_a_clear_error():
    result = CliRunner().invoke(main, ["tasks", "--family", "nope"])
    assert result.exit_code != 0
    assert "no family 'nope'" in result.output and "modular" in result.output
