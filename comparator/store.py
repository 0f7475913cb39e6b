"""The run store: one SQLite file (WAL mode) holding every run with its whole configuration.

A run is identified by `run_key` over the configuration that decides what ran; `Store.add` inserts
with INSERT OR IGNORE on that key and commits at once, so rerunning a comparison only fills in the
keys `Store.missing` reports and never duplicates or loses a row, however the last run ended.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import operator
import os
import sqlite3
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    import pandas

__all__ = ["COLUMNS", "IDENTITY", "SCHEMA_VERSION", "Store", "StoreError", "git_commit", "package_version", "run_key"]

SCHEMA_VERSION = 2
# PRAGMA application_id marks the file as ours ("TrBn"), so a database some other program wrote is
# recognised and left alone rather than written into.
APPLICATION_ID = 0x5472426E
BUSY_TIMEOUT_SECONDS = 30.0
_SQLITE_HEADER = b"SQLite format 3\x00"

# column -> kind; kinds: text, real, int, bool (stored 0/1), json (text, decoded on read).
COLUMNS: dict[str, str] = {
    "key": "text",
    "comparison": "text",
    "task": "text",
    "family": "text",
    "difficulty": "real",
    "params": "json",
    "route": "text",
    "method": "text",
    "method_args": "json",
    "seed": "int",
    "examples": "int",
    "examples_spec": "text",
    "budget": "real",
    "memory_mb": "int",
    "status": "text",
    "correct": "bool",
    "verification": "text",
    "seconds": "real",
    "cpu_seconds": "real",
    "size": "int",
    "program": "text",
    "agreement": "real",
    "interchange": "real",
    "splice": "real",
    "train_seconds": "real",
    "extract_seconds": "real",
    "train_accuracy": "real",
    "domain_accuracy": "real",
    "candidates": "int",
    "reasons": "json",
    "phases": "json",
    "version": "text",
    "commit": "text",
    "host": "text",
    "started_at": "text",
    "finished_at": "text",
    # Version 2: a route's own check that turned its answer away (synthesis: "validation", a held-out part of its
    # examples; extraction: "agreement", F1 < 1), and whether the verifier found the program turned away right.
    "self_check": "text",
    "self_check_right": "bool",
    # ... and the faithfulness scores beside F2: F2-D (interchange through learned linear subspaces) and the
    # same alignment search's controls, on the untrained network and on a rewritten program equal on the domain.
    "interchange_distributed": "real",
    "control_untrained": "real",
    "control_rewritten": "real",
}
# The columns each earlier schema version ended with; opening such a store adds the later columns (no row changes).
_COLUMNS_UP_TO = {1: "finished_at"}
# The configuration that decides what a run computes; everything else in a row is its result.
IDENTITY = ("task", "params", "route", "method", "method_args", "seed", "examples_spec", "budget", "memory_mb")

_SQL_TYPES = {"text": "TEXT", "real": "REAL", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"}


class StoreError(ValueError):
    """A store that cannot be opened or a row that cannot be stored; the message says what to do."""


def _quoted(name: str) -> str:
    # "commit" is an SQL keyword, so every identifier is quoted.
    return '"' + name + '"'


_CREATE = "CREATE TABLE runs (\n    " + ",\n    ".join(
    f"{_quoted(name)} {_SQL_TYPES[kind]}" + (" PRIMARY KEY NOT NULL" if name == "key" else "")
    for name, kind in COLUMNS.items()
) + "\n)"
_INSERT = (
    f"INSERT OR IGNORE INTO runs ({', '.join(map(_quoted, COLUMNS))}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)
_SELECT = f"SELECT {', '.join(map(_quoted, COLUMNS))} FROM runs"
# Per earlier schema version: its columns; and the statements that bring a version-1 store up to date.
_OLD_COLUMNS = {version: list(COLUMNS)[: list(COLUMNS).index(last) + 1] for version, last in _COLUMNS_UP_TO.items()}
_ADD_SELF_CHECK = f"ALTER TABLE runs ADD COLUMN {_quoted('self_check')} {_SQL_TYPES[COLUMNS['self_check']]}"
_ADD_SELF_CHECK_RIGHT = f"ALTER TABLE runs ADD COLUMN {_quoted('self_check_right')} {_SQL_TYPES[COLUMNS['self_check_right']]}"
_ADD_DISTRIBUTED = f"ALTER TABLE runs ADD COLUMN {_quoted('interchange_distributed')} REAL"
_ADD_CONTROL_UNTRAINED = f"ALTER TABLE runs ADD COLUMN {_quoted('control_untrained')} REAL"
_ADD_CONTROL_REWRITTEN = f"ALTER TABLE runs ADD COLUMN {_quoted('control_rewritten')} REAL"
assert list(COLUMNS)[len(_OLD_COLUMNS[1]):] == ["self_check", "self_check_right", "interchange_distributed",
                                                "control_untrained", "control_rewritten"], "add the new columns' statements"


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars and 0-d arrays become Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain, allow_nan=False)


def run_key(config: Mapping[str, Any]) -> str:
    """A stable key for a run: sha256 of the canonical JSON of its identifying configuration.

    `config` must hold every field of `IDENTITY` (other fields, such as results, are ignored).
    Numbers are normalised (budget 60 and 60.0, examples_spec 0.5 and "0.5" give one key), and dict
    order does not matter, so the same configuration has the same key in every process.
    """
    absent = [name for name in IDENTITY if name not in config]
    if absent:
        raise StoreError(f"run_key needs the run's {', '.join(absent)}; pass every field of {IDENTITY}")
    spec = config["examples_spec"]
    try:
        identity = {
            "task": str(config["task"]),
            "params": dict(config["params"] or {}),
            "route": str(config["route"]),
            "method": str(config["method"]),
            "method_args": dict(config["method_args"] or {}),
            "seed": operator.index(config["seed"]),
            "examples_spec": None if spec is None else str(spec),
            "budget": float(config["budget"]),
            "memory_mb": operator.index(config["memory_mb"]),
        }
        text = _canonical_json(identity)
    except (TypeError, ValueError) as err:
        raise StoreError(f"cannot key this run configuration: {err}") from None
    return hashlib.sha256(text.encode()).hexdigest()


def _encode(name: str, value: Any) -> Any:
    """One row value as SQLite stores it."""
    if value is None:
        return None
    kind = COLUMNS[name]
    try:
        if kind == "json":
            return _canonical_json(value)
        if kind == "bool":
            return int(bool(value))
        if kind == "int":
            return operator.index(value)
        if kind == "real":
            return float(value)
        if isinstance(value, _dt.datetime):
            return value.isoformat()
        if isinstance(value, (str, int, float)):
            return str(value)
        raise TypeError(f"expected text, got {type(value).__name__}")
    except (TypeError, ValueError) as err:
        raise StoreError(f"column {name!r} ({kind}) cannot hold {value!r}: {err}") from None


@functools.cache
def package_version() -> str:
    """The installed tractbench version, or "" when the package is not installed."""
    try:
        return metadata.version("tractbench")
    except metadata.PackageNotFoundError:
        return ""


@functools.cache
def git_commit(path: str | os.PathLike | None = None) -> str:
    """The commit checked out where `path` (default: this package's source) lives, or "" outside git.

    Best effort: never raises.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


class Store:
    """The runs of one or many comparisons in one SQLite file; also a context manager.

    `Store(path)` creates the file (and its directory) on first use; `Store(":memory:")` keeps the
    runs in memory, for tests. Opening a file that is not a tractbench store raises `StoreError`
    and leaves the file untouched. Several processes may open the same store at once.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._memory = self.path == ":memory:"
        if not self._memory:
            self._check_file(Path(self.path))
        try:
            # An absolute path, so that a name such as "file:x?mode=memory" is a file name, never a SQLite URI.
            target = self.path if self._memory else os.path.abspath(self.path)
            self._conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"cannot open the store {self.path}: {err}; check the path and its permissions") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            self._open_schema()
            if not self._memory:
                self._conn.execute("PRAGMA journal_mode = WAL")
            # A run is durable once add returns, even if the machine (not just the process) dies.
            self._conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.OperationalError as err:
            self._conn.close()
            text = str(err)
            if any(word in text for word in ("readonly", "unable to open", "disk", "locked")):
                raise StoreError(
                    f"cannot write to the store {self.path} ({text}); make the file and its folder writable, free disk "
                    "space, or choose another store path. Nothing in it was changed"
                ) from None
            raise StoreError(f"{self.path} is not a usable SQLite database ({err}); choose another store path") from None
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path} is not a usable SQLite database ({err}); choose another store path") from None
        except BaseException:
            self._conn.close()
            raise

    @staticmethod
    def _check_file(path: Path) -> None:
        if path.is_dir():
            raise StoreError(f"{path} is a directory; give the store a file path such as {path / 'tractbench.sqlite'}")
        if path.exists():
            if path.stat().st_size:
                with path.open("rb") as handle:
                    header = handle.read(len(_SQLITE_HEADER))
                if header != _SQLITE_HEADER:
                    raise StoreError(
                        f"{path} exists and is not a SQLite file, so it is not a tractbench store; "
                        "choose another store path (tractbench leaves this file alone)"
                    )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)

    def _schema(self) -> tuple[int, int, list[str]]:
        # One read transaction, so the three answers come from one snapshot: read one by one, they could
        # straddle another process's creation of the store (tables present, application id not yet).
        own = not self._conn.in_transaction
        if own:
            self._conn.execute("BEGIN")
        try:
            application_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = [row[0] for row in self._conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
        finally:
            if own:
                self._conn.execute("COMMIT")
        return application_id, version, tables

    def _open_schema(self) -> None:
        """Checks an existing store, or creates the schema in an empty database; reads only until sure."""
        if not self._is_ours(*self._schema()):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created the store since we looked.
                if not self._is_ours(*self._schema()):
                    self._conn.execute(_CREATE)
                    self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _is_ours(self, application_id: int, version: int, tables: list[str]) -> bool:
        """True for a current store, False for an empty database; raises for anything else."""
        if application_id == 0 and version == 0 and not tables:
            return False
        if application_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path} is a SQLite database but not a tractbench store "
                f"(tables: {', '.join(tables) or 'none'}); choose another store path (tractbench leaves this file alone)"
            )
        if version in _COLUMNS_UP_TO and self._migrate(version):
            return True
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} is a tractbench store of schema version {version}, and this tractbench "
                f"({package_version() or 'unknown version'}) reads version {SCHEMA_VERSION}; open it with the "
                "tractbench that wrote it (and export it), or start a new store"
            )
        columns = [row[1] for row in self._conn.execute("PRAGMA table_info(runs)")]
        if columns != list(COLUMNS):
            raise StoreError(f"{self.path} is a damaged tractbench store (its runs table has other columns); start a new store")
        return True

    def _migrate(self, version: int) -> bool:
        """Brings a store of an earlier schema version up to this one by adding the columns it lacks (every
        stored row keeps its values; the new columns read as empty); False if its columns are not that version's."""
        if [row[1] for row in self._conn.execute("PRAGMA table_info(runs)")] != _OLD_COLUMNS[version]:
            return False
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if self._conn.execute("PRAGMA user_version").fetchone()[0] == version:  # not migrated meanwhile
                self._conn.execute(_ADD_SELF_CHECK)
                self._conn.execute(_ADD_SELF_CHECK_RIGHT)
                self._conn.execute(_ADD_DISTRIBUTED)
                self._conn.execute(_ADD_CONTROL_UNTRAINED)
                self._conn.execute(_ADD_CONTROL_REWRITTEN)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def close(self) -> None:
        """Closes the connection; safe to call twice."""
        self._conn.close()

    def add(self, row: Mapping[str, Any]) -> bool:
        """Stores one run, committed before returning; True if added, False if its key was already there.

        Row keys must be columns of `COLUMNS` (others raise `StoreError`); absent columns are stored
        as NULL. Without a "key", the key is `run_key(row)`.
        """
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            raise StoreError(f"unknown run column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
        values = {name: _encode(name, row.get(name)) for name in COLUMNS}
        if values["key"] is None:
            values["key"] = run_key(row)
        # In autocommit mode the single statement is its own transaction, committed on return: a failed
        # write leaves the file as it was, with every row stored before it.
        try:
            cursor = self._conn.execute(_INSERT, tuple(values.values()))
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"cannot write to the store {self.path}: {err}. Every run stored before this one is kept; free "
                "disk space or make the file writable, then rerun the same command to resume"
            ) from err
        return cursor.rowcount == 1

    def has(self, key: str) -> bool:
        return self._conn.execute("SELECT 1 FROM runs WHERE key = ?", (key,)).fetchone() is not None

    def keys(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT key FROM runs")}

    def missing(self, keys: Iterable[str]) -> list[str]:
        """The given keys not yet stored, in their order, each once."""
        stored = self.keys()
        return [key for key in dict.fromkeys(keys) if key not in stored]

    def __len__(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def _frame(self, comparison: str | None, *, decode: bool) -> pandas.DataFrame:
        import pandas  # imported here so that processes which only write runs stay light

        query, args = _SELECT, ()
        if comparison is not None:
            query, args = query + " WHERE comparison = ?", (comparison,)
        rows = self._conn.execute(query + " ORDER BY rowid", args).fetchall()
        frame = pandas.DataFrame.from_records(rows, columns=list(COLUMNS))
        for name, kind in COLUMNS.items():
            column = frame[name]
            if kind == "real":
                frame[name] = column.astype("float64")
            elif kind == "int":
                frame[name] = column.astype("Int64")
            elif kind == "bool":
                frame[name] = column.astype("boolean") if column.isna().any() else column.astype(bool)
            elif kind == "json" and decode:
                # an all-NULL column arrives as NaN floats
                frame[name] = column.map(lambda text: json.loads(text) if isinstance(text, str) else None).astype(object)
            else:
                frame[name] = column.astype(object).where(column.notna(), None)
        return frame

    def runs(self, comparison: str | None = None) -> pandas.DataFrame:
        """Every stored run (of one comparison, if given), in insertion order.

        JSON columns come back as Python objects, `correct` as bool (nullable "boolean" when some
        run has no verdict), integer columns as nullable Int64.
        """
        return self._frame(comparison, decode=True)

    def export(self, path: str | os.PathLike, comparison: str | None = None) -> Path:
        """Writes the runs to a .csv or .parquet file (chosen by suffix) and returns its path.

        JSON columns stay JSON text, so the file reads back the same way in any tool.
        """
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise StoreError(f"cannot export to {target.name!r}: give a path ending in .csv or .parquet")
        frame = self._frame(comparison, decode=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)
        return target
