"""Security checks over the source tree: no code execution from data, no SQL built from data, and a
store path is only ever a file name.

The scans read the AST of every module, so a violation is found wherever it hides (an alias, a
``from`` import, a keyword argument); the ``*_flags`` tests feed the scanners planted violations to
show that they would catch them.
"""
from __future__ import annotations

import ast
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("programs", "toy_tasks", "synthesis", "extraction", "comparator", "bench")


def _sources() -> list[Path]:
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    assert len(files) > 40, "the scan found too few modules to be looking in the right place"
    return files


# --- (a) code execution from data ------------------------------------------------------------------

# Calls that run code or a shell from a string or a byte stream: flagged wherever they appear.
FORBIDDEN = {
    "eval": "eval runs arbitrary code",
    "exec": "exec runs arbitrary code",
    "compile": "the builtin compile makes code objects from text",
    "builtins.eval": "eval runs arbitrary code",
    "builtins.exec": "exec runs arbitrary code",
    "builtins.compile": "the builtin compile makes code objects from text",
    "pickle.load": "unpickling runs code chosen by whoever wrote the bytes",
    "pickle.loads": "unpickling runs code chosen by whoever wrote the bytes",
    "_pickle.load": "unpickling runs code chosen by whoever wrote the bytes",
    "_pickle.loads": "unpickling runs code chosen by whoever wrote the bytes",
    "yaml.load": "yaml.load can build arbitrary objects; use yaml.safe_load",
    "yaml.unsafe_load": "yaml.unsafe_load can build arbitrary objects; use yaml.safe_load",
    "os.system": "os.system runs a shell command",
    "os.popen": "os.popen runs a shell command",
    "subprocess.getoutput": "subprocess.getoutput runs a shell command",
    "subprocess.getstatusoutput": "subprocess.getstatusoutput runs a shell command",
}
SUBPROCESS = {"subprocess.run", "subprocess.Popen", "subprocess.call", "subprocess.check_call", "subprocess.check_output"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the module's imports (``import pickle as p``,
    ``from os import system``). Names not imported stand for themselves (builtins)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None  # a call on the result of an expression (``model.eval`` on a z3 model is fine)
    root = "builtins" if func.id == "__builtins__" else aliases.get(func.id, func.id)
    return ".".join([root, *reversed(parts)])


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def code_execution_findings(source: str, filename: str = "<snippet>") -> list[str]:
    """Every call in ``source`` that runs code or a shell from data, as 'file:line: why'."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name is None:
            continue
        why = FORBIDDEN.get(name)
        if name in ("__import__", "builtins.__import__", "importlib.__import__"):
            if not (node.args and isinstance(node.args[0], ast.Constant)):
                why = "__import__ of a name computed at run time"
        elif name == "torch.load" and not _is_const(_keyword(node, "weights_only"), True):
            why = "torch.load without weights_only=True unpickles arbitrary objects"
        elif name in SUBPROCESS:
            shell = _keyword(node, "shell")
            if shell is not None and not _is_const(shell, False):
                why = f"{name} with shell=... runs a shell command"
        if why:
            found.append(f"{filename}:{node.lineno}: {name}(...): {why}")
    return found


# The one unpickling the packages do themselves, and why it is not a way in: comparator/plugins.py loads, in
# a worker process, the methods the comparator pickled in the driver a moment before (a method defined in the
# caller's own script, which the worker cannot import). The bytes travel inside the job's arguments over the
# executor's own pipe, which multiprocessing unpickles anyway; they are never read from a file, a store or
# the network.
TRUSTED_UNPICKLING = {"comparator/plugins.py"}


def test_no_code_execution_from_data_in_the_source_tree():
    found = []
    for path in _sources():
        rel = str(path.relative_to(ROOT))
        found += [f for f in code_execution_findings(path.read_text(encoding="utf-8"), rel)
                  if not (rel in TRUSTED_UNPICKLING and "pickle.loads(...)" in f)]
    assert not found, "\n".join(found)


def test_the_trusted_unpickling_reads_only_what_a_job_carries():
    tree = ast.parse((ROOT / "comparator" / "plugins.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _dotted(n.func, _aliases(tree)) == "pickle.loads"]
    assert len(calls) == 1
    fn = next(f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and calls[0] in ast.walk(f))
    assert fn.name == "load_plugins" and [a.arg for a in fn.args.args] == ["names", "methods"]
    assert not any(isinstance(n, ast.Call) and _dotted(n.func, _aliases(tree)) in ("open", "builtins.open")
                   for n in ast.walk(tree))


@pytest.mark.parametrize("snippet", [
    "eval(text)",
    "exec('x = 1')",
    "code = compile(source, 'f', 'exec')",
    "import builtins\nbuiltins.eval(s)",
    "__builtins__.exec(s)",
    "mod = __import__(name)",
    "import pickle\npickle.loads(blob)",
    "import pickle as p\nwith open(f, 'rb') as h:\n    p.load(h)",
    "from pickle import loads as ld\nld(b)",
    "import torch\ntorch.load('m.pt')",
    "import torch\ntorch.load('m.pt', weights_only=False)",
    "import torch\ntorch.load('m.pt', weights_only=flag)",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "import os\nos.system('ls ' + d)",
    "from os import system\nsystem(cmd)",
    "import subprocess\nsubprocess.run(cmd, shell=True)",
    "import subprocess as sp\nsp.Popen(cmd, shell=use_shell)",
    "from subprocess import check_output\ncheck_output('ls', shell=True)",
    "import subprocess\nsubprocess.getoutput('ls')",
])
def test_code_execution_scanner_flags(snippet):
    assert code_execution_findings(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "import re\nre.compile('a+')",
    "import extraction\nextraction.compile(p, inputs)",
    "model.eval()",
    "self.compile(x)",
    "__import__('os')",
    "import pickle\npickle.dumps(task)",
    "import torch\ntorch.load('m.pt', weights_only=True)",
    "import yaml\nyaml.safe_load(text)",
    "import subprocess\nsubprocess.run(['ls', d], shell=False)",
    "import subprocess\nsubprocess.Popen([exe, script], stdin=subprocess.PIPE)",
])
def test_code_execution_scanner_passes(snippet):
    assert code_execution_findings(snippet) == [], snippet


# --- (b) SQL built only from constants ----------------------------------------------------------------

SQL_METHODS = {"execute", "executemany", "executescript"}


class _Constness:
    """Which expressions of a module are built only from constants ("clean") and which may hold data.

    Clean: string/number literals; names bound (at module level, or in the enclosing function, on
    every assignment) to clean expressions; f-strings, ``+``, ``%``, calls, subscripts, containers
    and comprehensions whose every part is clean; the builtins below and the module's own pure
    functions (each ``return`` clean when its arguments are), called on clean arguments. This accepts ``comparator/store.py``'s statements, built once at
    import from the constant column table ``COLUMNS`` (``_CREATE``, ``_INSERT``, ``_SELECT``, column
    names quoted by ``_quoted``): their text depends on no input, so nothing a user passes can reach
    the SQL; values travel as ``?`` parameters. Function parameters (``self`` too), attributes of
    them and anything read at run time are data.
    """

    BUILTINS = frozenset({"int", "str", "float", "len", "map", "range", "sorted", "tuple", "list", "dict", "zip", "repr"})

    def __init__(self, tree: ast.Module):
        # Module functions that return only what their arguments and the module's constants make
        # (``_quoted``): a call with clean arguments is clean. Found by dropping impure ones until none is left.
        self.functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        while True:
            self.module = self._clean_names(tree.body, set())
            impure = [name for name, f in self.functions.items() if not self._pure(f)]
            if not impure:
                break
            for name in impure:
                del self.functions[name]

    def _pure(self, function) -> bool:
        a = function.args
        params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs} | {p.arg for p in (a.vararg, a.kwarg) if p}
        scope = self._clean_names(function.body, self.module | params)  # arguments taken as clean
        returns, stack = [], list(function.body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
                return False
            if isinstance(node, ast.Return) and node.value is not None:
                returns.append(node.value)
            stack.extend(ast.iter_child_nodes(node))
        return all(self.clean(r, scope) for r in returns)

    def _assignments(self, body) -> list[tuple[str, ast.expr | None]]:
        """(name, value) for every binding in ``body`` (not inside nested functions); value None: unknown."""
        out: list[tuple[str, ast.expr | None]] = []

        def bind(target, value):
            if isinstance(target, ast.Name):
                out.append((target.id, value))
            elif isinstance(target, (ast.Tuple, ast.List)):
                values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
                for i, t in enumerate(target.elts):
                    bind(t, values[i] if values else None)
            elif isinstance(target, ast.Starred):
                bind(target.value, None)

        stack = list(body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    bind(t, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign):
                bind(node.target, ast.BinOp(ast.Name(node.target.id, ast.Load()) if isinstance(node.target, ast.Name)
                                            else node.target, node.op, node.value))
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                bind(node.target, None)  # loop variables: treated as data (comprehensions have their own scope)
            elif isinstance(node, ast.NamedExpr):
                bind(node.target, node.value)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars, None)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                out.append((node.name, None))
            stack.extend(ast.iter_child_nodes(node))
        return out

    def _clean_names(self, body, outer: set[str], params: set[str] = frozenset()) -> set[str]:
        """Names in ``body`` whose every binding is clean, given the clean names of the scope outside."""
        bindings = self._assignments(body)
        bound = {name for name, _ in bindings} | set(params)
        clean = {name for name in bound if name not in params}
        changed = True
        while changed:  # drop names with a binding that reads data, until nothing changes
            changed = False
            scope = (outer - bound) | clean
            for name, value in bindings:
                if name in clean and (value is None or not self.clean(value, scope)):
                    clean.discard(name)
                    changed = True
        return (outer - bound) | clean

    def scope_of(self, function: ast.FunctionDef | ast.AsyncFunctionDef | None, outer: set[str]) -> set[str]:
        if function is None:
            return self.module
        a = function.args
        params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs} | {p.arg for p in (a.vararg, a.kwarg) if p}
        return self._clean_names(function.body, outer, params)

    def clean(self, node: ast.expr, scope: set[str], local: frozenset = frozenset()) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):  # a module's own functions are code, not data
            return node.id in scope or node.id in local or node.id in self.functions
        if isinstance(node, ast.JoinedStr):
            return all(self.clean(v, scope, local) for v in node.values)
        if isinstance(node, ast.FormattedValue):
            return self.clean(node.value, scope, local) and (node.format_spec is None or self.clean(node.format_spec, scope, local))
        if isinstance(node, ast.BinOp):
            return self.clean(node.left, scope, local) and self.clean(node.right, scope, local)
        if isinstance(node, ast.UnaryOp):
            return self.clean(node.operand, scope, local)
        if isinstance(node, (ast.BoolOp, ast.Compare)):
            parts = node.values if isinstance(node, ast.BoolOp) else [node.left, *node.comparators]
            return all(self.clean(p, scope, local) for p in parts)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return all(self.clean(e, scope, local) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(k is None or self.clean(k, scope, local) for k in node.keys) and all(self.clean(v, scope, local) for v in node.values)
        if isinstance(node, ast.Subscript):
            return self.clean(node.value, scope, local) and self.clean(node.slice, scope, local)
        if isinstance(node, ast.IfExp):
            return all(self.clean(x, scope, local) for x in (node.test, node.body, node.orelse))
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            inner = set(local)
            for gen in node.generators:
                if not self.clean(gen.iter, scope, frozenset(inner)):
                    return False
                inner |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
                if not all(self.clean(c, scope, frozenset(inner)) for c in gen.ifs):
                    return False
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return all(self.clean(p, scope, frozenset(inner)) for p in parts)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                known = func.id in self.functions or func.id in self.BUILTINS
            elif isinstance(func, ast.Attribute):  # a method of a clean value: "', '.join(...)", "COLUMNS.items()"
                known = self.clean(func.value, scope, local)
            else:
                known = False
            return known and all(self.clean(a, scope, local) for a in node.args) and all(
                self.clean(k.value, scope, local) for k in node.keywords)
        return False


def sql_findings(source: str, filename: str = "<snippet>") -> list[str]:
    """Every ``.execute``/``.executemany``/``.executescript`` whose SQL text is not built only from constants."""
    tree = ast.parse(source, filename)
    const = _Constness(tree)
    found = []

    def visit(node, scope: set[str]):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, const.scope_of(child, scope))
                continue
            if isinstance(child, ast.ClassDef):
                visit(child, scope)
                continue
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                    and child.func.attr in SQL_METHODS):
                sql = child.args[0] if child.args else _keyword(child, "sql") or _keyword(child, "sql_script")
                if sql is None or not const.clean(sql, scope):
                    found.append(f"{filename}:{child.lineno}: .{child.func.attr}(...) with SQL built from data: "
                                 f"{ast.unparse(sql) if sql is not None else '(no SQL argument)'}")
            visit(child, scope)

    visit(tree, const.module)
    return found


def _sql_modules() -> list[Path]:
    """comparator/store.py, and every module that calls ``.execute``-like methods."""
    store = ROOT / "comparator" / "store.py"
    assert store.exists()
    calling = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in SQL_METHODS
               for n in ast.walk(tree)):
            calling.append(path)
    assert store in calling, "comparator/store.py no longer runs SQL: update this test"
    return calling


def test_sql_text_is_built_only_from_constants():
    found = []
    for path in _sql_modules():
        found += sql_findings(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


@pytest.mark.parametrize("snippet", [
    "def f(conn, name):\n    conn.execute(f'SELECT * FROM runs WHERE task = {name}')",
    "def f(conn, name):\n    conn.execute(\"SELECT * FROM runs WHERE task = '%s'\" % name)",
    "def f(conn, name):\n    conn.execute('SELECT * FROM runs WHERE task = ' + name)",
    "def f(conn, name):\n    q = 'SELECT * FROM runs'\n    q += ' WHERE task = ' + name\n    conn.execute(q)",
    "def f(conn, table):\n    q = 'SELECT * FROM ' + table if table else 'SELECT 1'\n    conn.executemany(q, [])",
    "def f(self):\n    self._conn.executescript(self.script)",
    "def f(conn, cols):\n    conn.execute('SELECT ' + ', '.join(c for c in cols))",
    "def f(conn, cols):\n    for c in cols:\n        conn.execute(f'SELECT {c} FROM runs')",
    "def f(conn):\n    conn.execute(input())",
    "def f(conn, name):\n    q = '{}'.format(name)\n    conn.execute(q)",
    "def q():\n    return input()\ndef f(conn):\n    conn.execute(q())",
    "import os\ndef q():\n    return 'SELECT ' + os.environ['C']\ndef f(conn):\n    conn.execute(q())",
    "def q(x):\n    return 'SELECT ' + x\ndef f(conn, c):\n    conn.execute(q(c))",
])
def test_sql_scanner_flags(snippet):
    assert sql_findings(snippet), snippet


@pytest.mark.parametrize("snippet", [
    "def f(conn, name):\n    conn.execute('SELECT * FROM runs WHERE task = ?', (name,))",
    "COLS = ('a', 'b')\nQ = f\"SELECT {', '.join(COLS)} FROM runs\"\ndef f(conn):\n    conn.execute(Q)",
    "N = 5\ndef f(conn):\n    conn.execute(f'PRAGMA user_version = {int(N * 2)}')",
    "def q(x):\n    return '\"' + x + '\"'\nQ = 'SELECT ' + q('a')\ndef f(conn):\n    conn.execute(Q)",
    ("Q = 'SELECT * FROM runs'\ndef f(conn, c):\n    q, args = Q, ()\n    if c:\n        q, args = q + ' WHERE c = ?', (c,)\n"
     "    conn.execute(q + ' ORDER BY rowid', args)"),
])
def test_sql_scanner_passes(snippet):
    assert sql_findings(snippet) == [], snippet


# --- (c) a store path is only a file name --------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "x'; DROP TABLE runs; --.sqlite",
    "$(touch pwned).sqlite",
    "`touch pwned2`.sqlite",
    "a\"; ATTACH DATABASE 'evil.db' AS e; --.sqlite",
    "runs; touch pwned3; .sqlite",
    "  spaced & piped | name .sqlite",
    # SQLite reads a name starting "file:" as a URI even without uri=True (this build has SQLITE_USE_URI):
    # the store opens "other.sqlite", or keeps the runs in memory and loses them, instead of the file named.
    "file:other.sqlite",
    "file:evil.sqlite?mode=memory",
])
def test_a_store_path_with_metacharacters_is_just_a_file_name(tmp_path, monkeypatch, name):
    pytest.importorskip("pandas")
    import comparator

    monkeypatch.chdir(tmp_path)  # the name is relative: anything a shell or an ATTACH made would land here
    sqlite_files = {name, name + "-wal", name + "-shm", name + "-journal"}  # the file and SQLite's companions
    with comparator.Store(name) as store:
        assert len(store) == 0
    made = set(os.listdir(tmp_path))
    assert name in made and made <= sqlite_files, made
    with closing(sqlite3.connect(tmp_path / name)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["runs"]
    with comparator.Store(name) as store:  # reopening finds the same store, not a new one somewhere else
        assert len(store) == 0
    assert set(os.listdir(tmp_path)) <= sqlite_files
