"""The run store: round trips, idempotent adds, resumption after a killed writer, foreign files left alone."""
from __future__ import annotations

import json
import math
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _planted import planted_row

import comparator.store as store_module
from comparator.store import (
    COLUMNS,
    Store,
    StoreError,
    git_commit,
    package_version,
    run_key,
)

PLANTED_SCRIPT = str(Path(__file__).resolve().parent / "_planted.py")


def _same(stored, expected) -> bool:
    if isinstance(expected, float):
        return math.isclose(stored, expected)
    return stored == expected


def test_a_full_row_round_trips():
    row = planted_row(3)
    with Store(":memory:") as store:
        assert store.add(row)
        runs = store.runs()
    assert list(runs.columns) == list(COLUMNS)
    (stored,) = runs.to_dict("records")
    for name in COLUMNS:
        assert _same(stored[name], row[name]), name
    assert stored["params"] == {"p": 10} and stored["reasons"] == ["first reason", "reason 3"]
    assert stored["phases"] == {"train": 1.25, "extract": 0.5}
    assert runs["correct"].dtype == bool and bool(stored["correct"]) is True


def test_absent_columns_are_null_and_unknown_columns_are_refused():
    config = {k: planted_row(0)[k] for k in ("task", "params", "route", "method", "method_args", "seed",
                                             "examples_spec", "budget", "memory_mb")}
    with Store(":memory:") as store:
        assert store.add(config)
        (stored,) = store.runs().to_dict("records")
        assert stored["key"] == run_key(config)
        assert stored["status"] is None and pd.isna(stored["seconds"]) and stored["reasons"] is None
        with pytest.raises(StoreError, match="unknown run column.*colour"):
            store.add({**planted_row(1), "colour": "red"})
        with pytest.raises(StoreError, match="'seed'"):
            store.add({**planted_row(1), "seed": "three"})
        assert len(store) == 1


def test_adding_a_run_twice_keeps_one_row():
    row = planted_row(1)
    with Store(":memory:") as store:
        assert store.add(row) is True
        assert store.add({**row, "status": "timeout"}) is False
        assert len(store.runs()) == 1
        assert store.runs()["status"].tolist() == [row["status"]]
        assert store.has(row["key"]) and not store.has("nope")


def test_missing_lists_unstored_keys_in_order_once():
    rows = [planted_row(i) for i in range(5)]
    keys = [row["key"] for row in rows]
    with Store(":memory:") as store:
        for row in rows[1::2]:
            store.add(row)
        assert store.missing([keys[4], keys[0], keys[1], keys[2], keys[0]]) == [keys[4], keys[0], keys[2]]
        assert store.keys() == {keys[1], keys[3]}


def test_run_key_is_canonical_and_the_same_in_another_process():
    row = planted_row(2)
    reordered = {name: row[name] for name in reversed(list(row))}
    assert run_key(row) == run_key(reordered) == row["key"]
    assert run_key({**row, "budget": 60}) == run_key({**row, "budget": 60.0})
    assert run_key({**row, "params": {"p": 13}}) != row["key"]
    assert run_key({**row, "seed": 3}) != row["key"]
    assert run_key({**row, "status": "other", "seconds": 99.0}) == row["key"]  # results are not identity
    with pytest.raises(StoreError, match="seed"):
        run_key({k: v for k, v in row.items() if k != "seed"})
    code = "import json, sys; from comparator.store import run_key; print(run_key(json.loads(sys.argv[1])))"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(row)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == row["key"]


def test_a_reopened_store_has_its_rows_and_its_directory_is_created(tmp_path):
    path = tmp_path / "new" / "deeper" / "runs.sqlite"
    with Store(path) as store:
        store.add(planted_row(0, comparison="first"))
        store.add(planted_row(1, comparison="second"))
    with Store(path) as store:
        assert len(store) == 2
        assert store.runs("second")["seed"].tolist() == [1]
        assert store.runs()["seed"].tolist() == [0, 1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_reads_back(tmp_path, suffix):
    rows = [planted_row(i) for i in range(4)]
    rows[2] = {k: v for k, v in rows[2].items() if k not in ("size", "correct", "reasons", "program")}
    with Store(tmp_path / "runs.sqlite") as store:
        for row in rows:
            store.add(row)
        path = store.export(tmp_path / "out" / f"runs{suffix}")
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(back.columns) == list(COLUMNS)
    assert back["key"].tolist() == [row["key"] for row in rows]
    assert back["seconds"].tolist() == pytest.approx([row["seconds"] for row in rows])
    assert [json.loads(text) for text in back["params"]] == [row["params"] for row in rows]
    assert pd.isna(back["size"][2]) and pd.isna(back["reasons"][2]) and pd.isna(back["correct"][2])
    assert back["size"][1] == rows[1]["size"] and back["program"][0] == rows[0]["program"]
    assert [bool(v) for i, v in enumerate(back["correct"]) if i != 2] == [rows[i]["correct"] for i in (0, 1, 3)]


def test_export_refuses_other_formats(tmp_path):
    with Store(":memory:") as store, pytest.raises(StoreError, match=r"\.csv or \.parquet"):
        store.export(tmp_path / "runs.xlsx")


def _foreign_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.execute("INSERT INTO runs VALUES (1)")
    conn.commit()
    conn.close()


def _text_file(path: Path) -> None:
    path.write_text("task,seconds\nparity,1.0\n")


@pytest.mark.parametrize("make", [_foreign_sqlite, _text_file])
def test_a_file_that_is_not_a_store_is_refused_and_left_alone(tmp_path, make):
    path = tmp_path / "other.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a tractbench store|not a SQLite file"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_store_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "runs.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)


@pytest.fixture
def fresh_package_version():
    """``package_version`` is cached for the process: clear it around a test that plants the metadata."""
    package_version.cache_clear()
    yield package_version
    package_version.cache_clear()


def test_package_version_is_the_installed_one_or_empty(monkeypatch, fresh_package_version):
    monkeypatch.setattr(store_module.metadata, "version", lambda name: {"tractbench": "1.2.3"}[name])
    assert fresh_package_version() == "1.2.3"

    def not_installed(name):
        raise store_module.metadata.PackageNotFoundError(name)

    fresh_package_version.cache_clear()
    monkeypatch.setattr(store_module.metadata, "version", not_installed)
    assert fresh_package_version() == ""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_is_the_checked_out_commit_or_empty_never_an_exception(tmp_path, monkeypatch):
    assert git_commit() == git_commit(Path(store_module.__file__).resolve().parent)  # the default: this source
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no repository above tmp_path is found
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "planted"], check=True)
    ref = (repo / ".git" / "HEAD").read_text().strip().removeprefix("ref: ")
    head = (repo / ".git" / ref).read_text().strip()
    assert len(head) == 40 and git_commit(repo / "sub") == head
    assert git_commit(tmp_path) == ""  # not in a repository
    assert git_commit(tmp_path / "missing") == ""  # no such directory
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert git_commit(repo) == ""  # no git to ask


def _writer(store: Path, start: int, stop: int, pause: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, PLANTED_SCRIPT, "write", str(store), str(start), str(stop), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_writer_killed_midway_is_resumed_to_the_uninterrupted_result(tmp_path):
    total = 120
    rows = [planted_row(i) for i in range(total)]
    keys = [row["key"] for row in rows]
    with Store(tmp_path / "uninterrupted.sqlite") as store:
        for row in rows:
            store.add(row)
        expected = store.runs()

    path = tmp_path / "interrupted.sqlite"
    writer = _writer(path, 0, total, 0.01)
    for _ in range(30):
        assert writer.stdout.readline().strip() in keys
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store(path) as store:
        stored = store.keys()
        assert 30 <= len(stored) < total
        todo = store.missing(keys)
        assert todo == [key for key in keys if key not in stored]
        by_key = {row["key"]: row for row in rows}
        assert all(store.add(by_key[key]) for key in todo)
        assert not store.missing(keys)
        resumed = store.runs()
    order = resumed.sort_values("key", ignore_index=True)
    pd.testing.assert_frame_equal(order, expected.sort_values("key", ignore_index=True))


def test_concurrent_writers_share_one_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    writers = [_writer(path, 0, 40, 0.0), _writer(path, 20, 60, 0.0)]
    for writer in writers:
        writer.communicate(timeout=60)
        assert writer.returncode == 0
    with Store(path) as store:
        assert store.keys() == {planted_row(i)["key"] for i in range(60)}
        assert len(store) == 60


def test_a_store_of_the_first_schema_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    import sqlite3

    from comparator.store import APPLICATION_ID

    path = tmp_path / "v1.sqlite"
    old = list(COLUMNS)[: list(COLUMNS).index("finished_at") + 1]
    row = planted_row(2)
    with sqlite3.connect(path) as conn:  # a store exactly as schema version 1 wrote it
        conn.execute("CREATE TABLE runs (" + ", ".join(f'"{n}"' + (" TEXT PRIMARY KEY NOT NULL" if n == "key" else "")
                                                        for n in old) + ")")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        with Store(":memory:") as scratch:  # encode the row the way the store does
            scratch.add(row)
            values = scratch._conn.execute("SELECT " + ", ".join(f'"{n}"' for n in old) + " FROM runs").fetchone()
        conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' for _ in old)})", values)
    with Store(path) as store:
        runs = store.runs()
        assert len(runs) == 1 and list(runs.columns) == list(COLUMNS)
        (stored,) = runs.to_dict("records")
        assert all(_same(stored[n], row[n]) for n in old)
        assert all(stored[n] is None or stored[n] != stored[n] for n in list(COLUMNS)[len(old):])  # empty (or NaN)
        assert store.add(planted_row(5))  # and new rows go in whole
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
